"""Wall time of `analysis.bifurcation_diagram` with limit cycles (compilation included:
each call is the first in a fresh process' cache for its model class).

    python benchmarks/bench_analysis.py            # both models
    python benchmarks/bench_analysis.py reduced    # ReducedHH over −5…30 µA/cm² only
    python benchmarks/bench_analysis.py hh         # HodgkinHuxley over 0…20 µA/cm² only

Targets (2 idle CPU cores): ReducedHH under 15 s, HodgkinHuxley under 60 s. Say whether
the machine was shared when quoting the numbers.
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
