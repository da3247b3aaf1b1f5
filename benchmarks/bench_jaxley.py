"""The HH population of `bench_populations.py` in Jaxley (Deistler et al. 2024, bioRxiv
2024.08.21.608979), for a side-by-side comparison on the same machine. Jaxley is a JAX
simulator of multicompartment cells; a population of point neurons is a `jx.Network` of
single-compartment cells without synapses.

Same HH (`jaxley.channels.HH`: NEURON's `hh` rates and conductances), dt, number of steps
and per-neuron bias (a leak reversal `HH_eLeak` per cell, `_common.hh_e_l`) as neurojax;
the common 5 µA/cm² input is a constant current clamp of 5 µA/cm² × the compartment's
area (Jaxley's default compartment: radius 1 µm, length 10 µm). Jaxley's default solver
(`bwd_euler`: backward Euler for V, exponential Euler for the gates — NEURON's scheme) is
used. Jaxley records V of every cell at every step (spikes are counted from it, as upward
crossings of 0 mV); there is no sub-sampled recording, so its output is
N × (steps + 1) floats.

Jaxley is *not* a neurojax dependency: run this with a Python that has it, e.g.

    python -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install jaxley
    /tmp/peers-venv/bin/python benchmarks/bench_jaxley.py

Timings: `compile_s` is the first call minus a later one (tracing + XLA compile);
`median_s` the median of `--repeats` later calls of the jitted `jx.integrate`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10**3, 10**4])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=None)
    return p.parse_args(argv)


def build(jax, jx, HH, n: int, steps: int):
    """The HH population of `n` single-compartment cells as a Jaxley network; returns the
    jitted `jx.integrate` of `steps` steps (V of every cell at every step). Also used by
    `bench_interleaved.py`."""
    comp = jx.Compartment()
    cell = jx.Cell(jx.Branch(comp, ncomp=1), parents=[-1])
    net = jx.Network([cell] * n)
    net.insert(HH())
    net.set("v", -65.0)
    net.init_states()  # gates at their steady state at −65 mV
    net.nodes["HH_eLeak"] = C.hh_e_l(n)
    radius, length = float(net.nodes["radius"][0]), float(net.nodes["length"][0])
    area_cm2 = 2 * math.pi * radius * length * 1e-8  # µm² → cm²
    t_max = steps * C.HH_DT
    current = jx.step_current(0.0, t_max, C.HH_I0 * area_cm2 * 1e3, C.HH_DT, t_max)
    net.stimulate(current)  # nA, every cell
    net.record("v", verbose=False)
    stop = t_max - C.HH_DT / 2  # exactly `steps` steps
    return jax.jit(lambda net=net, stop=stop: jx.integrate(net, delta_t=C.HH_DT, t_max=stop))


def main(argv=None):
    args = parse_args(argv)
    import jax
    import jaxley as jx
    import numpy as np
    from jaxley.channels import HH

    print(f"Jaxley {jx.__version__}, jax {jax.__version__}, float32, {args.steps} steps")
    rows = []
    for n in args.sizes:
        t_build = time.perf_counter()
        run = build(jax, jx, HH, n, args.steps)
        build_s = time.perf_counter() - t_build

        def timed(run=run):
            t, c = time.perf_counter(), C.cpu_s()
            v = jax.block_until_ready(run())
            return time.perf_counter() - t, v, C.cpu_s() - c

        first, v, _ = timed()
        # wall and CPU time (this process's, every thread) of each later call
        timed_calls = [timed() for _ in range(args.repeats)]
        times = [w for w, _, _ in timed_calls]
        s = {**C.summary(times), "cpu_median_s": statistics.median(c for _, _, c in timed_calls)}
        v = np.asarray(v)
        steps_done = v.shape[1] - 1
        spikes = int(np.sum((v[:, 1:] >= 0.0) & (v[:, :-1] < 0.0)))
        rate = spikes / n / (steps_done * C.HH_DT / 1000.0)
        row = {
            "model": "hh",
            "n": n,
            "steps": steps_done,
            "build_s": build_s,
            "compile_s": max(first - s["median_s"], 0.0),
            **s,
            "neuron_steps_per_s": n * steps_done / s["median_s"],
            "mean_rate_hz": rate,
        }
        rows.append(row)
        print(
            f"hh N={n:>8d}: build {build_s:6.2f} s, compile {row['compile_s']:6.2f} s, run "
            f"{s['median_s'] * 1e3:9.1f} ms ({steps_done} steps) → "
            f"{row['neuron_steps_per_s']:.3g} neuron-steps/s; {rate:.1f} Hz mean rate",
            flush=True,
        )
    header = ["model", "N", "build (s)", "compile (s)", "run, median (ms)", "neuron-steps/s",
              "mean rate (Hz)"]  # fmt: skip
    table = [
        [
            "HH",
            f"{r['n']:.0e}".replace("e+0", "e"),
            f"{r['build_s']:.2f}",
            f"{r['compile_s']:.2f}",
            f"{r['median_s'] * 1e3:.1f}",
            f"{r['neuron_steps_per_s']:.3g}",
            f"{r['mean_rate_hz']:.1f}",
        ]
        for r in rows
    ]
    md = f"Jaxley {jx.__version__} (jax {jax.__version__}), float32, {args.steps} steps\n\n"
    md += C.markdown_table(header, table)
    print("\n" + md)
    payload = {
        "tool": "jaxley",
        "jaxley": jx.__version__,
        "jax": jax.__version__,
        "machine": C.machine_info(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
    }
    print(f"wrote {C.write(args.name or 'jaxley', payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
