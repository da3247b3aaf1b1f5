"""Experiment (issue 18 item 9): what the Hay cell's gradient step computes, read from
XLA's optimised program (no timing: a static count, independent of the machine's load).

The forward run and the gradient (TR-BDF2, float32, `T` ms; `jax.grad` of the mean
somatic V w.r.t. every inexact leaf of every mechanism) are compiled; in the time loop's
body of each (the forward loop; the gradient's backward loop, which replays the step and
runs its transpose) every elementwise operation inside every fusion is counted with its
number of elements, weighted 8 for divisions and transcendental functions (`divide`,
`exponential`, `exponential-minus-one`, `log`, `power`, …) and 1 for the others
(`add`, `multiply`, `select`, `compare`, `gather`, …), and attributed to the neurojax
source file of its stack frame, and to *replay* (XLA's op name holds
`rematted_computation`) or *transpose*. The ratio of the gradient's weighted operations
per step (its forward pass + its backward loop) to the forward's predicts the measured
gradient ÷ forward (4.1 against 4.1–4.9 measured under load).

    python benchmarks/exp_hay_hlo_weight.py --T 10
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402
from bench_hay2011 import _validation  # noqa: E402

HEAVY = {"divide", "exponential", "exponential-minus-one", "log", "log-plus-one", "power",
         "tanh", "logistic", "sqrt", "rsqrt"}  # fmt: skip
LIGHT = {"add", "subtract", "multiply", "select", "compare", "maximum", "minimum", "negate",
         "and", "or", "not", "convert", "abs", "gather", "clamp", "sign", "floor"}  # fmt: skip


def _parse(hlo: str):
    """(computations: name -> lines, stack frame id -> source file)"""
    lines = hlo.splitlines()
    files, locs, frames, sec = {}, {}, {}, None
    for line in lines:
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            sec = line
            continue
        if sec and not line.strip():
            sec = None
            continue
        if sec == "FileNames":
            i, name = line.split(" ", 1)
            files[int(i)] = name.strip('"').split("/neurojax/", 1)[-1]
        elif sec == "FileLocations":
            m = re.search(r"file_name_id=(\d+)", line)
            locs[int(line.split(" ", 1)[0])] = files[int(m[1])]
        elif sec == "StackFrames":
            m = re.search(r"file_location_id=(\d+)", line)
            frames[int(line.split(" ", 1)[0])] = locs[int(m[1])]
    comps, cur = {}, None
    for line in lines:
        if not line.startswith(" ") and line.rstrip().endswith("{"):
            m = re.match(r"^(ENTRY )?%?([\w\.\-]+) ", line)
            cur = m.group(2) if m else None
            comps[cur] = []
        elif cur and line.startswith("  "):
            comps[cur].append(line)
    return comps, frames


def _elements(shape: str) -> int:
    m = re.match(r"\w+\[([\d,]*)\]", shape)
    if not m or not m.group(1):
        return 1
    return math.prod(int(x) for x in m.group(1).split(",") if x)


def weigh(hlo: str) -> dict:
    """Weighted element operations of the largest loop body, by (replay|transpose|forward,
    file), and its fusion count."""
    comps, frames = _parse(hlo)
    fused = {c: sum(" fusion(" in x for x in ls) for c, ls in comps.items()}
    body = max((c for c in comps if "region" in c), key=lambda c: fused[c])
    out = collections.Counter()
    for line in comps[body]:
        if " fusion(" not in line:
            continue
        called = re.search(r"calls=%?([\w\.\-]+)", line).group(1)
        for x in comps[called]:
            if "=" not in x:
                continue
            m = re.match(r"(\S+)\s+([a-z][a-z\-]*)\(", x.split("=", 1)[1].strip())
            if not m:
                continue
            shape, op = m.groups()
            w = 8 if op in HEAVY else 1 if op in LIGHT else 0
            if not w:
                continue
            name = re.search(r'op_name="([^"]+)"', x)
            part = "replay" if name and "rematted_computation" in name.group(1) else "other"
            sf = re.search(r"stack_frame_id=(\d+)", x)
            src = frames.get(int(sf.group(1)), "?") if sf else "?"
            out[f"{part}:{src}"] += w * _elements(shape)
    return {"fusions_in_body": fused[body], "total": sum(out.values()), "by_source": dict(out)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=10.0)
    p.add_argument("--out", default="hay2011_hlo_weight")
    args = p.parse_args(argv)
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2

    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    row = {"T_ms": args.T}
    for what, fn in (("forward", run), ("gradient", jax.grad(lambda p: run(p).mean()))):
        row[what] = weigh(jax.jit(fn).lower(params).compile().as_text())
        print(what, row[what]["fusions_in_body"], row[what]["total"], flush=True)
    f, b = row["forward"]["total"], row["gradient"]["total"]
    row["predicted_gradient_over_forward"] = (f + b) / f  # the gradient's forward pass + loop
    for part in ("replay", "other"):
        row[f"backward_{part}"] = sum(
            v for k, v in row["gradient"]["by_source"].items() if k.startswith(part + ":")
        )
    (C.RESULTS / f"{args.out}.json").write_text(json.dumps(row, indent=1))
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
