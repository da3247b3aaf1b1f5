"""Point-neuron population speed changes that must not change results beyond float
rounding: HH's six rates from 4 exponentials (`channels.hh.rates`, used by
`HodgkinHuxley`) and LIF's rate multiplied by 1/τ instead of divided by τ
(`benchmarks/README.md`, "Where a population step's time goes")."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.channels import hh
from neurojax.neurons.hh import HHState

SEPARATE = (hh.alpha_m, hh.beta_m, hh.alpha_h, hh.beta_h, hh.alpha_n, hh.beta_n)
# V grid over and beyond the physiological range, with α_m's and α_n's removable
# singularities (−40, −55 mV) and points either side of their series cut (|z| = 0.5: ±5 mV)
V = np.concatenate(
    [np.linspace(-120.0, 80.0, 401), [-40.0, -55.0, -35.0, -45.0, -50.0, -60.0, -34.99, -45.01]]
)


def test_shared_rates_equal_separate_float64(x64):
    shared = hh.rates(jnp.asarray(V, jnp.float64))
    for name, f, r in zip(("am", "bm", "ah", "bh", "an", "bn"), SEPARATE, shared, strict=True):
        ref = np.asarray(f(jnp.asarray(V, jnp.float64)))
        # float64: the shared exp rounds ≤ 3 ulp (exp, the constant, the product) instead
        # of ≤ 1, amplified ≤ ~2.5× by vtrap's e^z − 1 at |z| = 0.5: ≤ 1e-14 relative
        np.testing.assert_allclose(np.asarray(r), ref, rtol=1e-14, atol=0, err_msg=name)


@jax.jit
def _float32_rates_and_slopes(v):
    shared = hh.rates(v)
    separate = tuple(f(v) for f in SEPARATE)
    slopes = tuple(jax.vmap(jax.grad(lambda u, k=k: hh.rates(u)[k]))(v) for k in range(6))
    return shared, separate, slopes


def test_shared_rates_float32_and_finite_gradients():
    v32 = jnp.asarray(V, jnp.float32)
    shared, separate, slopes = _float32_rates_and_slopes(v32)  # one compiled program
    for r, ref, g in zip(shared, separate, slopes, strict=True):
        assert r.dtype == jnp.float32
        # float32: the same ≤ 3 ulp × 2.5 bound as above, eps32 = 1.2e-7: 1e-6 relative
        np.testing.assert_allclose(np.asarray(r), np.asarray(ref), rtol=1e-6, atol=0)
        # finite gradients everywhere, the removable singularities included
        assert np.all(np.isfinite(np.asarray(g)))
    # the slope at the singularity is the series': α_m = 0.1·10·(1 − z/2 + …) with
    # z = −(V + 40)/10, so dα_m/dV = 0.05 /(ms·mV) at V = −40
    np.testing.assert_allclose(float(slopes[0][V.tolist().index(-40.0)]), 0.05, rtol=1e-6)


class _SeparateRatesHH(nj.HodgkinHuxley):
    """HodgkinHuxley with each rate its own function (as before `hh.rates`)."""

    def linear_part(self, t, y, current):
        phi = hh.q10(self.temperature)
        g = self.g_na * y.m**3 * y.h + self.g_k * y.n**4 + self.g_l
        v = y.v
        return HHState(
            v=-g / self.c_m,
            m=-phi * (hh.alpha_m(v) + hh.beta_m(v)),
            h=-phi * (hh.alpha_h(v) + hh.beta_h(v)),
            n=-phi * (hh.alpha_n(v) + hh.beta_n(v)),
        )

    def vector_field(self, t, y, current):
        v, m, h, n = y
        phi = hh.q10(self.temperature)
        return HHState(
            v=(current - self.membrane_current(y)) / self.c_m,
            m=hh.gate_rate(hh.alpha_m, hh.beta_m, v, m, phi),
            h=hh.gate_rate(hh.alpha_h, hh.beta_h, v, h, phi),
            n=hh.gate_rate(hh.alpha_n, hh.beta_n, v, n, phi),
        )


@pytest.mark.slow  # two float64 HH compilations per solver; the rates tests above keep it covered
@pytest.mark.parametrize("solver", [nj.Staggered(), nj.ExponentialEuler(), nj.ExponentialRK2()])
def test_hh_run_equals_separate_rates_float64(x64, solver):
    # 3 neurons, 10 µA/cm², 40 ms: several spikes each (the comparison covers upstrokes)
    inputs = jnp.full((1600, 3), 10.0, jnp.float64) * jnp.array([0.7, 1.0, 2.0])
    a = nj.simulate(nj.HodgkinHuxley(), inputs, dt=0.025, solver=solver)
    b = nj.simulate(_SeparateRatesHH(), inputs, dt=0.025, solver=solver)
    assert float(a.spikes.sum()) >= 6
    # float64 rounding (~1e-15 relative per rate) grows through the spikes' instability
    # through the spikes' instability (measured 4e-12 to 6e-11 mV over 40 ms, 10 spikes):
    # 1e-8 mV is rounding, a changed formula would show at 1e-3 mV and more
    np.testing.assert_allclose(np.asarray(a.v), np.asarray(b.v), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(np.asarray(a.spikes), np.asarray(b.spikes))


@jax.jit
def _steps(y):
    return [
        (solver.step(nj.HodgkinHuxley(), 0.0, y, 5.0, 0.025),
         solver.step(_SeparateRatesHH(), 0.0, y, 5.0, 0.025))
        for solver in (nj.Staggered(), nj.ExponentialEuler())
    ]  # fmt: skip


def test_hh_population_step_float32_within_rounding():
    # one step of a population across V (every regime of the rates), one compiled program:
    # the shared-exp model and the separate one differ by rounding only (the rates by
    # ≤ 1e-6 relative, above; a gate moves by ≤ 1 per step): 2e-6 relative, 1e-6 absolute
    n = 64
    v = jnp.linspace(-90.0, 40.0, n, dtype=jnp.float32)
    y = HHState(v=v, m=jnp.full(n, 0.3), h=jnp.full(n, 0.4), n=jnp.full(n, 0.5))
    for a, b in _steps(y):
        for xa, xb in zip(a, b, strict=True):
            np.testing.assert_allclose(np.asarray(xa), np.asarray(xb), rtol=2e-6, atol=1e-6)


class _DividedLIF(nj.LIF):
    """LIF with its rate divided by τ (as before the reciprocal)."""

    def vector_field(self, t, y, current):
        return y._replace(v=(-(y.v - self.v_rest) + self.r * current) / self.tau)


@pytest.mark.slow  # two float64 compilations; tests/test_lif.py's analytic tests keep LIF covered
def test_lif_reciprocal_tau_within_rounding(x64):
    # a population through spikes, resets and refractoriness, float64: the two forms of the
    # rate differ by ≤ 1 ulp per step, which the contracting dynamics (e^{−dt/τ}) do not
    # amplify (measured 7e-15 mV): 1e-12 mV over 300 steps of V ~ 65 mV
    inputs = jnp.full((300, 5), 1.0, jnp.float64) * jnp.array([1.0, 1.6, 2.0, 3.0, 6.0])
    a = nj.simulate(nj.LIF(tau=jnp.array([10.0, 10.0, 7.0, 13.0, 10.0])), inputs, dt=0.1)
    b = nj.simulate(_DividedLIF(tau=jnp.array([10.0, 10.0, 7.0, 13.0, 10.0])), inputs, dt=0.1)
    assert float(a.spikes.sum()) >= 10
    np.testing.assert_array_equal(np.asarray(a.spikes), np.asarray(b.spikes))
    np.testing.assert_allclose(np.asarray(a.v), np.asarray(b.v), rtol=0, atol=1e-12)


def test_vtrap_float32_series_terms_within_rounding(x64):
    # float32 takes 4 of the 8 series terms (`_even_coeffs`): the first left out is
    # 0.5¹⁰/47900160 ≈ 2e-11 relative at |z| = 0.5, so the float32 result is the float64
    # one rounded: within a few eps32 (Horner's and the division's rounding: 4·1.2e-7)
    from neurojax.channels._rates import _even_coeffs, vtrap

    assert len(_even_coeffs(jnp.float32)) == 4 and len(_even_coeffs(jnp.float64)) == 8
    x32 = np.linspace(-5.0, 5.0, 2001, dtype=np.float32)  # z = x/10 over the series region
    got = np.asarray(jax.jit(vtrap, static_argnums=1)(jnp.asarray(x32), 10.0), np.float64)
    ref = np.asarray(vtrap(jnp.asarray(x32, jnp.float64), 10.0))
    np.testing.assert_allclose(got, ref, rtol=5e-7, atol=0)
