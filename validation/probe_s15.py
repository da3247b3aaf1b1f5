"""Session-15 probes: bad and edge inputs to what sessions 13-14 added (issue 19's rule: every
number neurojax returns is right to its stated accuracy, or replaced by a clear error).

Surfaces probed from outside:
- A. the time loop in chain-block order (`cable/_blocks.py`; session 14's opt-in
  `Cell(..., node_order="chain_blocks")`, internal since session 15: each probe compares
  the default loop with `cable._cell.LOOP_ORDER = "tree"`): clamps, synapses, voltage
  clamps and recordings at `(branch, x)`, per-compartment parameters (distributions by path
  distance), per-branch `cm`, `SaveAt` options, `vmap` over cells, gradients, float32, SWC
  cells, trees it does not apply to, the removed option, `plot_morphology`;
- B. int16 `Sparse` targets (`network/_connectivity.SMALL_INDEX`): the 2^15 boundary,
  more than 32767 targets, bad indices, empty projections, duplicate pairs;
- C. Poisson draws (`network/_projection`: two events per random word, `HALVES`; the
  inverse-CDF draw): rate 0, negative and NaN rates, more than one event per step,
  float32 draws at the uniform's largest value;
- D. `FitResult.unread`: a parameter read only by `simulate`'s checks;
- E. `ReducedCell.check_population` (Dendrify-style populations);
- F. the NMODL importer: malformed files, unsupported constructs, blocks given twice,
  parameters out of their domain.

Each probe is one call a user could make; the verdict is one of
- `clear`: a ValueError/TypeError/FloatingPointError/IndexError/FileNotFoundError whose
  message names the culprit (the words listed with the probe);
- `ok`: it ran and its answer was checked against an independent reference (the check
  listed with it: the default `"tree"` order, an analytic value, a dense product, a
  distribution, NEURON's nocmodl's behaviour);
- `UNCLEAR` (an error that does not name the culprit), `SILENT` (it ran and the answer is
  wrong, or it ran where it should have been refused) — the findings to fix.

    PYTHONPATH=. python validation/probe_s15.py [label-regex ...]   # table of every probe

`tests/test_probe_s15.py` asserts the verdicts (the slow probes in the slow tier).
"""

from __future__ import annotations

import re
import sys
import time
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax import network as nn
from neurojax import neurons
from neurojax import synapses as ns
from neurojax.cable import (
    HH,
    L5_SIMPLIFIED_SWC,
    Branch,
    Cell,
    Compartment,
    DSpikes,
    Morphology,
    Passive,
    ReducedCell,
    read_swc,
)

DT = 0.025
N = 200  # steps of the cable runs (5 ms)
BE = nj.solvers.BackwardEuler()
QUIET = nj.NoProgress()
SLOW = set()  # labels of the probes that take more than ~2 CPU-s (slow tier)


def f64(fn):
    """`fn()` in float64 (models built inside)."""

    def run():
        with jax.enable_x64(True):
            return fn()

    return run


# ------------------------------------------------------------------------ A. cables


def tree7(nseg=4, seed=0):
    """A 7-branch binary tree of equal nseg (block order applies: `BlockTopology.of`)."""
    rng = np.random.default_rng(seed)
    spec = [Branch(20.0, 20.0, nseg=nseg)]
    for i in range(1, 7):
        spec.append(
            Branch(
                float(rng.uniform(50, 200)),
                float(rng.uniform(0.5, 2.0)),
                parent=(i - 1) // 2,
                nseg=nseg,
            )
        )
    return Morphology(spec)


SITES = [(0, 0.5), (2, 0.5), (3, 1.0), (6, 0.25)]


def cable_run(order, mechs=None, morph=None, kw=None, inputs=None, saveat=None, solver=BE, n=N):
    """Recorded V at `SITES` (or `saveat`'s output) of a cell built in `order`."""
    morph = morph or tree7()
    kw = dict(kw or {"clamps": [(0, 0.5)]})
    c = Cell(morph, mechs or [(HH(), None)], **kw)
    if inputs is None:
        inputs = jnp.full((n, 1), 0.3)
    at = saveat(c) if saveat is not None else nj.SaveAt(fn=c.record_v(SITES))
    def run(_):
        return nj.simulate(c, inputs, dt=DT, solver=solver, saveat=at).states

    return c, in_order(order, run)


def in_order(order, fn):
    """`fn(order)` with the time loop in `order` (`cable._cell.LOOP_ORDER`, read when a
    run is traced: since session 15 the loop of a cell whose tree allows it runs in
    chain-block order, `"tree"` is the loop in the cell's own numbering)."""
    from neurojax.cable import _cell

    old = _cell.LOOP_ORDER
    _cell.LOOP_ORDER = order
    try:
        return fn(order)
    finally:
        _cell.LOOP_ORDER = old


def blocks_equal_tree(atol=1e-9, **kw):
    """The run with its loop in chain-block order equals the tree-order loop's (float64; tolerance
    from tests/test_cable_blocks_s14.py: rounding, 3.7e-14 mV measured, bound 1e-9)."""

    def fn():
        cb, yb = cable_run("chain_blocks", **kw)
        ct, yt = cable_run("tree", **kw)
        return cb, yb, yt

    def check(out):
        cb, yb, yt = out
        if cb.geometry.loop is None:  # the probe must exercise block order
            return False
        a, b = jax.tree.leaves(yb), jax.tree.leaves(yt)
        return len(a) == len(b) and all(
            np.asarray(x).shape == np.asarray(y).shape
            and np.allclose(np.asarray(x), np.asarray(y), rtol=0, atol=atol)
            for x, y in zip(a, b, strict=True)
        )

    return f64(fn), check


def distances_g(morph, where=None, lo=1e-4, slope=2e-6):
    """A passive conductance rising with path distance (S/cm² → mS/cm² as Passive's)."""
    return jnp.asarray(lo + slope * morph.distances(where)) * 1e3


def block_probes(add):
    m = tree7()
    # --- sites, recordings, SaveAt ---------------------------------------------------
    fn, chk = blocks_equal_tree()
    add("A blocks: clamp at the soma, record 4 sites", fn, None, chk)
    kw = dict(clamps=[(5, 0.9)], synapses=[(4, 0.5, 0.0), (6, 1.0, -80.0)], vclamps=[(2, 0.5)])
    t = np.arange(N) * DT
    ins = {
        "i_clamp": jnp.asarray(np.where(t >= 1, 0.4, 0.0))[:, None],
        "g_syn": jnp.asarray(np.stack([0.01 * (t > 1), 0.005 * (t > 2)], 1)),
        "v_clamp": jnp.asarray(np.where(t < 2, -65.0, -20.0))[:, None],
    }
    fn, chk = blocks_equal_tree(kw=kw, inputs=ins)
    add("A blocks: clamp, 2 synapses, a vclamp off the soma", fn, None, chk)
    fn, chk = blocks_equal_tree(kw=kw, inputs=ins, solver=nj.solvers.TRBDF2(), atol=1e-7)
    add("A blocks: TR-BDF2 with a vclamp (clamped nodes)", fn, None, chk)
    fn, chk = blocks_equal_tree(
        saveat=lambda c: nj.SaveAt(
            fn=c.record_gate(0, "m", [(0, 0.5), (2, 0.5), (3, 0.9), (6, 0.25)])
        )
    )
    add("A blocks: record_gate at 4 sites", fn, None, chk)
    fn, chk = blocks_equal_tree(
        saveat=lambda c: nj.SaveAt(every=8, fn=c.record_v([(1, 0.0), (1, 1.0)]))
    )
    add("A blocks: SaveAt(every=8) at branch ends", fn, None, chk)

    def full_state(c):  # every node, mapped back to the tree order by site
        idx = np.array([c.node(b, x) for b in range(7) for x in (0.125, 0.375, 0.625, 0.875)])
        return nj.SaveAt(fn=lambda y: y.v[..., idx])

    fn, chk = blocks_equal_tree(saveat=full_state)
    add("A blocks: every compartment by (branch, x)", fn, None, chk)
    fn, chk = blocks_equal_tree(
        inputs=jnp.stack([jnp.full((N, 1), a) for a in (0.1, 0.3, 0.6)], axis=1)
    )
    add("A blocks: a batch of 3 inputs (n_steps, 3, 1)", fn, None, chk)
    # --- per-compartment and per-branch parameters ------------------------------------
    fn, chk = blocks_equal_tree(mechs=[(Passive(g=distances_g(m)), None)])
    add("A blocks: Passive g rising with Morphology.distances", fn, None, chk)
    fn, chk = blocks_equal_tree(
        mechs=[(HH(), [0]), (HH(g_na=jnp.asarray(60.0 + 0.1 * m.distances([1, 2]))), [1, 2])]
        + [(Passive(), [3, 4, 5, 6])]
    )
    add("A blocks: HH g_na by distance on two branches", fn, None, chk)
    cm = np.linspace(0.8, 2.0, 7)
    fn, chk = blocks_equal_tree(kw={"clamps": [(0, 0.5)], "cm": cm, "ra": 50.0 + 10 * cm})
    add("A blocks: cm and ra one per branch", fn, None, chk)

    # --- NMODL mechanisms, ions, point processes, initial states ------------------------
    def hay_mechs():
        from neurojax.cable import HAY2011_DIR
        from neurojax.nmodl import load_mod

        ca = load_mod(
            HAY2011_DIR / "Ca_HVA.mod", gCa_HVAbar=jnp.asarray(1e-4 + 2e-6 * m.distances())
        )
        return [(load_mod(HAY2011_DIR / "CaDynamics_E2.mod"), None), (ca, None), (HH(), None)]

    fn = f64(
        lambda: (
            lambda mk: (
                cable_run(
                    "chain_blocks",
                    mechs=mk(),
                    saveat=lambda c: nj.SaveAt(
                        fn=c.record_ion("cai", [(0, 0.5), (3, 0.5), (6, 0.75)])
                    ),
                ),
                cable_run(
                    "tree",
                    mechs=mk(),
                    saveat=lambda c: nj.SaveAt(
                        fn=c.record_ion("cai", [(0, 0.5), (3, 0.5), (6, 0.75)])
                    ),
                ),
            )
        )(hay_mechs)
    )
    add(
        "A blocks: NMODL Ca_HVA graded by distance, record_ion cai",
        fn,
        None,
        lambda o: (
            o[0][0].geometry.loop is not None
            and np.allclose(np.asarray(o[0][1]), np.asarray(o[1][1]), rtol=1e-9, atol=1e-15)
            and float(np.ptp(np.asarray(o[1][1]))) > 0
        ),
    )

    def ek_by_branch(order):
        from neurojax.nmodl import load_mod

        kx = load_mod(KX, file="kx.mod")
        ek = np.linspace(-95.0, -70.0, 7)
        kw = {"clamps": [(0, 0.5)], "ions": {"ek": ek}}
        return cable_run(order, mechs=[(kx, None), (Passive(), None)], kw=kw)

    add(
        "A blocks: ek one per branch (NMODL USEION k)",
        f64(lambda: (in_order("chain_blocks", ek_by_branch), in_order("tree", ek_by_branch))),
        None,
        lambda o: np.allclose(np.asarray(o[0][1]), np.asarray(o[1][1]), rtol=0, atol=1e-9),
    )

    def expsyn_run(order):
        from neurojax.nmodl import load_mod

        syn = load_mod(EXPSYN, file="es.mod")
        c = Cell(m, [(HH(), None)], point_processes=[(syn, (4, 0.5))], clamps=[(0, 0.5)])
        ev = c.event_input([(np.array([0.5, 2.0]), 0.02)], N, DT)
        ins = {"i_clamp": jnp.zeros((N, 1)), "events": ev}
        at = nj.SaveAt(fn=c.record_v(SITES))
        return c, nj.simulate(c, ins, dt=DT, solver=BE, saveat=at).states

    add(
        "A blocks: NMODL point process with events at (4, 0.5)",
        f64(lambda: (in_order("chain_blocks", expsyn_run), in_order("tree", expsyn_run))),
        None,
        lambda o: (
            o[0][0].geometry.loop is not None
            and np.allclose(np.asarray(o[0][1]), np.asarray(o[1][1]), rtol=0, atol=1e-9)
            and float(np.ptp(np.asarray(o[1][1])[:, 1])) > 1.0
        ),
    )

    def from_state0(order):
        c = Cell(m, [(HH(), None)], clamps=[(0, 0.5)])
        y0 = c.init_state()
        y0 = eqx.tree_at(lambda y: y.v, y0, y0.v.at[c.node(3, 0.5)].set(-20.0))
        at = nj.SaveAt(fn=c.record_v(SITES))
        return nj.simulate(c, jnp.zeros((N, 1)), dt=DT, solver=BE, saveat=at, state0=y0).states

    add(
        "A blocks: state0 with one node set through cell.node",
        f64(lambda: (in_order("chain_blocks", from_state0), in_order("tree", from_state0))),
        None,
        lambda o: np.allclose(np.asarray(o[0]), np.asarray(o[1]), rtol=0, atol=1e-9),
    )

    def fit_on(order):
        g_true = distances_g(m)
        truth = Cell(m, [(Passive(g=g_true), None)], clamps=[(0, 0.5)])
        i = jnp.full((80, 1), 0.1)
        v = nj.simulate(
            truth, i, dt=DT, solver=BE, saveat=nj.SaveAt(fn=truth.record_v(SITES))
        ).states
        start = Cell(m, [(Passive(g=g_true * 1.5), None)], clamps=[(0, 0.5)])
        r = nj.fit(start, i, v, dt=DT, solver=BE, saveat=nj.SaveAt(fn=start.record_v(SITES)),
                   trainable=lambda c: c.mechanisms[0].g, progress_meter=QUIET)  # fmt: skip
        # the fitted per-compartment values, back in the morphology order by site
        return r, np.asarray(r.model.mechanisms[0].g), r.model

    def fit_check(o):
        (rb, gb, cb), (rt, gt, ct) = o
        # the same fit in the same numbering (the loop's order is internal)
        return rb.loss < 1e-6 and rt.loss < 1e-6 and np.allclose(gb, gt, rtol=1e-6)

    add(
        "A blocks: fit a graded g (28 values) on both orders",
        f64(lambda: (in_order("chain_blocks", fit_on), in_order("tree", fit_on))),
        None,
        fit_check,
    )
    SLOW.add("A blocks: fit a graded g (28 values) on both orders")

    # --- vmap, gradient, float32 -------------------------------------------------------
    def vmapped(order):
        def one(g):
            c = Cell(m, [(HH(g_na=g), None)], clamps=[(0, 0.5)])
            at = nj.SaveAt(fn=c.record_v([(0, 0.5), (6, 1.0)]))
            return nj.simulate(c, jnp.full((N, 1), 0.5), dt=DT, solver=BE, saveat=at).states

        return jax.vmap(one)(jnp.asarray([80.0, 120.0, 160.0]))

    add(
        "A blocks: vmap over g_na",
        f64(lambda: (in_order("chain_blocks", vmapped), in_order("tree", vmapped))),
        None,
        lambda o: np.allclose(np.asarray(o[0]), np.asarray(o[1]), rtol=0, atol=1e-9),
    )

    def grad_of(order):
        def loss(s):
            g = distances_g(m) * s
            c = Cell(m, [(Passive(g=g), None)], clamps=[(0, 0.5)])
            at = nj.SaveAt(fn=c.record_v([(6, 1.0)]))
            return nj.simulate(c, jnp.full((N, 1), 0.3), dt=DT, solver=BE, saveat=at).states.mean()

        return jax.grad(loss)(1.0)

    add(
        "A blocks: gradient of a distance-graded g",
        f64(lambda: (in_order("chain_blocks", grad_of), in_order("tree", grad_of))),
        None,
        lambda o: np.isclose(float(o[0]), float(o[1]), rtol=1e-9, atol=0),
    )

    def grad_checkpointed(order):
        def loss(g):
            c = Cell(m, [(HH(g_na=g), None)], clamps=[(0, 0.5)])
            at = nj.SaveAt(fn=c.record_v([(0, 0.5), (6, 1.0)]))
            sol = nj.simulate(c, jnp.full((N, 1), 0.5), dt=DT, solver=BE, saveat=at,
                              adjoint=nj.CheckpointAdjoint(every=40))  # fmt: skip
            return sol.states.mean()

        return jax.grad(loss)(jnp.asarray(120.0))

    # rounding through 200 steps of reverse mode: 1e-9 relative (test_cable_blocks_s14)
    add(
        "A blocks: gradient with CheckpointAdjoint(every=40)",
        f64(
            lambda: (
                in_order("chain_blocks", grad_checkpointed),
                in_order("tree", grad_checkpointed),
            )
        ),
        None,
        lambda o: np.isclose(float(o[0]), float(o[1]), rtol=1e-9, atol=0) and float(o[1]) != 0,
    )

    def f32_vs_f64():
        _, y32 = cable_run("chain_blocks", mechs=[(Passive(g=distances_g(m)), None)])
        _, y64 = f64(lambda: cable_run("tree", mechs=[(Passive(g=distances_g(m)), None)]))()
        return y32, y64

    # float32 against the float64 tree run: a passive 5 ms run, float32 rounding of
    # ~-65 mV voltages accumulating over 200 steps: ~1e-4 mV; bound 2e-3 mV
    add(
        "A blocks: float32 graded Passive vs float64 tree",
        f32_vs_f64,
        None,
        lambda o: (
            o[0].dtype == jnp.float32
            and np.allclose(np.asarray(o[0]), np.asarray(o[1]), rtol=0, atol=2e-3)
        ),
    )
    # --- trees and files -----------------------------------------------------------
    swc = read_swc(L5_SIMPLIFIED_SWC, nseg=3)
    fn, chk = blocks_equal_tree(
        morph=swc, mechs=[(HH(), "soma"), (Passive(g=distances_g(swc, "apical")), "apical")]
    )
    add("A blocks: SWC cell, graded apical Passive", fn, None, chk)

    # ten branches of 1..10 compartments: ten groups of chains, more than the block
    # order takes (<= 8): the cell keeps the "tree" numbering, and runs as a tree cell
    star = Morphology(
        [Branch(20.0, 20.0, nseg=1)]
        + [Branch(50.0 + 10 * k, 1.0, parent=0, nseg=k) for k in range(1, 11)]
    )
    fn, chk = blocks_equal_tree(morph=star)
    add(
        "A blocks: ten unequal branches fall back to the tree order",
        fn,
        None,
        lambda o: (
            o[0].geometry.loop is None and np.array_equal(np.asarray(o[1]), np.asarray(o[2]))
        ),
    )
    add(  # session 15: the option was removed (the order is internal)
        "A blocks: node_order= (removed)",
        lambda: Cell(m, [(HH(), None)], node_order="chain_blocks"),
        ["node_order"],
    )
    add(
        "A blocks: a per-compartment g of the wrong length",
        lambda: Cell(m, [(Passive(g=jnp.ones(5)), None)]),
        ["Passive", "shape", "(28,)"],
    )

    def plot_colours(order):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from neurojax.cable import plot_morphology

        c, _ = cable_run(order, n=2)
        sol = nj.simulate(
            c, jnp.full((40, 1), 1.0), dt=DT, solver=BE, saveat=nj.SaveAt(fn=lambda y: y.v)
        )
        ax = plot_morphology(c, np.asarray(sol.states[-1]))
        colours = np.asarray(ax.collections[0].get_array())
        plt.close(ax.figure)
        return colours

    add(
        "A blocks: plot_morphology(cell, a row of V)",
        f64(lambda: (in_order("chain_blocks", plot_colours), in_order("tree", plot_colours))),
        None,
        lambda o: np.allclose(o[0], o[1], rtol=0, atol=1e-9),
    )


# ------------------------------------------------------------------ B. int16 Sparse


def dense_equal(conn, n_pre, seed=0, p=0.3):
    """`conn.propagate(x)` equals `x @ conn.to_dense()` and the numpy sum over pairs."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray((rng.random(n_pre) < p).astype(np.float32))
    got = np.asarray(conn.propagate(x))
    want = np.asarray(x @ conn.to_dense())
    return got, want


def pairs_reference(pre, post, w, n_post, x):
    out = np.zeros(n_post)
    np.add.at(out, post, x[pre] * w)
    return out


def sparse_probes(add):
    def boundary(n_post):
        pre = np.array([0, 0, 1, 2, 2, 2])
        post = np.array([0, n_post - 1, n_post - 1, 5, 5, n_post // 2])  # a duplicate pair
        w = np.array([0.5, 1.0, 2.0, 0.25, 0.25, 3.0])
        conn = nn.from_pairs(pre, post, 3, n_post, w)
        x = np.array([1.0, 1.0, 1.0])
        got = np.asarray(conn.propagate(jnp.asarray(x, jnp.float32)))
        return conn, got, pairs_reference(pre, post, w, n_post, x)

    for n_post in (32766, 32767, 32768, 40000):
        add(
            f"B sparse: targets up to n_post - 1 = {n_post - 1}",
            lambda n_post=n_post: boundary(n_post),
            None,
            lambda o, n_post=n_post: (
                o[0].post.dtype == (jnp.int16 if n_post < 2**15 else jnp.int32)
                and np.array_equal(o[1], o[2])
            ),
        )
    add(
        "B sparse: duplicate pairs add (to_dense and propagate)",
        lambda: dense_equal(nn.from_pairs([0, 0, 0, 1], [2, 2, 2, 0], 2, 3, 1.5), 2, p=1.0),
        None,
        lambda o: np.array_equal(o[0], o[1]) and np.array_equal(o[0], [1.5, 0.0, 4.5]),
    )
    add(
        "B sparse: a negative target",
        lambda: nn.Sparse(np.array([[0, -1]]), 1.0, 4),
        ["targets", "[0, n_post=4]"],
    )
    add(
        "B sparse: a target above n_post",
        lambda: nn.Sparse(np.array([[0, 5]]), 1.0, 4),
        ["targets", "n_post=4"],
    )
    add(
        "B sparse: a target of 2^15 with n_post = 2^15 - 1",
        lambda: nn.Sparse(np.array([[0, 32768]]), 1.0, 32767),
        ["targets", "n_post=32767"],
    )
    add(
        "B sparse: int16 targets given, 40000 neurons",
        lambda: nn.Sparse(np.array([[0, 1]], np.int16), 1.0, 40000),
        None,
        lambda c: c.post.dtype == jnp.int32 and c.n_synapses == 2,
    )

    def tree_at_target(bad):
        conn = nn.from_pairs([0, 1], [1, 2], 2, 4, 1.0)
        conn = eqx.tree_at(lambda c: c.post, conn, conn.post.at[0, 0].set(bad))
        pops = {"S": nn.Population(nn.SpikeSource(), 2), "A": nn.Population(neurons.LIF(), 4)}
        return nn.Network(pops, [nn.Projection("S", "A", conn, ns.Delta())], dt=0.1)

    for bad in (-1, 7):  # the synapse was dropped without a word
        add(
            f"B sparse: a target set to {bad} by eqx.tree_at",
            lambda bad=bad: tree_at_target(bad),
            ["projection 0", "connectivity.post", f"[{bad}]"],
        )
    add(
        "B sparse: from_pairs post index n_post",
        lambda: nn.from_pairs([0], [4], 2, 4),
        ["out of range", "post"],
    )
    add(
        "B sparse: from_pairs negative pre",
        lambda: nn.from_pairs([-1], [0], 2, 4),
        ["out of range", "pre"],
    )
    add(
        "B sparse: float targets",
        lambda: nn.Sparse(np.array([[0.0, 1.5]]), 1.0, 4),
        ["integer"],
    )
    add(
        "B sparse: empty projection propagates zeros",
        lambda: dense_equal(nn.from_pairs([], [], 3, 40000, []), 3, p=1.0),
        None,
        lambda o: o[0].shape == (40000,) and not o[0].any() and not o[1].any(),
    )
    add(
        "B sparse: padded() keeps int16 and the sums",
        lambda: dense_equal(
            nn.fixed_probability(jax.random.key(1), 50, 300, 0.1, 0.7).padded(64), 50
        ),
        None,
        lambda o: np.allclose(o[0], o[1], rtol=1e-6, atol=1e-6),
    )

    def weight_gradient():
        pre, post = np.array([0, 0, 1, 2]), np.array([3, 3, 0, 32766])
        x = jnp.asarray([1.0, 0.0, 2.0])

        def total(w):
            conn = nn.from_pairs(pre, post, 3, 32767, w)
            return (conn.propagate(x) * jnp.arange(32767.0)).sum()

        return jax.grad(total)(jnp.asarray([0.5, 1.0, 2.0, 3.0]))

    # d/dw_s of sum_k k * out_k = x[pre_s] * post_s (the target's index as its weight)
    add(
        "B sparse: gradient to the weights through int16 targets",
        weight_gradient,
        None,
        lambda g: np.allclose(np.asarray(g), [3.0, 3.0, 0.0, 2 * 32766.0], rtol=1e-6),
    )

    def big_network():
        # 40 000 LIF neurons onto two populations of 20 000 (a fused delivery whose
        # buffer holds 40 000 outputs, each projection's targets int16): every source
        # fires at step 0; each target's input is its weight sum, read from the V jump
        n_src, n_post = 40, 20000
        rng = np.random.default_rng(2)
        pre = np.repeat(np.arange(n_src), 50)
        post_a = rng.integers(0, n_post, pre.size)
        post_b = rng.integers(0, n_post, pre.size)
        post_a[:3] = post_b[:3] = n_post - 1  # the last neuron, three times
        w = rng.uniform(0.1, 1.0, pre.size)
        pops = {
            "S": nn.Population(nn.SpikeSource(), n_src),
            "A": nn.Population(neurons.LIF(v_th=1e3), n_post),
            "B": nn.Population(neurons.LIF(v_th=1e3), n_post),
        }
        projs = [
            nn.Projection("S", p, nn.from_pairs(pre, q, n_src, n_post, w), ns.Delta())
            for p, q in (("A", post_a), ("B", post_b))
        ]
        net = nn.Network(pops, projs, dt=0.1)

        def run(spikes):
            ins = {
                "S": jnp.asarray(spikes),
                "A": jnp.zeros((2, n_post)),
                "B": jnp.zeros((2, n_post)),
            }
            return nj.simulate(net, ins, dt=0.1, solver=nj.solvers.Euler())

        spikes = np.zeros((2, n_src))
        spikes[0] = 1.0
        sol, base = run(spikes), run(np.zeros((2, n_src)))
        ones = np.ones(n_src)
        want = [pairs_reference(pre, q, w, n_post, ones) for q in (post_a, post_b)]
        return net, sol, base, want

    def big_check(o):
        net, sol, base, want = o
        ok = all(pr.connectivity.post.dtype == jnp.int16 for pr in net.projections)
        for k, name in enumerate(("A", "B")):
            # Delta synapses: the weight sum lands in V in the first step; the same run
            # without spikes holds the leak. float32 V near -60 mV: ulp 4e-6, sums of up to
            # ~10 weights: bound 1e-4 mV
            jump = np.asarray(sol.v[name])[0] - np.asarray(base.v[name])[0]
            ok &= np.allclose(jump, want[k], rtol=0, atol=1e-4)
            ok &= want[k][-1] > 1.0  # the last neuron, n_post - 1 = 19999, was hit
        return bool(ok)

    add("B sparse: 2 x 20000 targets in one network (fused, int16)", big_network, None, big_check)
    SLOW.add("B sparse: 2 x 20000 targets in one network (fused, int16)")


# ------------------------------------------------------------------ C. Poisson draws


def poisson_probes(add):
    from neurojax.network import _projection as P

    def moments(n, lam, steps=400, dtype=jnp.float32):
        f = jax.jit(jax.vmap(lambda k: P.pooled_poisson_counts(k, jnp.asarray(lam, dtype), n)))
        c = np.asarray(f(jax.random.split(jax.random.key(3), steps)), np.float64)
        return c

    def poisson_ok(c, lam):
        # mean and variance of steps x n counts against lam (Poisson: var = mean);
        # 6 standard errors (the variance's s.e. for Poisson is ~sqrt((lam + 2 lam^2)/N))
        k = c.size
        mean_ok = abs(c.mean() - lam) <= 6 * np.sqrt(lam / k)
        var_ok = abs(c.var() - lam) <= 6 * np.sqrt((lam + 2 * lam**2) / k)
        # no neuron favoured: counts per neuron summed over steps, chi2-like dispersion
        per = c.sum(0)
        disp = per.var() / max(per.mean(), 1e-12)
        return bool(mean_ok and var_ok and c.max() < lam + 12 * np.sqrt(lam) + 12 and
                    (lam == 0 or c.shape[1] == 1 or 0.7 < disp < 1.3))  # fmt: skip

    for n, lam in ((512, 0.05), (1000, 0.4), (65536, 0.02), (65537, 0.02), (3000, 0.0)):
        add(
            f"C poisson: pooled draw n={n}, lam={lam}",
            lambda n=n, lam=lam: moments(n, lam, steps=60 if n > 10000 else 400),
            None,
            lambda c, lam=lam: poisson_ok(c, lam),
        )
    add(
        "C poisson: more than one event per step (lam = 3)",
        lambda: moments(800, 3.0),
        None,
        lambda c: poisson_ok(c, 3.0),
    )

    def at_largest_uniform(lam):
        # the largest float32 uniform JAX draws, 1 - 2^-23: the inverse CDF, summed in
        # float32, may never reach it (the sum rounds below 1). Forced through the draw
        # of `poisson_counts` by a key whose uniform is that value is not possible, so
        # the draw is called with that uniform (the same code path)
        orig = jax.random.uniform
        top = jnp.float32(1) - jnp.float32(2.0**-23)
        try:
            P.jax.random.uniform = lambda key, shape, dtype: jnp.full(shape, top, dtype)
            return np.asarray(P._inverse_cdf(jax.random.key(0), jnp.asarray(lam), lam.shape))
        finally:
            P.jax.random.uniform = orig

    lams = np.float32(np.linspace(0.01, 9.99, 4000))
    add(
        "C poisson: float32 draw at the largest uniform, lam 0.01..9.99",
        lambda: at_largest_uniform(jnp.asarray(lams)),
        None,
        # P(X >= k) < 2^-23 beyond k = lam + 9 sqrt(lam) + 10 for lam < 10 (Chernoff):
        # the count at the top uniform is a tail count, never the loop's cap of 1000
        lambda c: bool(np.all(c <= lams + 9 * np.sqrt(lams) + 10)),
    )

    def drive(rate, n=600, steps=300, dtype=jnp.float32):
        pops = {"E": nn.Population(neurons.LIF(v_th=1e6), n)}
        d = nn.PoissonDrive("E", ns.Delta(), rate=rate, weight=1.0, n_sources=10)
        net = nn.Network(pops, [], [d], dt=0.1)
        cur = jnp.zeros((steps, n), dtype)
        sol = nj.simulate(net, {"E": cur}, dt=0.1, solver=nj.solvers.Euler(), key=jax.random.key(5))
        return sol

    def per_neuron(lam, steps=2000):
        f = jax.jit(jax.vmap(lambda k: P.poisson_counts(k, lam, lam.shape)))
        return np.asarray(f(jax.random.split(jax.random.key(7), steps)), np.float64)

    lam_vec = jnp.asarray([0.0, 0.05, 0.5, 3.0, 9.5], jnp.float32)
    add(
        "C poisson: one rate per neuron (0 .. 9.5 per step)",
        lambda: per_neuron(lam_vec),
        None,
        lambda c: all(poisson_ok(c[:, [k]], float(lam_vec[k])) for k in range(5)),
    )
    lam_big = jnp.asarray([0.05, 12.0, 40.0], jnp.float32)  # some >= 10: jax.random.poisson
    add(
        "C poisson: one rate per neuron, some above 10",
        lambda: per_neuron(lam_big),
        None,
        lambda c: all(poisson_ok(c[:, [k]], float(lam_big[k])) for k in range(3)),
    )
    add("C poisson: drive rate -5 Hz", lambda: drive(-5.0), ["rate"])
    add("C poisson: drive rate NaN", lambda: drive(float("nan")), ["rate"])
    add("C poisson: drive rate inf", lambda: drive(float("inf")), ["rate", "inf are outside"])
    add(
        "C poisson: drive rate 0 Hz",
        lambda: drive(0.0),
        None,
        lambda s: np.allclose(np.asarray(s.v["E"]), np.asarray(s.v["E"])[0]),
    )


# ------------------------------------------------------------------ D. fit: unread


def fit_probes(add):
    def passive_cell(g=0.5, rs=0.01, temperature=6.3):
        m = Morphology([Branch(20.0, 20.0, nseg=1), Branch(100.0, 1.0, parent=0, nseg=3)])
        return Cell(m, [(Passive(g=g), None)], clamps=[(0, 0.5)], rs_clamp=rs,
                    temperature=temperature)  # fmt: skip

    def fit_rs():
        truth = passive_cell()
        i = jnp.full((80, 1), 0.05)
        v = nj.simulate(truth, i, dt=DT, solver=BE).v
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            r = nj.fit(passive_cell(g=0.8, rs=0.5), i, v, dt=DT, solver=BE,
                       trainable=lambda c: (c.mechanisms[0].g, c.rs_clamp),
                       progress_meter=QUIET)  # fmt: skip
        return r, [str(w.message) for w in rec]

    def fit_temperature():
        truth = passive_cell()
        i = jnp.full((80, 1), 0.05)
        v = nj.simulate(truth, i, dt=DT, solver=BE).v
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            r = nj.fit(passive_cell(g=0.8, temperature=30.0), i, v, dt=DT, solver=BE,
                       trainable=lambda c: (c.mechanisms[0].g, c.temperature),
                       progress_meter=QUIET)  # fmt: skip
        return r, [str(w.message) for w in rec]

    # a passive cell's temperature: no mechanism reads it (only its CELSIUS domain check)
    add(
        "D fit: temperature of a passive cell (read only by checks)",
        fit_temperature,
        None,
        lambda o: (
            o[0].unread == ("temperature",)
            and float(o[0].model.temperature) == 30.0
            and abs(float(o[0].model.mechanisms[0].g) / 0.5 - 1) < 1e-3
        ),
    )
    # rs_clamp is read only by the domain check (POSITIVE) without a voltage clamp: named
    # in FitResult.unread and the warning, left at its start; g (the truth 0.5 mS/cm²,
    # noise-free) fitted to 1e-3 relative (float32 LM measured ~1e-6)
    add(
        "D fit: rs_clamp of a cell without vclamps (read only by checks)",
        fit_rs,
        None,
        lambda o: (
            o[0].unread == ("rs_clamp",)
            and float(o[0].model.rs_clamp) == 0.5
            and abs(float(o[0].model.mechanisms[0].g) / 0.5 - 1) < 1e-3
            and any("rs_clamp" in m and "exactly 0" in m for m in o[1])
        ),
    )
    SLOW.add("D fit: rs_clamp of a cell without vclamps (read only by checks)")


# -------------------------------------------------------- E. ReducedCell populations


def reduced_cell(**kw):
    comps = [
        Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        Compartment(
            "dend",
            c_abs=0.05,
            gl_abs=0.002,
            e_l=-70.0,
            dspikes=DSpikes(
                g_rise=0.03,
                g_fall=0.015,
                threshold=-40.0,
                duration_rise=1.2,
                duration_fall=2.4,
                offset_fall=0.2,
                refractory=5.0,
            ),  # fmt: skip
        ),
    ]
    args = dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0)
    args.update(kw)
    return ReducedCell.build(comps, [("soma", "dend", 0.02)], **args)


def reduced_probes(add):
    c = reduced_cell()
    for size in (0, -1, 2.5, True, "3", None):
        add(
            f"E reduced: check_population({size!r})",
            lambda size=size: c.check_population(size),
            ["size"],
        )
    add(
        "E reduced: check_population(np.int64(4)) of a scalar cell",
        lambda: c.check_population(np.int64(4)),
        None,
        lambda out: out is None,  # accepted (a numpy int is an int)
    )
    add(
        "E reduced: v_th of 3 values for 4 neurons",
        lambda: eqx.tree_at(lambda x: x.v_th, c, jnp.full(3, -50.0)).check_population(4),
        ["v_th", "(3,)", "4"],
    )
    add(
        "E reduced: g_couple of 2 values for 1 coupling",
        lambda: eqx.tree_at(lambda x: x.g_couple, c, jnp.array([0.02, 0.02])).check_population(4),
        ["g_couple"],
    )
    add(
        "E reduced: v_th (4,) per neuron for a population of 4",
        lambda: eqx.tree_at(lambda x: x.v_th, c, jnp.full(4, -50.0)).check_population(4),
        None,
        lambda out: out is None,
    )
    add(
        "E reduced: coupling to a compartment that does not exist",
        lambda: ReducedCell.build(
            [Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0)],
            [("soma", "apical", 0.02)],
            v_th=-50.0,
            v_reset=-60.0,
            t_ref=2.0,
        ),
        ["'apical'"],
    )


# ------------------------------------------------------------------ F. NMODL importer

KX = """NEURON { SUFFIX kx USEION k READ ek WRITE ik RANGE gbar }
UNITS { (mV) = (millivolt) (mA) = (milliamp) (S) = (siemens) }
PARAMETER { gbar = 0.036 (S/cm2) <0, 1e9> }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) ninf tau (ms) }
STATE { n }
BREAKPOINT { SOLVE states METHOD cnexp  ik = gbar*n*n*n*n*(v - ek) }
INITIAL { rates(v) n = ninf }
DERIVATIVE states { rates(v) n' = (ninf - n)/tau }
PROCEDURE rates(v (mV)) { ninf = 1/(1 + exp(-(v + 55)/10)) tau = 1 + 5*exp(-(v+60)^2/400) }
"""

EXPSYN = """NEURON { POINT_PROCESS es NONSPECIFIC_CURRENT i RANGE tau, e }
PARAMETER { tau = 2 (ms) e = 0 (mV) }
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT { SOLVE st METHOD cnexp i = g*(v - e) }
DERIVATIVE st { g' = -g/tau }
NET_RECEIVE(w (uS)) { g = g + w }
"""


def kx_run(text, **params):
    """Soma V of a one-compartment cell with the mechanism (and a leak), 5 ms."""
    from neurojax.nmodl import load_mod

    mech = load_mod(text, file="kx.mod", **params)
    m = Morphology([Branch(20.0, 20.0, nseg=1)])
    c = Cell(m, [(mech, None), (Passive(), None)], clamps=[(0, 0.5)])
    return np.asarray(nj.simulate(c, jnp.full((N, 1), 0.05), dt=DT, solver=BE).v)


def nmodl_probes(add):
    from neurojax.nmodl import load_mod, mod_class

    def cls(text):
        return lambda: mod_class(text, file="kx.mod")

    bad = {
        "a missing brace": (KX.replace("STATE { n }", "STATE { n "), ["kx.mod:6"]),
        "an extra brace": (KX + "}\n", ["kx.mod:10", "'}'"]),
        "an unknown block": (KX + "FOOBAR { x = 1 }\n", ["kx.mod:10", "FOOBAR"]),
        "METHOD runge": (KX.replace("cnexp", "runge"), ["kx.mod:6", "runge"]),
        "an undefined name": (KX.replace("(v - ek)", "(v - ekk)"), ["kx.mod:6", "ekk"]),
        "an unknown function": (
            KX.replace("exp(-(v + 55)", "expo(-(v + 55)"),
            ["kx.mod:9", "expo"],
        ),
        "C in VERBATIM": (KX + "VERBATIM\n int x; \nENDVERBATIM\n", ["kx.mod:10", "VERBATIM"]),
        "no SUFFIX": (KX.replace("SUFFIX kx ", ""), ["kx.mod", "SUFFIX"]),
        "a WHILE loop": (
            KX.replace(
                "PROCEDURE rates(v (mV)) {",
                "PROCEDURE rates(v (mV)) { LOCAL i i = 0 WHILE (i < 3) { i = i + 1 } ",
            ),
            ["kx.mod:9", "while"],
        ),  # fmt: skip
        "COMMENT without ENDCOMMENT": (KX + "COMMENT\n foo\n", ["kx.mod:10", "COMMENT"]),
        "a string in an expression": (
            KX.replace("tau = 1 +", 'tau = "a" +'),
            ["kx.mod:9", "string"],
        ),
        "nan as a default": (KX.replace("gbar = 0.036", "gbar = nan"), ["kx.mod:3"]),
        "1e999 as a default": (
            KX.replace("gbar = 0.036", "gbar = 1e999"),
            ["kx.mod:3", "1e999", "finite"],
        ),
        "a STATE also a PARAMETER": (
            KX.replace("STATE { n }", "STATE { n gbar }"),
            ["kx.mod:5", "gbar"],
        ),
        "NET_RECEIVE in a density mechanism": (
            KX + "NET_RECEIVE(w) { n = n + w }\n",
            ["kx.mod:10", "NET_RECEIVE"],
        ),
        "recursion": (
            KX.replace("tau = 1 +", "tau = foo(v) + ") + "FUNCTION foo(x) { foo = foo(x-1) }\n",
            ["kx.mod:10", "recursion"],
        ),  # fmt: skip
        "limits reversed": (KX.replace("<0, 1e9>", "<1e9, 0>"), ["kx.mod:3", "<"]),
        # nocmodl: "DERIVATIVE merging not implemented"
        "a DERIVATIVE block given twice": (
            KX + "DERIVATIVE states { n' = 0 }\n",
            ["kx.mod:10", "states"],
        ),
        # nocmodl: "Illegal block" (here the state was stepped twice per step: 0.16 mV off)
        "a SOLVE given twice": (
            KX.replace(
                "SOLVE states METHOD cnexp", "SOLVE states METHOD cnexp SOLVE states METHOD cnexp"
            ),
            ["kx.mod:6", "SOLVE states"],
        ),
        # nocmodl: "No derivative equations in DERIVATIVE block"
        "a DERIVATIVE block without an equation": (
            KX.replace("n' = (ninf - n)/tau", "n = ninf"),
            ["kx.mod:8", "states"],
        ),  # fmt: skip
        # nocmodl: assertion `funcs.count(s) == 0' (it aborts)
        "a PROCEDURE given twice": (
            KX + "PROCEDURE rates(v (mV)) { ninf = 0.5 tau = 2 }\n",
            ["kx.mod:10", "rates"],
        ),  # fmt: skip
        "a FUNCTION named as the DERIVATIVE block": (
            KX + "FUNCTION states(x) { states = x }\n",
            ["kx.mod:10", "states"],
        ),  # fmt: skip
    }
    for label, (text, words) in bad.items():
        add(f"F nmodl: {label}", cls(text), words)
    # nocmodl: "Only one NET_RECEIVE block allowed"
    syn = EXPSYN
    add("F nmodl: NET_RECEIVE given twice", cls(syn + "NET_RECEIVE(w (uS)) { g = g + 2*w }\n"),
        ["kx.mod:9", "NET_RECEIVE"])  # fmt: skip
    # NEURON runs two INITIAL (BREAKPOINT) blocks one after the other (nocmodl's C code
    # has both bodies in order): the same as one block holding both
    split_bp = KX.replace(
        "BREAKPOINT { SOLVE states METHOD cnexp  ik = gbar*n*n*n*n*(v - ek) }",
        "BREAKPOINT { SOLVE states METHOD cnexp }\nBREAKPOINT { ik = gbar*n*n*n*n*(v - ek) }",
    )
    add(
        "F nmodl: BREAKPOINT split in two blocks",
        lambda: (kx_run(split_bp), kx_run(KX)),
        None,
        lambda o: np.array_equal(o[0], o[1]),
    )
    split_init = KX.replace(
        "INITIAL { rates(v) n = ninf }", "INITIAL { rates(v) }\nINITIAL { n = ninf }"
    )
    add(
        "F nmodl: INITIAL split in two blocks",
        lambda: (kx_run(split_init), kx_run(KX)),
        None,
        lambda o: np.array_equal(o[0], o[1]),
    )
    # parameters given by the user: outside the file's domain, of the wrong kind
    for label, kw, words in (
        ("gbar = -0.01 (below its <0, 1e9>)", {"gbar": -0.01}, ["gbar", ">= 0", "<0,1e+09>"]),
        ("gbar = NaN", {"gbar": float("nan")}, ["gbar"]),
        ("gbar = 'high'", {"gbar": "high"}, ["gbar"]),
        ("an unknown parameter gnabar", {"gnabar": 0.1}, ["gnabar"]),
        ("gbar of the wrong shape for its region", {"gbar": jnp.ones(3)}, ["gbar", "(3,)"]),
    ):
        add(f"F nmodl: load_mod {label}", lambda kw=kw: kx_run(KX, **kw), words)
    add("F nmodl: an empty string", lambda: mod_class(""), ["source", "empty"])
    add(
        "F nmodl: a path that does not exist",
        lambda: load_mod("/no/such/file.mod"),
        ["/no/such/file.mod"],
    )
    add(
        "F nmodl: gbar given equals the file's default",
        lambda: (kx_run(KX, gbar=0.036), kx_run(KX)),
        None,
        lambda o: np.array_equal(o[0], o[1]),
    )


# ------------------------------------------------------------------------ driver


def probes():
    P = []

    def add(label, fn, words=None, check=None):
        P.append((label, fn, words, check))

    block_probes(add)
    sparse_probes(add)
    poisson_probes(add)
    fit_probes(add)
    reduced_probes(add)
    nmodl_probes(add)
    # the slow tier: the probes measured above ~1 CPU-s (compiling simulations), load ~15
    for label, *_ in P:
        if any(re.search(pat, label) for pat in SLOW_PATTERNS):
            SLOW.add(label)
    return P


SLOW_PATTERNS = (
    r"^A blocks: (?!node_order|a per-compartment g of the)",
    r"^B sparse: (duplicate|padded|gradient|2 x 20000)",
    r"^C poisson: (pooled|one rate per|drive rate 0)",
    r"^D fit",
    r"^F nmodl: (BREAKPOINT split|gbar given equals)",
)


ERRORS = (ValueError, TypeError, FloatingPointError, IndexError, FileNotFoundError)


def verdict(fn, words, check):
    try:
        out = fn()
        jax.block_until_ready(jax.tree.leaves(out, is_leaf=lambda x: isinstance(x, jax.Array)))
    except ERRORS as e:
        msg = str(e)
        if words is None:
            return "UNCLEAR", f"{type(e).__name__}: {msg[:200]}"
        missing = [w for w in words if w.lower() not in msg.lower()]
        if missing:
            return "UNCLEAR", f"{type(e).__name__} lacks {missing}: {msg[:200]}"
        return "clear", f"{type(e).__name__}: {msg[:120]}"
    except Exception as e:  # noqa: BLE001
        return "UNCLEAR", f"{type(e).__name__}: {str(e)[:200]}"
    if words is not None:
        return "SILENT", "ran; should have been refused"
    if check is None:
        return "ok", "ran (checked in the test)"
    try:
        good = bool(check(out))
    except Exception as e:  # noqa: BLE001
        return "SILENT", f"check failed: {type(e).__name__}: {str(e)[:150]}"
    return ("ok", "checked") if good else ("SILENT", "ran; wrong answer")


def main(argv):
    sel = [a for a in argv[1:] if not a.startswith("--")]
    rows = []
    for label, fn, words, check in probes():
        if sel and not any(re.search(s, label) for s in sel):
            continue
        t0 = time.process_time()
        v, note = verdict(fn, words, check)
        cpu = time.process_time() - t0
        rows.append((label, v, note))
        print(f"{v:8s} {cpu:6.1f}s {label:62s} {note}", flush=True)
    counts = {k: sum(r[1] == k for r in rows) for k in ("clear", "ok", "UNCLEAR", "SILENT")}
    print(f"{len(rows)} probes: {counts}")


if __name__ == "__main__":
    main(sys.argv)
