"""Session-14 experiments on the 10⁴-neuron dendritic network's step (bench_dendritic.py's
network, `Euler()`, dt 0.1 ms), as `exp_dendritic_s13.py`: the library's switches (and,
for diagnostics, patched functions or a transformed network) set at trace time, compiled
side by side, timed by process CPU time in interleaved rounds (the shared VM is loaded),
medians per step; `--hlo` prints the step's kernel counts.

    python benchmarks/exp_dendritic_s14.py [--rounds 7] [--steps 2000] [--variants a b ...]
        [--hlo] [--out FILE]

Variants (`VARIANTS`): `full` (the library as it is), `former_*` (one of this session's
changes switched off) and diagnostics (`diag_*`: not the library's behaviour in general;
see each entry).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dendritic as B  # noqa: E402
from exp_dendritic_s12 import body_ops, cpu_s, patched  # noqa: E402

import neurojax as nj  # noqa: E402
from neurojax.network import _connectivity as CN  # noqa: E402
from neurojax.network import _projection as PJ  # noqa: E402
from neurojax.network import _propagate as PG  # noqa: E402

_fused = PG._deliver_row_fused


def _shared_weight_row(target_fns, ext, weights, auxs, x, row, sizes, offsets):
    """Diagnostic: `_deliver_row_fused` reading each projection's weight at `[0, 0]`
    instead of the spiking row's weights (equal in this network, where every synapse of
    a projection has the same weight and padding goes to the padding slot by its
    target): what reading the rows' weights costs."""
    weights = tuple(jnp.broadcast_to(w[0, 0], w.shape) for w in weights)
    return _fused(target_fns, ext, weights, auxs, x, row, sizes, offsets)


def _post16(net):
    """Diagnostic network: the projections' targets stored as int16 (every `n_post` here
    is < 2^15): half the bytes of the rows' target reads."""
    projs = tuple(
        eqx.tree_at(lambda p: p.connectivity.post, p, p.connectivity.post.astype(jnp.int16))
        for p in net.projections
    )
    return eqx.tree_at(lambda n: n.projections, net, projs)


VARIANTS = {
    "full": ([], None),
    # the pooled drive draw's words one event each, as before s14 (`_projection.HALVES`)
    "former_halves": ([(PJ, "HALVES", False)], None),
    # (run a: "event_cols_read", the events' conditional passing only the voltage columns
    # it reads, the others straight from the solver: 6 big copies per step instead of 0,
    # +1.3 µs; the switch was removed from the library, `results/dendritic_exp_s14_a.json`)
    # the targets stored as int32, as before s14 (`_connectivity.SMALL_INDEX`; the
    # network is rebuilt with it)
    "former_int32": ([], "int32"),
    "diag_shared_weight": ([(PG, "_deliver_row_fused", _shared_weight_row)], None),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--out", default=None)
    ap.add_argument("--hlo", action="store_true", help="print the step's kernel counts")
    args = ap.parse_args()
    net0 = B.neurojax_network(args.n)
    inputs = {"E": jnp.zeros((args.steps, 1))}
    save = nj.SaveAt(every=100, vars=(), spike_dtype=jnp.int16)

    def sim(net, key):
        sp = nj.simulate(net, inputs, dt=B.DT, key=key, solver=nj.solvers.Euler(), saveat=save)
        return jax.tree.map(lambda s: jnp.sum(s, axis=0, dtype=jnp.int32), sp.spikes)

    key = jax.random.key(1)
    compiled, spikes, ops, nets = {}, {}, {}, {}
    first = None
    for v in args.variants:
        patches, transform = VARIANTS[v]
        if transform == "int32":
            CN.SMALL_INDEX = False
            nets[v] = B.neurojax_network(args.n)
            CN.SMALL_INDEX = True
        else:
            nets[v] = net0 if transform is None else transform(net0)
        compiled[v] = jax.jit(patched(sim, patches)).lower(nets[v], key).compile()
        counts = compiled[v](nets[v], key)
        spikes[v] = {k: int(jnp.sum(c)) for k, c in counts.items()}
        if first is None:
            first = counts
        # the same spikes neuron by neuron as the first variant (bit-for-bit changes)
        spikes[v]["same_as_first"] = all(bool(jnp.array_equal(counts[k], first[k])) for k in counts)
        if args.hlo:
            ops[v] = body_ops(compiled[v].as_text())
            print(v, ops[v], flush=True)
    times = {v: [] for v in args.variants}
    loads = []
    for r in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for v in args.variants:
            c = cpu_s()
            jax.block_until_ready(compiled[v](nets[v], jax.random.key(2 + r)))
            times[v].append(cpu_s() - c)
    out = dict(
        n=args.n,
        steps=args.steps,
        spikes=spikes,
        cpu_s_all=times,
        us_per_step={v: 1e6 * statistics.median(t) / args.steps for v, t in times.items()},
        us_per_step_range={
            v: [1e6 * min(t) / args.steps, 1e6 * max(t) / args.steps] for v, t in times.items()
        },
        hlo=ops,
        load_per_round=loads,
    )
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(
        json.dumps(
            {k: out[k] for k in ("spikes", "us_per_step", "us_per_step_range", "load_per_round")},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
