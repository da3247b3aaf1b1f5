"""Experiment (issue 18 item 9): where the Hay cell's gradient step spends its time, by
ablation in one process (the variants compiled one after the other, then their forward
runs and gradients run alternately, CPU time, medians; TR-BDF2, float32, `T` ms at dt
0.025 under the somatic step). Each ablation gives wrong voltages; only its time is read:

- `full`: the step as it is;
- `frozen_gates`: `Cell._update_gates` returns the gates unchanged (no gate update, and
  no concentration update, in the forward run nor in the gradient);
- `diag_solve`: every tree solve replaced by `rhs / d` (no Hines loop, its transpose a
  division too);
- `no_currents`: `Cell._currents` returns zero currents and zero slopes (no mechanism
  current nor its JVP; the gates still update);
- `no_project`: TR-BDF2 without the projection of the membrane-less nodes onto
  Kirchhoff's law (`_project` returns its input).

Runs with `throw=False` (an ablated cell may diverge); `*_finite` says whether its
output stayed finite (a NaN voltage runs `_cell._materialise`'s loop: that time is not
comparable). The gradient is `jax.grad` of the mean somatic V w.r.t. every inexact leaf of every
mechanism (as `bench_hay2011.py`); where an ablation cuts a leaf off, its cotangent is 0.

    python benchmarks/exp_hay_ablate.py --T 20 --repeats 5
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
    p.add_argument("--variants", default="full,frozen_gates,diag_solve,no_currents,no_project")
    p.add_argument("--out", default="hay2011_ablate")
    args = p.parse_args(argv)

    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import _cell, hay2011_morphology
    from neurojax.solvers import TRBDF2, _implicit, _tree_solve

    def frozen(self, v_new, y, pool, dt, t=None):
        return y.gates

    def no_currents(self, y, inputs, pool=None, t=None):
        z = jnp.zeros_like(y.v)
        return z, z

    def no_project(lin):
        return lin.v, lin.rhs

    def diag_only(topo, idx, d, a, b, rhs):
        return rhs / d

    patches = {
        "full": [],
        "frozen_gates": [(_cell.Cell, "_update_gates", frozen)],
        "diag_solve": [(_tree_solve, "_SOLVERS", {m: diag_only for m in _tree_solve.METHODS})],
        "no_currents": [(_cell.Cell, "_currents", no_currents)],
        "no_project": [(_implicit, "_project", no_project)],
    }
    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        # throw=False: an ablated cell may leave the voltage range; the run must go on
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(), throw=False,
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    row = {"T_ms": args.T, "machine": str(C.machine_info()), "load_before": os.getloadavg()}
    progs = {}
    for name in args.variants.split(","):
        saved = [(o, a, getattr(o, a)) for o, a, _ in patches[name]]
        for o, a, v in patches[name]:
            setattr(o, a, v)
        try:
            for what, fn in (("forward", run), ("gradient", jax.grad(lambda p: run(p).mean()))):
                jax.clear_caches()
                t0 = time.process_time()
                progs[f"{name}_{what}"] = jax.jit(fn).lower(params).compile()
                row[f"{name}_{what}_compile_cpu_s"] = time.process_time() - t0
        finally:
            for o, a, v in saved:
                setattr(o, a, v)
        print(name, "compiled", flush=True)
    times = {k: [] for k in progs}
    for _ in range(args.repeats):
        for k, f in progs.items():
            t0 = time.process_time()
            out = jax.block_until_ready(f(params))
            times[k].append(time.process_time() - t0)
            # a NaN voltage makes the step run its `_materialise` loop: time not comparable
            row[f"{k}_finite"] = bool(
                all(bool(jnp.isfinite(x).all()) for x in jax.tree_util.tree_leaves(out))
            )
    n_steps = int(round(args.T / val.DT))
    for k, ts in times.items():
        row[f"{k}_cpu_s"] = ts
        row[f"{k}_us_per_step"] = statistics.median(ts) / n_steps * 1e6
    full_f, full_g = row["full_forward_us_per_step"], row["full_gradient_us_per_step"]
    row["full_gradient_over_forward"] = full_g / full_f
    for name in args.variants.split(","):
        if name == "full":
            continue
        # what the ablated piece costs: the full step minus the step without it
        row[f"{name}_saves_forward_us"] = full_f - row[f"{name}_forward_us_per_step"]
        row[f"{name}_saves_gradient_us"] = full_g - row[f"{name}_gradient_us_per_step"]
    row["load_after"] = os.getloadavg()
    (C.RESULTS / f"{args.out}.json").write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine" and not k.endswith("_cpu_s"):
            print(f"{k:40s} {v}")


if __name__ == "__main__":
    main()
