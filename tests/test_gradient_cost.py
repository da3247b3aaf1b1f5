"""What makes gradients through `simulate` cheap (issue 13), checked structurally — never by
timing: each step is recomputed from its stored state in the backward pass (so reverse
mode stores one state per step, not the step's intermediates), XLA:CPU compiles the
time loops of a small model into one function (the small-loop threshold neurojax sets
at import), and `φ₁`'s closed-form derivative is exact. And the gradients stay exact:
every solver against central differences in float64, forward mode against reverse mode,
and chunked checkpointing against none."""

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import exprel

import neurojax as nj
from neurojax import _simulate
from neurojax.solvers._exponential_euler import phi1

DT = 0.025  # ms
N_STEPS = 400  # 10 ms: with 10 µA/cm² from 1 ms, HH fires once (checked below)
PARAMS = (120.0, 36.0, 0.3)  # g_na, g_k, g_l in mS/cm²


def _current():
    return jnp.where(jnp.arange(N_STEPS) * DT >= 1.0, 10.0, 0.0)


def _loss(p, solver, adjoint=nj.DirectAdjoint()):
    """Mean of V² (mV²) over a 10 ms HH run with (g_na, g_k, g_l) = p."""
    model = nj.HodgkinHuxley(g_na=p[0], g_k=p[1], g_l=p[2])
    sol = nj.simulate(model, _current(), dt=DT, solver=solver, adjoint=adjoint)
    return jnp.mean(sol.v**2)


# --- the small-loop threshold ---------------------------------------------------------


def test_xla_flags_threshold_is_set_and_merged():
    """Importing neurojax put the threshold into XLA_FLAGS (this process imported it before
    any JAX computation), and the helper merges into an existing
    `--xla_backend_extra_options` (a second occurrence would replace the first) and
    respects a threshold the user set."""
    threshold = "xla_cpu_small_while_loop_byte_threshold"
    assert f"{threshold}={_simulate.XLA_CPU_SMALL_LOOP_BYTES}" in os.environ["XLA_FLAGS"]
    merge = _simulate._with_small_loop_threshold
    assert merge("", 64) == f"--xla_backend_extra_options={threshold}=64"
    assert merge("--xla_backend_extra_options=a=1 --x=2", 64) == (
        f"--xla_backend_extra_options=a=1,{threshold}=64 --x=2"
    )
    mine = f"--xla_backend_extra_options={threshold}=5"
    assert merge(mine, 64) == mine


def test_xla_flags_vector_width_only_on_avx512():
    """512-bit vectors are asked for exactly where the CPU has AVX-512 (and the user did
    not choose a width: this process's XLA_FLAGS came from tests/conftest.py, which sets
    none)."""
    asked = "--xla_cpu_prefer_vector_width=512" in os.environ["XLA_FLAGS"]
    assert asked == _simulate._cpu_has_avx512()


_HOISTING_SCRIPT = """
import jax, jax.numpy as jnp, neurojax as nj
current = jnp.full(200, 10.0, jnp.float32)
def loss(model):
    return nj.simulate(model, current, dt=0.025, solver=nj.ExponentialRK2()).v.sum()
text = jax.jit(jax.grad(loss)).lower(nj.HodgkinHuxley()).compile().as_text()
entry = text[text.index("ENTRY"):]
print(text.count("xla_cpu_small_call"), entry.count(" while("))
"""


# slow tier: a fresh interpreter compiling a gradient (~8 s of the fast tier); the fast tier
# keeps the loop-hoisting check of tests/test_gather.py and the flag check above
@pytest.mark.slow
def test_time_loops_of_one_neuron_compile_into_one_function():
    """The forward and backward time loops of a single-neuron gradient are hoisted by
    XLA:CPU into single functions (`xla_cpu_small_call`), none left as a `while` of
    separately dispatched kernels in the entry computation — which cost 50–350× the
    forward run before. In a fresh interpreter, so that neurojax is imported before JAX
    starts its backend, as in a user's script."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run(
        [sys.executable, "-c", _HOISTING_SCRIPT], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    hoisted, loose = map(int, out.stdout.split()[-2:])
    assert hoisted >= 2 and loose == 0, (hoisted, loose)


# --- reverse mode stores states, not intermediates --------------------------------------


def test_reverse_mode_stores_one_state_per_step():
    """XLA's buffer assignment for the gradient of a 4000-step HH run with `DirectAdjoint`:
    the temporaries grow by the state per step (4 float32 numbers, plus the step's input
    and index), not by the intermediates of the step (~170 bytes per step before each
    step was recomputed in the backward pass)."""
    model = nj.HodgkinHuxley()

    def temp_bytes(n):
        current = jnp.full(n, 10.0, jnp.float32)

        def loss(model):
            return nj.simulate(model, current, dt=DT, adjoint=nj.DirectAdjoint()).v.sum()

        stats = jax.jit(jax.grad(loss)).lower(model).compile().memory_analysis()
        assert stats is not None, "XLA's CPU backend reports memory_analysis()"
        return stats.temp_size_in_bytes

    # the difference of two lengths removes the fixed buffers
    per_step = (temp_bytes(4000) - temp_bytes(2000)) / 2000
    state_bytes = 4 * 4  # v, m, h, n in float32
    # at least the state (reverse mode needs it), at most the state plus two 4-byte
    # numbers per step (input, index) and 12 bytes of slack for the saved v trace and its
    # cotangent — far below the ~170 bytes of stored intermediates
    assert state_bytes <= per_step <= state_bytes + 8 + 12, per_step


# --- φ₁ and its closed-form derivative ----------------------------------------------------


def _phi1_derivative_reference(z: float) -> float:
    """φ₁′(z) = Σ (k+1)·zᵏ/(k+2)! in float64 for |z| < 1 (40 terms: exact to rounding),
    else (eᶻ − φ₁(z))/z with scipy's `exprel` (cancellation ≤ 2 eps/|z| ≤ 2 eps)."""
    if abs(z) < 1:
        return sum((k + 1) * z**k / math.factorial(k + 2) for k in range(40))
    return (math.exp(z) - exprel(z)) / z


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_phi1_value_and_derivative(dtype):
    """`phi1` and its custom JVP against scipy's `exprel` and the Taylor series of φ₁′,
    across the series/closed-form switch at |z| = 0.5, at 0, and over the range the
    solvers use (λ·dt ≤ 30 by the cap, ≫ −1 for stiff gates)."""
    z = np.concatenate(
        [np.linspace(-40, 30, 701), np.linspace(-0.6, 0.6, 241), [0.0, 1e-9, -0.5, 0.5]]
    )
    with jax.enable_x64(dtype == jnp.float64):
        zs = jnp.asarray(z, dtype)
        value = np.asarray(phi1(zs), np.float64)
        deriv = np.asarray(jax.vmap(jax.grad(phi1))(zs), np.float64)
    eps = float(jnp.finfo(dtype).eps)
    ref_value = exprel(z)
    ref_deriv = np.array([_phi1_derivative_reference(float(x)) for x in z])
    # the value: ≤ 4 eps (closed form above 0.5, see PHI_SERIES) plus the rounding of z
    # itself in float32 (|z|·eps relative, the derivative of φ₁ being ≤ φ₁ for z ≤ 30):
    # 32 eps + 1 eps·|z| (measured: 1.5 eps in float64, 1.2 eps in float32)
    rel_v = np.abs(value - ref_value) / ref_value
    assert np.all(rel_v <= 32 * eps + eps * np.abs(z)), rel_v.max() / eps
    # the derivative: cancellation ≤ 2 eps/|z| in (eᶻ − φ₁)/z plus φ₁'s own error over
    # |e^z − φ₁|/φ₁′ (≲ 4 at |z| = 0.5): 64 eps + 1 eps·|z| for the rounding of z
    # (measured: 16 eps in float64, 5 eps in float32)
    rel_d = np.abs(deriv - ref_deriv) / np.abs(ref_deriv)
    assert np.all(rel_d <= 64 * eps + eps * np.abs(z)), rel_d.max() / eps


# --- gradients stay exact ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fires_once():
    with jax.enable_x64(True):
        spikes = float(nj.simulate(nj.HodgkinHuxley(*PARAMS), _current(), dt=DT).spikes.sum())
    assert spikes == 1  # the loss crosses a spike, not only the subthreshold regime


@pytest.mark.parametrize(
    "solver",
    [
        # slow tier: finite-difference validations; φ₁'s closed-form derivative stays
        # checked in the fast tier by test_phi1_value_and_derivative and by
        # tests/test_hh_neuron.py's gradient through ExponentialRK2 against a difference
        pytest.param(nj.Euler(), marks=pytest.mark.slow),
        pytest.param(nj.ExponentialEuler(), marks=pytest.mark.slow),
        pytest.param(nj.RK4(), marks=pytest.mark.slow),
    ],
    ids=lambda s: type(s).__name__,
)
def test_gradient_matches_central_differences(solver, fires_once):
    """Reverse mode (each step recomputed from its state; φ₁ with its closed-form
    derivative) against central differences, float64, for the solvers not covered by
    tests/test_gradients.py (which checks HH's default, `ExponentialRK2`)."""
    with jax.enable_x64(True):
        p = jnp.array(PARAMS)
        loss = jax.jit(lambda p: _loss(p, solver))
        grad = np.asarray(jax.jit(jax.grad(lambda p: _loss(p, solver)))(p))
        fd = np.empty(3)
        for k in range(3):
            # relative step 1e-5: truncation (h/p)²·C and rounding eps·|L|/(h·|∂L|) are
            # both ≲ 1e-9 here (as estimated in tests/test_gradients.py for 25 ms runs)
            h = 1e-5 * float(p[k])
            e = jnp.zeros(3).at[k].set(h)
            fd[k] = (float(loss(p + e)) - float(loss(p - e))) / (2 * h)
    # 1e-6: above the finite-difference error, far below a missed term (O(1) relative)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
    assert np.all(np.abs(grad) > 1e-3)  # every conductance matters for this loss


@pytest.mark.slow  # tests/test_adjoint.py covers the same in the fast tier
def test_forward_reverse_and_checkpointed_gradients_agree(fires_once):
    """The default solver (`ExponentialRK2`, two `φ₁` and two rate evaluations per step):
    forward mode (JVPs along each conductance), reverse mode with every step recomputed
    (`DirectAdjoint`) and reverse mode in checkpointed chunks of 64 steps (a 16-step tail
    outside them) are the same derivative, evaluated in different orders: equal to
    float64 rounding."""
    with jax.enable_x64(True):
        p = jnp.array(PARAMS)
        solver = nj.ExponentialRK2()
        direct = np.asarray(jax.jit(jax.grad(lambda p: _loss(p, solver)))(p))
        chunked = np.asarray(
            jax.jit(jax.grad(lambda p: _loss(p, solver, nj.CheckpointAdjoint(every=64))))(p)
        )
        forward = np.asarray(jax.jit(jax.jacfwd(lambda p: _loss(p, solver, nj.ForwardMode())))(p))
    # 1e-10: rounding of sums over 400 steps in another order (measured ≤ 1e-13)
    np.testing.assert_allclose(chunked, direct, rtol=1e-10)
    np.testing.assert_allclose(forward, direct, rtol=1e-10)
