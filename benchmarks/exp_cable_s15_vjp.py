"""(Written against commit e72408e, whose `Cell(..., node_order=...)` session 15 then
removed (the time loop runs in chain-block order internally, `cable._cell.LOOP_ORDER`):
rerun it in a worktree of e72408e, `git worktree add /tmp/e7 e72408e`.)

Experiment (issue 21 item 1, session 15): a hand-written reverse rule for one whole
backward-Euler cable step, against `simulate`'s default (each step replayed and
transposed by JAX).

The rule (`StepVJP`, a `BackwardEuler` whose tree step is an `eqx.filter_custom_vjp`;
run with `recompute_steps() = False`, so the loop stores the rule's residuals per step
instead of the state and a replay):

- forward: the shipped step (`Cell.linearise`, one tree solve, the gates' update),
  plus, per mechanism group, the gate update's diagonal Jacobian columns `∂x⁺/∂V` and
  `∂x⁺/∂x` (one forward-mode JVP with two tangents, sharing the rates' exponentials),
  stored with the new voltages: no replay of the rate code in the backward pass;
- backward: `x̄ = ḡ·∂x⁺/∂x`, `V̄⁺ += put(Σ ḡ·∂x⁺/∂V)`; one transposed tree solve
  `λ = A⁻ᵀ V̄⁺`; the matrix cotangents `−λ δᵀ` on the tree's nonzeros (the matvec's
  VJP at the stored `δ = V⁺ − V`); then JAX's VJP of the linearisation alone (the
  currents, their slopes and the axial terms: no exponentials for HH) for `V̄`, the
  old gates and the cell's parameters; the parameters the gate update reads (kinetic
  ones) by JAX's VJP of the update w.r.t. the cell only (nothing when the
  differentiated leaves are densities: it is dead code then).

Switches (environment, read when the rule is built or traced): `S15_STORE` = `cols` (default:
the new voltages' increment `δ` and the packed columns stored), `delta` (`δ` stored, the
columns recomputed in the backward pass), `none` (nothing but the state: the solve and
the columns recomputed); `S15_JVP` = `vmap` (default: the two columns from one JVP with
two tangents, one primal) or `two` (two JVPs); `S15_COLS=hand`: HH's columns written by
hand (`--cols` sets it per variant); `S15_BARRIER=1`: the columns behind an
`optimization_barrier` before they are packed; `S15_ABLATE` = a comma-separated subset of
`cols` (columns replaced by ones), `solve` (the transposed solve by the diagonal only),
`parts` (no VJP of the currents: the densities' cotangent a take of λ), `nostore` (with
`cols`: the constant columns made in the backward pass, not stored) — ablations,
wrong values, for timing only. `--micro`: the pieces alone in scans over fixed inputs
(their backward's loop-invariant parts are hoisted by XLA: indicative only).

Restricted to what the benchmark is: `BackwardEuler` on a `Cell` without ion pools,
point processes or voltage clamps, and gate updates whose Jacobian w.r.t. the gates is
diagonal (each gate's update reads only itself, as every `cnexp` gate of HH). Exactness
is checked in float64 against JAX's gradient (`--check`).

    python benchmarks/exp_cable_s15_vjp.py --check
    python benchmarks/exp_cable_s15_vjp.py --branches 200 --rounds 5 [--chain-blocks]
        [--stores cols delta none] [--out results/cable_s15_vjp_....json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def build():
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.tree_util as jtu
    import numpy as np

    import neurojax as nj
    from neurojax._gather import apply
    from neurojax.cable import HH
    from neurojax.cable._cell import CellState, _time
    from neurojax.channels import hh
    from neurojax.channels._rates import _SERIES, _even_coeffs
    from neurojax.solvers import BackwardEuler, TreeSolve
    from neurojax.solvers._linear_solve import TreeOperator

    def _parts(cell, t, y, inputs, dt):
        """BackwardEuler's step matrix and right side: `(d, lower, upper, rhs)`."""
        lin = cell.linearise(t, y, inputs, dt)
        m = lin.operator
        w = jnp.where(jnp.asarray(~np.asarray(lin.algebraic)), jnp.asarray(1.0, y.v.dtype), 1.0)
        return (
            lin.capacitance / dt + w * m.diagonal,
            w * m.lower,
            w[..., m.topology.parent_or_root] * m.upper,
            lin.rhs,
        )

    def _update(cell, vnew, gates, dt, t):
        """Every group's gate update at `vnew` (what `Cell._update_gates` does, no pool)."""
        geo = cell.geometry
        out = [None] * len(cell.mechanisms)
        for grp in geo.groups:
            ch = cell._merged(grp)
            g = ch.update(apply(grp.take, vnew), grp.join(gates, vnew.shape[:-1]), dt,
                          cell.temperature, **_time(ch, t))  # fmt: skip
            for m, gm in zip(grp.members, grp.split(g), strict=True):
                out[m] = gm
        return tuple(out)

    ablate = set(os.environ.get("S15_ABLATE", "").split(","))

    @eqx.filter_custom_vjp
    def step(cy, t, inputs, dt):
        cell, y = cy
        return BackwardEuler()._tree_step(cell, t, y, inputs, dt)

    store = os.environ.get("S15_STORE", "cols")  # residuals: cols | delta | none

    def _columns(cell, v1, y, t, dt):
        """The new gates and, per group, the update's diagonal columns `(∂x⁺/∂V, ∂x⁺/∂x)`."""
        geo = cell.geometry
        cols = []
        out = [None] * len(cell.mechanisms)
        for grp in geo.groups:
            ch = cell._merged(grp)
            vr = apply(grp.take, v1)
            gates = grp.join(y.gates, v1.shape[:-1])

            def upd(u, g, ch=ch):
                return ch.update(u, g, dt, cell.temperature, **_time(ch, t + dt))

            ones = jtu.tree_map(jnp.ones_like, gates)
            zeros = jtu.tree_map(jnp.zeros_like, gates)
            if os.environ.get("S15_JVP", "vmap") == "vmap":  # one primal, two tangents
                tv = jnp.stack([jnp.ones_like(vr), jnp.zeros_like(vr)])
                tg = jtu.tree_map(lambda o, z: jnp.stack([z, o]), ones, zeros)
                g_new, tan = jax.vmap(
                    lambda a, b, vr=vr, gates=gates, upd=upd: jax.jvp(upd, (vr, gates), (a, b)),
                    out_axes=(None, 0),
                )(tv, tg)
                dv = jtu.tree_map(lambda x: x[0], tan)
                dx = jtu.tree_map(lambda x: x[1], tan)
            else:
                g_new, dv = jax.jvp(upd, (vr, gates), (jnp.ones_like(vr), zeros))
                _, dx = jax.jvp(upd, (vr, gates), (jnp.zeros_like(vr), ones))
            if os.environ.get("S15_COLS") == "hand" and type(ch) is HH:
                g_new = upd(vr, gates)  # the primal as shipped; columns by hand
                dv, dx = _hh_columns(vr, gates, dt, cell.temperature)
            if "cols" in ablate:  # an ablation: wrong values, for timing only
                dv, dx = ones, ones
            cols.append((dv, dx))
            for m, gm in zip(grp.members, grp.split(g_new), strict=True):
                out[m] = gm
        return tuple(out), cols

    def _vtrap_slope(z, b):
        """`b'(z)` of `b(z) = z/(eᶻ − 1)` given `b`: the closed form `b(1 − b)/z − b`
        at |z| ≥ 0.5, the derivative of vtrap's own series below."""
        small = jnp.abs(z) < _SERIES
        zs = jnp.where(small, 1.0, z)
        z2 = z * z
        e, de = 0.0, 0.0
        for c in reversed(_even_coeffs(jnp.result_type(z))):  # Horner, value and slope
            de = de * z2 + e
            e = e * z2 + c
        series = -0.5 + 2.0 * z * e + 2.0 * z * z2 * de
        return jnp.where(small, series, b * (1.0 - b) / zs - b)

    def _hh_columns(v, gates, dt, temperature):
        """HH's exponential gate update's columns by hand: with `s = α + β`,
        `x∞ = α/s`, `e = exp(−dt·φ·s)`: `∂x⁺/∂x = e`, `∂x⁺/∂V = x∞'(1 − e) −
        (x − x∞)·e·dt·φ·s'`, `x∞' = (α' − x∞ s')/s`; the rates' slopes from their own
        values (exponentials: `−β/18`, …; `β_h(1 − β_h)/10`; vtrap's `b'`)."""
        phi = hh.q10(temperature)
        am, bm, ah, bh, an, bn = hh.rates(v)
        zm, zn = -(v + 40.0) / 10.0, -(v + 55.0) / 10.0
        slopes = (
            (-0.1 * _vtrap_slope(zm, am), -bm / 18.0),  # α_m = 0.1·vtrap(−(V+40), 10) = b(z_m)
            (-ah / 20.0, bh * (1.0 - bh) / 10.0),
            (-0.01 * _vtrap_slope(zn, 10.0 * an), -bn / 80.0),  # α_n = 0.1·b(z_n)
        )
        dv, dx = [], []
        for x, (a, b), (da, db) in zip(gates, ((am, bm), (ah, bh), (an, bn)), slopes,
                                       strict=True):  # fmt: skip
            s = a + b
            r = 1.0 / s
            xi = a * r
            e = jnp.exp(-dt * (phi * s))
            ds = da + db
            dv.append((da - xi * ds) * r * (1.0 - e) - (x - xi) * e * (dt * phi * ds))
            dx.append(e)
        return type(gates)(*dv), type(gates)(*dx)

    def _pack(cols):  # one (2·gates, compartments) array per group
        return tuple(jnp.stack(jtu.tree_leaves(dv) + jtu.tree_leaves(dx), axis=-2)
                     for dv, dx in cols)  # fmt: skip

    def _unpack(cell, y, packed):
        cols = []
        for grp, c in zip(cell.geometry.groups, packed, strict=True):
            td = jtu.tree_structure(grp.join(y.gates, y.v.shape[:-1]))
            k = td.num_leaves
            cols.append((jtu.tree_unflatten(td, [c[..., i, :] for i in range(k)]),
                         jtu.tree_unflatten(td, [c[..., k + i, :] for i in range(k)])))  # fmt: skip
        return cols

    def step_fwd(perturbed, cy, t, inputs, dt):
        cell, y = cy
        geo = cell.geometry
        d, lo, up, rhs = _parts(cell, t, y, inputs, dt)
        delta = TreeSolve().solve(TreeOperator(geo.disc.topology, d, lo, up), rhs)
        v1 = y.v + delta
        gates, cols = _columns(cell, v1, y, t, dt)
        if os.environ.get("S15_BARRIER") == "1":  # the columns and new gates materialised
            gates, cols = jax.lax.optimization_barrier((gates, cols))
        y1 = CellState(v=v1, gates=gates, ions={}, points=())
        res = {"cols": (delta, _pack(cols)), "delta": (delta,), "none": ()}[store]
        if "nostore" in ablate:  # an ablation: the columns (ones) made in the backward pass
            res = (delta,)
        return y1, res

    def step_bwd(res, ct, perturbed, cy, t, inputs, dt):
        cell, y = cy
        geo = cell.geometry
        topo = geo.disc.topology
        pc, py = perturbed
        cdiff, cstat = eqx.partition(cell, pc)
        ydiff, ystat = eqx.partition(y, py)
        (d, lo, up, rhs), parts_vjp = jax.vjp(
            lambda c, yy: _parts(eqx.combine(c, cstat), t, eqx.combine(yy, ystat), inputs, dt),
            cdiff,
            ydiff,
        )
        if store == "none":  # the solve replayed
            delta = TreeSolve().solve(TreeOperator(topo, d, lo, up), rhs)
        else:
            delta = res[0]
        v1 = y.v + delta
        if "nostore" in ablate:
            cols = [(jtu.tree_map(jnp.ones_like, g), jtu.tree_map(jnp.ones_like, g))
                    for g in (grp.join(y.gates, v1.shape[:-1]) for grp in geo.groups)]  # fmt: skip
        elif store == "cols":
            cols = _unpack(cell, y, res[1])
        else:  # the columns recomputed (the rates' JVP, no transpose)
            cols = _columns(cell, v1, y, t, dt)[1]
        vbar1 = ct.v if ct.v is not None else jnp.zeros_like(v1)
        gbar_old = [None] * len(cell.mechanisms)
        gbar_new = []
        for grp, (dv, dx) in zip(geo.groups, cols, strict=True):
            gct = grp.join(tuple(ct.gates), v1.shape[:-1]) if ct.gates is not None else None
            gct = jtu.tree_map(lambda a, b: jnp.zeros_like(b) if a is None else a, gct, dv,
                               is_leaf=lambda a: a is None)  # fmt: skip
            gbar_new.append(gct)
            vr_bar = sum(jtu.tree_leaves(jtu.tree_map(jnp.multiply, gct, dv)))
            put = jax.linear_transpose(lambda u, grp=grp: apply(grp.take, u), v1)
            vbar1 = vbar1 + put(vr_bar)[0]
            xb = jtu.tree_map(jnp.multiply, gct, dx)
            for m, xm in zip(grp.members, grp.split(xb), strict=True):
                gbar_old[m] = xm
        # the parameters the gate updates read (none among HH's densities: dead code)
        # (w.r.t. the differentiated leaves only: `perturbed`)
        _, upd_vjp = jax.vjp(
            lambda c: _update(eqx.combine(c, cstat), v1, y.gates, dt, t + dt), cdiff
        )
        (cbar_u,) = upd_vjp(tuple(_split_all(geo, gbar_new, cell)))
        # the voltage solve, transposed
        lam = TreeSolve().solve(TreeOperator(topo, d, up, lo), vbar1)
        if "solve" in ablate:  # an ablation: wrong values, for timing only
            lam = vbar1 / d
        if "parts" in ablate:  # an ablation (wrong values, timing only): no currents' VJP,
            # the densities' cotangent a take of λ (so that nothing is dead code)
            take = geo.groups[0].take
            cbar = jtu.tree_map(
                lambda a: apply(take, lam).astype(a.dtype) if a.shape == (take.n_out,)
                else jnp.zeros_like(a), cdiff)  # fmt: skip
            return cbar, CellState(v=lam + vbar1, gates=tuple(gbar_old), ions=y.ions,
                                   points=y.points)  # fmt: skip
        _, mv_vjp = jax.vjp(lambda a, b, c: TreeOperator(topo, a, b, c).mv(delta), d, lo, up)
        dbar, lobar, upbar = mv_vjp(-lam)
        cbar, ybar = parts_vjp((dbar, lobar, upbar, lam))
        gates = tuple(
            jtu.tree_map(jnp.add, a, b) for a, b in zip(ybar.gates, gbar_old, strict=True)
        )
        ybar = CellState(v=ybar.v + vbar1, gates=gates, ions=ybar.ions, points=ybar.points)
        # (a state leaf not differentiated gets its cotangent dropped by equinox)
        cbar = jtu.tree_map(
            lambda a, b: a if b is None else (b if a is None else a + b),
            cbar,
            cbar_u,
            is_leaf=lambda a: a is None,
        )
        return cbar, ybar

    step.def_fwd(step_fwd)
    step.def_bwd(step_bwd)

    def _split_all(geo, per_group, cell):
        out = [None] * len(cell.mechanisms)
        for grp, g in zip(geo.groups, per_group, strict=True):
            for m, gm in zip(grp.members, grp.split(g), strict=True):
                out[m] = gm
        return out

    class StepVJP(BackwardEuler):
        def step(self, model, t, y, inputs, dt):
            geo = model.geometry
            if geo.ions.any or model.point_processes or len(geo.vclamps):
                raise NotImplementedError("StepVJP: no ion pools, point processes, vclamps")
            return step((model, y), t, inputs, dt)

    class NoReplay(nj.CheckpointAdjoint):
        def recompute_steps(self) -> bool:
            return False

    build.parts = (step, step_fwd, step_bwd)
    build.hh = _hh_columns
    return StepVJP, NoReplay


def _cpu():
    return time.process_time()  # every thread of the process, ns resolution


def check():
    """float64: the rule's gradient against JAX's, on a small tree with spikes."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from bench_cable import tree_spec

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology

    StepVJP, NoReplay = build()
    nb = 7
    morph = Morphology([Branch(L, d, parent=q, nseg=4) for L, d, q in tree_spec(nb)])
    n_steps = 800
    stim = jnp.where((jnp.arange(n_steps) * 0.025 > 2.0), 0.5, 0.0)[:, None]
    for order in ("tree", "chain_blocks"):
        cell0 = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)], node_order=order)
        of_branch = cell0.discretisation.branch[cell0.regions[0]]

        def loss(p, solver, adjoint, order=order, of_branch=of_branch):
            g_na, g_k, ra = p
            c = Cell(morph, [(HH(g_na=g_na[of_branch], g_k=g_k), None)], ra=ra,
                     clamps=[(0, 0.5)], node_order=order)  # fmt: skip
            sol = nj.simulate(c, stim, dt=0.025, solver=solver, adjoint=adjoint)
            return jnp.mean(sol.states.v[:, 0] ** 2) + jnp.mean(sol.states.gates[0].m)

        p = (jnp.full((nb,), 120.0), jnp.asarray(36.0), jnp.asarray(35.4))
        ref = jax.grad(loss)(p, nj.solvers.BackwardEuler(), nj.CheckpointAdjoint())
        got = jax.grad(loss)(p, StepVJP(), NoReplay())
        scale = max(float(jnp.max(jnp.abs(x))) for x in jax.tree_util.tree_leaves(ref))
        leaves = zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(got), strict=True)
        err = max(float(jnp.max(jnp.abs(a - b))) for a, b in leaves)
        # central difference in ra (float64; step 1e-4 relative: truncation ~h² ≈ 1e-8,
        # rounding ~eps/h ≈ 1e-12 of the loss)
        h = 1e-4 * 35.4
        be, cp = nj.solvers.BackwardEuler(), nj.CheckpointAdjoint()
        fd = (loss((p[0], p[1], p[2] + h), be, cp) - loss((p[0], p[1], p[2] - h), be, cp)) / (2 * h)
        print(
            f"{order}: d loss / d ra: rule {float(got[2]):.10g}, central difference "
            f"{float(fd):.10g} (relative {abs(float(got[2] - fd) / float(fd)):.1e})"
        )
        v = nj.simulate(cell0, stim, dt=0.025, solver=nj.solvers.BackwardEuler()).states.v
        print(f"{order}: max |grad diff| / max |grad| = {err / scale:.2e} (scale {scale:.3g}),"
              f" soma V max {float(v[:, 0].max()):.1f} mV")  # fmt: skip


def micro(nb, n=8000, order="tree"):
    """µs per step of the pieces, each in a scan of `n` steps over fixed inputs (CPU)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.tree_util as jtu
    from bench_cable import NSEG, tree_spec

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology

    build()
    step, step_fwd, step_bwd = build.parts
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(nb)])
    cell = Cell(morph, [(HH(g_na=jnp.full(nb * NSEG + 0, 120.0, jnp.float32)), None)],
                ra=35.4, clamps=[(0, 0.5)], node_order=order).prepare_loop()  # fmt: skip
    y0 = jtu.tree_map(lambda a: a.astype(jnp.float32) if eqx.is_inexact_array(a) else a,
                      cell.init_state())  # fmt: skip
    x = jnp.asarray([0.5], jnp.float32)
    dt, t = 0.025, jnp.asarray(1.0, jnp.float32)
    be = nj.solvers.BackwardEuler()
    pc = jtu.tree_map(lambda _: False, cell)
    pc = eqx.tree_at(lambda c: c.mechanisms[0].g_na, pc, True)
    py = jtu.tree_map(eqx.is_inexact_array, y0)
    y1, res = step_fwd((pc, py), (cell, y0), t, x, dt)

    def loop(body, c0):
        return jax.jit(lambda c: jax.lax.scan(lambda c, _: (body(c), None), c, None, length=n)[0])

    def acc(y, r):
        return jtu.tree_map(lambda a: a, y), sum(jnp.sum(a) for a in jtu.tree_leaves(r))

    runs = {
        "forward step": loop(lambda y: be.step(cell, t, y, x, dt), y0),
        "forward + columns": loop(
            lambda c: (lambda o: (o[0], c[1] + sum(jnp.sum(a) for a in jtu.tree_leaves(o[1]))))(
                step_fwd((pc, py), (cell, c[0]), t, x, dt)
            ),
            (y0, 0.0),
        ),
        "backward (rule)": loop(
            lambda ct: step_bwd(res, ct, (pc, py), (cell, y0), t, x, dt)[1], y1
        ),
        "backward (JAX: replay + transpose)": loop(
            lambda ct: jax.vjp(lambda yy: be.step(cell, t, yy, x, dt), y0)[1](ct)[0], y1
        ),
    }
    args = {"forward step": y0, "forward + columns": (y0, jnp.float32(0)),
            "backward (rule)": y1, "backward (JAX: replay + transpose)": y1}  # fmt: skip
    comp = {k: f.lower(args[k]).compile() for k, f in runs.items()}
    times = {k: [] for k in comp}
    for _ in range(5):
        for k, f in comp.items():
            c0 = _cpu()
            jax.block_until_ready(f(args[k]))
            times[k].append((_cpu() - c0) / n * 1e6)
    for k, v in times.items():
        print(f"{k:36s} {statistics.median(v):7.1f} µs/step ({min(v):.1f}-{max(v):.1f})")
    print("load", os.getloadavg())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true")
    p.add_argument("--micro", action="store_true")
    p.add_argument("--branches", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--chain-blocks", action="store_true")
    p.add_argument("--stores", nargs="+", default=["cols", "delta", "none"],
                   help="what the rule stores per step (besides the state)")  # fmt: skip
    p.add_argument("--cols", nargs="+", default=["jax", "hand"],
                   help="the gate columns by JAX's JVP or by hand (HH only)")  # fmt: skip
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.check:
        return check()
    if args.micro:
        return micro(args.branches, order="chain_blocks" if args.chain_blocks else "tree")
    import jax
    import jax.numpy as jnp
    from bench_cable import DT, NSEG, T_STOP, stimulus, tree_spec

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology

    rules = {}
    for st in args.stores:
        os.environ["S15_STORE"] = st
        rules[st] = build()
    nb = args.branches
    order = "chain_blocks" if args.chain_blocks else "tree"
    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(nb)])
    cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)], node_order=order)
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    of_branch = cell.discretisation.branch[cell.regions[0]]
    g_na = jnp.full((nb,), 120.0, jnp.float32)
    be = nj.solvers.BackwardEuler()

    def fwd(g):
        c = Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)],
                 node_order=order)  # fmt: skip
        return nj.simulate(c, stim, dt=DT, solver=be, saveat=rec).states

    def loss_of(solver, adjoint):
        def loss(g):
            c = Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)],
                     node_order=order)  # fmt: skip
            return jnp.mean(nj.simulate(c, stim, dt=DT, solver=solver, saveat=rec,
                                        adjoint=adjoint).states)  # fmt: skip

        return loss

    variants = {
        "forward": jax.jit(fwd),
        "grad-shipped": jax.jit(jax.grad(loss_of(be, nj.CheckpointAdjoint()))),
        **{
            f"grad-rule-{st}" + ("" if c == "jax" else f"-{c}"): jax.jit(
                jax.grad(loss_of(r[0](), r[1]()))
            )
            for st, r in rules.items()
            for c in args.cols
        },
    }
    compiled, compile_s, temp_mb = {}, {}, {}
    for name, f in variants.items():
        os.environ["S15_COLS"] = "hand" if name.endswith("-hand") else "jax"  # read when traced
        c0 = _cpu()
        compiled[name] = f.lower(g_na).compile()
        compile_s[name] = _cpu() - c0
        mem = compiled[name].memory_analysis()
        temp_mb[name] = None if mem is None else mem.temp_size_in_bytes / 2**20
        jax.block_until_ready(compiled[name](g_na))
    a = compiled["grad-shipped"](g_na)
    rel = {k: float(jnp.max(jnp.abs(a - f(g_na))) / jnp.max(jnp.abs(a)))
           for k, f in compiled.items() if k.startswith("grad-rule")}  # fmt: skip
    times = {k: [] for k in variants}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, f in compiled.items():
            c0 = _cpu()
            jax.block_until_ready(f(g_na))
            times[name].append(_cpu() - c0)
        load.append(os.getloadavg()[0])
    fw = times["forward"]
    out = {
        "branches": nb,
        "node_order": order,
        "rounds": args.rounds,
        "load": load,
        "cpu_s": times,
        "compile_cpu_s": compile_s,
        "xla_temp_mib": temp_mb,
        "float32_grad_rel_diff": rel,
        "ratio_per_round": {
            k: [t / f for t, f in zip(v, fw, strict=True)] for k, v in times.items()
        },
    }
    for k, v in times.items():
        r = out["ratio_per_round"][k]
        print(f"{k:16s} median {statistics.median(v):.3f} s  ÷ forward {statistics.median(r):.2f}"
              f" ({min(r):.2f}-{max(r):.2f})  compile {compile_s[k]:.1f} s")  # fmt: skip
    print(f"float32 grad rel diff {rel}; XLA temp MiB {temp_mb}; load {load}")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
