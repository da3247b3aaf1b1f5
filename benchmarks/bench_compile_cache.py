"""First-call latency with and without JAX's persistent compilation cache (issue 21,
item 4).

A user's first `simulate` call in a fresh process traces the model and compiles it with
XLA; JAX can keep the compiled programs on disk (`jax_compilation_cache_dir`), so that
the next process (a notebook restarted, a script run again, a CI job) loads them instead
of compiling. This script runs each case in fresh processes:

- `off`: no cache (what a user gets by default);
- `cold`: the cache enabled and empty (the first process fills it);
- `warm`: the cache enabled and filled by the `cold` process.

and reports, per case, the wall time of the first call (trace + compile + run, eager
`simulate` as a user calls it), the Python import of neurojax and the model's build
(Hay's cell: its eleven `.mod` files parsed) separately. Cases: one HH neuron (4000
steps), the COBA network (4000 LIF, 1000 steps at dt 0.1) and Hay et al.'s L5 cell (281
compartments, 400 steps; the run is short so that the figure is latency, not run time).

    python benchmarks/bench_compile_cache.py            # every case, a table on stdout
    python benchmarks/bench_compile_cache.py --json out.json
    python benchmarks/bench_compile_cache.py --cases hh      # one case (run.py --quick)

Results: `results/compile_cache.{json,md}` (`--name`, `--out-dir`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
import jax
mode, case, cache_dir = sys.argv[1], sys.argv[2], sys.argv[3]
if mode != "off":
    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
import jax.numpy as jnp
import neurojax as nj
t1 = time.perf_counter()
if case == "hh":
    model, inputs, kw = nj.HodgkinHuxley(), jnp.full((4000,), 10.0), {"dt": 0.025}
elif case == "coba":
    from neurojax.models import coba, coba_inputs
    model = coba(jax.random.key(0), 4000, p=0.02)
    inputs, kw = coba_inputs(model, 1000), {"dt": 0.1, "saveat": nj.SaveAt(every=100, fn=lambda y: None)}
elif case == "hay":
    from neurojax import cable
    model = cable.hay2011_cell(clamps=[(0, 0.5)])
    inputs = jnp.full((400, 1), 0.5)
    kw = {"dt": 0.025, "saveat": nj.SaveAt(fn=model.record_v([(0, 0.5)]))}
t2 = time.perf_counter()
sol = nj.simulate(model, inputs, **kw)
jax.block_until_ready(sol)
t3 = time.perf_counter()
print("RESULT " + json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "first_call_s": t3 - t2}))
"""


def _run(mode: str, case: str, cache_dir: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, case, cache_dir],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=1200,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{case} ({mode}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="*", default=["hh", "coba", "hay"])
    ap.add_argument("--json", type=Path, help="also write the rows to this file")
    ap.add_argument("--name", default="compile_cache", help="results/<name>.{json,md}")
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    rows = []
    for case in args.cases:
        with tempfile.TemporaryDirectory() as cache:
            for mode in ("off", "cold", "warm"):
                r = _run(mode, case, cache)
                rows.append({"case": case, "mode": mode, **r})
                print(
                    f"{case:5s} {mode:5s} import {r['import_s']:5.2f} s  build "
                    f"{r['build_s']:5.2f} s  first call {r['first_call_s']:6.2f} s",
                    flush=True,
                )
            files = sum(1 for _ in Path(cache).rglob("*") if _.is_file())
            rows[-1]["cache_files"] = files
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _common as C

    md = "# First-call latency, JAX's persistent compilation cache off / cold / warm\n\n"
    md += C.markdown_table(
        ["case", "cache", "import neurojax (s)", "build (s)", "first call (s)"],
        [[r["case"], r["mode"], f"{r['import_s']:.2f}", f"{r['build_s']:.2f}",
          f"{r['first_call_s']:.2f}"] for r in rows],
    )  # fmt: skip
    payload = {"machine": C.machine_info(), "args": {"cases": args.cases}, "rows": rows}
    print(f"wrote {C.write(args.name, payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
