"""Session-14 experiments on the 10⁴-neuron dendritic network's step (bench_dendritic.py's
network, `Euler()`, dt 0.1 ms), as `exp_dendritic_s13.py`: the library's switches (and,
for diagnostics, patched functions or a transformed network) set at trace time, compiled
side by side, timed by process CPU time in interleaved rounds (the shared VM is loaded),
medians per step; `--hlo` prints the step's kernel counts.

    python benchmarks/exp_dendritic_s14.py [--rounds 7] [--steps 2000] [--variants a b ...]
        [--hlo] [--out FILE]

`--rows`: the delivery micro-benchmark (`rows_micro`: cold rows against cached ones);
`--pieces`: the projections' fixed cost with and without the spike search (`pieces`).

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
    # both of this session's changes off: the step before session 14
    "former_s14": ([(PJ, "HALVES", False)], "int32"),
    "diag_shared_weight": ([(PG, "_deliver_row_fused", _shared_weight_row)], None),
}


def rows_micro(rounds: int, steps: int) -> dict:
    """Where the delivery's time goes (`--rows`): the E→E projection alone (8000 rows of
    up to 213 synapses, int16 targets and float32 weights, ~10 MB), 4 spiking rows per
    step delivered into an 8000-float synapse state by `scatter_binary_events`, in a
    `lax.scan` of `steps` steps; CPU time per step, interleaved rounds, medians:

    - `rows_vary`: other rows every step (as in the network: cold rows);
    - `rows_fixed`: the same 4 rows every step (their 2.6 KB stay cached);
    - `no_delivery`: rows found by the search, nothing delivered."""
    import numpy as np

    conn = B.neurojax_network(10_000).projections[0].connectivity
    n = conn.n_pre

    def make(kind):
        def run(conn, g0):
            def step(g, i):
                k = jnp.arange(4) * 1999 + 5
                rows = k if kind == "rows_fixed" else (i * 37 + k) % n
                x = jnp.zeros(n).at[rows].set(1.0)
                base = jnp.zeros((conn.n_post,), jnp.float32)
                out = PG.scatter_binary_events(
                    (PG.post_targets(),), 16, (base,), (conn.weight,), x, ((conn.post,),)
                )[0]
                return g * 0.95 + out, None

            return jax.lax.scan(step, g0, jnp.arange(steps))[0]

        patches = []
        if kind == "no_delivery":
            patches = [(PG, "_deliver_row_fused", lambda tf, ext, *a: ext)]
        return jax.jit(patched(run, patches)).lower(conn, jnp.zeros(conn.n_post)).compile()

    kinds = ("rows_vary", "rows_fixed", "no_delivery")
    cs = {k: make(k) for k in kinds}
    g0 = jnp.zeros(conn.n_post)
    assert np.asarray(cs["rows_vary"](conn, g0)).sum() > 0
    times = {k: [] for k in kinds}
    for _ in range(rounds):
        for k in kinds:
            c = cpu_s()
            jax.block_until_ready(cs[k](conn, g0))
            times[k].append(cpu_s() - c)
    return dict(
        us_per_step={k: 1e6 * statistics.median(t) / steps for k, t in times.items()},
        us_per_step_range={
            k: [1e6 * min(t) / steps, 1e6 * max(t) / steps] for k, t in times.items()
        },
        load=os.getloadavg(),
    )


def pieces(rounds: int, steps: int) -> dict:
    """The projections' fixed cost, piece by piece (`--pieces`): the populations with no
    drive (so no spike: only what a projection costs without one), with one projection
    (E→E; I→E), all four, and each of these with the spike search switched off
    (`_propagate._event` returning its zero buffers: the same results, as nothing
    spikes); CPU time per step, interleaved rounds, medians."""
    from neurojax.network import Network

    net = B.neurojax_network(10_000)
    pops, projs = dict(net.populations), net.projections
    nets = {
        "neurons": Network(pops, (), (), dt=B.DT),
        "EE": Network(pops, projs[:1], (), dt=B.DT),
        "IE": Network(pops, projs[2:3], (), dt=B.DT),
        "all": Network(pops, projs, (), dt=B.DT),
    }
    inputs = {"E": jnp.zeros((steps, 1))}
    save = nj.SaveAt(every=100, vars=(), spike_dtype=jnp.int16)

    def sim(net, key):
        sp = nj.simulate(net, inputs, dt=B.DT, key=key, solver=nj.solvers.Euler(), saveat=save)
        return sum(jnp.sum(s, dtype=jnp.int32) for s in jax.tree.leaves(sp.spikes))

    off = [(PG, "_event", lambda tf, ch, bases, w, x, aux, binary=False: tuple(bases))]
    key = jax.random.key(1)
    cs, args = {}, {}
    for k, v in nets.items():
        cs[k], args[k] = jax.jit(sim).lower(v, key).compile(), v
        if k != "neurons":
            cs[k + "_nosearch"] = jax.jit(patched(sim, off)).lower(v, key).compile()
            args[k + "_nosearch"] = v
    assert all(int(c(args[k], key)) == 0 for k, c in cs.items())  # nothing spikes
    times = {k: [] for k in cs}
    for _ in range(rounds):
        for k, c in cs.items():
            t = cpu_s()
            jax.block_until_ready(c(args[k], key))
            times[k].append(cpu_s() - t)
    return dict(
        us_per_step={k: 1e6 * statistics.median(t) / steps for k, t in times.items()},
        us_per_step_range={
            k: [1e6 * min(t) / steps, 1e6 * max(t) / steps] for k, t in times.items()
        },
        load=os.getloadavg(),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--out", default=None)
    ap.add_argument("--hlo", action="store_true", help="print the step's kernel counts")
    ap.add_argument("--rows", action="store_true", help="the delivery micro-benchmark")
    ap.add_argument("--pieces", action="store_true", help="the projections' fixed cost")
    args = ap.parse_args()
    if args.rows or args.pieces:
        res = (rows_micro if args.rows else pieces)(args.rounds, args.steps)
        if args.out:
            Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps(res, indent=1))
        return
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
