"""Experiment (issue 18 item 9, session 13, helper A): a mechanism-level derivative rule.

`cable._cell.POINTWISE_DERIVATIVE` differentiates each mechanism group's state update
(`Cell._update_gates`) by `_cell._pointwise`: the Jacobian column of every differentiated
per-compartment input (V, the gates, the ion values; the parameters too with
`POINTWISE_PARAMETERS`) by forward mode in the forward pass, so the reverse pass is
elementwise products instead of a replay and transpose of the rate expressions.

Variants (`--variants`): `jax` (flag off: JAX's own rule, HEAD's program), `pw` (flag on,
parameters as columns), `pwj` (flag on, parameters through one joint JVP); `pwc`, `pwcj`:
the same with the currents and slopes (`_cell.POINTWISE_CURRENTS`) too; `cur`: the
currents alone. For each, the
forward run and two gradients — `all` (every inexact leaf of every mechanism, as
`bench_hay2011.py`) and `dens` (the channel densities only: `g…bar` and `pas`'s `g`, what
issue 18 names) — are compiled after `jax.clear_caches()` (tracing and XLA CPU s), their
fusions counted, then all programs run alternately `--repeats` times (CPU time,
`time.process_time`, medians). Each variant's results are compared with the first's
(somatic V, gradients relative to their largest entry). TR-BDF2, `T` ms at dt 0.025 ms
under the somatic step; float32 (`--x64`: float64).

    python benchmarks/exp_hay_s13_pointwise.py --T 1000 --repeats 3 --variants jax,pw
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402
from bench_hay2011 import _validation  # noqa: E402
from exp_hay_compile_size import fusions  # noqa: E402

DENSITY = re.compile(r"^g.*bar$|^g$")  # gNaTa_tbar, gSKv3_1bar, …, pas's g


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=100.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", default="jax,pw")
    p.add_argument("--grads", default="all,dens")
    p.add_argument("--x64", action="store_true")
    p.add_argument("--no-forward", action="store_true")
    p.add_argument("--out", default="hay2011_s13_pointwise")
    args = p.parse_args(argv)

    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import equinox as eqx
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import _cell, hay2011_morphology
    from neurojax.solvers import TRBDF2

    flags = {
        "jax": {"POINTWISE_DERIVATIVE": False},
        "pw": {"POINTWISE_DERIVATIVE": True, "POINTWISE_PARAMETERS": True},
        "pwj": {"POINTWISE_DERIVATIVE": True, "POINTWISE_PARAMETERS": False},
        "pwc": {"POINTWISE_DERIVATIVE": True, "POINTWISE_CURRENTS": True,
                "POINTWISE_PARAMETERS": True},
        "pwcj": {"POINTWISE_DERIVATIVE": True, "POINTWISE_CURRENTS": True,
                 "POINTWISE_PARAMETERS": False},
        "cur": {"POINTWISE_DERIVATIVE": False, "POINTWISE_CURRENTS": True,
                "POINTWISE_PARAMETERS": True},
    }
    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    dtype = jnp.float64 if args.x64 else jnp.float32
    inputs = jnp.asarray(val.inputs("step"), dtype)
    soma = cell.record_v([(0, 0.5)])
    solver = TRBDF2()
    mechs = jax.tree_util.tree_map(
        lambda x: jnp.asarray(x, dtype) if eqx.is_inexact_array(x) else x, cell.mechanisms)
    cell = eqx.tree_at(lambda c: c.mechanisms, cell, mechs)

    def is_density(path, leaf):
        return eqx.is_inexact_array(leaf) and bool(DENSITY.match(getattr(path[-1], "name", "")))

    specs = {"all": eqx.is_inexact_array,
             "dens": jax.tree_util.tree_map_with_path(is_density, mechs)}  # fmt: skip

    def run(m):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, m)
        return nj.simulate(c, inputs, dt=val.DT, solver=solver,
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    row = {"T_ms": args.T, "x64": args.x64, "machine": str(C.machine_info()),
           "load_before": os.getloadavg(), "variants": args.variants}  # fmt: skip
    progs, argsof = {}, {}
    names = args.variants.split(",")
    grads = [g for g in args.grads.split(",") if g]
    for name in names:
        saved = {k: getattr(_cell, k) for k in flags[name]}
        for k, v in flags[name].items():
            setattr(_cell, k, v)
        try:
            todo = [] if args.no_forward else [("forward", None)]
            todo += [(g, specs[g]) for g in grads]
            for what, spec in todo:
                if spec is None:
                    diff, static = eqx.partition(mechs, eqx.is_inexact_array)
                    fn = lambda d, st=static: run(eqx.combine(d, st))  # noqa: E731
                else:
                    diff, static = eqx.partition(mechs, spec)
                    fn = jax.grad(lambda d, st=static: run(eqx.combine(d, st)).mean())
                jax.clear_caches()
                t0 = time.process_time()
                lowered = jax.jit(fn).lower(diff)
                t1 = time.process_time()
                compiled = lowered.compile()
                t2 = time.process_time()
                key = f"{name}_{what}"
                row[f"{key}_trace_cpu_s"] = t1 - t0
                row[f"{key}_xla_cpu_s"] = t2 - t1
                row[f"{key}_compile_cpu_s"] = t2 - t0
                row[f"{key}_fusions"] = fusions(compiled.as_text())[0]
                mem = compiled.memory_analysis()
                row[f"{key}_bytes"] = int(mem.temp_size_in_bytes + mem.output_size_in_bytes)
                progs[key], argsof[key] = compiled, diff
                print(key, {k: v for k, v in row.items() if k.startswith(key)}, flush=True)
        finally:
            for k, v in saved.items():
                setattr(_cell, k, v)
    times = {k: [] for k in progs}
    outs = {}
    for _ in range(args.repeats):
        for k, f in progs.items():
            t0 = time.process_time()
            outs[k] = jax.block_until_ready(f(argsof[k]))
            times[k].append(time.process_time() - t0)
    for k, ts in times.items():
        row[f"{k}_cpu_s"] = ts
        row[f"{k}_cpu_s_median"] = statistics.median(ts)
    for name in names:
        for g in grads:
            if not args.no_forward:
                row[f"{name}_{g}_over_forward"] = (
                    row[f"{name}_{g}_cpu_s_median"] / row[f"{name}_forward_cpu_s_median"])
    for name in names[1:]:
        if not args.no_forward:
            a, b = np.asarray(outs[f"{name}_forward"]), np.asarray(outs[f"{names[0]}_forward"])
            row[f"{name}_max_v_diff_mV"] = float(np.abs(a - b).max())
        for g in grads:
            ga = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[f"{name}_{g}"])]
            gb = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[f"{names[0]}_{g}"])]
            big = max(float(np.abs(x).max()) for x in gb)
            row[f"{name}_{g}_max_rel_diff"] = max(
                float(np.abs(x - y).max()) for x, y in zip(ga, gb, strict=True)) / big
            row[f"{name}_{g}_over_{names[0]}"] = (
                row[f"{name}_{g}_cpu_s_median"] / row[f"{names[0]}_{g}_cpu_s_median"])
    row["load_after"] = os.getloadavg()
    (C.RESULTS / f"{args.out}.json").write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine" and not k.endswith("_cpu_s"):
            print(f"{k:44s} {v}")


if __name__ == "__main__":
    main()
