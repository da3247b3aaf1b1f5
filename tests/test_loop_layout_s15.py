"""Session 15 (issue 18 item 9, the Hay cell's gradient compile time): a `Cell` carries
each group's gates joined through `simulate`'s loop (`Cell.to_loop_state` /
`Cell.from_loop_state`), and the traced parameter checks are one test per dtype
(`_model.error_if_outside`). Neither may change what a user sees: the saved states and the
final state keep one entry per instance, the step gives the same values from either
layout, and the check names the same culprit as before."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax._model import error_if_outside
from neurojax.cable import Branch, Cell, Morphology
from neurojax.channels import HH, Passive
from neurojax.solvers import TRBDF2

DT = 0.025


def _cell():
    morph = Morphology([
        Branch(20.0, 20.0, type="soma"),
        Branch(100.0, 2.0, parent=0, parent_x=1.0, nseg=3, type="apical"),
        Branch(60.0, 1.0, parent=0, parent_x=0.0, nseg=2, type="basal"),
    ])  # fmt: skip
    mechs = [
        (HH(), "soma"),
        (Passive(g=0.0003, e=-70.0), "soma"),
        (HH(g_na=jnp.array([120.0, 100.0, 80.0])), "apical"),
        (Passive(g=0.0002, e=-70.0), "apical"),
        (HH(g_k=30.0), "basal"),
    ]
    return Cell(morph, mechs, clamps=[(0, 0.5)])


def _leaves_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b) and all(
        np.array_equal(x, y) for x, y in zip(la, lb, strict=True)
    )


def test_loop_layout_round_trip():
    cell = _cell()
    groups = [g.members for g in cell.geometry.groups]
    assert (0, 2, 4) in groups and (1, 3) in groups  # the cell has groups to join
    y = cell.init_state()
    loop = cell.to_loop_state(y)
    hh = next(g for g in cell.geometry.groups if g.members == (0, 2, 4))
    assert loop.gates[2] is None and loop.gates[4] is None
    assert all(x.shape == (hh.nodes.size,) for x in jax.tree_util.tree_leaves(loop.gates[0]))
    # a copy of the values, not a computation: exact
    assert _leaves_equal(cell.from_loop_state(loop), y)
    assert _leaves_equal(cell.to_loop_state(loop), loop)  # already joined: unchanged


@pytest.mark.slow  # two compilations of the step: ~2 CPU-s
def test_step_same_from_either_layout(x64):
    """One TRBDF2 step from the instances' layout and from the loop's: the same arithmetic
    on the same values (concatenation and slicing are copies), so equal to float64
    rounding at most (1e-13 relative: two programs XLA may fuse differently)."""
    cell = _cell()
    y = cell.init_state()
    x, t = jnp.asarray([0.3]), jnp.asarray(0.0)
    a = jax.jit(lambda y: TRBDF2().step(cell, t, y, x, DT))(y)
    b = jax.jit(lambda y: cell.from_loop_state(TRBDF2().step(cell, t, cell.to_loop_state(y), x, DT)))(
        y
    )
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for p, q in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(q, p, rtol=1e-13, atol=0)
    assert not _leaves_equal(a, y)  # the step moved the state


def test_simulate_returns_the_instances_layout():
    cell = _cell()
    sol = nj.simulate(cell, jnp.full((40, 1), 0.5), dt=DT)
    # every saved state and the final state: one entry per instance, its own shape
    for k, g0 in enumerate(cell.init_state().gates):
        for saved, final, init in zip(
            jax.tree_util.tree_leaves(sol.states.gates[k]),
            jax.tree_util.tree_leaves(sol.final_state.y.gates[k]),
            jax.tree_util.tree_leaves(g0),
            strict=True,
        ):
            assert saved.shape == (40, *init.shape) and final.shape == init.shape
            np.testing.assert_array_equal(saved[-1], final)
    # a gate of a later member of a group, as a user's `SaveAt(fn=...)` reads it
    m = cell.record_gate(2, "m", [(1, 0.5)])(sol.states)
    assert m.shape == (40, 1) and float(jnp.ptp(m)) > 0  # the gate moved


def _checked(**kw):
    return jax.jit(lambda kw: error_if_outside(nj.LIF(**kw), jnp.zeros(())))(kw)


@pytest.mark.parametrize(
    ("kw", "culprit"),
    [
        ({"tau": jnp.array([10.0, 0.0, 5.0]), "t_ref": 2.0}, "tau"),  # open bound, mid-array
        ({"tau": -1.0, "t_ref": -1.0}, "t_ref"),  # two bad: the first (`parameter_domains`)
        ({"tau": 10.0, "t_ref": -1e-30}, "t_ref"),
        ({"tau": 10.0, "v_rest": jnp.inf}, "v_rest"),  # any real, but finite
        ({"tau": jnp.nan, "t_ref": 2.0}, "tau"),
    ],
)
def test_traced_check_names_the_first_culprit(kw, culprit):
    with pytest.raises(Exception) as info:
        jax.block_until_ready(_checked(**kw))
    msg = str(info.value)
    assert f"LIF.{culprit} must be" in msg
    others = {"tau", "t_ref", "v_rest"} - {culprit}
    assert not any(f"LIF.{o} must be" in msg for o in others)


def test_traced_check_passes_at_closed_bounds_and_under_vmap():
    jax.block_until_ready(_checked(tau=jnp.array([1e-30, 3.0]), t_ref=0.0))  # t_ref >= 0
    f = jax.vmap(lambda tau: error_if_outside(nj.LIF(tau=tau), jnp.zeros(())))
    jax.block_until_ready(f(jnp.array([1.0, 2.0])))
    with pytest.raises(Exception, match=r"LIF\.tau must be"):
        jax.block_until_ready(f(jnp.array([1.0, -2.0])))


def test_traced_check_over_two_dtypes(x64):
    """Parameters of two precisions are tested apart (one concatenation per dtype); the
    culprit is still the first in `parameter_domains`' order (`t_ref` before `tau`),
    whichever dtype it has."""
    f = jax.jit(lambda tau, t_ref: error_if_outside(nj.LIF(tau=tau, t_ref=t_ref), jnp.zeros(())))
    jax.block_until_ready(f(jnp.float32(3.0), jnp.float64(1.0)))
    for tau, t_ref, culprit in [(-1.0, -1.0, "t_ref"), (3.0, -1.0, "t_ref"), (-1.0, 1.0, "tau")]:
        with pytest.raises(Exception, match=rf"LIF\.{culprit} must be"):
            jax.block_until_ready(f(jnp.float32(tau), jnp.float64(t_ref)))
