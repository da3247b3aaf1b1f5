"""Experiment (session 12, A2): the Hay cell's forward program (2 ms, float32) as now
(`jax`) against a variant of `exp_hay_a2_levers.py`: are they the same op for op?
Prints the StableHLO op counts that differ.

    python benchmarks/exp_hay_a2_hlo_cmp.py cnexp_vtrap3
"""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import exp_hay_a2_levers as L  # noqa: E402
from bench_hay2011 import _validation  # noqa: E402


def main(variant: str):
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2

    patches = L.make_patches()
    val = _validation()
    val.T = 2.0
    cell = val.neurojax_cell(hay2011_morphology())
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    counts = {}
    for name in ("jax", variant):
        old = {k: getattr(*k) for k in patches[name]}
        for (mod, attr), v in patches[name].items():
            setattr(mod, attr, v)
        try:
            jax.clear_caches()
            text = jax.jit(run).lower(params).as_text()
            counts[name] = collections.Counter(re.findall(r"stablehlo\.\w+", text))
        finally:
            for (mod, attr), v in old.items():
                setattr(mod, attr, v)
    a, b = counts["jax"], counts[variant]
    print("StableHLO ops:", sum(a.values()), sum(b.values()))
    print("differing:", {k: (a[k], b[k]) for k in sorted(set(a) | set(b)) if a[k] != b[k]})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cnexp_vtrap3")
