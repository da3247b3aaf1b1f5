"""Experiment: the Hay cell's gradient with respect to the channel densities only (what
issue #18 item 9 names: "w.r.t. every channel density") against every inexact leaf of
every mechanism (densities and kinetic parameters: `bench_hay2011.py`'s gradient).

Differentiating fewer leaves removes their cotangent accumulations from the backward
loop. Both at T ms (default 200) under the somatic step, TR-BDF2 and backward Euler,
float32: compile CPU s (trace, XLA), then forward and the two gradients alternated
`--repeats` times (CPU s, minima), and the largest relative difference of the density
gradients between the two (they must agree: the same cotangents).

    python benchmarks/exp_hay_gradient_wrt.py --T 200
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from bench_hay2011 import _validation  # noqa: E402

DENSITY = re.compile(r"^g.*bar$|^g$")  # gNaTa_tbar, gSKv3_1bar, …, pas's g


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=200.0)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2, BackwardEuler

    val = _validation()
    val.T = args.T
    morph = hay2011_morphology()
    cell = val.neurojax_cell(morph)
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    everything, _ = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

    def is_density(path, leaf):
        name = getattr(path[-1], "name", "")
        return eqx.is_inexact_array(leaf) and bool(DENSITY.match(name))

    flags = jax.tree_util.tree_map_with_path(is_density, cell.mechanisms)
    densities, _ = eqx.partition(cell.mechanisms, flags)
    size = lambda tree: int(sum(x.size for x in jax.tree_util.tree_leaves(tree)))  # noqa: E731
    rows = {"T_ms": args.T, "machine": C.machine_info(), "n_all": size(everything),
            "n_densities": size(densities)}  # fmt: skip
    for name, solver in (("trbdf2", TRBDF2()), ("backward_euler", BackwardEuler())):

        def run(mechs, s=solver):
            c = eqx.tree_at(lambda c: c.mechanisms, cell, mechs)
            return nj.simulate(c, inputs, dt=val.DT, solver=s, saveat=nj.SaveAt(fn=soma)).states

        def loss_of(spec):
            diff, static = eqx.partition(cell.mechanisms, spec)
            return diff, jax.grad(lambda d, st=static: run(eqx.combine(d, st)).mean())

        progs = {}
        jax.clear_caches()
        for label, spec in (("forward", None), ("grad_all", eqx.is_inexact_array),
                            ("grad_densities", flags)):  # fmt: skip
            if spec is None:
                args_, fn = everything, (lambda d: run(eqx.combine(d, eqx.partition(
                    cell.mechanisms, eqx.is_inexact_array)[1])))  # fmt: skip
            else:
                args_, fn = loss_of(spec)
            t0 = time.process_time()
            lowered = jax.jit(fn).lower(args_)
            t1 = time.process_time()
            compiled = lowered.compile()
            t2 = time.process_time()
            progs[label] = (compiled, args_)
            rows[f"{name}_{label}_trace_cpu_s"] = t1 - t0
            rows[f"{name}_{label}_xla_cpu_s"] = t2 - t1
        best = {k: float("inf") for k in progs}
        outs = {}
        for _ in range(args.repeats):
            for k, (f, a) in progs.items():
                t0 = time.process_time()
                outs[k] = jax.block_until_ready(f(a))
                best[k] = min(best[k], time.process_time() - t0)
        for k, v in best.items():
            rows[f"{name}_{k}_cpu_s"] = v
        rows[f"{name}_ratio_all"] = best["grad_all"] / best["forward"]
        rows[f"{name}_ratio_densities"] = best["grad_densities"] / best["forward"]
        a = jax.tree_util.tree_leaves(eqx.filter(outs["grad_all"], flags))
        b = jax.tree_util.tree_leaves(outs["grad_densities"])
        rel = [np.max(np.abs(np.subtract(x, y))) / (np.max(np.abs(x)) + 1e-30)
               for x, y in zip(a, b, strict=True)]  # fmt: skip
        rows[f"{name}_max_rel_diff"] = float(max(rel))
        print(json.dumps({k: v for k, v in rows.items() if k.startswith(name)}), flush=True)
    rows["machine"] = str(rows["machine"])
    C.write("hay2011_gradient_wrt", rows, json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
