"""(Needs `Cell(..., node_order="chain_blocks")`, which session 15 removed: the time loop
runs in chain-block order by default with nothing renumbered, `cable._cell.LOOP_ORDER`;
rerun this script at commit e72408e. Session 15's comparison: `bench_cable.py --tool paired
--tree-loop`, `exp_cable_s15_loop_order.py`.)

Experiment (session 14, B): what the compiled forward step of the `bench_cable.py` HH tree
(backward Euler, float32) is made of, per cell layout: the while-loop body's top-level
fusions, gathers (as their own fusions or fused into others), copies and inner loops, for
the cell as shipped, with `cable._cell.GATES_AT_NODES`, and with `Cell(..., node_order="chain_blocks")`.
Counts the ops of the time loop's body (the computation whose fusions hold the `exp`s) and of the
fused computations it calls.

    python benchmarks/exp_cable_s14_hlo.py [--branches 1000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from exp_cable_s13_hlo import compiled_text, summarise  # noqa: E402
from exp_cable_s14_blocks import build  # noqa: E402


def counts(text):
    comps = summarise(text)

    def ops_of(lines):
        c = Counter()
        for ln in lines:
            m = re.search(r"= \S+ (\w[\w\-]*)\(", ln)
            if m:
                c[m.group(1)] += 1
            m = re.search(r"calls=%([\w.\-]+)", ln)
        return c

    # the time loop's body: the computation whose fusions hold the gates' `exp`s
    def exps(k):
        names = set()
        for ln in comps[k]:
            names.update(re.findall(r"calls=%([\w.\-]+)", ln))
        return sum(ops_of(comps.get(nm, []))["exponential"] for nm in names if nm != k)

    body = max(comps, key=exps)
    top = ops_of(comps[body])
    called = set()
    for ln in comps[body]:
        called.update(re.findall(r"calls=%([\w.\-]+)", ln))
    inner = Counter()
    for name in called:
        inner += ops_of(comps.get(name, []))
    # gathers anywhere in the program's fused computations, by element count
    gathers = []
    for name, lines in comps.items():
        for ln in lines:
            m = re.search(r"= (\w+)\[([\d,]*)\]\S* gather\(", ln)
            if m:
                gathers.append((name, m.group(1), m.group(2)))
    return {
        "body": body,
        "body_ops": sum(top.values()),
        "fusions": top["fusion"],
        "copies": top["copy"],
        "inner_loops_called": top["call"],
        "gathers_in_body_fusions": inner["gather"],
        "exp_in_body_fusions": inner["exponential"],
        "gather_shapes_in_program": Counter(f"{t}[{s}]" for _, t, s in gathers),
    }


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    out = {}
    for name, kw in (("shipped", {}), ("gates at nodes", {"gates_at_nodes": True}),
                     ("chain blocks", {"chain_blocks": True})):  # fmt: skip
        got = counts(compiled_text(build(args.branches, **kw)))
        got["gather_shapes_in_program"] = dict(got["gather_shapes_in_program"])
        out[name] = got
        print(name, json.dumps(got))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
