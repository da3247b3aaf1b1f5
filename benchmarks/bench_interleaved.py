"""neurojax and BrainPy in ONE process, their runs interleaved: a comparison that a
loaded machine cannot skew (both see the same load at the same time).

On a shared machine, tools timed one after the other (`run.py`) see different loads:
on the 2-core VM of this project a load average of 8–20 made the same run 2–5× slower
from one minute to the next. Here the two compiled runs alternate call by call, and
besides wall time each call's process CPU time is recorded (user + system, all threads):
the work done, which the other jobs on the machine do not inflate as much.

BrainPy is imported from its own environment (`--brainpy-site`, its `site-packages`),
which must hold the same JAX version as this one (both use this process's JAX and XLA,
including the XLA:CPU loop setting neurojax makes at import). The populations are those
of `bench_populations.py` (`_common.py`): HH at dt = 0.025 ms with exponential Euler
(BrainPy's `exp_auto`) and neurojax's default `ExponentialRK2`, LIF at dt = 0.1 ms,
1000 steps, float32.

    python benchmarks/bench_interleaved.py \
        --brainpy-site /tmp/peers-venv/lib/python3.11/site-packages
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brainpy-site", required=True, help="BrainPy's site-packages folder")
    p.add_argument("--cases", nargs="+", default=["hh:10000", "lif:100000"])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=9, help="interleaved calls of each")
    p.add_argument("--name", default="interleaved_brainpy")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)

    import neurojax as nj  # first: its XLA setting applies to both tools

    sys.path.append(args.brainpy_site)
    import bench_brainpy as B
    import brainpy as bp
    import brainpy.math as bm
    import jax
    import jax.numpy as jnp
    import numpy as np

    bm.set_platform("cpu")
    rows = []
    for case in args.cases:
        model, n = case.split(":")
        n = int(n)
        bm.random.seed(0)
        pop, current, dt = B.build(bp, bm, model, n)
        bm.set_dt(dt)
        indices = np.arange(args.steps)

        def step(i, pop=pop, current=current):
            pop.step_run(i, current)
            return bm.sum(pop.spike.value)

        bp_run = bm.jit(lambda indices=indices, step=step: bm.for_loop(step, indices))

        def bp_call(pop=pop, bp_run=bp_run):
            pop.reset_state()
            return jax.block_until_ready(bp_run())

        if model == "hh":
            nj_model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), np.float32))
            current_nj = C.HH_I0
            solvers = {
                "exponential_euler": nj.ExponentialEuler(),
                "exponential_rk2": nj.ExponentialRK2(),
            }
        else:
            nj_model = nj.LIF(v_rest=np.asarray(C.lif_v_rest(n), np.float32))
            current_nj = C.LIF_I0
            solvers = {"exponential_euler": nj.ExponentialEuler()}
        inputs = jnp.full((args.steps,), current_nj, jnp.float32)
        calls = {("brainpy", "exp_auto"): bp_call}
        compile_s = {}
        for name, solver in solvers.items():

            def run(m, x, solver=solver, dt=dt):
                sol = nj.simulate(
                    m, x, dt=dt, solver=solver, saveat=nj.SaveAt(every=100, vars=("v",))
                )
                return sol.v, sol.spikes

            t = time.perf_counter()
            compiled = jax.jit(run).lower(nj_model, inputs).compile()
            compile_s[name] = time.perf_counter() - t
            calls[("neurojax", name)] = lambda c=compiled, m=nj_model, x=inputs: (
                jax.block_until_ready(c(m, x))
            )
        for f in calls.values():  # warm-up
            f()
        wall = {k: [] for k in calls}
        cpu = {k: [] for k in calls}
        load0 = os.getloadavg()[0]
        for _ in range(args.repeats):
            for k, f in calls.items():
                t, c = time.perf_counter(), _cpu()
                f()
                wall[k].append(time.perf_counter() - t)
                cpu[k].append(_cpu() - c)
        load1 = os.getloadavg()[0]
        for tool, scheme in calls:
            w, c = wall[(tool, scheme)], cpu[(tool, scheme)]
            rows.append(
                {
                    "model": model,
                    "n": n,
                    "tool": tool,
                    "scheme": scheme,
                    "compile_s": compile_s.get(scheme) if tool == "neurojax" else None,
                    "wall_median_s": statistics.median(w),
                    "wall_min_s": min(w),
                    "cpu_median_s": statistics.median(c),
                    "cpu_min_s": min(c),
                    "wall_s": w,
                    "cpu_s": c,
                    "load_average": [load0, load1],
                    "neuron_steps_per_s": n * args.steps / statistics.median(w),
                    "neuron_steps_per_cpu_s": n * args.steps / statistics.median(c),
                }
            )
            print(
                f"{model} N={n} {tool:8s} {scheme:17s} wall {rows[-1]['wall_median_s'] * 1e3:8.1f}"
                f" ms, CPU {rows[-1]['cpu_median_s'] * 1e3:8.1f} ms (medians of {args.repeats};"
                f" load {load0:.1f}–{load1:.1f})",
                flush=True,
            )

    header = ["model", "N", "tool", "scheme", "wall, median (ms)", "CPU, median (ms)",
              "neuron-steps per CPU-s", "BrainPy CPU ÷ this CPU", "BrainPy wall ÷ this wall",
              "load average"]  # fmt: skip
    table = []
    for r in rows:
        ref = next(
            x
            for x in rows
            if x["model"] == r["model"] and x["n"] == r["n"] and x["tool"] == "brainpy"
        )
        table.append(
            [
                r["model"].upper(),
                f"{r['n']:.0e}".replace("e+0", "e"),
                r["tool"],
                r["scheme"],
                f"{r['wall_median_s'] * 1e3:.1f}",
                f"{r['cpu_median_s'] * 1e3:.1f}",
                f"{r['neuron_steps_per_cpu_s']:.3g}",
                f"{ref['cpu_median_s'] / r['cpu_median_s']:.2f}",
                f"{ref['wall_median_s'] / r['wall_median_s']:.2f}",
                "{:.1f}–{:.1f}".format(*r["load_average"]),
            ]
        )
    md = (
        f"neurojax and BrainPy {bp.__version__} interleaved in one process (jax "
        f"{jax.__version__}, float32, {args.steps} steps, medians of {args.repeats} calls each)"
        "\n\n" + C.markdown_table(header, table)
    )
    print("\n" + md)
    payload = C.neurojax_payload(args, rows)
    payload["brainpy"] = bp.__version__
    path = C.write(args.name, payload, md, args.out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
