"""`neurojax.fitting.fit`: parameter recovery (HH conductances from voltage traces, AdEx
adaptation from spike trains), constraints under absurd step sizes, gradients (forward
= reverse = finite differences), gradient memory of 10⁵-step runs, multi-start,
progress and early stopping, and the errors raised before anything compiles.

Recovery tests are honest: the fit is given the perturbed model and the target only,
never the true values; the truth is used afterwards to score the result.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import neurojax as nj
from neurojax.fitting import (
    CONVERGED_GTOL,
    Bounded,
    LevenbergMarquardt,
    Positive,
    Recording,
    Restarts,
    SpikeCount,
    StopReason,
    TraceMSE,
    Unconstrained,
    VanRossum,
    default_adjoint,
    fit,
    make_objective,
)
from neurojax.fitting import _descent as descent
from neurojax.neurons.adex import NAUD2008, AdEx

HH_TRUTH = np.array([120.0, 36.0, 0.3])  # g_na, g_k, g_l, mS/cm² (NEURON's hh)


def hh_conductances(m):
    return (m.g_na, m.g_k, m.g_l)


def hh_protocol(dt=0.025, duration=30.0):
    """Three sweeps, as in patch clamp: a hyperpolarising and a subthreshold depolarising
    step (2–28 ms; passive and gating responses, −3 and +2 µA/cm²) and a 2 ms, 20 µA/cm²
    pulse that fires exactly one spike. Short pulses keep the number of spikes fixed
    under ±50 % conductance changes, so the trace MSE has no spike-misalignment minima
    (with long suprathreshold steps, L-BFGS stalls in them from 4 of 8 corners)."""
    t = dt * np.arange(int(round(duration / dt)))
    step = (t >= 2.0) & (t < duration - 2.0)
    pulse = (t >= 2.0) & (t < 4.0)
    return jnp.asarray(np.stack([-3.0 * step, 2.0 * step, 20.0 * pulse], axis=1))


# ---------------------------------------------------------------- HH recovery


@pytest.mark.slow  # a full L-BFGS fit in float64; the demo test fits HH in the fast tier
def test_hh_conductances_recovered_within_1_percent(x64):
    """g_na, g_k, g_l from two opposite corners of the ±50 % box — the least excitable
    (×0.5, ×1.5, ×1.5) and the most excitable (×1.5, ×0.5, ×0.5) — on a noise-free
    trace. Tolerance 1 % (the issue's requirement); measured: < 1e-9 relative."""
    dt = 0.025
    inputs = hh_protocol(dt)
    target = nj.simulate(nj.HodgkinHuxley(), inputs, dt=dt).v
    assert int(nj.simulate(nj.HodgkinHuxley(), inputs, dt=dt).spikes.sum()) == 1
    for factors in ((0.5, 1.5, 1.5), (1.5, 0.5, 0.5)):
        g0 = HH_TRUTH * np.array(factors)
        model = nj.HodgkinHuxley(g_na=g0[0], g_k=g0[1], g_l=g0[2])
        start = time.perf_counter()
        result = fit(
            model, inputs, target, dt=dt, trainable=hh_conductances, progress_meter=nj.NoProgress()
        )
        fitted = np.array([float(p) for p in result.params])
        err = fitted / HH_TRUTH - 1
        print(
            f"HH from {factors}: rel. errors {err}, {result.n_steps} steps, "
            f"{result.n_evaluations} evaluations, {time.perf_counter() - start:.1f} s"
        )
        assert np.all(np.abs(err) < 0.01), (factors, fitted)
        assert result.loss < 1e-6  # mV²: the fitted trace is the target


# ---------------------------------------------------------------- AdEx recovery


def _adex_spike_times(pattern, scale=(1.0, 1.0, 1.0), dt=0.01, duration=500.0):
    """Upward crossings of −40 mV (= V_T + 5Δ_T, where the upswing is already run-away)
    by linear interpolation: a smooth function of the parameters, unlike grid times."""
    kw = dict(NAUD2008[pattern]["model"])
    for name, s in zip(("a", "b", "tau_w"), scale, strict=True):
        kw[name] *= s
    n = int(round(duration / dt))
    sol = nj.simulate(AdEx(**kw), jnp.full(n, NAUD2008[pattern]["current"]), dt=dt)
    v, t = np.asarray(sol.v), np.asarray(sol.t)
    i = np.nonzero((v[1:] >= -40.0) & (v[:-1] < -40.0))[0]
    return t[i] + dt * (-40.0 - v[i]) / (v[i + 1] - v[i])


# slow tier: central differences of 500 ms AdEx simulations in float64; the fast tier
# keeps identifiability through tests/test_identifiability.py's analytic LIF check
@pytest.mark.slow
def test_adex_spike_times_constrain_b_and_tau_w_but_hardly_a(x64):
    """Identifiability, measured: the Jacobian J of the spike times w.r.t. (log a, log b,
    log τ_w) by central differences (±1 %) for the adapting pattern over 500 ms.

    With spike times known to a grid of dt = 0.1 ms (rounding noise σ = dt/√12), the
    standard errors `σ·√diag((JᵀJ)⁻¹)` are, measured: a 7.8 %, b 0.18 %, τ_w 1.0 %; the
    least-determined direction of J is almost pure `a` (|component| 0.99, singular value
    0.37 ms vs 1083 and 102 ms). This is why the recovery test below allows 30 % on `a`
    (4 standard errors) and 10 % on b and τ_w. (The 7.8 % on `a` comes from spike times
    simulated at dt = 0.01 ms, which still snaps them to the grid; with spike times
    converged in dt, `neurojax.fitting.identifiability(refine=100)` gives 16–19 %:
    docs/fitting.md.)"""
    t0 = _adex_spike_times("adapting")
    h = 0.01
    cols = []
    for j in range(3):
        up, down = np.ones(3), np.ones(3)
        up[j], down[j] = np.exp(h), np.exp(-h)
        tp, tm = _adex_spike_times("adapting", up), _adex_spike_times("adapting", down)
        assert len(tp) == len(tm) == len(t0) == 10
        cols.append((tp - tm) / (2 * h))
    jac = np.stack(cols, axis=1)
    _, sv, vt = np.linalg.svd(jac, full_matrices=False)
    se = (0.1 / np.sqrt(12)) * np.sqrt(np.diag(np.linalg.inv(jac.T @ jac)))
    print("singular values (ms):", sv, "sloppiest direction:", vt[-1], "SE(log a, b, τ_w):", se)
    assert abs(vt[-1][0]) > 0.95  # the sloppy direction is `a`
    assert sv[-1] / sv[0] < 1e-3  # condition number > 10³
    assert se[0] > 10 * se[1] and se[0] > 3 * se[2]
    assert se[1] < 0.02 and se[2] < 0.05


def fit_adex_to_its_spike_train(pattern: str, dt: float = 0.1):
    """Naud et al.'s (2008) AdEx `pattern` under its 500 ms step, fitted to its own spike
    train alone (van Rossum distance, τ = 200 ms, through surrogate spikes; Adam, 300
    steps, 6 starts) from (a, b, τ_w) off by (−15 %, −20 %, +20 %). Returns
    `(result, inputs, target Solution, true (a, b, τ_w))`."""
    params = NAUD2008[pattern]["model"]
    truth = AdEx(**params)
    inputs = jnp.full(int(round(500.0 / dt)), NAUD2008[pattern]["current"])
    target = nj.simulate(truth, inputs, dt=dt)
    true = np.array([params["a"], params["b"], params["tau_w"]])
    guess = true * np.array([0.85, 0.8, 1.2])
    model = eqx.tree_at(lambda m: (m.a, m.b, m.tau_w), truth, tuple(jnp.asarray(g) for g in guess))
    result = fit(
        model,
        inputs,
        Recording(spikes=target.spikes),  # the spike train only
        dt=dt,
        trainable=lambda m: (m.a, m.b, m.tau_w),
        loss=VanRossum(tau=200.0),
        steps=300,
        n_starts=6,
        key=jax.random.key(0),
        init_spread=1.3,
        progress_meter=nj.NoProgress(),
    )
    return result, inputs, target, true


@pytest.mark.slow  # a spike-train fit of AdEx
@pytest.mark.parametrize("pattern", ["regular_bursting"])
def test_adex_adaptation_recovered_from_spike_trains(x64, pattern):
    """(The adapting pattern, same fit, is checked to 5 % on b and τ_w, with `a` flagged,
    in tests/test_identifiability.py.)

    a, b, τ_w of Naud et al.'s (2008) patterns from the spike train of their step
    current (500 ms) alone, with the van Rossum distance (τ = 200 ms, longer than the
    ISIs so that the loss sees every spike) through surrogate spikes, and 6 starts
    around a guess off by (−15 %, −20 %, +20 %).

    Tolerances (see the identifiability test): a within 30 % (4 standard errors of the
    grid-limited spike times); b and τ_w within 10 %: their standard errors are ≤ 1 %, but
    Adam on a surrogate gradient stops short of the exact optimum (measured: adapting
    a −5.6 %, b −1.5 %, τ_w +4.6 %; regular bursting −8.4 %, −0.9 %, +1.0 %). The fitted
    model must also fire exactly as many spikes as the target."""
    dt = 0.1
    result, inputs, target, true = fit_adex_to_its_spike_train(pattern, dt)
    err = np.array([float(p) for p in result.params]) / true - 1
    print(f"AdEx {pattern}: relative errors (a, b, tau_w) = {err}, loss {result.loss:.3g}")
    assert abs(err[1]) < 0.10 and abs(err[2]) < 0.10, err
    assert abs(err[0]) < 0.30, err
    fitted = nj.simulate(result.model, inputs, dt=dt).spikes
    assert int(fitted.sum()) == int(target.spikes.sum())


# ---------------------------------------------------------------- constraints


@pytest.mark.slow  # several fits at extreme learning rates
def test_constraints_hold_whatever_the_learning_rate():
    """Plain SGD with lr = 1000 on g_na, g_k (Positive by default) and g_l (Bounded):
    every parameter visited stays positive / inside its bounds. The same run without
    constraints drives a conductance negative — the reparametrisation is what holds."""
    dt = 0.05
    inputs = jnp.full((200, 1), 10.0)  # 10 ms, one spike
    target = nj.simulate(nj.HodgkinHuxley(), inputs, dt=dt).v
    model = nj.HodgkinHuxley(g_na=80.0, g_k=50.0, g_l=0.5)
    sgd = optax.sgd(1e3)
    result = fit(
        model,
        inputs,
        target,
        dt=dt,
        trainable=hh_conductances,
        constraints=(Positive(), Positive(), Bounded(0.01, 1.0)),
        optimizer=sgd,
        steps=15,
        progress_meter=nj.NoProgress(),
    )
    g_na, g_k, g_l = (np.asarray(h) for h in result.all_param_history)
    assert g_na.shape == (15, 1)
    assert np.all(g_na > 0) and np.all(g_k > 0)
    assert np.all((g_l > 0.01) & (g_l < 1.0))
    assert np.all(np.isfinite(result.all_losses[np.isfinite(result.all_losses)]))
    # the huge steps really go somewhere: conductances change by orders of magnitude
    assert g_na.max() / g_na.min() > 10 or g_k.max() / g_k.min() > 10

    # without them the first step drives a conductance negative, which the model's
    # parameter domain refuses at run time, naming it (no fit on an unphysical model)
    with pytest.raises(Exception, match=r"HodgkinHuxley\.g_(na|k|l) must be >= 0"):
        fit(
            model,
            inputs,
            target,
            dt=dt,
            trainable=hh_conductances,
            constraints=Unconstrained(),
            optimizer=sgd,
            steps=3,
            progress_meter=nj.NoProgress(),
        )


def test_constraint_transforms_round_trip_and_bounds(x64):
    p0 = jnp.array([0.3, 120.0])
    pos = Positive().bind(p0)
    np.testing.assert_allclose(pos.forward(pos.inverse(p0)), p0, rtol=1e-12)
    extreme = jnp.array([-1e6, -50.0, 0.0, 50.0, 1e6])
    assert np.all(np.asarray(Positive().bind(jnp.asarray(2.0)).forward(extreme)) >= 0)
    b = Bounded(-80.0, -40.0).bind(jnp.asarray(-65.0))
    np.testing.assert_allclose(b.forward(b.inverse(jnp.asarray(-65.0))), -65.0, rtol=1e-12)
    vals = np.asarray(b.forward(extreme))
    assert np.all((vals >= -80.0) & (vals <= -40.0))
    with pytest.raises(ValueError, match="needs an initial value > 0"):
        Positive().bind(jnp.asarray(-1.0))
    with pytest.raises(ValueError, match="strictly inside the bounds"):
        Bounded(0.0, 1.0).bind(jnp.asarray(2.0))
    with pytest.raises(ValueError, match="finite lower < upper"):
        Bounded(1.0, 0.0)


# ---------------------------------------------------------------- gradients


# slow tier: finite-difference validation; tests/test_gradients.py keeps HH's in the fast tier
@pytest.mark.slow
def test_forward_and_reverse_gradients_agree_with_finite_differences(x64):
    """d(trace MSE)/du by forward mode, by reverse mode (with checkpointing) and by
    central differences (h = 1e-5; truncation O(h²) ≈ 1e-10 relative) agree to 1e-6."""
    dt = 0.025
    inputs = hh_protocol(dt, duration=10.0)
    target = nj.simulate(nj.HodgkinHuxley(), inputs, dt=dt).v
    model = nj.HodgkinHuxley(g_na=100.0, g_k=40.0, g_l=0.25)
    kw = dict(dt=dt, trainable=hh_conductances)
    fwd = make_objective(model, inputs, target, adjoint=nj.ForwardMode(), **kw)
    rev = make_objective(model, inputs, target, adjoint=nj.CheckpointAdjoint(every=40), **kw)
    u = jnp.stack(fwd.to_unconstrained(fwd.params0))
    g_fwd = np.asarray(jax.grad(lambda x: fwd.unconstrained(list(x)))(u))
    g_rev = np.asarray(jax.grad(lambda x: rev.unconstrained(list(x)))(u))
    h = 1e-5
    f = jax.jit(lambda x: fwd.unconstrained(list(x)))
    g_fd = np.array([(f(u.at[i].add(h)) - f(u.at[i].add(-h))) / (2 * h) for i in range(3)])
    np.testing.assert_allclose(g_fwd, g_rev, rtol=1e-9)
    np.testing.assert_allclose(g_fwd, g_fd, rtol=1e-6)


@pytest.mark.slow  # compiles the gradient of a 10^5-step trace
def test_gradient_memory_of_a_long_trace():
    """10⁵ steps of HH (1 s at dt = 0.01 ms): the reverse-mode gradient with the automatic
    checkpointing (√n ≈ 316 steps per chunk) compiles to a few MB of temporary memory
    (measured 1.3 MB in float32; 81 MB without checkpointing), and forward mode needs no
    per-step storage at all (2.8 MB, the recorded trace). Limit: well under 1 GB."""
    n, dt = 100_000, 0.01
    inputs = jnp.where(jnp.arange(n) * dt > 100.0, 10.0, 0.0)
    target = jnp.zeros(n)
    assert nj.CheckpointAdjoint().checkpoint_every(n) == 316
    assert nj.CheckpointAdjoint().checkpoint_every(10_000) is None
    assert isinstance(default_adjoint(3), nj.ForwardMode)
    assert isinstance(default_adjoint(17), nj.CheckpointAdjoint)
    for adjoint in (nj.CheckpointAdjoint(), nj.ForwardMode()):
        obj = make_objective(
            nj.HodgkinHuxley(), inputs, target, dt=dt, trainable=hh_conductances,
            adjoint=adjoint,
        )  # fmt: skip
        arrays, static = eqx.partition(obj, eqx.is_array)
        u = obj.to_unconstrained(obj.params0)

        def value_and_grad(arrays, u, static=static):
            return jax.value_and_grad(eqx.combine(arrays, static).unconstrained)(u)

        compiled = jax.jit(value_and_grad).lower(arrays, u).compile()
        memory = compiled.memory_analysis()
        assert memory is not None, "the CPU backend reports memory_analysis()"
        print(f"{type(adjoint).__name__}: temp {memory.temp_size_in_bytes / 1e6:.1f} MB")
        assert memory.temp_size_in_bytes < 100e6  # ≪ 1 GB


# ---------------------------------------------------------------- multi-start and usability


QUIET = nj.NoProgress()
LBFGS = optax.lbfgs()  # one user-given optimiser object: its step compiles once per module


def _lif_problem():
    """A LIF step response (subthreshold, 0.5 nA → 5 mV): V(t) depends on τ and R
    through the analytic 1 − e^(−t/τ), so it is cheap and smooth."""
    dt = 0.1
    inputs = jnp.where(jnp.arange(300) * dt >= 5.0, 0.5, 0.0)[:, None]
    target = nj.simulate(nj.LIF(tau=10.0, r=10.0), inputs, dt=dt).v
    return nj.LIF(tau=15.0, r=6.0), inputs, target, dt


def test_multi_start_is_reproducible_and_keeps_all_histories():
    model, inputs, target, dt = _lif_problem()
    kw = dict(
        dt=dt,
        trainable=lambda m: (m.tau, m.r),
        steps=40,
        patience=None,
        progress_meter=nj.NoProgress(),
    )
    a = fit(model, inputs, target, n_starts=4, key=jax.random.key(1), **kw)
    b = fit(model, inputs, target, n_starts=4, key=jax.random.key(1), **kw)
    c = fit(model, inputs, target, n_starts=4, key=jax.random.key(2), **kw)
    assert a.all_losses.shape == (40, 4) and a.losses.shape == (40,)
    assert a.all_param_history[0].shape == (40, 4)  # steps × starts (τ is a scalar)
    np.testing.assert_array_equal(a.all_losses, b.all_losses)
    assert not np.array_equal(a.initial_params[0], c.initial_params[0])
    # start 0 is the model as given; the others lie within a factor 2 (init_spread)
    tau0 = np.asarray(a.initial_params[0])
    assert tau0[0] == pytest.approx(15.0)
    assert np.all((tau0 > 7.5 - 1e-4) & (tau0 < 30.0 + 1e-4))
    # the best start is the one with the lowest loss, and the result is its best point
    assert a.best_start == int(np.argmin(np.nanmin(a.all_losses, axis=0)))
    assert a.loss == pytest.approx(float(np.nanmin(a.all_losses)), rel=1e-6)
    np.testing.assert_allclose([float(a.params[0]), float(a.params[1])], [10.0, 10.0], rtol=0.05)


def test_progress_early_stopping_and_callback(capsys):
    model, inputs, target, dt = _lif_problem()
    kw = dict(dt=dt, trainable=lambda m: (m.tau, m.r))
    fit(model, inputs, target, steps=30, print_every=10, patience=None, **kw)
    out = capsys.readouterr().out
    assert out.count("fit step") == 4  # steps 1, 10, 20, 30
    assert "loss" in out and "fit: " in out
    fit(model, inputs, target, steps=5, progress_meter=nj.NoProgress(), **kw)
    assert capsys.readouterr().out == ""
    # L-BFGS converges in ~20 steps; early stopping ends it
    r = fit(model, inputs, target, steps=200, progress_meter=nj.NoProgress(),
            optimizer=LBFGS, patience=5, **kw)  # fmt: skip
    assert r.stop_reason is StopReason.PATIENCE and r.n_steps < 200 and r.loss < 1e-6
    # Levenberg–Marquardt (the default for a trace loss) stops at the loss's floor
    r = fit(model, inputs, target, steps=200, progress_meter=nj.NoProgress(), **kw)
    assert r.stop_reason is StopReason.FLOOR and r.n_steps < 30 and r.loss < 1e-6
    stopped = fit(
        model, inputs, target, steps=200, progress_meter=nj.NoProgress(), target_loss=1e-2, **kw
    )
    assert stopped.stop_reason is StopReason.TARGET_LOSS and stopped.loss <= 1e-2
    seen = []
    cb = fit(
        model, inputs, target, steps=50, progress_meter=nj.NoProgress(), **kw,
        callback=lambda info: seen.append(info.step) or info.step == 3,
    )  # fmt: skip
    assert seen == [1, 2, 3] and cb.stop_reason is StopReason.CALLBACK and cb.n_steps == 3


def test_converged_is_honest_and_the_result_is_the_best_point():
    """`converged` needs the fit to go below its start and the gradient at the result to
    be at most `CONVERGED_GTOL` (0.1) of the start's; a fit that never improved on its start says
    so (`StopReason.NO_IMPROVEMENT`, not converged); `best_step` points at the result in
    the history, which later (uphill) steps never replace."""
    model, inputs, target, dt = _lif_problem()
    kw = dict(dt=dt, trainable=lambda m: (m.tau, m.r), progress_meter=nj.NoProgress())
    lbfgs = dict(kw, optimizer=LBFGS, patience=5)
    r = fit(model, inputs, target, steps=200, **lbfgs)
    assert r.converged and r.stop_reason is StopReason.PATIENCE
    assert r.losses[r.best_step] == pytest.approx(r.loss, rel=1e-6)
    assert r.loss == pytest.approx(float(np.nanmin(r.losses)), rel=1e-6)
    assert r.grad_norms[r.best_step] <= CONVERGED_GTOL * r.grad_norms[0]
    # from the truth itself: L-BFGS has nothing to improve on, and cannot tell a minimum
    at_truth = fit(nj.LIF(tau=10.0, r=10.0), inputs, target, steps=50, **lbfgs)
    assert at_truth.stop_reason is StopReason.NO_IMPROVEMENT and not at_truth.converged
    assert at_truth.best_step == 0 and at_truth.loss == pytest.approx(float(at_truth.losses[0]))
    # Levenberg–Marquardt (the default here) certifies it: no damped Gauss–Newton step,
    # down to steepest descent with a vanishing step, lowers the loss
    lm = fit(nj.LIF(tau=10.0, r=10.0), inputs, target, steps=50, **kw)
    assert lm.stop_reason is StopReason.FLOOR and lm.converged and lm.loss < 1e-8
    # cut short while still improving: not converged
    short = fit(model, inputs, target, steps=3, patience=None, **kw)
    assert short.stop_reason is StopReason.STEPS and not short.converged


# ---------------------------------------------------------------- errors before compilation


@pytest.fixture
def no_compile(monkeypatch):
    """Fail if the optimisation step is ever built: errors must come first."""

    def boom(*args, **kwargs):
        raise AssertionError("compiled before validating the inputs")

    monkeypatch.setattr(descent, "_step", boom)
    monkeypatch.setattr(descent, "_init", boom)


def _hh_small():
    inputs = jnp.full((100, 2), 5.0)
    target = jnp.zeros((100, 2))
    return nj.HodgkinHuxley(), inputs, target


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(target=jnp.zeros((100,))), r"target v has shape \(100,\).*\(100, 2\).*missing"),
        (dict(target=jnp.zeros((99, 2))), r"its 99 rows should be .* = 100"),
        (dict(target=jnp.zeros((100, 2)).at[7, 1].set(jnp.nan)), r"1 NaN/inf.*\(7, 1\)"),
        (dict(trainable=lambda m: m.surrogate.slope), r"selects 5.0 \(a float\).*not a floating"),
        (dict(trainable=lambda m: ()), r"selects nothing"),
        (dict(trainable=lambda m: m.surrogate), r"selects nothing"),
        (dict(trainable=lambda m: m.gna), r"Did you mean 'g_na'"),
        (dict(trainable=lambda m: (m.g_na * 2,)), r"must select fields of the model"),
        (dict(loss=SpikeCount()), r"SpikeCount compares the target's spikes.*from_voltage"),
        (dict(constraints=(Positive(),)), r"constraints has 1 entries but trainable selects 2"),
        (dict(n_starts=3), r"pass key=jax.random.key"),
        (dict(optimizer="adam"), r"optax optimiser"),
        (dict(adjoint="backward"), r"adjoint must be an instance of AbstractAdjoint"),
        (dict(progress_meter=False), r"progress_meter must be an instance"),
        (dict(steps=2.5), r"steps must be an integer >= 1, got 2.5"),
        (dict(trainable=lambda m: (m.g_na, m.g_na)), r"selects the same parameter twice"),
        (dict(dt=-0.1), r"dt must be a finite time > 0"),
    ],
    ids=lambda x: str(x)[:40] if isinstance(x, str) else None,
)
def test_bad_inputs_raise_clear_errors_before_compiling(no_compile, change, match):
    model, inputs, target = _hh_small()
    kw = dict(
        dt=0.025, trainable=lambda m: (m.g_na, m.g_k), progress_meter=nj.NoProgress(), target=target
    )
    kw.update(change)
    with pytest.raises((ValueError, TypeError), match=match):
        fit(model, inputs, **kw)


def test_stimulus_inputs_and_recording_targets():
    """A stimulus object is sampled at dt; a Solution target works for spike losses."""
    dt = 0.1
    stim = nj.stimuli.Step(amplitude=2.0, start=10.0, duration=100.0)
    truth = nj.LIF(tau=10.0)
    target = nj.simulate(truth, stim, dt=dt)
    r = fit(
        nj.LIF(tau=12.0), stim, target, dt=dt, trainable=lambda m: m.tau,
        loss=TraceMSE() + 0.1 * SpikeCount(), steps=5, progress_meter=nj.NoProgress(),
    )  # fmt: skip
    assert r.losses.shape == (5,) and np.isfinite(r.loss)


# slow tier: a float64 optimiser step compiled for this one regression test; the fast
# tier keeps dtype handling in tests/test_identifiability.py (Python numbers → float32,
# and → float64 in a float64 model)
@pytest.mark.slow
def test_float32_model_fits_under_x64(x64):
    """Issue 8, item 5: with `jax_enable_x64` on, a float32 model failed in `fit` ("cond
    branches must have equal output types": optax keeps its line-search state in the
    default float64). The optimiser now works in the default dtype and the model keeps
    its own: the fit converges and the fitted model is still float32."""
    f32 = {k: jnp.float32(v) for k, v in dict(r=10.0, v_rest=-65.0, v_reset=-65.0).items()}
    inputs = jnp.full(300, 1.0, dtype=jnp.float32)
    target = nj.simulate(nj.LIF(tau=jnp.float32(10.0), **f32), inputs, dt=0.1)
    assert target.v.dtype == jnp.float32
    r = fit(
        nj.LIF(tau=jnp.float32(12.0), **f32),
        inputs,
        target.v,
        dt=0.1,
        trainable=lambda m: m.tau,
        steps=30,
        progress_meter=nj.NoProgress(),
    )
    assert r.model.tau.dtype == jnp.float32
    # float32 trace: the loss floor is rounding (~1e-10 mV²), τ to ~1e-5 relative
    assert float(r.model.tau) == pytest.approx(10.0, rel=1e-4)


# ---------------------------------------------------------------- the noise check and its restarts


def test_a_fit_far_above_the_noise_says_so():
    """`fit`'s default compares its final trace MSE with the recording's own noise
    (`noise_sd`): a recording the model cannot produce (a LIF step response plus a 3 mV,
    100 Hz sine it has no way to make: 4.5 mV² of it stays) ends far above the noise floor
    (the sine's second differences read as 0.005 mV of noise), and the fit warns and is
    not converged instead of reporting a stationary point as the answer."""
    _, inputs, target, dt = _lif_problem()
    t = dt * np.arange(300)
    v = target + 3.0 * jnp.sin(2 * np.pi * 0.1 * jnp.asarray(t))[:, None]
    with pytest.warns(UserWarning, match="far above the recording's noise"):
        r = fit(nj.LIF(tau=15.0, r=6.0), inputs, v, dt=dt, trainable=lambda m: (m.tau, m.r),
                progress_meter=QUIET)  # fmt: skip
    assert not r.converged and r.loss > 1.0
    # a LIF has no data-driven estimate to restart from: said, not hidden
    assert r.stop_reason is StopReason.ABOVE_NOISE and r.restart_rounds == 0


def test_restarts_from_an_estimate_and_its_covariance():
    """The machinery of `Auto`'s restarts (`_strategies._restart`) on the smooth LIF step
    response: from an 'estimate' (τ, R) = (15, 6) with relative standard errors of 30 %
    (the truth (10, 10) is 1.3 and 1.7 of them away; the draws have spread 3 × that),
    the candidates are ranked by the loss, LM runs from the best one (the step this module's
    LIF fits compiled), the best is kept and
    reaches the truth (float32 rounding: 1e-4). A round under the noise limit ends the
    rounds; an estimate without spread gives nothing to draw from."""
    from neurojax.fitting import make_objective
    from neurojax.fitting._descent import _descend
    from neurojax.fitting._strategies import _restart

    _, inputs, target, dt = _lif_problem()
    obj = make_objective(nj.LIF(tau=15.0, r=6.0), inputs, target, dt=dt,
                         trainable=lambda m: (m.tau, m.r))  # fmt: skip
    estimate = (obj.params0, np.diag([0.3**2, 0.3**2]))

    def descend(u):
        return _descend(obj, LevenbergMarquardt(), u, steps=100, patience=5, rtol=1e-6,
                        progress_meter=QUIET, print_every=100)  # fmt: skip

    settings = Restarts(rounds=3, candidates=8, polished=1)
    d, starts, n_sim, rounds, report = _restart(obj, settings, estimate, 1e-6, descend, QUIET)
    assert rounds == 1 and report.name == "Restarts" and n_sim >= 8
    assert d.best_loss.shape == (1,) and starts[0].shape == (1,)
    best = int(np.argmin(d.best_loss))
    tau, r = (float(x[best]) for x in obj.from_unconstrained(d.best_u))
    np.testing.assert_allclose([tau, r], [10.0, 10.0], rtol=1e-4)
    # the start is the best-ranked candidate, drawn around the estimate
    assert np.all(np.asarray(starts[0]) != 15.0)
    assert _restart(obj, settings, (obj.params0, np.zeros((2, 2))), 1.0, descend, QUIET) is None


# ---------------------------------------------------------------- Python numbers, compilation


@pytest.mark.parametrize("value", [12.0, 12], ids=["float", "int"])
def test_python_number_parameters_are_converted(value):
    """`eqx.tree_at(lambda m: m.tau, model, 12.0)` leaves a Python number where the
    model had an array; `fit` converts it to the model's float dtype (float32 here) and
    fits it (the LIF step response of this module: one compiled step)."""
    _, inputs, target, dt = _lif_problem()
    model = eqx.tree_at(lambda m: m.tau, nj.LIF(tau=15.0, r=6.0), value)
    assert isinstance(model.tau, (int, float))
    result = fit(
        model, inputs, target, dt=dt, trainable=lambda m: (m.tau, m.r), steps=40,
        progress_meter=nj.NoProgress(),
    )  # fmt: skip
    assert result.model.tau.dtype == nj.LIF().r.dtype == jnp.float32
    # float32 trace: LM reaches τ to ~1e-5 relative (see test_fit's float32 test)
    assert float(result.model.tau) == pytest.approx(10.0, rel=1e-3)


def test_a_new_lambda_does_not_recompile_the_fit_step():
    """Two fits of the same problem with different `lambda`s selecting the same fields,
    from different starts: the second compiles nothing (XLA compilations counted through
    `jax.monitoring`; and the jit cache of `fit`'s step does not grow)."""
    _, inputs, target, dt = _lif_problem()
    kw = dict(dt=dt, steps=3, patience=None, progress_meter=nj.NoProgress())
    fit(nj.LIF(tau=14.0, r=7.0), inputs, target, trainable=lambda m: (m.tau, m.r), **kw)

    compiled = []
    active = [True]

    def listener(event, duration, **_):
        # XLA compilations (cheap re-tracing, e.g. of `jax.eval_shape`, is not counted;
        # the suite runs without a persistent compilation cache)
        if active[0] and event == "/jax/core/compile/backend_compile_duration":
            compiled.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        second = fit(
            nj.LIF(tau=8.0, r=12.0), inputs, target, trainable=lambda model: (model.tau, model.r),
            **kw,
        )  # fmt: skip
    finally:
        active[0] = False
        jax.monitoring.unregister_event_duration_listener(listener)
    assert second.n_steps == 3
    assert compiled == [], f"{len(compiled)} compilation(s) for an equal-meaning lambda"
    # the counter does see compilations (a new program, cheap to compile; another
    # selection order would compile a new fit step too, at ~5 CPU-s)
    active[0] = True
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        jax.jit(lambda x: x * 3.0 + 0.5)(jnp.arange(7.0))
    finally:
        active[0] = False
        jax.monitoring.unregister_event_duration_listener(listener)
    assert len(compiled) > 0
    # the selection is stored as key paths, which are hashable and name the fields
    assert second.objective.names == ("tau", "r")
    hash(second.objective.paths)
    if hasattr(descent, "_step") and hasattr(descent._step, "_cached"):
        size = descent._step._cached._cache_size()
        fit(nj.LIF(tau=9.0, r=11.0), inputs, target, trainable=lambda q: (q.tau, q.r), **kw)
        assert descent._step._cached._cache_size() == size
