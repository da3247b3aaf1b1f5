"""Memory of reverse-mode gradients through long HH simulations, with and without
gradient checkpointing (`simulate(..., adjoint=CheckpointAdjoint(every=k))`, k ≈ √n,
against `DirectAdjoint()`).

The workload is the modeller's one: fit HH conductances to a voltage trace. The loss is
the mean squared difference between the simulated V (every step kept:
`SaveAt(vars=("v",), spikes=False)`) and a target
trace, `jax.grad` with respect to every parameter of the model; n = 10³, 10⁴, 10⁵ steps
of dt = 0.025 ms (25 ms … 2.5 s of a neuron firing at ~70 Hz under 10 µA/cm²).

Two measurements per (n, checkpointing):

- **XLA's memory plan** (`jax.jit(grad).lower(...).compile().memory_analysis()`): the
  temporary buffers (`temp`: what the backward pass keeps, the residuals) and the
  outputs, in bytes, before anything runs; exact and noise-free.
- **peak RSS** of a fresh Python process that compiles and runs only that configuration:
  the whole-process peak (`resource.getrusage(...).ru_maxrss`; interpreter, JAX, and
  XLA's compiler, which dominates: hundreds of MB), and the peak *during the gradient
  run* above the resident size just before it. For the latter the kernel's high-water
  mark is reset after compiling (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0) and
  `VmHWM` read after the run.

Without checkpointing, the scan stores every step's residuals: O(n) memory. With chunks
of k steps, it stores one state per chunk plus one chunk's residuals during the backward
pass: O(n/k + k), minimal at k ≈ √n, for one extra forward pass of compute. The recorded
trace itself (n floats per neuron) and the target are O(n) either way.

Usage:

    python benchmarks/bench_memory.py                 # n = 10³, 10⁴, 10⁵; 1 neuron; with RSS
    python benchmarks/bench_memory.py --neurons 100   # a batch of 100 traces
    python benchmarks/bench_memory.py --quick         # n = 10³, 10⁴, no RSS subprocesses
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

DT = 0.025  # ms
I_STEP = 10.0  # µA/cm²


def maxrss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def proc_status_bytes(field: str) -> int | None:
    """`VmRSS` / `VmHWM` of this process from /proc (Linux), bytes; None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def setup(n_steps: int, neurons: int, checkpoint_every: int | None, solver: str):
    """The jitted gradient function, its arguments and the solver's name.
    `checkpoint_every=None`: `DirectAdjoint()` (no checkpointing); an int k:
    `CheckpointAdjoint(every=k)`."""
    import jax
    import jax.numpy as jnp

    import neurojax as nj

    shape = (n_steps,) if neurons == 1 else (n_steps, neurons)
    inputs = jnp.full(shape, I_STEP)
    target = jax.jit(lambda x: nj.simulate(nj.HodgkinHuxley(), x, dt=DT).v)(inputs)
    # Start the fit from perturbed conductances (mS/cm²).
    model = nj.HodgkinHuxley(g_na=100.0, g_k=30.0, g_l=0.25)
    solver = nj.solvers.default_solver(model) if solver == "default" else getattr(nj, solver)()

    if checkpoint_every is None:
        adjoint = nj.DirectAdjoint()
    else:
        adjoint = nj.CheckpointAdjoint(every=checkpoint_every)
    saveat = nj.SaveAt(vars=("v",), spikes=False)

    def loss(model, inputs, target):
        sol = nj.simulate(model, inputs, dt=DT, solver=solver, saveat=saveat, adjoint=adjoint)
        return jnp.mean((sol.v - target) ** 2)

    grad = jax.jit(jax.grad(loss))
    return grad, (model, inputs, target), type(solver).__name__


def measure(
    n_steps: int, neurons: int, checkpoint_every: int | None, solver: str, max_run_bytes: float
) -> dict:
    import jax
    import numpy as np

    grad, args, solver_name = setup(n_steps, neurons, checkpoint_every, solver)
    rss_before = maxrss_bytes()
    t = time.perf_counter()
    compiled = grad.lower(*args).compile()
    compile_s = time.perf_counter() - t
    ma = compiled.memory_analysis()
    out = {
        "n_steps": n_steps,
        "neurons": neurons,
        "checkpoint_every": checkpoint_every,
        "solver": solver_name,
        "compile_s": compile_s,
        "temp_bytes": ma.temp_size_in_bytes,
        "output_bytes": ma.output_size_in_bytes,
        "argument_bytes": ma.argument_size_in_bytes,
        "alias_bytes": ma.alias_size_in_bytes,
        "generated_code_bytes": ma.generated_code_size_in_bytes,
        "rss_before_compile_bytes": rss_before,
        "rss_after_compile_bytes": maxrss_bytes(),
    }
    out["ran"] = ma.temp_size_in_bytes + ma.output_size_in_bytes <= max_run_bytes
    if out["ran"]:
        rss_before_run = proc_status_bytes("VmRSS")
        hwm_reset = reset_peak_rss()
        t = time.perf_counter()
        g = jax.block_until_ready(compiled(*args))
        out["run_s"] = time.perf_counter() - t
        out["rss_after_run_bytes"] = maxrss_bytes()
        if hwm_reset and rss_before_run is not None:
            out["run_rss_increase_bytes"] = proc_status_bytes("VmHWM") - rss_before_run
        out["grad"] = {k: float(np.sum(getattr(g, k))) for k in ("g_na", "g_k", "g_l")}
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[10**3, 10**4, 10**5])
    p.add_argument("--neurons", type=int, default=1, help="traces fitted at once (a batch)")
    p.add_argument(
        "--solver",
        default="default",
        help="default (HH's default_solver) or a neurojax solver class name, e.g. Euler",
    )
    p.add_argument(
        "--max-run-gib",
        type=float,
        default=4.0,
        help="only compile (report XLA's plan), do not run, above this temp + output size",
    )
    p.add_argument("--no-rss", action="store_true", help="skip the subprocess RSS runs")
    p.add_argument("--quick", action="store_true", help="n = 10³ and 10⁴, no RSS")
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.lengths, args.no_rss = [10**3, 10**4], True
    return args


def mib(x) -> str:
    return "–" if x is None else f"{x / 2**20:.2f}"


def main(argv=None):
    args = parse_args(argv)
    max_run = args.max_run_gib * 2**30
    if args.child:  # "n:checkpoint_every:neurons" → one JSON line
        n, k, neurons = args.child.split(":")
        k = None if k == "none" else int(k)
        print(json.dumps(measure(int(n), int(neurons), k, args.solver, max_run)))
        return

    import jax

    device = jax.devices()[0]
    print(f"neurojax gradient memory on {device}, jax {jax.__version__}")
    rows = []
    for n in args.lengths:
        for k in (None, max(1, round(math.sqrt(n)))):
            row = measure(n, args.neurons, k, args.solver, max_run)
            row["rss"] = None
            if not args.no_rss and row["ran"]:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        f"{n}:{k or 'none'}:{args.neurons}",
                        "--solver",
                        args.solver,
                        "--max-run-gib",
                        str(args.max_run_gib),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode:
                    raise SystemExit(f"child failed for n={n}, k={k}:\n{out.stderr[-4000:]}")
                row["rss"] = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            rss = row["rss"]
            line = (
                f"n={n:>7} checkpoint_every={k!s:>5}: temp {mib(row['temp_bytes']):>9} MiB,"
                f" output {mib(row['output_bytes'])} MiB, compile {row['compile_s']:.2f} s"
            )
            if row["ran"]:
                line += f", run {row['run_s']:.2f} s"
            else:
                line += f" (not run: over --max-run-gib {args.max_run_gib})"
            if rss:
                line += (
                    f"; child: peak RSS {mib(rss['rss_after_run_bytes'])} MiB,"
                    f" +{mib(rss.get('run_rss_increase_bytes'))} MiB during the run"
                )
            print(line, flush=True)
    # The checkpointed gradient must be the same number (it recomputes the same steps).
    for a, b in zip(rows[::2], rows[1::2], strict=True):
        if a["ran"] and b["ran"]:
            for p in a["grad"]:
                rel = abs(a["grad"][p] - b["grad"][p]) / max(abs(a["grad"][p]), 1e-30)
                a.setdefault("checkpoint_grad_rel_diff", {})[p] = rel

    header = ["steps", "checkpoint_every", "XLA temp (MiB)", "XLA output (MiB)",
              "process peak RSS (MiB)", "RSS growth during grad (MiB)", "grad time (s)",
              "compile (s)"]  # fmt: skip
    table = []
    for r in rows:
        rss = r["rss"] or {}
        table.append(
            [
                f"{r['n_steps']:.0e}".replace("e+0", "e"),
                r["checkpoint_every"] or "none",
                mib(r["temp_bytes"]),
                mib(r["output_bytes"]),
                mib(rss.get("rss_after_run_bytes")),
                mib(rss.get("run_rss_increase_bytes")),
                f"{r['run_s']:.2f}" if r["ran"] else "not run",
                f"{r['compile_s']:.1f}",
            ]
        )
    solver = rows[0]["solver"] if rows else args.solver
    md = (
        f"jax.grad of an HH trace loss, {args.neurons} neuron(s), {solver}, dt={DT} ms, "
        f"{device.platform}, jax {jax.__version__}\n\n" + C.markdown_table(header, table)
    )
    print("\n" + md)
    payload = {
        "tool": "neurojax",
        "device": {"platform": device.platform, "kind": device.device_kind},
        "jax": jax.__version__,
        "machine": C.machine_info(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
    }
    name = args.name or f"memory_{args.neurons}" + ("_quick" if args.quick else "")
    print(f"wrote {C.write(name, payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
