"""Where one COBA step's time goes (Brette et al. 2007 benchmark 1, 4000 LIF, dt 0.1 ms).

Each piece is compiled on its own as a `lax.scan` over the 10⁴ steps of the benchmark's
second and timed by process CPU time (the shared VM is loaded: wall clock measures the
other jobs), the pieces interleaved round by round, median over rounds:

- `full`: the benchmark's compiled run (`simulate`, spike counts every 100 steps), as
  `bench_network.py`;
- `full_former`: the same with the former delivery (below);
- `no_projections`: the same populations and inputs with no projection (LIF update,
  exponential synapses' decay absent, threshold, reset, saving the counts);
- `full_blocks`: `full` with the former two-level search (`_propagate.SEARCH = "blocks"`);
- `full_scatter`, `propagate_scatter`: `full` and `propagate` delivering each spiking
  row by a scatter (`_propagate.DELIVERY = "scatter"`) instead of the per-synapse loop;
- `search`: finding the spiking rows of the recorded raster of `full` (the network's
  bitset search, `neurojax.network._propagate._event_bits`), delivering nothing;
- `search_blocks`, `propagate_blocks`: `search` and `propagate` with the former
  two-level search;
- `propagate`: finding and delivering them (both fused groups, E→{E, I} and I→{E, I}),
  as the network's `event_step` does;
- `propagate_former`: the same with the former delivery (one scalar loop and one copy of
  the output per row and projection, `_propagate.FUSE_ROWS = False`);
- `gather_rows`: the floor of delivery: the spiking rows' `post`/`weight` gathered
  (rows given, 16 per step padded — no search) and summed, nothing scattered;
- `handwritten`: a plain jnp COBA step with no propagation (exponential Euler of the
  LIF with two conductances, refractory counter, threshold, reset, counts) — what the
  library's machinery costs above the arithmetic.

Also prints, from the compiled `full` run's HLO, the number of while loops, fusions,
scatters and custom calls (a scatter or custom call in the loop body keeps XLA:CPU from
compiling the loop into one function).

    python benchmarks/profile_coba_step.py [--rounds 5]
    COBA_N=1000000 COBA_STEPS=200 COBA_PIECES="full no_projections search propagate" \
        python benchmarks/profile_coba_step.py --rounds 1
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics

import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax.models import coba, coba_inputs, random_initial_state
from neurojax.network import Network
from neurojax.network import _propagate as P

_env = __import__("os").environ
DT = 0.1
N = int(_env.get("COBA_N", 4000))  # neurons (in-degree 80 at every size)
N_STEPS = int(_env.get("COBA_STEPS", 10_000))  # a multiple of 100
UNROLLS = [int(k) for k in _env.get("UNROLLS", "").split()]


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def build():
    net = coba(jax.random.key(0), N, p=80 / N)
    inputs = coba_inputs(net, N_STEPS)
    y0 = random_initial_state(net, jax.random.key(1))
    save = nj.SaveAt(every=100, fn=lambda y: None, spike_dtype=jnp.uint8)

    def full(net, y0):
        sol = nj.simulate(net, inputs, dt=DT, state0=y0, saveat=save, throw=False)
        return sum(jnp.sum(s, dtype=jnp.int32) for s in sol.spikes.values())

    bare = Network(dict(net.populations), (), dt=DT)
    y0b = bare.init_state()
    y0b = y0b._replace(neurons={k: y0b.neurons[k]._replace(v=y0.neurons[k].v) for k in y0b.neurons})

    def no_proj(net, y0):
        sol = nj.simulate(net, inputs, dt=DT, state0=y0, saveat=save, throw=False)
        return sum(jnp.sum(s, dtype=jnp.int32) for s in sol.spikes.values())

    # The raster of `full` (every step), to drive the propagation pieces.
    raster = nj.simulate(
        net, inputs, dt=DT, state0=y0, saveat=nj.SaveAt(every=1, fn=lambda y: None), throw=False
    ).spikes
    dtype = jnp.result_type(float)  # float32 unless JAX runs with x64
    raster = {k: jnp.asarray(v, dtype).reshape(N_STEPS, -1) for k, v in raster.items()}
    groups = [[net.projections[k].connectivity for k in g] for g in net._fused]
    pre = [net.projections[g[0]].pre for g in net._fused]

    def propagate(conns_by_group, raster):
        def step(acc, xs):
            new = []
            for conns, name, a in zip(conns_by_group, pre, acc, strict=True):
                bases = tuple(jnp.zeros((c.n_post,)) for c in conns)
                outs = P.scatter_events(
                    (P.post_targets(),) * len(conns),
                    conns[0].chunk,
                    bases,
                    tuple(c.weight for c in conns),
                    xs[name],
                    tuple((c.post,) for c in conns),
                )
                new.append(a + sum(jnp.sum(o) for o in outs))
            return tuple(new), None

        return jax.lax.scan(step, (0.0,) * len(pre), raster)[0]

    def search(raster, one_post, one_weight):  # the same search, one synapse of weight 0
        # per row, given as arguments (constants would let XLA fold the loops away)
        def step(acc, xs):
            new = []
            for name, a in zip(pre, acc, strict=True):
                outs = P.scatter_events(
                    (P.post_targets(),),
                    16,
                    (jnp.zeros((1,)),),
                    (one_weight[name],),
                    xs[name],
                    ((one_post[name],),),
                )
                new.append(a + jnp.sum(outs[0]))
            return tuple(new), None

        return jax.lax.scan(step, (0.0,) * len(pre), raster)[0]

    # Rows given (no search), 16 per step (padding: row 0 with x = 0), gathered and summed.
    rows = {}
    for name, r in raster.items():
        r = np.asarray(r)
        idx = np.zeros((N_STEPS, 16), np.int32)
        val = np.zeros((N_STEPS, 16))
        for t in range(N_STEPS):
            nz = np.flatnonzero(r[t])[:16]
            idx[t, : nz.size], val[t, : nz.size] = nz, 1.0
        rows[name] = (jnp.asarray(idx), jnp.asarray(val))

    def gather_rows(conns_by_group, rows):
        def step(acc, xs):
            new = []
            for conns, name, a in zip(conns_by_group, pre, acc, strict=True):
                idx, val = xs[name]
                s = a
                for c in conns:
                    s = s + jnp.sum(val[:, None] * c.weight[idx] * (c.post[idx] < c.n_post))
                new.append(s)
            return tuple(new), None

        return jax.lax.scan(step, (0.0,) * len(pre), rows)[0]

    # A plain COBA step: exponential Euler, no propagation (the arithmetic floor).
    v0 = jnp.concatenate([y0.neurons["E"].v, y0.neurons["I"].v])

    def handwritten(v0):
        tau, el, r, i_ext = 20.0, -60.0, 100.0, 0.2

        def step(c, _):
            v, ge, gi, ref, cnt = c
            g_tot = 1 / r + ge + gi  # µS
            v_inf = (el / r + ge * 0.0 + gi * -80.0 + i_ext) / g_tot
            tau_eff = tau / (r * g_tot)
            v_new = v_inf + (v - v_inf) * jnp.exp(-DT / tau_eff)
            v_new = jnp.where(ref > 0, v, v_new)
            spk = v_new > -50.0
            v_new = jnp.where(spk, -60.0, v_new)
            ref = jnp.where(spk, 50, jnp.maximum(ref - 1, 0))
            ge, gi = ge * np.exp(-DT / 5.0), gi * np.exp(-DT / 10.0)
            return (v_new, ge, gi, ref, cnt + spk.astype(jnp.uint8)), None

        z = jnp.zeros_like(v0)
        c = (v0, z, z, jnp.zeros(v0.shape, jnp.int32), jnp.zeros(v0.shape, jnp.uint8))
        return jnp.sum(jax.lax.scan(step, c, None, length=N_STEPS)[0][4], dtype=jnp.int32)

    def unrolled(fn, k):
        def f(*a):
            old, P.UNROLL = P.UNROLL, k
            try:
                return fn(*a)
            finally:
                P.UNROLL = old

        return f

    def former(fn):  # traced with the former per-projection row loops (FUSE_ROWS = False)
        def f(*a):
            old, P.FUSE_ROWS = P.FUSE_ROWS, False
            try:
                return fn(*a)
            finally:
                P.FUSE_ROWS = old

        return f

    def blocks(fn):  # traced with the former two-level search (SEARCH = "blocks")
        def f(*a):
            old, P.SEARCH = P.SEARCH, "blocks"
            try:
                return fn(*a)
            finally:
                P.SEARCH = old

        return f

    def scatter(fn):  # traced with the row scatter instead of the per-synapse loop
        def f(*a):
            old, P.DELIVERY = P.DELIVERY, "scatter"
            try:
                return fn(*a)
            finally:
                P.DELIVERY = old

        return f

    search_args = (
        raster,
        {k: jnp.zeros((v.shape[1], 1), jnp.int32) for k, v in raster.items()},
        {k: jnp.zeros((v.shape[1], 1)) for k, v in raster.items()},
    )
    pieces = {
        "full": (jax.jit(full), (net, y0)),
        "full_blocks": (jax.jit(blocks(full)), (net, y0)),
        "full_scatter": (jax.jit(scatter(full)), (net, y0)),
        "propagate_scatter": (jax.jit(scatter(propagate)), (groups, raster)),
        "search_blocks": (jax.jit(blocks(search)), search_args),
        "propagate_blocks": (jax.jit(blocks(propagate)), (groups, raster)),
        "no_projections": (jax.jit(no_proj), (bare, y0b)),
        "search": (jax.jit(search), search_args),
        "propagate": (jax.jit(propagate), (groups, raster)),
        "full_former": (jax.jit(former(full)), (net, y0)),
        "propagate_former": (jax.jit(former(propagate)), (groups, raster)),
        **{
            f"propagate_unroll{k}": (jax.jit(unrolled(propagate, k)), (groups, raster))
            for k in UNROLLS
        },
        "gather_rows": (jax.jit(gather_rows), (groups, rows)),
        "handwritten": (jax.jit(handwritten), (v0,)),
    }
    n_spikes = int(sum(jnp.sum(v) for v in raster.values()))
    keep = _env.get("COBA_PIECES", "").split()  # a subset of the pieces, by name
    pieces = {k: v for k, v in pieces.items() if not keep or k in keep}
    return pieces, n_spikes


def hlo_counts(fn, args) -> dict:
    txt = fn.lower(*args).compile().as_text()
    return {
        k: len(re.findall(p, txt))
        for k, p in {
            "while": r"\bwhile\(",
            "fusion": r"\bfusion\(",
            "scatter": r"\bscatter\(",
            "custom-call": r"custom-call\(",
            "sort": r"\bsort\(",
        }.items()
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    pieces, n_spikes = build()
    compiled = {}
    for k, (fn, a) in pieces.items():
        compiled[k] = fn.lower(*a).compile()
        jax.block_until_ready(compiled[k](*a))
    times = {k: [] for k in pieces}
    for _ in range(args.rounds):  # interleaved
        for k, (_, a) in pieces.items():
            c0 = cpu_s()
            jax.block_until_ready(compiled[k](*a))
            times[k].append(cpu_s() - c0)
    out = dict(
        n_spikes=n_spikes,
        n_steps=N_STEPS,
        cpu_s={k: statistics.median(v) for k, v in times.items()},
        cpu_s_all=times,
        us_per_step={k: 1e6 * statistics.median(v) / N_STEPS for k, v in times.items()},
        hlo_full=hlo_counts(*pieces["full"]) if "full" in pieces else None,
    )
    for k in (
        "propagate",
        "propagate_former",
        "propagate_blocks",
        "propagate_scatter",
        "search",
        "search_blocks",
    ):
        if k in out["cpu_s"]:
            out[f"us_per_spike_{k}"] = 1e6 * out["cpu_s"][k] / n_spikes
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
