"""Chain-block order (session 14, B: `cable._blocks`, `solvers._tree_solve.BlockTopology`;
session 15, A: the time loop's order by default, `Cell.prepare_loop`, nothing the user sees
renumbered): the tree solve in block order equals the root-outwards solve (every method,
batches, vmap, gradients), and a run whose loop is in block order equals the run whose loop
is in the cell's numbering (`cable._cell.LOOP_ORDER = "tree"`) — every node, every step,
gates, recordings, the final state, gradients, vmap — in the user's numbering.

Tolerances: the block order runs the same operations in the same order except where XLA
fuses differently (the put of the membrane currents as a pad instead of a gather, the
axial sums from slices, F and M not materialised), i.e. rounding: 3.7e-13 mV measured
over 50 ms of spiking backward Euler on a 7-branch tree (per-compartment g_Na);
Crank–Nicolson amplifies round-off through the spikes to ~4e-10 mV (as between the
`"hines"` and `"branches"` solves, benchmarks/README.md). Bounds: 1e-12 mV (BE), 1e-7 mV
(CN, TR-BDF2), 1e-9 relative for gradients."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import HH, Branch, Cell, Morphology, _blocks, _cell
from neurojax.solvers._tree_solve import BlockTopology, TreeTopology, tree_solve

DT = 0.025


def _tree(n_branches=7, nseg=5, seed=0):
    rng = np.random.default_rng(seed)
    spec = [Branch(20.0, 20.0, nseg=nseg)]
    for i in range(1, n_branches):
        spec.append(Branch(float(rng.uniform(50, 200)), float(rng.uniform(0.5, 2.0)),
                           parent=(i - 1) // 2, nseg=nseg))  # fmt: skip
    return Morphology(spec)


def _in_order(order, build):
    """`build()` with `cable._cell.LOOP_ORDER = order`: the flag is read when a run is
    traced, so the run must be traced inside (a fresh cell: its own traces)."""
    old = _cell.LOOP_ORDER
    _cell.LOOP_ORDER = order
    try:
        return build()
    finally:
        _cell.LOOP_ORDER = old


def _per_compartment_g_na(morph):
    """g_Na by path distance (a per-compartment parameter, in `Cell.regions[0]` order)."""
    d = Cell(morph, [(HH(), None)]).morphology.distances(None)
    return jnp.asarray(120.0 - 0.1 * np.asarray(d))


# ------------------------------------------------------------------ the solve


def _system(topo, rng, batch=()):
    n = topo.n
    a = -rng.uniform(0.1, 1, (*batch, n))
    b = -rng.uniform(0.1, 1, (*batch, n))
    d = 3 + rng.uniform(0, 1, (*batch, n))
    r = rng.normal(size=(*batch, n))
    return tuple(jnp.asarray(x) for x in (d, a, b, r))


@pytest.mark.parametrize("method", ["branches", "hines", "levels"])
def test_block_solve_matches_base(x64, method):
    base = _tree(7, 5).discretise().topology
    bt = BlockTopology.of(base)
    assert bt is not None and isinstance(bt, TreeTopology)
    P = np.asarray(bt.perm)
    assert np.array_equal(np.asarray(bt.inv)[P], np.arange(base.n))
    d, a, b, r = _system(base, np.random.default_rng(0))
    want = np.asarray(tree_solve(base, d, a, b, r, method="hines"))
    got = np.asarray(tree_solve(bt, d[P], a[P], b[P], r[P], method=method))
    # same elimination, same order ("branches"), or the base solve permuted: rounding
    np.testing.assert_allclose(got, want[P], rtol=0, atol=1e-13)
    # the matrix the block order describes is the base matrix permuted
    m = np.zeros((base.n, base.n))
    d, a, b, r = (np.asarray(x) for x in (d, a, b, r))
    m[np.arange(base.n), np.arange(base.n)] = d[P]
    par = np.asarray(bt.parent)
    kids = np.nonzero(par >= 0)[0]
    m[kids, par[kids]] = b[P][kids]
    m[par[kids], kids] = a[P][kids]
    np.testing.assert_allclose(m @ got, r[P], atol=1e-12)


def test_block_solve_batch_vmap_and_gradient(x64):
    base = _tree(7, 5).discretise().topology
    bt = BlockTopology.of(base)
    P = np.asarray(bt.perm)
    rng = np.random.default_rng(1)
    d, a, b, r = _system(base, rng, batch=(3,))
    want = np.asarray(tree_solve(base, d, a, b, r))[:, P]
    got = tree_solve(bt, d[:, P], a[:, P], b[:, P], r[:, P])  # a batch: permuted Hines
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-13)
    got = jax.vmap(lambda dd, aa, bb, rr: tree_solve(bt, dd, aa, bb, rr))(
        d[:, P], a[:, P], b[:, P], r[:, P])  # fmt: skip
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-13)

    def loss(topo, perm):
        def f(dd, rr):
            x = tree_solve(topo, dd[perm], a[0][perm], b[0][perm], rr[perm])
            return jnp.sum(jnp.sin(x) * jnp.arange(1, base.n + 1.0)[perm])

        return jax.grad(f, (0, 1))(jnp.asarray(d[0]), jnp.asarray(r[0]))

    for want_g, got_g in zip(loss(base, np.arange(base.n)), loss(bt, P), strict=True):
        np.testing.assert_allclose(np.asarray(got_g), np.asarray(want_g), rtol=1e-12, atol=1e-14)


def test_block_topology_only_where_branches_runs():
    # one short branch: no interior rows to speak of → the loop in the cell's numbering
    morph = Morphology([Branch(20.0, 20.0, nseg=1)])
    assert BlockTopology.of(morph.discretise().topology) is None
    cell = Cell(morph, [(HH(), None)])
    assert cell.geometry.loop is None
    assert cell.prepare_loop().geometry is cell.geometry


# ------------------------------------------------------------------ the cell


def test_loop_geometry_is_the_permuted_one_and_the_cell_is_not():
    morph = _tree(7, 5)
    cell = Cell(morph, [(HH(), None)], clamps=[(0, 0.5)])
    plain = Morphology.discretise(morph)
    # what the user sees: the root-outwards numbering
    disc = cell.discretisation
    assert type(disc) is type(plain)
    np.testing.assert_array_equal(disc.parent, plain.parent)
    np.testing.assert_array_equal(cell.regions[0], plain.membrane)
    assert cell.geometry.blocks is None and cell.geometry.order is None
    # the loop's: chain-block order
    loop = cell.prepare_loop().geometry
    assert loop is cell.geometry.loop and loop.blocks is not None and loop.loop is None
    bd = loop.disc
    assert isinstance(bd, _blocks.BlockDiscretisation)
    assert np.array_equal(bd.original.parent, disc.parent)
    P, inv = np.asarray(bd.topology.perm), np.asarray(bd.topology.inv)
    for name in ("area", "r_per_ra", "branch", "x"):
        np.testing.assert_array_equal(getattr(bd, name), getattr(disc, name)[P])
    np.testing.assert_array_equal(bd.membrane, np.sort(inv[disc.membrane]))
    np.testing.assert_array_equal(bd.diameters(), disc.diameters()[P])
    for b in range(7):
        for x in (0.0, 0.3, 1.0):
            assert bd.node(b, x) == inv[disc.node(b, x)]
            assert cell.node(b, x) == disc.node(b, x)
    assert loop.clamps[0] == inv[cell.geometry.clamps[0]]
    # on this tree of equal branches the membrane is one run (the take a slice)
    mem = bd.membrane
    assert np.array_equal(mem, np.arange(mem[0], mem[-1] + 1))
    with pytest.raises(AttributeError, match="no_such_method"):
        bd.no_such_method  # noqa: B018 (an attribute a Discretisation lacks)


def test_loop_state_conversion_is_a_permutation_both_ways(x64):
    """`to_loop_state` permutes v per node and the gates within the region; the inverse
    restores the state bit for bit (values moved, none computed)."""
    morph = _tree(7, 5)
    cell = Cell(morph, [(HH(), None)], clamps=[(0, 0.5)])
    loop = cell.prepare_loop()
    rng = np.random.default_rng(3)
    y = cell.init_state((2,))
    y = y._replace(v=jnp.asarray(rng.normal(size=y.v.shape)),
                   gates=(jax.tree.map(lambda g: jnp.asarray(rng.uniform(size=g.shape)),
                                       y.gates[0]),))  # fmt: skip
    z = loop.to_loop_state(y)
    P = np.asarray(loop.geometry.disc.topology.perm)
    np.testing.assert_array_equal(np.asarray(z.v), np.asarray(y.v)[:, P])
    # gate j of the loop's region sits at node loop.regions[0][j] (block numbering)
    pos = {int(n): i for i, n in enumerate(cell.regions[0])}
    g = np.array([pos[int(P[n])] for n in loop.geometry.regions[0]])
    np.testing.assert_array_equal(np.asarray(z.gates[0].m), np.asarray(y.gates[0].m)[:, g])
    back = loop.from_loop_state(z)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(y), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert cell.to_loop_state(y) is y  # the user's cell: its own numbering


def _spiking_run(morph, solver, dtype=None, state0_from=None):
    """A run of the 7-branch tree through two soma spikes, every state saved; g_Na one
    value per compartment (by path distance), the state started away from rest."""
    n = 2000  # 50 ms
    t = np.arange(n) * DT
    stim = jnp.asarray(np.where((t >= 5) & (t < 35), 1.0, 0.0))[:, None]
    g_na = _per_compartment_g_na(morph)
    if dtype is not None:
        stim, g_na = stim.astype(dtype), g_na.astype(dtype)

    def build():
        c = Cell(morph, [(HH(g_na=g_na), None)], clamps=[(0, 0.5)])
        if dtype is not None:
            c = jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, c)
        y0 = c.init_state()
        y0 = y0._replace(v=y0.v + jnp.linspace(0.0, 3.0, c.n_nodes, dtype=y0.v.dtype))
        rec = nj.SaveAt(fn=lambda y, c=c: (y, c.record_v([(3, 0.5)])(y),
                                           c.record_gate(0, "h", [(5, 0.2)])(y)))  # fmt: skip
        sol = jax.jit(lambda c, y0: nj.simulate(c, stim, dt=DT, solver=solver, saveat=rec,
                                                state0=y0))(c, y0)  # fmt: skip
        return c, sol

    return build


@pytest.mark.parametrize("solver", ["be", pytest.param("cn", marks=pytest.mark.slow)])
def test_loop_in_block_order_same_run(x64, solver):
    """The default loop (chain-block order) against the loop in the cell's numbering
    (`LOOP_ORDER = "tree"`): every node and gate at every step, the recordings and the
    final state, all in the user's numbering. Float64, the same operations in another
    order and fused differently: rounding, 3.7e-13 mV measured (backward Euler, 50 ms,
    two spikes), bound 1e-12 mV; Crank–Nicolson amplifies it through the spikes (3.8e-10
    mV in session 14): bound 1e-7 mV."""
    morph = _tree(7, 5)
    s = nj.solvers.BackwardEuler() if solver == "be" else nj.solvers.CrankNicolson()
    build = _spiking_run(morph, s)
    c0, sol0 = _in_order("tree", build)
    c1, sol1 = _in_order("chain_blocks", build)
    assert c0.geometry.loop is not None  # the default order applies to this tree
    tol = 1e-12 if solver == "be" else 1e-7
    (y0, v0, h0), (y1, v1, h1) = sol0.states, sol1.states
    soma = np.asarray(y0.v)[:, c0.node(0, 0.5)]
    assert np.sum((soma[1:] > 0) & (soma[:-1] <= 0)) >= 2  # through spikes
    # a wrong order would differ by tens of mV here (the state starts with a V gradient)
    assert np.ptp(np.asarray(y0.v)[0]) > 2.0
    for a, b in zip(jax.tree.leaves((y1, v1, h1, sol1.final_state)),
                    jax.tree.leaves((y0, v0, h0, sol0.final_state)), strict=True):  # fmt: skip
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=tol)


@pytest.mark.slow
def test_loop_in_block_order_float32():
    """Float32: rounding (float32's ~4e-6 mV at -65 mV per operation) amplified through
    the spikes: measured 1.8e-4 mV on the soma trace and 2.2e-4 mV on any node, 2.2e-6 on
    the gates; bound 0.01 (mV, open fraction): a wrong permutation differs by tens of mV."""
    morph = _tree(7, 5)
    build = _spiking_run(morph, nj.solvers.BackwardEuler(), dtype=jnp.float32)
    y0, v0, _ = _in_order("tree", build)[1].states
    y1, v1, _ = _in_order("chain_blocks", build)[1].states
    assert y1.v.dtype == jnp.float32
    for a, b in zip(jax.tree.leaves((y1, v1)), jax.tree.leaves((y0, v0)), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=0.01)


@pytest.mark.slow
def test_loop_in_block_order_sites_and_trbdf2(x64):
    """Synapses, a voltage clamp and TR-BDF2 (its clamped nodes) in the block-order loop."""
    morph = _tree(7, 4)
    kw = dict(clamps=[(0, 0.5)], synapses=[(4, 0.5, 0.0), (6, 1.0, -80.0)], vclamps=[(2, 0.5)])
    n = 800
    t = np.arange(n) * DT
    inputs = {
        "i_clamp": jnp.asarray(np.where(t >= 2, 0.5, 0.0))[:, None],
        "g_syn": jnp.asarray(np.stack([0.01 * (t > 5), 0.005 * (t > 10)], 1)),
        "v_clamp": jnp.asarray(np.where(t < 10, -65.0, -20.0))[:, None],
    }
    for s in (nj.solvers.BackwardEuler(), nj.solvers.TRBDF2()):

        def build(s=s):
            c = Cell(morph, [(HH(), None)], **kw)
            at = nj.SaveAt(fn=lambda y: y.v)
            return jax.jit(lambda c: nj.simulate(c, inputs, dt=DT, solver=s, saveat=at).states)(c)

        np.testing.assert_allclose(np.asarray(_in_order("chain_blocks", build)),
                                   np.asarray(_in_order("tree", build)),
                                   rtol=0, atol=1e-7)  # fmt: skip


@pytest.mark.slow
def test_loop_in_block_order_gradient_and_vmap(x64):
    """The gradient w.r.t. a per-compartment g_Na (its permutation's transpose maps the
    cotangent back) and a vmap over cells, against the loop in the cell's numbering:
    float64 rounding, 1e-9 relative."""
    morph = _tree(7, 5)
    n = 600
    t = np.arange(n) * DT
    stim = jnp.asarray(np.where(t >= 2, 1.0, 0.0))[:, None]
    g0 = _per_compartment_g_na(morph)

    def loss(g):
        c = Cell(morph, [(HH(g_na=g), None)], clamps=[(0, 0.5)])
        v = nj.simulate(c, stim, dt=DT, saveat=nj.SaveAt(fn=c.record_v([(0, 0.5), (5, 0.5)])))
        return v.states.mean()

    def batch(gs):
        return jax.vmap(lambda g: loss(g * g0 / 120.0))(gs)

    gs = jnp.asarray([100.0, 140.0])
    want = _in_order("tree", lambda: (jax.jit(jax.grad(loss))(g0), jax.jit(batch)(gs)))
    got = _in_order("chain_blocks", lambda: (jax.jit(jax.grad(loss))(g0), jax.jit(batch)(gs)))
    assert np.ptp(np.asarray(want[0])) > 0  # the compartments' derivatives differ
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-15)


def test_loop_order_is_checked():
    cell = Cell(_tree(), [(HH(), None)])
    with pytest.raises(ValueError, match="LOOP_ORDER must be one of"):
        _in_order("blocks", cell.prepare_loop)
    with pytest.raises(TypeError, match="node_order"):  # removed in session 15: no option
        Cell(_tree(), [(HH(), None)], node_order="chain_blocks")


@pytest.mark.slow
def test_loop_in_block_order_nmodl_ion_pool(x64):
    """NMODL mechanisms sharing a calcium pool (Hay's Ca_HVA with a per-compartment
    density by path distance, in the apical branches only; CaDynamics_E2 everywhere):
    the ion states (`CellState.ions["cai"]`, per node), `record_ion` and the gates of
    two regions, against the loop in the cell's numbering. Float64 rounding: 1e-12 mV
    (measured 1.3e-13 mV), 1e-11 relative for gates and cai (~1e-4 mM)."""
    from neurojax.nmodl import load_mod

    hay = Path(nj.__file__).parent / "cable" / "data" / "hay2011"
    hva, cad = load_mod(hay / "Ca_HVA.mod"), load_mod(hay / "CaDynamics_E2.mod")
    morph = _tree(7, 5)
    where = [1, 3, 4]
    n_hva = len(Cell(morph, [(HH(), where)]).regions[0])
    g_hva = jnp.asarray(np.linspace(1e-4, 5e-3, n_hva))
    n = 1200
    t = np.arange(n) * DT
    stim = jnp.asarray(np.where(t >= 2, 1.0, 0.0))[:, None]

    def build():
        ca = eqx.tree_at(lambda m: m.gCa_HVAbar, hva, g_hva)  # per compartment
        c = Cell(morph, [(HH(), None), (ca, where), (cad, None)], clamps=[(0, 0.5)])
        at = nj.SaveAt(fn=lambda y: (y, c.record_ion("cai", [(3, 0.5), (0, 0.5)])(y)))
        return c, jax.jit(lambda c: nj.simulate(c, stim, dt=DT, saveat=at))(c)

    c0, s0 = _in_order("tree", build)
    c1, s1 = _in_order("chain_blocks", build)
    assert c0.geometry.loop is not None and "cai" in s0.states[0].ions
    cai = np.asarray(s0.states[1])
    assert np.ptp(cai[-1]) > 1e-6  # calcium entered where Ca_HVA is (branch 3), not at the soma
    for y1, y0 in ((s1.states[0], s0.states[0]), (s1.final_state.y, s0.final_state.y)):
        np.testing.assert_allclose(np.asarray(y1.v), np.asarray(y0.v), rtol=0, atol=1e-12)
        for a, b in zip(jax.tree.leaves((y1.gates, y1.ions)), jax.tree.leaves((y0.gates, y0.ions)),
                        strict=True):  # fmt: skip
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(np.asarray(s1.states[1]), cai, rtol=1e-11, atol=1e-15)
