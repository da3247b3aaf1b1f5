"""The performance rewrites change no result: φ₁ and the HH rate form divide last (the same
values bit for bit), and `simulate` widens scalar parameters to the population only when
the model is being differentiated (forward runs read scalars; values identical either
way). The event propagation's rewrite is checked against the dense sum in
`test_network_connectivity.py`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax._simulate import _differentiated
from neurojax.channels._rates import _SERIES, _even_coeffs, vtrap
from neurojax.solvers._exponential_euler import (
    _PHI1_COEFFS,
    PHI_SERIES,
    _n_terms,
    phi1,
    taylor,
)


def _grid(dtype):
    # both branches, their boundary at ±0.5 (and the float next to it), 0, tiny and
    # large arguments
    z = np.concatenate(
        [
            np.linspace(-40.0, 40.0, 4001),
            np.linspace(-0.6, 0.6, 2401),
            [0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 80.0, -80.0],
        ]
    ).astype(dtype)
    edge = np.array([0.5, -0.5], dtype)
    return jnp.asarray(np.concatenate([z, np.nextafter(edge, 0), np.nextafter(edge, 2 * edge)]))


def _phi1_reference(z):
    """φ₁ as written before the rewrite: `where(small, series, (eᶻ − 1)/z)`."""
    small = jnp.abs(z) < PHI_SERIES
    z_safe = jnp.where(small, 1.0, z)
    series = taylor(z, _PHI1_COEFFS[: _n_terms(z.dtype)])
    return jnp.where(small, series, (jnp.exp(z_safe) - 1.0) / z_safe)


def _vtrap_reference(x, y):
    """`vtrap` as written before the rewrite."""
    z = x / y
    small = jnp.abs(z) < _SERIES
    z_safe = jnp.where(small, 1.0, z)
    z2 = z * z
    even = 0.0
    for c in reversed(_even_coeffs(z.dtype)):  # the terms vtrap takes for the dtype
        even = even * z2 + c
    series = 1.0 - z / 2 + z2 * even
    return y * jnp.where(small, series, z_safe / (jnp.exp(z_safe) - 1.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_phi1_and_vtrap_divide_last_same_bits(dtype):
    # Exact equality: where the series is taken the rewrite divides it by 1.0, which IEEE
    # division returns unchanged; elsewhere it computes the same quotient. Both compiled
    # (XLA:CPU contracts a compiled Horner sum into FMAs, eager evaluation does not).
    with jax.enable_x64(dtype == np.float64):
        z = _grid(dtype)
        np.testing.assert_array_equal(
            np.asarray(jax.jit(phi1)(z)), np.asarray(jax.jit(_phi1_reference)(z))
        )
        x = 10.0 * z
        np.testing.assert_array_equal(
            np.asarray(jax.jit(vtrap)(x, 10.0)), np.asarray(jax.jit(_vtrap_reference)(x, 10.0))
        )


def test_phi1_derivative_matches_the_series_and_closed_form():
    # φ₁′(z) = (eᶻ − φ₁)/z, → 1/2 at 0; the custom JVP divides last too. Tolerance: the
    # closed form loses ≤ 2·eps/|z| ≤ 4 eps at |z| ≥ 0.5 (module comment), the float64
    # series is exact to rounding: 1e-13 relative covers both.
    with jax.enable_x64(True):
        z = _grid(np.float64)
        d = np.asarray(jax.vmap(jax.grad(phi1))(z))
        zz = np.asarray(z)
        ez = np.exp(zz)
        with np.errstate(divide="ignore", invalid="ignore"):
            closed = np.where(zz != 0, (ez - np.expm1(zz) / np.where(zz != 0, zz, 1)) / zz, 0.5)
        ok = np.abs(zz) >= 1e-3  # the closed form itself cancels below
        np.testing.assert_allclose(d[ok], closed[ok], rtol=1e-9)
        assert abs(d[np.argmin(np.abs(zz))] - 0.5) < 1e-12


def test_parameters_are_widened_only_under_differentiation():
    model = nj.LIF(v_rest=jnp.linspace(-65.0, -55.0, 8))
    leaves = jax.tree_util.tree_leaves(model)
    assert not _differentiated(leaves)
    seen = {}

    def probe(m, key):
        seen[key] = _differentiated(jax.tree_util.tree_leaves(m))
        return jnp.sum(m.tau * m.v_rest)

    jax.jit(lambda m: probe(m, "jit"))(model)
    jax.grad(lambda m: probe(m, "grad"))(model)
    jax.jit(jax.grad(lambda m: probe(m, "jit(grad)")))(model)
    jax.jvp(lambda m: probe(m, "jvp"), (model,), (model,))
    jax.vmap(jax.grad(lambda m: probe(m, "vmap(grad)")))(
        jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), model)
    )
    assert seen == {
        "jit": False,
        "grad": True,
        "jit(grad)": True,
        "jvp": True,
        "vmap(grad)": True,
    }


def test_forward_run_same_with_and_without_widening():
    # The forward run now reads scalar parameters as scalars; the gradient path widens
    # them. Both compute the same arithmetic, so the voltages agree to rounding, and the
    # gradient is that of the same run (checked against a central difference in
    # float64: step 1e-4 ms on τ, error O(h²)·V‴ ≪ 1e-6 relative).
    with jax.enable_x64(True):
        v_rest = jnp.linspace(-65.0, -50.0, 16)
        inputs = jnp.full((400,), 1.6)

        def run(tau):
            m = nj.LIF(tau=tau, v_rest=v_rest)
            return nj.simulate(m, inputs, dt=0.1, saveat=nj.SaveAt(vars=("v",))).v

        v_fwd = np.asarray(jax.jit(run)(10.0))
        v_lin = np.asarray(jax.linearize(run, 10.0)[0])  # a JVP trace: widened
        # the same arithmetic, compiled differently (a scalar or an array divisor):
        # 1 ulp per step at most, 400 steps of a contracting map: 1e-13 relative
        np.testing.assert_allclose(v_fwd, v_lin, rtol=1e-13)

        def loss(tau):
            # subthreshold part of the sweep: no spike, so the loss is smooth in tau
            return jnp.mean(run(tau)[:, :4] ** 2)

        g = float(jax.grad(loss)(10.0))
        h = 1e-4
        fd = (float(loss(10.0 + h)) - float(loss(10.0 - h))) / (2 * h)
        assert abs(g - fd) <= 1e-6 * abs(fd), (g, fd)
