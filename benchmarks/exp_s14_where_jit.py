"""Session 14, helper A: is `jnp.where`'s own `jit` a cost in a gradient's tracing?

`jnp.where` is a jitted function in JAX 0.10 (a `jit` equation per call); the NMODL
importer's code calls it ~300 times in the Hay cell's gradient. Traced and lowered: the
gradient of 300 chained `where`s on a (300,) array, through `jnp.where` and through the
same code without the `jit` (`jax._src.numpy.util._where.__wrapped__`, private: for this
measurement only), after `jax.clear_caches()`, alternately, CPU time.

Measured (2026-12-07, load ~15): jit 0.44–0.50 CPU-s, inlined 0.58–0.63. JAX caches the
jitted `where`'s trace and its linearisation per argument types, so the `jit` is cheaper
than inlining: not a lever.

    python benchmarks/exp_s14_where_jit.py
"""

import time

import jax
import jax.numpy as jnp
from jax._src.numpy import util


def _chain(where):
    def f(x):
        for _ in range(300):
            x = where(x > 0.1, x * 1.01, x + 0.5)
        return x.sum()

    return f


def main():
    for _ in range(3):
        for name, where in (("jit", jnp.where), ("inline", util._where.__wrapped__)):
            jax.clear_caches()
            t0 = time.process_time()
            jax.jit(jax.grad(_chain(where))).lower(jnp.ones(300))
            print(name, round(time.process_time() - t0, 3))


if __name__ == "__main__":
    main()
