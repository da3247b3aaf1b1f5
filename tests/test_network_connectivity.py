"""Connectivity generators and event-driven propagation (pure functions, no simulate)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import network as nw


def test_fixed_probability_statistics_and_reproducibility():
    # 2000 × 2000 pairs at p = 0.02: the synapse count is Binomial(4e6, 0.02), mean 80000,
    # sd 280; 5 sd allowed. Out-degree variance of Binomial(2000, 0.02) is 39.2; the
    # sample variance over 2000 rows has sd ≈ 1.3, so ±15 % is > 4 sd.
    key = jax.random.key(0)
    c = nw.fixed_probability(key, 2000, 2000, 0.02, 0.5, autapses=False)
    post = np.asarray(c.post)
    valid = post < 2000
    assert abs(valid.sum() - 80000) < 5 * 280
    assert abs(valid.sum(1).var() / 39.2 - 1) < 0.15
    rows = np.arange(2000)[:, None]
    assert not np.any((post == rows) & valid)  # no autapses
    for r in range(0, 2000, 97):  # targets within a row are distinct
        t = post[r][valid[r]]
        assert len(np.unique(t)) == len(t)
    # In-degrees are Binomial too: mean 40.
    assert abs(np.bincount(post[valid], minlength=2000).mean() - 40) < 0.5
    again = nw.fixed_probability(key, 2000, 2000, 0.02, 0.5, autapses=False)
    np.testing.assert_array_equal(np.asarray(again.post), post)
    other = nw.fixed_probability(jax.random.key(1), 2000, 2000, 0.02, 0.5, autapses=False)
    assert other.post.shape != c.post.shape or np.any(np.asarray(other.post) != post)


def test_fixed_in_and_out_degree_are_exact():
    c = nw.fixed_in_degree(jax.random.key(2), 300, 200, 25, 1.0, autapses=True)
    dense = np.asarray(c.to_dense())
    np.testing.assert_array_equal((dense != 0).sum(0), 25)  # every post gets exactly 25
    assert dense.max() == 1.0  # from distinct sources (no doubled weights)
    c = nw.fixed_out_degree(jax.random.key(3), 300, 200, 17, 2.0)
    dense = np.asarray(c.to_dense())
    np.testing.assert_array_equal((dense != 0).sum(1), 17)
    assert dense.max() == 2.0
    c = nw.fixed_in_degree(jax.random.key(4), 50, 50, 49, 1.0, autapses=False)
    dense = np.asarray(c.to_dense())
    np.testing.assert_array_equal(np.diag(dense), 0.0)
    np.testing.assert_array_equal((dense != 0).sum(0), 49)


def test_from_pairs_one_to_one_dense():
    c = nw.from_pairs([0, 2, 0], [1, 0, 3], 3, 4, [0.5, 0.25, 2.0])
    want = np.zeros((3, 4))
    want[0, 1], want[2, 0], want[0, 3] = 0.5, 0.25, 2.0
    np.testing.assert_array_equal(np.asarray(c.to_dense()), want)
    np.testing.assert_array_equal(np.asarray(nw.one_to_one(3, 2.0).to_dense()), 2 * np.eye(3))
    np.testing.assert_array_equal(np.asarray(nw.dense(2, 3, 0.5).to_dense()), np.full((2, 3), 0.5))


@pytest.mark.parametrize("chunk", [1, 5, 400])
def test_event_propagation_equals_dense(chunk):
    # Event-driven (only spiking rows), the overflow fallback (chunk = 1 with ~20
    # spikes) and the full path all equal the dense product; float32 sums in a different
    # order: 1e-5 relative.
    key = jax.random.key(5)
    c = nw.fixed_probability(key, 400, 300, 0.1, 1.0, chunk=chunk)
    w = jax.random.normal(jax.random.key(6), c.weight.shape)
    c = nw.Sparse(c.post, w, 300, chunk)
    x = (jax.random.uniform(jax.random.key(7), (400,)) < 0.05).astype(jnp.float32)
    want = x @ c.to_dense()
    jitted = jax.jit(lambda w, x: nw.Sparse(c.post, w, 300, chunk).propagate(x))
    for out in (c.propagate(x), jitted(w, x)):
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    xs = (jax.random.uniform(jax.random.key(8), (6, 400)) < 0.05).astype(jnp.float32)
    np.testing.assert_allclose(jax.vmap(c.propagate)(xs), xs @ c.to_dense(), rtol=1e-5, atol=1e-5)


def test_event_propagation_gradients_equal_dense():
    # Gradients w.r.t. the spikes must reach *non-spiking* neurons too (their surrogate
    # derivative is not zero), and w.r.t. the weights only the spiking rows: both equal the
    # dense product's gradients.
    c = nw.fixed_probability(jax.random.key(9), 60, 40, 0.2, 1.0, chunk=8)
    w = jax.random.normal(jax.random.key(10), c.weight.shape)
    x = (jax.random.uniform(jax.random.key(11), (60,)) < 0.1).astype(jnp.float32)
    target = jax.random.normal(jax.random.key(12), (40,))

    def loss_sparse(w, x):
        return jnp.sum(jnp.sin(nw.Sparse(c.post, w, 40, 8).propagate(x)) * target)

    def loss_dense(w, x):
        return jnp.sum(jnp.sin(x @ nw.Sparse(c.post, w, 40, 8).to_dense()) * target)

    gs = jax.grad(loss_sparse, argnums=(0, 1))(w, x)
    gd = jax.grad(loss_dense, argnums=(0, 1))(w, x)
    for a, b in zip(gs, gd, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert np.count_nonzero(np.asarray(gs[1])) > np.count_nonzero(np.asarray(x))


def test_connectivity_errors():
    key = jax.random.key(0)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"probability p must be a number in \[0, 1\]"):
            nw.fixed_probability(key, 10, 10, p)
    with pytest.raises(ValueError, match="n_pre must be a positive int"):
        nw.fixed_probability(key, 0, 10, 0.1)
    with pytest.raises(ValueError, match="out-degree"):
        nw.fixed_out_degree(key, 10, 5, 6)
    with pytest.raises(ValueError, match="in-degree"):
        nw.fixed_in_degree(key, 10, 10, 10, autapses=False)
    with pytest.raises(ValueError, match="autapses=False needs"):
        nw.fixed_probability(key, 10, 12, 0.1, autapses=False)
    with pytest.raises(TypeError, match="key"):  # ours, or the jaxtyping check of `key`
        nw.fixed_probability(3, 10, 10, 0.1)
    with pytest.raises(ValueError, match="out of range"):
        nw.from_pairs([0, 5], [1, 1], 3, 3)


def test_drawn_tables_are_int32_and_unchanged():
    """`fixed_probability` draws its tables in place and in int32 (a 10⁵-neuron network's
    build peaked at 4.3 GB with int64 copies, 3.0 GB now). It makes the same `numpy`
    Generator draws in the same order, so the tables are those of the int64 version
    (compared table for table on 36 cases when it changed); the checksum pins them, so
    seeded networks stay the same."""
    from neurojax.network._connectivity import _distinct

    c = nw.fixed_probability(jax.random.key(3), 60, 50, 0.2)
    post = np.asarray(c.post)
    assert post.shape == (60, 16)
    assert int((post.astype(np.int64) * np.arange(post.size).reshape(post.shape)).sum()) == 16161247
    table = _distinct(np.random.default_rng(0), 50, np.array([3, 0, 5]), np.array([0, 1, 2]))
    assert table.dtype == np.int32 and table.shape == (3, 5)
    assert np.all(table[1] == 50) and np.all(table[0, 3:] == 50)  # padding with n
    assert not np.any(table == np.array([[0], [1], [2]]))  # the excluded index never drawn
