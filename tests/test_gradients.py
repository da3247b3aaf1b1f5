"""Gradients through `simulate`: reverse mode against central finite differences in float64,
unchanged by `checkpoint_every` / `save_every`, finite at the removable singularities of
the Hodgkin–Huxley rate functions, and the memory that checkpointing saves."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.channels import hh, vtrap

# A 25 ms fit problem: a 10 µA/cm² step from 2 ms makes the default HH fire twice; the
# target trace, from other conductances, fires once (checked below).
DT = 0.025
N_STEPS = 1000
SAVE = 5  # the loss compares every SAVE-th point, so SaveAt(every=SAVE) gives the same loss
TARGET_PARAMS = (110.0, 40.0, 0.25)
PARAMS = (120.0, 36.0, 0.3)  # g_na, g_k, g_l in mS/cm²


def _current():
    return jnp.where(jnp.arange(N_STEPS) * DT >= 2.0, 10.0, 0.0)


def _loss(p, target, every=1, checkpoint=None, solver=None):
    """MSE (mV²) between the trace of HH(g_na, g_k, g_l = p) and `target`, on every
    SAVE-th time point."""
    model = nj.HodgkinHuxley(g_na=p[0], g_k=p[1], g_l=p[2])
    sol = nj.simulate(
        model,
        _current(),
        dt=DT,
        solver=solver,
        saveat=nj.SaveAt(every=every),
        adjoint=nj.CheckpointAdjoint(every=checkpoint),
    )
    v = sol.v if every == SAVE else sol.v[SAVE - 1 :: SAVE]
    return jnp.mean((v - target) ** 2)


def _problem(solver):
    """(p, target, loss(p), gradient of the loss at p) in float64; `solver=None` is the
    model's default."""
    with jax.enable_x64(True):
        target = nj.simulate(nj.HodgkinHuxley(*TARGET_PARAMS), _current(), dt=DT, solver=solver)
        assert target.spikes.sum() == 1
        target = target.v[SAVE - 1 :: SAVE]
        p = jnp.array(PARAMS)
        value, grad = jax.jit(jax.value_and_grad(lambda p: _loss(p, target, solver=solver)))(p)
        return p, target, float(value), np.asarray(grad)


@pytest.fixture(scope="module")
def problem():
    """With HH's default solver, the one a fit uses."""
    return _problem(None)


@pytest.fixture(scope="module")
def euler_problem():
    """With forward Euler: its gradient compiles in a third of the time."""
    return _problem(nj.Euler())


# slow tier: a three-parameter finite-difference validation through two spikes;
# tests/test_hh_neuron.py keeps the default solver's gradient against a central
# difference in the fast tier
@pytest.mark.slow
def test_hh_gradient_matches_central_differences(problem):
    p, target, value, grad = problem
    with jax.enable_x64(True):
        spikes = nj.simulate(nj.HodgkinHuxley(*PARAMS), _current(), dt=DT).spikes.sum()
        assert spikes == 2  # the trace crosses spikes, not only the subthreshold regime
        loss = jax.jit(_loss)  # default solver, as in `problem`
        assert float(loss(p, target)) == pytest.approx(value, rel=1e-14)
        fd = np.empty(3)
        for k in range(3):
            # Relative step 1e-5: the truncation error of the central difference is
            # (h/p)²·C, with C up to 140 here (g_k; measured from h/p = 1e-3 and 1e-4,
            # where the error is 1.4e-4 and 1.4e-6: the O(h²) law), i.e. 1.4e-8 at 1e-5;
            # rounding adds ε·|L|/(h·|∂L|) ≈ 1e-11 (it takes over below h/p = 1e-6).
            h = 1e-5 * float(p[k])
            e = jnp.zeros(3).at[k].set(h)
            fd[k] = (float(loss(p + e, target)) - float(loss(p - e, target))) / (2 * h)
    # Measured agreement: 1e-10–1.4e-8 relative; 1e-6 leaves a 70× margin over the estimate
    # above while still catching any real gradient bug (a missed term is O(1) relative).
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
    assert np.all(np.abs(grad) > 1.0)  # every conductance matters for this loss


@pytest.mark.parametrize(
    "options",
    [
        # 200 saved blocks of 5 steps, in chunks of 30 blocks: 6 checkpointed chunks and a
        # 20-block tail outside checkpointing, so every code path of simulate is on.
        dict(every=SAVE, checkpoint=30),
        # Each option alone (the combination above already covers their code paths).
        pytest.param(dict(checkpoint=300), marks=pytest.mark.slow),
        pytest.param(dict(every=SAVE), marks=pytest.mark.slow),
    ],
    ids=["both", "checkpoint", "save_every"],
)
def test_gradient_unchanged_by_checkpointing_and_saving(euler_problem, options):
    """Checkpointing recomputes the same forward pass and saving every k-th state keeps the
    same values, so the gradient of the same loss is the same up to float64 rounding (a
    different order of operations in the fused loops: measured ≤ 3e-15 relative).

    Forward Euler: this checks simulate's loop plumbing, which does not depend on the
    scheme, and Euler's gradient compiles in a third of exponential Euler's time."""
    p, target, value, grad = euler_problem
    with jax.enable_x64(True):
        value2, grad2 = jax.jit(
            jax.value_and_grad(lambda p: _loss(p, target, solver=nj.Euler(), **options))
        )(p)
    assert float(value2) == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(np.asarray(grad2), grad, rtol=1e-12)


# --- removable singularities of the HH rates: α_m at V = −40 mV, α_n at V = −55 mV --------


def _vtrap_reference(x, y):
    """x/(e^(x/y) − 1) and its x-derivative in float64 numpy: closed forms (with expm1,
    unlike neurojax) away from 0, a Taylor series (error < z⁸/1.2e6 ≈ 1e-14 for
    |z| < 0.1, z = x/y) near it."""
    z = x / y
    if abs(z) < 0.1:
        g = 1 - z / 2 + z**2 / 12 - z**4 / 720 + z**6 / 30240
        dg = -1 / 2 + z / 6 - z**3 / 180 + z**5 / 5040
    else:
        g = z / math.expm1(z)
        dg = (math.expm1(z) - z * math.exp(z)) / math.expm1(z) ** 2
    return y * g, dg  # d/dx [y·g(x/y)] = g'(z)


# V offsets from the singular point, mV: exactly at it, inside the series branch of vtrap
# (|z| < 0.5, i.e. |ΔV| < 5 mV), at the switch and outside.
OFFSETS = [0.0, 1e-6, -1e-6, 1e-4, -3e-3, 0.05, -1.0, 3.0, 4.9999, -5.0001, 8.0, -20.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rate_functions_at_singularities(dtype):
    with jax.enable_x64(dtype == "float64"):
        f = jnp.dtype(dtype).type
        # The analytic limits: α_m(−40) = 0.1·10 = 1 /ms, α_n(−55) = 0.01·10 = 0.1 /ms,
        # and vtrap(0, y) = y; their slopes 0.1·10·(−1/2)·(−1/10) = 0.05 and 0.005 /(ms·mV).
        assert hh.alpha_m(f(-40.0)) == f(1.0)
        # 0.01·10 is 1 ulp below 0.1 in float32.
        assert float(hh.alpha_n(f(-55.0))) == pytest.approx(0.1, rel=2e-7)
        assert vtrap(f(0.0), 10.0) == f(10.0)
        assert jax.grad(hh.alpha_m)(f(-40.0)) == pytest.approx(0.05, rel=1e-6)
        assert jax.grad(hh.alpha_n)(f(-55.0)) == pytest.approx(0.005, rel=1e-6)
        assert jax.grad(vtrap)(f(0.0), 10.0) == pytest.approx(-0.5, rel=1e-6)
        eps = float(jnp.finfo(dtype).eps)
        for rate, scale, v0 in ((hh.alpha_m, 0.1, -40.0), (hh.alpha_n, 0.01, -55.0)):
            v = (v0 + np.array(OFFSETS)).astype(dtype)
            values, slopes = jax.jit(jax.vmap(jax.value_and_grad(rate)))(jnp.asarray(v))
            assert np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))
            for value, slope, vk in zip(np.asarray(values), np.asarray(slopes), v, strict=True):
                # α(V) = scale·vtrap(−(V − v0), 10), so dα/dV = −scale·vtrap'.
                x = -(float(vk) - v0)
                ref, dref = _vtrap_reference(x, 10.0)
                # The value: the series (cut after z¹⁶, error < 1e-19) and the closed form
                # z/(eᶻ − 1) (rounding ≤ 2·eps/|z| ≤ 4 eps at |z| ≥ 0.5) are accurate to a
                # few ulp. The slope: the series' to a few ulp; in the closed-form branch
                # autodiff computes 1/(eᶻ − 1) − z·eᶻ/(eᶻ − 1)², two terms of size 1/z
                # cancelling to about −1/2, so a few ulp of eᶻ become ~2·eps/z² relative
                # (8 eps at the switch). Tolerances: ×2 these.
                assert value == pytest.approx(scale * ref, rel=8 * eps), (rate, x)
                z = abs(x) / 10.0
                slope_tol = 8 * eps if z < 0.5 else 16 * eps / z**2
                assert slope == pytest.approx(-scale * dref, rel=slope_tol), (rate, x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_simulation_through_singular_voltages(dtype):
    """HH neurons started exactly at V = −40 and −55 mV: the initial gates, the first step
    and the gradient all evaluate the rates at their singular points. Gradients are finite
    in both precisions and, in float64, equal central differences of v_init.

    Forward Euler for a short compile: exponential Euler evaluates the same rates and
    their first V-derivatives (its decay rates −φ(α + β) hold no other derivative)."""
    with jax.enable_x64(dtype == "float64"):
        v_init = jnp.array([-40.0, -55.0])
        n = 80  # 2 ms

        def loss(v_init, g_na):
            model = nj.HodgkinHuxley(v_init=v_init, g_na=g_na)
            sol = nj.simulate(model, jnp.zeros((n, 2)), dt=DT, solver=nj.Euler())
            return jnp.mean(sol.v**2, axis=0).sum()

        m0 = nj.HodgkinHuxley(v_init=v_init).init_state((2,))
        # Steady-state gates from the analytic limits α_m(−40) = 1, α_n(−55) = 0.1.
        m_inf = 1.0 / (1.0 + 4.0 * math.exp(-25.0 / 18.0))
        n_inf = 0.1 / (0.1 + 0.125 * math.exp(-10.0 / 80.0))
        assert float(m0.m[0]) == pytest.approx(m_inf, rel=1e-6)
        assert float(m0.n[1]) == pytest.approx(n_inf, rel=1e-6)

        value, (g_v, g_na) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(v_init, 120.0)
        assert np.all(np.isfinite(g_v)) and np.isfinite(g_na)
        assert np.isfinite(value)
        if dtype == "float64":
            lossj = jax.jit(loss)
            # h = 1e-4 mV: truncation h²·C with C ≈ 3e-3 /mV² (measured: 3e-7 at 1e-2 mV,
            # 3e-9 at 1e-3 mV) gives 3e-11; rounding ε·L/(h·∂L) ≈ 1e-16·4600/(1e-4·30)
            # ≈ 2e-10. Measured 1e-11–1.3e-10; tolerance 1e-8.
            h = 1e-4
            for k in range(2):
                e = jnp.zeros(2).at[k].set(h)
                fd = (lossj(v_init + e, 120.0) - lossj(v_init - e, 120.0)) / (2 * h)
                # The central difference straddles the singular point: it checks the
                # gradient there against the closed form just beside it.
                assert float(g_v[k]) == pytest.approx(float(fd), rel=1e-8), k


# --- memory saved by checkpointing (compiler estimate, no timing) ----------------------


# slow tier: a second compiled 10⁴-step HH gradient pair; tests/test_adjoint.py
# (test_auto_checkpointing_of_a_large_state_keeps_the_gradient) keeps the checkpoint
# memory check fast
@pytest.mark.slow
def test_checkpointing_reduces_gradient_memory():
    """XLA's buffer assignment for the gradient of a 10⁴-step HH run: without checkpointing
    reverse mode stores the state of every step (O(n_steps); each step's intermediates are
    recomputed from it in the backward pass); with chunks of 100 steps it stores the 100
    chunk-boundary states plus one chunk's states (O(n/c + c)). Forward Euler keeps the
    compile short; the scheme does not matter."""
    n = 10_000
    current = jnp.full(n, 10.0)
    model = nj.HodgkinHuxley()

    def temp_bytes(checkpoint_every):
        def loss(model):
            adjoint = (
                nj.DirectAdjoint()
                if checkpoint_every is None
                else nj.CheckpointAdjoint(every=checkpoint_every)
            )
            sol = nj.simulate(model, current, dt=DT, solver=nj.Euler(), adjoint=adjoint)
            return jnp.mean(sol.v**2)

        compiled = jax.jit(jax.grad(loss)).lower(model).compile()
        stats = compiled.memory_analysis()
        assert stats is not None, "XLA's CPU backend reports memory_analysis()"
        return stats.temp_size_in_bytes

    full, chunked = temp_bytes(None), temp_bytes(100)
    state_bytes = 4 * 4  # HH state: four float32 numbers
    # Without checkpointing at least the n states themselves are kept (measured: ~24
    # bytes/step, the state, the step index and the input).
    assert full >= n * state_bytes, full
    # Both keep the same fixed buffers (the v trace, 4n bytes, and its cotangent):
    # checkpointing must remove at least 90 % of the n stored states (it stores
    # 2·100 of them; measured: 158 kB of 160 kB removed).
    assert full - chunked >= 0.9 * n * state_bytes, (chunked, full)
