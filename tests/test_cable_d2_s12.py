"""A `Cell`'s node maps as slices where their index pairs allow (`cable._node_maps`,
session 12 D2): identity, contiguous takes and contiguous spreads recognised at the edges,
the same values bit for bit as `_gather.apply` (forward, JVP, VJP), and a cell run with
the takes as slices the same bit for bit in float64 as with every map a gather
(`_node_maps.SLICES`; the spreads as pads, `PADS`, are not: rounding, see `_node_maps`)."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax._gather import StaticMap
from neurojax._gather import apply as gather_apply
from neurojax.cable import Branch, Cell, Morphology, _cell, _node_maps
from neurojax.channels import HH, Passive
from neurojax.nmodl import load_mod

HAY = Path(nj.__file__).parent / "cable" / "data" / "hay2011"

_MAPS = [  # (map, its kind)
    (StaticMap.take(np.arange(6), 6), ("identity",)),
    (StaticMap.spread(np.arange(6), 6), ("identity",)),
    (StaticMap.take(np.arange(0, 4), 6), ("slice", 0)),  # at the start
    (StaticMap.take(np.arange(2, 6), 6), ("slice", 2)),  # at the end
    (StaticMap.take([3], 6), ("slice", 3)),  # one value
    (StaticMap.spread(np.arange(0, 4), 6), ("pad", 0)),
    (StaticMap.spread(np.arange(2, 6), 6), ("pad", 2)),
    (StaticMap.spread(np.arange(1, 5), 6), ("pad", 1)),  # zeros both sides
    (StaticMap.spread([4], 6), ("pad", 4)),
    # not runs: gathers
    (StaticMap.take([0, 2, 3], 6), ("gather",)),  # a hole
    (StaticMap.take([3, 2, 1], 6), ("gather",)),  # reversed
    (StaticMap.take([1, 2, 2], 6), ("gather",)),  # repeated
    (StaticMap.take([1, 0, 2, 3, 4, 5], 6), ("gather",)),  # a permutation
    (StaticMap.spread([0, 2, 3], 6), ("gather",)),
    (StaticMap.spread([2, 1], 6), ("gather",)),  # a run, out of order
    (StaticMap.spread([1, 1], 6), ("gather",)),  # a sum
    (StaticMap([0, 1, 2], [0, 1, 1], 3, 2), ("gather",)),
    (StaticMap.take(np.zeros(0, int), 6), ("gather",)),  # empty
]


@pytest.mark.parametrize("m, want", _MAPS)
def test_kind_at_the_edges(m, want):
    assert _node_maps.kind(m) == want


@pytest.mark.slow  # ~5 CPU s (every op of 18 maps dispatched eagerly, three ways)
def test_same_values_as_the_gathers_bit_for_bit(x64):
    """Forward, JVP and VJP of every map, a batch axis in front, -0.0 and inf among the
    values (a copy must keep them): identical to `_gather.apply`'s."""
    old, _node_maps.PADS = _node_maps.PADS, True  # the values of the pads too
    try:
        _same_values()
    finally:
        _node_maps.PADS = old


def _same_values():
    rng = np.random.default_rng(0)
    for m, _ in _MAPS:
        x = jnp.asarray(rng.normal(size=(2, m.n_in)))
        if m.n_in:
            x = x.at[0, 0].set(-0.0).at[1, -1].set(jnp.inf)
        ct = jnp.asarray(rng.normal(size=(2, m.n_out)))
        for f in (lambda u, m=m: _node_maps.apply(m, u), lambda u, m=m: gather_apply(m, u)):
            assert f(x).shape == (2, m.n_out)
        got = _node_maps.apply(m, x)
        ref = gather_apply(m, x)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))
        np.testing.assert_array_equal(got, ref)
        t = jnp.asarray(rng.normal(size=x.shape))
        tan_a = jax.jvp(lambda u, m=m: _node_maps.apply(m, u), (x,), (t,))[1]
        tan_b = jax.jvp(lambda u, m=m: gather_apply(m, u), (x,), (t,))[1]
        np.testing.assert_array_equal(tan_a, tan_b)
        _, vjp_a = jax.vjp(lambda u, m=m: _node_maps.apply(m, u), x)
        _, vjp_b = jax.vjp(lambda u, m=m: gather_apply(m, u), x)
        np.testing.assert_array_equal(vjp_a(ct)[0], vjp_b(ct)[0])


def test_a_wrong_shape_is_named():
    m = StaticMap.take(np.arange(1, 4), 6)
    with pytest.raises(ValueError, match="applies to arrays with 6 values"):
        _node_maps.apply(m, jnp.zeros(5))


def _cells():
    """A soma (HH: its compartments contiguous, a slice and a pad) with two dendrites
    (a leak over both: a gather), and one unbranched cable with HH in every compartment
    (contiguous nodes 1…nseg)."""
    tree = Morphology([
        Branch(20.0, 20.0, nseg=2, type="soma"),
        Branch(100.0, 2.0, parent=0, parent_x=1.0, nseg=3, type="apical"),
        Branch(60.0, 1.0, parent=0, parent_x=0.0, nseg=2, type="basal"),
    ])  # fmt: skip
    a = Cell(tree, [(HH(), "soma"), (Passive(g=0.0003, e=-70.0), [1, 2])], clamps=[(0, 0.5)])
    b = Cell(Morphology([Branch(200.0, 1.0, nseg=7)]), [(HH(), None)], clamps=[(0, 0.5)])
    return a, b


def _run(cell, slices, solver):
    # the maps in the cell's own numbering: the loop there (`LOOP_ORDER = "tree"`); in
    # chain-block order a put is a pad whatever `PADS` says (tests/test_cable_blocks_s14.py)
    old, old_order = _node_maps.SLICES, _cell.LOOP_ORDER
    _node_maps.SLICES, _cell.LOOP_ORDER = slices, "tree"
    try:
        jax.clear_caches()  # the flag is read when the step is traced

        def loss(g_na):
            c = eqx.tree_at(lambda c: c.mechanisms[0].g_na, cell, g_na)
            sol = nj.simulate(c, jnp.full((320, 1), 3.0), dt=0.025, solver=solver)
            return sol.states.v[:, 0].mean(), sol.states

        (val, states), grad = jax.jit(jax.value_and_grad(loss, has_aux=True))(jnp.asarray(0.12))
        return val, states, grad
    finally:
        _node_maps.SLICES, _cell.LOOP_ORDER = old, old_order


@pytest.mark.slow  # ~6 CPU s: two cells, two solvers, compiled twice each with a gradient
@pytest.mark.parametrize("solver", ["be", "trbdf2"])
def test_cell_same_bit_for_bit_as_with_gathers(x64, solver):
    """float64, 8 ms through a spike: V, gates and d(mean soma V)/d(g_na) the same bit for
    bit with the maps as slices as with every map a gather (the same values copied:
    no rounding to allow for)."""
    sv = {"be": nj.solvers.BackwardEuler(), "trbdf2": nj.solvers.TRBDF2()}[solver]
    for cell in _cells():
        grp = cell.geometry.groups[0]  # HH: contiguous compartments
        assert _node_maps.kind(grp.take)[0] == "slice" and _node_maps.kind(grp.put)[0] == "pad"
        assert not _node_maps.PADS
        a, b = _run(cell, True, sv), _run(cell, False, sv)
        assert float(a[1].v.max()) > 0.0  # it spikes
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
            np.testing.assert_array_equal(x, y)


def _gathers_in_step(cell, slices):
    """`custom_linear_solve`s (`_gather.apply`'s maps) in the traced 1-step run."""
    old, old_order = _node_maps.SLICES, _cell.LOOP_ORDER
    _node_maps.SLICES, _cell.LOOP_ORDER = slices, "tree"  # (as `_run`)
    try:
        jax.clear_caches()
        jaxpr = jax.make_jaxpr(
            lambda c: (
                nj.simulate(
                    c, jnp.zeros((1, 1)), dt=0.025, solver=nj.solvers.BackwardEuler()
                ).states
            )
        )(cell)
    finally:
        _node_maps.SLICES, _cell.LOOP_ORDER = old, old_order
    return str(jaxpr).count("custom_linear_solve")


@pytest.mark.slow  # ~2 CPU s (traces two runs)
def test_the_soma_maps_leave_the_step():
    """The soma's HH take (twice: currents at V, gates at the new V) is no longer a
    gather in the step; its put (current and slope) still is (`PADS` off)."""
    cell = _cells()[0]
    assert _gathers_in_step(cell, False) - _gathers_in_step(cell, True) == 2


# ---- `_cell.GATES_AT_NODES`: a mechanism over every compartment kept at node layout


def _tree():
    return Morphology([
        Branch(20.0, 20.0, nseg=2, type="soma"),
        Branch(100.0, 2.0, parent=0, parent_x=1.0, nseg=3, type="apical"),
        Branch(60.0, 1.0, parent=0, parent_x=0.0, nseg=2, type="basal"),
    ])  # fmt: skip


def _built(mechanisms, flag=True, **kw):
    old = _cell.GATES_AT_NODES
    _cell.GATES_AT_NODES = flag
    try:
        return Cell(_tree(), mechanisms, clamps=[(0, 0.5)], **kw)
    finally:
        _cell.GATES_AT_NODES = old


def test_gates_at_nodes_only_where_it_applies():
    assert not _cell.GATES_AT_NODES  # off by default: the state's layout is the regions'
    assert _built([(HH(), None)], flag=False).geometry.at_nodes == frozenset()
    cell = _built([(HH(), None), (Passive(g=0.0003, e=-70.0), [1, 2]), (HH(), "soma")])
    assert cell.geometry.at_nodes == {0}  # over every compartment, alone in its group
    shapes = jax.eval_shape(cell.init_state).gates
    assert shapes[0].m.shape == (cell.n_nodes,)
    assert shapes[2].m.shape == (2,)  # the soma's: its region
    g = cell.geometry.groups[0]
    assert _node_maps.kind(g.take) == ("identity",) and _node_maps.kind(g.put) == ("identity",)
    # a per-compartment parameter keeps the region layout
    g_na = jnp.linspace(0.1, 0.12, len(_built([(HH(), None)]).regions[0]))
    assert _built([(HH(g_na=g_na), None)]).geometry.at_nodes == frozenset()
    # two instances grouped into one evaluation (HH soma + HH dendrites): region layout
    assert _built([(HH(), "soma"), (HH(), [1, 2])]).geometry.at_nodes == frozenset()


@pytest.mark.slow  # ~4 CPU s (loads two NMODL files)
def test_gates_at_nodes_not_for_ion_pools():
    """Sharing the ion pools (a Ca channel and the Ca pool over every compartment):
    the pools are read and written in the region layout, so those keep it."""
    hva, cad = load_mod(HAY / "Ca_HVA.mod"), load_mod(HAY / "CaDynamics_E2.mod")
    assert _built([(hva, None), (cad, None)]).geometry.at_nodes == frozenset()
    assert _built([(hva, None), (HH(), None)]).geometry.at_nodes == {1}


def test_record_gate_at_node_layout():
    cell = _built([(HH(), None)])
    y = jax.eval_shape(cell.init_state)
    y = y._replace(gates=(y.gates[0]._replace(m=np.arange(cell.n_nodes)),))
    sites = [(0, 0.25), (1, 0.9), (2, 0.1)]
    np.testing.assert_array_equal(cell.record_gate(0, "m", sites)(y),
                                  [cell.node(b, x) for b, x in sites])  # fmt: skip


@pytest.mark.slow  # ~25 CPU s: two solvers, two layouts, compiled with a gradient
@pytest.mark.parametrize("solver", ["be", "trbdf2"])
def test_gates_at_nodes_same_as_at_regions(x64, solver):
    """float64, 8 ms through a spike: V everywhere, the gates recorded at three
    compartments and d(mean soma V)/d(g_na) the same to rounding (the membrane-less
    nodes' current is masked to 0, so the same values are summed; XLA fuses and rounds
    the two programs differently): measured max |ΔV| 1.4e-14 mV, |Δm| 2.8e-16, gradient
    1.4e-16 relative. Tolerances 1e-10 mV, 1e-12, 1e-12: 10⁴ above rounding, far below
    what a current left at a branch end or a misplaced gate changes (≫ 1e-6)."""
    sv = {"be": nj.solvers.BackwardEuler(), "trbdf2": nj.solvers.TRBDF2()}[solver]
    mechs = [(HH(), None), (Passive(g=0.0003, e=-70.0), [1, 2])]
    sites = [(0, 0.25), (1, 0.9), (2, 0.1)]
    out = []
    for flag in (False, True):
        cell = _built(mechs, flag)
        assert cell.geometry.at_nodes == ({0} if flag else frozenset())
        rec = nj.SaveAt(fn=lambda y, c=cell: (y.v, c.record_gate(0, "m", sites)(y)))

        def loss(g, c=cell, rec=rec):
            c = eqx.tree_at(lambda c: c.mechanisms[0].g_na, c, g)
            sol = nj.simulate(c, jnp.full((320, 1), 3.0), dt=0.025, solver=sv, saveat=rec)
            return sol.states[0][:, 0].mean(), sol.states

        jax.clear_caches()
        out.append(jax.jit(jax.value_and_grad(loss, has_aux=True))(jnp.asarray(0.12)))
    ((_, (va, ma)), ga), ((_, (vb, mb)), gb) = out
    assert float(va.max()) > 0.0  # it spikes
    np.testing.assert_allclose(va, vb, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ma, mb, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-12)
