"""Cost of a gradient through `simulate`, against the forward run it differentiates.

The case of issue 13: one Hodgkin–Huxley neuron (NEURON's `hh` defaults) driven by a
10 µA/cm² step for 4000 steps of dt = 0.025 ms (100 ms, ~6 spikes), float32, and the
scalar loss `sum(V)` over every step. Per solver (`Euler`, `ExponentialEuler`,
`ExponentialRK2` — HH's default —, `RK4`) it reports, each the median of `--repeats`
calls of an already compiled function, ended by `block_until_ready`:

- **forward**: `jax.jit(loss)(model)`;
- **reverse**: `jax.jit(jax.grad(loss))(model)` — the gradient w.r.t. every parameter
  of the model (the default `CheckpointAdjoint()`; below 10⁴ steps it does not chunk);
- **forward mode**: `jax.jvp` of the loss along `g_na` (one tangent, `ForwardMode()`),
  and `jax.jacfwd` w.r.t. `(g_na, g_k, g_l)` (three tangents: what `fit` does with few
  parameters);
- **compile**: `jax.jit(jax.grad(loss)).lower(model).compile()`, tracing included, wall
  clock and CPU time of this process (the latter is what an idle machine would take:
  XLA compiles on one thread);
- the ratios gradient ÷ forward, measured in the same run.

Then populations (`--population`, default 10³ and 10⁴ neurons, `--population-steps`
1000): the HH f–I sweep of `bench_populations.py` (a per-neuron leak reversal) with
`Staggered` (HH's default) and `ExponentialEuler` (`--population-solvers`), and the LIF
population of `bench_populations.py` (a per-neuron resting potential, its default
exponential Euler, dt = 0.1 ms; `--lif`; and the same with `PopulationAdjoint()`, its
gradient by hand-written forward sensitivities), each with `SaveAt(every=10, vars=("v",))` and
the loss `mean(V²)`: forward and reverse (the gradient w.r.t. every parameter), each
compiled once, then `--population-rounds` rounds calling every compiled population
function once in turn (alternating, so a change of load hits every case alike), the
median **process CPU time** of each, and gradient ÷ forward (issue 21's aim: ≤ 2×).

`--before PATH` runs the same cases a second time with the `neurojax` package found
under PATH (e.g. a copy of an older tree) in a child process, so that before/after
figures come from one run on the same, possibly loaded, machine.

`--jaxley-python PY`: the single-neuron case in Jaxley (its default `bwd_euler`
solver, a one-compartment cell with `jaxley.channels.HH`, the same current density and
steps), run by that interpreter (which needs only jaxley), forward and the gradient of
`sum(V)` w.r.t. the HH conductances, side by side. Skipped when not given.

Usage:

    python benchmarks/bench_gradient.py                        # results/gradient.json
    python benchmarks/bench_gradient.py --quick                # fewer repeats
    python benchmarks/bench_gradient.py --jaxley-python /tmp/jaxley-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

# XLA_FLAGS as this process got it: importing neurojax adds its small-loop threshold, and
# the children (the tree of --before, Jaxley) must start from the user's own setting.
_USER_XLA_FLAGS = os.environ.get("XLA_FLAGS")

SOLVERS = ("euler", "exponential_euler", "exponential_rk2", "rk4")
I_STEP = 10.0  # µA/cm²
DT = 0.025  # ms


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=SOLVERS)
    p.add_argument(
        "--population", type=int, nargs="+", default=[1000, 10000], help="0: no populations"
    )
    p.add_argument("--population-steps", type=int, default=1000)
    p.add_argument(
        "--population-solvers", nargs="+", default=["Staggered", "ExponentialEuler"],
        choices=["Staggered", "ExponentialEuler", "ExponentialRK2"],
    )  # fmt: skip
    p.add_argument("--lif", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--population-rounds", type=int, default=7)
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--quick", action="store_true", help="5 repeats")
    p.add_argument("--before", type=Path, default=None, help="a tree whose neurojax to compare")
    p.add_argument("--jaxley-python", default=None, help="an interpreter with jaxley")
    p.add_argument("--name", default="gradient")
    p.add_argument("--out-dir", type=Path, default=None)
    # internal: run one side only and print JSON rows (used for --before and Jaxley)
    p.add_argument("--child", choices=["neurojax", "jaxley"], default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 5
    return args


_MINIMA: dict[int, float] = {}  # id of the last timed function → its fastest run, ms


def _median_ms(fn, repeats: int) -> float:
    """Median of `repeats` timed calls (ms); the fastest is kept in `_MINIMA` (on a loaded
    machine the minima are the steadier figure, and both are reported)."""
    import jax

    jax.block_until_ready(fn())  # warm-up
    stats = C.summary(C.timeit(lambda: jax.block_until_ready(fn()), repeats))
    _MINIMA["last"] = stats["min_s"] * 1e3
    return stats["median_s"] * 1e3


def _timed(row: dict, key: str, fn, repeats: int) -> None:
    """`row[key]` = median (ms), `row[key + '_min']` = fastest run (ms)."""
    row[key] = _median_ms(fn, repeats)
    row[key.replace("_ms", "_min_ms")] = _MINIMA["last"]


def neurojax_rows(args) -> list[dict]:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    solver_cls = {
        "euler": nj.Euler,
        "exponential_euler": nj.ExponentialEuler,
        "exponential_rk2": nj.ExponentialRK2,
        "rk4": nj.RK4,
    }
    rows = []
    model = nj.HodgkinHuxley()
    current = jnp.full((args.steps,), I_STEP, jnp.float32)
    for name in args.solvers:
        solver = solver_cls[name]()

        def loss(m, solver=solver, adjoint=nj.CheckpointAdjoint()):
            return nj.simulate(m, current, dt=DT, solver=solver, adjoint=adjoint).v.sum()

        def loss_fwd_mode(g, solver=solver):
            m = eqx.tree_at(lambda m: m.g_na, model, g)
            sol = nj.simulate(m, current, dt=DT, solver=solver, adjoint=nj.ForwardMode())
            return sol.v.sum()

        def loss3(gs, solver=solver):
            m = eqx.tree_at(lambda m: (m.g_na, m.g_k, m.g_l), model, tuple(gs))
            sol = nj.simulate(m, current, dt=DT, solver=solver, adjoint=nj.ForwardMode())
            return sol.v.sum()

        t, c = time.perf_counter(), time.process_time()
        grad = jax.jit(jax.grad(loss)).lower(model).compile()
        compile_s, compile_cpu_s = time.perf_counter() - t, time.process_time() - c
        fwd = jax.jit(loss).lower(model).compile()
        g0 = model.g_na
        jvp = jax.jit(lambda g: jax.jvp(loss_fwd_mode, (g,), (jnp.ones_like(g),)))
        gs = (model.g_na, model.g_k, model.g_l)
        jac = jax.jit(jax.jacfwd(loss3))
        row = {
            "case": "single",
            "solver": name,
            "n": 1,
            "steps": args.steps,
            "compile_grad_s": compile_s,
            "compile_grad_cpu_s": compile_cpu_s,
        }
        _timed(row, "forward_ms", lambda f=fwd: f(model), args.repeats)
        _timed(row, "reverse_ms", lambda f=grad: f(model), args.repeats)
        _timed(row, "jvp_ms", lambda f=jvp, x=g0: f(x), args.repeats)
        _timed(row, "jacfwd3_ms", lambda f=jac, x=gs: f(x), args.repeats)
        row["reverse_ratio_of_minima"] = row["reverse_min_ms"] / row["forward_min_ms"]
        row["jvp_ratio_of_minima"] = row["jvp_min_ms"] / row["forward_min_ms"]
        row["reverse_ratio"] = row["reverse_ms"] / row["forward_ms"]
        row["jvp_ratio"] = row["jvp_ms"] / row["forward_ms"]
        row["jacfwd3_ratio"] = row["jacfwd3_ms"] / row["forward_ms"]
        g = grad(model)
        row["grad_finite"] = bool(
            all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(g))
        )
        rows.append(row)
        print(
            f"  {name:<18} fwd {row['forward_ms']:7.3f} ms  grad {row['reverse_ms']:8.3f} ms "
            f"({row['reverse_ratio']:6.1f}x)  jvp {row['jvp_ms']:7.3f} ms "
            f"({row['jvp_ratio']:.1f}x)  jacfwd(3) {row['jacfwd3_ms']:7.3f} ms "
            f"({row['jacfwd3_ratio']:.1f}x)  compile {compile_s:.2f} s (cpu {compile_cpu_s:.2f} s)",
            flush=True,
        )

    sizes = [n for n in args.population if n > 0]
    if sizes:
        rows += population_rows(args, sizes)
    return rows


def population_rows(args, sizes: list[int]) -> list[dict]:
    """Forward and gradient of HH (per solver) and LIF populations, CPU time, alternating
    (see the module docstring)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    saveat = nj.SaveAt(every=10, vars=("v",))
    cases = []  # (row, model, loss)
    for n in sizes:
        hh = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), np.float32))
        hh_in = jnp.full((args.population_steps,), C.HH_I0, jnp.float32)
        for name in args.population_solvers:

            def loss(m, solver=getattr(nj, name)(), x=hh_in):
                return jnp.mean(nj.simulate(m, x, dt=C.HH_DT, solver=solver, saveat=saveat).v ** 2)

            cases.append(({"model": "HH", "solver": f"{name} (HH)", "n": n}, hh, loss))
        if args.lif:
            lif = nj.LIF(v_rest=np.asarray(C.lif_v_rest(n), np.float32))
            lif_in = jnp.full((args.population_steps,), C.LIF_I0, jnp.float32)

            def lif_loss(m, x=lif_in):
                return jnp.mean(nj.simulate(m, x, dt=C.LIF_DT, saveat=saveat).v ** 2)

            solver = type(nj.solvers.default_solver(lif)).__name__
            cases.append(({"model": "LIF", "solver": f"{solver} (LIF)", "n": n}, lif, lif_loss))
            if hasattr(nj, "PopulationAdjoint"):  # session 15; absent from older trees

                def lif_loss_pa(m, x=lif_in):
                    sol = nj.simulate(m, x, dt=C.LIF_DT, saveat=saveat,
                                      adjoint=nj.PopulationAdjoint())  # fmt: skip
                    return jnp.mean(sol.v**2)

                row = {"model": "LIF", "solver": f"{solver} (LIF, PopulationAdjoint)", "n": n}
                cases.append((row, lif, lif_loss_pa))

    calls = []
    for row, model, loss in cases:
        t, c = time.perf_counter(), time.process_time()
        grad = jax.jit(jax.grad(loss)).lower(model).compile()
        row["compile_grad_s"] = time.perf_counter() - t
        row["compile_grad_cpu_s"] = time.process_time() - c
        fwd = jax.jit(loss).lower(model).compile()
        g = grad(model)
        row["grad_finite"] = bool(
            all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(g))
        )
        calls.append((row, "forward", lambda f=fwd, m=model: jax.block_until_ready(f(m))))
        calls.append((row, "reverse", lambda f=grad, m=model: jax.block_until_ready(f(m))))
    for _, _, call in calls:  # warm-up
        call()
    times: dict = {(id(row), kind): [] for row, kind, _ in calls}
    for _ in range(args.population_rounds):
        for row, kind, call in calls:
            c = time.process_time()
            call()
            times[(id(row), kind)].append(time.process_time() - c)
    rows = []
    for row, _, _ in cases:
        fwd, rev = times[(id(row), "forward")], times[(id(row), "reverse")]
        row.update(
            case="population",
            steps=args.population_steps,
            timing="process CPU time, alternating rounds",
            rounds=args.population_rounds,
            forward_ms=statistics.median(fwd) * 1e3,
            reverse_ms=statistics.median(rev) * 1e3,
            forward_min_ms=min(fwd) * 1e3,
            reverse_min_ms=min(rev) * 1e3,
        )
        row["reverse_ratio"] = row["reverse_ms"] / row["forward_ms"]
        row["reverse_ratio_of_minima"] = row["reverse_min_ms"] / row["forward_min_ms"]
        rows.append(row)
        print(
            f"  {row['model']} population N={row['n']} ({row['solver']}, {row['steps']} "
            f"steps, CPU time): fwd {row['forward_ms']:.2f} ms, grad {row['reverse_ms']:.2f} ms "
            f"({row['reverse_ratio']:.1f}x), compile {row['compile_grad_s']:.2f} s",
            flush=True,
        )
    print(f"  (load average {os.getloadavg()[0]:.1f})", flush=True)
    return rows


def jaxley_rows(args) -> list[dict]:
    """The single HH neuron in Jaxley: forward and gradient of sum(V) w.r.t. gNa, gK, gLeak."""
    import jax
    import jax.numpy as jnp
    import jaxley as jx
    from jaxley.channels import HH

    jax.config.update("jax_enable_x64", False)
    comp = jx.Compartment()
    comp.insert(HH())
    comp.record("v", verbose=False)
    # current clamp: I_STEP µA/cm² × the compartment area (jaxley's stimulus is in nA)
    radius, length = 1.0, 10.0  # µm, jaxley's default compartment
    area_cm2 = 2 * 3.141592653589793 * radius * length * 1e-8
    amp_na = I_STEP * area_cm2 * 1e3  # µA → nA
    i_ext = jnp.full((args.steps,), amp_na, jnp.float32)
    comp.stimulate(i_ext, verbose=False)
    comp.make_trainable("HH_gNa", verbose=False)
    comp.make_trainable("HH_gK", verbose=False)
    comp.make_trainable("HH_gLeak", verbose=False)
    params = comp.get_parameters()

    def loss(params):
        v = jx.integrate(comp, params=params, delta_t=DT, t_max=(args.steps - 1) * DT)
        return v.sum()

    t, c = time.perf_counter(), time.process_time()
    grad = jax.jit(jax.grad(loss)).lower(params).compile()
    compile_s, compile_cpu_s = time.perf_counter() - t, time.process_time() - c
    fwd = jax.jit(loss).lower(params).compile()
    row = {
        "case": "single",
        "solver": "jaxley bwd_euler",
        "tool": f"jaxley {jx.__version__}",
        "n": 1,
        "steps": args.steps,
        "compile_grad_s": compile_s,
        "compile_grad_cpu_s": compile_cpu_s,
    }
    _timed(row, "forward_ms", lambda: fwd(params), args.repeats)
    _timed(row, "reverse_ms", lambda: grad(params), args.repeats)
    row["reverse_ratio_of_minima"] = row["reverse_min_ms"] / row["forward_min_ms"]
    row["reverse_ratio"] = row["reverse_ms"] / row["forward_ms"]
    print(
        f"  jaxley {jx.__version__}: fwd {row['forward_ms']:.3f} ms, grad "
        f"{row['reverse_ms']:.3f} ms ({row['reverse_ratio']:.1f}x), compile {compile_s:.2f} s",
        flush=True,
    )
    return [row]


def _child(args, kind: str, python: str, pythonpath: Path | None) -> list[dict]:
    """Run one side in another process; its last stdout line is the JSON list of rows."""
    cmd = [python, str(Path(__file__).resolve()), "--child", kind, "--steps", str(args.steps)]
    cmd += ["--repeats", str(args.repeats), "--population", *map(str, args.population)]
    cmd += ["--population-steps", str(args.population_steps), "--solvers", *args.solvers]
    cmd += ["--population-solvers", *args.population_solvers]
    cmd += ["--population-rounds", str(args.population_rounds)]
    cmd += ["--lif" if args.lif else "--no-lif"]
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    if _USER_XLA_FLAGS is not None:
        env["XLA_FLAGS"] = _USER_XLA_FLAGS
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        print(out.stdout[-2000:], out.stderr[-4000:])
        raise SystemExit(f"{kind} child failed ({' '.join(cmd)})")
    lines = out.stdout.strip().splitlines()
    print("\n".join(lines[:-1]))
    return json.loads(lines[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.child == "neurojax":
        rows = neurojax_rows(args)
        print(json.dumps(rows))
        return
    if args.child == "jaxley":
        rows = jaxley_rows(args)
        print(json.dumps(rows))
        return

    import jax

    # neurojax before `jax.devices()`: it sets XLA:CPU's small-loop threshold, which XLA
    # reads when JAX starts its backend; imported after, every gradient here ran with
    # XLA's default loop compilation (the single neuron's 25–50× slower)
    import neurojax  # noqa: F401

    device = jax.devices()[0]
    print(f"gradient benchmark on {device.platform} ({device.device_kind}), jax {jax.__version__}")
    print(f"neurojax (this tree), HH, {args.steps} steps of {DT} ms, float32:")
    rows = [dict(r, tree="this") for r in neurojax_rows(args)]
    if args.before is not None:
        print(f"neurojax from {args.before}:")
        before = _child(args, "neurojax", sys.executable, args.before)
        rows += [dict(r, tree=f"before ({args.before})") for r in before]
    if args.jaxley_python:
        print("Jaxley:")
        rows += [dict(r, tree="jaxley") for r in _child(args, "jaxley", args.jaxley_python, None)]

    def fmt(x, spec):
        return "–" if x is None else format(x, spec)

    header = [
        "tree",
        "case",
        "solver",
        "forward (ms)",
        "reverse (ms)",
        "reverse ÷ fwd",
        "(of minima)",
        "jvp ÷ fwd",
        "jacfwd(3) ÷ fwd",
        "grad compile (s)",
        "compile, CPU (s)",
    ]
    table = [
        [
            r["tree"],
            f"{r['case']} (N={r['n']}, {r['steps']} steps)",
            r["solver"],
            fmt(r["forward_ms"], ".3f"),
            fmt(r["reverse_ms"], ".3f"),
            fmt(r["reverse_ratio"], ".1f"),
            fmt(r.get("reverse_ratio_of_minima"), ".1f"),
            fmt(r.get("jvp_ratio"), ".1f"),
            fmt(r.get("jacfwd3_ratio"), ".1f"),
            fmt(r["compile_grad_s"], ".2f"),
            fmt(r.get("compile_grad_cpu_s"), ".2f"),
        ]
        for r in rows
    ]
    md = (
        f"Gradient cost on {device.platform} ({device.device_kind}), jax {jax.__version__}, "
        f"float32, HH with {I_STEP} µA/cm², dt = {DT} ms; medians of {args.repeats} runs "
        f"(wall clock); population rows: medians of {args.population_rounds} alternating "
        "rounds of process CPU time\n\n" + C.markdown_table(header, table)
    )
    print("\n" + md)
    payload = C.neurojax_payload(args, rows)
    path = C.write(args.name, payload, md, args.out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
