"""Experiment (issue 21, item 1): the cable HH channel's gate update alone, 10⁴
compartments, 4000 steps in a `lax.scan` (V nudged by the gates each step so nothing is
loop-invariant), float32, CPU time of this process, variants interleaved: `hh9` (the
six rate functions, as before session 12: `exp_cable_step.hh9_update`), `current`
(`channels.HH.update`), `none` (the loop alone).

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

    hh = _builtin.HH()

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
          "none": make(lambda s, v, g, dt, t: g)}  # fmt: skip
    for f in fs.values():
        jax.block_until_ready(f(v, g))
    ts = {k: [] for k in fs}
    for _ in range(args.rounds):
        for k, f in fs.items():
            c = time.process_time()
            jax.block_until_ready(f(v, g))
            ts[k].append(time.process_time() - c)
    for k, t in ts.items():
        print(f"{k:8s} {statistics.median(t) / 4000 * 1e6:6.1f} µs/step (CPU, median)")
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
