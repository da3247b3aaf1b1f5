"""Session 15 (issue 18 item 9): where the Hay cell's gradient program's fused kernels
come from, by computation and by source line (no timing: a static count).

The gradient (TR-BDF2, float32, `T` ms at dt 0.025 under the somatic step; `jax.grad` of
the mean somatic V w.r.t. every inexact leaf of every mechanism, as `bench_hay2011.py` and
`exp_hay_s14_compile.py`) is compiled from the checkout `--root` (default: this one), and
every `fusion` of XLA's optimised program is attributed to its computation (the entry,
the forward loop's body, the backward loop's body, the tree solves' loops) and to the
innermost neurojax source line of its stack frame, marked `R` (the backward pass's replay,
`rematted_computation`) or `T` (a transpose). The count does not depend on `T` (725 at 5
ms and at 1 s at commit e72408e): XLA's compile time follows it (12-23 ms per loop
fusion, benchmarks/README.md; `--cost` measures XLA's time per trivial kernel).

    python benchmarks/exp_hay_s15_fusions.py --root /tmp/base --out hay2011_s15_fusions_base
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _frames(lines):
    files, funcs, locs, frames, sec = {}, {}, {}, {}, None
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
        elif sec == "FunctionNames":
            i, name = line.split(" ", 1)
            funcs[int(i)] = name.strip('"')
        elif sec == "FileLocations":
            m = re.search(r"file_name_id=(\d+) function_name_id=(\d+) line=(\d+)", line)
            locs[int(line.split(" ", 1)[0])] = (files[int(m[1])], funcs[int(m[2])], int(m[3]))
        elif sec == "StackFrames":
            m = re.search(r"file_location_id=(\d+) parent_frame_id=(\d+)", line)
            frames[int(line.split(" ", 1)[0])] = (int(m[1]), int(m[2]))

    def source(fid):
        """The innermost frame outside site-packages and benchmarks, as file:function:line."""
        seen = set()
        while fid in frames and fid not in seen:
            seen.add(fid)
            loc, parent = frames[fid]
            f, fn, ln = locs[loc]
            if "site-packages" not in f and "benchmarks" not in f:
                return f"{f.split('/')[-1]}:{fn}:{ln}"
            fid = parent
        return "?"

    return source


def listing(hlo: str) -> dict:
    lines = hlo.splitlines()
    source = _frames(lines)
    comps, cur = {}, None
    for line in lines:
        if not line.startswith(" ") and line.rstrip().endswith("{"):
            m = re.match(r"^(ENTRY )?%?([\w\.\-]+) ", line)
            cur = ("ENTRY " if m and m.group(1) else "") + (m.group(2) if m else "?")
            comps[cur] = []
        elif cur and line.startswith("  "):
            comps[cur].append(line)
    out = {}
    for name, body in comps.items():
        fz = [x for x in body if re.search(r"\sfusion\(", x)]
        if not fz:
            continue
        by = collections.Counter()
        for x in fz:
            sf = re.search(r"stack_frame_id=(\d+)", x)
            on = re.search(r'op_name="([^"]+)"', x)
            on = on.group(1) if on else ""
            mark = "R " if "rematted" in on else "T " if "transpose" in on else ""
            by[mark + (source(int(sf.group(1))) if sf else "(no stack frame)")] += 1
        out[name] = {"fusions": len(fz), "by_source": dict(by.most_common())}
    return out


def cost(repeats: int = 3) -> dict:
    """XLA CPU-s per trivial kernel: N slices, or N sums of 191 values (3 kernels each)."""
    import jax
    import jax.numpy as jnp

    x = jnp.ones(191 * 200)
    res = collections.defaultdict(list)
    for _ in range(repeats):
        for kind in ("slice", "sum"):
            for n in (5, 55):
                if kind == "slice":
                    f = lambda x, n=n: [x[i * 3 + 1] for i in range(n)]  # noqa: E731
                else:
                    f = lambda x, n=n: [jnp.sum(x[i * 191 : (i + 1) * 191]) for i in range(n)]  # noqa: E731
                jax.clear_caches()
                lo = jax.jit(f).lower(x)
                t0 = time.process_time()
                co = lo.compile()
                res[f"{kind}_{n}"].append(
                    (time.process_time() - t0, co.as_text().count(" fusion("))
                )
    out = {}
    for kind in ("slice", "sum"):
        (a, fa), (b, fb) = (min(res[f"{kind}_{n}"]) for n in (5, 55))
        out[kind] = {"ms_per_fusion": 1e3 * (b - a) / (fb - fa), "fusions": [fa, fb]}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(HERE.parent))
    p.add_argument("--T", type=float, default=5.0)
    p.add_argument("--cost", action="store_true", help="also XLA's time per trivial kernel")
    p.add_argument("--out", default="hay2011_s15_fusions")
    args = p.parse_args(argv)
    root = str(Path(args.root).resolve())
    sys.path[:0] = [root, str(Path(root) / "benchmarks")]
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj

    if not nj.__file__.startswith(root):
        raise RuntimeError(f"neurojax came from {nj.__file__}, not {root}")
    from bench_hay2011 import _validation

    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2

    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), params)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    lowered = jax.jit(jax.grad(lambda p: run(p).mean())).lower(params)
    t0 = time.process_time()
    hlo = lowered.compile().as_text()
    xla = time.process_time() - t0
    comps = listing(hlo)
    res = {
        "root": root,
        "T_ms": args.T,
        "load": os.getloadavg(),
        "gradient_xla_cpu_s": xla,
        "fusions": sum(c["fusions"] for c in comps.values()),
        "computations": dict(sorted(comps.items(), key=lambda kv: -kv[1]["fusions"])),
    }
    if args.cost:
        res["xla_cost_per_trivial_kernel"] = cost()
    (HERE / "results" / f"{args.out}.json").write_text(json.dumps(res, indent=1))
    print("fusions:", res["fusions"], "XLA CPU-s:", round(xla, 2))
    for name, c in list(res["computations"].items())[:4]:
        print(f"{c['fusions']:4d} {name[:60]}")
        for src, n in list(c["by_source"].items())[:8]:
            print(f"       {n:4d} {src}")
    if args.cost:
        print(res["xla_cost_per_trivial_kernel"])


if __name__ == "__main__":
    main()
