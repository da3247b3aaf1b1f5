"""The event-driven propagation's bitset search (`_propagate._event_bits`, the default),
the two-level search before it (`_event_blocks`) and the write-then-read delay ring:
exact against dense propagation and the former `top_k` search, for masks that stress
the search (none, all, one per block, block edges, sizes that are not a multiple of the
block, non-binary released amounts), and its derivatives.

Cheap: small populations, one compiled program per case shape."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.network import Delay, fixed_probability
from neurojax.network import _propagate as P


def _dense(conn, x):
    """Σ_i x_i W[i, :] by a plain NumPy loop over the stored synapses (float64)."""
    post, w = np.asarray(conn.post), np.asarray(conn.weight, np.float64)
    out = np.zeros(conn.n_post + 1)
    for i in np.flatnonzero(np.asarray(x)):
        np.add.at(out, post[i], float(x[i]) * w[i])
    return out[:-1]


_COMPILED = {}  # one jitted function per (search, delivery, sizes, FUSE_ROWS): the mask
# cases share it (same shapes), so each variant compiles once, not once per case


def _event(search, conns, x, delivery="auto"):
    old = P.SEARCH, P.DELIVERY
    P.SEARCH, P.DELIVERY = search, delivery
    try:
        sizes = tuple(c.n_post for c in conns)
        key = (search, delivery, sizes, conns[0].chunk, P.FUSE_ROWS)
        if key not in _COMPILED:
            _COMPILED[key] = jax.jit(
                lambda ws, x, posts: P.scatter_events(
                    (P.post_targets(),) * len(sizes),
                    key[3],
                    tuple(jnp.zeros((m,), jnp.float32) for m in sizes),
                    ws,
                    x,
                    tuple((p,) for p in posts),
                )
            )
        f = _COMPILED[key]
        return f(tuple(c.weight for c in conns), x, tuple(c.post for c in conns))
    finally:
        P.SEARCH, P.DELIVERY = old


N_PRE = 1000  # block size 32: 32 blocks, the last one 8 rows short


@pytest.fixture(scope="module")
def conns():
    k1, k2 = jax.random.split(jax.random.key(0))
    return (
        fixed_probability(k1, N_PRE, 300, 0.05, 0.5),
        fixed_probability(k2, N_PRE, 70, 0.1, 1.5),
    )


def _masks():
    rng = np.random.default_rng(3)
    b = P._block_size(N_PRE)
    cases = {
        "none": np.zeros(N_PRE),
        "all": np.ones(N_PRE),
        "one per block": np.isin(np.arange(N_PRE), np.arange(0, N_PRE, b) + 3).astype(float),
        "block edges and last row": np.isin(
            np.arange(N_PRE), [0, b - 1, b, 2 * b - 1, N_PRE - 1]
        ).astype(float),
        "sparse": (rng.random(N_PRE) < 0.01).astype(float),
        "dense": (rng.random(N_PRE) < 0.5).astype(float),
        # released amounts (short-term plasticity): any nonzero value is an event
        "graded": np.where(rng.random(N_PRE) < 0.05, rng.random(N_PRE) + 0.1, 0.0),
    }
    return cases


def test_pack_bits_levels():
    """Bit i of word k is row 32k + i, the padding rows are zero; and the walk over a
    three-level tree (n = 40 000: 1250 → 40 → 2 → 1 words) visits exactly the set rows,
    in increasing order, including the last row and rows in bit 31 of a word."""
    rows = np.array([0, 31, 32, 1023, 1024, 31_999, 32_000, 39_999])
    active = np.zeros(40_000, bool)
    active[rows] = True
    w = np.asarray(P._pack_bits(jnp.asarray(active)))
    assert w.shape == (1250,) and w.dtype == np.uint32
    expect = np.zeros(1250, np.uint64)
    np.add.at(expect, rows // 32, np.uint64(1) << (rows % 32).astype(np.uint64))
    np.testing.assert_array_equal(w, expect.astype(np.uint32))
    # The walk, recording rows: one synapse per row onto target 0 with weight = row + 1,
    # summed in float64-exact integers (≤ 2·10⁵ < 2^24: exact in float32 too).
    post = jnp.zeros((40_000, 1), jnp.int32)
    weight = (jnp.arange(40_000, dtype=jnp.float32) + 1)[:, None]
    out = _event("bits", (_Conn(post, weight, 1),), jnp.asarray(active, jnp.float32), "loop")
    assert float(out[0][0]) == float(np.sum(rows + 1))


class _Conn:
    def __init__(self, post, weight, n_post):
        self.post, self.weight, self.n_post, self.chunk = post, weight, n_post, 16


def test_block_size():
    # ~sqrt(n), a power of two, clamped to [8, 512]
    assert P._block_size(1) == 8
    assert P._block_size(1000) == 32
    assert P._block_size(8000) == 64  # sqrt(8000) = 89 = 2^6.48
    assert P._block_size(10**7) == 512


@pytest.mark.parametrize("case", list(_masks()))
def test_blocks_equal_dense_and_topk(conns, case):
    x = jnp.asarray(_masks()[case], jnp.float32)
    bits = _event("bits", conns, x, "loop")  # the default: bitset search, per-synapse loop
    bits_scatter = _event("bits", conns, x, "scatter")  # the row scatter (other backends)
    blocks = _event("blocks", conns, x, "loop")
    scatter = _event("blocks", conns, x, "scatter")
    topk = _event("topk", conns, x)
    for c, ob, os_, ot, oi, ois in zip(
        conns, blocks, scatter, topk, bits, bits_scatter, strict=True
    ):
        np.testing.assert_array_equal(np.asarray(os_), np.asarray(ot))
        # Same rows in the same (increasing) order as top_k's: equal bit for bit.
        np.testing.assert_array_equal(np.asarray(ob), np.asarray(ot))
        np.testing.assert_array_equal(np.asarray(oi), np.asarray(ot))
        np.testing.assert_array_equal(np.asarray(ois), np.asarray(ot))
        # Against float64 sums: float32 accumulation of at most ~N_PRE·p terms of size
        # ≤ 1.5·1.1, relative rounding 6e-8 per addition → ≤ 1e-4 absolute.
        np.testing.assert_allclose(np.asarray(ob), _dense(c, np.asarray(x)), atol=1e-4)


def test_fused_rows_equal_separate_rows(conns, monkeypatch):
    """One buffer and one scalar loop per spiking row for both projections (the default)
    adds the same terms in the same order to each output as one loop per projection
    (`FUSE_ROWS = False`, the former way): equal bit for bit, and the padding slot
    between the outputs never leaks into the next projection's first neuron."""
    x = jnp.asarray(_masks()["dense"], jnp.float32)  # half the rows: every block, both ends
    fused = _event("blocks", conns, x, "loop")
    monkeypatch.setattr(P, "FUSE_ROWS", False)
    separate = _event("blocks", conns, x, "loop")
    for f, s_ in zip(fused, separate, strict=True):
        np.testing.assert_array_equal(np.asarray(f), np.asarray(s_))


def test_delivery_choice(monkeypatch):
    """The per-synapse loop only where XLA:CPU compiles it into one function: the
    threshold neurojax sets (16 MB) covers a 10⁴-neuron target; XLA's default (1 kB)
    does not, nor does a target vector over the threshold."""
    out = jnp.zeros((10_000,), jnp.float32)
    assert P.DELIVERY == "auto"
    assert P._small_loop_bytes() == 1 << 24  # set by importing neurojax
    assert P._per_synapse_loop(out) is (jax.default_backend() == "cpu")
    monkeypatch.setenv("XLA_FLAGS", "")
    assert not P._per_synapse_loop(out)
    monkeypatch.setenv(
        "XLA_FLAGS", "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=4000"
    )
    assert not P._per_synapse_loop(out)


def test_blocks_derivatives_are_the_dense_ones(conns):
    """Tangents and cotangents take the full O(synapses) path: d/dx and d/dweight equal
    those of the dense sum, also for rows that did not spike (surrogate gradients)."""
    c = conns[0]
    x = jnp.asarray(_masks()["sparse"], jnp.float32)
    wd = np.zeros((N_PRE, c.n_post + 1))
    np.add.at(wd, (np.arange(N_PRE)[:, None], np.asarray(c.post)), np.asarray(c.weight))
    wd = jnp.asarray(wd[:, :-1], jnp.float32)
    cot = jax.random.normal(jax.random.key(1), (c.n_post,))

    def loss(w, x):
        out = P.scatter_events(
            (P.post_targets(),), c.chunk, (jnp.zeros((c.n_post,)),), (w,), x, ((c.post,),)
        )[0]
        return jnp.sum(out * cot)

    gw, gx = jax.grad(loss, argnums=(0, 1))(c.weight, x)
    # d/dx_i = Σ_j W_ij cot_j for every row i (spiking or not); d/dW_ij = x_i cot_post(ij)
    np.testing.assert_allclose(gx, wd @ cot, rtol=1e-5, atol=1e-5)  # float32 dot products
    post = np.asarray(c.post)
    cot_pad = np.append(np.asarray(cot), 0.0)
    np.testing.assert_allclose(gw, np.asarray(x)[:, None] * cot_pad[post], rtol=1e-6)


@pytest.mark.parametrize("steps", [1, 3])
def test_delay_ring_delivers_exactly_steps_later(steps):
    """Write-then-read ring of steps + 1 rows: the value written at step k comes out at
    step k + steps, zeros before, for more steps than the ring has rows."""
    d = Delay(steps)
    state = d.init((2,))
    assert state.buffer.shape == (steps + 1, 2)
    update = jax.jit(d.update)
    outs = []
    for k in range(3 * (steps + 1)):
        out, state = update(state, jnp.array([k + 1.0, -(k + 1.0)]), k)
        outs.append(np.asarray(out))
    outs = np.array(outs)
    expected = np.array(
        [
            [0.0, 0.0] if k < steps else [k - steps + 1.0, -(k - steps + 1.0)]
            for k in range(len(outs))
        ]
    )
    np.testing.assert_array_equal(outs, expected)
