"""Experiment (issue 18 item 9): the Hay cell's gradient with other checkpoint
granularities, in one process (CPU time, the compiled programs run alternately, medians
and minima), TR-BDF2, float32, `T` ms at dt 0.025 under the somatic step.

Variants (`--variants`, comma-separated):

- `forward`: the run alone (the denominator);
- `step`: the default (`CheckpointAdjoint()`: the state stored per step, each step
  recomputed from it in the backward pass, `jax.checkpoint` around every step);
- `store`: nothing recomputed: every residual of every step stored by the forward pass
  (`recompute_steps() = False`), the backward pass only transposes;
- `chunkK` (e.g. `chunk50`): chunks of K steps checkpointed (the state at each chunk's
  start stored), each chunk recomputed in the backward pass with all of its residuals
  stored, then transposed (scan of scans);
- `policy`: per-step remat, but the outputs of the step's transcendental functions and
  divisions (`exp`, `expm1`, `log`, `log1p`, `div`, ...) stored by the forward pass
  (a `jax.checkpoint` policy; patched into `simulate` for this experiment only).

Each gradient is `jax.grad` of the mean somatic V w.r.t. every inexact leaf of every
mechanism (as `bench_hay2011.py`). Reported: compile CPU s (trace, XLA), XLA's memory
plan (temporaries + outputs), run CPU s, gradient ÷ forward, and the largest difference
of each gradient from `step`'s relative to its largest entry.

    python benchmarks/exp_hay_remat.py --T 100 --variants forward,step,store,chunk50
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

TRANSCENDENTAL = {"exp", "exp2", "expm1", "log", "log1p", "div", "tanh", "logistic",
                  "pow", "sqrt", "rsqrt"}  # fmt: skip


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=100.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", default="forward,step,store,chunk50,policy")
    p.add_argument("--solver", default="trbdf2", choices=("trbdf2", "backward_euler"))
    p.add_argument("--out", default="hay2011_remat")
    args = p.parse_args(argv)

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax import _simulate
    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2, BackwardEuler

    class NoRecompute(nj.CheckpointAdjoint):
        def recompute_steps(self) -> bool:
            return False

    val = _validation()
    val.T = args.T
    morph = hay2011_morphology()
    cell = val.neurojax_cell(morph)
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    solver = TRBDF2() if args.solver == "trbdf2" else BackwardEuler()
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

    def run(p, adjoint):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=solver, adjoint=adjoint,
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    real_jax = _simulate.jax

    class _PolicyJax:  # `jax` as `_simulate` sees it, with a policy on `checkpoint`
        def __getattr__(self, name):
            return getattr(real_jax, name)

        @staticmethod
        def checkpoint(fn, **kw):
            def policy(prim, *_, **__):
                return prim.name in TRANSCENDENTAL

            return real_jax.checkpoint(fn, policy=policy, **kw)

    row = {"T_ms": args.T, "solver": args.solver, "machine": C.machine_info(),
           "load_before": os.getloadavg()}  # fmt: skip
    progs = {}
    for name in args.variants.split(","):
        if name == "forward":
            fn = lambda p: run(p, nj.CheckpointAdjoint())  # noqa: E731
        else:
            if name == "step":
                adj = nj.CheckpointAdjoint()
            elif name == "store":
                adj = NoRecompute()
            elif name.startswith("chunk"):
                adj = NoRecompute(every=int(name[5:]))
            elif name == "policy":
                adj = nj.CheckpointAdjoint()
            else:
                raise SystemExit(f"unknown variant {name!r}")
            fn = jax.grad(lambda p, a=adj: run(p, a).mean())
        jax.clear_caches()
        if name == "policy":
            _simulate.jax = _PolicyJax()
        try:
            t0 = time.process_time()
            lowered = jax.jit(fn).lower(params)
            t1 = time.process_time()
            compiled = lowered.compile()
            t2 = time.process_time()
        finally:
            _simulate.jax = real_jax
        mem = compiled.memory_analysis()
        row[f"{name}_trace_cpu_s"] = t1 - t0
        row[f"{name}_xla_cpu_s"] = t2 - t1
        row[f"{name}_bytes"] = int(mem.temp_size_in_bytes + mem.output_size_in_bytes)
        row[f"{name}_hlo_chars"] = len(compiled.as_text())
        progs[name] = compiled
        print(name, {k: v for k, v in row.items() if k.startswith(name)}, flush=True)
    times = {k: [] for k in progs}
    outs = {}
    for _ in range(args.repeats):
        for k, f in progs.items():
            t0 = time.process_time()
            outs[k] = jax.block_until_ready(f(params))
            times[k].append(time.process_time() - t0)
    fwd = statistics.median(times["forward"]) if "forward" in times else None
    for k, ts in times.items():
        row[f"{k}_cpu_s"] = ts
        row[f"{k}_cpu_s_median"] = statistics.median(ts)
        if fwd and k != "forward":
            row[f"{k}_over_forward"] = statistics.median(ts) / fwd
            row[f"{k}_over_forward_min"] = min(ts) / min(times["forward"])
    if "step" in outs:
        ref = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs["step"])]
        big = max(float(np.abs(x).max()) for x in ref)
        for k, o in outs.items():
            if k in ("forward", "step"):
                continue
            got = [np.asarray(x) for x in jax.tree_util.tree_leaves(o)]
            row[f"{k}_max_rel_diff_vs_step"] = (
                max(float(np.abs(a - b).max()) for a, b in zip(got, ref, strict=True)) / big
            )
    row["load_after"] = os.getloadavg()
    row["machine"] = str(row["machine"])
    text = json.dumps(row, indent=1, default=str)
    (C.RESULTS / f"{args.out}.json").write_text(text)
    for k, v in row.items():
        if k != "machine":
            print(f"{k:36s} {v}")


if __name__ == "__main__":
    main()
