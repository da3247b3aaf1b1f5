"""Experiment (issue 21, item 1): where the 2000-compartment HH cable's step can gain.

One process, the variants interleaved round by round, CPU time of this process
(`time.process_time`), the load average printed: the benchmark tree of `bench_cable.py`
(200 HH branches × 10 compartments, 2201 nodes), 100 ms at dt 0.025 ms, float32,
backward Euler, V recorded at the soma; forward run and the gradient of the mean soma V
w.r.t. every branch's g_Na. Variants:

- the voltage solve's schedule (`tree_solve` method: `hines`, `branches`);
- the HH gates: `hh9`, `neurojax.channels.HH.update` as it was until session 12 (its six
  rate functions, 6 `exp`, plus 3 for the exponential-Euler factors: 9 per
  compartment); `hh7`, the same update through `neurojax.channels.hh.rates` (α_m, β_h
  and α_n share one `exp`: 4 for the six rates, 7 per compartment); `hh5s` and `hh5p`,
  2 `exp` for the rates (`e^{−(V+65)/10}` and β_m's), α_h's and β_n's exponentials as
  square roots of the first (`hh5s`) or as powers of `e^{−(V+65)/80}` (`hh5p`, what
  `HH.update` does since session 12); `current`: `HH.update` as it is now.

    python benchmarks/exp_cable_step.py --rounds 5 [--methods hines branches]
        [--gates hh9 hh7 hh5s hh5p current] [--no-grad] [--out results/cable_step_<name>.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cable import DT, NSEG, T_STOP, spikes, stimulus, tree_spec  # noqa: E402


def hh9_update(self, v, gates, dt, temperature):
    """`HH.update` as it was until session 12: the six rate functions of `channels.hh`
    (6 `exp`) and the 3 exponential-Euler factors (9 `exp` per compartment)."""
    from neurojax.channels import _builtin, hh
    from neurojax.channels._base import relax

    phi = hh.q10(temperature)
    out = []
    for x, alpha, beta in zip(
        gates,
        (hh.alpha_m, hh.alpha_h, hh.alpha_n),
        (hh.beta_m, hh.beta_h, hh.beta_n),
        strict=True,
    ):
        a, b = alpha(v), beta(v)
        out.append(relax(x, a / (a + b), phi * (a + b), dt))
    return _builtin.HHGates(*out)


def _rates5(v, how):
    """The six HH rates with 2 `exp`: `e10 = exp(−(V + 65)/10)` gives α_m, β_h, α_n
    (`hh.rates`), and α_h's `exp(−(V + 65)/20)` and β_n's `exp(−(V + 65)/80)` come from
    it (`how="sqrt"`: √e10, √√√e10) or from `x = exp(−(V + 65)/80)` (`how="pow"`: x⁴,
    x⁸ = e10; an optimization barrier keeps XLA from rewriting the powers into `exp`)."""
    import jax
    import jax.numpy as jnp

    from neurojax.channels import hh
    from neurojax.channels._rates import vtrap

    u = -(v + 65.0)
    if how == "sqrt":
        e10 = jnp.exp(u / 10.0)
        e20 = jnp.sqrt(e10)
        e80 = jnp.sqrt(jnp.sqrt(e20))
    else:
        e80 = jax.lax.optimization_barrier(jnp.exp(u / 80.0))
        e20 = e80 * e80
        e20 = e20 * e20
        e10 = e20 * e20
    return (
        0.1 * vtrap(-(v + 40.0), 10.0, exp_z=e10 * hh._E25),
        hh.beta_m(v),
        0.07 * e20,
        1.0 / (e10 * hh._E3 + 1.0),
        0.01 * vtrap(-(v + 55.0), 10.0, exp_z=e10 * hh._E1),
        0.125 * e80,
    )


def _update_from(rates_fn):
    def update(self, v, gates, dt, temperature):
        from neurojax.channels import _builtin, hh
        from neurojax.channels._base import relax

        phi = hh.q10(temperature)
        am, bm, ah, bh, an, bn = rates_fn(v)
        pairs = ((am, bm), (ah, bh), (an, bn))
        out = [
            relax(x, a / (a + b), phi * (a + b), dt) for x, (a, b) in zip(gates, pairs, strict=True)
        ]
        return _builtin.HHGates(*out)

    return update


hh5s_update = _update_from(lambda v: _rates5(v, "sqrt"))
hh5p_update = _update_from(lambda v: _rates5(v, "pow"))


def hh7_update(self, v, gates, dt, temperature):
    """`HH.update` with the six rates from `channels.hh.rates` (4 `exp` instead of 6)."""
    from neurojax.channels import _builtin, hh
    from neurojax.channels._base import relax

    phi = hh.q10(temperature)
    am, bm, ah, bh, an, bn = hh.rates(v)
    out = [relax(x, a / (a + b), phi * (a + b), dt)
           for x, (a, b) in zip(gates, ((am, bm), (ah, bh), (an, bn)), strict=True)]  # fmt: skip
    return _builtin.HHGates(*out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--branches", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--methods", nargs="+", default=["hines", "branches"])
    p.add_argument("--gates", nargs="+", default=["hh9", "hh7"])
    p.add_argument(
        "--barriers",
        nargs="+",
        default=["none"],
        choices=["none", "gathers"],
        help="gathers: every node map's input (cable._cell's `apply`) passes an "
        "optimization barrier first (materialised, so XLA does not fuse "
        "its producer into the gather's scalar loop)",
    )
    p.add_argument("--no-grad", action="store_true")
    p.add_argument("--out", default=None)
    p.add_argument(
        "--x64",
        action="store_true",
        help="float64 (the schedules' agreement to round-off, not for timing)",
    )
    args = p.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", args.x64)
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology, _tree_solve
    from neurojax.channels import _builtin

    current_update = _builtin.HH.update
    nb = args.branches
    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float64 if args.x64 else jnp.float32)[:, None]
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(nb)])
    cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    of_branch = cell.discretisation.branch[cell.regions[0]]
    g_na = jnp.full((nb,), 120.0, jnp.float64 if args.x64 else jnp.float32)
    solver = nj.solvers.BackwardEuler()

    from neurojax.cable import _cell

    apply0 = _cell.apply

    def apply_barrier(m, x):
        return apply0(m, jax.lax.optimization_barrier(jnp.asarray(x)))

    runs, v_of, compile_s = {}, {}, {}
    for gates, barrier in ((g, b) for b in args.barriers for g in args.gates):
        _cell.apply = apply_barrier if barrier == "gathers" else apply0
        _builtin.HH.update = {
            "hh9": hh9_update,
            "hh7": hh7_update,
            "hh5s": hh5s_update,
            "hh5p": hh5p_update,
            "current": current_update,
        }[gates]
        # simulate caches its trace by the cell's structure, which a patched method does
        # not change: without this the hh7 runs reused the hh9 trace
        jax.clear_caches()
        for method in args.methods:
            name = f"{method} {gates}" + (f" barrier-{barrier}" if len(args.barriers) > 1 else "")
            solver = nj.solvers.BackwardEuler(linear_solver=nj.solvers.TreeSolve(method))

            def fwd(c, s=solver):
                return nj.simulate(c, stim, dt=DT, solver=s, saveat=rec).states

            def loss(g, s=solver):
                c = Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)])
                return nj.simulate(c, stim, dt=DT, solver=s, saveat=rec).states.mean()

            # compiled ahead of time: a later `jax.clear_caches()` (next variant) must not
            # make it recompile under another variant's patch when it is timed
            f = jax.jit(fwd).lower(cell).compile()
            t = time.perf_counter()
            v_of[name] = np.asarray(f(cell)).ravel()
            compile_s[name] = time.perf_counter() - t
            runs[name] = lambda f=f: jax.block_until_ready(f(cell))
            if not args.no_grad:
                g = jax.jit(jax.grad(loss)).lower(g_na).compile()
                jax.block_until_ready(g(g_na))
                runs[name + " gradient"] = lambda g=g: jax.block_until_ready(g(g_na))
    _builtin.HH.update = current_update
    _cell.apply = apply0

    times = {k: [] for k in runs}
    walls = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            c, w = time.process_time(), time.perf_counter()
            run()
            times[name].append(time.process_time() - c)
            walls[name].append(time.perf_counter() - w)
    ref_name = next(iter(v_of))
    ref = v_of[ref_name]
    base = times[ref_name]
    rows = []
    for name, ts in times.items():
        row = dict(variant=name, median_cpu_s=statistics.median(ts), cpu_s=ts,
                   median_wall_s=statistics.median(walls[name]),
                   us_per_step=statistics.median(ts) / n_steps * 1e6)  # fmt: skip
        if name in v_of:
            row.update(
                soma_spikes=spikes(v_of[name]),
                max_abs_dv_mV_vs_first=float(np.max(np.abs(v_of[name] - ref))),
                speedup_vs_first=statistics.median([b / t for b, t in zip(base, ts, strict=True)]),
                compile_and_first_run_s=compile_s[name],
            )
        else:
            fw = times[name[: -len(" gradient")]]
            row.update(over_forward=statistics.median(
                [t / f for t, f in zip(ts, fw, strict=True)]))  # fmt: skip
        rows.append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
               if k != "cpu_s"}, flush=True)  # fmt: skip
    load = os.getloadavg()
    print("load average at end:", load)
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                dict(
                    rounds=args.rounds,
                    n_nodes=cell.n_nodes,
                    load_average_at_end=load,
                    rows=rows,
                    jax=jax.__version__,
                    default_tree_solve=_tree_solve.default_method(),
                ),
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
