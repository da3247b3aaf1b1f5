"""HH population throughput of the point-neuron schemes against exponential Euler, forward
and gradient, measured so that a loaded machine cannot skew the ratios.

The population of `bench_populations.py` (HH, 10⁴ neurons, f–I sweep through a per-neuron
leak reversal, dt = 0.025 ms, 1000 steps, float32, `SaveAt(every=10, vars=("v",))`),
integrated by `ExponentialEuler`, `ExponentialRK2` and `Staggered` (HH's default). For
each: the forward run (loss `mean(V²)` over the kept samples) and its reverse-mode
gradient w.r.t. every parameter, each compiled once; then `--rounds` rounds, each
calling every compiled function once in turn (alternating, so a change of load hits every
scheme alike). Reported: the median over rounds of each call's **process CPU time**, the
neuron-steps per CPU-second, and each scheme's throughput ÷ exponential Euler's
(issue 21's aim for HH's default: ≥ 0.75×).

Usage:

    python benchmarks/bench_hh_solvers.py                 # results/hh_solvers.json
    python benchmarks/bench_hh_solvers.py --n 1000 --rounds 5
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
    p.add_argument("--n", type=int, default=10**4)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--no-gradient", action="store_true")
    p.add_argument("--name", default="hh_solvers")
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(args.n), np.float32))
    inputs = jnp.full((args.steps,), C.HH_I0, jnp.float32)
    solvers = {
        "ExponentialEuler": nj.ExponentialEuler(),
        "ExponentialRK2": nj.ExponentialRK2(),
        "Staggered": nj.Staggered(),
    }
    kinds = ("forward",) if args.no_gradient else ("forward", "gradient")

    def compiled(solver, kind):
        def loss(model, inputs):
            saveat = nj.SaveAt(every=10, vars=("v",))
            sol = nj.simulate(model, inputs, dt=C.HH_DT, solver=solver, saveat=saveat)
            return jnp.mean(sol.v**2)

        fn = eqx.filter_jit(loss if kind == "forward" else eqx.filter_grad(loss))
        c = time.process_time()
        jax.block_until_ready(fn(model, inputs))  # compiles (and runs once)
        return fn, time.process_time() - c

    fns, first = {}, {}
    for name, solver in solvers.items():
        for kind in kinds:
            fns[name, kind], first[name, kind] = compiled(solver, kind)
    cpu = {key: [] for key in fns}
    for _ in range(args.rounds):
        for key, fn in fns.items():
            c = time.process_time()
            jax.block_until_ready(fn(model, inputs))
            cpu[key].append(time.process_time() - c)

    rows = []
    for (name, kind), times in cpu.items():
        med = statistics.median(times)
        base = statistics.median(cpu["ExponentialEuler", kind])
        rows.append(
            {
                "solver": name,
                "kind": kind,
                "n": args.n,
                "steps": args.steps,
                "cpu_median_s": med,
                "cpu_all_s": times,
                "first_call_cpu_s": first[name, kind],
                "neuron_steps_per_cpu_s": args.n * args.steps / med,
                "throughput_vs_exponential_euler": base / med,
            }
        )
    header = ["solver", "run", "CPU, median (ms)", "neuron-steps per CPU-s", "÷ exp. Euler"]
    table = [
        [
            f"`{r['solver']}`" + " (HH's default)" * (r["solver"] == "Staggered"),
            r["kind"],
            f"{r['cpu_median_s'] * 1e3:.0f}",
            f"{r['neuron_steps_per_cpu_s']:.3g}",
            f"{r['throughput_vs_exponential_euler']:.2f}",
        ]
        for r in rows
    ]
    device = jax.devices()[0]
    md = (
        f"HH population, {args.n} neurons, {args.steps} steps, float32, on {device.platform}; "
        f"jax {jax.__version__}; {args.rounds} alternating rounds, process CPU time\n\n"
        + C.markdown_table(header, table)
    )
    print(md)
    path = C.write(args.name, C.neurojax_payload(args, rows), md, args.out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
