"""The populations of `bench_populations.py` in BrainPy (Wang et al. 2023, eLife
12:e86365), for a side-by-side comparison on the same machine. BrainPy is also a JAX
library, so this compares the two designs on the same compiler.

Same equations, parameters, dt, number of steps and per-neuron bias (`_common.py`) as
neurojax; BrainPy's own models `brainpy.dyn.HH` (the NEURON `hh` rates, no temperature
factor: identical at 6.3 °C; `gL` set to 0.3 mS/cm² instead of its default 0.03) and
`brainpy.dyn.LifRef` (hard reset, 2 ms refractory), each with BrainPy's default
integrator `exp_auto` (exponential Euler — compare with neurojax's `exponential_euler`
rows). The loop is `brainpy.math.for_loop` over `model.step_run`, jit-compiled, returning
the population's spike count per step (nothing else is recorded).

BrainPy is *not* a neurojax dependency: run this with a Python that has it, e.g.

    python -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install brainpy
    /tmp/peers-venv/bin/python benchmarks/bench_brainpy.py

Timings: `compile_s` is the first call minus a later one (tracing + XLA compile);
`median_s` the median of `--repeats` later calls, each from the initial state
(`reset_state()`, not timed).
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
    p.add_argument("--models", nargs="+", default=["hh", "lif"], choices=["hh", "lif"])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def build(bp, bm, model: str, n: int):
    """The population and its constant common input (µA/cm² or nA)."""
    if model == "hh":
        pop = bp.dyn.HH(
            n,
            EL=bm.asarray(C.hh_e_l(n), dtype=bm.float32),
            gL=C.HH_G_L,
            V_initializer=bp.init.Constant(-65.0),
        )
        return pop, C.HH_I0, C.HH_DT
    pop = bp.dyn.LifRef(
        n,
        V_rest=bm.asarray(C.lif_v_rest(n), dtype=bm.float32),
        V_reset=C.LIF_V_REST,
        V_th=-50.0,
        R=10.0,
        tau=10.0,
        tau_ref=2.0,
        spk_reset="hard",
        V_initializer=bp.init.Constant(C.LIF_V_REST),
    )
    return pop, C.LIF_I0, C.LIF_DT


def main(argv=None):
    args = parse_args(argv)
    import brainpy as bp
    import brainpy.math as bm
    import jax
    import numpy as np

    bm.set_platform("cpu")
    print(f"BrainPy {bp.__version__}, jax {jax.__version__}, float32, {args.steps} steps")
    rows = []
    for model in args.models:
        for n in args.sizes:
            bm.random.seed(0)
            pop, current, dt = build(bp, bm, model, n)
            bm.set_dt(dt)
            indices = np.arange(args.steps)

            def step(i, pop=pop, current=current):
                pop.step_run(i, current)
                return bm.sum(pop.spike.value)

            # one jitted function, built once: BrainPy's `jit` carries the population's
            # state variables in and out of the compiled loop
            run = bm.jit(lambda indices=indices, step=step: bm.for_loop(step, indices))

            def timed(run=run, pop=pop):
                pop.reset_state()
                t, c = time.perf_counter(), C.cpu_s()
                counts = jax.block_until_ready(run())
                return time.perf_counter() - t, counts, C.cpu_s() - c

            first, counts, _ = timed()
            # wall and CPU time (this process's, every thread) of each later call
            timed_calls = [timed() for _ in range(args.repeats)]
            times = [w for w, _, _ in timed_calls]
            s = {
                **C.summary(times),
                "cpu_median_s": statistics.median(c for _, _, c in timed_calls),
            }
            rate = float(np.sum(np.asarray(counts))) / n / (args.steps * dt / 1000.0)
            row = {
                "model": model,
                "n": n,
                "steps": args.steps,
                "dt_ms": dt,
                "compile_s": max(first - s["median_s"], 0.0),
                **s,
                "neuron_steps_per_s": n * args.steps / s["median_s"],
                "mean_rate_hz": rate,
            }
            rows.append(row)
            print(
                f"{model:3s} N={n:>8d}: compile {row['compile_s']:6.2f} s, run "
                f"{s['median_s'] * 1e3:9.1f} ms → {row['neuron_steps_per_s']:.3g} "
                f"neuron-steps/s; {rate:.1f} Hz mean rate",
                flush=True,
            )
            del pop
    header = ["model", "N", "compile (s)", "run, median (ms)", "neuron-steps/s", "mean rate (Hz)"]
    table = [
        [
            r["model"].upper(),
            f"{r['n']:.0e}".replace("e+0", "e"),
            f"{r['compile_s']:.2f}",
            f"{r['median_s'] * 1e3:.1f}",
            f"{r['neuron_steps_per_s']:.3g}",
            f"{r['mean_rate_hz']:.1f}",
        ]
        for r in rows
    ]
    md = f"BrainPy {bp.__version__} (jax {jax.__version__}), float32, {args.steps} steps\n\n"
    md += C.markdown_table(header, table)
    print("\n" + md)
    payload = {
        "tool": "brainpy",
        "brainpy": bp.__version__,
        "jax": jax.__version__,
        "machine": C.machine_info(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
    }
    print(f"wrote {C.write(args.name or 'brainpy', payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
