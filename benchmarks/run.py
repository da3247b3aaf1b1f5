"""Every benchmark case, neurojax and each installed peer, into one table.

    python benchmarks/run.py            # every group (hours on a 2-core CPU: see README.md)
    python benchmarks/run.py --quick    # every group tiny: tests the runner
    python benchmarks/run.py --list     # the groups (--only GROUP ...) and their scripts

Writes `results/summary.md` and `results/summary.json` (`--quick`: `summary_quick.*`):
medians and ratios, with the machine (CPU model, cores, GPU if any, load average) and
the version of every tool. Cases, each in its own process (so that its peak memory is
its own):

- **single neuron**: one HH neuron, 4000 steps, forward run and gradients per solver,
  gradient compile time (`bench_gradient.py`; Jaxley's forward and gradient beside it);
- **populations**: HH 10⁴ neurons (neurojax's default solver and exponential Euler) and
  LIF 10⁵ neurons, 1000 steps (`bench_populations.py`), against NEURON, Brian2 (Cython
  and C++ standalone), BrainPy and Jaxley (HH only) — throughput in neuron-steps/s;
- **cable cells**: branched HH cells of 500 and 2000 compartments, forward and gradient
  (`bench_cable.py`), against NEURON and Jaxley;
- **network**: the COBA benchmark, 4000 LIF neurons, 1 s (`bench_network.py`), against
  Brian2 and BrainPy;
- **compile times** of each (neurojax: tracing + XLA compilation; peers: their
  build/compile or first-run overhead);
- **peak memory**: the peak resident set size of each case's process tree (Linux
  `wait4`), beside the peak of a process that only imports JAX and neurojax;
- **the other groups**, one script each, whose own `<name>.{json,md}` (written into this
  run's folder: `NEUROJAX_BENCH_RESULTS`, never over `results/`) go into the summary as
  they are: `hay2011` (Hay et al.'s cell vs NEURON), `dendritic` (vs dendrify,
  `DENDRIFY_PYTHON`), `compile_cache`, `interleaved` (vs BrainPy in this process and
  Brian2 standalone, alternating), `solvers` (HH schemes), `memory` (gradient memory and
  long runs), `coba_profile` (a COBA step's costs), `analysis` (`bifurcation_diagram`),
  `emitters` (XLA:CPU fusion emitters). A group whose peer or NEURON is missing is
  skipped with a line saying why (`hay2011` needs NEURON even with `--no-peers`).

Peers run in their own Python environments, found through environment variables (or the
`--*-python` options); a peer whose variable is unset, or whose interpreter cannot import
it, is skipped with a line saying so:

- `NEURON_PYTHON`: a Python with `neuron` (default: this one, where `pip install neuron`
  puts it; it is in neurojax's `[dev]` extra);
- `BRAINPY_PYTHON`: a Python with `brainpy` (`python -m venv /tmp/peers-venv &&
  /tmp/peers-venv/bin/pip install jaxley brainpy numba`; BrainPy's sparse event kernels,
  used by the network, need `numba` on CPU);
- `JAXLEY_PYTHON`: a Python with `jaxley` (default: `BRAINPY_PYTHON`);
- `BRIAN2_PYTHON`: a Python with `brian2` and `cython` (numpy < 2.3, so its own
  environment: `python -m venv /tmp/brian2-venv && /tmp/brian2-venv/bin/pip install
  "numpy<2.3" brian2 cython`).

Every figure is a median of repeated runs after a warm-up, measured one tool after the
other: on a machine that runs other jobs (see the load average in the summary) the
ratios are indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402

# ---------------------------------------------------------------------------- sizes

FULL = {
    "hh_n": 10**4,
    "lif_n": 10**5,
    "steps": 1000,
    "repeats": 5,
    "gradient": [],  # bench_gradient.py's defaults: 4000 steps, 4 solvers, 10³ population
    "cable_branches": [50, 200, 1000],  # 500, 2000, 10⁴ compartments
    "cable": ["--repeats", "3", "--batch", "100"],
    "cable_batch": {1000: "10"},  # the 10⁴-compartment batch: 10 cells (README's table)
    "network_n": 4000,
    "network_repeats": "3",
    "brian2_targets": ["cython", "cpp_standalone"],
    "brian2_network": "brian2",  # both Brian2 modes
    "timeout_s": 3600,
    # the other groups: each script's own defaults (those of the figures it reproduces)
    "hay2011": [],
    "dendritic": [],
    "compile_cache": [],
    "interleaved": [],
    "solvers": [],
    "solvers_1e3": ["--n", "1000"],  # the population gradient at 10³ (README)
    "memory": ["--lengths", "1000", "10000", "100000", "1000000"],
    "coba_profile": ["--rounds", "5"],
    "long_runs": [],
    "analysis": [],
    "emitters": ["--rounds", "3"],
}
QUICK = {
    "hh_n": 10**3,
    "lif_n": 10**4,
    "steps": 200,
    "repeats": 2,
    "gradient": ["--steps", "400", "--repeats", "2", "--solvers", "exponential_rk2",
                 "--population", "100", "--population-steps", "100"],
    "cable_branches": [5],
    "cable": ["--repeats", "1", "--batch", "2"],
    "network_n": 400,
    "network_repeats": "1",
    "brian2_targets": ["numpy"],  # no compilation: Cython's alone takes ~20 s a model
    "brian2_network": "brian2_cython",
    "timeout_s": 600,
    "hay2011": ["--T", "2", "--repeats", "1"],
    "dendritic": ["--n", "200", "--ms", "20", "--repeats", "1", "--solvers", "euler"],
    "dendritic_targets": ["numpy"],  # Brian2 without compilation (Cython: ~2 min a model)
    "compile_cache": ["--cases", "hh"],
    "interleaved": ["--cases", "hh:100", "lif:1000", "--steps", "100", "--repeats", "2"],
    "interleaved_brian2": False,  # its C++ standalone builds (~30 s each): full run only
    "solvers": ["--n", "100", "--steps", "100", "--rounds", "1"],
    "solvers_1e3": None,
    "coba_profile": ["--rounds", "1"],
    # profile_coba_step.py's sizes come from the environment: 400 LIF, 200 steps, 3 pieces
    "coba_profile_env": {"COBA_N": "400", "COBA_STEPS": "200",
                         "COBA_PIECES": "full search propagate"},  # fmt: skip
    "memory": ["--lengths", "1000", "--no-rss"],
    "long_runs": ["--only", "lif_1e5x1e4", "--compile-only", "lif_1e5x1e4"],
    "analysis": ["reduced"],
    "emitters": ["--cases", "hh1e2", "--rounds", "1"],
}  # fmt: skip


# group → (scripts, what it measures); the summary's sections come in this order
GROUP_INFO = {
    "gradient": ("bench_gradient.py", "single HH neuron: forward, gradients, compile (Jaxley)"),
    "populations": ("bench_populations.py (+ bench_neuron/brian2/brainpy/jaxley.py)",
                    "HH 10⁴ and LIF 10⁵ populations vs NEURON, Brian2, BrainPy, Jaxley"),
    "cable": ("bench_cable.py", "branched HH cells, 500 / 2000 / 10⁴ compartments (NEURON, "
              "Jaxley)"),
    "network": ("bench_network.py", "COBA, 4000 LIF, 1 s (Brian2, BrainPy)"),
    "hay2011": ("bench_hay2011.py", "Hay et al. 2011 L5 cell vs NEURON: forward, gradient, "
                "compile, gradient memory (needs NEURON)"),
    "dendritic": ("bench_dendritic.py", "10⁴ three-compartment dendritic network vs "
                  "dendrify/Brian2 (DENDRIFY_PYTHON)"),
    "compile_cache": ("bench_compile_cache.py", "first-call latency, persistent cache "
                      "off / cold / warm"),
    "interleaved": ("bench_interleaved.py", "populations interleaved call by call vs BrainPy "
                    "(same JAX) and Brian2 C++ standalone (needs one of them)"),
    "solvers": ("bench_hh_solvers.py", "HH 10⁴ schemes vs exponential Euler, forward and "
                "gradient, CPU time"),
    "memory": ("bench_memory.py, bench_long_runs.py", "gradient memory (checkpointing) and "
               "peak memory of long runs"),
    "coba_profile": ("profile_coba_step.py", "where one COBA step's CPU time goes, cost per "
                     "spike of the event-driven propagation (4000 LIF, 1 s)"),
    "analysis": ("bench_analysis.py", "bifurcation_diagram with limit cycles, wall / CPU"),
    "emitters": ("bench_xla_emitters.py", "XLA:CPU default vs legacy fusion emitters"),
}  # fmt: skip
GROUPS = list(GROUP_INFO)
EXTRA = GROUPS[4:]  # groups that run one script each and whose summary is its own table


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="every case tiny, to test the runner")
    p.add_argument(
        "--only",
        nargs="+",
        choices=GROUPS,
        default=GROUPS,
        metavar="GROUP",
        help="run only these groups: " + ", ".join(GROUPS),
    )
    p.add_argument("--list", action="store_true", help="list the groups and their scripts")
    p.add_argument(
        "--dendrify-python",
        default=os.environ.get("DENDRIFY_PYTHON", "/tmp/dendrify-venv/bin/python"),
        help="a Python with dendrify + brian2 (dendritic group)",
    )
    p.add_argument("--no-peers", action="store_true", help="neurojax only")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="populations: run every tool this many times, alternating (medians over rounds)",
    )
    p.add_argument(
        "--jaxley-rounds",
        type=int,
        default=1,
        help="rounds that include Jaxley (its build is slow)",
    )
    p.add_argument("--neuron-python", default=os.environ.get("NEURON_PYTHON", sys.executable))
    p.add_argument("--brainpy-python", default=os.environ.get("BRAINPY_PYTHON"))
    p.add_argument(
        "--jaxley-python",
        default=os.environ.get("JAXLEY_PYTHON", os.environ.get("BRAINPY_PYTHON")),
    )
    p.add_argument("--brian2-python", default=os.environ.get("BRIAN2_PYTHON"))
    p.add_argument("--name", default=None, help="results/<name>.{md,json} (default: summary)")
    p.add_argument("--out-dir", type=Path, default=C.RESULTS)
    p.add_argument("--keep-raw", type=Path, default=None, help="keep each script's output here")
    return p.parse_args(argv)


# ------------------------------------------------------------------ child processes


class Runner:
    """Runs each case in its own process, records its wall time and peak RSS (of the
    process and its waited-for children, from `wait4`), and keeps going on failure."""

    def __init__(self, raw: Path, timeout_s: float):
        self.raw, self.timeout_s = raw, timeout_s
        self.log: list[dict] = []
        self.skipped: list[str] = []

    def skip(self, line: str):
        print(f"[skip] {line}", flush=True)
        self.skipped.append(line)

    def run(self, label: str, cmd: list[str], env: dict | None = None) -> dict:
        # children write their own results/<name>.* into the run's raw folder, never over
        # the recorded ones in benchmarks/results/ (`_common.RESULTS`)
        env = dict(os.environ if env is None else env)
        env.setdefault("NEUROJAX_BENCH_RESULTS", str(self.raw / "results"))
        print(f"[run ] {label}: {' '.join(cmd)}", flush=True)
        out_path = self.raw / (label.replace(" ", "_").replace("/", "_") + ".log")
        t = time.perf_counter()
        with open(out_path, "w") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=HERE.parent
            )
            deadline = time.monotonic() + self.timeout_s
            status, rusage = 0, None
            while True:
                pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    _, status, rusage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        rec = {
            "label": label,
            "cmd": cmd,
            "returncode": proc.returncode,
            "wall_s": wall,
            "peak_rss_mib": rusage.ru_maxrss / 1024 if rusage else None,
            "log": str(out_path),
        }
        self.log.append(rec)
        tail = out_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        state = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(
            f"[{'done' if proc.returncode == 0 else 'FAIL'}] {label}: {state}, {wall:.1f} s, "
            f"peak RSS {rec['peak_rss_mib']:.0f} MiB — {tail[0][:120]}",
            flush=True,
        )
        if proc.returncode:
            rec["tail"] = out_path.read_text(errors="replace")[-3000:]
        return rec


def has_module(python: str | None, module: str) -> str | None:
    """The module's version if `python` imports it, else None."""
    if not python:
        return None
    code = (
        f"import importlib.metadata as m, {module} as x; "
        f"print(getattr(x, '__version__', None) or m.version('{module}'))"
    )
    try:
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout else None


def versions_of(python: str, modules: list[str]) -> dict:
    code = (
        "import importlib.metadata as m, json, platform\n"
        "v = {'python': platform.python_version()}\n"
        f"for k in {modules!r}:\n"
        "    try: v[k] = m.version(k)\n"
        "    except Exception: pass\n"
        "print(json.dumps(v))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {}


def machine() -> dict:
    info = C.machine_info()
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        info["memory_gib"] = round(kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    code = (
        "import jax, json; d = jax.devices(); "
        "print(json.dumps({'backend': jax.default_backend(), 'devices': [str(x) for x in d], "
        "'kinds': sorted({x.device_kind for x in d})}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        info["jax_devices"] = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        info["jax_devices"] = None
    gpus = []
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        gpus = [line.strip() for line in smi.stdout.splitlines() if line.strip()]
    info["gpus"] = gpus
    return info


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


# ------------------------------------------------------------------------- the cases


def run_cases(args, S: dict, R: Runner, raw: Path, peers: dict) -> dict:
    py = sys.executable
    B = str(HERE)
    data: dict = {"gradient": [], "populations": [], "cable": [], "network": []}

    def peak(rec):
        return rec["peak_rss_mib"] if rec["returncode"] == 0 else None

    # baseline: what a process that imports JAX + neurojax and runs one jitted op peaks at
    rec = R.run(
        "baseline neurojax",
        [py, "-c", "import jax, neurojax; jax.block_until_ready(jax.jit(lambda x: x + 1)(1.0))"],
    )
    data["baseline_peak_rss_mib"] = peak(rec)

    # ---------------------------------------------------------------- single neuron
    if "gradient" in args.only:
        if not (HERE / "bench_gradient.py").exists():
            R.skip("single neuron forward/gradient: benchmarks/bench_gradient.py is absent")
        else:
            cmd = [py, f"{B}/bench_gradient.py", *S["gradient"], "--name", "gradient",
                   "--out-dir", str(raw)]  # fmt: skip
            if peers.get("jaxley"):
                cmd += ["--jaxley-python", args.jaxley_python]
            elif not args.no_peers:
                R.skip("Jaxley single neuron: no JAXLEY_PYTHON / BRAINPY_PYTHON with jaxley")
            rec = R.run("gradient", cmd)
            payload = load_json(raw / "gradient.json") if rec["returncode"] == 0 else None
            for r in (payload or {}).get("rows", []):
                tool = "jaxley" if r.get("tree") == "jaxley" else "neurojax"
                if r.get("tree", "this") not in ("this", "jaxley"):
                    continue
                data["gradient"].append({**r, "tool": tool, "peak_rss_mib": peak(rec)})

    # ------------------------------------------------------------------ populations
    if "populations" in args.only:
        steps, reps = str(S["steps"]), str(S["repeats"])
        every = "100" if S["steps"] % 100 == 0 else str(S["steps"])
        pops = [("hh", S["hh_n"], ["hh:default", "hh:exponential_euler"]),
                ("lif", S["lif_n"], ["lif:default"])]  # fmt: skip
        # Rounds: every tool once per round, rounds one after the other, so that a
        # load that changes during the run falls on every tool alike; the summary takes
        # each tool's median over the rounds (`_over_rounds`).
        order = [(rnd, *pop) for rnd in range(args.rounds) for pop in pops]
        for rnd, model, n, cases in order:
            _mark_round(data["populations"], rnd)
            tag = f"{model}_{n}" + (f"_r{rnd}" if rnd else "")
            rec = R.run(
                f"populations neurojax {tag}",
                [py, f"{B}/bench_populations.py", "--sizes", str(n), "--cases", *cases,
                 "--steps", steps, "--save-every", every, "--repeats", reps,
                 "--name", f"nj_{tag}", "--out-dir", str(raw)],
            )  # fmt: skip
            for r in (load_json(raw / f"nj_{tag}.json") or {}).get("rows", []):
                data["populations"].append(
                    {**r, "tool": "neurojax", "variant": r["solver"], "peak_rss_mib": peak(rec)}
                )
            # NEURON (HH only)
            if model == "hh":
                if peers.get("neuron"):
                    threads = str(C.machine_info().get("usable_cores") or 1)
                    rec = R.run(
                        f"populations neuron {tag}",
                        [args.neuron_python, f"{B}/bench_neuron.py", "--sizes", str(n),
                         "--steps", steps, "--repeats", reps, "--threads", threads,
                         "--table", "1", "--cache-efficient", "1", "--name", f"nrn_{tag}",
                         "--out-dir", str(raw)],
                    )  # fmt: skip
                    for r in (load_json(raw / f"nrn_{tag}.json") or {}).get("rows", []):
                        data["populations"].append(
                            {**r, "tool": "neuron", "compile_s": r.get("setup_s"),
                             "variant": f"backward Euler + cnexp, {r['threads']} threads, "
                             "rate tables", "peak_rss_mib": peak(rec)}
                        )  # fmt: skip
                if peers.get("jaxley") and rnd < args.jaxley_rounds:
                    rec = R.run(
                        f"populations jaxley {tag}",
                        [args.jaxley_python, f"{B}/bench_jaxley.py", "--sizes", str(n),
                         "--steps", steps, "--repeats", reps, "--name", f"jx_{tag}",
                         "--out-dir", str(raw)],
                    )  # fmt: skip
                    for r in (load_json(raw / f"jx_{tag}.json") or {}).get("rows", []):
                        data["populations"].append(
                            {**r, "tool": "jaxley", "variant": "bwd_euler (default)",
                             "peak_rss_mib": peak(rec)}
                        )  # fmt: skip
            if peers.get("brainpy"):
                rec = R.run(
                    f"populations brainpy {tag}",
                    [args.brainpy_python, f"{B}/bench_brainpy.py", "--models", model,
                     "--sizes", str(n), "--steps", steps, "--repeats", reps,
                     "--name", f"bp_{tag}", "--out-dir", str(raw)],
                )  # fmt: skip
                for r in (load_json(raw / f"bp_{tag}.json") or {}).get("rows", []):
                    data["populations"].append(
                        {**r, "tool": "brainpy", "variant": "exp_auto (exponential Euler)",
                         "peak_rss_mib": peak(rec)}
                    )  # fmt: skip
            if peers.get("brian2"):
                for target in S["brian2_targets"]:
                    rec = R.run(
                        f"populations brian2 {target} {tag}",
                        [args.brian2_python, f"{B}/bench_brian2.py", "--targets", target,
                         "--models", model, "--sizes", str(n), "--steps", steps,
                         "--repeats", reps, "--name", f"b2_{target}_{tag}",
                         "--out-dir", str(raw)],
                    )  # fmt: skip
                    for r in (load_json(raw / f"b2_{target}_{tag}.json") or {}).get("rows", []):
                        data["populations"].append(
                            {**r, "tool": "brian2", "variant": f"{target}, {r['solver']}",
                             "compile_s": r.get("compile_s",
                                                r["first_run_s"] - r["median_s"]),
                             "peak_rss_mib": peak(rec)}
                        )  # fmt: skip

        _mark_round(data["populations"], args.rounds - 1)

    # ------------------------------------------------------------------- cable cells
    if "cable" in args.only:
        tools = [("neurojax", py)]
        tools += [("neuron", args.neuron_python)] if peers.get("neuron") else []
        tools += [("jaxley", args.jaxley_python)] if peers.get("jaxley") else []
        for nb in S["cable_branches"]:
            for tool, python in tools:
                out = raw / f"cable_{tool}_{nb}.json"
                rec = R.run(
                    f"cable {tool} {nb * 10}",
                    [python, f"{B}/bench_cable.py", "--tool", tool, "--branches", str(nb),
                     *S["cable"], *(["--batch", S["cable_batch"][nb]]
                                    if nb in S.get("cable_batch", {}) else []),
                     "--json-out", str(out)],
                )  # fmt: skip
                for r in load_json(out) or []:
                    data["cable"].append({**r, "tool": tool, "peak_rss_mib": peak(rec)})

    # ----------------------------------------------------------------------- network
    if "network" in args.only:
        n = str(S["network_n"])
        sims = [("neurojax", py, "neurojax")]
        sims += [("brian2", args.brian2_python, S["brian2_network"])] if peers.get("brian2") else []
        sims += [("brainpy", args.brainpy_python, "brainpy")] if peers.get("brainpy") else []
        for tool, python, sim in sims:
            out = raw / f"network_{tool}.json"
            rec = R.run(
                f"network {tool} {n}",
                [python, f"{B}/bench_network.py", "--sim", sim, "--sizes", n,
                 "--repeats", S["network_repeats"], "--out", str(out)],
            )  # fmt: skip
            for r in (load_json(out) or {}).get("rows", []):
                # the row's own peak RSS (Brian2's modes run in children of their own)
                data["network"].append(
                    {**r, "tool": tool, "peak_rss_mib": r.get("peak_rss_mb") or peak(rec)}
                )
    run_extras(args, S, R, raw, peers, data)
    return data


def _site_packages(python: str) -> str | None:
    code = "import brainpy, os; print(os.path.dirname(os.path.dirname(brainpy.__file__)))"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout else None


def extra_commands(args, S: dict, peers: dict) -> dict:
    """group → list of (label, command) or a string: why the group is skipped."""
    py, B = sys.executable, str(HERE)
    cmds: dict = {}
    # hay2011: the NEURON side runs in this Python (validation/hay2011_cell_vs_neuron.py)
    if has_module(py, "neuron") is None:
        cmds["hay2011"] = f"NEURON is not importable by {py} (pip install neuron)"
    else:
        cmds["hay2011"] = [("hay2011", [py, f"{B}/bench_hay2011.py", *S["hay2011"]])]
    dendrify = None if args.no_peers else has_module(args.dendrify_python, "dendrify")
    targets = S.get("dendritic_targets", ["cython", "cpp_standalone"]) if dendrify else []
    cmds["dendritic"] = [("dendritic", [py, f"{B}/bench_dendritic.py", *S["dendritic"],
                          "--dendrify-python", str(args.dendrify_python),
                          "--targets", *targets])]  # fmt: skip
    if not dendrify:
        why = ("--no-peers" if args.no_peers else
               f"DENDRIFY_PYTHON {args.dendrify_python} cannot import dendrify")  # fmt: skip
        cmds["dendritic_note"] = f"dendritic: dendrify/Brian2 side ({why}): neurojax alone"
    cmds["compile_cache"] = [
        ("compile_cache", [py, f"{B}/bench_compile_cache.py", *S["compile_cache"]])
    ]
    inter = []
    if peers.get("brainpy"):
        mine = versions_of(py, ["jax"]).get("jax")
        theirs = versions_of(args.brainpy_python, ["jax"]).get("jax")
        site = _site_packages(args.brainpy_python)
        if mine == theirs and site:
            inter += ["--brainpy-site", site]
        else:
            cmds["interleaved_note"] = (
                f"interleaved: BrainPy left out (its JAX {theirs} is not this JAX {mine}; "
                "it must run in this process)"
            )
    if peers.get("brian2") and S.get("interleaved_brian2", True):
        inter += ["--brian2-python", args.brian2_python]
    elif peers.get("brian2"):
        note = "interleaved: Brian2 C++ standalone left out under --quick (its builds)"
        if "interleaved_note" in cmds:  # BrainPy left out too: one line says both
            note = cmds["interleaved_note"] + "; " + note.split(": ", 1)[1]
        cmds["interleaved_note"] = note
    cmds["interleaved"] = (
        [("interleaved", [py, f"{B}/bench_interleaved.py", *S["interleaved"], *inter])]
        if inter
        else "--no-peers"
        if args.no_peers
        else "no BrainPy with this JAX (BRAINPY_PYTHON) and no Brian2 (BRIAN2_PYTHON)"
    )
    cmds["solvers"] = [("solvers", [py, f"{B}/bench_hh_solvers.py", *S["solvers"]])]
    if S.get("solvers_1e3") is not None:
        cmds["solvers"].append(("solvers 1e3", [py, f"{B}/bench_hh_solvers.py",
                                *S["solvers_1e3"], "--name", "hh_solvers_1e3"]))  # fmt: skip
    cmds["coba_profile"] = [
        ("coba_profile", [py, f"{B}/profile_coba_step.py", *S["coba_profile"],
                          "--out", "{out}/coba_profile.json"],
         S.get("coba_profile_env", {}))
    ]  # fmt: skip
    cmds["memory"] = [
        ("memory", [py, f"{B}/bench_memory.py", *S["memory"], "--name", "memory"]),
        ("long_runs", [py, f"{B}/bench_long_runs.py", *S["long_runs"]]),
    ]
    cmds["analysis"] = [("analysis", [py, f"{B}/bench_analysis.py", *S["analysis"]])]
    cmds["emitters"] = [("emitters", [py, f"{B}/bench_xla_emitters.py", *S["emitters"]])]
    return cmds


def run_extras(args, S: dict, R: Runner, raw: Path, peers: dict, data: dict) -> None:
    """The groups that run one script each: its `results/<name>.{json,md}` (written into
    the raw folder) go into the summary as they are."""
    data["extras"] = {}
    groups = [g for g in EXTRA if g in args.only]
    if not groups:
        return
    cmds = extra_commands(args, S, peers)
    for group in groups:
        what = cmds[group]
        if isinstance(what, str):
            R.skip(f"{group}: {what}")
            continue
        if f"{group}_note" in cmds:
            R.skip(cmds[f"{group}_note"])
        out = raw / "results" / group
        out.mkdir(parents=True, exist_ok=True)
        entry = data["extras"].setdefault(group, {"processes": [], "results": {}, "md": {}})
        for label, cmd, *extra_env in what:
            cmd = [c.replace("{out}", str(out)) for c in cmd]
            env = dict(os.environ, NEUROJAX_BENCH_RESULTS=str(out), **(extra_env or [{}])[0])
            rec = R.run(label, cmd, env=env)
            entry["processes"].append(
                {k: rec[k] for k in ("label", "returncode", "wall_s", "peak_rss_mib")}
            )
        for path in sorted(out.glob("*.json")):
            entry["results"][path.stem] = load_json(path)
            md = path.with_suffix(".md")
            if md.exists():
                entry["md"][path.stem] = md.read_text()


def _extras_md(data: dict) -> list[str]:
    md: list[str] = []
    for group, entry in data.get("extras", {}).items():
        script, what = GROUP_INFO[group]
        md += [f"## `{group}`: {what} (`{script}`)", ""]
        if not entry["results"]:
            md += ["No results (the process failed: see the JSON's `processes`).", ""]
        for stem, payload in entry["results"].items():
            text = entry["md"].get(stem)
            if text:
                # its own table, headings pushed below this section's
                lines = [("###" + x[1:]) if x.startswith("# ") else x
                         for x in text.strip().splitlines()]  # fmt: skip
                md += [*lines, ""]
            elif isinstance(payload, dict):  # a record (bench_hay2011.py, profile_coba_step.py)
                flat = {}
                for k, v in payload.items():
                    if isinstance(v, dict) and k != "machine":  # one level: k.key
                        flat.update({f"{k}.{k2}": v2 for k2, v2 in v.items()})
                    else:
                        flat[k] = v
                keep = {k: v for k, v in flat.items() if not isinstance(v, bool)}
                rows = [[k, f"{v:.4g}" if isinstance(v, float) else v]
                        for k, v in keep.items() if isinstance(v, (int, float, str))]  # fmt: skip
                md += [f"### {stem}", "", C.markdown_table(["quantity", "value"], rows), ""]
    return md


def _mark_round(rows: list[dict], rnd: int) -> None:
    for r in rows:
        r.setdefault("round", rnd)


def _over_rounds(rows: list[dict]) -> list[dict]:
    """One row per (model, N, tool, scheme): the median over rounds of each round's
    median run time (the rounds' medians kept in `round_median_s`)."""
    import statistics

    groups: dict = {}
    for r in rows:
        key = (r["model"], r["n"], r["tool"], r["variant"], bool(r.get("default_solver")))
        groups.setdefault(key, []).append(r)
    out = []
    for group in groups.values():
        med = statistics.median(r["median_s"] for r in group)
        first = dict(group[0])
        first.update(
            median_s=med,
            min_s=min(r.get("min_s", r["median_s"]) for r in group),
            round_median_s=[r["median_s"] for r in group],
            rounds=len(group),
            neuron_steps_per_s=first["n"] * first["steps"] / med,
        )
        out.append(first)
    return out


# ----------------------------------------------------------------------- the summary


def _f(x, spec=".3g"):
    return "–" if x is None else format(x, spec)


def _n(n):
    return f"{n:.0e}".replace("e+0", "e") if n >= 1000 else str(n)


def summarise(data: dict, meta: dict) -> tuple[str, list[dict]]:
    """The markdown summary and the list of ratios (neurojax ÷ peer, > 1: neurojax faster)."""
    ratios: list[dict] = []
    md: list[str] = []
    m = meta["machine"]
    load0, load1 = m.get("load_average_at_start"), meta.get("load_average_at_end")
    cores = m.get("usable_cores") or m.get("logical_cores") or 1
    loaded = max((load0 or [0])[0], (load1 or [0])[0]) > 0.5 * cores
    gpu = ", ".join(m.get("gpus") or []) or "none"
    devs = m.get("jax_devices") or {}
    md += [
        f"# Benchmark summary{' (quick: tiny sizes, runner test only)' * meta['quick']}",
        "",
        f"Measured {m['date']} on {m['cpu']}, {m.get('usable_cores')} usable of "
        f"{m['logical_cores']} logical cores, {m.get('memory_gib', '?')} GiB; GPU: {gpu}; "
        f"JAX backend: {devs.get('backend', '?')} ({', '.join(devs.get('kinds', []))}). "
        f"Load average {_f((load0 or [None])[0], '.2f')} at the start, "
        f"{_f((load1 or [None])[0], '.2f')} at the end.",
        "",
    ]
    if loaded:
        md += [
            f"**The machine was loaded** (load average above half of its {cores} cores): "
            "other jobs shared the CPU, so times are slower than on an idle machine and "
            "the ratios are indicative only.",
            "",
        ]
    md += ["Versions: " + "; ".join(
        f"{env}: " + ", ".join(f"{k} {v}" for k, v in vs.items())
        for env, vs in meta["versions"].items()
    ), ""]  # fmt: skip
    if meta["skipped"]:
        md += ["Skipped: " + "; ".join(meta["skipped"]) + ".", ""]
    failed = [r["label"] for r in meta["processes"] if r["returncode"] != 0]
    if failed:
        md += ["**Failed** (see the JSON's `processes` for their output): "
               + ", ".join(failed) + ".", ""]  # fmt: skip
    md += [
        "Peak RSS is that of the case's whole process (interpreter, JAX, the compiler); "
        f"a process that only imports JAX and neurojax peaks at "
        f"{_f(data.get('baseline_peak_rss_mib'), '.0f')} MiB.",
        "",
    ]

    # -------------------------------------------------------------- single neuron
    g = data["gradient"]
    if g:
        single = [r for r in g if r["case"] == "single"]
        jx = next((r for r in single if r["tool"] == "jaxley"), None)
        steps = single[0]["steps"] if single else None
        md += [f"## Single HH neuron, {steps} steps of 0.025 ms, loss sum(V) (float32)", ""]
        header = ["tool", "solver", "forward (ms)", "reverse-mode gradient (ms)",
                  "gradient ÷ forward", "jvp ÷ forward", "gradient compile (s)",
                  "Jaxley gradient ÷ this gradient", "peak RSS (MiB)"]  # fmt: skip
        rows = []
        for r in g:
            vs = None
            if jx is not None and r["tool"] == "neurojax" and r["case"] == "single":
                vs = jx["reverse_ms"] / r["reverse_ms"]
                ratios.append({"case": "single neuron gradient", "neurojax": r["solver"],
                               "peer": "jaxley", "metric": "reverse_ms",
                               "ratio": vs})  # fmt: skip
            case = "" if r["case"] == "single" else f" (population N={r['n']}, {r['steps']} st.)"
            rows.append([r["tool"], r["solver"] + case, _f(r["forward_ms"]),
                         _f(r["reverse_ms"]), _f(r["reverse_ratio"], ".1f"),
                         _f(r.get("jvp_ratio"), ".1f"), _f(r["compile_grad_s"], ".2f"),
                         _f(vs, ".2f"), _f(r.get("peak_rss_mib"), ".0f")])  # fmt: skip
        md += [C.markdown_table(header, rows), ""]

    # ---------------------------------------------------------------- populations
    p = _over_rounds(data["populations"])
    if p:
        md += [
            "## Populations (1000 steps; HH dt = 0.025 ms, LIF dt = 0.1 ms; neuron-steps/s)"
            if not meta["quick"]
            else "## Populations (neuron-steps/s)",
            "",
            "Ratios: neurojax's exponential Euler (the scheme of BrainPy and Brian2; for the "
            "LIF also its default) and neurojax's default solver, each ÷ the row's "
            "throughput (> 1: neurojax is faster). NEURON computes in float64, all others "
            f"in float32. Run times: the median over {max(r['rounds'] for r in p)} round(s) "
            "(every tool once per round, one after the other) of each round's median of "
            "repeats; compile / build from the first round.",
            "",
        ]
        header = ["model", "N", "tool", "scheme", "compile / build (s)", "run, median (ms)",
                  "neuron-steps/s", "mean rate (Hz)", "neurojax exp. Euler ÷",
                  "neurojax default ÷", "peak RSS (MiB)"]  # fmt: skip
        rows = []
        for model in ("hh", "lif"):
            mine = [r for r in p if r["model"] == model and r["tool"] == "neurojax"]
            ee = next((r for r in mine if r["solver"] == "exponential_euler"), None)
            de = next((r for r in mine if r.get("default_solver")), None)
            for r in sorted(
                (r for r in p if r["model"] == model),
                key=lambda r: (r["tool"] != "neurojax", r["tool"], r["variant"]),
            ):
                rate = r["neuron_steps_per_s"]
                other = r["tool"] != "neurojax"
                a = ee["neuron_steps_per_s"] / rate if ee and other else None
                b = de["neuron_steps_per_s"] / rate if de and other else None
                if other:
                    for which, x in (("exponential_euler", a), ("default", b)):
                        if x is not None:
                            ratios.append({"case": f"{model} population", "n": r["n"],
                                           "neurojax": which, "peer": r["tool"],
                                           "peer_variant": r["variant"],
                                           "metric": "neuron_steps_per_s", "ratio": x})  # fmt: skip
                compile_s = r.get("compile_s")
                if r["tool"] == "neurojax":
                    compile_s = r["trace_lower_s"] + r["compile_s"]
                elif r["tool"] == "jaxley":
                    compile_s = r["build_s"] + r["compile_s"]
                variant = r["variant"] + (" (default)" if r.get("default_solver") else "")
                rows.append([model.upper(), _n(r["n"]), r["tool"], variant, _f(compile_s, ".2f"),
                             _f(r["median_s"] * 1e3, ".1f"), _f(rate), _f(r.get("mean_rate_hz"),
                             ".1f"), _f(a, ".2f"), _f(b, ".2f"),
                             _f(r.get("peak_rss_mib"), ".0f")])  # fmt: skip
        md += [C.markdown_table(header, rows), ""]

    # ---------------------------------------------------------------- cable cells
    c = data["cable"]
    if c:
        md += [
            "## Cable cells (branched HH cell, 100 ms at dt = 0.025 ms, soma V)",
            "",
            "Gradient: of the mean soma V w.r.t. every branch's g_Na. Ratio: the row's "
            "forward time ÷ neurojax's (same compartments, backward Euler; > 1: neurojax "
            "is faster).",
            "",
        ]
        header = ["compartments", "tool", "solver", "compile (s)", "forward (s)",
                  "gradient (s)", "gradient ÷ forward", "cells/s (vmap batch)",
                  "soma spikes", "÷ neurojax BE forward", "peak RSS (MiB)"]  # fmt: skip
        rows = []
        for nc in sorted({r["n_compartments"] for r in c}):
            here = [r for r in c if r["n_compartments"] == nc]
            be = next((r for r in here if r["solver"] == "BackwardEuler"), None)
            for r in here:
                x = r["forward_s"] / be["forward_s"] if be and r is not be else None
                if x is not None and r["tool"] != "neurojax":
                    ratios.append({"case": "cable forward", "n": nc,
                                   "neurojax": "BackwardEuler", "peer": r["tool"],
                                   "metric": "forward_s", "ratio": x})  # fmt: skip
                rows.append([nc, r["tool"], r["solver"], _f(r.get("compile_s"), ".2f"),
                             _f(r["forward_s"]), _f(r.get("grad_s")),
                             _f(r.get("grad_over_forward"), ".1f"),
                             _f(r.get("vmap_cells_per_s")), r.get("soma_spikes", "–"),
                             _f(x, ".2f"), _f(r.get("peak_rss_mib"), ".0f")])  # fmt: skip
        md += [C.markdown_table(header, rows), ""]

    # -------------------------------------------------------------------- network
    w = data["network"]
    if w:
        n = w[0]["n"]
        md += [
            f"## COBA network ({n} LIF, 1 s at dt = 0.1 ms)",
            "",
            "Ratio: the row's run time ÷ neurojax's (> 1: neurojax is faster).",
            "",
        ]
        header = ["simulator", "N", "build (s)", "compile / first-run overhead (s)",
                  "run, median (s)", "rate (Hz)", "÷ neurojax", "peak RSS (MiB)"]  # fmt: skip
        mine = next((r for r in w if r["tool"] == "neurojax"), None)
        rows = []
        for r in w:
            x = r["run_s"] / mine["run_s"] if mine and r is not mine else None
            if x is not None:
                ratios.append({"case": "COBA network", "n": r["n"], "peer": r["sim"],
                               "metric": "run_s", "ratio": x})  # fmt: skip
            over = r.get("compile_s")
            if over is None and r.get("first_s") is not None:
                over = r["first_s"] - r["run_s"]
            rows.append([r["sim"], r["n"], _f(r.get("build_s"), ".2f"), _f(over, ".2f"),
                         _f(r["run_s"]), _f(r.get("rate_hz"), ".1f"), _f(x, ".2f"),
                         _f(r.get("peak_rss_mib"), ".0f")])  # fmt: skip
        md += [C.markdown_table(header, rows), ""]
    md += _extras_md(data)
    return "\n".join(md), ratios


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        for g in GROUPS:
            script, what = GROUP_INFO[g]
            print(f"{g:14s} {script}: {what}")
        return 0
    S = QUICK if args.quick else FULL
    name = args.name or ("summary_quick" if args.quick else "summary")
    raw = args.keep_raw or Path(tempfile.mkdtemp(prefix="neurojax_bench_"))
    raw.mkdir(parents=True, exist_ok=True)
    R = Runner(raw, S["timeout_s"])
    t0 = time.perf_counter()
    meta: dict = {"quick": args.quick, "machine": machine()}
    print(f"machine: {meta['machine']}", flush=True)

    peers: dict = {}
    versions = {"neurojax env": versions_of(
        sys.executable, ["neurojax", "jax", "jaxlib", "equinox", "numpy", "neuron"])}  # fmt: skip
    if args.no_peers:
        R.skip("all peers (--no-peers)")
    else:
        checks = [
            ("neuron", args.neuron_python, "neuron", "NEURON_PYTHON (or pip install neuron)"),
            ("brainpy", args.brainpy_python, "brainpy", "BRAINPY_PYTHON"),
            ("jaxley", args.jaxley_python, "jaxley", "JAXLEY_PYTHON / BRAINPY_PYTHON"),
            ("brian2", args.brian2_python, "brian2", "BRIAN2_PYTHON"),
        ]
        for peer, python, module, var in checks:
            version = has_module(python, module)
            if version is None:
                why = "not set" if not python else f"{python} cannot import {module}"
                R.skip(f"{peer}: {var} {why}")
                continue
            peers[peer] = version
            print(f"[peer] {peer} {version} ({python})", flush=True)
        for peer, python, extra in (
            ("brainpy", args.brainpy_python, ["brainpy", "jax", "jaxlib", "numpy"]),
            ("jaxley", args.jaxley_python, ["jaxley", "jax", "jaxlib", "numpy"]),
            ("brian2", args.brian2_python, ["brian2", "cython", "numpy"]),
        ):
            if peer in peers:
                versions.setdefault(f"{peer} env ({python})", versions_of(python, extra))
    # one entry per environment (the peers' venv may hold both BrainPy and Jaxley)
    seen, merged = {}, {}
    for k, v in versions.items():
        key = json.dumps(v, sort_keys=True)
        if key not in seen:
            seen[key] = k
            merged[k] = v
    meta["versions"] = merged

    data = run_cases(args, S, R, raw, peers)
    try:
        meta["load_average_at_end"] = os.getloadavg()
    except OSError:
        pass
    meta["skipped"] = R.skipped
    meta["processes"] = R.log
    meta["total_s"] = time.perf_counter() - t0
    md, ratios = summarise(data, meta)
    command = "benchmarks/run.py" + " --quick" * args.quick
    md += f"\nTotal {meta['total_s']:.0f} s. Written by `{command}`."
    if args.keep_raw is None:
        for r in R.log:
            r.pop("log", None)
    payload = {**meta, "peers": peers, "ratios": ratios, **data}
    path = C.write(name, payload, md, args.out_dir)
    print("\n" + md)
    print(f"\nwrote {path} and {path.with_suffix('.md')}")
    if args.keep_raw is None:
        shutil.rmtree(raw, ignore_errors=True)
    return 1 if any(r["returncode"] for r in R.log) else 0


if __name__ == "__main__":
    sys.exit(main())
