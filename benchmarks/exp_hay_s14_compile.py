"""Session 14, helper A (issue 18 item 9): the Hay cell's gradient compile time, before and
after the tracing changes, in fresh processes, paired.

Driver: `--before DIR --after DIR` name two checkouts of neurojax (a `git worktree` of the
commit before and of the one after); `--rounds R` runs one fresh process per checkout and
round, the order alternated between rounds. Each process (`--worker DIR`) imports
neurojax from DIR, builds Hay's cell (`bench_hay2011._validation`, 1 s at dt 0.025 ms under
the somatic step, TR-BDF2, float32), and after `jax.clear_caches()` traces, lowers and
compiles the forward run and then the gradient (`jax.grad` of the mean somatic V w.r.t.
every inexact leaf of every mechanism, as `bench_hay2011.py` and
`exp_hay_compile_size.py`), timing tracing (`.trace()`), lowering (`.lower()`) and XLA
(`.compile()`) apart in CPU time (`time.process_time`); counts the traced gradient's
equations (each distinct sub-jaxpr once) and the compiled programs' fusions; then runs the
two programs alternately (`--repeats`, CPU time) and saves the somatic trace and the
gradient, so that the driver can say whether the two checkouts give the same numbers.

Writes `results/<out>.json`: per process, and per checkout the median and range over the
processes of each figure, the paired ratios (after ÷ before, per round, median), gradient
÷ forward, the largest differences of V and of the gradient between the checkouts (and
whether they are bit for bit the same), and the load averages.

    python benchmarks/exp_hay_s14_compile.py --before /tmp/base --after . --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _eqns(closed) -> int:
    from jax.extend.core import jaxprs_in_params

    seen, n = set(), 0
    stack = [closed.jaxpr]
    while stack:
        j = stack.pop()
        j = getattr(j, "jaxpr", j)
        if id(j) in seen:
            continue
        seen.add(id(j))
        n += len(j.eqns)
        for e in j.eqns:
            stack.extend(jaxprs_in_params(e.params))
    return n


def worker(root: str, T: float, repeats: int, save: str) -> dict:
    sys.path.insert(0, root)
    sys.path.insert(0, str(Path(root) / "benchmarks"))
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    if not nj.__file__.startswith(str(Path(root).resolve())):
        raise RuntimeError(f"neurojax came from {nj.__file__}, not {root}")
    from bench_hay2011 import _validation
    from exp_hay_compile_size import fusions

    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2

    val = _validation()
    val.T = T
    cell = val.neurojax_cell(hay2011_morphology())
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), params)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    row = {"root": root, "load_before": os.getloadavg()}
    progs = {}
    for what, fn in (("forward", run), ("gradient", jax.grad(lambda p: run(p).mean()))):
        jax.clear_caches()
        t0 = time.process_time()
        traced = jax.jit(fn).trace(params)
        t1 = time.process_time()
        lowered = traced.lower()
        t2 = time.process_time()
        compiled = lowered.compile()
        t3 = time.process_time()
        row[f"{what}_trace_cpu_s"] = t1 - t0
        row[f"{what}_lower_cpu_s"] = t2 - t1
        row[f"{what}_xla_cpu_s"] = t3 - t2
        row[f"{what}_compile_cpu_s"] = t3 - t0
        row[f"{what}_eqns"] = _eqns(traced.jaxpr)
        row[f"{what}_fusions"] = fusions(compiled.as_text())[0]
        progs[what] = compiled
    times = {k: [] for k in progs}
    outs = {}
    for _ in range(repeats):
        for k, f in progs.items():
            t0 = time.process_time()
            outs[k] = jax.block_until_ready(f(params))
            times[k].append(time.process_time() - t0)
    for k, ts in times.items():
        row[f"{k}_run_cpu_s"] = ts
        row[f"{k}_run_cpu_s_median"] = statistics.median(ts)
    row["gradient_over_forward"] = (
        row["gradient_run_cpu_s_median"] / row["forward_run_cpu_s_median"]
    )
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs["gradient"])]
    np.savez(save, *leaves, v=np.asarray(outs["forward"]))
    row["load_after"] = os.getloadavg()
    return row


def _summary(rows: list[dict]) -> dict:
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and k != "root"]
    out = {}
    for k in keys:
        xs = [r[k] for r in rows]
        out[k] = {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}
    return out


def driver(args) -> None:
    import numpy as np

    roots = {"before": str(Path(args.before).resolve()), "after": str(Path(args.after).resolve())}
    rows = {k: [] for k in roots}
    tmp = Path(tempfile.mkdtemp(prefix="hay_s14_"))

    def start(name, r):
        save = tmp / f"{name}_{r}.npz"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", roots[name],
               "--T", str(args.T), "--repeats", str(args.repeats), "--save", str(save)]  # fmt: skip
        return (
            name,
            r,
            save,
            subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=roots[name]
            ),
        )

    # `--jobs` rounds at a time, each round's two processes side by side (a shared VM
    # under load: a pair sees the same conditions), the order of starting alternated
    for first in range(0, args.rounds, args.jobs):
        procs = []
        for r in range(first, min(first + args.jobs, args.rounds)):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            procs += [start(name, r) for name in order]
        for name, r, save, proc in procs:
            out, err = proc.communicate()
            if proc.returncode:
                raise RuntimeError(err[-3000:])
            row = json.loads(out.strip().splitlines()[-1])
            row["round"], row["save"] = r, str(save)
            rows[name].append(row)
            ends = ("_cpu_s", "_median", "forward")
            shown = {
                k: round(v, 3) for k, v in row.items() if k.endswith(ends) and isinstance(v, float)
            }
            print(name, r, shown, flush=True)
    for name in rows:
        rows[name].sort(key=lambda row: row["round"])
    res = {
        "what": "Hay L5b cell, TR-BDF2, float32, T ms at dt 0.025 ms under the somatic step; "
        "gradient of the mean somatic V w.r.t. every inexact mechanism leaf; one fresh "
        "process per checkout and round (order alternated; with --jobs J, J rounds' "
        "processes at once, each pair side by side), CPU time (time.process_time), "
        "compiled after jax.clear_caches(); shared 2-core VM under load",
        "T_ms": args.T,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "roots": roots,
        "commits": {
            k: subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=v
            ).stdout.strip()  # fmt: skip
            for k, v in roots.items()
        },
        "per_process": rows,
        "summary": {k: _summary(v) for k, v in rows.items()},
    }
    paired = {}
    for k in ("gradient_compile_cpu_s", "gradient_trace_cpu_s", "gradient_lower_cpu_s",
              "gradient_xla_cpu_s", "forward_compile_cpu_s", "forward_run_cpu_s_median",
              "gradient_run_cpu_s_median", "gradient_over_forward"):  # fmt: skip
        ratios = [a[k] / b[k] for a, b in zip(rows["after"], rows["before"], strict=True)]
        paired[k] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    res["after_over_before_paired"] = paired
    a, b = np.load(rows["after"][0]["save"]), np.load(rows["before"][0]["save"])
    ks = [k for k in a.files if k != "v"]
    big = max(float(np.abs(b[k]).max()) for k in ks)
    res["max_v_diff_mV"] = float(np.abs(a["v"] - b["v"]).max())
    res["max_grad_rel_diff"] = max(float(np.abs(a[k] - b[k]).max()) for k in ks) / big
    res["bitwise_identical"] = all(np.array_equal(a[k], b[k]) for k in a.files)
    out = HERE / "results" / f"{args.out}.json"
    out.write_text(json.dumps(res, indent=1, default=str))
    print(json.dumps({k: res["summary"][k] for k in res["summary"]}, indent=1)[:6000])
    print(json.dumps(paired, indent=1))
    print("values:", res["max_v_diff_mV"], res["max_grad_rel_diff"], res["bitwise_identical"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before")
    p.add_argument("--after", default=str(HERE.parent))
    p.add_argument("--worker")
    p.add_argument("--save")
    p.add_argument("--T", type=float, default=1000.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--jobs", type=int, default=1, help="rounds run at a time (pairs side by side)")
    p.add_argument("--out", default="hay2011_s14_compile")
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.T, args.repeats, args.save), default=str))
        return
    if not args.before:
        p.error("--before DIR (a checkout of the commit to compare with) is required")
    driver(args)


if __name__ == "__main__":
    main()
