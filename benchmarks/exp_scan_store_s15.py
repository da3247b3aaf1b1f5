"""Experiment (session 15): what storing one array per step costs in a `lax.scan` on
XLA:CPU, against the step itself — the floor under any reverse-mode gradient that stores
the state per step (the shipped `CheckpointAdjoint`/`DirectAdjoint` store V and the
refractory timer of a LIF population at every step).

10⁴ neurons, 1000 steps, float32, a LIF-like update `v + 0.01·(−(v + 60) + x)`:

- `nostore`: the loop alone;
- `store1` / `store2`: the loop stacking one / two (N,) arrays per step (40 / 80 MB);
- `nested`: `store1` as 100 blocks of 10 steps (the layout of `SaveAt(every=10)`);
- `revread`: a reverse scan reading a stored (1000, N) array.

One process, 7 alternating rounds, median process CPU time. Measured 2026-12-07 ~21:58
UTC, load ~5: nostore 0.60 ms, store1 23.6, store2 69.3, nested 24.4, revread 3.4 ms.
With glibc's allocator told to keep large blocks on its heap instead of mapping fresh
pages for each call (`GLIBC_TUNABLES=glibc.malloc.mmap_threshold=2000000000:
glibc.malloc.trim_threshold=4000000000`): 0.54, 6.7, 13.4, 8.1, 3.1 ms. XLA:CPU
allocates each call's output and temporary buffers anew; above glibc's mmap threshold
each is a fresh mapping whose first touch page-faults (10⁴ faults for 40 MB), which is
most of the cost of storing. The same set at run time, `--mallopt` (glibc's `mallopt`
through ctypes, mmap threshold and trim threshold 1 GiB), was not reliable: of four
processes (22:27–22:30 UTC, load ~11), called before importing JAX store1 19.3 → 6.2 ms
and store2 45.2 → 15.7 ms once, then store1 7.7 but store2 30.1 and nested 21.3 ms;
called after JAX's backend started 6.9 / 15.6 / 7.9 ms; `--mallopt` as written here (after
importing JAX, before its backend allocates) 20.0 / 32.8 / 24.7 ms, no gain. glibc's
per-thread arenas (XLA's worker threads allocate too) may be why; only the environment
variable, read at process start, gave the gain in every run.

    python benchmarks/exp_scan_store_s15.py [--mallopt]
"""

import ctypes
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import neurojax  # noqa: F401  (its XLA flags, as in every benchmark)

N, T = 10000, 1000


def set_mallopt():
    """Large blocks from glibc's heap, kept after they are freed (process-wide)."""
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    assert libc.mallopt(m_mmap_threshold, 1 << 30) == 1
    assert libc.mallopt(m_trim_threshold, 1 << 30) == 1


def main():
    if "--mallopt" in sys.argv:
        set_mallopt()
    v0 = jnp.linspace(-65, -55, N).astype(jnp.float32)
    xs = jnp.full((T,), 1.5, jnp.float32)

    def body_nostore(v, x):
        return v + 0.01 * (-(v + 60.0) + x), None

    def body_store(v, x):
        return v + 0.01 * (-(v + 60.0) + x), v

    def body_store2(c, x):
        v, r = c
        return (v + 0.01 * (-(v + 60.0) + x), r * 0.99), (v, r)

    def rev(st):
        def b(a, s):
            return a * 0.99 + s, None

        return jax.lax.scan(b, jnp.zeros(N, jnp.float32), st, reverse=True)[0]

    def nested(v):
        return jax.lax.scan(lambda c, x: jax.lax.scan(body_store, c, x), v, xs.reshape(T // 10, 10))

    cases = {
        "nostore": (jax.jit(lambda v: jax.lax.scan(body_nostore, v, xs)[0]), v0),
        "store1": (jax.jit(lambda v: jax.lax.scan(body_store, v, xs)), v0),
        "store2": (jax.jit(lambda v: jax.lax.scan(body_store2, (v, v), xs)), v0),
        "nested": (jax.jit(nested), v0),
        "revread": (jax.jit(rev), jnp.ones((T, N), jnp.float32)),
    }
    for f, a in cases.values():
        jax.block_until_ready(f(a))
    times = {k: [] for k in cases}
    for _ in range(7):
        for k, (f, a) in cases.items():
            t = time.process_time()
            jax.block_until_ready(f(a))
            times[k].append(time.process_time() - t)
    for k, ts in times.items():
        print(f"{k}: {np.median(ts) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
