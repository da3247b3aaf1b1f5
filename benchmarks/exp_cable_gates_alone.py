"""Experiment (issue 21, item 1): the cable HH channel's gate update alone, 10⁴
compartments, 4000 steps in a `lax.scan` (V nudged by the gates each step so nothing is
loop-invariant), float32, CPU time of this process, variants interleaved: `hh9` (the
six rate functions, as before session 12: `exp_cable_step.hh9_update`), `current`
(`channels.HH.update`), `none` (the loop alone); session 13: `stacked` (the three gates
relaxed as one `(3, n)` array) and `rates barrier` (the six rates materialised behind an
optimization barrier before the relaxations), each with its max |Δ| from `current`.

    python benchmarks/exp_cable_gates_alone.py [--n 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    import exp_cable_step as e
    import jax
    import jax.numpy as jnp

    from neurojax.channels import _builtin
    from neurojax.channels import hh as hh_rates
    from neurojax.channels._base import relax

    hh = _builtin.HH()

    def stacked(self, v, gates, dt, temperature):
        phi = hh_rates.q10(temperature)
        am, bm, ah, bh, an, bn = hh_rates.rates(v)
        a, b, x = jnp.stack([am, ah, an]), jnp.stack([bm, bh, bn]), jnp.stack(list(gates))
        out = relax(x, a / (a + b), phi * (a + b), dt)
        return type(gates)(out[0], out[1], out[2])

    def rates_barrier(self, v, gates, dt, temperature):
        phi = hh_rates.q10(temperature)
        am, bm, ah, bh, an, bn = jax.lax.optimization_barrier(hh_rates.rates(v))
        pairs = ((am, bm), (ah, bh), (an, bn))
        return type(gates)(*(relax(x, a / (a + b), phi * (a + b), dt)
                             for x, (a, b) in zip(gates, pairs, strict=True)))  # fmt: skip

    def make(update):
        def run(v, g):
            def body(c, _):
                v, g = c
                g2 = update(hh, v, g, 0.025, 6.3)
                return (v + 1e-3 * (g2.m - g2.n), g2), None

            return jax.lax.scan(body, (v, g), None, length=4000)[0]

        return jax.jit(run)

    v = jnp.linspace(-80.0, 40.0, args.n, dtype=jnp.float32)
    g = hh.init(v, 6.3)
    fs = {"hh9": make(e.hh9_update), "current": make(_builtin.HH.update),
          "none": make(lambda s, v, g, dt, t: g), "stacked": make(stacked),
          "rates barrier": make(rates_barrier)}  # fmt: skip
    ref = jax.block_until_ready(fs["current"](v, g))
    for k, f in fs.items():
        out = jax.block_until_ready(f(v, g))
        if k not in ("none", "hh9"):
            d = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(out[1], ref[1], strict=True))
            print(f"{k:14s} gates max |Δ| from current after 4000 steps: {d:.2e}")
    ts = {k: [] for k in fs}
    for _ in range(args.rounds):
        for k, f in fs.items():
            c = time.process_time()
            jax.block_until_ready(f(v, g))
            ts[k].append(time.process_time() - c)
    for k, t in ts.items():
        print(f"{k:14s} {statistics.median(t) / 4000 * 1e6:6.1f} µs/step (CPU, median)")
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
