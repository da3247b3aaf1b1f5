"""Shared helpers of the benchmark scripts: machine description, populations, tables.

Kept free of JAX, Brian2 and NEURON imports so every script (each may run in its own
environment) can use it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

# Where the scripts write `<name>.{json,md}` by default: `benchmarks/results/`, or the
# folder in NEUROJAX_BENCH_RESULTS (`run.py` sets it for its children, so that a run of
# the whole suite, `--quick` above all, does not overwrite the recorded results).
RESULTS = Path(
    os.environ.get("NEUROJAX_BENCH_RESULTS") or Path(__file__).resolve().parent / "results"
)

# The benchmark populations. Every tool simulates exactly these, so spike counts can be
# compared as a check that the equations agree.
#
# HH (Hodgkin & Huxley 1952, NEURON `hh` defaults, 6.3 °C): a common input of
# `HH_I0` µA/cm² plus a per-neuron bias current spread evenly over [0, HH_BIAS] µA/cm²,
# i.e. an f–I sweep from below rheobase into repetitive firing. The bias enters as a
# per-neuron leak reversal `e_l + I_bias/g_l`, which is exactly a bias current
# (g_l(V − e_l − I_bias/g_l) = g_l(V − e_l) − I_bias) and uses only the library's
# model: a per-neuron *input* array (n_steps, N) would be 4 GB at 10⁶ neurons.
HH_DT = 0.025  # ms
HH_I0 = 5.0  # µA/cm²
HH_BIAS = 10.0  # µA/cm²
HH_G_L = 0.3  # mS/cm²
HH_E_L = -54.3  # mV
# LIF (tau = 10 ms, R = 10 MΩ, rest −65 mV, threshold −50 mV, reset −65 mV, 2 ms refractory):
# common input LIF_I0 nA (rheobase 1.5 nA) plus a per-neuron bias R·I_bias spread over
# [0, LIF_BIAS_MV] mV, entered as a per-neuron resting potential v_rest + R·I_bias.
LIF_DT = 0.1  # ms
LIF_I0 = 1.5  # nA
LIF_BIAS_MV = 10.0  # mV
LIF_V_REST = -65.0  # mV


def bias_fraction(n: int) -> np.ndarray:
    """Neuron i gets fraction i/(n−1) of the bias (0 for a single neuron), float64."""
    return np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)


def hh_e_l(n: int) -> np.ndarray:
    """Per-neuron leak reversal (mV) that encodes the HH bias current."""
    return HH_E_L + HH_BIAS * bias_fraction(n) / HH_G_L


def lif_v_rest(n: int) -> np.ndarray:
    """Per-neuron resting potential (mV) that encodes the LIF bias current."""
    return LIF_V_REST + LIF_BIAS_MV * bias_fraction(n)


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    try:
        info["load_average_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def cpu_s() -> float:
    """CPU time of this process (user + system, all threads), s: on a loaded machine a
    steadier measure than the wall clock."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu_s() -> float:
    """CPU time of this process's finished children (e.g. Brian2's standalone program), s."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_standalone(build_dir: str) -> tuple[float, float]:
    """Run Brian2's C++ standalone program already built in `build_dir` once: `(main loop
    s, whole program CPU s)`: the loop's own wall clock from its
    `results/last_run_info.txt`, the program's CPU time (start included) from
    `RUSAGE_CHILDREN`."""
    c = children_cpu_s()
    subprocess.run(["./main"], cwd=build_dir, check=True, capture_output=True)
    program_cpu = children_cpu_s() - c
    with open(os.path.join(build_dir, "results", "last_run_info.txt")) as f:
        loop = float(f.read().split()[0])
    return loop, program_cpu


def timeit(fn, repeats: int) -> list[float]:
    """Wall-clock seconds of `repeats` calls of `fn()`."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def summary(times: list[float]) -> dict:
    return {"median_s": statistics.median(times), "min_s": min(times), "all_s": times}


def fmt_rate(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write(name: str, payload: dict, markdown: str, out_dir: Path | None = None) -> Path:
    """Write `results/<name>.json` and `results/<name>.md`; returns the JSON path."""
    out_dir = Path(out_dir) if out_dir is not None else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1))
    (out_dir / f"{name}.md").write_text(markdown + "\n")
    return path


def neurojax_payload(args, rows: list) -> dict:
    """The JSON record of a neurojax benchmark: device, versions, machine, options, rows."""
    import jax

    import neurojax as nj

    device = jax.devices()[0]
    return {
        "tool": "neurojax",
        "device": {"platform": device.platform, "kind": device.device_kind, "str": str(device)},
        "jax": jax.__version__,
        "neurojax": nj.__version__,
        "machine": machine_info(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
    }
