"""`Staggered`: the contract (which models, what the state means) and exactness where the
scheme is exact. Its accuracy against a converged HH solution and NEURON, and its order,
are in `tests/test_hh_neuron.py` (it is `HodgkinHuxley`'s default solver)."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.channels import hh as rates
from neurojax.neurons.hh import HHState
from neurojax.neurons.reduced_hh import ReducedHHState

DT = 0.025  # ms
N_STEPS = 40


def test_refuses_models_without_gates():
    # LIF has no gates; ReducedHH declares none (its V equation is not linear in V at
    # fixed h: m∞(V)³ is instantaneous, so the V step is first order only: spike-time
    # errors measured to halve with dt, 1.05 ms at dt = 0.025 against ExponentialRK2's 0.12)
    with pytest.raises(TypeError, match="gate_fields"):
        nj.simulate(nj.LIF(), jnp.full(N_STEPS, 1.0), dt=DT, solver=nj.Staggered())
    state = ReducedHHState(v=jnp.asarray(-63.5), h=jnp.asarray(0.5))  # any state: refused first
    with pytest.raises(TypeError, match="gate_fields"):
        nj.Staggered().step(nj.ReducedHH(), 0.0, state, 0.0, DT)


def test_refuses_unknown_or_all_gate_fields():
    class Unknown(nj.HodgkinHuxley):
        gate_fields: ClassVar[tuple[str, ...]] = ("m", "q")

    class Everything(nj.HodgkinHuxley):
        gate_fields: ClassVar[tuple[str, ...]] = ("v", "m", "h", "n")

    with pytest.raises(TypeError, match=r"unknown: \['q'\]"):
        nj.simulate(Unknown(), jnp.zeros(N_STEPS), dt=DT, solver=nj.Staggered())
    with pytest.raises(TypeError, match="some, not all"):
        nj.simulate(Everything(), jnp.zeros(N_STEPS), dt=DT, solver=nj.Staggered())


def test_gates_exact_at_fixed_voltage_and_half_a_step_behind():
    """With every conductance at 0 and no current, V stays where it starts (−30 mV) and
    each gate relaxes exactly: x(t) = x∞ + (x₀ − x∞)·e^{−(α+β)t}. The saved gates are
    half a step behind V: row i is the gate at (i + ½)·dt from initial gates taken at
    −dt/2, i.e. after an elapsed (i + 1)·dt — both V and the gates exact."""
    model = nj.HodgkinHuxley(g_na=0.0, g_k=0.0, g_l=0.0)
    rest = model.init_state()
    v = jnp.asarray(-30.0)
    state0 = HHState(v=v, m=rest.m, h=rest.h, n=rest.n)
    sol = nj.simulate(model, jnp.zeros(N_STEPS), dt=DT, solver=nj.Staggered(), state0=state0)
    np.testing.assert_array_equal(sol.v, -30.0)  # no conductance, no current: V fixed
    elapsed = DT * np.arange(1, N_STEPS + 1)
    for name, alpha, beta in (
        ("m", rates.alpha_m, rates.beta_m),
        ("h", rates.alpha_h, rates.beta_h),
        ("n", rates.alpha_n, rates.beta_n),
    ):
        a, b = float(alpha(v)), float(beta(v))  # 6.3 °C: q10 = 1
        x_inf, x0 = a / (a + b), float(getattr(rest, name))
        exact = x_inf + (x0 - x_inf) * np.exp(-(a + b) * elapsed)
        # float32: one rounding per step (~6e-8 relative) over 40 steps ≤ 3e-6; ×3
        np.testing.assert_allclose(getattr(sol.states, name), exact, rtol=0, atol=1e-5)


def test_continuing_from_final_state_is_one_run():
    """The final state's gates are at t_end − dt/2, which is what the next run's first
    step expects: two runs of n steps make the same trajectory as one of 2n."""
    model, current = nj.HodgkinHuxley(), jnp.full(2 * N_STEPS, 10.0)
    one = nj.simulate(model, current, dt=DT, solver=nj.Staggered())
    first = nj.simulate(model, current[:N_STEPS], dt=DT, solver=nj.Staggered())
    second = nj.simulate(
        model, current[N_STEPS:], dt=DT, solver=nj.Staggered(), state0=first.final_state
    )
    # the same operations in the same order; 1e-4 mV allows a different fusion's rounding
    np.testing.assert_allclose(np.concatenate([first.v, second.v]), one.v, rtol=0, atol=1e-4)
    for name in ("m", "h", "n"):
        np.testing.assert_allclose(
            getattr(second.final_state.y, name), getattr(one.final_state.y, name), atol=1e-6
        )


def test_is_hh_default_and_stable_at_coarse_steps():
    """HH's default; at dt = 0.2 ms (8× NEURON's default step) with a strong drive it
    stays finite and physical: the V step is a convex combination of V and
    V∞ = (Σ g·E + I)/g_total, and each gate one of its old value and x∞ ∈ [0, 1]."""
    model = nj.HodgkinHuxley()
    assert isinstance(nj.solvers.default_solver(model), nj.Staggered)
    sol = nj.simulate(model, jnp.full(2 * N_STEPS, 40.0), dt=0.2)
    assert int(sol.spikes.sum()) >= 2  # it fires
    # measured −72.1 … 42.7 mV (ExponentialRK2: −72.1 … 41.8): within (e_k, e_na)
    assert float(model.e_k) < float(sol.v.min()) and float(sol.v.max()) < float(model.e_na)
    for name in ("m", "h", "n"):
        x = np.asarray(getattr(sol.states, name))
        assert np.all((x >= 0) & (x <= 1)), name
