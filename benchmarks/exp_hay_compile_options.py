"""Experiment: XLA compiler options for the Hay cell's gradient — compile CPU time vs run.

Issue 18 item 9 asks the Hay cell's reverse-mode gradient to compile in under 10 s; it
takes ~22 CPU-s, 18 of them in XLA (`bench_hay2011.py --compare-prepare`). This script
compiles the same forward run and gradient with several per-program XLA options
(`jax.jit(..., compiler_options=...)`), then runs the compiled programs alternately
(CPU time, minima of `--repeats`) and compares their outputs with the default's.

    python benchmarks/exp_hay_compile_options.py --T 200 --repeats 3

Results: benchmarks/results/hay2011_compile_options.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402

OPTIONS = {
    "default": {},
    "opt_level_0": {"xla_backend_optimization_level": 0},
    "opt_level_1": {"xla_backend_optimization_level": 1},
    "no_expensive_llvm": {"xla_llvm_disable_expensive_passes": True},
    "legacy_emitters": {"xla_cpu_use_fusion_emitters": False},
    "legacy_no_expensive": {"xla_cpu_use_fusion_emitters": False,
                            "xla_llvm_disable_expensive_passes": True},
    # session 13 (helper A): XLA:CPU options not tried before (per program); the LLVM
    # pipeline's switches (loop unrolling, SLP vectoriser, optimise for size) are
    # `xla_backend_extra_options` keys, process-wide: exp_hay_s13_extra_options.py
    "vector_width_256": {"xla_cpu_prefer_vector_width": 256},
    "max_isa_avx2": {"xla_cpu_max_isa": "AVX2"},
}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=float, default=200.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=",".join(OPTIONS))
    ap.add_argument("--out", default="hay2011_compile_options")
    args = ap.parse_args(argv)

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np
    from bench_hay2011 import _validation

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2

    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

    def loss(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                           saveat=nj.SaveAt(fn=soma)).states

    def grad(p):
        return jax.grad(lambda q: loss(q).mean())(p)

    row = {"T_ms": args.T, "machine": C.machine_info(), "load_before": os.getloadavg()[0]}
    progs = {}
    for name in args.only.split(","):
        opts = OPTIONS[name]
        for what, fn in (("forward", loss), ("gradient", grad)):
            jax.clear_caches()
            t0 = time.process_time()
            lowered = jax.jit(fn).lower(params)
            t1 = time.process_time()
            compiled = lowered.compile(opts) if opts else lowered.compile()
            t2 = time.process_time()
            row[f"{name}_{what}_trace_cpu_s"] = t1 - t0
            row[f"{name}_{what}_xla_cpu_s"] = t2 - t1
            progs[(name, what)] = compiled
            print(name, what, f"trace {t1 - t0:.2f} xla {t2 - t1:.2f} CPU-s", flush=True)
    best, outs = {}, {}
    for _ in range(args.repeats):
        for key, prog in progs.items():
            t0 = time.process_time()
            out = jax.block_until_ready(prog(params))
            best[key] = min(best.get(key, np.inf), time.process_time() - t0)
            outs[key] = out
    ref_f = np.asarray(outs[("default", "forward")])
    ref_g = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[("default", "gradient")])]
    for (name, what), t in best.items():
        row[f"{name}_{what}_run_cpu_s"] = t
        if what == "forward":
            v = np.asarray(outs[(name, what)])
            row[f"{name}_max_v_diff_mV"] = float(np.abs(v - ref_f).max())
        else:
            g = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[(name, what)])]
            row[f"{name}_max_grad_rel_diff"] = max(
                float(np.abs(a - b).max() / (np.abs(b).max() + 1e-30))
                for a, b in zip(g, ref_g, strict=True))
    for name in args.only.split(","):
        row[f"{name}_ratio"] = best[(name, "gradient")] / best[(name, "forward")]
    row["load_after"] = os.getloadavg()[0]
    out = C.RESULTS / f"{args.out}.json"
    out.write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine":
            print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")


if __name__ == "__main__":
    main()
