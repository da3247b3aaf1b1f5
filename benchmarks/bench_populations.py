"""Throughput of neurojax on HH and LIF populations (10³–10⁶ neurons, 1000 steps).

For each (model, solver, N) it reports, separately:

- **compile time**: `jax.jit(run).lower(...)` (tracing) + `.compile()` (XLA), the cost of
  the first call for a new input shape;
- **run time**: the median of `--repeats` calls of the compiled function after one
  warm-up call, each ended by `block_until_ready`;
- **throughput**: neuron-steps per second, `N · n_steps / run time`;
- **CPU time** of each call (the process's, all threads): on a loaded machine the wall
  time of a single-threaded run grows with the load, its CPU time much less.

What is kept: `SaveAt(every=100, vars=("v",))`, i.e. V and the spike counts
every 100 steps (10 rows). Recording every step would make the output, not the
simulation, the benchmark: 1000 steps × 10⁶ neurons × 4 B = 4 GB per recorded variable.
Spike counts are sums over the 100 steps, so no spike is lost.

The populations (see `_common.py`): HH at dt = 0.025 ms, LIF at dt = 0.1 ms, one common
input current (inputs shaped `(n_steps,)`) and a per-neuron bias encoded in a per-neuron
parameter (HH `e_l`, LIF `v_rest`): an f–I sweep from silence to repetitive firing. The
same populations are simulated by `bench_brian2.py` and `bench_neuron.py`.

Runs unchanged on CPU and GPU (prints the device). Usage:

    python benchmarks/bench_populations.py                 # 10³ … 10⁶, float32
    python benchmarks/bench_populations.py --quick         # 10³, 10⁴, 2 repeats
    python benchmarks/bench_populations.py --sizes 1000 100000 --dtype float64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument(
        "--cases",
        nargs="+",
        default=[
            "hh:default",
            "hh:exponential_euler",
            "hh:exponential_rk2",
            "hh:euler",
            "lif:default",
        ],
        help="model:solver pairs; model in {hh, lif}; solver in {default, exponential_euler, "
        "exponential_rk2, staggered, euler, rk4}, default: the model's `default_solver` "
        "(HH: staggered)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up")
    p.add_argument("--save-every", type=int, default=100, help="SaveAt(every=...)")
    p.add_argument("--quick", action="store_true", help="sizes 10³ and 10⁴, 2 repeats")
    p.add_argument("--name", default=None, help="results/<name>.json (default from options)")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = [10**3, 10**4], 2
    if args.steps % args.save_every:
        p.error(f"--save-every {args.save_every} must divide --steps {args.steps} (SaveAt)")
    return args


def main(argv=None):
    args = parse_args(argv)
    import jax

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    solvers = {
        "exponential_euler": nj.ExponentialEuler,
        "exponential_rk2": nj.ExponentialRK2,
        "staggered": nj.Staggered,
        "euler": nj.Euler,
        "rk4": nj.RK4,
    }
    solver_names = {cls: name for name, cls in solvers.items()}
    dtype = jnp.dtype(args.dtype)
    device = jax.devices()[0]
    print(f"neurojax population benchmark on {device.platform}: {device.device_kind} ({device})")
    print(
        f"jax {jax.__version__}, {args.dtype}, {args.steps} steps, SaveAt(every={args.save_every})"
    )

    def build(model_name: str, n: int):
        if model_name == "hh":
            model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), dtype))
            return model, jnp.full((args.steps,), C.HH_I0, dtype), C.HH_DT
        if model_name == "lif":
            model = nj.LIF(v_rest=np.asarray(C.lif_v_rest(n), dtype))
            return model, jnp.full((args.steps,), C.LIF_I0, dtype), C.LIF_DT
        raise SystemExit(f"unknown model {model_name!r}: use hh or lif")

    rows = []
    for case in args.cases:
        model_name, requested = case.split(":")
        for n in args.sizes:
            model, inputs, dt = build(model_name, n)
            is_default = requested == "default"
            solver = nj.solvers.default_solver(model) if is_default else solvers[requested]()
            solver_name = solver_names.get(type(solver), type(solver).__name__)

            def run(model, inputs, dt=dt, solver=solver):
                saveat = nj.SaveAt(every=args.save_every, vars=("v",))
                sol = nj.simulate(model, inputs, dt=dt, solver=solver, saveat=saveat)
                return sol.v, sol.spikes

            t = time.perf_counter()
            lowered = jax.jit(run).lower(model, inputs)
            t_lower = time.perf_counter() - t
            t = time.perf_counter()
            compiled = lowered.compile()
            t_compile = time.perf_counter() - t

            def call(compiled=compiled, model=model, inputs=inputs):
                return jax.block_until_ready(compiled(model, inputs))

            t = time.perf_counter()
            v, spikes = call()  # warm-up: first execution allocates buffers
            t_first = time.perf_counter() - t
            # Fewer repeats where one run is long; the spread stays visible in "all_s".
            repeats = args.repeats if t_first < 5 else min(args.repeats, 3 if t_first < 20 else 2)
            times, cpu = [], []
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                call()
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            stats = C.summary(times)
            n_spikes = float(np.asarray(spikes, np.float64).sum())
            duration_ms = args.steps * dt
            row = {
                "model": model_name,
                "solver": solver_name,
                "default_solver": is_default,
                "n": n,
                "steps": args.steps,
                "dt_ms": dt,
                "dtype": args.dtype,
                "trace_lower_s": t_lower,
                "compile_s": t_compile,
                "first_run_s": t_first,
                **stats,
                "neuron_steps_per_s": n * args.steps / stats["median_s"],
                # process CPU time (all threads) per call: the work, which a loaded
                # machine inflates less than the wall time
                "cpu_median_s": statistics.median(cpu),
                "best_neuron_steps_per_s": n * args.steps / stats["min_s"],
                "mean_rate_hz": n_spikes / n / (duration_ms / 1000.0),
                "total_spikes": n_spikes,
                "output_bytes": int(v.nbytes + spikes.nbytes),
                "finite": bool(np.isfinite(np.asarray(v)).all()),
            }
            rows.append(row)
            print(
                f"{model_name:>3} {solver_name:<17} N={n:>8}: compile {t_lower + t_compile:6.2f} s"
                f" (trace {t_lower:.2f}), run {stats['median_s'] * 1e3:9.1f} ms"
                f" (min {stats['min_s'] * 1e3:.1f}, {repeats} runs)"
                f" → {row['neuron_steps_per_s']:.3g} neuron-steps/s;"
                f" CPU {row['cpu_median_s'] * 1e3:.1f} ms;"
                f" {row['mean_rate_hz']:.1f} Hz mean rate",
                flush=True,
            )

    header = [
        "model",
        "solver",
        "N",
        "compile (s)",
        "run, median (ms)",
        "run, min (ms)",
        "neuron-steps/s",
        "mean rate (Hz)",
    ]
    table = [
        [
            r["model"].upper(),
            r["solver"] + " (default)" * r["default_solver"],
            f"{r['n']:.0e}".replace("e+0", "e"),
            f"{r['trace_lower_s'] + r['compile_s']:.2f}",
            f"{r['median_s'] * 1e3:.1f}",
            f"{r['min_s'] * 1e3:.1f}",
            f"{r['neuron_steps_per_s']:.3g}",
            f"{r['mean_rate_hz']:.1f}",
        ]
        for r in rows
    ]
    md = (
        f"neurojax on {device.platform} ({device.device_kind}), jax {jax.__version__}, "
        f"{args.dtype}, {args.steps} steps, SaveAt(every={args.save_every}, vars=('v',))\n\n"
        + C.markdown_table(header, table)
    )
    print("\n" + md)
    payload = C.neurojax_payload(args, rows)
    name = args.name or f"neurojax_{device.platform}_{args.dtype}{'_quick' * args.quick}"
    path = C.write(name, payload, md, args.out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
