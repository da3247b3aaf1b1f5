"""Session 12, helper A3: the Hay cell's gradient at HEAD, summarised from fresh processes.

Each process is one `exp_hay_compile_size.py --T 1000 --repeats R --variants V --out
hay2011_s12_a3_runN` (TR-BDF2, float32, 1 s under the somatic step; the gradient is
`jax.grad` of the mean somatic V w.r.t. every inexact leaf of every mechanism, as
`bench_hay2011.py`; `scan` = `_implicit._SCAN_STAGES = True`, the default, `twosolves` =
False; compiled after `jax.clear_caches()`, then the four programs run alternately, CPU
time by `time.process_time`). This script reads those JSONs and writes
`results/hay2011_s12_head.json`: per process and across processes, the medians of the
forward and gradient runs, gradient ÷ forward (per process, from its paired medians), the
compile CPU time (tracing + XLA) of each program, fusions, and the load averages.

    python benchmarks/exp_hay_a3_head.py hay2011_s12_a3_run1 hay2011_s12_a3_run2 ...
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or [
        f"hay2011_s12_a3_run{i}" for i in (1, 2, 3)
    ]
    runs = {n: json.loads((RESULTS / f"{n}.json").read_text()) for n in names}
    out = {
        "what": "Hay L5b cell at HEAD, TR-BDF2, float32, 1000 ms, dt 0.025 ms, somatic step; "
        "gradient of mean somatic V w.r.t. every inexact mechanism leaf (as bench_hay2011.py); "
        "CPU time (time.process_time) of one process; shared 2-core VM under load",
        "head": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                               cwd=HERE).stdout.strip(),  # fmt: skip
        "processes": names,
        "per_process": {},
    }
    agg: dict[str, list[float]] = {}
    for n, r in runs.items():
        pp = {"variants_order": [k[: -len("_gradient_over_forward")] for k in r
                                 if k.endswith("_gradient_over_forward")],  # fmt: skip
              "repeats": len(r["scan_forward_cpu_s"]),
              "load_before": r["load_before"], "load_after": r["load_after"]}  # fmt: skip
        for v in ("scan", "twosolves"):
            if f"{v}_forward_cpu_s" not in r:
                continue
            for what in ("forward", "gradient"):
                k = f"{v}_{what}"
                comp = r[f"{k}_trace_cpu_s"] + r[f"{k}_xla_cpu_s"]
                vals = {
                    f"{k}_run_cpu_s_median": r[f"{k}_cpu_s_median"],
                    f"{k}_compile_cpu_s": comp,
                    f"{k}_trace_cpu_s": r[f"{k}_trace_cpu_s"],
                    f"{k}_xla_cpu_s": r[f"{k}_xla_cpu_s"],
                    f"{k}_fusions": r[f"{k}_fusions"],
                }
                pp.update(vals)
                for kk, vv in vals.items():
                    agg.setdefault(kk, []).append(vv)
            g = r[f"{v}_gradient_over_forward"]
            pp[f"{v}_gradient_over_forward"] = g
            agg.setdefault(f"{v}_gradient_over_forward", []).append(g)
        for kk in ("max_v_diff_mV", "max_grad_rel_diff"):
            for v in ("scan", "twosolves"):
                if f"{v}_{kk}" in r:
                    pp[f"{v}_{kk}_vs_first"] = r[f"{v}_{kk}"]
        out["per_process"][n] = pp
    out["across_processes"] = {
        k: {"values": v, "median": statistics.median(v), "min": min(v), "max": max(v)}
        for k, v in agg.items()
    }
    # paired per process: scan / twosolves
    for k in ("forward_run_cpu_s_median", "gradient_run_cpu_s_median",
              "gradient_compile_cpu_s", "forward_compile_cpu_s"):  # fmt: skip
        ratios = [pp[f"scan_{k}"] / pp[f"twosolves_{k}"] for pp in out["per_process"].values()
                  if f"twosolves_{k}" in pp]  # fmt: skip
        if ratios:
            out["across_processes"][f"scan_over_twosolves_{k}"] = {
                "values": ratios, "median": statistics.median(ratios)
            }
    loads = [x for pp in out["per_process"].values()
             for x in (*pp["load_before"], *pp["load_after"])]  # fmt: skip
    out["load_average_range"] = [min(loads), max(loads)]
    (RESULTS / "hay2011_s12_head.json").write_text(json.dumps(out, indent=1))
    for k, v in out["across_processes"].items():
        print(f"{k:48s} median {v['median']:.4g}  values {[round(x, 4) for x in v['values']]}")
    print("load", out["load_average_range"])


if __name__ == "__main__":
    main()
