"""Experiment (issue 21, item 1): what the 2000-compartment HH cable's backward-Euler step
spends, by ablation in one process (the variants interleaved, CPU time, float32, the
benchmark tree of `bench_cable.py`, 100 ms at dt 0.025). Each ablation gives wrong
voltages; only its time is read:

- `full`: the step as it is (default tree solve);
- `no solve`: the tree solve replaced by `rhs / d` (the diagonal only);
- `no gates`: `HH.update` returns the gates unchanged;
- `neither`: both.

`--grad`: the same for the gradient of the mean soma V w.r.t. the cell's parameters.

    python benchmarks/exp_cable_ablate.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cable import DT, NSEG, T_STOP, stimulus, tree_spec  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--branches", type=int, default=200)
    p.add_argument(
        "--grad", action="store_true", help="time the gradient of the mean soma V w.r.t. g_Na"
    )
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology, _tree_solve
    from neurojax.channels import _builtin

    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    spec = tree_spec(args.branches)
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in spec])
    cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    method = _tree_solve.default_method()
    solve0, update0 = _tree_solve._SOLVERS[method], _builtin.HH.update

    def diag_only(topo, idx, d, a, b, rhs):
        return rhs / d

    def frozen(self, v, gates, dt, temperature):
        return gates

    runs = {}
    variants = (
        ("full", solve0, update0),
        ("no solve", diag_only, update0),
        ("no gates", solve0, frozen),
        ("neither", diag_only, frozen),
    )
    for name, solve, update in variants:
        _tree_solve._SOLVERS[method], _builtin.HH.update = solve, update
        jax.clear_caches()  # simulate caches its trace by the cell's structure
        be = nj.solvers.BackwardEuler()
        f = jax.jit(lambda c, be=be: nj.simulate(c, stim, dt=DT, solver=be, saveat=rec,
                                                 throw=False).states)  # fmt: skip
        if args.grad:  # d mean(V_soma) / d g_Na of every HH compartment
            f = jax.jit(jax.grad(lambda c, f=f: jnp.mean(f(c))))
        # compiled ahead of time: the next variant's `jax.clear_caches()` must not make
        # this one recompile, unpatched, when it is timed
        f = f.lower(cell).compile()
        jax.block_until_ready(f(cell))
        runs[name] = lambda f=f: jax.block_until_ready(f(cell))
    _tree_solve._SOLVERS[method], _builtin.HH.update = solve0, update0
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            c = time.process_time()
            run()
            times[name].append(time.process_time() - c)
    for name, ts in times.items():
        what = method + (", gradient" if args.grad else "")
        print(f"{name:10s} {statistics.median(ts) / n_steps * 1e6:7.2f} µs/step "
              f"(CPU, median of {args.rounds}; {what})")  # fmt: skip
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
