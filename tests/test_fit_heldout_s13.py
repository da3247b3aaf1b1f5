"""Defects found by the held-out probe of `fit`, round 3 (session 13,
`validation/fit_heldout_probe3.py`; docs/fitting.md "Held-out probe (session 13)")."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.fitting import conductances_from_voltage
from neurojax.fitting._strategies import _estimate


def _sweep(n=400, dt=0.025, amp=8.0):
    t = dt * np.arange(n)
    i = jnp.asarray(np.where((t >= 1) & (t < 9), amp, 0.0)[:, None], jnp.float32)
    return i, nj.simulate(nj.HodgkinHuxley(), i, dt=dt).v


def test_reversal_potential_is_not_a_conductance():
    # e_l enters the ionic current linearly (g_l·(V − e_l)): the linearity test took it
    # for a conductance and the non-negative least squares "estimated" e_l = 0 mV
    # refused before any simulation: the trace's values do not matter
    i = jnp.zeros((40, 1))
    v = jnp.full((40, 1), -65.0)
    with pytest.raises(ValueError, match=r"HodgkinHuxley\.e_l\) may be negative"):
        conductances_from_voltage(
            nj.HodgkinHuxley(), v, i, 0.025, trainable=lambda m: (m.g_l, m.e_l)
        )


@pytest.mark.slow  # 18 s (load 13): the estimate's regression and refinement compile
def test_auto_estimate_keeps_reversal_potentials_at_their_start():
    i, v = _sweep()
    obj = nj.fitting.make_objective(
        nj.HodgkinHuxley(g_k=30.0, e_l=-60.0),
        inputs=i,
        target=v,
        dt=0.025,
        trainable=lambda m: (m.g_k, m.e_l),
    )
    params, note, _, _ = _estimate(obj, 1)
    assert "items [1] keep their start" in note
    assert float(params[1]) == -60.0  # the start, not 0 mV
    assert abs(float(params[0]) / 36.0 - 1) < 0.02  # g_k estimated
