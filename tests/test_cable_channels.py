"""Cable channels: Ih and Im (Hay et al. 2011 mod files) against NEURON traces made by
validation/make_cable_reference.py; rates finite at their removable singularities."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import HH, Branch, Cell, Ih, Im, Morphology, Passive

REF = Path(__file__).parent / "data" / "cable" / "channels_reference.npz"


def test_ih_and_im_match_neuron(x64):
    ref = np.load(REF)
    dt, t_stop = float(ref["dt"]), float(ref["t_stop"])
    morph = Morphology(
        [Branch(20.0, 20.0, type="soma"), Branch(300.0, 1.5, parent=0, nseg=11, type="basal")]
    )
    cell = Cell(
        morph,
        [
            (HH(), "soma"),
            (Passive(g=0.1, e=-65.0), "basal"),
            (Ih(g=float(ref["g_ih"]) * 1e3), "basal"),  # S/cm² → mS/cm²
            (Im(g=float(ref["g_im"]) * 1e3, e=float(ref["e_k"])), "basal"),
        ],
        ra=150.0,
        clamps=[(0, 0.5)],
    )
    t = np.arange(int(round(t_stop / dt))) * dt
    amp = np.where((t >= 10 - 1e-9) & (t < 60 - 1e-9), 0.2, 0.0)
    amp += np.where((t >= 80 - 1e-9) & (t < 140 - 1e-9), -0.3, 0.0)
    sites = [(0, 0.5), (1, 0.5), (1, 1.0)]
    sol = nj.simulate(
        cell,
        amp[:, None],
        dt=dt,
        solver=nj.solvers.BackwardEuler(),
        saveat=nj.SaveAt(fn=cell.record_v(sites)),
    )
    v = np.asarray(sol.states)
    assert v.min() < -100 and v.max() > 30  # Ih sag territory and spikes both visited
    # Same scheme, same equations: round-off only. The reference file stores float64.
    np.testing.assert_allclose(v, ref["v"], atol=1e-6)


@pytest.mark.parametrize("channel,v0", [(Ih(), -154.9), (HH(), -40.0), (HH(), -55.0)])
def test_rates_finite_with_finite_gradients_at_singular_points(channel, v0):
    v = jnp.asarray([v0])

    def f(v):
        g = channel.init(v, 6.3)
        return sum(jnp.sum(x) for x in channel.update(v, g, 0.025, 6.3))

    val, grad = jax.value_and_grad(f)(v)
    assert np.isfinite(val) and np.all(np.isfinite(grad))


def test_im_is_slow_and_activates_with_depolarisation():
    """Adams et al. (1982): the M-current activates above ~−60 mV with a time constant
    of tens of ms (here τ ≤ 1/(2·3.3e-3)/2.3^1.3 ≈ 51 ms, at V = −35 mV)."""
    m_rest = Im().init(jnp.asarray(-70.0), 6.3).m
    m_dep = Im().init(jnp.asarray(-20.0), 6.3).m
    assert float(m_rest) < 0.05 < 0.5 < float(m_dep)
    # relaxation from 0 at −35 mV over one time constant reaches 1 − 1/e of m∞ = 0.5
    tau = 1 / (2 * 3.3e-3) / 2.3**1.3
    m = Im().update(jnp.asarray(-35.0), Im().init(jnp.asarray(-200.0), 6.3), tau, 6.3).m
    assert float(m) == pytest.approx(0.5 * (1 - np.exp(-1)), rel=1e-3)
