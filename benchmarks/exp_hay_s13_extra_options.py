"""Experiment (issue 18 item 9, session 13, helper A): XLA:CPU's LLVM-pipeline switches for
the Hay cell's gradient compilation, process-wide `xla_backend_extra_options` keys
(`xla_cpu_disable_loop_unrolling`, `xla_cpu_disable_slp_vectorizer`,
`xla_cpu_optimize_for_size`; not settable per program), each in fresh processes.

Each round runs `exp_hay_compile_options.py --only default --T <T> --repeats <R>` once per
variant, the variants' order reversed every other round, with `XLA_FLAGS` holding
neurojax's small-loop threshold plus the variant's keys (and the 512-bit vector width
neurojax sets on this CPU). Per variant: gradient and forward compile CPU s (tracing + XLA)
and run CPU s (minima of `--repeats` in its process); medians over rounds.

    python benchmarks/exp_hay_s13_extra_options.py --T 200 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
VARIANTS = {
    "default": [],
    "no_loop_unrolling": ["xla_cpu_disable_loop_unrolling=true"],
    "no_slp": ["xla_cpu_disable_slp_vectorizer=true"],
    "optimize_for_size": ["xla_cpu_optimize_for_size=true"],
}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=float, default=200.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(VARIANTS))
    ap.add_argument("--out", default="hay2011_s13_extra_options")
    args = ap.parse_args(argv)
    names = args.only.split(",")
    rows = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            keys = ["xla_cpu_small_while_loop_byte_threshold=16777216", *VARIANTS[name]]
            env = dict(os.environ, XLA_FLAGS="--xla_cpu_prefer_vector_width=512 "
                       f"--xla_backend_extra_options={','.join(keys)}")  # fmt: skip
            tag = f"{args.out}_{name}_r{r}"
            subprocess.run([sys.executable, str(HERE / "exp_hay_compile_options.py"),
                            "--only", "default", "--T", str(args.T), "--repeats",
                            str(args.repeats), "--out", tag], env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            path = RESULTS / f"{tag}.json"
            row = json.loads(path.read_text())
            path.unlink()
            row["load"] = (row["load_before"], row["load_after"])
            rows[name].append(row)
            print(name, r, {k: round(v, 3) for k, v in row.items()
                            if isinstance(v, float) and "default_" in k}, flush=True)  # fmt: skip
    summary = {"T_ms": args.T, "repeats": args.repeats, "rounds": args.rounds}
    for name, rs in rows.items():
        for key in ("gradient_trace_cpu_s", "gradient_xla_cpu_s", "forward_xla_cpu_s",
                    "gradient_run_cpu_s", "forward_run_cpu_s"):  # fmt: skip
            vals = [x[f"default_{key}"] for x in rs]
            summary[f"{name}_{key}"] = vals
            summary[f"{name}_{key}_median"] = statistics.median(vals)
        summary[f"{name}_loads"] = [x["load"] for x in rs]
        summary[f"{name}_gradient_over_forward_median"] = statistics.median(
            x["default_gradient_run_cpu_s"] / x["default_forward_run_cpu_s"] for x in rs)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(summary, indent=1, default=str))
    for k, v in summary.items():
        if k.endswith("_median"):
            print(f"{k:48s} {v:.4g}")


if __name__ == "__main__":
    main()
