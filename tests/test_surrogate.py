"""Surrogate spike functions: an exact Heaviside forward, the documented smooth derivative
backward (Neftci, Mostafa & Zenke 2019; Zenke & Vogels 2021)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import neurojax as nj
from neurojax import surrogate as sg

SLOPES = [0.5, 5.0, 40.0]  # 1/mV


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))  # overflow-free logistic


# The documented derivative of each surrogate (its docstring), written independently in
# numpy float64; x in mV from threshold, k = slope in 1/mV.
FORMULAS = {
    sg.Sigmoid: lambda x, k: k * _sigmoid(k * x) * (1 - _sigmoid(k * x)),
    sg.FastSigmoid: lambda x, k: k / (2 * (1 + k * np.abs(x)) ** 2),
    sg.Arctan: lambda x, k: k / (2 * (1 + (np.pi * k * x / 2) ** 2)),
    sg.Triangle: lambda x, k: np.maximum(0.0, k * (1 - k * np.abs(x))),
    sg.Gaussian: lambda x, k: k * np.exp(-0.5 * (k * x) ** 2) / np.sqrt(2 * np.pi),
    sg.StraightThrough: lambda x, k: np.where(np.abs(x) < 0.5 / k, k, 0.0),
}
ALL = list(FORMULAS)
COMPACT = {sg.Triangle: 1.0, sg.StraightThrough: 0.5}  # support |x| < c/k
ids = [cls.__name__ for cls in ALL]


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_forward_is_exact_heaviside(cls):
    f = cls()
    x = jnp.array([-jnp.inf, -1e3, -1.0, -1e-30, -0.0, 0.0, 1e-30, 1e-3, 1.0, 1e3, jnp.inf])
    expected = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], dtype=np.float32)
    for out in (f(x), jax.jit(f)(x), jax.vmap(f)(x)):
        assert out.dtype == x.dtype
        np.testing.assert_array_equal(np.asarray(out), expected)
    # Integer input is promoted; float64 stays float64.
    np.testing.assert_array_equal(f(jnp.array([-2, 0, 3])), [0.0, 1.0, 1.0])
    with jax.enable_x64(True):
        assert f(jnp.zeros(3, dtype=jnp.float64)).dtype == jnp.float64


@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_derivative_matches_documented_formula(cls, slope):
    f = cls(slope=slope)
    # Avoid the jump points of the compact ones, where the formula's side is a convention.
    x = np.linspace(-4.0, 4.0, 801) / slope + 0.37 / (slope * 1000)
    autodiff = np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(x, dtype=jnp.float32)))
    expected = FORMULAS[cls](x.astype(np.float32).astype(np.float64), slope)
    # float32 evaluation of a few elementary operations: a few ulp relative, and an
    # absolute floor of float32 eps·slope for the triangle's cancellation 1 − k|x| near
    # its edges.
    np.testing.assert_allclose(autodiff, expected, rtol=1e-5, atol=2e-7 * slope)
    # The same by forward mode, and f.derivative itself (op by op, not jitted).
    _, jvp = jax.jvp(f, (jnp.asarray(x, jnp.float32),), (jnp.ones(x.shape, jnp.float32),))
    np.testing.assert_allclose(jvp, expected, rtol=1e-5, atol=2e-7 * slope)
    derivative = f.derivative(jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(derivative, expected, rtol=1e-5, atol=2e-7 * slope)


@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_derivative_has_unit_area(cls, slope):
    """∫ H'(x) dx = 1 (Zenke & Vogels 2021): the gradient's size does not depend on the
    slope, only its width. Adaptive quadrature (scipy quad) in float64."""
    with jax.enable_x64(True):
        d = jax.jit(cls(slope=slope).derivative)

        def g(u):  # integrand in u = slope·x, so quad sees the same shape for every slope
            return float(d(jnp.float64(u / slope))) / slope

        if cls in COMPACT:
            c = COMPACT[cls]
            area, err = integrate.quad(g, -c, c, points=[0.0], limit=200)
        else:
            # Two half lines, so quad's transform of the infinite range sees a smooth
            # integrand (the fast sigmoid has a kink at 0).
            left, err_l = integrate.quad(g, -np.inf, 0.0, limit=200)
            right, err_r = integrate.quad(g, 0.0, np.inf, limit=200)
            area, err = left + right, err_l + err_r
    # quad's own (conservative) error estimate: ≤ 1.02e-8 for the Gaussian on two half
    # lines; the areas come out 1 to ~1e-15.
    assert err < 2e-8
    assert area == pytest.approx(1.0, abs=2e-8)


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_derivative_peaks_at_threshold(cls):
    k = 5.0
    f = cls(slope=k)
    x = np.linspace(-3.0, 3.0, 601)  # includes 0 exactly (index 300)
    with jax.enable_x64(True):  # float64, so the tails do not round to plateaus
        d = np.asarray(jax.vmap(f.derivative)(jnp.asarray(x)))
    assert x[300] == 0.0 and d[300] == d.max() > 0
    # Symmetric about threshold, to float64 rounding: relative ~1e-16/(1 − σ) in the
    # sigmoid's tail, where 1 − σ cancels (atol: a few ulp of the peak).
    np.testing.assert_allclose(d, d[::-1], rtol=1e-9, atol=1e-14)
    # Non-increasing away from threshold on both sides (strictly where the support is
    # infinite; the straight-through box is flat inside).
    right = d[300:]
    assert np.all(np.diff(right) <= 0)
    if cls not in COMPACT:
        assert np.all(np.diff(right) < 0)
    # The peak value of each formula at x = 0.
    peak = {
        sg.Sigmoid: k / 4,
        sg.FastSigmoid: k / 2,
        sg.Arctan: k / 2,
        sg.Triangle: k,
        sg.Gaussian: k / math.sqrt(2 * math.pi),
        sg.StraightThrough: k,
    }[cls]
    assert d[300] == pytest.approx(peak, rel=1e-14)


def test_superspike_alias():
    assert sg.SuperSpike is sg.FastSigmoid


@pytest.mark.parametrize("slope", [0.0, -1.0, float("nan")])
def test_bad_slope_raises(slope):
    with pytest.raises(ValueError, match=r"slope must be > 0"):
        sg.FastSigmoid(slope=slope)


def test_model_spike_outputs_are_exactly_binary():
    """LIF and HH report spikes as exact 0.0/1.0 (one per spike) through the surrogate."""
    lif = nj.simulate(nj.LIF(), jnp.full((2000, 2), jnp.array([2.0, 5.0])), dt=0.1)
    hh = nj.simulate(nj.HodgkinHuxley(), jnp.full(2000, 10.0), dt=0.025)
    for sol, at_least in ((lif, 10), (hh, 3)):
        s = np.asarray(sol.spikes)
        assert set(np.unique(s)) == {0.0, 1.0}
        assert s.sum() >= at_least


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_lif_spike_count_gradient_is_finite_and_positive(cls):
    """d(spike count)/dI through the surrogate: finite, and positive — more current, more
    spikes — for every surrogate whose support is infinite; never negative for the compact
    ones (their support may fall between grid points).

    Three neurons (columns) with their own currents; the neurons are independent, so the
    gradient of the total count w.r.t. current j is the derivative of neuron j's count."""
    model = nj.LIF(surrogate=cls())
    currents = jnp.array([1.6, 2.0, 3.0])  # nA, 2–10 spikes in 100 ms

    def count(currents):
        inputs = jnp.broadcast_to(currents, (1000, 3))
        return nj.simulate(model, inputs, dt=0.1).spikes.sum()

    n, grad = jax.jit(jax.value_and_grad(count))(currents)
    assert n >= 10
    grad = np.asarray(grad)
    assert np.all(np.isfinite(grad)), grad
    if cls in COMPACT:
        assert np.all(grad >= 0) and np.any(grad > 0), grad
    else:
        assert np.all(grad > 0), grad
