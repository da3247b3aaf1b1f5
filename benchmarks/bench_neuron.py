"""The HH population of `bench_populations.py` in NEURON (Hines & Carnevale 1997, Neural
Comput 9:1179), for a side-by-side comparison on the same machine.

Each neuron is a single-compartment NEURON cell: a `Section` of area 100 µm²
(L = diam = 10/√π µm, one segment), `cm` = 1 µF/cm², the built-in `hh` mechanism at
6.3 °C with the per-neuron leak reversal `el_hh` of `_common.hh_e_l`, and an `IClamp`
of `HH_I0` µA/cm² × 100 µm² (= 0.005 nA) switched on at t = 0. Spikes are recorded by a
`NetCon` with threshold 0 mV per cell (counts are compared with neurojax's). dt = 0.025 ms
fixed step, 1000 steps via `ParallelContext.psolve`.

NEURON integrates V with backward Euler and the gates with `cnexp` (staggered by dt/2),
not the exponential Euler of neurojax / Brian2, so spike counts agree only up to the
scheme's O(dt) difference. Its `hh` uses rate lookup tables by default (`usetable_hh = 1`,
linear interpolation on a 1 mV grid); `--table 0` evaluates the rates exactly, as
neurojax does. `--cache-efficient 1` turns on `CVode().cache_efficient`, NEURON's
contiguous memory layout for many cells; `--threads` uses NEURON's own threads.

Usage (NEURON from PyPI: `pip install neuron`):

    python benchmarks/bench_neuron.py                       # 10³ and 10⁴ cells
    python benchmarks/bench_neuron.py --sizes 1000 --threads 1 2 --table 1 0
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

AREA_UM2 = 100.0
DIAM_UM = (AREA_UM2 / 3.141592653589793) ** 0.5  # L = diam: π·diam·L = 100 µm²


def build(h, size: int):
    """`size` HH cells with their IClamps and spike NetCons."""
    amp_na = C.HH_I0 * AREA_UM2 * 1e-8 * 1e3  # µA/cm² × cm² = µA → nA
    e_l = C.hh_e_l(size)
    cells, stims, netcons = [], [], []
    spike_times, spike_ids = h.Vector(), h.Vector()
    for i in range(size):
        sec = h.Section(name=f"cell{i}")
        sec.L = sec.diam = DIAM_UM
        sec.nseg = 1
        sec.cm = 1.0
        sec.insert("hh")
        seg = sec(0.5)
        seg.hh.gnabar, seg.hh.gkbar, seg.hh.gl = 0.12, 0.036, C.HH_G_L * 1e-3  # S/cm²
        seg.hh.el = float(e_l[i])
        sec.ena, sec.ek = 50.0, -77.0
        stim = h.IClamp(seg)
        stim.delay, stim.dur, stim.amp = 0.0, 1e9, amp_na
        nc = h.NetCon(seg._ref_v, None, sec=sec)
        nc.threshold = 0.0
        nc.record(spike_times, spike_ids, i)
        cells.append(sec)
        stims.append(stim)
        netcons.append(nc)
    return (cells, stims, netcons), spike_times


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10**3, 10**4])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--table", type=int, nargs="+", default=[1, 0], help="usetable_hh values")
    p.add_argument("--cache-efficient", type=int, nargs="+", default=[1])
    p.add_argument("--quick", action="store_true", help="10³ cells, 2 repeats")
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = [10**3], 2
    return args


def main(argv=None):
    args = parse_args(argv)
    import neuron
    from neuron import h

    print(f"NEURON {neuron.__version__}, HH, dt={C.HH_DT} ms, {args.steps} steps")
    h.celsius = 6.3
    h.dt = C.HH_DT
    tstop = args.steps * C.HH_DT
    pc = h.ParallelContext()
    cvode = h.CVode()
    rows = []
    for n in args.sizes:
        t = time.perf_counter()
        model, spike_times = build(h, n)
        setup = time.perf_counter() - t
        for threads, table, cache in itertools.product(
            args.threads, args.table, args.cache_efficient
        ):
            pc.nthread(threads)
            h.usetable_hh = table
            cvode.cache_efficient(cache)
            pc.set_maxstep(10)

            def run(spike_times=spike_times):
                h.finitialize(-65.0)
                spike_times.resize(0)
                pc.psolve(tstop)
                if abs(h.t - tstop) > C.HH_DT / 2:
                    raise RuntimeError(f"NEURON stopped at t={h.t} ms, not {tstop} ms")

            t = time.perf_counter()
            run()
            first = time.perf_counter() - t
            # wall and CPU time of each call (CPU: this process's, every thread: on a
            # loaded machine the work done, which other jobs inflate less than the wall)
            times, cpu = [], []
            for _ in range(args.repeats):
                t, c = time.perf_counter(), C.cpu_s()
                run()
                times.append(time.perf_counter() - t)
                cpu.append(C.cpu_s() - c)
            stats = {**C.summary(times), "cpu_median_s": statistics.median(cpu)}
            spikes = int(spike_times.size())
            row = {
                "tool": "neuron",
                "model": "hh",
                "solver": "backward_euler+cnexp",
                "n": n,
                "steps": args.steps,
                "dt_ms": C.HH_DT,
                "threads": threads,
                "usetable_hh": table,
                "cache_efficient": cache,
                "setup_s": setup,
                "first_run_s": first,
                **stats,
                "neuron_steps_per_s": n * args.steps / stats["median_s"],
                "total_spikes": spikes,
                "mean_rate_hz": spikes / n / (tstop / 1000.0),
            }
            rows.append(row)
            print(
                f"N={n:>6} threads={threads} usetable={table} cache_efficient={cache}:"
                f" run {stats['median_s'] * 1e3:8.1f} ms (min {stats['min_s'] * 1e3:.1f})"
                f" → {row['neuron_steps_per_s']:.3g} neuron-steps/s;"
                f" {row['mean_rate_hz']:.1f} Hz mean rate (setup {setup:.2f} s)",
                flush=True,
            )
        pc.nthread(1)
        del model, spike_times, run  # free the sections before the next size

    header = ["N", "threads", "usetable_hh", "cache_efficient", "run, median (ms)",
              "neuron-steps/s", "mean rate (Hz)"]  # fmt: skip
    table = [
        [
            f"{r['n']:.0e}".replace("e+0", "e"),
            r["threads"],
            r["usetable_hh"],
            r["cache_efficient"],
            f"{r['median_s'] * 1e3:.1f}",
            f"{r['neuron_steps_per_s']:.3g}",
            f"{r['mean_rate_hz']:.1f}",
        ]
        for r in rows
    ]
    md = f"NEURON {neuron.__version__}, HH, {args.steps} steps\n\n"
    md += C.markdown_table(header, table)
    print("\n" + md)
    payload = {
        "tool": "neuron",
        "neuron": neuron.__version__,
        "machine": C.machine_info(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
    }
    name = args.name or "neuron" + ("_quick" if args.quick else "")
    print(f"wrote {C.write(name, payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
