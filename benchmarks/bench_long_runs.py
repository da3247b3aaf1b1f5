"""Peak memory of long runs against "inputs + what is kept + a small constant" (issue 8).

Each configuration runs in a fresh Python process (`--child NAME`), which measures, in
this order:

1. **baseline**: the resident size (`VmRSS`) and its high-water mark (`VmHWM`) of the
   process once it has imported JAX and neurojax and compiled and run a trivial jitted
   function — the constant every run pays;
2. the bytes of the **inputs** (the input arrays plus the model's parameter arrays) and,
   after the run, of **what is kept** (every array of the returned `Solution`: `t`, the
   kept states, the spikes and the final state; for a gradient, the gradient pytree,
   and the inputs include the target trace);
3. the **first call** as a user makes it (`nj.simulate(...)` called eagerly, which
   compiles and runs; for the gradient `jax.jit(jax.grad(loss))`): the process's peak
   RSS (`VmHWM`) afterwards, i.e. everything — interpreter, JAX, XLA's compiler, the run;
4. **the run alone**: the result is dropped, freed heap memory is returned to the OS
   (glibc `malloc_trim(0)`: the compiler's freed memory would otherwise stay resident),
   the kernel's high-water mark is reset (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0)
   and the same call is made again (now compiled): the peak during the run above the
   resident size just before it;
5. **XLA's memory plan** of the same computation compiled under `jax.jit`
   (`.lower(...).compile().memory_analysis()`): argument, output and temporary bytes —
   exact and noise-free, and available without running (`--compile-only`, used for runs
   too long for this machine).

Each configuration runs twice, in two fresh processes that share a persistent
compilation cache: "cold" compiles, so its whole-process peak includes XLA's compiler;
"warm" loads the compiled program from the cache, as a second run of the same script
would, so its whole-process peak is the baseline, tracing and the run. (Not for the
gradients: their programs hold `eqx.error_if` host callbacks, which JAX does not cache.)

The configurations (issue 8, "Must show", second bullet):

- `hh_fwd_1e6`: HH, 1 neuron, 10⁶ steps of 0.025 ms, `SaveAt(every=1000)`;
- `hh_grad_1e6` (`hh_grad_1e5`): `jax.grad` of a trace MSE w.r.t. all HH parameters
  through 10⁶ (10⁵) steps, every step's V kept, `CheckpointAdjoint()` (√n chunks);
- `lif_1e5x1e4`: 10⁵ LIF neurons × 10⁴ steps of 0.1 ms, `SaveAt(every=100)`, a common
  input and a per-neuron bias (`_common.lif_v_rest`);
- `lif_1e4x1e4_full` / `lif_1e4x1e4_compact`: 10⁴ LIF neurons × 1 s at 0.1 ms, a
  per-neuron input array `(10⁴, 10⁴)` (400 MB), default `SaveAt()` (everything every
  step) / `SaveAt(vars=("v",), spike_dtype=jnp.uint8)`.

Usage:

    python benchmarks/bench_long_runs.py                     # all, one process each
    python benchmarks/bench_long_runs.py --only lif_1e4x1e4_full
    python benchmarks/bench_long_runs.py --child hh_fwd_1e6  # one, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402
from bench_memory import proc_status_bytes as status_bytes  # noqa: E402
from bench_memory import reset_peak_rss  # noqa: E402

CONFIGS = [
    "hh_fwd_1e6",
    "hh_grad_1e5",
    "hh_grad_1e6",
    "lif_1e5x1e4",
    "lif_1e4x1e4_full",
    "lif_1e4x1e4_compact",
]


def trim_heap() -> bool:
    """Return freed heap memory to the OS (glibc `malloc_trim`), so that the resident size
    before a measured call is what is live, not what the compiler freed."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def nbytes(tree) -> int:
    import equinox as eqx
    import jax

    return int(sum(x.nbytes for x in jax.tree_util.tree_leaves(tree) if eqx.is_array(x)))


def build(name: str):
    """(call, jitted, args, description): `call()` is the user's eager call returning what
    is kept; `jitted` a `jax.jit` function of `args` for XLA's memory plan."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    if name == "hh_fwd_1e6":
        model, inputs, dt = nj.HodgkinHuxley(), jnp.full((10**6,), 10.0), C.HH_DT
        saveat = nj.SaveAt(every=1000)
        desc = "HH, 1 neuron, 10^6 steps, SaveAt(every=1000)"
    elif name.startswith("hh_grad_"):
        n = {"hh_grad_1e5": 10**5, "hh_grad_1e6": 10**6}[name]
        inputs, dt = jnp.full((n,), 10.0), C.HH_DT
        target = jax.jit(lambda x: nj.simulate(nj.HodgkinHuxley(), x, dt=dt).v)(inputs)
        target = jax.block_until_ready(target)
        model = nj.HodgkinHuxley(g_na=100.0, g_k=30.0, g_l=0.25)
        saveat = nj.SaveAt(vars=("v",), spikes=False)
        adjoint = nj.CheckpointAdjoint()

        def loss(model, inputs, target):
            sol = nj.simulate(model, inputs, dt=dt, saveat=saveat, adjoint=adjoint)
            return jnp.mean((sol.v - target) ** 2)

        grad = jax.jit(jax.grad(loss))
        args = (model, inputs, target)
        desc = f"jax.grad of a V-trace MSE, HH, 1 neuron, {n:.0e} steps, CheckpointAdjoint()"
        return (lambda: grad(*args)), grad, args, desc, nbytes(args), 0
    elif name == "lif_1e5x1e4":
        n = 10**5
        model = nj.LIF(v_rest=np.asarray(C.lif_v_rest(n), np.float32))
        inputs, dt = jnp.full((10**4,), C.LIF_I0), C.LIF_DT
        saveat = nj.SaveAt(every=100)
        desc = "LIF, 10^5 neurons, 10^4 steps, common input, SaveAt(every=100)"
    elif name.startswith("lif_1e4x1e4_"):
        n, steps = 10**4, 10**4
        model, dt = nj.LIF(), C.LIF_DT
        # a per-neuron input current, 1.5–2.5 nA (rheobase 1.5 nA): (10^4, 10^4) float32
        inputs = jnp.broadcast_to(
            jnp.linspace(C.LIF_I0, C.LIF_I0 + 1.0, n, dtype=jnp.float32), (steps, n)
        )
        inputs = jax.block_until_ready(inputs)  # a dense (materialised) 400 MB array
        if name.endswith("_full"):
            saveat = nj.SaveAt()
            desc = "LIF, 10^4 neurons x 10^4 steps, per-neuron inputs, SaveAt() (all, every step)"
        else:
            saveat = nj.SaveAt(vars=("v",), spike_dtype=jnp.uint8)
            desc = (
                "LIF, 10^4 neurons x 10^4 steps, per-neuron inputs, "
                "SaveAt(vars=('v',), spike_dtype=uint8)"
            )
    else:
        raise SystemExit(f"unknown configuration {name!r}; one of {CONFIGS}")

    def call():
        return nj.simulate(model, inputs, dt=dt, saveat=saveat)

    jitted = jax.jit(lambda model, inputs: nj.simulate(model, inputs, dt=dt, saveat=saveat))
    return call, jitted, (model, inputs), desc, nbytes((model, inputs)), 0


def child(name: str, compile_only: bool, cache_dir: str | None) -> dict:
    t_start = time.perf_counter()
    import jax
    import jax.numpy as jnp

    if cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)

    import neurojax  # noqa: F401

    jax.block_until_ready(jax.jit(lambda x: x * 2.0 + 1.0)(jnp.ones(8)))
    out = {
        "config": name,
        "jax": jax.__version__,
        "baseline_rss_bytes": status_bytes("VmRSS"),
        "baseline_hwm_bytes": status_bytes("VmHWM"),
    }
    call, jitted, args, desc, in_bytes, extra_kept = build(name)
    out.update(description=desc, input_bytes=in_bytes)
    out["rss_after_inputs_bytes"] = status_bytes("VmRSS")
    if not compile_only:
        t = time.perf_counter()
        res = jax.block_until_ready(call())
        out["first_call_s"] = time.perf_counter() - t
        out["kept_bytes"] = nbytes(res) + extra_kept
        out["kept_detail"] = {
            "result": nbytes(res),
            "target": extra_kept,
        }
        if hasattr(res, "states"):
            out["kept_detail"] = {
                "t": nbytes(res.t),
                "states": nbytes(res.states),
                "spikes": nbytes(res.spikes),
                "final_state": nbytes(res.final_state),
            }
        out["peak_rss_first_call_bytes"] = status_bytes("VmHWM")
        out["rss_after_first_call_bytes"] = status_bytes("VmRSS")
        del res
        out["heap_trimmed"] = trim_heap()
        rss0 = status_bytes("VmRSS")
        out["rss_before_second_call_bytes"] = rss0
        out["hwm_reset"] = reset_peak_rss()
        t = time.perf_counter()
        res = jax.block_until_ready(call())
        out["second_call_s"] = time.perf_counter() - t
        out["peak_rss_second_call_bytes"] = status_bytes("VmHWM")
        out["run_rss_increase_bytes"] = out["peak_rss_second_call_bytes"] - rss0
        del res
    t = time.perf_counter()
    ma = jitted.lower(*args).compile().memory_analysis()
    out["jit_compile_s"] = time.perf_counter() - t
    out["xla"] = {
        "argument_bytes": ma.argument_size_in_bytes,
        "output_bytes": ma.output_size_in_bytes,
        "temp_bytes": ma.temp_size_in_bytes,
        "alias_bytes": ma.alias_size_in_bytes,
        "generated_code_bytes": ma.generated_code_size_in_bytes,
    }
    out["total_s"] = time.perf_counter() - t_start
    return out


def mib(x) -> str:
    return "–" if x is None else f"{x / 2**20:.1f}"


def table(rows: list[dict]) -> str:
    header = [
        "configuration",
        "inputs (MiB)",
        "kept (MiB)",
        "XLA temp (MiB)",
        "baseline RSS (MiB)",
        "baseline + inputs + kept (MiB)",
        "peak RSS, cold: compiles (MiB)",
        "peak RSS, warm: cached program (MiB)",
        "warm peak − (baseline + inputs + kept) (MiB)",
        "run only: RSS growth over RSS before (MiB)",
        "run (s)",
    ]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["config"], *["–"] * 9, r["error"]])
            continue
        kept = r.get("kept_bytes")
        if kept is None:  # compile-only: what is kept is XLA's output
            kept = r["xla"]["output_bytes"]
        budget = r["input_bytes"] + kept + r["baseline_rss_bytes"]
        peak = r.get("peak_rss_first_call_bytes")
        warm = r.get("warm") or {}
        wpeak = warm.get("peak_rss_first_call_bytes")
        wbudget = None if not warm else warm["input_bytes"] + kept + warm["baseline_rss_bytes"]
        body.append(
            [
                r["config"] + (" (compile only)" if peak is None else ""),
                mib(r["input_bytes"]),
                mib(kept),
                mib(r["xla"]["temp_bytes"]),
                mib(r["baseline_rss_bytes"]),
                mib(budget),
                mib(peak),
                mib(wpeak),
                mib(None if wpeak is None else wpeak - wbudget),
                mib((warm or r).get("run_rss_increase_bytes")),
                "–" if peak is None else f"{r['second_call_s']:.1f}",
            ]
        )
    return C.markdown_table(header, body)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=CONFIGS, choices=CONFIGS)
    p.add_argument("--compile-only", nargs="*", default=[], choices=CONFIGS,
                   help="configurations measured by XLA's plan only (not run)")  # fmt: skip
    p.add_argument("--timeout-s", type=float, default=1200, help="per configuration")
    p.add_argument("--name", default="long_runs")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-compile-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--retable", action="store_true", help="rewrite <name>.md from <name>.json")
    args = p.parse_args(argv)
    if args.retable:
        path = (args.out_dir or C.RESULTS) / f"{args.name}.json"
        payload = json.loads(path.read_text())
        print(f"wrote {C.write(args.name, payload, table(payload['rows']), args.out_dir)}")
        return
    if args.child:
        print(json.dumps(child(args.child, args.child_compile_only, args.cache_dir)))
        return

    def run_child(name: str, cache_dir: str, compile_only: bool) -> dict:
        cmd = [sys.executable, __file__, "--child", name, "--cache-dir", cache_dir]
        if compile_only:
            cmd.append("--child-compile-only")
        t = time.perf_counter()
        try:
            out = subprocess.run(
                cmd, capture_output=True, text=True, check=False, timeout=args.timeout_s
            )
        except subprocess.TimeoutExpired:
            print(f"{name}: timed out", flush=True)
            return {"config": name, "error": f"timed out after {args.timeout_s:.0f} s"}
        if out.returncode:
            err = out.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"{name}: failed\n{out.stderr[-3000:]}", flush=True)
            return {"config": name, "error": f"exit {out.returncode}: {err[0][:200]}"}
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["wall_s"] = time.perf_counter() - t
        print(f"{name}: {json.dumps(row)}", flush=True)
        return row

    rows = []
    for name in args.only:
        # Twice, in two fresh processes sharing a persistent compilation cache: "cold"
        # compiles (its peak includes XLA's compiler), "warm" loads the compiled programs
        # from the cache, so its whole-process peak is the run's (plus the baseline).
        with tempfile.TemporaryDirectory(prefix="nj_cache_") as cache_dir:
            cold = run_child(name, cache_dir, name in args.compile_only)
            warm = None
            # A gradient's program holds `eqx.error_if` host callbacks, which JAX does not
            # cache: a warm process would compile again, so it is not run.
            if "error" not in cold and name not in args.compile_only and "grad" not in name:
                warm = run_child(name, cache_dir, False)
        cold["warm"] = warm
        rows.append(cold)

    md = table(rows)
    print("\n" + md)
    payload = {"tool": "neurojax", "machine": C.machine_info(), "rows": rows}
    print(f"wrote {C.write(args.name, payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
