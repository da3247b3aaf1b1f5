"""Wall time of `analysis.bifurcation_diagram` with limit cycles (compilation included:
each call is the first in a fresh process' cache for its model class).

    python benchmarks/bench_analysis.py            # both models
    python benchmarks/bench_analysis.py reduced    # ReducedHH over −5…30 µA/cm² only
    python benchmarks/bench_analysis.py hh         # HodgkinHuxley over 0…20 µA/cm² only

Targets (2 idle CPU cores): ReducedHH under 15 s, HodgkinHuxley under 60 s. Say whether
the machine was shared when quoting the numbers.

Measured (ReducedHH, the 2-core machine shared with other jobs, load average 4-6):
75.8 s before the multiple-shooting corrector, 43.4 s after. What was tried:

- multiple shooting over `_periodic.SEGMENTS` = 64 pieces integrated side by side
  (`vmap`), its Jacobian from one vmapped forward-mode pass over the pieces and the
  monodromy chained from the pieces' Jacobians: the same RK4 steps, so the same cycles
  (the ReducedHH folds moved by < 1e-6). A period-map Jacobian fell from ~117 ms to a
  few ms; one ReducedHH half-branch (−1.11 → fold at −1.6026) from 34 s to 6 s.
- secant predictor of all the multiple-shooting unknowns through the last two cycles:
  Newton steps per continuation step from ~12 to 3–5, so the step control (which grows
  the step when Newton needs ≤ 8 iterations) lets the step grow: that half-branch
  from 6 s to 1.4 s, 44 → 16 cycles.
- unrolling the RK4 loop (8 steps per iteration): primal 3× faster but the Jacobian's
  compilation took 47 s: rejected.

What remains is mostly compilation (~20 s of the 43 s on the loaded machine: `_correct`
compiles twice, `_info` once, the equilibrium and probe functions ~8 s together).
"""

from __future__ import annotations

import sys
import time

import neurojax as nj
from neurojax import analysis

CASES = {
    "reduced": (nj.ReducedHH, -5.0, 30.0, 15.0),
    "hh": (nj.HodgkinHuxley, 0.0, 20.0, 60.0),
}


def main(names) -> None:
    for name in names:
        cls, lo, hi, target = CASES[name]
        t0 = time.perf_counter()
        picture = analysis.bifurcation_diagram(cls(), lo, hi, progress_meter=nj.TextProgress())
        took = time.perf_counter() - t0
        print(picture.summary())
        print(
            f"bench_analysis: {cls.__name__} bifurcation_diagram({lo:g}, {hi:g}) with limit "
            f"cycles: {took:.1f} s (target < {target:g} s)",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
