"""Session-12 experiments on the 10⁴-neuron dendritic network's step (bench_dendritic.py's
network, `Euler()`, dt 0.1 ms): variants compiled side by side, timed by process CPU time
in interleaved rounds (the shared VM is loaded), medians per step.

    python benchmarks/exp_dendritic_s12.py [--rounds 5] [--steps 2000] [--variants a b ...]
        [--out FILE]

Variants (`VARIANTS`): `full` (the library as it is), and diagnostic or candidate
replacements of one piece, each patched in at trace time only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dendritic as B  # noqa: E402

import neurojax as nj  # noqa: E402
from neurojax.network import _network as NW  # noqa: E402
from neurojax.network import _projection as PJ  # noqa: E402
from neurojax.network import _propagate as PG  # noqa: E402


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def patched(fn, patches):
    """`fn` traced with `patches` [(object, attribute, value)] set."""

    def f(*a):
        old = [(o, k, getattr(o, k)) for o, k, _ in patches]
        for o, k, v in patches:
            setattr(o, k, v)
        try:
            return fn(*a)
        finally:
            for o, k, v in old:
                setattr(o, k, v)

    return f


def _mean_sample(self, key, shape, dt):  # diagnostic: the drives' mean, no RNG
    lam = self.n_sources * self.rate * dt * 1e-3
    return jnp.full(shape, self.weight * lam)


def _mix32(x):
    """lowbias32 (C. Wellons' integer hash): a bijection of uint32 with good avalanche."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _hash_sample(self, key, shape, dt):
    """Candidate: one hashed word per neuron, Poisson by inverse CDF on integer
    thresholds (k_max 10: exact to 2^-32 for λ <= 0.5)."""
    lam = jax.lax.stop_gradient(self.n_sources * self.rate * dt * 1e-3)
    data = jax.random.key_data(key)
    seed = _mix32(data[0] ^ _mix32(data[1]))
    u = _mix32(jnp.arange(shape[0], dtype=jnp.uint32) * jnp.uint32(0x9E3779B9) + seed)
    k = jnp.arange(10, dtype=jnp.float32)
    logp = k * jnp.log(lam) - lam - jax.lax.lgamma(k + 1)
    tail = 1.0 - jnp.cumsum(jnp.exp(logp))  # P(X > k)
    thr = jnp.uint32(4294967295.0) - jnp.clip(tail * 4294967296.0, 0, 4294967295.0).astype(
        jnp.uint32
    )
    counts = jnp.sum(u[:, None] >= thr[None, :], axis=1, dtype=jnp.int32)
    return self.weight * counts.astype(jnp.float32)


_TABLES = {}


def _table_sample(self, key, shape, dt):
    """Diagnostic: Poisson counts read from a fixed random table (64 rows, numpy), the
    row picked by the step's key: the drives' statistics without their RNG cost."""
    n = shape[0]
    if n not in _TABLES:
        rng = np.random.default_rng(n)
        _TABLES[n] = rng.poisson(B.N_POISSON * B.RATE_POISSON * B.DT * 1e-3, (64, n))
    row = (jax.random.key_data(key)[0] % 64).astype(jnp.int32)
    counts = jnp.asarray(_TABLES[n], jnp.float32)[row]
    return self.weight * counts


def _no_delivery(target_fns, bases, weights, x, auxs, binary=False):  # diagnostic
    return tuple(b + 0 * jnp.sum(x) for b in bases)


VARIANTS = {
    "full": [],
    "not_materialised": [(NW, "MATERIALISE", False)],
    "unordered": [(NW, "ORDER", False)],
    "no_rng": [(PJ.PoissonDrive, "sample", _mean_sample)],
    "hash_dense": [(PJ.PoissonDrive, "sample", _hash_sample)],
    "table": [(PJ.PoissonDrive, "sample", _table_sample)],
    "table_nodeliver": [
        (PJ.PoissonDrive, "sample", _table_sample),
        (PG, "_event_bits", _no_delivery),
    ],
}


def body_ops(hlo: str) -> dict:
    """Kernel counts of the time step: the body of the while loop whose state is the
    largest tuple (the inner loop over steps), nested calls not expanded."""
    import collections
    import re

    comps = {}
    for m in re.finditer(r"\n(%\S+|ENTRY \S+) \(.*?\n\}", hlo, re.S):
        comps[m.group(1).split()[-1]] = m.group(0)
    best, body = -1, None
    for line in hlo.split("\n"):
        if " while(" in line:
            size = line.split(" while(")[0].count("[")
            if size > best:
                best, body = size, re.search(r"body=(%[\w.\-]+)", line).group(1)
    ops = re.findall(r"= (\S+(?: \S+)*?) ([a-z][\w-]*)\(", comps[body])
    count = collections.Counter(k for _, k in ops)
    big_copies = sum(1 for shape, k in ops if k == "copy" and re.search(r"\[\d{3,}", shape))
    return {
        k: v
        for k, v in count.items()
        if k not in ("get-tuple-element", "parameter", "constant", "tuple", "bitcast")
    } | {"big_copies": big_copies}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
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
        return sum(jnp.sum(s, dtype=jnp.int32) for s in jax.tree.leaves(sp.spikes))

    key = jax.random.key(1)
    compiled, spikes = {}, {}
    for v in args.variants:
        compiled[v] = jax.jit(patched(sim, VARIANTS[v])).lower(net, key).compile()
        spikes[v] = int(compiled[v](net, key))
        if args.hlo:
            print(v, body_ops(compiled[v].as_text()), flush=True)
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
        load=os.getloadavg(),
        xla_flags=os.environ.get("XLA_FLAGS", ""),
    )
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: out[k] for k in ("spikes", "us_per_step", "load", "xla_flags")}))


if __name__ == "__main__":
    main()
