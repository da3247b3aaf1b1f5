"""Experiment (session 13, D): micro-benchmarks behind the 10⁴-compartment cable step's
breakdown, each a `lax.scan` (compiled as one function, as in `simulate`), float32, CPU
time, variants interleaved round by round:

- `elim`: the `"branches"` tree solve's chain elimination and back-substitution alone on
  its `(9, 1001)` rows (the benchmark tree's 1000 chains + the root), the diagonal varying
  every solve: as a `lax.scan` over rows (as shipped), the scan unrolled, a Python loop
  over rows (with and without an optimization barrier per row), and `none` (one
  elementwise pass over the rows);
- `maps`: over 11001 nodes, an elementwise pass, a division, a `StaticMap` gather of
  every node (`x[parent]`), the same as a shifted slice, and a NaN test with `any`;
- `layout`: a `(1000, 11)` block of V moved to `(9, 1000)` rows and back (moveaxis,
  transpose then slice, transpose behind a barrier).

    python benchmarks/exp_cable_s13_micro.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax  # noqa: F401 (XLA:CPU flags, before the first computation)
    from neurojax._gather import StaticMap
    from neurojax._gather import apply as gather_apply

    k, c, n = 9, 1001, 11001
    rng = np.random.default_rng(0)
    a_ = jnp.asarray(-rng.uniform(0.1, 1, (k, c)), jnp.float32)
    d_ = jnp.asarray(3 + rng.uniform(0, 1, (k, c)), jnp.float32)
    f0 = jnp.zeros((k, c), jnp.float32).at[k - 1].set(-0.5)

    def elim_row(carry, row):  # `_tree_solve._solve_branches`' eliminate
        dd, drr, fc, gc, acc_d, acc_r = carry
        dj, aj, bj, rj, fj, gj = row
        p_, r = dj - dd, rj - drr
        f, g = fj + fc, gj + gc
        inv = 1.0 / p_
        ai, gi = aj * inv, g * inv
        carry = (ai * bj, ai * r, -ai * f, -gi * bj, acc_d + gi * f, acc_r + gi * r)
        return carry, (r * inv, bj * inv, f * inv)

    def scan_version(d, rr, unroll=1):
        z = jnp.zeros(c, jnp.float32)
        xs = (d, a_, a_, rr, f0, f0)
        (dd, drr, _, _, ad, ar), (xr, xb, xf) = jax.lax.scan(
            elim_row, (z,) * 6, xs, reverse=True, unroll=unroll
        )
        xtop, xbot = drr / (3.0 - dd), ar / (3.0 - ad)

        def sub(xa, row):
            x = row[0] - row[1] * xa - row[2] * xbot
            return x, x

        return jax.lax.scan(sub, xtop, (xr, xb, xf), unroll=unroll)[1]

    def python_version(d, rr, barrier=True):
        z = jnp.zeros(c, jnp.float32)
        carry, outs = (z,) * 6, [None] * k
        for j in reversed(range(k)):
            carry, o = elim_row(carry, (d[j], a_[j], a_[j], rr[j], f0[j], f0[j]))
            if barrier:
                carry, o = jax.lax.optimization_barrier((carry, o))
            outs[j] = o
        dd, drr, _, _, ad, ar = carry
        xa, xbot, xs = drr / (3.0 - dd), ar / (3.0 - ad), []
        for j in range(k):
            xa = outs[j][0] - outs[j][1] * xa - outs[j][2] * xbot
            if barrier:
                xa = jax.lax.optimization_barrier(xa)
            xs.append(xa)
        return jnp.stack(xs)

    def loop(fn, shape):
        def run(r):
            def step(x, _):
                return fn(x) + 1e-3 * r, None

            return jax.lax.scan(step, r, None, length=400)[0]

        r = jnp.ones(shape, jnp.float32)
        f = jax.jit(run).lower(r).compile()
        jax.block_until_ready(f(r))
        return lambda: jax.block_until_ready(f(r))

    def elim(fn):
        return loop(lambda x: fn(d_ + 1e-3 * jnp.abs(x), x), (k, c))

    par = np.arange(-1, n - 1)
    kids = np.arange(1, n)
    of_parent = StaticMap(kids, par[1:], n, n)

    def back(rows):  # (9, 1000) rows → (11001,)
        z = jnp.zeros((1, 1000), rows.dtype)
        blk = jnp.concatenate([z, rows, z]).T.reshape(-1)
        return jnp.concatenate([jnp.zeros(1, rows.dtype), blk])

    runs = {
        "elim: scan": elim(scan_version),
        "elim: scan unrolled": elim(lambda d, r: scan_version(d, r, k)),
        "elim: python + barrier": elim(python_version),
        "elim: python": elim(lambda d, r: python_version(d, r, False)),
        "elim: none": elim(lambda d, r: d * r),
        "maps: elementwise": loop(lambda x: x * 0.999, (n,)),
        "maps: divide": loop(lambda x: 1.0 / (x + 2.0), (n,)),
        "maps: gather x[parent]": loop(lambda x: 0.5 * gather_apply(of_parent, x), (n,)),
        "maps: shifted slice": loop(lambda x: 0.5 * jnp.concatenate([x[:1], x[:-1]]), (n,)),
        "maps: isnan any": loop(
            lambda x: jnp.where(jnp.any(jnp.isnan(x)), 0.0, 0.999 * x), (n,)
        ),  # fmt: skip
        "layout: moveaxis": loop(
            lambda x: back(2.0 * jnp.moveaxis(x[1:].reshape(1000, 11)[:, 1:10], 1, 0)), (n,)
        ),
        "layout: T then slice": loop(lambda x: back(2.0 * x[1:].reshape(1000, 11).T[1:10]), (n,)),
        "layout: T barrier": loop(
            lambda x: back(2.0 * jax.lax.optimization_barrier(x[1:].reshape(1000, 11).T)[1:10]),
            (n,),
        ),
    }
    t = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            c0 = time.process_time()
            run()
            t[name].append(time.process_time() - c0)
    for name, v in t.items():
        print(f"{name:24s} {statistics.median(v) / 400 * 1e6:7.2f} µs per iteration (CPU, median)")
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
