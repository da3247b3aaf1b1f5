"""The populations of `bench_populations.py` in Brian2 (Stimberg, Brette & Goodman 2019,
eLife 8:e47314), for a side-by-side comparison on the same machine.

Same equations, parameters, initial state (rest at −65 mV, gates at steady state), dt and
number of steps as neurojax; Brian2's usual integration methods: `exponential_euler` for
HH (the scheme of neurojax's default solver: each variable advanced exactly under its own
linearisation) and `exact` for the linear LIF. Spikes are recorded with a `SpikeMonitor`
(counts are compared with neurojax's as a check that the models agree); nothing else is
recorded.

Brian2 is *not* a neurojax dependency: run this with a Python that has it, e.g.

    python -m venv /tmp/brian2-venv
    /tmp/brian2-venv/bin/pip install brian2 cython "numpy<2.4"   # brian2 2.9 needs numpy < 2.4
    /tmp/brian2-venv/bin/python benchmarks/bench_brian2.py --targets cython numpy

Targets: `cython` and `numpy` (Brian2's runtime modes; `cython` needs Cython and a C
compiler) run in this process; `cpp_standalone` (Brian2 generates, compiles and runs a C++
program) runs in a child process, because the device is global. Timings:

- `first_run_s`: the first `run()` — code generation and, for cython/C++, compilation
  (a fresh Cython cache directory, so nothing is reused from earlier runs) plus the run;
- `median_s`: later runs of the same network (`restore()` to the initial state between
  runs, not timed), each a full `run(1000·dt)` call including Brian2's per-run set-up.
  For `cpp_standalone`, the simulation time the C++ program reports for its main loop,
  and `cpu_median_s`, the program's CPU time per run (user + system, its start included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

HH_EQS = """
dv/dt = (I0 - g_na*m**3*h*(v - e_na) - g_k*n**4*(v - e_k) - g_l*(v - e_l))/c_m : volt
dm/dt = alpha_m*(1 - m) - beta_m*m : 1
dh/dt = alpha_h*(1 - h) - beta_h*h : 1
dn/dt = alpha_n*(1 - n) - beta_n*n : 1
alpha_m = ALPHA_M : Hz
beta_m = 4*exp(-(v + 65*mV)/(18*mV))/ms : Hz
alpha_h = 0.07*exp(-(v + 65*mV)/(20*mV))/ms : Hz
beta_h = 1/(exp(-(v + 35*mV)/(10*mV)) + 1)/ms : Hz
alpha_n = ALPHA_N : Hz
beta_n = 0.125*exp(-(v + 65*mV)/(80*mV))/ms : Hz
e_l : volt (constant)
"""
# NEURON's hh.mod rates, as in neurojax.channels.hh: 0.1·vtrap(−(v+40), 10) =
# 1/exprel(−(v+40)/10) and 0.01·vtrap(−(v+55), 10) = 0.1/exprel(−(v+55)/10), with
# `exprel` (finite at the removable singularity). Brian2's numpy target evaluates
# `exprel` through a unit-checking wrapper that formats its array argument as a string
# on every call (measured: 31.6 s for 1000 HH neurons × 1000 steps, 1000x slower than
# Cython), so for that target the classic form x/(1 − e^−x) of the Brian2 examples is
# used: the same function except exactly at v = −40 or −55 mV.
ALPHA = {
    "exprel": (
        "1/exprel(-(v + 40*mV)/(10*mV))/ms",
        "0.1/exprel(-(v + 55*mV)/(10*mV))/ms",
    ),
    "classic": (
        "0.1/mV*(v + 40*mV)/(1 - exp(-(v + 40*mV)/(10*mV)))/ms",
        "0.01/mV*(v + 55*mV)/(1 - exp(-(v + 55*mV)/(10*mV)))/ms",
    ),
}

LIF_EQS = """
dv/dt = (-(v - v_rest) + r*I0)/tau : volt (unless refractory)
v_rest : volt (constant)
"""


ALPHA_FORM = {"numpy": "classic", "cython": "exprel", "cpp_standalone": "exprel"}


def build(b2, model: str, size: int, rates: str = "exprel"):
    """The population as a Brian2 `Network`, with a spike monitor. (Brian2 reads the
    caller's local names when evaluating strings, so no local here is called `n`.)"""
    if model == "hh":
        ns = {
            "I0": C.HH_I0 * b2.uA / b2.cm**2,
            "g_na": 120 * b2.msiemens / b2.cm**2,
            "g_k": 36 * b2.msiemens / b2.cm**2,
            "g_l": C.HH_G_L * b2.msiemens / b2.cm**2,
            "e_na": 50 * b2.mV,
            "e_k": -77 * b2.mV,
            "c_m": 1 * b2.ufarad / b2.cm**2,
        }
        # neurojax's HH spike is an upward crossing of 0 mV: threshold at 0 mV, and no new
        # spike until V has fallen below it again.
        alpha_m, alpha_n = ALPHA[rates]
        group = b2.NeuronGroup(
            size,
            HH_EQS.replace("ALPHA_M", alpha_m).replace("ALPHA_N", alpha_n),
            method="exponential_euler",
            threshold="v >= 0*mV",
            refractory="v >= 0*mV",
            namespace=ns,
        )
        group.e_l = C.hh_e_l(size) * b2.mV
        group.v = -65 * b2.mV
        group.m = "alpha_m/(alpha_m + beta_m)"
        group.h = "alpha_h/(alpha_h + beta_h)"
        group.n = "alpha_n/(alpha_n + beta_n)"
        dt = C.HH_DT
    elif model == "lif":
        ns = {
            "I0": C.LIF_I0 * b2.nA,
            "r": 10 * b2.Mohm,
            "tau": 10 * b2.ms,
            "v_th": -50 * b2.mV,
            "v_reset": -65 * b2.mV,
        }
        group = b2.NeuronGroup(
            size,
            LIF_EQS,
            method="exact",
            threshold="v >= v_th",
            reset="v = v_reset",
            refractory=2 * b2.ms,
            namespace=ns,
        )
        group.v_rest = C.lif_v_rest(size) * b2.mV
        group.v = "v_rest"
        dt = C.LIF_DT
    else:
        raise SystemExit(f"unknown model {model!r}: use hh or lif")
    monitor = b2.SpikeMonitor(group, record=False)  # counts only, no spike times
    return b2.Network(group, monitor), monitor, dt


def set_dtype(b2, dtype: str):
    b2.prefs.core.default_float_dtype = {"float32": b2.float32, "float64": b2.float64}[dtype]


def run_runtime(target: str, model: str, n: int, steps: int, repeats: int, dtype: str) -> dict:
    """One (model, N) with a runtime target (numpy or cython), in this process."""
    import brian2 as b2

    set_dtype(b2, dtype)
    b2.prefs.codegen.target = target
    b2.start_scope()
    net, monitor, dt = build(b2, model, n, ALPHA_FORM[target])
    b2.defaultclock.dt = dt * b2.ms
    duration = steps * dt * b2.ms
    net.store()
    t = time.perf_counter()
    net.run(duration)
    first = time.perf_counter() - t
    spikes = int(monitor.num_spikes)
    # Fewer repeats where one run is long (the numpy target at 10⁵–10⁶ neurons).
    repeats = repeats if first < 10 else min(repeats, 2)
    times, cpu = [], []
    for _ in range(repeats):
        net.restore()
        t, c = time.perf_counter(), C.cpu_s()
        net.run(duration)
        times.append(time.perf_counter() - t)
        # this process's CPU time: on a loaded machine the work done
        cpu.append(C.cpu_s() - c)
    return {
        "first_run_s": first,
        **C.summary(times),
        "cpu_median_s": statistics.median(cpu),
        "total_spikes": spikes,
    }


def run_standalone(
    model: str, n: int, steps: int, repeats: int, build_dir: Path, dtype: str
) -> dict:
    """One (model, N) as a Brian2 C++ standalone program (called in a child process)."""
    import brian2 as b2

    set_dtype(b2, dtype)
    b2.set_device("cpp_standalone", build_on_run=False)
    net, monitor, dt = build(b2, model, n)
    b2.defaultclock.dt = dt * b2.ms
    net.run(steps * dt * b2.ms)
    t = time.perf_counter()
    b2.device.build(directory=str(build_dir), compile=True, run=True, with_output=False)
    first = time.perf_counter() - t
    compile_s = sum(v for v in b2.device.timers["compile"].values() if v is not None)
    spikes = int(monitor.num_spikes)
    times = [b2.device._last_run_time]
    cpu = []
    for _ in range(repeats - 1):
        c = C.children_cpu_s()
        b2.device.run(with_output=False)
        # the program's CPU time (user + system; its start and loading included): on a
        # loaded machine, the work done, which other jobs inflate less than the wall time
        cpu.append(C.children_cpu_s() - c)
        times.append(b2.device._last_run_time)
    return {
        "first_run_s": first,
        "compile_s": compile_s,
        **C.summary(times),
        "cpu_median_s": statistics.median(cpu) if cpu else None,
        "total_spikes": spikes,
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6])
    p.add_argument("--models", nargs="+", default=["hh", "lif"], choices=["hh", "lif"])
    p.add_argument(
        "--targets",
        nargs="+",
        default=["cython", "numpy"],
        choices=["cython", "numpy", "cpp_standalone"],
    )
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="prefs.core.default_float_dtype (Brian2's default is float64; neurojax's float32)",
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--max-run-s",
        type=float,
        default=60.0,
        help="skip a size whose run is predicted (linearly from the previous size) to take longer",
    )
    p.add_argument("--quick", action="store_true", help="sizes 10³ and 10⁴, 2 repeats")
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats = [10**3, 10**4], 2
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:  # cpp_standalone child: "model:n:build_dir"
        model, n, build_dir = args.child.split(":", 2)
        res = run_standalone(model, int(n), args.steps, args.repeats, Path(build_dir), args.dtype)
        print(json.dumps(res))
        return

    import brian2 as b2
    import numpy as np

    print(f"Brian2 {b2.__version__} (numpy {np.__version__}), {args.steps} steps, {args.dtype}")
    cache = tempfile.mkdtemp(prefix="brian2_cython_")
    b2.prefs.codegen.runtime.cython.cache_dir = cache  # fresh: first runs include compiling
    rows = []
    for target in args.targets:
        for model in args.models:
            prev = None
            for n in sorted(args.sizes):
                if prev is not None and prev["median_s"] * n / prev["n"] > args.max_run_s:
                    skip = f"skipped (run predicted > {args.max_run_s} s)"
                    print(f"{target:>14} {model:>3} N={n:>8}: {skip}")
                    continue
                if target == "cpp_standalone":
                    with tempfile.TemporaryDirectory(prefix="brian2_standalone_") as d:
                        out = subprocess.run(
                            [sys.executable, __file__, "--child", f"{model}:{n}:{d}",
                             "--steps", str(args.steps), "--repeats", str(args.repeats),
                             "--dtype", args.dtype],
                            capture_output=True, text=True, check=False,
                        )  # fmt: skip
                    if out.returncode:
                        print(out.stdout[-2000:], out.stderr[-4000:])
                        raise SystemExit(f"cpp_standalone child failed for {model} N={n}")
                    res = json.loads(out.stdout.strip().splitlines()[-1])
                else:
                    res = run_runtime(target, model, n, args.steps, args.repeats, args.dtype)
                dt = C.HH_DT if model == "hh" else C.LIF_DT
                row = {
                    "tool": "brian2",
                    "target": target,
                    "model": model,
                    "solver": "exponential_euler" if model == "hh" else "exact",
                    "hh_rates": None if model == "lif" else ALPHA_FORM[target],
                    "n": n,
                    "steps": args.steps,
                    "dt_ms": dt,
                    "dtype": args.dtype,
                    **res,
                    "neuron_steps_per_s": n * args.steps / res["median_s"],
                    "mean_rate_hz": res["total_spikes"] / n / (args.steps * dt / 1000.0),
                }
                rows.append(row)
                prev = row
                print(
                    f"{target:>14} {model:>3} N={n:>8}: first run {res['first_run_s']:7.2f} s,"
                    f" run {res['median_s'] * 1e3:9.1f} ms (min {res['min_s'] * 1e3:.1f})"
                    f" → {row['neuron_steps_per_s']:.3g} neuron-steps/s;"
                    + (
                        f" CPU {res['cpu_median_s'] * 1e3:.1f} ms;"
                        if res.get("cpu_median_s")
                        else ""
                    )
                    + f" {row['mean_rate_hz']:.1f} Hz mean rate",
                    flush=True,
                )
    header = ["target", "model", "N", "first run (s)", "run, median (ms)", "neuron-steps/s",
              "mean rate (Hz)"]  # fmt: skip
    table = [
        [
            r["target"],
            r["model"].upper(),
            f"{r['n']:.0e}".replace("e+0", "e"),
            f"{r['first_run_s']:.2f}",
            f"{r['median_s'] * 1e3:.1f}",
            f"{r['neuron_steps_per_s']:.3g}",
            f"{r['mean_rate_hz']:.1f}",
        ]
        for r in rows
    ]
    md = f"Brian2 {b2.__version__}, {args.dtype}, {args.steps} steps\n\n"
    md += C.markdown_table(header, table)
    print("\n" + md)
    payload = {
        "tool": "brian2",
        "brian2": b2.__version__,
        "numpy": np.__version__,
        "machine": C.machine_info(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
    }
    name = args.name or "brian2" + ("_quick" if args.quick else "")
    print(f"wrote {C.write(name, payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
