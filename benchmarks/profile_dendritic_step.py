"""Where one step of the dendritic network's time goes (`bench_dendritic.py`'s network:
10⁴ Dendrify-style three-compartment neurons, recurrent E/I, Poisson drives; `Euler()`,
dt 0.1 ms), and what a compartment-first layout of the cell state would save.

Each piece is compiled on its own (`simulate` over `STEPS` steps, the network an
argument, spike counts saved every 100 steps) and timed by process CPU time (the shared
VM is loaded: the wall clock measures the other jobs), the pieces interleaved round by
round, median over rounds:

- `full`: the whole network, as `bench_dendritic.py` runs it;
- `full_unordered`: the same with the carried arrays' writes unordered, as before
  2026-12-07 10:30 UTC (`neurojax.network._network.ORDER = False`: more copies per step);
- `full_unmaterialised`: the same with each ReducedCell population's events fused into
  (recomputed by) every kernel that reads them, as before session 12
  (`neurojax.network._network.MATERIALISE = False`);
- `full_blocks`: the same with the former two-level spike search
  (`neurojax.network._propagate.SEARCH = "blocks"`);
- `full_former_drives`, `neurons_drives_former_drives`: `full` and `neurons_drives` with
  the former Poisson draw (`neurojax.network._projection.POOLED = "randint"`: the E
  drive's total and `randint` indices, the I drive one uniform per neuron);
- `neurons`: the same populations, no projection, no drive;
- `neurons_drives`: the populations and the two Poisson drives (their synapses on the
  distal dendrite), no projection;
- `neurons_projections`: the populations and the four projections (synapses, delay
  rings, spike search and delivery), no drive;
- `neurons_projections_nodelay`: the same with every delay 0 (no ring buffers);
- `hand_nc`, `hand_cn`: a hand-written `lax.scan` of the same cell equations (Euler step
  of three coupled compartments with leak and one exponential synapse on the distal
  dendrite, the distal dSpike's rise/fall gates from a step counter, the soma's
  threshold, reset and refractoriness; no network), its state stored neuron-major
  `(n, 3)` — `ReducedCell`'s layout — and compartment-major `(3, n)`: what the layout
  alone is worth to XLA:CPU's elementwise code.

`--hlo` adds, per piece, the count of each kind of kernel in the compiled program
(fusions, copies, concatenates, gathers, scatters, dots, loops; the whole module, so the
per-step body plus the once-per-run set-up): what the step costs XLA:CPU in passes over
the state. (The gap between `neurons` and `hand_nc` was a stacked coupling term that
XLA materialised as its own pass before the rest of the step; `ReducedCell.vector_field`
now stacks the columns once at the end: 0.114 → 0.045 ms per step, docs/dendritic.md.)

    python benchmarks/profile_dendritic_step.py [--rounds 3] [--out FILE] [--hlo]
    DENDRITIC_N=2000 DENDRITIC_STEPS=500 python benchmarks/profile_dendritic_step.py --rounds 1
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_dendritic as B  # noqa: E402

import neurojax as nj  # noqa: E402
from neurojax.network import Network, Projection  # noqa: E402
from neurojax.network import _network as NW  # noqa: E402
from neurojax.network import _projection as PJ  # noqa: E402
from neurojax.network import _propagate as P  # noqa: E402

N = int(os.environ.get("DENDRITIC_N", 10_000))
STEPS = int(os.environ.get("DENDRITIC_STEPS", 2000))  # a multiple of 100
DT = B.DT


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def hand(n: int, layout: str):
    """The cell equations alone (module docstring), `layout` "nc" or "cn"."""
    c = dict(B.CELL)
    cap = jnp.array(c["c"])
    gl = jnp.array(c["g_l"])
    g1, g2 = c["g_couple"]
    d = c["dspikes"]
    n_rise = round(d["duration_rise"] / DT)
    n_off = round(d["offset_fall"] / DT)
    n_fall = round(d["duration_fall"] / DT)
    n_ref_d = round(d["refractory"] / DT)
    n_ref = round(c["t_ref"] / DT)
    decay = float(jnp.exp(-DT / B.TAU_AMPA))
    # a constant drive on the distal synapse, ~the Poisson mean (100 × 5 Hz × 6 nS × 2 ms)
    g_in = B.N_POISSON * B.RATE_POISSON * 1e-3 * B.G_POISSON * B.TAU_AMPA

    def col(x, i):
        return x[:, i] if layout == "nc" else x[i]

    def stack(cols):
        return jnp.stack(cols, axis=1 if layout == "nc" else 0)

    shape = (n, 3) if layout == "nc" else (3, n)
    bshape = (1, 3) if layout == "nc" else (3, 1)

    def step(carry, _):
        v, g_syn, k_d, m, count = carry
        vs, vp, vd = col(v, 0), col(v, 1), col(v, 2)
        rise = (k_d < n_rise).astype(v.dtype)
        fall = ((k_d >= n_off - 1) & (k_d <= n_off + n_fall - 1)).astype(v.dtype)
        cur = stack(
            [
                g1 * (vp - vs),
                g1 * (vs - vp) + g2 * (vd - vp),
                g2 * (vp - vd)
                + d["g_rise"] * rise * (50.0 - vd)
                + d["g_fall"] * fall * (-90.0 - vd)
                + g_syn * (0.0 - vd),
            ]
        )
        v = v + DT * (gl.reshape(bshape) * (c["e_l"] - v) + cur) / cap.reshape(bshape)
        g_syn = g_syn * decay + (1 - decay) * g_in
        vd = col(v, 2)
        k_d = jnp.minimum(k_d + 1, 10**6)
        fire = (vd >= d["threshold"]) & (k_d >= n_ref_d)
        k_d = jnp.where(fire, 0, k_d)
        m = jnp.minimum(m + 1, 10**6)
        vs = col(v, 0)
        spike = (vs > c["v_th"]) & (m >= n_ref)
        m = jnp.where(spike, 0, m)
        vs = jnp.where(spike, c["v_reset"], vs)
        v = stack([vs, col(v, 1), col(v, 2)])
        return (v, g_syn, k_d, m, count + spike.astype(jnp.int32)), None

    def run(v0):
        z = jnp.zeros((n,), v0.dtype)
        big = jnp.full((n,), 10**6, jnp.int32)
        carry = (v0, z, big, big, jnp.zeros((n,), jnp.int32))
        return jnp.sum(jax.lax.scan(step, carry, None, length=STEPS)[0][4])

    v0 = jnp.full(shape, c["e_l"], jnp.float32)
    return jax.jit(run), (v0,)


def build():
    net = B.neurojax_network(N)
    pops = dict(net.populations)
    variants = {
        "full": net,
        "neurons": Network(pops, (), (), dt=DT),
        "neurons_drives": Network(pops, (), net.drives, dt=DT),
        "neurons_projections": Network(pops, net.projections, (), dt=DT),
        # the same with every delay 0: no ring buffers (their share of the fixed cost)
        "neurons_projections_nodelay": Network(
            pops,
            [
                Projection(p.pre, p.post, p.connectivity, p.synapse, 0.0, compartment=p.compartment)
                for p in net.projections
            ],
            (),
            dt=DT,
        ),
    }
    inputs = {"E": jnp.zeros((STEPS, 1))}
    save = nj.SaveAt(every=100, vars=(), spike_dtype=jnp.int16)
    solver = nj.solvers.Euler()

    def sim(net, key):
        sp = nj.simulate(net, inputs, dt=DT, key=key, solver=solver, saveat=save).spikes
        return sum(jnp.sum(s, dtype=jnp.int32) for s in jax.tree.leaves(sp))

    def traced_with(fn, module, name, value):  # traced with a former implementation
        def f(*a):
            old = getattr(module, name)
            setattr(module, name, value)
            try:
                return fn(*a)
            finally:
                setattr(module, name, old)

        return f

    key = jax.random.key(1)
    pieces = {k: (jax.jit(sim), (v, key)) for k, v in variants.items()}
    # the former order of the carried arrays' writes (more copies per step)
    pieces["full_unordered"] = (jax.jit(traced_with(sim, NW, "ORDER", False)), (net, key))
    # the events recomputed in each consumer, as before session 12 (`MATERIALISE`)
    pieces["full_unmaterialised"] = (
        jax.jit(traced_with(sim, NW, "MATERIALISE", False)),
        (net, key),
    )
    pieces["full_blocks"] = (jax.jit(traced_with(sim, P, "SEARCH", "blocks")), (net, key))
    for k in ("full", "neurons_drives"):
        former = traced_with(sim, PJ, "POOLED", "randint")
        pieces[f"{k}_former_drives"] = (jax.jit(former), (variants[k], key))
    pieces["hand_nc"] = hand(N, "nc")
    pieces["hand_cn"] = hand(N, "cn")
    keep = os.environ.get("DENDRITIC_PIECES", "").split()
    return {k: v for k, v in pieces.items() if not keep or k in keep}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--hlo", action="store_true", help="count the kernels of each piece")
    args = ap.parse_args()
    pieces = build()
    compiled, result, kernels = {}, {}, {}
    for k, (fn, a) in pieces.items():
        compiled[k] = fn.lower(*a).compile()
        result[k] = int(compiled[k](*a))
        if args.hlo:
            kinds = "fusion|copy|concatenate|gather|scatter|dot|while|sort|custom-call"
            ops = re.findall(rf"= \S+ ({kinds})\(", compiled[k].as_text())
            kernels[k] = dict(collections.Counter(ops))
    times = {k: [] for k in pieces}
    for _ in range(args.rounds):  # interleaved
        for k, (_, a) in pieces.items():
            c0 = cpu_s()
            jax.block_until_ready(compiled[k](*a))
            times[k].append(cpu_s() - c0)
    out = dict(
        n=N,
        n_steps=STEPS,
        spikes=result,
        cpu_s_all=times,
        ms_per_step={k: 1e3 * statistics.median(v) / STEPS for k, v in times.items()},
    )
    if args.hlo:
        out["hlo_kernels"] = kernels
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
