"""Experiment (issue 21 item 3, population gradients ≤ 2× their forward run): where an
HH population's reverse pass goes, and what each proposed lever does to it.

The case of `bench_gradient.py`'s population: HH, N neurons (f–I sweep through a
per-neuron leak reversal), 1000 steps of 0.025 ms, float32, loss `mean(V²)` over every
10th step, gradient w.r.t. every parameter. All variants in one process, compiled once,
then `--rounds` rounds, each timing every variant in turn right after a forward run
(`simulate`, not differentiated; each timed call after an untimed one), process CPU
time: the median over rounds of each variant's time and of its ratio to that forward
run.

- `shipped`: `jax.grad` through `simulate` as it is (each step `jax.checkpoint`ed: the
  state stored per step, the step replayed and transposed in the backward pass; scalar
  parameters broadcast to the population once, before the loop).
- `narrow` (lever 1 off): the same with `_broadcast_parameters` disabled, so every scalar
  parameter's cotangent is a sum over neurons in every backward step.
- `flat`: a plain `lax.scan` of the solver step, checkpointed per step, one step per
  iteration (no `SaveAt(every=10)` nesting, no event step).
- `custom-vjp` (lever 2): a `jax.custom_vjp` around a plain scan of the solver step whose
  forward pass stores every step's state as a scan output and whose backward pass is a
  reverse scan of `jax.vjp` of the step.
- `save-exp`, `save-transcendental`: `flat` with a `jax.checkpoint` policy that stores
  the results of `exp` (resp. of `exp`, `div`, `log`, powers, …) per step instead of
  recomputing them, so the backward step has no exponentials (what a backward step
  cheaper than a replay would need).
- `store-all`: `jax.grad` of the plain scan without checkpointing (every intermediate
  stored by JAX).
- `blocks-B` (`--blocks`, loop tiling): `lax.map` over blocks of B neurons, each block's
  whole time loop checkpointed per step, so the backward step's temporaries fit in L2.

`--hlo` prints, for the shipped gradient and the forward run, how many fused loops
(passes over the population) one step makes and how many multiplies, divisions and
exponentials per neuron they evaluate.

Measured 2026-12-06, 23:05–23:28 UTC, shared 2-core VM (AMD EPYC, AVX-512) under other
sessions' jobs (load 10–31: ±25 % between runs of the same function), jax 0.10.2,
`Staggered` (HH's default), 7 rounds, each variant's CPU time ÷ the forward run's timed
just before it (median over rounds; the 10⁴ row's second figures from an earlier run of
the same script, 7 rounds at load ~12):

| N | forward | shipped | narrow | flat | custom-vjp | save-exp | save-tr. | store-all |
|---|---|---|---|---|---|---|---|---|
| 10³ | 10–14 ms | 4.1× | 4.9× | 4.9× | 4.5× | 12× | 25× | 25× |
| 10⁴ | 68–91 ms | 6.8×, 6.1× | 10.0×, 8.6× | 7.2×, 6.1× | 6.8×, 6.3× | – | – | – |

At 10⁴, `blocks-1000` 7.0× (6.2×) and `blocks-2500` 7.1× (7.0×). No lever beats the
shipped gradient by more than the noise; lever 1 (already shipped) is worth 17–30 %.

What the backward step is (`--hlo`, 10³ and 10⁴ alike): XLA:CPU compiles the forward
step into 15 fused loops evaluating 102 multiplies, 56 adds, 9 divisions and 8
exponentials per neuron; the backward step (replay + transpose) into 66 fused loops with
511 multiplies, 233 adds, 26 divisions and 8 exponentials: 4–5× the forward's
arithmetic, which is what it costs. It is not a reduction over neurons (lever 1 made
every cotangent elementwise), nor a cache effect (blocks of neurons do not help), nor
the run's structure (`flat` and `custom-vjp` no faster than `shipped`): it is the
replayed step plus its transpose, an elementwise computation that XLA:CPU splits into
dozens of loops because an expensive intermediate (exp, division) with several consumers
is materialised and cheap ones are recomputed in each consumer. Storing intermediates
instead of replaying them is slower on CPU: every stored value costs a pass to write it
and passes to read it back. XLA:CPU's multi-output fusion (the backend option
`xla_cpu_use_multi_output_fusion=true`) made the gradient 8× slower (HH 10³) and
11–14× (LIF 10³, 10⁴); `xla_cpu_prefer_vector_width=512` changed nothing measurable.

The floor of this design: one forward run, one replay, one transpose, ≥ ~3× the forward
run. ≤ 2× needs a backward step cheaper than the forward step, i.e. no replay of the
transcendental functions, which on XLA:CPU costs more in stored intermediates than it
saves. Not reached; no library change came of this experiment.

The `custom-vjp` gradient differs from `shipped` by 2 % (10³) and up to 90 % for some
neurons (10⁴) in float32: its forward pass takes the gates' closed-form update
(`gate_step`), while a differentiated run evaluates the same step in its φ₁ form (see
`gate_step`'s docstring), and that rounding difference is amplified over 1000 steps in
neurons near their firing threshold. In float64 (`--x64 --n 100`) the two agree to
2.8e-12 (and `flat` to 4e-15).

    python benchmarks/exp_population_gradient_vjp.py                # N = 1000
    python benchmarks/exp_population_gradient_vjp.py --n 10000 --blocks 1000 2500 \\
        --only shipped narrow flat custom-vjp
    python benchmarks/exp_population_gradient_vjp.py --hlo
    python benchmarks/exp_population_gradient_vjp.py --x64 --n 100 --only shipped flat custom-vjp
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VARIANTS = (
    "shipped",
    "narrow",
    "flat",
    "custom-vjp",
    "save-exp",
    "save-transcendental",
    "store-all",
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--solver", default="Staggered", choices=["Staggered", "ExponentialEuler"])
    p.add_argument("--only", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--blocks", nargs="*", type=int, default=[])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--hlo", action="store_true", help="op counts of one forward/backward step")
    p.add_argument("--x64", action="store_true", help="custom-vjp vs shipped in float64")
    return p.parse_args(argv)


def step_op_counts(hlo_text: str) -> list[dict]:
    """Per `while` body of a compiled HLO module: fused loops, and the floating-point
    multiplies, adds, divisions and exponentials (array-shaped) in them."""
    comps: dict[str, list[str]] = {}
    cur = None
    for line in hlo_text.splitlines():
        m = re.match(r"^(?:ENTRY )?(%[\w.\-]+) .*\{$", line)
        if m:
            cur = m.group(1)
            comps[cur] = []
        elif line.startswith("}"):
            cur = None
        elif cur:
            comps[cur].append(line)

    def ops(name):
        c = collections.Counter()
        for line in comps.get(name, []):
            m = re.search(r"= (\S+) ([\w\-]+)\(", line)
            if not m:
                continue
            shape, op = m.groups()
            if op == "fusion":
                c["fused loops"] += 1
                c += ops(re.search(r"calls=(%[\w.\-]+)", line).group(1))
            elif re.match(r"f(32|64)\[\d", shape):
                c[op] += 1
        return c

    out = []
    for line in hlo_text.splitlines():
        m = re.search(r"while\(.*body=(%[\w.\-]+)", line)
        if m:
            c = ops(m.group(1))
            keep = ("fused loops", "multiply", "add", "divide", "exponential")
            out.append({k: c[k] for k in keep})
    return out


def main(argv=None):
    args = parse_args(argv)
    import _common as C
    import equinox as eqx
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    import neurojax as nj
    import neurojax._simulate as S

    dtype = jnp.float64 if args.x64 else jnp.float32
    n, steps, dt = args.n, args.steps, C.HH_DT
    model = nj.HodgkinHuxley(e_l=jnp.asarray(C.hh_e_l(n), dtype))
    if args.x64:
        model = jax.tree.map(
            lambda a: jnp.asarray(a, dtype) if eqx.is_inexact_array(a) else a, model
        )
    x = jnp.full((steps,), C.HH_I0, dtype)
    solver = getattr(nj, args.solver)()
    saveat = nj.SaveAt(every=10, vars=("v",))

    def loss_shipped(m):
        return jnp.mean(nj.simulate(m, x, dt=dt, solver=solver, saveat=saveat).v ** 2)

    def widen(m):
        return jax.tree.map(
            lambda a: jnp.broadcast_to(a, (n,)) if eqx.is_inexact_array(a) else a, m
        )

    def saved(vs):
        return jnp.mean(vs[9::10] ** 2)

    def make_flat(checkpoint=True, policy=None):
        def loss(m):
            y0 = m.init_state((n,))
            m = widen(m)

            def step(y, current):
                y = solver.step(m, 0.0, y, current, dt)
                return y, y.v

            if checkpoint:
                step = jax.checkpoint(step, prevent_cse=False, policy=policy)
            return saved(lax.scan(step, y0, x)[1])

        return loss

    def make_custom_vjp():
        def loss(m):
            y0 = m.init_state((n,))
            params, rest = eqx.partition(widen(m), eqx.is_inexact_array)

            def step(p, y, current):
                return solver.step(eqx.combine(p, rest), 0.0, y, current, dt)

            @jax.custom_vjp
            def run(p, y0):
                return lax.scan(lambda y, c: (step(p, y, c),) * 2, y0, x)[1].v

            def run_fwd(p, y0):
                def body(y, c):
                    y_new = step(p, y, c)
                    return y_new, (y_new.v, y)

                _, (vs, ys) = lax.scan(body, y0, x)
                return vs, (p, ys)

            def run_bwd(res, g_vs):
                p, ys = res

                def body(carry, xs):
                    g_y, g_p = carry
                    y, c, g_v = xs
                    g_y = g_y._replace(v=g_y.v + g_v)
                    _, vjp = jax.vjp(lambda p, y: step(p, y, c), p, y)
                    d_p, d_y = vjp(g_y)
                    return (d_y, jax.tree.map(jnp.add, g_p, d_p)), None

                zeros = (
                    jax.tree.map(lambda a: jnp.zeros_like(a[0]), ys),
                    jax.tree.map(jnp.zeros_like, p),
                )
                (g_y0, g_p), _ = lax.scan(body, zeros, (ys, x, g_vs), reverse=True)
                return g_p, g_y0

            run.defvjp(run_fwd, run_bwd)
            return saved(run(params, y0))

        return loss

    def make_blocks(size):
        def loss(m):
            blocks = jax.tree.map(
                lambda a: a.reshape(n // size, size) if eqx.is_inexact_array(a) else a, widen(m)
            )
            params, rest = eqx.partition(blocks, eqx.is_inexact_array)

            def one(p):
                mb = eqx.combine(p, rest)

                def step(y, current):
                    y = solver.step(mb, 0.0, y, current, dt)
                    return y, y.v

                step = jax.checkpoint(step, prevent_cse=False)
                vs = lax.scan(step, mb.init_state((size,)), x)[1]
                return jnp.sum(vs[9::10] ** 2)

            return jnp.sum(lax.map(one, params)) / (n * (steps // 10))

        return loss

    def narrow_shipped(m):
        original = S._broadcast_parameters
        S._broadcast_parameters = lambda model, inputs: model
        try:
            return loss_shipped(m)
        finally:
            S._broadcast_parameters = original

    transcendental = {
        lax.exp_p, lax.div_p, lax.log_p, lax.pow_p, lax.integer_pow_p, lax.tanh_p,
        lax.logistic_p, lax.expm1_p, lax.log1p_p,
    }  # fmt: skip
    losses = {
        "shipped": loss_shipped,
        "narrow": narrow_shipped,
        "flat": make_flat(),
        "custom-vjp": make_custom_vjp(),
        "save-exp": make_flat(policy=lambda prim, *_, **__: prim is lax.exp_p),
        "save-transcendental": make_flat(policy=lambda prim, *_, **__: prim in transcendental),
        "store-all": make_flat(checkpoint=False),
    }
    losses = {k: v for k, v in losses.items() if k in args.only}
    for size in args.blocks:
        if n % size:
            raise SystemExit(f"--blocks {size} must divide --n {n}")
        losses[f"blocks-{size}"] = make_blocks(size)

    forward = jax.jit(loss_shipped).lower(model).compile()
    calls = {"forward": lambda: jax.block_until_ready(forward(model))}
    grads = {}
    for name, fn in losses.items():
        compiled = jax.jit(jax.grad(fn)).lower(model).compile()
        grads[name] = compiled(model)
        calls[name] = lambda f=compiled: jax.block_until_ready(f(model))
        if args.hlo and name == "shipped":
            print("shipped gradient, per while body:", step_op_counts(compiled.as_text()))
    if args.hlo:
        print("forward run, per while body:", step_op_counts(forward.as_text()))

    fields = ("g_na", "g_k", "g_l", "e_na", "e_k", "e_l", "c_m")
    ref = grads.get("shipped")
    if ref is not None:
        for name, g in grads.items():
            err = max(
                float(jnp.max(jnp.abs(getattr(g, f) - getattr(ref, f))))
                / (float(jnp.max(jnp.abs(getattr(ref, f)))) + 1e-300)
                for f in fields
            )
            print(f"  {name:<20} largest relative difference from shipped: {err:.1e}")

    def timed(call):
        # an untimed call first: otherwise a call pays for the caches and freshly mapped
        # memory its predecessor left (after `store-all`'s 400 MB the forward run
        # measured up to 2× slower)
        call()
        t = time.process_time()
        call()
        return time.process_time() - t

    # each variant timed right after a forward run, its ratio taken within the pair
    times = {k: [] for k in calls}
    ratios = {k: [] for k in calls}
    for _ in range(args.rounds):
        for k, c in calls.items():
            fwd = timed(calls["forward"])
            t = timed(c)
            times[k].append(t)
            ratios[k].append(t / fwd)
    print(f"HH N={n}, {steps} steps, {args.solver}, {jnp.dtype(dtype).name}, CPU time:")
    for k, v in times.items():
        print(
            f"  {k:<20} {statistics.median(v) * 1e3:9.2f} ms  {statistics.median(ratios[k]):5.2f}× "
            f"forward (median of the rounds' ratios; fastest run {min(v) * 1e3:.2f} ms)"
        )
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main()
