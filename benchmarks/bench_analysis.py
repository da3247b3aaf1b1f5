"""Wall time of `analysis.bifurcation_diagram` with limit cycles (compilation included:
each call is the first in a fresh process' cache for its model class).

    python benchmarks/bench_analysis.py            # both models
    python benchmarks/bench_analysis.py reduced    # ReducedHH over −5…30 µA/cm² only
    python benchmarks/bench_analysis.py hh         # HodgkinHuxley over 0…20 µA/cm² only

Results: `results/analysis.{json,md}` (`--name`, `--out-dir`).

Targets (2 idle CPU cores): ReducedHH under 15 s, HodgkinHuxley under 60 s. Say whether
the machine was shared when quoting the numbers.

Measured on the 2-core machine shared with other jobs (load average 4-6, so every number
is noisy, ±50 %): ReducedHH 75.8 s with the single-shooting corrector; 19-43 s with the
multiple-shooting one (the spread is the load). HodgkinHuxley 993 s with single shooting
(its Hopf branch hit max_points=300 inside the twist of unstable cycles at I ≈ 7.8-7.9),
282 s with multiple shooting and the endpoint error estimate (meshes of up to 65536 steps
on that twist), 84 s with the error estimate also per piece (see `_periodic`'s
"Accuracy"). The last run (load average 7-7.5): ReducedHH 39.0 s, HodgkinHuxley 151.6 s.
On the same VM idle (load average 0.6-1.5, one run each, 2026-12-06): ReducedHH 18.5 s
(target 15 s: not met; ~12 s of it is compilation), HodgkinHuxley 33.1 s (target 60 s: met).
What was tried:

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
- the chord corrections that locate folds and period doublings start their pieces on the
  chord between the two cycles' (from one integration, an unstable cycle's pieces start
  too far off and regula falsi gave up: HH's twist lost its folds).
- XLA's `--xla_backend_optimization_level=0`: compilation ~40 % shorter, running slower,
  no net gain measured (and a process-wide flag): not used.
- `init_state` compiled once instead of run eagerly in `make_system` (ReducedHH's rest is
  found by Newton: ~40 eager operations, each compiled on first use) and the endpoint
  error taken from `_info` (one compiled function fewer): ~1-2 s.

What remained for ReducedHH was mostly compilation (~12-19 s of it on the loaded machine:
the cycle corrector `_correct` and `_info` ~2-3 s each, the equilibrium continuation and
the probe simulations ~8 s together). HodgkinHuxley spends its time on the unstable twist
(meshes of 8192-32768 steps there).

Fewer compiled programs (issue 17). Profiled with `JAX_LOG_COMPILES` / `jax.monitoring`
(compile and trace durations per program) and cProfile: ReducedHH's first call compiled
~10 programs of its own (11.7 s backend compilation, 3.6 s tracing, 1.1 s lowering of its
23 CPU-s on the idle machine); a second call in the same process took 4.5 CPU-s. Now:

- all equilibrium work is one program, `analysis._newton.solve_rows` (Newton from seeds,
  the steady-state curve, Jacobians, the arclength corrector and tangent, the reset test,
  `I∞(V)`; it replaced `_newton_chunk`, `slaved_batch`, `_jacobian_chunk`, `_tangent_jit`,
  `_correct_jit`, `_resets` and `_iv`): its compilation ~2 CPU-s against ~5.5 for those;
- the cycle corrector and the cycle's data are one program, `_periodic._shoot`
  (`root(aux0=)` returns the last evaluation of the pieces' Jacobians, from which the
  monodromy is chained; it replaced `_correct` and `_info`), traced once instead of twice
  (no `eval_shape` of its loop body): trace 2.5 → 1.4 CPU-s, compile ~4 CPU-s for what
  took ~7;
- arrays go to the device by `jax.device_put` (no conversion program per new shape).

Same load, same process kind, CPU seconds of the process (the shared machine at load
average 6-40 inflates wall clock 2-4×; CPU time far less): ReducedHH 21.7 → 13.7 CPU-s,
HodgkinHuxley 127 → 79 CPU-s; every located point the same to 1e-11 (folds of cycles,
period doublings, Hopf point, Lyapunov coefficient). A warm second call: 4.5 → 3.0 CPU-s.
On the idle VM afterwards (load average ~2, one run each, 2026-12-06): ReducedHH 10.3 s
wall / 14.8 s CPU (target 15 s: met), HodgkinHuxley 20.2 s / 31.8 s CPU (target 60 s: met). What compiles now for ReducedHH (CPU-s, trace+lower
/ compile): `_shoot` 1.4 / 4.2, `_rows_chunk` 0.5 / 2.0, `_probe_runs` 0.3 / 1.4,
`_nodes_padded` 0.1 / 0.6, `init_state` and `_probe` ~1.
Tried and not kept: RK4 stages as a 4-iteration loop (one vector-field copy per step in
the program): the pieces' program compiled only 1.36 → 1.20 CPU-s.
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


def main(argv=None) -> None:
    import argparse
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _common as C

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cases", nargs="*", help=f"some of {list(CASES)} (default: all)")
    p.add_argument("--name", default="analysis", help="results/<name>.{json,md}")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    bad = [c for c in args.cases if c not in CASES]
    if bad:
        p.error(f"unknown case(s) {bad}: choose from {list(CASES)}")
    rows = []
    for name in args.cases or list(CASES):
        cls, lo, hi, target = CASES[name]
        t0, c0 = time.perf_counter(), time.process_time()
        picture = analysis.bifurcation_diagram(cls(), lo, hi, progress_meter=nj.TextProgress())
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(picture.summary())
        # CPU seconds of the process too: on a shared machine the wall clock measures the
        # other jobs as well (XLA compiles on one thread, so idle wall ≈ CPU or less)
        print(
            f"bench_analysis: {cls.__name__} bifurcation_diagram({lo:g}, {hi:g}) with limit "
            f"cycles: {took:.1f} s wall, {cpu:.1f} s CPU (target < {target:g} s)",
            flush=True,
        )
        rows.append({"case": name, "model": cls.__name__, "lo": lo, "hi": hi,
                     "wall_s": took, "cpu_s": cpu, "target_s": target})  # fmt: skip
    md = "# `bifurcation_diagram` with limit cycles (first call: compilation included)\n\n"
    md += C.markdown_table(
        ["model", "range (µA/cm²)", "wall (s)", "CPU (s)", "target (s)"],
        [[r["model"], f"{r['lo']:g} … {r['hi']:g}", f"{r['wall_s']:.1f}",
          f"{r['cpu_s']:.1f}", f"{r['target_s']:g}"] for r in rows],
    )  # fmt: skip
    payload = {"machine": C.machine_info(), "rows": rows}
    print(f"wrote {C.write(args.name, payload, md, args.out_dir)}")


if __name__ == "__main__":
    main()
