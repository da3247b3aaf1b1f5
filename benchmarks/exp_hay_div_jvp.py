"""Experiment (issue 18 item 9): the NMODL mechanisms' divisions with a cheaper
derivative, patched in for this experiment only (`nmodl/_compile.py` is the importer's
file; nothing there is changed).

JAX differentiates `q = a / b` as `ȧ/b − ḃ·a·b⁻²` (`integer_pow(b, −2)`: a division),
so reverse mode through a division costs three divisions (the replayed `a/b`, `b⁻²`,
the cotangent `q̄/b`). Written as `q̇ = (ȧ − q·ḃ)/b` (a `jax.custom_jvp`, the same
derivative to rounding) it costs two: the replayed `q` and `t = q̄/b`, with `ā = t`,
`b̄ = −q·t`. The static count (`exp_hay_hlo_weight.py`) puts the importer's `a / b` at
0.22 M of the backward loop's 0.95 M weighted operations per step.

Variants `jax` (as now) and `onediv` (the custom derivative for every `/` the importer
emits: `_compile._BINOPS_JNP["/"]`), compiled one after the other, run alternately
(CPU time, medians), TR-BDF2, `T` ms; `--x64` compares the gradients in float64.

    python benchmarks/exp_hay_div_jvp.py --T 20 --repeats 5
    python benchmarks/exp_hay_div_jvp.py --T 20 --repeats 1 --x64
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402
from bench_hay2011 import _validation  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--x64", action="store_true")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import equinox as eqx
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.nmodl import _compile
    from neurojax.solvers import TRBDF2

    @jax.custom_jvp
    def _div(a, b):
        return a / b

    @_div.defjvp
    def _div_jvp(primals, tangents):
        a, b = primals
        da, db = tangents
        q = a / b
        return q, (da - q * db) / b

    plain = _compile._BINOPS_JNP["/"]

    def onediv(a, b):
        if not (isinstance(a, jax.Array) or isinstance(b, jax.Array)):
            return plain(a, b)  # constants: folded as before
        a, b = jnp.asarray(a), jnp.asarray(b)
        if not (jnp.issubdtype(a.dtype, jnp.inexact) and jnp.issubdtype(b.dtype, jnp.inexact)):
            return plain(a, b)
        return _div(a, b)

    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    dtype = jnp.float64 if args.x64 else jnp.float32
    inputs = jnp.asarray(val.inputs("step"), dtype)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), params)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    row = {"T_ms": args.T, "x64": args.x64, "machine": str(C.machine_info()),
           "load_before": os.getloadavg()}  # fmt: skip
    progs = {}
    for name, fn_div in (("jax", plain), ("onediv", onediv)):
        _compile._BINOPS_JNP["/"] = fn_div
        try:
            for what, fn in (("forward", run), ("gradient", jax.grad(lambda p: run(p).mean()))):
                jax.clear_caches()
                t0 = time.process_time()
                progs[f"{name}_{what}"] = jax.jit(fn).lower(params).compile()
                row[f"{name}_{what}_compile_cpu_s"] = time.process_time() - t0
        finally:
            _compile._BINOPS_JNP["/"] = plain
        print(name, "compiled", flush=True)
    times = {k: [] for k in progs}
    outs = {}
    for _ in range(args.repeats):
        for k, f in progs.items():
            t0 = time.process_time()
            outs[k] = jax.block_until_ready(f(params))
            times[k].append(time.process_time() - t0)
    for k, ts in times.items():
        row[f"{k}_cpu_s"] = ts
        row[f"{k}_cpu_s_median"] = statistics.median(ts)
    for name in ("jax", "onediv"):
        row[f"{name}_gradient_over_forward"] = (
            row[f"{name}_gradient_cpu_s_median"] / row[f"{name}_forward_cpu_s_median"]
        )
    row["max_v_diff_mV"] = float(np.abs(np.asarray(outs["onediv_forward"])
                                        - np.asarray(outs["jax_forward"])).max())  # fmt: skip
    ga = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs["jax_gradient"])]
    gb = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs["onediv_gradient"])]
    row["max_grad_rel_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(ga, gb, strict=True)
                                   ) / max(float(np.abs(a).max()) for a in ga)  # fmt: skip
    row["load_after"] = os.getloadavg()
    out = args.out or ("hay2011_div_jvp_x64" if args.x64 else "hay2011_div_jvp")
    (C.RESULTS / f"{out}.json").write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine" and not k.endswith("_cpu_s"):
            print(f"{k:36s} {v}")


if __name__ == "__main__":
    main()
