"""Session 14's two changes to what a network step reads (benchmarks/README.md "Dendritic
networks"): `Sparse` targets stored as int16 where they fit (`_connectivity.SMALL_INDEX`)
and the pooled Poisson draw's two events per random word (`_projection.HALVES`). The
first must give the same sums bit for bit, the second the same distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns
from neurojax.network import _connectivity as CN
from neurojax.network import _projection as PJ
from neurojax.network import _propagate as PG


@pytest.fixture
def int32_targets():
    """Build `Sparse` with the former int32 targets inside the block."""

    class Ctx:
        def __enter__(self):
            CN.SMALL_INDEX = False

        def __exit__(self, *a):
            CN.SMALL_INDEX = True

    return Ctx()


def test_targets_int16_where_they_fit(int32_targets):
    key = jax.random.key(0)
    small = nn.fixed_probability(key, 50, 300, 0.1, 0.5)
    assert small.post.dtype == jnp.int16
    # n_post is the padding value, so it must fit too: 2^15 − 1 is the largest int16 size
    edge = nn.Sparse(np.array([[0, 32766]]), 1.0, 32767)
    assert edge.post.dtype == jnp.int16
    big = nn.Sparse(np.array([[0, 32767]]), 1.0, 32768)
    assert big.post.dtype == jnp.int32
    with int32_targets:
        assert nn.fixed_probability(key, 50, 300, 0.1, 0.5).post.dtype == jnp.int32


# the loop variant compiles the per-synapse loop and its gradient (~7 s): slow tier
@pytest.mark.parametrize("delivery", [pytest.param("loop", marks=pytest.mark.slow), "scatter"])
def test_int16_targets_give_the_same_sums_and_gradients(delivery, int32_targets):
    key = jax.random.key(1)
    kw, kx = jax.random.split(key)
    w = jax.random.uniform(kw, (40, 12))
    post = np.asarray(jax.random.randint(key, (40, 12), 0, 301))  # 300: padding
    c16 = nn.Sparse(post, w, 300)
    with int32_targets:
        c32 = nn.Sparse(post, w, 300)
    assert c16.post.dtype == jnp.int16 and c32.post.dtype == jnp.int32
    x = (jax.random.uniform(kx, (40,)) < 0.3).astype(jnp.float32)

    def f(c, x):
        return c.propagate(x)

    old = PG.DELIVERY
    PG.DELIVERY = delivery
    try:
        a, b = jax.jit(f)(c16, x), jax.jit(f)(c32, x)
        ga = jax.grad(lambda w: jnp.sum(jnp.sin(f(nn.Sparse(post, w, 300), x))))(w)
    finally:
        PG.DELIVERY = old
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bit for bit
    # and a NumPy sum of the same float32 products (order-independent to rounding)
    ref = np.zeros(301, np.float64)
    np.add.at(ref, post, np.asarray(x)[:, None] * np.asarray(w, np.float64))
    np.testing.assert_allclose(np.asarray(a), ref[:300], rtol=1e-5, atol=1e-6)
    with int32_targets:
        gb = jax.grad(lambda w: jnp.sum(jnp.sin(f(nn.Sparse(post, w, 300), x))))(w)
    np.testing.assert_array_equal(np.asarray(ga), np.asarray(gb))


def _small_network(seed=0):
    n_e, n_i = 160, 40
    ks = jax.random.split(jax.random.key(seed), 4)
    comps = [
        nj.cable.Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        nj.cable.Compartment("prox", c_abs=0.05, gl_abs=0.0025, e_l=-70.0),
        nj.cable.Compartment(
            "dist",
            c_abs=0.03,
            gl_abs=0.0015,
            e_l=-70.0,
            dspikes=nj.cable.DSpikes(
                g_rise=0.03,
                g_fall=0.015,
                threshold=-40.0,
                duration_rise=1.2,
                duration_fall=2.4,
                offset_fall=0.5,
                refractory=5.0,
            ),
        ),
    ]
    cell = nj.cable.ReducedCell.build(
        comps,
        [("soma", "prox", 0.04), ("prox", "dist", 0.03)],
        v_th=-50.0,
        v_reset=-60.0,
        t_ref=3.0,
        clamp=False,
    )
    sizes = {"E": n_e, "I": n_i}
    spec = [
        ("E", "E", 0.0, "prox", 0.004, 2.0, 1.5),
        ("E", "I", 0.0, "soma", 0.004, 2.0, 1.0),
        ("I", "E", -80.0, "soma", 0.012, 6.0, 0.5),
        ("I", "I", -80.0, "soma", 0.012, 6.0, 0.5),
    ]
    projs = [
        nn.Projection(
            a,
            b,
            nn.fixed_probability(k, sizes[a], sizes[b], 0.1, g),
            ns.Exponential(tau=tau, e_rev=e),
            delay=d,
            compartment=comp,
        )
        for k, (a, b, e, comp, g, tau, d) in zip(ks, spec, strict=True)
    ]
    drives = [
        nn.PoissonDrive(
            p,
            ns.Exponential(tau=2.0, e_rev=0.0),
            rate=5.0,
            weight=0.006,
            n_sources=100,
            compartment="dist",
        )
        for p in ("E", "I")
    ]
    pops = {"E": nn.Population(cell, n_e), "I": nn.Population(cell, n_i)}
    return nn.Network(pops, projs, drives, dt=0.1)


@pytest.mark.slow  # two 100 ms network runs compiled (~15 s)
def test_network_spikes_equal_with_int16_targets(int32_targets):
    """The same network with int16 and int32 targets: the same spikes, neuron by neuron
    and step by step (the same additions in the same order)."""
    inputs = {"E": jnp.zeros((1000, 1))}
    save = nj.SaveAt(every=1, vars=())

    def run(net):
        sol = nj.simulate(
            net, inputs, dt=0.1, key=jax.random.key(3), solver=nj.solvers.Euler(), saveat=save
        )
        return {k: np.asarray(v) for k, v in sol.spikes.items()}

    a = run(_small_network())
    with int32_targets:
        net32 = _small_network()
    assert net32.projections[0].connectivity.post.dtype == jnp.int32
    b = run(net32)
    assert sum(int(v.sum()) for v in a.values()) > 50  # the network does spike
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.slow  # 2 × 200 draws of 8000 counts (~20 s); the fast tier runs the draw in
# test_network_drive_sampling.py's cheap moments and every network test with a drive
def test_pooled_draw_uses_both_halves_of_each_word():
    """`HALVES`: the pooled draw hashes half as many words (one threefry block per
    four events) and its counts keep the Poisson moments; the former draw (one event
    per word) gives other counts from the same key."""
    n, lam = 8000, jnp.float32(0.05)  # the dendritic benchmark's E drive (2^13 virtual)
    keys = jax.random.split(jax.random.key(5), 200)
    draw = jax.jit(jax.vmap(lambda k: PJ.pooled_poisson_counts(k, lam, n)))
    new = np.asarray(draw(keys))
    PJ.HALVES = False
    try:
        old = np.asarray(jax.jit(jax.vmap(lambda k: PJ.pooled_poisson_counts(k, lam, n)))(keys))
    finally:
        PJ.HALVES = True
    assert not np.array_equal(new, old)
    # 1.6·10⁶ counts each: the mean within 5 sd of λ (sd of the mean sqrt(λ/size) ≈ 1.8e-4)
    # and the index of dispersion within 5 sd of 1 (sd ≈ sqrt(2/size) ≈ 1.1e-3)
    for x in (new, old):
        assert abs(x.mean() - 0.05) < 5 * np.sqrt(0.05 / x.size)
        assert abs(x.var() / x.mean() - 1) < 5 * np.sqrt(2 / x.size)
    # the per-step totals are Poisson(nλ) = Poisson(400): dispersion 1 ± 5·sqrt(2/200)
    total = new.sum(1)
    assert abs(total.var() / total.mean() - 1) < 5 * np.sqrt(2 / total.size)


def test_the_two_halves_of_a_word_place_independent_events():
    """The events from a word's high and low halves: each uniform on [0, 2^m) and
    independent of the other (χ² on the 16×16 table of their top 4 bits, 225 dof; the
    seed is fixed, and a true generator exceeds the 1e-4 quantile once in 10⁴ seeds)."""
    bits = np.asarray(PJ._random_words(jax.random.key(7), 1 << 18))
    hi = bits >> 28
    lo = (bits & 0xFFFF) >> 12
    table = np.zeros((16, 16))
    np.add.at(table, (hi, lo), 1)
    chi2, p, _, _ = stats.chi2_contingency(table)
    assert p > 1e-4, p
    for x in (hi, lo):  # each uniform: χ² goodness of fit, 15 dof
        counts = np.bincount(x, minlength=16)
        assert stats.chisquare(counts).pvalue > 1e-4
