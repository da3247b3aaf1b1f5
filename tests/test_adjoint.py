"""The adjoint passed to `simulate` decides what `jax.grad` / `jax.jvp` through it do.

- `DirectAdjoint()` and `CheckpointAdjoint(every)`: reverse mode (and forward mode);
  their gradients agree to rounding, and `CheckpointAdjoint` really stores less.
- `ForwardMode()`: forward mode only — `jax.jvp` / `jax.jacfwd` work (under `jit`,
  `vmap`, nested) and store nothing per step; `jax.grad` / `jax.vjp` / `jax.jacrev`
  raise a `TypeError` that names `ForwardMode` and what to use instead.
- `AbstractAdjoint.value_and_grad`: the value and gradient of a scalar loss in the
  adjoint's mode (what `fit` asks its adjoint for).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.neurons import FitzHughNagumo

DT = 0.025
ADJOINTS = [nj.DirectAdjoint(), nj.CheckpointAdjoint(every=7), nj.ForwardMode()]
# jvp through the reverse adjoints is JAX's own scan/checkpoint rule: the slow tier checks
# it; the fast tier keeps ForwardMode, whose forward-only marking is ours
JVP_CASES = [
    pytest.param(nj.DirectAdjoint(), id="direct", marks=pytest.mark.slow),
    pytest.param(nj.CheckpointAdjoint(every=7), id="checkpoint7", marks=pytest.mark.slow),
    pytest.param(nj.ForwardMode(), id="forward"),
]


def mean_v(g, adjoint, n=400, saveat=nj.SaveAt()):
    inputs = jnp.full(n, 10.0)
    sol = nj.simulate(nj.HodgkinHuxley(g_na=g), inputs, dt=DT, adjoint=adjoint, saveat=saveat)
    return sol.v.mean()


# The fast tests below are about the adjoints, not the model: FitzHugh–Nagumo (smooth,
# no reset) compiles its gradient in ~0.4 s where HH's takes ~2.6 s; the slow tests keep HH.
A0 = 0.7  # FitzHugh–Nagumo's `a`


def fhn_mean_v(a, adjoint, n=400):
    sol = nj.simulate(FitzHughNagumo(a=a), jnp.full(n, 0.5), dt=0.1, adjoint=adjoint)
    return sol.v.mean()


def final_v(g, adjoint, n):
    inputs = jnp.full(n, 10.0)
    sol = nj.simulate(
        nj.HodgkinHuxley(g_na=g), inputs, dt=DT, adjoint=adjoint, saveat=nj.SaveAt(vars=("v",))
    )
    return sol.final_state.y.v


# slow tier: validation of the reverse adjoints against each other;
# test_value_and_grad_of_each_adjoint stays fast
@pytest.mark.slow
def test_reverse_gradients_agree(x64):
    """`CheckpointAdjoint(every=k)` recomputes chunks in the backward pass: the same
    gradient as `DirectAdjoint` to rounding (float64), for a k that divides the run and one
    that leaves a tail; forward mode (jacfwd) gives it too."""
    g0 = 110.0
    direct = float(jax.grad(mean_v)(g0, nj.DirectAdjoint()))
    for every in (7, 40):  # 7 leaves a tail of the 400 steps, 40 divides them
        ckpt = float(jax.grad(mean_v)(g0, nj.CheckpointAdjoint(every=every)))
        np.testing.assert_allclose(ckpt, direct, rtol=1e-12)
    fwd = float(jax.jacfwd(mean_v)(g0, nj.ForwardMode()))
    np.testing.assert_allclose(fwd, direct, rtol=1e-10)
    h = 1e-4
    fd = (float(mean_v(g0 + h, nj.DirectAdjoint())) - float(mean_v(g0 - h, nj.DirectAdjoint()))) / (
        2 * h
    )
    np.testing.assert_allclose(direct, fd, rtol=1e-5)


@pytest.mark.parametrize("adjoint", JVP_CASES)
def test_jvp_works_under_every_adjoint(x64, adjoint):
    """`jax.jvp`, `jax.jacfwd` under `jit` and `vmap` of `jvp` through simulate, whatever
    the adjoint: all agree with DirectAdjoint's reverse gradient (second order:
    test_second_order_forward_mode)."""
    ref = float(jax.grad(fhn_mean_v)(A0, nj.DirectAdjoint()))
    value, tangent = jax.jvp(lambda g: fhn_mean_v(g, adjoint), (A0,), (1.0,))
    np.testing.assert_allclose(float(tangent), ref, rtol=1e-10)
    np.testing.assert_allclose(
        float(jax.jit(jax.jacfwd(lambda g: fhn_mean_v(g, adjoint)))(A0)), ref, rtol=1e-10
    )
    _, tangents = jax.vmap(lambda g: jax.jvp(lambda h: fhn_mean_v(h, adjoint), (g,), (1.0,)))(
        jnp.array([0.65, A0])
    )
    np.testing.assert_allclose(float(tangents[1]), ref, rtol=1e-10)


# slow tier: second derivatives (jvp of jvp) against differences of jacfwd, five more
# compiled programs; the first-order forward mode above stays fast
@pytest.mark.slow
@pytest.mark.parametrize("adjoint", ADJOINTS, ids=("direct", "checkpoint7", "forward"))
def test_second_order_forward_mode(x64, adjoint):
    """`jvp` of `jvp` through simulate equals central differences of `jacfwd`."""
    _, second = jax.jvp(
        lambda g: jax.jvp(lambda h: fhn_mean_v(h, adjoint), (g,), (1.0,))[1], (A0,), (1.0,)
    )
    h = 1e-5  # relative 1.4e-5: truncation ~1e-10, rounding ~1e-16/1e-5 of the 2nd derivative
    fd2 = (
        float(jax.jacfwd(fhn_mean_v)(A0 + h, adjoint))
        - float(jax.jacfwd(fhn_mean_v)(A0 - h, adjoint))
    ) / (2 * h)
    np.testing.assert_allclose(float(second), fd2, rtol=1e-4)


def test_forward_mode_refuses_reverse_mode():
    """`jax.grad`, `jax.vjp` and `jax.jacrev` through `simulate(adjoint=ForwardMode())`
    raise at once (under `jit` too), naming ForwardMode and the alternatives; with respect
    to the inputs, `state0` or `dt` as well as the parameters."""
    for f in (
        jax.grad(lambda g: fhn_mean_v(g, nj.ForwardMode())),
        jax.jit(jax.grad(lambda g: fhn_mean_v(g, nj.ForwardMode()))),
        jax.jacrev(lambda g: fhn_mean_v(g, nj.ForwardMode())),
        lambda g: jax.vjp(lambda h: fhn_mean_v(h, nj.ForwardMode()), g)[1](1.0),
    ):
        with pytest.raises(TypeError, match="ForwardMode") as e:
            f(A0)
        assert "jax.jacfwd" in str(e.value) and "CheckpointAdjoint()" in str(e.value)

    def of_inputs(amp):
        return nj.simulate(
            FitzHughNagumo(), jnp.full(100, 1.0) * amp, dt=0.1, adjoint=nj.ForwardMode()
        ).v.mean()

    with pytest.raises(TypeError, match="ForwardMode"):
        jax.grad(of_inputs)(0.5)

    def of_state0(v0):
        state0 = FitzHughNagumo().init_state()._replace(v=v0)
        return nj.simulate(
            FitzHughNagumo(), jnp.full(100, 0.5), dt=0.1, state0=state0, adjoint=nj.ForwardMode()
        ).v.mean()

    with pytest.raises(TypeError, match="ForwardMode"):
        jax.grad(of_state0)(-1.0)
    assert np.isfinite(float(jax.jacfwd(of_state0)(-1.0)))

    def of_dt(dt):
        return nj.simulate(
            FitzHughNagumo(), jnp.full(100, 0.5), dt=dt, adjoint=nj.ForwardMode()
        ).v.mean()

    with pytest.raises(TypeError, match="ForwardMode"):
        jax.grad(of_dt)(0.1)
    # the same functions are reverse-differentiable with a reverse adjoint
    assert np.isfinite(float(jax.grad(lambda g: fhn_mean_v(g, nj.CheckpointAdjoint()))(A0)))


def test_forward_mode_plain_values_unchanged():
    """Without differentiation ForwardMode's run is the same as the others (eagerly and
    under jit/vmap); integer and empty leaves pass through."""
    ref = np.asarray(nj.simulate(nj.HodgkinHuxley(), jnp.full(200, 10.0), dt=DT).v)
    got = nj.simulate(nj.HodgkinHuxley(), jnp.full(200, 10.0), dt=DT, adjoint=nj.ForwardMode())
    np.testing.assert_array_equal(np.asarray(got.v), ref)
    jitted = jax.jit(lambda g: mean_v(g, nj.ForwardMode(), n=200))(120.0)
    np.testing.assert_allclose(float(jitted), ref.mean(), rtol=1e-6)
    batched = jax.vmap(lambda g: mean_v(g, nj.ForwardMode(), n=200))(jnp.array([120.0, 120.0]))
    np.testing.assert_allclose(np.asarray(batched), ref.mean(), rtol=1e-6)
    lif = nj.simulate(nj.LIF(), jnp.full((50, 3), 2.0), dt=0.1, adjoint=nj.ForwardMode())
    assert lif.spikes.shape == (50, 3)


def _temp_bytes(fn, *args):
    compiled = jax.jit(fn).lower(*args).compile()
    analysis = compiled.memory_analysis()
    if analysis is None:
        pytest.skip("this backend reports no memory analysis")
    return analysis.temp_size_in_bytes


@pytest.mark.slow  # compiles and analyses the memory of three gradient programs
def test_checkpointing_and_forward_mode_memory(x64):
    """What each adjoint stores, from XLA's memory analysis of the compiled derivative of
    the final voltage (one HH neuron, nothing else saved). Measured (CPU, float64):
    DirectAdjoint's gradient 37 kB at 1000 steps, 133 kB at 4000 (one state per step);
    CheckpointAdjoint(every=50) 10 kB and 12 kB (a state per chunk of 50 plus one chunk);
    ForwardMode's JVP 4 kB at both lengths (nothing per step)."""

    def grad_bytes(adjoint, n):
        return _temp_bytes(jax.grad(lambda g: final_v(g, adjoint, n)), 120.0)

    def jvp_bytes(adjoint, n):
        return _temp_bytes(lambda g: jax.jvp(lambda h: final_v(h, adjoint, n), (g,), (1.0,)), 120.0)

    direct = {n: grad_bytes(nj.DirectAdjoint(), n) for n in (1000, 4000)}
    ckpt = {n: grad_bytes(nj.CheckpointAdjoint(every=50), n) for n in (1000, 4000)}
    fwd = {n: jvp_bytes(nj.ForwardMode(), n) for n in (1000, 4000)}
    print("direct", direct, "checkpoint(50)", ckpt, "forward jvp", fwd)
    # Direct grows by one stored state (HH: 4 float64) per step
    assert direct[4000] - direct[1000] >= 3000 * 4 * 8
    # checkpointing: far less, and growing by a state per chunk (60 chunks more), not per step
    assert ckpt[4000] < direct[4000] / 5
    assert ckpt[4000] - ckpt[1000] < (direct[4000] - direct[1000]) / 10
    # forward mode: nothing per step
    assert fwd[4000] == fwd[1000]
    assert fwd[4000] < ckpt[1000]
    # the checkpointed gradient is DirectAdjoint's
    np.testing.assert_allclose(
        float(jax.grad(final_v)(120.0, nj.CheckpointAdjoint(every=50), 4000)),
        float(jax.grad(final_v)(120.0, nj.DirectAdjoint(), 4000)),
        rtol=1e-12,
    )


def test_value_and_grad_of_each_adjoint(x64):
    """`adjoint.value_and_grad(f, x)` (what `fit` uses): reverse mode for Direct and
    Checkpoint, batched JVPs for ForwardMode; all equal. `reverse_differentiable(f)` makes
    a ForwardMode loss usable by `jax.grad` (optax's line search transposes it), with the
    gradient from forward mode."""

    def loss(adjoint):
        def f(p):
            m = FitzHughNagumo(a=p["a"], b=p["b"])
            return nj.simulate(m, jnp.full(300, 0.5), dt=0.1, adjoint=adjoint).v.var()

        return f

    p = {"a": jnp.asarray(0.7), "b": jnp.asarray(0.8)}
    ref_v, ref_g = jax.value_and_grad(loss(nj.DirectAdjoint()))(p)
    for adjoint in ADJOINTS:
        v, g = adjoint.value_and_grad(loss(adjoint), p)
        np.testing.assert_allclose(float(v), float(ref_v), rtol=1e-12)
        for k in p:
            np.testing.assert_allclose(float(g[k]), float(ref_g[k]), rtol=1e-9)
        g2 = jax.grad(adjoint.reverse_differentiable(loss(adjoint)))(p)
        for k in p:
            np.testing.assert_allclose(float(g2[k]), float(ref_g[k]), rtol=1e-9)


def test_auto_checkpointing_follows_the_stored_bytes():
    """`CheckpointAdjoint()` checkpoints a differentiated run when it would store more
    than `AUTO_CHECKPOINT_BYTES` of states (large networks), however many or few its
    steps: chunks of √(blocks / steps per block). Small states keep the plain scan
    (no extra forward run), however long the run; with the size unknown (bytes 0),
    above 10⁴ saved blocks; an explicit `every` always wins."""
    from neurojax._adjoint import AUTO_CHECKPOINT_BYTES

    auto = nj.CheckpointAdjoint()
    assert auto.checkpoint_every(100, 100, 16) is None  # one HH neuron: 160 kB
    assert auto.checkpoint_every(100, 100, 0) is None  # not differentiated
    big = AUTO_CHECKPOINT_BYTES // 1000  # 10⁴ steps of this state: 10× the budget
    assert auto.checkpoint_every(100, 100, big) == 1  # √(100 / 100)
    assert auto.checkpoint_every(10_000, 1, big) == 100  # √10⁴
    assert auto.checkpoint_every(40_000, 1, 0) == 200  # size unknown: above 10⁴ blocks
    # Hay's L5 cell through 1 s: 40 000 steps of 12 kB (479 MB) fit, so no extra forward
    assert auto.checkpoint_every(40_000, 1, 11_972) is None
    assert auto.checkpoint_every(40_000, 1, big) == 200  # past the budget: √n
    assert nj.CheckpointAdjoint(every=7).checkpoint_every(100, 100, big) == 7
    assert nj.DirectAdjoint().checkpoint_every(100, 100, big) is None


# slow tier: compiles and runs two 320 MB gradients; the choice itself is checked fast above
@pytest.mark.slow
def test_auto_checkpointing_of_a_large_state_keeps_the_gradient(x64, monkeypatch):
    """A population whose stored states exceed the budget is checkpointed automatically:
    XLA's plan for the gradient shrinks, and the gradient is DirectAdjoint's to rounding.
    (2·10⁴ FitzHugh–Nagumo neurons × 2 float64 × 1000 steps = 320 MB > a budget of
    256 MiB, set here: the default's 512 MiB would need a 640 MB test.)"""
    monkeypatch.setattr("neurojax._adjoint.AUTO_CHECKPOINT_BYTES", 256 * 2**20)
    n = 20_000
    inputs = jnp.full((1000, n), 0.5)

    def loss(a, adjoint):
        sol = nj.simulate(FitzHughNagumo(a=a), inputs, dt=0.1, adjoint=adjoint,
                          saveat=nj.SaveAt(every=100, vars=("v",)))  # fmt: skip
        return sol.v.mean()

    a = jnp.full((n,), 0.7)
    auto = _temp_bytes(jax.grad(lambda a: loss(a, nj.CheckpointAdjoint())), a)
    direct = _temp_bytes(jax.grad(lambda a: loss(a, nj.DirectAdjoint())), a)
    assert direct > 300e6 and auto < direct / 5, (auto, direct)
    # the same gradient: checkpointing only recomputes (float64 rounding)
    g_auto = jax.jit(jax.grad(lambda a: loss(a, nj.CheckpointAdjoint())))(a)
    g_direct = jax.jit(jax.grad(lambda a: loss(a, nj.DirectAdjoint())))(a)
    np.testing.assert_allclose(np.asarray(g_auto), np.asarray(g_direct), rtol=1e-12, atol=0)
