"""Session-13 experiments on the 10⁴-neuron dendritic network's step (bench_dendritic.py's
network, `Euler()`, dt 0.1 ms): the library's switches set at trace time, compiled side
by side, timed by process CPU time in interleaved rounds (the shared VM is loaded),
medians per step; the compiled step's kernel counts with `--hlo` (`exp_dendritic_s12.
body_ops`: the loop body's fusions, copies and copies of arrays of >= 100 elements).

    python benchmarks/exp_dendritic_s13.py [--rounds 7] [--steps 2000] [--variants a b ...]
        [--hlo] [--out FILE]

Variants (`VARIANTS`): `full` (the library as it is) and `former_*`, each with one of
this session's changes switched off (the step before it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dendritic as B  # noqa: E402
from exp_dendritic_s12 import body_ops, cpu_s, patched  # noqa: E402

import neurojax as nj  # noqa: E402
from neurojax import synapses as NS  # noqa: E402
from neurojax.network import _network as NW  # noqa: E402
from neurojax.network import _propagate as PG  # noqa: E402


def _divided_vector_field(self, state, v):  # the former decay: a division per element
    return NS.ExponentialState(g=-state.g / self.tau)


VARIANTS = {
    "full": [],
    # the timers' new values computed inside the events' conditional (before s13)
    "former_timers": [(NW, "TIMERS_AFTER", False)],
    # the exponential synapses' decay as -g/tau, a division per element (before s13)
    "former_divide": [(NS.Exponential, "vector_field", _divided_vector_field)],
    # the per-synapse delivery loop unrolled ×4 (`_propagate.UNROLL`; 1 in the library)
    "unroll4": [(PG, "UNROLL", 4)],
    "unroll8": [(PG, "UNROLL", 8)],
    "unroll4_divide": [
        (PG, "UNROLL", 4),
        (NS.Exponential, "vector_field", _divided_vector_field),
    ],
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
    net = B.neurojax_network(args.n)
    inputs = {"E": jnp.zeros((args.steps, 1))}
    save = nj.SaveAt(every=100, vars=(), spike_dtype=jnp.int16)

    def sim(net, key):
        sp = nj.simulate(net, inputs, dt=B.DT, key=key, solver=nj.solvers.Euler(), saveat=save)
        return jax.tree.map(lambda s: jnp.sum(s, axis=0, dtype=jnp.int32), sp.spikes)

    key = jax.random.key(1)
    compiled, spikes, ops = {}, {}, {}
    first = None
    for v in args.variants:
        compiled[v] = jax.jit(patched(sim, VARIANTS[v])).lower(net, key).compile()
        counts = compiled[v](net, key)
        spikes[v] = {k: int(jnp.sum(c)) for k, c in counts.items()}
        if first is None:
            first = counts
        # the same spikes neuron by neuron as the first variant (bit-for-bit changes)
        spikes[v]["same_as_first"] = all(bool(jnp.array_equal(counts[k], first[k])) for k in counts)
        if args.hlo:
            ops[v] = body_ops(compiled[v].as_text())
            print(v, ops[v], flush=True)
    times = {v: [] for v in args.variants}
    for r in range(args.rounds):
        for v in args.variants:
            c = cpu_s()
            jax.block_until_ready(compiled[v](net, jax.random.key(2 + r)))
            times[v].append(cpu_s() - c)
    out = dict(
        n=args.n,
        steps=args.steps,
        spikes=spikes,
        cpu_s_all=times,
        us_per_step={v: 1e6 * statistics.median(t) / args.steps for v, t in times.items()},
        hlo=ops,
        load=os.getloadavg(),
    )
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: out[k] for k in ("spikes", "us_per_step", "load")}))


if __name__ == "__main__":
    main()
