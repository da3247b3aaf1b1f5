"""`PoissonDrive`'s pooled sampling (total count, then where each event falls, over a
virtual population of 2^m >= n neurons) against the per-neuron definition
(`poisson_counts`): the same distribution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from neurojax.network._projection import (
    POOLED_MAX_MEAN,
    POOLED_MIN_SIZE,
    poisson_counts,
    pooled_poisson_counts,
)

N = POOLED_MIN_SIZE + 904  # 1416 neurons: the pooled path (2048 virtual, 632 dropped)
LAM = 0.05  # the dendritic benchmark's mean: 100 sources × 5 Hz × 0.1 ms
STEPS = 400  # 2·10⁶ counts per sampler


@pytest.fixture(scope="module")
def samples():
    keys = jax.random.split(jax.random.key(0), STEPS)
    lam = jnp.float32(LAM)
    new = jax.jit(lambda ks: jax.lax.map(lambda k: pooled_poisson_counts(k, lam, N), ks))
    old = jax.jit(lambda ks: jax.lax.map(lambda k: poisson_counts(k, lam, (N,)), ks))
    return np.asarray(new(keys)), np.asarray(old(keys))


# slow tier: 2·10⁶ draws per sampler and their statistics (~8 CPU-s with compiles);
# the fast tier keeps the sampler covered (test_pooled_falls_back_to_the_per_neuron_draw,
# test_pooled_counts_cheap_moments, and every network test with a PoissonDrive)
@pytest.mark.slow
def test_pooled_counts_have_the_poisson_distribution(samples):
    new, old = samples
    bins = [0, 1, 2, 3]  # and ≥ 4
    pmf = stats.poisson.pmf(bins, LAM)
    expected = np.append(pmf, 1 - pmf.sum()) * new.size

    def observed(x):
        return np.array([*(np.sum(x == b) for b in bins), np.sum(x >= 4)])

    # The ≥ 3 bins expect ~40 and ~0.5 counts: merged into "≥ 2" for the χ² test
    # (every expected count ≥ 5, the test's validity rule).
    def merged(x):
        return np.array([x[0], x[1], x[2:].sum()])

    # χ² goodness of fit against the exact Poisson(λ) pmf, 2 dof; a true sampler
    # exceeds the 1e-4 quantile once in 10⁴ seeds (the seed is fixed: deterministic)
    crit = stats.chi2.ppf(1 - 1e-4, df=2)
    for x in (new, old):
        obs, exp = merged(observed(x)), merged(expected)
        chi2 = np.sum((obs - exp) ** 2 / exp)
        assert chi2 < crit, (chi2, obs, exp)
    # and the two samplers against each other (a two-sample χ² test, 2 dof)
    table = np.array([merged(observed(new)), merged(observed(old))])
    _, p, _, _ = stats.chi2_contingency(table)
    assert p > 1e-4, (p, table)


@pytest.mark.slow  # (as above)
def test_pooled_counts_are_independent_across_neurons_and_steps(samples):
    new, _ = samples
    # every neuron gets the same mean: per-neuron sums over the steps are Poisson(λ·STEPS)
    # = Poisson(20); their variance/mean (index of dispersion) is 1 ± sqrt(2/N) (0.02)
    per_neuron = new.sum(0)
    assert abs(per_neuron.mean() / (LAM * STEPS) - 1) < 4 * np.sqrt(1 / (LAM * STEPS * N))
    assert abs(per_neuron.var() / per_neuron.mean() - 1) < 4 * np.sqrt(2 / N)
    # the population total per step is Poisson(N·λ) = Poisson(250): dispersion 1 ±
    # sqrt(2/STEPS) (0.07) — a multinomial with a fixed total would give 0
    total = new.sum(1)
    assert abs(total.var() / total.mean() - 1) < 4 * np.sqrt(2 / STEPS)
    # the neurons next to the dropped virtual ones get the same mean as the first ones:
    # the last and first 200 neurons' mean counts, Poisson(20) each, agree within 4 sd of
    # a mean of 200 (sqrt(20/200) = 0.32)
    tail, head = per_neuron[-200:].mean(), per_neuron[:200].mean()
    assert abs(tail - LAM * STEPS) < 4 * np.sqrt(LAM * STEPS / 200), tail
    assert abs(head - LAM * STEPS) < 4 * np.sqrt(LAM * STEPS / 200), head
    # two halves of the population are uncorrelated step by step (correlation 0 ± 1/sqrt(STEPS))
    a, b = new[:, : N // 2].sum(1), new[:, N // 2 :].sum(1)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(STEPS)


@pytest.fixture(scope="module")
def draw():
    """One compiled pair (pooled, per-neuron) for any λ, at N neurons."""
    return jax.jit(lambda k, lam: (pooled_poisson_counts(k, lam, N), poisson_counts(k, lam, (N,))))


def test_pooled_falls_back_to_the_per_neuron_draw(draw):
    key = jax.random.key(3)
    # a large mean per neuron: the per-neuron draw, bit for bit
    new, old = draw(key, jnp.float32(2 * POOLED_MAX_MEAN))
    assert np.array_equal(new, old)
    # a small population: always the per-neuron draw (no pooled branch traced)
    lam = jnp.float32(LAM)
    small = jax.make_jaxpr(lambda k: pooled_poisson_counts(k, lam, 100))(key)
    assert str(small) == str(jax.make_jaxpr(lambda k: poisson_counts(k, lam, (100,)))(key))


def test_pooled_counts_cheap_moments(draw):
    # one step: N·λ = 250 expected events, Poisson: within 5 sd (sqrt(250) ≈ 16)
    new, old = draw(jax.random.key(4), jnp.float32(LAM))
    assert not np.array_equal(new, old)  # the pooled path ran (other random numbers)
    assert abs(int(new.sum()) - N * LAM) < 5 * np.sqrt(N * LAM)
    assert new.min() >= 0 and new.dtype == old.dtype
