"""Bad inputs to `cable.ReducedCell` set after construction (session 13's probes): a NaN
`v_spike` and per-compartment parameters of the wrong length, put in by `eqx.tree_at`
(which skips `__check_init__`), are named before the run instead of failing as a NaN
state or inside JAX's broadcasting."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Compartment, ReducedCell


def cell(**soma):
    comps = [
        Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        Compartment("proximal", c_abs=0.05, gl_abs=0.0025, e_l=-70.0),
        Compartment("distal", c_abs=0.03, gl_abs=0.0015, e_l=-70.0),
    ]
    conns = [("soma", "proximal", 0.015), ("proximal", "distal", 0.01)]
    return ReducedCell.build(comps, conns, v_th=-50.0, v_reset=-60.0, t_ref=3.0, **soma)


def run(c):
    current = jnp.zeros((40, 3)).at[:, 0].set(0.6)
    return nj.simulate(c, current, dt=0.1)


def test_nan_v_spike_named():
    c = eqx.tree_at(lambda c: c.v_spike, cell(v_spike=20.0, spike_width=0.5), jnp.nan)
    with pytest.raises(ValueError, match="v_spike"):
        run(c)


@pytest.mark.parametrize(
    "name, value",
    [("g_couple", jnp.ones(3) * 0.01), ("c", jnp.ones(2) * 0.1), ("e_l", -70.0 * jnp.ones((2, 3)))],
)
def test_wrong_length_parameter_named(name, value):
    c = eqx.tree_at(lambda c: getattr(c, name), cell(), value)
    with pytest.raises(ValueError, match=rf"ReducedCell\.{name} has shape"):
        run(c)


def test_right_shapes_still_run():
    c = eqx.tree_at(lambda c: c.c, cell(), jnp.array([0.2, 0.05, 0.03]))
    sol = run(c)
    np.testing.assert_array_equal(np.asarray(sol.v), np.asarray(run(cell()).v))


def test_cell_record_without_sites_refused():
    """`Cell.record_v([])` recorded nothing, and a fit to it had loss 0 (session 13)."""
    from neurojax.cable import HH, Branch, Cell, Morphology

    cell = Cell(Morphology([Branch(20.0, 20.0, nseg=1)]), [(HH(), [0])])
    with pytest.raises(ValueError, match="at least one"):
        cell.record_v([])
    with pytest.raises(ValueError, match="at least one"):
        cell.record_gate(0, "m", [])
