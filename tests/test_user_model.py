"""A model written exactly as `AbstractModel`'s docstring says — `init_state` and
`vector_field`, nothing else — simulates with every default: the solver follows from the
declared structure (`Coupled` → `RK4`), the result converges at the scheme's order to the
closed-form solution, and `jax.grad` and `jax.vmap` go through it.

Reference: a damped rotation `dx/dt = A x + (I, 0)`, `A = [[−k, −ω], [ω, −k]]` — one
state leaf whose two elements couple (so `Coupled` is the right declaration) — whose
exact solution for a constant input is `x(t) = x∞ + e^{At}(x0 − x∞)`,
`x∞ = −A⁻¹(I, 0)`, `e^{At} = e^{−kt}·R(ωt)`."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj


class RotState(NamedTuple):
    v: jax.Array  # (*batch, 2): the two coupled coordinates


class DampedRotation(nj.AbstractModel):
    k: jax.Array = nj.parameter(0.1)  # damping, 1/ms
    omega: jax.Array = nj.parameter(0.5)  # angular frequency, rad/ms

    def init_state(self, batch_shape=()):
        return RotState(v=jnp.zeros((*batch_shape, 2)).at[..., 0].set(1.0))

    def vector_field(self, t, y, inputs):
        x, z = y.v[..., 0], y.v[..., 1]
        dx = -self.k * x - self.omega * z + inputs
        dz = self.omega * x - self.k * z
        return RotState(v=jnp.stack([dx, dz], axis=-1))


def exact(k, omega, current, t):
    """Closed-form `x(t)` from `(1, 0)` under a constant `current` (numpy, float64)."""
    a = np.array([[-k, -omega], [omega, -k]])
    x_inf = -np.linalg.solve(a, [current, 0.0])
    c, s = np.cos(omega * t), np.sin(omega * t)
    d = np.array([1.0, 0.0]) - x_inf
    return x_inf + np.exp(-k * t) * np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])


def test_default_solver_follows_the_structure():
    model = DampedRotation()
    assert isinstance(model.structure, nj.Coupled)
    assert isinstance(nj.solvers.default_solver(model), nj.RK4)
    # point neurons and cables keep their declared schemes
    assert isinstance(nj.solvers.default_solver(nj.HodgkinHuxley()), nj.Staggered)
    assert isinstance(nj.solvers.default_solver(nj.LIF()), nj.ExponentialEuler)


def test_user_model_converges_at_fourth_order(x64):
    model = DampedRotation()
    duration, current = 20.0, 0.3
    errors = []
    for dt in (0.4, 0.2, 0.1):
        n = round(duration / dt)
        sol = nj.simulate(model, jnp.full(n, current), dt=dt)  # every default
        errors.append(
            np.abs(np.asarray(sol.final_state.y.v) - exact(0.1, 0.5, current, duration)).max()
        )
    orders = np.log2(np.asarray(errors[:-1]) / np.asarray(errors[1:]))
    # RK4's global error is C·dt⁴: halving dt divides it by 16 (order 4) up to the
    # next term of the expansion; 3.7 leaves room for that term at dt = 0.4 (ω·dt = 0.2)
    assert np.all(orders > 3.7), (errors, orders)
    assert errors[-1] < 1e-6


def test_user_model_gradient_matches_the_closed_form(x64):
    duration, current, dt = 10.0, 0.3, 0.05
    n = round(duration / dt)

    def final_x(k):
        return nj.simulate(DampedRotation(k=k), jnp.full(n, current), dt=dt).final_state.y.v[0]

    grad = jax.grad(final_x)(0.1)
    h = 1e-6  # central difference of the closed form: error O(h²) ≈ 1e-12
    ref = (
        exact(0.1 + h, 0.5, current, duration)[0] - exact(0.1 - h, 0.5, current, duration)[0]
    ) / (2 * h)
    # the simulated trajectory is RK4-accurate to ~1e-7 at this dt, its derivative too
    np.testing.assert_allclose(grad, ref, rtol=1e-5)


def test_user_model_population_and_vmap(x64):
    n, dt = 200, 0.05
    currents = jnp.array([0.0, 0.3, 1.0])
    # a population through the input's batch axis ...
    sol = nj.simulate(DampedRotation(), jnp.broadcast_to(currents, (n, 3)), dt=dt)
    assert sol.states.v.shape == (n, 3, 2)
    # ... and through jax.vmap over a parameter
    finals = jax.vmap(
        lambda om: nj.simulate(DampedRotation(omega=om), jnp.full(n, 0.3), dt=dt).final_state.y.v
    )(jnp.array([0.25, 0.5]))
    for i, current in enumerate(currents):
        np.testing.assert_allclose(
            sol.final_state.y.v[i], exact(0.1, 0.5, float(current), n * dt), atol=1e-7
        )
    for j, om in enumerate((0.25, 0.5)):
        np.testing.assert_allclose(finals[j], exact(0.1, om, 0.3, n * dt), atol=1e-7)
