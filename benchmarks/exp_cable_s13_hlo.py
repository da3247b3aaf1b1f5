"""Experiment (session 13, D): the compiled forward step of the `bench_cable.py` HH tree
(backward Euler, float32) — its while-loop body's fusions, what each contains (gathers,
`exp`, copies) and the count of each, to see which elementwise work XLA:CPU fuses into
gathers (run element by element) and which copies it makes of loop-carried arrays.

    python benchmarks/exp_cable_s13_hlo.py [--branches 1000] [--out FILE]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cable import DT, NSEG, T_STOP, stimulus, tree_spec  # noqa: E402


def build(branches):
    from neurojax.cable import HH, Branch, Cell, Morphology

    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(branches)])
    return Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])


def compiled_text(cell, n_steps=None):
    import jax
    import jax.numpy as jnp

    import neurojax as nj

    n_steps = n_steps or int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    be = nj.solvers.BackwardEuler()
    f = jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=be, saveat=rec, throw=False).states)
    return f.lower(cell).compile().as_text()


def summarise(text):
    """Per computation: fusion kinds and op counts."""
    comps = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"^(ENTRY )?%?([\w.\-]+) .*\{\s*$", line)
        if m:
            cur = m.group(2)
            comps[cur] = []
            continue
        if cur is not None:
            comps[cur].append(line)
    return comps


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--out", default=None, help="where to write the compiled HLO text")
    args = p.parse_args(argv)
    text = compiled_text(build(args.branches))
    comps = summarise(text)
    out = Path(args.out or f"hlo_{args.branches}.txt")
    out.write_text(text)
    print("written", out)
    for name, lines in comps.items():
        ops = Counter()
        for ln in lines:
            m = re.search(r"= \S+ (\w[\w\-]*)\(", ln)
            if m:
                ops[m.group(1)] += 1
        interesting = {k: v for k, v in ops.items() if k in ("gather", "exponential", "copy",
                       "fusion", "while", "call", "dynamic-slice", "dynamic-update-slice",
                       "scatter", "pad", "slice", "concatenate", "divide")}  # fmt: skip
        if interesting:
            print(f"{name[:60]:60s} {sum(ops.values()):5d} ops  {interesting}")


if __name__ == "__main__":
    main()
