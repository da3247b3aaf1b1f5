"""Experiment (issue 21 item 3, session 14): population gradients ≤ 2× their forward run,
two approaches not tried before.

The case of `bench_gradient.py --population`: HH, N neurons (f–I sweep through a
per-neuron leak reversal `e_l`), 1000 steps of 0.025 ms, float32, `Staggered` (HH's
default) or `ExponentialEuler`, `SaveAt(every=10, vars=("v",))`, loss `mean(V²)`, the
gradient w.r.t. every parameter of the model; `--lif`: the LIF population (per-neuron
`v_rest`, exponential Euler, dt 0.1 ms).

Variants (each a `jax.grad` of the same loss, compiled once):

- `shipped`: `jax.grad` through `simulate` as it is (each step `jax.checkpoint`ed: the
  state stored per step, the step replayed and transposed in the backward pass).
- `fwdsens` (approach 1, forward sensitivities of an uncoupled population): every
  parameter leaf is broadcast to shape (N,); since the neurons do not interact, the
  Jacobian of the saved V w.r.t. each leaf is diagonal in the neuron index, so one
  forward-mode tangent per *leaf* (seeded with ones) gives every neuron's sensitivity at
  once. A `jax.custom_vjp` around the run: its fwd runs `simulate(...,
  adjoint=ForwardMode())` under `jax.jvp`, `vmap`ped over the K tangents (the primal
  once, unbatched), and keeps the tangents of the saved V, (K, n_saved, N); its bwd is
  the contraction `g_k[i] = Σ_t ct[t, i] · tangent_k[t, i]`; a scalar leaf's gradient
  is the sum over i (the broadcast's transpose, outside the custom_vjp). Leaves that
  cannot reach the saved V (HH's `v_th`: spike detection only) are found once by a
  dead-code pass over the JVP's jaxpr (`_live_leaves`) and get no tangent and a zero
  gradient. Exact for any loss of the saved outputs; memory K·n_saved·N, nothing per
  step.
- `tangents-k` (`--tangents`): `fwdsens` restricted to the first k live leaves (the
  others get no gradient): the cost per tangent.
- `blocked-B` (approach 2, general loss): a `jax.custom_vjp` whose fwd is the plain
  forward run and whose bwd is `lax.map` over blocks of B neurons, each block's run
  differentiated *without* per-step checkpointing (every intermediate stored, no replay
  of a step: `StoreAll` below) and immediately transposed, so the block's stored
  intermediates (~170 B per neuron-step, B·1000 steps) can stay in L2/L3. The forward
  run is done twice (once for the loss's cotangent, once per block with its stores).
- `blocked-sep-B` (approach 2, a loss separable over neurons, here `mean(V²)`): the
  same blocks, but each block's value and gradient of its share of the loss at once, so
  the forward is run once, with its stores (the floor of approach 2; an API for it
  would take a per-neuron loss, not any loss of the saved outputs).

`--check` (float64, small N): every variant against `shipped` and a central difference.

Timing: one process, every variant compiled once, then `--rounds` rounds, each timing
every variant in turn right after a forward run (`simulate`, not differentiated; each
timed call after an untimed one), process CPU time: the median over rounds of each
variant's time and of its ratio to the forward run timed just before it; ranges too.

    python benchmarks/exp_pop_grad_s14.py --check
    python benchmarks/exp_pop_grad_s14.py --n 1000 --solver Staggered --blocks 64 256
    python benchmarks/exp_pop_grad_s14.py --n 1000 --tangents 1 3 6
    python benchmarks/exp_pop_grad_s14.py --n 1000 --lif

`--hand` (approach 1c and 2 on `exp_hh_hand_adjoint.py`'s model: HH written out,
exponential Euler, 4 per-neuron parameters g_Na, g_K, g_L, E_L): `hand-fwdsens` carries 4
tangents through each step's hand-written partials (computed from the step's own
exponentials, applied at once, never stored); `hand-adjoint-blocks-B` runs that file's
hand-written adjoint (12 partials stored per neuron-step) block by block.

Measured 2026-12-07 19:05–20:00 UTC, shared 2-core VM (AMD EPYC, AVX-512, L2 1 MB per
core, L3 32 MB) under other sessions' jobs, load average 11–18.7; jax 0.10.2; CPU time
of the process; median over 5 rounds (3 at 10⁴ HH) of each variant's time ÷ the forward
run timed just before it, [range over rounds]; `results/pop_grad_s14_*.json`.

The tables are in `results/pop_grad_s14.md`. In short (ratios to the forward run): HH
10³ `Staggered` shipped 5.15×, `fwdsens` 8.0×; HH 10⁴ 9.0× and 17.3×; LIF 10⁴ 19.2× and
15.7×; the hand model (4 parameters) autodiff 6.0× (10³) and 3.7–3.9× (10⁴),
`hand-fwdsens` 2.3–2.5× at both sizes.

Exactness (float64, `--check`): `fwdsens` within 3–4.5e-15 of `shipped` (largest
difference ÷ largest entry, per leaf; HH `Staggered`, `ExponentialEuler`, LIF),
`fwdsens-jac` 1.5–1.7e-13, `blocked-16` 1.6e-13, `blocked-sep-16` 9e-16; every HH
parameter (and one neuron's `e_l`) against a central difference to 1e-8 relative or
better. LIF's `v_th`, `tau`, `r` differ from their central differences for every method
alike (the pathwise derivative of a hard reset misses the spike-time jumps the central
difference sees); `v_reset` and `v_rest` agree to 1e-9. `hand-fwdsens` within 7.4e-12 of
autodiff, the blocked hand adjoint 1.2e-11. In float32 `hand-fwdsens` and autodiff
differ by 2–10 % (10³) and up to 140 % (10⁴) of the largest entry, but against the
float64 gradient both float32 gradients are off by the same 1–8 % (`--f32-vs-f64`,
10³): the rounding sensitivity of spiking neurons near threshold, not the method's.

What this says:

1. Forward sensitivities are exact and need nothing per step, but through JAX's JVP each
   tangent costs 0.65× a forward run (HH 10³: (22.8 − 12.4) ms / 3 tangents) and 1.9×
   at 10⁴ (the (K, N) tangents, 1.4 MB for 9 leaves, leave L2): a tangent replays the
   step's whole linearised graph (rates, `vtrap`, `φ₁`), which is not much cheaper than
   the step. With HH's 9 live leaves that is 8× (10³) and 17× (10⁴) against the shipped
   5× and 9×. The primal with one tangent is 2.0–2.4×. Dead leaves cost nothing (`v_th`,
   LIF's `t_ref` found by the dead-code pass and skipped). LIF: 9–16× against 10–19×,
   the only case where it is (slightly) ahead. Forming each step's per-neuron Jacobian
   explicitly (`fwdsens-jac`: one JVP per state variable and per leaf, each with
   symbolic zeros elsewhere, then ~10 multiply-adds per tangent) is worse still (21×):
   the separate JVPs are not merged back into one pass.
2. With the linearisation in compact form (hand-written partials from the step's own
   exponentials) 4 tangents cost 2.3–2.5× the forward run at 10³ and 2.4× at 10⁴,
   against 6.0× and 3.7× for the same model's checkpointed autodiff: 1.5–2.6× faster
   than the shipped design, at about 0.3× a forward run per tangent (8 tangents 3.7×).
   For the library's HH with 9 live leaves that extrapolates to ~4×: at best level with
   the shipped 4.4–5.5× at 10³. ≤ 2× would need ≤ ~3 parameters.
3. Blocks of neurons with every intermediate stored (approach 2) do not help: XLA's
   stacking of a scan's residuals is what costs (39–54× at 10³ whatever the block,
   as `store-all` was 25× unblocked), and the hand-written adjoint's 12 stored partials
   per neuron-step give 7.1× in blocks of 100 (2.4 MB per block's run, in L3) against
   7.3× for all 10³ at once (48 MB) and 19.5× in blocks of 20 (the per-step overhead of
   a 20-wide loop): where the stored data sit is not what makes storing slow. At 10⁴ the
   hand adjoint in blocks of 1000 is 2.89× against 4.78× unblocked and 3.93× for
   autodiff. A block of 1000 stores 48 MB, more than L3, so it is not the stored
   partials that now fit: it is each step's working set (a 1000-wide step's ~30
   temporaries of 4 kB stay in L1/L2, 10⁴-wide ones do not; the 10⁴ forward run itself
   costs 16× the 10³ one here, the reason `_population_block` blocks forward runs).
   For the library's checkpointed gradient, blocks of 1000 at 10⁴ were measured in
   session 13 (`exp_population_gradient_vjp.py`, `blocks-1000`: 7.0× against 6.8×) and
   did not help.

Proposal (not applied; the win is only there for hand-written linearisations of few
parameters): an adjoint `PopulationSensitivities()` in `_adjoint.py`
(`recompute_steps() = False`). `simulate` would accept it only for an uncoupled
point-neuron population, by the same test `_population_block` applies (an `Elementwise`
model with `population_shape`, a 1-D population, every parameter, input and state leaf
shared or shaped like the population, no `key`, no `SaveAt.fn`), and raise a ValueError
naming `CheckpointAdjoint()` for networks, cells and the rest. Inside `_integrate`,
after `_broadcast_parameters` (every inexact leaf widened to (N,)), a `jax.custom_vjp`
over the widened leaves would wrap `_loop`: fwd = the loop carrying one tangent per live
leaf (the dead-code pass of `_live_leaves`, once per trace) and saving the tangents of
what `SaveAt` keeps (K × n_saved × N per saved variable), bwd = the contraction, the
broadcasts' transposes outside summing the scalar leaves. Derivatives w.r.t. inputs,
`state0`, `dt`, `t0` would raise (they are not diagonal in the neuron index per leaf).
The tangent step would come from an optional `AbstractSolver.linearised_step(model, t,
y, x, dt) -> (y_new, per-neuron state partials, per-leaf parameter partials)`,
hand-written for HH × {`ExponentialEuler`, `Staggered`}; without it, the generic JVP
(this file's `fwdsens`) is slower than the shipped gradient and should not be offered.
The shipped per-step-checkpointed reverse mode stays the default for everything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--solver", default="Staggered", choices=["Staggered", "ExponentialEuler"])
    p.add_argument("--lif", action="store_true", help="the LIF population instead of HH")
    p.add_argument("--only", nargs="+", default=["shipped", "fwdsens"])
    p.add_argument("--blocks", nargs="*", type=int, default=[])
    p.add_argument("--sep-blocks", nargs="*", type=int, default=[])
    p.add_argument("--tangents", nargs="*", type=int, default=[])
    p.add_argument("--jac-tangents", nargs="*", type=int, default=[])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--check", action="store_true", help="exactness in float64")
    p.add_argument("--hand", action="store_true", help="approach 1 with hand-written partials")
    p.add_argument("--hand-reps", type=int, default=1, help="--hand: tangents repeated")
    p.add_argument("--f32-vs-f64", action="store_true", help="--hand: float32 against float64")
    p.add_argument("--out", default=None, help="results/<name>.json")
    return p.parse_args(argv)


def build(args):
    """The model, the loss and every variant's loss function."""
    import _common as C
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.tree_util as jtu
    import numpy as np
    from jax import lax
    from jax._src.interpreters import partial_eval as pe

    import neurojax as nj

    dtype = jnp.float64 if args.check else jnp.float32
    n = args.n
    if args.lif:
        model = nj.LIF(v_rest=np.asarray(C.lif_v_rest(n), np.float64))
        x = jnp.full((args.steps,), C.LIF_I0, dtype)
        dt, solver = C.LIF_DT, nj.solvers.default_solver(model)
    else:
        model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), np.float64))
        x = jnp.full((args.steps,), C.HH_I0, dtype)
        dt, solver = C.HH_DT, getattr(nj, args.solver)()
    model = jtu.tree_map(lambda a: jnp.asarray(a, dtype) if eqx.is_inexact_array(a) else a, model)
    saveat = nj.SaveAt(every=10, vars=("v",))

    def run_v(m, adjoint=nj.CheckpointAdjoint(), inputs=x):
        return nj.simulate(m, inputs, dt=dt, solver=solver, saveat=saveat, adjoint=adjoint).v

    def loss_of(vs):
        return jnp.mean(vs**2)

    def loss_shipped(m):
        return loss_of(run_v(m))

    def widen(m, size=n):
        return jtu.tree_map(
            lambda a: jnp.broadcast_to(a, (size,)) if eqx.is_inexact_array(a) else a, m
        )

    params0, rest = eqx.partition(widen(model), eqx.is_inexact_array)
    leaves0, treedef = jtu.tree_flatten(params0)
    names = [jtu.keystr(p) for p, _ in jtu.tree_flatten_with_path(params0)[0]]

    def model_of(leaves):
        return eqx.combine(jtu.tree_unflatten(treedef, list(leaves)), rest)

    # ---- approach 1: forward sensitivities -------------------------------------------
    def _live_leaves():
        """Indices of the leaves whose tangent reaches the saved V (a dead-code pass over
        the jaxpr of a JVP seeded in that leaf alone)."""
        live = []
        for j in range(len(leaves0)):

            def tangent_out(t, j=j):
                def g(pj):
                    ls = list(leaves0)
                    ls[j] = pj
                    return run_v(model_of(ls), nj.ForwardMode())

                return jax.jvp(g, (leaves0[j],), (t,))[1]

            closed = jax.make_jaxpr(tangent_out)(jnp.ones_like(leaves0[j]))
            _, used = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
            if used[0]:
                live.append(j)
        return live

    live = _live_leaves()

    def make_fwdsens(which):
        which = tuple(which)

        @jax.custom_vjp
        def run(leaves):
            return run_v(model_of(leaves))

        def run_fwd(leaves):
            fixed = list(leaves)

            def of_live(live_leaves):
                ls = list(fixed)
                for j, leaf in zip(which, live_leaves, strict=True):
                    ls[j] = leaf
                return run_v(model_of(ls), nj.ForwardMode())

            k = len(which)
            seeds = tuple(
                jnp.zeros((k, n), dtype).at[i].set(1.0) for i in range(k)
            )  # tangent i of leaf which[j]: ones where i == j

            def push(t):
                return jax.jvp(of_live, (tuple(leaves[j] for j in which),), (t,))

            vs, tangents = jax.vmap(push, out_axes=(None, 0))(seeds)
            return vs, tangents  # (n_saved, N), (K, n_saved, N)

        def run_bwd(tangents, ct):
            g = jnp.einsum("tn,ktn->kn", ct, tangents)
            out = [jnp.zeros_like(leaf) for leaf in leaves0]
            for i, j in enumerate(which):
                out[j] = g[i]
            return (tuple(out),)

        run.defvjp(run_fwd, run_bwd)

        def loss(m):
            leaves = tuple(jtu.tree_leaves(eqx.filter(widen(m), eqx.is_inexact_array)))
            return loss_of(run(leaves))

        return loss

    # ---- approach 1b: the same sensitivities through each step's explicit, sparse
    # per-neuron Jacobian -----------------------------------------------------------
    import neurojax._simulate as S
    from neurojax._model import StepInfo

    state0 = S._model_state(model_of(leaves0), (n,))
    st_leaves0, st_def = jtu.tree_flatten((state0.y, state0.z))
    if any(not eqx.is_inexact_array(a) or a.shape != (n,) for a in st_leaves0):
        raise SystemExit("fwdsens-jac: every state leaf must be a float array of shape (N,)")
    n_state = len(st_leaves0)
    v_index = 0  # the first leaf of y is v (HHState, LIFState)
    dt_ = jnp.asarray(dt, dtype)
    every = 10

    def full_step(pl, sl, i, xi):
        m = model_of(pl).prepare_loop()
        y, z = jtu.tree_unflatten(st_def, list(sl))
        t = i.astype(dtype) * dt_
        y_new = solver.step(m, t, y, xi, dt_)
        y_new, z_new, _ = m.event_step(StepInfo(i, t, dt_, None), y, y_new, z, xi)
        return tuple(jtu.tree_leaves((y_new, z_new)))

    def seeded(fn, primals, j):
        """JVP of fn w.r.t. primals[j] alone (a ones seed), the others held fixed."""

        def g(a):
            ps = list(primals)
            ps[j] = a
            return fn(ps)

        return jax.jvp(g, (primals[j],), (jnp.ones_like(primals[j]),))

    def pattern(fn, primals, j):
        """Which outputs of fn the input j reaches (dead-code pass over the JVP)."""
        closed = jax.make_jaxpr(lambda t: jax.jvp(
            lambda a: fn([*primals[:j], a, *primals[j + 1:]]), (primals[j],), (t,))[1]
        )(jnp.ones_like(primals[j]))  # fmt: skip
        out = []
        for o in range(len(closed.jaxpr.outvars)):
            used = [False] * len(closed.jaxpr.outvars)
            used[o] = True
            _, used_in = pe.dce_jaxpr(closed.jaxpr, used)
            out.append(bool(used_in[0]))
        return out

    i0, x0 = jnp.asarray(0, jnp.int32), x[0]
    st_pat = [  # st_pat[s][o]: state s reaches new state o within one step
        pattern(lambda sl: full_step(leaves0, sl, i0, x0), st_leaves0, s) for s in range(n_state)
    ]
    par_pat = {  # par_pat[k][o]: parameter leaf k reaches new state o within one step
        k: pattern(lambda pl: full_step(pl, st_leaves0, i0, x0), leaves0, k) for k in live
    }
    jac_info = {"state_pattern": st_pat, "param_pattern": {names[k]: par_pat[k] for k in live}}

    def make_fwdsens_jac(which):
        which = tuple(which)
        k_n = len(which)

        @jax.custom_vjp
        def run(leaves):
            return run_v(model_of(leaves))

        def run_fwd(leaves):
            leaves = list(leaves)

            def init(pl):
                st = S._model_state(model_of(pl), (n,))
                return tuple(jtu.tree_leaves((st.y, st.z)))

            s0 = init(leaves)
            # initial tangents (n_state arrays of (K, N))
            cols = [seeded(init, leaves, k)[1] for k in which]
            t0 = tuple(jnp.stack([c[s] for c in cols]) for s in range(n_state))

            def one(carry, xi):
                i, sl, tl = carry
                fn_s = lambda s_: full_step(leaves, s_, i, xi)  # noqa: E731
                fn_p = lambda p_: full_step(p_, sl, i, xi)  # noqa: E731
                new = fn_s(list(sl))
                jac = {}
                for s in range(n_state):
                    if any(st_pat[s]):
                        jac[s] = seeded(fn_s, list(sl), s)[1]
                par = {k: seeded(fn_p, leaves, k)[1] for k in which if any(par_pat[k])}
                new_t = []
                for o in range(n_state):
                    acc = None
                    for s in range(n_state):
                        if st_pat[s][o]:
                            term = jac[s][o][None] * tl[s]
                            acc = term if acc is None else acc + term
                    direct = [par[k][o] if par_pat[k][o] else jnp.zeros((n,), dtype) for k in which]
                    if any(par_pat[k][o] for k in which):
                        d = jnp.stack(direct)
                        acc = d if acc is None else acc + d
                    new_t.append(jnp.zeros((k_n, n), dtype) if acc is None else acc)
                return (i + 1, tuple(new), tuple(new_t)), None

            def block(carry, xs):
                carry, _ = lax.scan(one, carry, xs)
                return carry, (carry[1][v_index], carry[2][v_index])

            xs = x.reshape(-1, every)
            carry = (jnp.asarray(0, jnp.int32), s0, t0)
            _, (vs, tv) = lax.scan(block, carry, xs)
            return vs, tv.transpose(1, 0, 2)  # (n_saved, N), (K, n_saved, N)

        def run_bwd(tangents, ct):
            g = jnp.einsum("tn,ktn->kn", ct, tangents)
            out = [jnp.zeros_like(leaf) for leaf in leaves0]
            for i, j in enumerate(which):
                out[j] = g[i]
            return (tuple(out),)

        run.defvjp(run_fwd, run_bwd)

        def loss(m):
            leaves = tuple(jtu.tree_leaves(eqx.filter(widen(m), eqx.is_inexact_array)))
            return loss_of(run(leaves))

        return loss

    # ---- approach 2: blocks of neurons, every intermediate stored --------------------
    class StoreAll(nj.AbstractAdjoint):
        """Reverse mode storing every intermediate of every step (no per-step
        checkpoint, no replay): what a block small enough for the caches can afford."""

        def recompute_steps(self) -> bool:
            return False

    def blocks_of(leaves, size):
        return tuple(leaf.reshape(n // size, size) for leaf in leaves)

    def block_model(bleaves, size):
        return eqx.combine(
            jtu.tree_unflatten(treedef, list(bleaves)),
            jtu.tree_map(lambda a: a, rest),
        )

    def make_blocked(size):
        @jax.custom_vjp
        def run(leaves):
            return run_v(model_of(leaves))

        def run_fwd(leaves):
            return run_v(model_of(leaves)), leaves

        def run_bwd(leaves, ct):
            cts = ct.reshape(ct.shape[0], n // size, size).transpose(1, 0, 2)

            def one(args):
                bl, bct = args
                _, vjp = jax.vjp(lambda b: run_v(block_model(b, size), StoreAll()), bl)
                return vjp(bct)[0]

            g = lax.map(one, (blocks_of(leaves, size), cts))
            return (tuple(a.reshape(n) for a in g),)

        run.defvjp(run_fwd, run_bwd)

        def loss(m):
            leaves = tuple(jtu.tree_leaves(eqx.filter(widen(m), eqx.is_inexact_array)))
            return loss_of(run(leaves))

        return loss

    def make_blocked_separable(size):
        """Value and gradient of a separable loss per block (mean(V²) = Σ_blocks
        sum(V_block²) / (n · n_saved)), in one custom_vjp."""
        n_saved = args.steps // 10

        def block_loss(bl):
            vs = run_v(block_model(bl, size), StoreAll())
            return jnp.sum(vs**2) / (n * n_saved)

        @jax.custom_vjp
        def total(leaves):
            return jnp.sum(lax.map(block_loss, blocks_of(leaves, size)))

        def total_fwd(leaves):
            vals, g = lax.map(jax.value_and_grad(block_loss), blocks_of(leaves, size))
            return jnp.sum(vals), tuple(a.reshape(n) for a in g)

        def total_bwd(g, ct):
            return (tuple(ct * a for a in g),)

        total.defvjp(total_fwd, total_bwd)

        def loss(m):
            leaves = tuple(jtu.tree_leaves(eqx.filter(widen(m), eqx.is_inexact_array)))
            return total(leaves)

        return loss

    losses = {}
    if "shipped" in args.only:
        losses["shipped"] = loss_shipped
    if "fwdsens" in args.only:
        losses["fwdsens"] = make_fwdsens(live)
    if "fwdsens-jac" in args.only:
        losses["fwdsens-jac"] = make_fwdsens_jac(live)
    for k in args.tangents:
        losses[f"tangents-{k}"] = make_fwdsens(live[:k])
    for k in args.jac_tangents:
        losses[f"jac-tangents-{k}"] = make_fwdsens_jac(live[:k])
    for b in args.blocks:
        if n % b:
            raise SystemExit(f"--blocks {b} must divide --n {n}")
        losses[f"blocked-{b}"] = make_blocked(b)
    for b in args.sep_blocks:
        if n % b:
            raise SystemExit(f"--sep-blocks {b} must divide --n {n}")
        losses[f"blocked-sep-{b}"] = make_blocked_separable(b)
    info = {"leaves": names, "live": [names[j] for j in live], "jacobian": jac_info}
    return model, loss_shipped, losses, info


def check(args):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.tree_util as jtu

    model, loss_shipped, losses, info = build(args)
    print("leaves", info["leaves"], "live", info["live"])
    ref = jax.jit(jax.grad(loss_shipped))(model)
    ref_leaves = jtu.tree_leaves_with_path(ref)
    out = {"n": args.n, "steps": args.steps, "lif": args.lif, "solver": args.solver, **info}
    for name, fn in losses.items():
        g = jax.jit(jax.grad(fn))(model)
        worst = 0.0
        for (path, r), a in zip(ref_leaves, jtu.tree_leaves(g), strict=True):
            scale = float(jnp.max(jnp.abs(r)))
            err = float(jnp.max(jnp.abs(a - r)))
            rel = err / scale if scale else err
            worst = max(worst, rel)
            if rel > 1e-9:
                print(f"  {name} {jtu.keystr(path)}: |diff| {err:.3e} of {scale:.3e}")
        print(f"{name:<16} largest relative difference from shipped (per leaf): {worst:.2e}")
        out[f"{name}_vs_shipped"] = worst
    # central differences of the loss w.r.t. each scalar leaf and one neuron's e_l/v_rest
    lo = jax.jit(loss_shipped)
    fd = {}
    for path, leaf in jtu.tree_leaves_with_path(model):
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact):
            continue
        idx = () if jnp.ndim(leaf) == 0 else (args.n // 2,)
        eps = 1e-5 * max(1.0, abs(float(leaf[idx])))

        def bump(s, path=path, idx=idx, eps=eps):
            return jtu.tree_map_with_path(
                lambda p, a: a.at[idx].add(s * eps) if p == path else a, model
            )

        cd = float((lo(bump(1)) - lo(bump(-1))) / (2 * eps))
        gs = {}
        for name in ("shipped", *losses):
            gtree = ref if name == "shipped" else jax.jit(jax.grad(losses[name]))(model)
            gs[name] = float(dict(jtu.tree_leaves_with_path(gtree))[path][idx])
        key = f"{jtu.keystr(path)}{list(idx) if idx else ''}"
        fd[key] = {"central_difference": cd, **gs}
        print(f"  {key:<18} central difference {cd: .9e}  " + "  ".join(
            f"{k} {v: .9e}" for k, v in gs.items()))  # fmt: skip
    out["central_differences"] = fd
    return out


def measure(args):
    import jax

    model, loss_shipped, losses, info = build(args)
    forward = jax.jit(loss_shipped).lower(model).compile()
    calls = {"forward": lambda: jax.block_until_ready(forward(model))}
    compile_s = {}
    grads = {}
    for name, fn in losses.items():
        t = time.process_time()
        compiled = jax.jit(jax.grad(fn)).lower(model).compile()
        compile_s[name] = time.process_time() - t
        grads[name] = compiled(model)
        calls[name] = lambda f=compiled: jax.block_until_ready(f(model))

    def timed(call):
        call()  # untimed: caches and freshly mapped memory of the previous call
        t = time.process_time()
        call()
        return time.process_time() - t

    times = {k: [] for k in calls}
    ratios = {k: [] for k in calls}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for k, c in calls.items():
            fwd = timed(calls["forward"])
            t = timed(c)
            times[k].append(t)
            ratios[k].append(t / fwd)
        load.append(os.getloadavg()[0])
    case = "LIF" if args.lif else f"HH {args.solver}"
    print(f"{case} N={args.n}, {args.steps} steps, float32, CPU time, {args.rounds} rounds:")
    rows = {}
    for k in calls:
        rows[k] = {
            "median_ms": statistics.median(times[k]) * 1e3,
            "min_ms": min(times[k]) * 1e3,
            "max_ms": max(times[k]) * 1e3,
            "ratio_median": statistics.median(ratios[k]),
            "ratio_min": min(ratios[k]),
            "ratio_max": max(ratios[k]),
            "compile_cpu_s": compile_s.get(k),
        }
        r = rows[k]
        print(
            f"  {k:<16} {r['median_ms']:9.2f} ms [{r['min_ms']:.2f}, {r['max_ms']:.2f}]  "
            f"{r['ratio_median']:5.2f}× forward [{r['ratio_min']:.2f}, {r['ratio_max']:.2f}]"
            + (f"  compile {compile_s[k]:.1f} CPU-s" if k in compile_s else "")
        )
    print("load average during the rounds", min(load), "-", max(load))
    return {
        "case": case, "n": args.n, "steps": args.steps, "rounds": args.rounds,
        "timing": "process CPU time; each variant right after a forward run; ratios within pairs",
        "load_average_range": [min(load), max(load)], **info, "variants": rows,
    }  # fmt: skip


# ---- approach 1c: forward sensitivities with hand-written partials ---------------------
# The model of `exp_hh_hand_adjoint.py` (HH 1952, squid axon at 6.3 °C, exponential Euler
# on the gates and on V from the same old state; its `step` with `want_partials` computes
# the 12 partials of a step from the step's own exponentials). Here the partials are not
# stored: each step applies them at once to K tangents (one per per-neuron parameter,
# g_Na, g_K, g_L, E_L), ~20 multiply-adds per tangent; the gradient is the contraction of
# the loss's cotangent with the saved V tangents (approach 1, with the linearisation in
# its compact form). Compared with the same model's forward run and its per-step
# checkpointed autodiff gradient (the shipped design), `--hand`.


def hand_main(args):
    import jax

    if args.check:
        jax.config.update("jax_enable_x64", True)
    import exp_hh_hand_adjoint as H
    import jax.numpy as jnp
    import numpy as np

    forward, loss_of, grad_autodiff, grad_hand = H.make(jnp, jax)
    E_NA, E_K, DT, I0, C_M = H.E_NA, H.E_K, H.DT, H.I0, H.C_M

    def vtrap(u, c):
        small = jnp.abs(u) < 1e-3
        us = jnp.where(small, 1.0, u)
        e = jnp.exp(-us / 10.0)
        f = c * us / (1.0 - e)
        df = c / (1.0 - e) - c * us * (e / 10.0) / (1.0 - e) ** 2
        f = jnp.where(small, c * 10.0 * (1.0 + u / 20.0), f)
        df = jnp.where(small, c * 0.5, df)
        return f, df

    def rates(v):
        am, dam = vtrap(v + 40.0, 0.1)
        bm = 4.0 * jnp.exp(-(v + 65.0) / 18.0)
        ah = 0.07 * jnp.exp(-(v + 65.0) / 20.0)
        bh = 1.0 / (1.0 + jnp.exp(-(v + 35.0) / 10.0))
        an, dan = vtrap(v + 55.0, 0.01)
        bn = 0.125 * jnp.exp(-(v + 65.0) / 80.0)
        d = ((dam, -bm / 18.0), (-ah / 20.0, bh * (1.0 - bh) / 10.0), (dan, -bn / 80.0))
        return ((am, bm), (ah, bh), (an, bn)), d

    def y0(n):
        v = jnp.full((n,), -65.0, dtype)
        (ab_m, ab_h, ab_n), _ = rates(v)
        return (v, *(a / (a + b) for a, b in (ab_m, ab_h, ab_n)))

    reps = args.hand_reps

    def grad_fwdsens(p, n, steps, every=10):
        # reps > 1: the 4 tangents repeated `reps` times (the cost per tangent)
        gna, gk, gl, el = p
        zero = jnp.zeros((4 * reps, n), dtype)

        def direct(*rows):
            return jnp.tile(jnp.stack(rows), (reps, 1)) if reps > 1 else jnp.stack(rows)

        def one(carry, _):
            (v, m, h, nn), (tv, tm, th, tn) = carry
            (ab_m, ab_h, ab_n), dd = rates(v)
            new_g, new_t = [], []
            for x, tx, (a, b), (da, db) in zip(
                (m, h, nn), (tm, th, tn), (ab_m, ab_h, ab_n), dd, strict=True
            ):
                s = a + b
                xinf = a / s
                e = jnp.exp(-DT * s)
                new_g.append(xinf + (x - xinf) * e)
                ds = da + db
                dxinf = (da - xinf * ds) / s
                dx_dv = dxinf * (1.0 - e) - (x - xinf) * e * DT * ds
                new_t.append(e * tx + dx_dv * tv)
            m2h = m * m * h
            m3h, n3 = m2h * m, nn * nn * nn
            n4 = n3 * nn
            G = gna * m3h + gk * n4 + gl
            J = gna * m3h * E_NA + gk * n4 * E_K + gl * el + I0
            vinf = J / G
            ev = jnp.exp(-DT * G / C_M)
            v_new = vinf + (v - vinf) * ev
            pG = -(vinf / G) * (1.0 - ev) - (v - vinf) * (DT / C_M) * ev
            pJ = (1.0 - ev) / G
            # tangents of g_Na m³h and g_K n⁴ through the gates, then the direct terms
            d_na = gna * (3.0 * m2h * tm + m * m * m * th)
            d_k = gk * 4.0 * n3 * tn
            dG = d_na + d_k + direct(m3h, n4, jnp.ones_like(m), jnp.zeros_like(m))
            dJ = E_NA * d_na + E_K * d_k + direct(m3h * E_NA, n4 * E_K, el, gl)
            tv_new = ev * tv + pG * dG + pJ * dJ
            return ((v_new, *new_g), (tv_new, *new_t)), None

        def block(carry, _):
            carry, _ = jax.lax.scan(one, carry, None, length=every)
            return carry, (carry[0][0], carry[1][0])

        _, (vs, tv) = jax.lax.scan(block, (y0(n), (zero,) * 4), None, length=steps // every)
        # loss_of(V of every step) = mean(V[9::10]²): the V saved at the block ends
        ct = jax.grad(lambda u: jnp.mean(u**2))(vs)
        return tuple(jnp.einsum("tn,tkn->kn", ct, tv)[:4])

    dtype = jnp.float64 if args.check else jnp.float32
    n, steps = (50, 400) if args.check else (args.n, args.steps)
    p = H.params(jnp, n, dtype)
    f = jax.jit(lambda p: forward(p, n, steps))
    ga = jax.jit(lambda p: grad_autodiff(p, n, steps))

    def gs(p):
        return grad_fwdsens(p, n, steps)

    gsj = jax.jit(gs)

    def grad_hand_blocked(p, size):
        # approach 2 on the hand-written adjoint: each block of `size` neurons runs its
        # forward pass writing its 12 partials per neuron-step (size·steps·48 B), then its
        # reverse pass; the loss is a mean over neurons, so a block's share of the
        # gradient is its own mean's gradient over the number of blocks (exact)
        blocks = tuple(a.reshape(n // size, size) for a in p)
        g = jax.lax.map(lambda q: grad_hand(q, size, steps), blocks)
        return tuple(a.reshape(n) / (n // size) for a in g)

    if args.f32_vs_f64:
        # float32 gradients (autodiff, hand-fwdsens) against the float64 gradient
        n, steps = args.n, args.steps
        with jax.enable_x64(True):  # the reference, in float64 throughout
            dtype = jnp.float64
            p64 = H.params(jnp, n, jnp.float64)
            ref = jax.jit(lambda p: grad_autodiff(p, n, steps))(p64)
            ref = [np.asarray(r) for r in ref]
            assert ref[0].dtype == np.float64
        dtype = jnp.float32
        p32 = H.params(jnp, n, jnp.float32)
        out = {}
        for name, fn in (("autodiff", grad_autodiff), ("hand-fwdsens", grad_fwdsens)):
            g = jax.jit(lambda p, fn=fn: fn(p, n, steps))(p32)
            out[name] = [
                float(np.max(np.abs(np.asarray(a, np.float64) - r)) / np.max(np.abs(r)))
                for a, r in zip(g, ref, strict=True)
            ]
            print(f"float32 {name} vs float64, largest difference / largest entry:", out[name])
        return {"n": n, "steps": steps, "float32_vs_float64": out}
    if args.check:
        a, h = ga(p), gsj(p)
        rel = [
            float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y))) for x, y in zip(h, a, strict=True)
        ]
        print("hand forward sensitivities vs autodiff, largest difference / largest entry:", rel)
        out = {"hand_fwdsens_vs_autodiff": rel}
        for size in args.blocks:
            if n % size == 0:
                b = jax.jit(lambda p, s=size: grad_hand_blocked(p, s))(p)
                out[f"hand_adjoint_blocks_{size}_vs_autodiff"] = [
                    float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y)))
                    for x, y in zip(b, a, strict=True)
                ]
                print(
                    f"hand adjoint in blocks of {size} vs autodiff:",
                    out[f"hand_adjoint_blocks_{size}_vs_autodiff"],
                )
        return out
    fns = {"forward": f, "autodiff": ga, "hand-adjoint": jax.jit(lambda p: grad_hand(p, n, steps)),
           "hand-fwdsens": gsj}  # fmt: skip
    for size in args.blocks:
        if n % size:
            raise SystemExit(f"--blocks {size} must divide --n {n}")
        fns[f"hand-adjoint-blocks-{size}"] = jax.jit(lambda p, s=size: grad_hand_blocked(p, s))
    for fn in fns.values():
        jax.block_until_ready(fn(p))
    times = {k: [] for k in fns}
    ratios = {k: [] for k in fns}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, fn in fns.items():
            jax.block_until_ready(f(p))
            t0 = time.process_time()
            jax.block_until_ready(f(p))
            fw = time.process_time() - t0
            jax.block_until_ready(fn(p))
            t0 = time.process_time()
            jax.block_until_ready(fn(p))
            t = time.process_time() - t0
            times[name].append(t)
            ratios[name].append(t / fw)
        load.append(os.getloadavg()[0])
    rows = {}
    print(f"hand HH model (exponential Euler) N={n}, {steps} steps, float32, CPU time:")
    for k in fns:
        rows[k] = {
            "median_ms": statistics.median(times[k]) * 1e3,
            "ratio_median": statistics.median(ratios[k]),
            "ratio_min": min(ratios[k]), "ratio_max": max(ratios[k]),
        }  # fmt: skip
        r = rows[k]
        print(f"  {k:<14} {r['median_ms']:8.2f} ms  {r['ratio_median']:5.2f}× forward "
              f"[{r['ratio_min']:.2f}, {r['ratio_max']:.2f}]")  # fmt: skip
    a32, h32 = ga(p), gsj(p)
    rel32 = [
        float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y))) for x, y in zip(h32, a32, strict=True)
    ]
    print("float32: hand-fwdsens vs autodiff, largest difference / largest entry:", rel32)
    print("load average", min(load), "-", max(load))
    return {"case": "hand HH (exp_hh_hand_adjoint's model), exponential Euler", "n": n,
            "steps": steps, "rounds": args.rounds, "load_average_range": [min(load), max(load)],
            "variants": rows, "float32_fwdsens_vs_autodiff": rel32,
            "tangents": 4 * reps}  # fmt: skip


def main(argv=None):
    args = parse_args(argv)
    if args.hand:
        result = hand_main(args)
    elif args.check:
        args.n = args.n if args.n != 1000 else 64
        result = check(args)
    else:
        result = measure(args)
    if args.out:
        from _common import RESULTS, machine_info

        result["machine"] = machine_info()
        (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
