"""A cable cell in chain-block order (session 14, B: `Cell(..., node_order="chain_blocks")`,
`cable._blocks`, `solvers._tree_solve.BlockTopology`): the tree solve in block order equals
the root-outwards solve (every method, batches, vmap, gradients), and a cell built in block
order simulates the same cell — every node, every step, gates, gradients — as the one
built in the root-outwards numbering, permuted (float64, to rounding).

Tolerances: the block order runs the same operations in the same order except where XLA
fuses differently (the put of the membrane currents as a pad instead of a gather, the
axial sums from slices, F and M not materialised), i.e. rounding: 3.7e-14 mV measured
over 100 ms of spiking backward Euler on a 7-branch tree; Crank–Nicolson amplifies
round-off through the spikes to ~4e-10 mV (as between the `"hines"` and `"branches"`
solves, benchmarks/README.md). Bounds: 1e-9 mV (BE), 1e-7 mV (CN, TR-BDF2), 1e-9 relative for
gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import HH, Branch, Cell, Morphology, _blocks
from neurojax.solvers._tree_solve import BlockTopology, TreeTopology, tree_solve

DT = 0.025


def _tree(n_branches=7, nseg=5, seed=0):
    rng = np.random.default_rng(seed)
    spec = [Branch(20.0, 20.0, nseg=nseg)]
    for i in range(1, n_branches):
        spec.append(Branch(float(rng.uniform(50, 200)), float(rng.uniform(0.5, 2.0)),
                           parent=(i - 1) // 2, nseg=nseg))  # fmt: skip
    return Morphology(spec)


def _cell_pair(morph, mechanisms=None, **kw):
    mechanisms = mechanisms or [(HH(), None)]
    plain = Cell(morph, mechanisms, **kw)
    blocks = Cell(morph, mechanisms, node_order="chain_blocks", **kw)
    return plain, blocks


def _region_perm(plain, blocks, k=0):
    """Index into `plain`'s region k giving `blocks`' region k order."""
    perm = np.asarray(blocks.discretisation.topology.perm)
    pos = {int(n): i for i, n in enumerate(plain.regions[k])}
    return np.array([pos[int(perm[n])] for n in blocks.regions[k]])


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
    # one short branch: no interior rows to speak of → no block order, the cell unchanged
    morph = Morphology([Branch(20.0, 20.0, nseg=1)])
    assert BlockTopology.of(morph.discretise().topology) is None
    plain, blocks = _cell_pair(morph)
    assert blocks.geometry.blocks is None
    assert type(blocks.discretisation) is type(plain.discretisation)


# ------------------------------------------------------------------ the cell


def test_block_discretisation_is_the_permuted_one():
    morph = _tree(7, 5)
    plain, blocks = _cell_pair(morph, clamps=[(0, 0.5)])
    disc, bd = plain.discretisation, blocks.discretisation
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
            assert blocks.node(b, x) == inv[plain.node(b, x)]
    # on this tree of equal branches the membrane is one run (the take a slice)
    mem = bd.membrane
    assert np.array_equal(mem, np.arange(mem[0], mem[-1] + 1))
    with pytest.raises(AttributeError, match="no_such_method"):
        bd.no_such_method  # noqa: B018 (an attribute a Discretisation lacks)


@pytest.mark.parametrize("solver", ["be", pytest.param("cn", marks=pytest.mark.slow)])
def test_block_cell_same_run_as_root_outwards(x64, solver):
    morph = _tree(7, 5)
    plain, blocks = _cell_pair(morph, clamps=[(0, 0.5)])
    assert blocks.geometry.blocks is not None
    P = np.asarray(blocks.discretisation.topology.perm)
    n = 2000  # 50 ms: two spikes at the soma
    t = np.arange(n) * DT
    stim = jnp.asarray(np.where((t >= 5) & (t < 35), 1.0, 0.0))[:, None]
    s = nj.solvers.BackwardEuler() if solver == "be" else nj.solvers.CrankNicolson()
    every = nj.SaveAt(fn=lambda y: y)
    run = jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=s, saveat=every).states)
    y0, y1 = run(plain), run(blocks)
    tol = 1e-9 if solver == "be" else 1e-7
    v0 = np.asarray(y0.v)[:, P]
    soma0 = np.asarray(y0.v)[:, plain.node(0, 0.5)]
    assert np.sum((soma0[1:] > 0) & (soma0[:-1] <= 0)) >= 2  # through spikes
    np.testing.assert_allclose(np.asarray(y1.v), v0, rtol=0, atol=tol)
    g = _region_perm(plain, blocks)
    for name in ("m", "h", "n"):
        np.testing.assert_allclose(np.asarray(getattr(y1.gates[0], name)),
                                   np.asarray(getattr(y0.gates[0], name))[:, g],
                                   rtol=0, atol=tol)  # fmt: skip

    # recording by site follows the numbering
    def rec(c):
        at = nj.SaveAt(fn=c.record_v([(3, 0.5)]))
        return jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=s, saveat=at).states)(c)

    np.testing.assert_allclose(np.asarray(rec(blocks)), np.asarray(rec(plain)), rtol=0, atol=tol)


@pytest.mark.slow
def test_block_cell_sites_and_trbdf2(x64):
    """Synapses, a voltage clamp and TR-BDF2 (its clamped nodes) in block order."""
    morph = _tree(7, 4)
    kw = dict(clamps=[(0, 0.5)], synapses=[(4, 0.5, 0.0), (6, 1.0, -80.0)], vclamps=[(2, 0.5)])
    plain, blocks = _cell_pair(morph, **kw)
    assert blocks.geometry.blocks is not None
    P = np.asarray(blocks.discretisation.topology.perm)
    n = 800
    t = np.arange(n) * DT
    inputs = {
        "i_clamp": jnp.asarray(np.where(t >= 2, 0.5, 0.0))[:, None],
        "g_syn": jnp.asarray(np.stack([0.01 * (t > 5), 0.005 * (t > 10)], 1)),
        "v_clamp": jnp.asarray(np.where(t < 10, -65.0, -20.0))[:, None],
    }
    for s in (nj.solvers.BackwardEuler(), nj.solvers.TRBDF2()):
        at = nj.SaveAt(fn=lambda y: y.v)
        run = jax.jit(
            lambda c, s=s, at=at: nj.simulate(c, inputs, dt=DT, solver=s, saveat=at).states
        )
        np.testing.assert_allclose(np.asarray(run(blocks)), np.asarray(run(plain))[:, P],
                                   rtol=0, atol=1e-7)  # fmt: skip


@pytest.mark.slow
def test_block_cell_gradient(x64):
    morph = _tree(7, 5)
    n = 600
    t = np.arange(n) * DT
    stim = jnp.asarray(np.where(t >= 2, 1.0, 0.0))[:, None]

    def loss(blocks_on, g):
        order = "chain_blocks" if blocks_on else "tree"
        c = Cell(morph, [(HH(g_na=g), None)], clamps=[(0, 0.5)], node_order=order)
        v = nj.simulate(c, stim, dt=DT, saveat=nj.SaveAt(fn=c.record_v([(0, 0.5), (5, 0.5)])))
        return v.states.mean()

    g0 = jnp.asarray(120.0)
    want = jax.grad(lambda g: loss(False, g))(g0)
    got = jax.grad(lambda g: loss(True, g))(g0)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-9)


def test_node_order_is_checked():
    morph = _tree()
    with pytest.raises(ValueError, match="node_order must be one of"):
        Cell(morph, [(HH(), None)], node_order="blocks")
    assert Cell(morph, [(HH(), None)]).geometry.blocks is None  # "tree" is the default
    assert Cell(morph, [(HH(), None)], node_order="chain_blocks").geometry.blocks is not None
