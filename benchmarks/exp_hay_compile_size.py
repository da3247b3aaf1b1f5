"""Experiment (issue 18 item 9): the size of the Hay cell's compiled programs and what
shrinks them, in one process: module flags toggled per variant, each variant's forward
run and gradient compiled after `jax.clear_caches()` (tracing and XLA CPU s apart), the
programs' fusions counted (all, and in the largest loop body), then the compiled
programs run alternately (`--repeats`, CPU time, medians and minima), and each variant's
results compared with the first variant's (largest difference of the somatic trace and
of the gradient relative to its largest entry).

Variants (`--variants`, comma-separated):

- `base`: the tree solve's Hines loops without padding (`_tree_solve._PAD_TO_UNROLL =
  False`): XLA peels the remainder of each unrolled loop into the time step;
- `pad`: padded to a multiple of the unroll (the default now);
- `unroll1`, `unroll4`: Hines loops unrolled ×1 or ×4 instead of ×8 (`_UNROLL`);
- `stages`: TR-BDF2's two tree solves as one `lax.scan` over its two stages (a
  replacement of `TRBDF2._tree_voltages` patched in for this experiment: the same
  operations in the same order, `r = ((a_k·C)·δ_prev)/h + b_k·F` with `(a, b) = (0, 2)`
  then `(1 + β, −1)`), so that the program holds one solve where it held two (the
  forward pass, its replay and its transpose: 3 solve loops instead of 6).
- `scan`, `twosolves`: the same scan as applied in `_implicit.py` (`_SCAN_STAGES`,
  the default since session 12), on and off.

TR-BDF2 (or `--solver backward_euler`), float32 (`--x64`: float64, to compare values to
rounding), `T` ms at dt 0.025 under the somatic step; the gradient is `jax.grad` of the
mean somatic V w.r.t. every inexact leaf of every mechanism (as `bench_hay2011.py`).

    python benchmarks/exp_hay_compile_size.py --T 100 --variants base,pad
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


def fusions(hlo: str) -> tuple[int, int]:
    """(fusions in the whole program, fusions in its largest computation)."""
    per, cur = {}, None
    for line in hlo.splitlines():
        if not line.startswith(" ") and line.rstrip().endswith("{"):
            cur = line.split(" ", 1)[0]
            per[cur] = 0
        elif cur is not None and re.search(r"\sfusion\(", line):
            per[cur] += 1
    return sum(per.values()), max(per.values(), default=0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=100.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", default="base,pad")
    p.add_argument("--solver", default="trbdf2", choices=("trbdf2", "backward_euler"))
    p.add_argument("--x64", action="store_true")
    p.add_argument("--out", default="hay2011_compile_size")
    args = p.parse_args(argv)

    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import equinox as eqx
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2, BackwardEuler, _implicit, _tree_solve

    def staged_voltages(self, lin, dt, solver):
        g = self.gamma
        v, rhs = _implicit._project(lin)
        m = lin.operator
        h = g * dt / 2
        beta = (1 - g) ** 2 / (g * (2 - g))
        c = lin.capacitance
        op = _implicit.TreeOperator(m.topology, c / h + m.diagonal, m.lower, m.upper)
        coef = jnp.asarray([[0.0, 2.0], [1 + beta, -1.0]], v.dtype)

        def stage(d_prev, ab):
            d = solver.solve(op, ab[0] * c * d_prev / h + ab[1] * rhs)
            return d, d

        _, ds = jax.lax.scan(stage, jnp.zeros_like(v), coef)
        if lin.clamped is None or not np.asarray(lin.clamped).any():
            return v + ds[0] + ds[1]
        return _implicit._clamped_modes(lin, v, v + ds[0] + ds[1], dt)

    flags = {
        "base": {(_tree_solve, "_PAD_TO_UNROLL"): False},
        "pad": {(_tree_solve, "_PAD_TO_UNROLL"): True},
        "unroll1": {(_tree_solve, "_UNROLL"): 1},
        "unroll4": {(_tree_solve, "_UNROLL"): 4},
        "stages": {(TRBDF2, "_tree_voltages"): staged_voltages},
        # the stages scan as applied in _implicit.py (session 12, A2), on and off
        "scan": {(_implicit, "_SCAN_STAGES"): True},
        "twosolves": {(_implicit, "_SCAN_STAGES"): False},
    }
    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    dtype = jnp.float64 if args.x64 else jnp.float32
    inputs = jnp.asarray(val.inputs("step"), dtype)
    soma = cell.record_v([(0, 0.5)])
    solver = TRBDF2() if args.solver == "trbdf2" else BackwardEuler()
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), params)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=solver,
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    row = {"T_ms": args.T, "solver": args.solver, "x64": args.x64,
           "machine": str(C.machine_info()), "load_before": os.getloadavg()}  # fmt: skip
    progs = {}
    names = args.variants.split(",")
    for name in names:
        saved = {k: getattr(*k) for k in flags[name]}
        for (mod, attr), v in flags[name].items():
            setattr(mod, attr, v)
        try:
            for what, fn in (("forward", run), ("gradient", jax.grad(lambda p: run(p).mean()))):
                jax.clear_caches()
                t0 = time.process_time()
                lowered = jax.jit(fn).lower(params)
                t1 = time.process_time()
                compiled = lowered.compile()
                t2 = time.process_time()
                key = f"{name}_{what}"
                row[f"{key}_trace_cpu_s"] = t1 - t0
                row[f"{key}_xla_cpu_s"] = t2 - t1
                row[f"{key}_fusions"], row[f"{key}_fusions_largest_body"] = fusions(
                    compiled.as_text()
                )
                mem = compiled.memory_analysis()
                row[f"{key}_bytes"] = int(mem.temp_size_in_bytes + mem.output_size_in_bytes)
                progs[key] = compiled
                print(key, {k: v for k, v in row.items() if k.startswith(key)}, flush=True)
        finally:
            for (mod, attr), v in saved.items():
                setattr(mod, attr, v)
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
    for name in names:
        row[f"{name}_gradient_over_forward"] = (
            row[f"{name}_gradient_cpu_s_median"] / row[f"{name}_forward_cpu_s_median"]
        )
    ref_v = np.asarray(outs[f"{names[0]}_forward"])
    ref_g = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[f"{names[0]}_gradient"])]
    big = max(float(np.abs(x).max()) for x in ref_g)
    for name in names[1:]:
        v = np.asarray(outs[f"{name}_forward"])
        g = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[f"{name}_gradient"])]
        row[f"{name}_max_v_diff_mV"] = float(np.abs(v - ref_v).max())
        row[f"{name}_max_grad_rel_diff"] = (
            max(float(np.abs(a - b).max()) for a, b in zip(g, ref_g, strict=True)) / big
        )
    row["load_after"] = os.getloadavg()
    (C.RESULTS / f"{args.out}.json").write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine":
            print(f"{k:44s} {v}")


if __name__ == "__main__":
    main()
