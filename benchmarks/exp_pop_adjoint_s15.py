"""Session 15 (issue 21 item 3): the population gradient ÷ its forward run, with the
hand-written reverse pass (`PopulationAdjoint`) against the shipped checkpointed autodiff.

The cases of `bench_gradient.py --population`: LIF (per-neuron `v_rest`, exponential
Euler, dt 0.1 ms) and HH (per-neuron `e_l`, dt 0.025 ms), 1000 steps, float32,
`SaveAt(every=10, vars=("v",))`, loss `mean(V²)`, the gradient w.r.t. every parameter.
Variants (each compiled once, `jax.jit(jax.grad(loss))`):

- `forward`: `jax.jit(loss)`;
- `shipped`: `CheckpointAdjoint()` (each step replayed and transposed by autodiff);
- `population`: `PopulationAdjoint()` (LIF only);
- `--store-adjoint`: `store-adjoint`, the hand-written adjoint over stored states that was
  not kept (`exp_lif_store_adjoint_s15.py`, swapped in for `PopulationAdjoint`'s loop);
- `--ablate` diagnostics of the shipped LIF gradient: `direct` (`DirectAdjoint()`),
  `wrt-v_rest` (gradient w.r.t. `v_rest` only), `no-spikes` (`SaveAt(spikes=False)`),
  `no-widen` (without `_simulate._broadcast_parameters`: the scalar parameters' cotangents
  summed over the neurons at every step); `population-wrt-v_rest` (`PopulationAdjoint()`
  w.r.t. `v_rest` only: one sensitivity instead of five).

Timing: one process, `--rounds` rounds, each calling every variant once in turn
(alternating), process CPU time; per variant the median, and per round the ratio to the
forward run of the same round: median [min, max].

    python benchmarks/exp_pop_adjoint_s15.py --n 1000 10000 --rounds 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--models", nargs="+", default=["LIF"], choices=["LIF", "HH"])
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--store-adjoint", action="store_true", help="exp_lif_store_adjoint_s15")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax import _simulate

    rows = []
    for n in args.n:
        for model_name in args.models:
            saveat = nj.SaveAt(every=10, vars=("v",))
            if model_name == "LIF":
                model = nj.LIF(v_rest=np.asarray(C.lif_v_rest(n), np.float32))
                x = jnp.full((args.steps,), C.LIF_I0, jnp.float32)
                dt = C.LIF_DT
            else:
                model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), np.float32))
                x = jnp.full((args.steps,), C.HH_I0, jnp.float32)
                dt = C.HH_DT

            def make(adjoint, sa=saveat, x=x, dt=dt):
                def loss(m):
                    sol = nj.simulate(m, x, dt=dt, saveat=sa, adjoint=adjoint)
                    return jnp.mean(sol.states.v**2)

                return loss

            variants = {"forward": jax.jit(make(nj.CheckpointAdjoint()))}
            variants["shipped"] = jax.jit(jax.grad(make(nj.CheckpointAdjoint())))
            if model_name == "LIF":
                variants["population"] = jax.jit(jax.grad(make(nj.PopulationAdjoint())))
                if args.store_adjoint:
                    variants["store-adjoint"] = jax.jit(jax.grad(make(nj.PopulationAdjoint())))
            if args.ablate and model_name == "LIF":
                variants["direct"] = jax.jit(jax.grad(make(nj.DirectAdjoint())))
                no_sp = nj.SaveAt(every=10, vars=("v",), spikes=False)
                variants["no-spikes"] = jax.jit(jax.grad(make(nj.CheckpointAdjoint(), no_sp)))
                f = make(nj.CheckpointAdjoint())
                variants["wrt-v_rest"] = jax.jit(
                    jax.grad(lambda v, m=model, f=f: f(eqx_replace(m, v)))
                )
                variants["population-wrt-v_rest"] = jax.jit(
                    jax.grad(
                        lambda v, m=model, f=make(nj.PopulationAdjoint()): f(eqx_replace(m, v))
                    )
                )
                variants["no-widen"] = jax.jit(jax.grad(make(nj.CheckpointAdjoint())))
            calls = {}
            for k, fn in variants.items():
                arg = model.v_rest if "wrt-v_rest" in k else model
                # `no-widen`: the shipped gradient without `_broadcast_parameters` (scalar
                # parameters' cotangents summed over the neurons at every step)
                widen = _simulate._broadcast_parameters
                loop = _simulate.population_loop
                if k == "no-widen":
                    _simulate._broadcast_parameters = lambda model, inputs: model
                if k == "store-adjoint":  # the hand-written adjoint that was not kept
                    import exp_lif_store_adjoint_s15 as store

                    _simulate.population_loop = store.population_loop
                try:
                    compiled = fn.lower(arg).compile()
                finally:
                    _simulate._broadcast_parameters = widen
                    _simulate.population_loop = loop
                calls[k] = lambda c=compiled, a=arg: jax.block_until_ready(c(a))
                calls[k]()
            times = {k: [] for k in calls}
            for _ in range(args.rounds):
                for k, call in calls.items():
                    t = time.process_time()
                    call()
                    times[k].append(time.process_time() - t)
            fwd = times["forward"]
            row = {"model": model_name, "n": n, "steps": args.steps, "rounds": args.rounds}
            for k, ts in times.items():
                ratios = [a / b for a, b in zip(ts, fwd, strict=True)]
                row[k] = {
                    "ms": statistics.median(ts) * 1e3,
                    "ratio": statistics.median(ratios),
                    "ratio_range": [min(ratios), max(ratios)],
                }
            row["load"] = os.getloadavg()[0]
            rows.append(row)
            print(
                f"{model_name} N={n}: "
                + ", ".join(
                    f"{k} {v['ms']:.2f} ms ({v['ratio']:.2f}x [{v['ratio_range'][0]:.2f}, "
                    f"{v['ratio_range'][1]:.2f}])"
                    for k, v in row.items()
                    if isinstance(v, dict)
                )
                + f"; load {row['load']:.1f}",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


def eqx_replace(m, v):
    import equinox as eqx

    return eqx.tree_at(lambda mm: mm.v_rest, m, v)


if __name__ == "__main__":
    main()
