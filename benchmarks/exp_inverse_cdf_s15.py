"""Session 15 (helper E): the cost of the inverse-CDF Poisson draw's fix
(`network._projection._inverse_cdf`: the loop bounded by k_max = max ⌊λ + 9√λ + 10⌋ and each
count capped at its own bound, instead of looping to 1000 events where the float32 sum of
the pmf stops below the uniform), against the draw before it and against the variant
tried first (the uniform placed where the sum stops growing: `stall_inverse_cdf`).

Paired, in one process: the draw before the fix (copied here) and the library's, jitted,
alternated over rounds; CPU time (`time.process_time`) per draw, in a `lax.scan` of draws
(as a drive's inside a run), median and range over rounds. The counts are compared too
(equal wherever the old draw did not hit its cap).

    PYTHONPATH=. python benchmarks/exp_inverse_cdf_s15.py [--rounds 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from neurojax.network import _projection as P


def old_inverse_cdf(key, lam, shape):
    """`_inverse_cdf` before session 15 (kept here to measure against)."""
    lam = jnp.broadcast_to(lam, shape)
    u = jax.random.uniform(key, shape, lam.dtype)

    def cond(c):
        k, _, cdf, _ = c
        return jnp.any(u > cdf) & (k < 1000)

    def body(c):
        k, p, cdf, count = c
        count = count + (u > cdf)
        k = k + 1
        p = p * lam / k
        return k, p, cdf + p, count

    p0 = jnp.exp(-lam)
    return jax.lax.while_loop(cond, body, (0, p0, p0, jnp.zeros(shape, jnp.int32)))[3]


def stall_inverse_cdf(key, lam, shape):
    """Tried, not kept (10–20 % slower per draw than the old loop): a uniform above the
    sum where it stops growing is placed at that k (the stall point), tracked per element
    and per iteration."""
    lam = jnp.broadcast_to(lam, shape)
    u = jax.random.uniform(key, shape, lam.dtype)

    def cond(c):
        k, _, cdf, _, moved = c
        return jnp.any(u > cdf) & moved & (k < 1000)

    def body(c):
        k, p, cdf, count, _ = c
        k = k + 1
        p = p * lam / k
        new = cdf + p
        up = (u > cdf) & (new > cdf)
        return k, p, new, count + up, jnp.any(up)

    p0 = jnp.exp(-lam)
    init = (0, p0, p0, jnp.zeros(shape, jnp.int32), jnp.asarray(True))
    return jax.lax.while_loop(cond, body, init)[3]


CASES = [  # (label, n, lam, calls per timing): a drive's per-neuron draw, a pooled total
    ("n=8000, lam=0.05 (per neuron)", 8000, 0.05, 2000),
    ("n=8000, lam=3 (per neuron)", 8000, 3.0, 500),
    ("n=1, lam=5 (a pooled total)", 1, 5.0, 20000),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = []
    for label, n, lam, calls in CASES:
        lam = jnp.float32(lam)
        draws = {"old": old_inverse_cdf, "new": P._inverse_cdf, "stall": stall_inverse_cdf}

        def scanned(draw, lam=lam, n=n):  # one draw per step, as a drive inside a run
            def step(total, k):
                c = draw(k, lam, (n,))
                return total + c.sum(), c[0]

            return jax.jit(lambda ks: jax.lax.scan(step, jnp.int32(0), ks))

        fns = {name: scanned(d) for name, d in draws.items()}
        keys = jax.random.split(jax.random.key(0), calls)
        outs = {name: f(keys) for name, f in fns.items()}
        same = {
            v: bool(
                np.array_equal(np.asarray(outs["old"][1]), np.asarray(outs[v][1]))
                and int(outs["old"][0]) == int(outs[v][0])
            )
            for v in ("new", "stall")
        }
        times = {"old": [], "new": [], "stall": []}
        for r in range(args.rounds):
            for name in ("old", "new", "stall")[:: 1 if r % 2 == 0 else -1]:
                f = fns[name]
                t0 = time.process_time()
                jax.block_until_ready(f(keys))
                times[name].append((time.process_time() - t0) / calls * 1e6)
        row = {"case": label, "same_counts_as_old": same}
        for v in ("old", "new", "stall"):
            row[f"{v}_us"] = float(np.median(times[v]))
        for v in ("new", "stall"):
            ratio = np.array(times[v]) / np.array(times["old"])
            row[f"{v}/old_median"] = float(np.median(ratio))
            row[f"{v}/old_range"] = [float(ratio.min()), float(ratio.max())]
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = {"rounds": args.rounds, "load": os.getloadavg(), "rows": rows}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(meta, f, indent=1)
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main()
