"""neurojax against BrainPy (in ONE process) and Brian2's C++ standalone programs, their
runs interleaved call by call: a comparison that a loaded machine cannot skew (all see
the same load at the same time).

On a shared machine, tools timed one after the other (`run.py`) see different loads:
on the 2-core VM of this project a load average of 8–20 made the same run 2–5× slower
from one minute to the next. Here the two compiled runs alternate call by call, and
besides wall time each call's process CPU time is recorded (user + system, all threads):
the work done, which the other jobs on the machine do not inflate as much.

BrainPy is imported from its own environment (`--brainpy-site`, its `site-packages`),
which must hold the same JAX version as this one (both use this process's JAX and XLA,
including the XLA:CPU loop setting neurojax makes at import). The populations are those
of `bench_populations.py` (`_common.py`): HH at dt = 0.025 ms with exponential Euler
(BrainPy's `exp_auto`) and neurojax's default `Staggered`, LIF at dt = 0.1 ms,
1000 steps, float32. Each keeps what `bench_populations.py` / `bench_brainpy.py` keep:
neurojax V and the spike counts every 100 steps, BrainPy the spike count of each step
summed in its loop.

Jaxley (`--jaxley-site`, HH only) is imported the same way: its network of
single-compartment cells is built once (`bench_jaxley.build`, minutes at 10⁴ cells), and
its jitted `jx.integrate` (V of every cell at every step) called in turn. In this process
it also runs with neurojax's XLA:CPU loop setting, as BrainPy does.

Brian2 (`--brian2-python`, a Python with Brian2) builds each population once as a C++
standalone program (`bench_brian2.py`'s own build), which is then run as a child process
in turn with the other tools' calls; its CPU time is the child's (user + system).

    python benchmarks/bench_interleaved.py \
        --brainpy-site /tmp/peers-venv/lib/python3.11/site-packages \
        --brian2-python /tmp/brian2-venv/bin/python

`--vector-widths 256 512` compiles each neurojax case twice, with
`xla_cpu_prefer_vector_width` 256 and 512 (a per-compilation option; it changes no
result: the same values bit for bit, `tests/test_populations_s12.py`); 0 compiles with the
process's setting. The peers are compiled as the process's XLA_FLAGS say, and since
session 12 importing neurojax puts `--xla_cpu_prefer_vector_width=512` there on CPUs with
AVX-512: without XLA_FLAGS, BrainPy and Jaxley run at 512 bits too. For the peers as they
ship (XLA's 256-bit default) set `XLA_FLAGS=--xla_cpu_prefer_vector_width=256` (neurojax
then leaves the width alone) and pass `--vector-widths 256 512`
(`results/interleaved_s12_c2_hh_peers256.md`). BrainPy and Jaxley still get neurojax's
small-loop threshold here (a whole loop compiled into one function), which BrainPy in its
own process does not have: there its HH runs 1.5–1.7× slower (benchmarks/README.md,
"Populations against every peer, session 12").
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def _process_vector_width() -> int:
    """The `xla_cpu_prefer_vector_width` in this process's XLA_FLAGS (0: none)."""
    m = re.search(r"xla_cpu_prefer_vector_width=(\d+)", os.environ.get("XLA_FLAGS", ""))
    return int(m.group(1)) if m else 0


def _label(name: str, width: int) -> str:
    """A neurojax row's name: the scheme and its vector width; width 0 (the process's
    setting) is named when XLA_FLAGS holds one (neurojax's import sets 512 on AVX-512
    CPUs), so that no row hides its width."""
    shown = width or _process_vector_width()
    label = name if not shown else f"{name}, {shown}-bit vectors"
    return label + (" (process XLA_FLAGS)" if shown and not width else "")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _brian2_standalone(python: str, model: str, n: int, steps: int, root: Path):
    """Build the population as a Brian2 C++ standalone program (`bench_brian2.py`'s
    child, which also runs it once) and return a call that runs the built program again;
    its time and CPU time are those of the child process (start and loading included, a
    few ms). Brian2 keeps the spikes in a `SpikeMonitor`; nothing else is recorded."""
    build = root / f"{model}_{n}"
    script = Path(__file__).resolve().parent / "bench_brian2.py"
    cmd = [python, str(script), "--child", f"{model}:{n}:{build}", "--steps", str(steps)]
    out = subprocess.run([*cmd, "--repeats", "1"], capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"Brian2 standalone build failed:\n{out.stderr[-3000:]}")
    program = build / "main"

    def call():
        subprocess.run([str(program)], cwd=build, check=True, capture_output=True)

    return call


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brainpy-site", default=None, help="BrainPy's site-packages folder")
    p.add_argument(
        "--brian2-python",
        default=None,
        help="a Python with Brian2: its C++ standalone programs are built once, then run "
        "(each run a child process) alternating with neurojax's compiled runs",
    )
    p.add_argument(
        "--jaxley-site",
        default=None,
        help="Jaxley's site-packages folder (the same JAX version): HH only, its network "
        "built once (minutes at 10⁴ cells), then its jitted run called in turn",
    )
    p.add_argument("--cases", nargs="+", default=["hh:10000", "lif:100000"])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=9, help="interleaved calls of each")
    p.add_argument(
        "--vector-widths",
        nargs="+",
        type=int,
        default=[0],
        help="compile neurojax's runs at each XLA:CPU vector width, as separate rows (0: "
        "the process's XLA_FLAGS, which neurojax's import sets to 512 on AVX-512 CPUs "
        "unless a width is there already; 256: XLA's own default)",
    )
    p.add_argument("--name", default="interleaved_peers")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)

    if not (args.brainpy_site or args.brian2_python or args.jaxley_site):
        p.error("give --brainpy-site, --brian2-python, --jaxley-site or several")
    import neurojax as nj  # first: its XLA setting applies to both tools

    if args.brainpy_site:
        sys.path.append(args.brainpy_site)
        import bench_brainpy as B
        import brainpy as bp
        import brainpy.math as bm

        bm.set_platform("cpu")
    if args.jaxley_site:
        sys.path.append(args.jaxley_site)
        import bench_jaxley
        import jaxley as jx
        from jaxley.channels import HH as JaxleyHH
    import jax
    import jax.numpy as jnp
    import numpy as np

    build_root = Path(tempfile.mkdtemp(prefix="brian2_interleaved_"))
    rows = []
    for case in args.cases:
        model, n = case.split(":")
        n = int(n)
        dt = C.HH_DT if model == "hh" else C.LIF_DT
        calls = {}
        if args.brainpy_site:
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

            calls[("brainpy", "exp_auto")] = bp_call
        if args.jaxley_site and model == "hh":
            jx_run = bench_jaxley.build(jax, jx, JaxleyHH, n, args.steps)
            calls[("jaxley", "bwd_euler")] = lambda jx_run=jx_run: jax.block_until_ready(jx_run())
        if args.brian2_python:
            calls[
                ("brian2", "C++ standalone, " + ("exponential_euler" if model == "hh" else "exact"))
            ] = _brian2_standalone(args.brian2_python, model, n, args.steps, build_root)

        if model == "hh":
            nj_model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), np.float32))
            current_nj = C.HH_I0
            solvers = {
                "exponential_euler": nj.ExponentialEuler(),
                "staggered": nj.Staggered(),  # HH's default
            }
        else:
            nj_model = nj.LIF(v_rest=np.asarray(C.lif_v_rest(n), np.float32))
            current_nj = C.LIF_I0
            solvers = {"exponential_euler": nj.ExponentialEuler()}
        inputs = jnp.full((args.steps,), current_nj, jnp.float32)
        compile_s = {}
        for name, solver in solvers.items():

            def run(m, x, solver=solver, dt=dt):
                sol = nj.simulate(
                    m, x, dt=dt, solver=solver, saveat=nj.SaveAt(every=100, vars=("v",))
                )
                return sol.v, sol.spikes

            for width in args.vector_widths:
                label = _label(name, width)
                t = time.perf_counter()
                options = {"xla_cpu_prefer_vector_width": width} if width else {}
                compiled = jax.jit(run).lower(nj_model, inputs).compile(options)
                compile_s[label] = time.perf_counter() - t
                calls[("neurojax", label)] = lambda c=compiled, m=nj_model, x=inputs: (
                    jax.block_until_ready(c(m, x))
                )
        for f in calls.values():  # warm-up
            f()
        wall = {k: [] for k in calls}
        cpu = {k: [] for k in calls}
        load0 = os.getloadavg()[0]
        for _ in range(args.repeats):
            for k, f in calls.items():
                t, c = time.perf_counter(), _cpu() + _children_cpu()
                f()
                wall[k].append(time.perf_counter() - t)
                cpu[k].append(_cpu() + _children_cpu() - c)
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
            if tool == "neurojax" and model == "hh":  # the spike count, a check
                rows[-1]["spikes"] = float(np.asarray(calls[(tool, scheme)]()[1]).sum())
            print(
                f"{model} N={n} {tool:8s} {scheme:17s} wall {rows[-1]['wall_median_s'] * 1e3:8.1f}"
                f" ms, CPU {rows[-1]['cpu_median_s'] * 1e3:8.1f} ms (medians of {args.repeats};"
                f" load {load0:.1f}–{load1:.1f})",
                flush=True,
            )

    header = ["model", "N", "tool", "scheme", "wall, median (ms)", "CPU, median (ms)",
              "neuron-steps per CPU-s", "this CPU ÷ neurojax's default CPU",
              "this wall ÷ neurojax's default wall", "load average"]  # fmt: skip
    table = []
    for r in rows:
        ref = next(
            x
            for x in rows
            if x["model"] == r["model"] and x["n"] == r["n"] and x["tool"] == "neurojax"
            and x["scheme"] == _label(
                "staggered" if r["model"] == "hh" else "exponential_euler", args.vector_widths[0]
            )
        )  # fmt: skip
        table.append(
            [
                r["model"].upper(),
                f"{r['n']:.0e}".replace("e+0", "e"),
                r["tool"],
                r["scheme"],
                f"{r['wall_median_s'] * 1e3:.1f}",
                f"{r['cpu_median_s'] * 1e3:.1f}",
                f"{r['neuron_steps_per_cpu_s']:.3g}",
                f"{r['cpu_median_s'] / ref['cpu_median_s']:.2f}",
                f"{r['wall_median_s'] / ref['wall_median_s']:.2f}",
                "{:.1f}–{:.1f}".format(*r["load_average"]),
            ]
        )
    peers = []
    if args.brainpy_site:
        peers.append(f"BrainPy {bp.__version__} in this process")
    if args.jaxley_site:
        peers.append(f"Jaxley {jx.__version__} in this process (HH)")
    if args.brian2_python:
        peers.append("Brian2's C++ standalone programs (a child process per run)")
    md = (
        f"neurojax interleaved call by call with {' and '.join(peers)} (jax "
        f"{jax.__version__}, float32, {args.steps} steps, medians of {args.repeats} calls "
        "each; > 1 in the ratio columns: neurojax's default is faster)"
        "\n\n" + C.markdown_table(header, table)
    )
    if os.environ.get("XLA_FLAGS"):
        md += f"\n\nXLA_FLAGS: `{os.environ['XLA_FLAGS']}`"
    print("\n" + md)
    payload = C.neurojax_payload(args, rows)
    if args.brainpy_site:
        payload["brainpy"] = bp.__version__
    if args.jaxley_site:
        payload["jaxley"] = jx.__version__
    path = C.write(args.name, payload, md, args.out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
