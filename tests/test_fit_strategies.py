"""Fitting strategies (issue 11): fits that succeed from a bad start.

The scenario of the issue: ONE 60 ms current-clamp sweep of HH with 5 spikes (20 µA/cm²
from 5 to 55 ms, dt = 0.025 ms); `g_na, g_k, g_l` from starts uniform in ±50 % of the
truth (120, 36, 0.3 mS/cm²). Plain trace-MSE descent stalls in local minima from about
half of them. No estimator here is given the truth: it only scores the results.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.fitting import (
    Auto,
    Chain,
    Cull,
    DataDrivenInit,
    GlobalSearch,
    MultipleShooting,
    Plain,
    cma_es,
    conductances_from_voltage,
    fit,
    make_objective,
)
from neurojax.fitting import _descent as descent
from neurojax.fitting import _fit as fit_module

TRUTH = np.array([120.0, 36.0, 0.3])  # g_na, g_k, g_l of NEURON's hh, mS/cm²
DT = 0.025
QUIET = nj.NoProgress()
BAD = dict(g_na=168.0, g_k=18.0, g_l=0.45)  # +40 %, -50 %, +50 %: plain descent stalls


def hh(m):
    """The fitted conductances (a module-level function: repeated fits share compilation)."""
    return (m.g_na, m.g_k, m.g_l)


def hh2(m):
    return (m.g_na, m.g_k)


def g_of(params):
    return np.array([float(p) for p in params])


def sweep(duration=60.0, amp=20.0, on=5.0, off=55.0):
    t = DT * np.arange(int(round(duration / DT)))
    current = jnp.asarray(np.where((t >= on) & (t < off), amp, 0.0)[:, None])
    sol = nj.simulate(nj.HodgkinHuxley(), current, dt=DT)
    return current, sol.v, int(sol.spikes.sum())


@pytest.fixture(scope="module")
def single_sweep():
    current, v, n_spikes = sweep()
    assert n_spikes == 5  # the "~5 spikes"
    return current, v


def random_starts(n=20, seed=0):
    """Starts uniform in ±50 % of the truth, per conductance (independently)."""
    rng = np.random.default_rng(seed)
    return TRUTH * rng.uniform(0.5, 1.5, size=(n, 3))


# ---------------------------------------------------------------- the case


@pytest.mark.slow  # a plain fit run until it stalls
def test_plain_descent_fails_from_a_bad_start(single_sweep):
    """The problem is real: plain L-BFGS on trace MSE (`strategy=None`, i.e. `Plain()`,
    with the optimiser that was the default before Levenberg–Marquardt)
    stops in a local minimum from (168, 18, 0.45) — measured g_na ≈ 102 (−15 %), loss
    ~600 mV². Threshold 5 %: far outside what a converged fit gives (< 0.1 %)."""
    current, v = single_sweep
    r = fit(nj.HodgkinHuxley(**BAD), current, v, dt=DT, trainable=hh, strategy=None,
            optimizer=descent._lbfgs(), patience=5, progress_meter=QUIET)  # fmt: skip
    err = g_of(r.params) / TRUTH - 1
    print("plain L-BFGS from", BAD, "->", g_of(r.params), "loss", r.loss)
    assert r.strategy == Plain()
    assert np.max(np.abs(err)) > 0.05
    assert r.loss > 1.0  # mV²: the traces do not match
    assert [s.name for s in r.stages] == ["gradient"]
    # the default optimiser for this loss, Levenberg–Marquardt, gets there from the same
    # start without any strategy (measured: 3e-7); 1 %: the criterion
    lm = fit(nj.HodgkinHuxley(**BAD), current, v, dt=DT, trainable=hh, strategy=None,
             progress_meter=QUIET)  # fmt: skip
    np.testing.assert_allclose(g_of(lm.params), TRUTH, rtol=0.01)


@pytest.mark.slow  # 20 starts, each a full default fit
def test_default_recovers_hh_from_19_of_20_random_starts(single_sweep):
    """Issue 11's requirement: g_na, g_k, g_l to 1 % from >= 19 of 20 random starts in
    ±50 %, with `fit`'s defaults (strategy Auto → DataDrivenInit, then L-BFGS).

    Affordable in CI: the default fit's gradient stage starts from the data-driven
    estimate, which the strategy computes from the recording alone (the start enters
    only through floating-point rounding). So each of the 20 fits is (a) its own
    estimate from its own start model, exactly as the strategy computes it, and (b) its
    own L-BFGS descent from that estimate — the 20 descents run batched (vmapped) through
    `fit`'s own gradient loop, each independent. One complete `fit` call from start 0
    checks that this is what `fit` does (same estimate, same answer)."""
    current, v = single_sweep
    starts = random_starts()
    t0 = time.perf_counter()
    estimates = np.array(
        [g_of(hh(conductances_from_voltage(nj.HodgkinHuxley(g_na=a, g_k=b, g_l=c), v,
                                           current, DT, trainable=hh)))
         for a, b, c in starts]
    )  # fmt: skip
    # the estimate does not depend on the start (to rounding; float32)
    np.testing.assert_allclose(estimates, np.broadcast_to(estimates[0], estimates.shape),
                               rtol=1e-4)  # fmt: skip
    # the dt = 0.025 recording is the solver's trajectory: estimate a few % off (see
    # test_fit_data_driven), well inside the basin
    np.testing.assert_array_less(np.abs(estimates / TRUTH - 1), 0.1)

    obj = make_objective(nj.HodgkinHuxley(), current, v, dt=DT, trainable=hh)
    u = jax.vmap(obj.to_unconstrained)(tuple(jnp.asarray(estimates[:, j]) for j in range(3)))
    u = descent._strong([x.astype(jnp.result_type(float)) for x in u])
    # the default fit's gradient stage: default L-BFGS, default (AUTO) patience
    d = descent._descend(
        obj,
        fit_module.default_optimizer(),
        u,
        steps=500,
        patience=5,
        rtol=1e-6,
        progress_meter=QUIET,
        print_every=100,
        progress_resets=True,
    )
    fitted = np.stack([np.asarray(x) for x in jax.vmap(obj.from_unconstrained)(d.best_u)], 1)
    err = fitted / TRUTH - 1
    ok = np.all(np.abs(err) < 0.01, axis=1)  # the 1 %
    seconds = time.perf_counter() - t0
    print(f"20 starts: {ok.sum()}/20 within 1 %; max |err| {np.abs(err).max():.2e}; "
          f"{seconds:.1f} s for all 20 (batched), {len(d.losses)} L-BFGS steps")  # fmt: skip
    assert ok.sum() >= 19

    a, b, c = starts[0]
    t0 = time.perf_counter()
    r = fit(nj.HodgkinHuxley(g_na=a, g_k=b, g_l=c), current, v, dt=DT, trainable=hh,
            progress_meter=QUIET)  # fmt: skip
    print(f"one default fit from {starts[0]}: {g_of(r.params)}, {time.perf_counter() - t0:.1f} s,"
          f" {r.n_simulations} simulations, stages {[s.name for s in r.stages]}")  # fmt: skip
    assert r.strategy == Auto()
    assert [s.name for s in r.stages] == ["Auto → DataDrivenInit", "gradient"]
    start0 = np.array([np.asarray(p)[0] for p in jax.tree.leaves(r.initial_params)])
    np.testing.assert_allclose(start0, estimates[0], rtol=1e-4)  # start 0 = the estimate
    np.testing.assert_allclose(g_of(r.params), fitted[0], rtol=1e-3)  # same descent
    print("losses: start", r.losses[0], "best", r.loss, "at step", r.best_step,
          "gradient norms: start", r.grad_norms[0], "best", r.grad_norms[r.best_step],
          "last 10", r.losses[-10:])  # fmt: skip
    assert r.converged and r.loss < 1e-3  # mV²
    # the estimate's consistency with the solver (Newton iterations) and its loss, then
    # the descent
    assert r.n_simulations == r.stages[0].n_simulations + r.n_evaluations
    assert 2 <= r.stages[0].n_simulations <= 1 + 8


@pytest.mark.slow  # tests/test_fit_data_driven.py checks the estimate in the fast tier
def test_data_driven_init_alone_within_5_percent(single_sweep):
    """`DataDrivenInit` puts start 0 at the NNLS estimate, whatever the start: within 5 %
    of the truth on noise-free data (measured −2 %, −2 %, −6 %... on the solver's own
    trajectory; 5 % on g_na, g_k and 10 % on the leak, the least constrained, whose
    estimate carries the solver's O(dt²) error). With n_starts > 1 the others are drawn
    around it."""
    current, v = single_sweep
    r = fit(nj.HodgkinHuxley(**BAD), current, v, dt=DT, trainable=hh, strategy=DataDrivenInit(),
            steps=1, progress_meter=QUIET)  # fmt: skip
    start0 = np.array([float(np.asarray(p)[0]) for p in jax.tree.leaves(r.initial_params)])
    print("estimate", start0, start0 / TRUTH - 1)
    np.testing.assert_array_less(np.abs(start0 / TRUTH - 1), [0.05, 0.05, 0.10])
    assert r.stages[0].name == "DataDrivenInit" and 2 <= r.stages[0].n_simulations <= 9
    assert r.start_losses.shape == (1,)

    # with several starts (the stage alone, without the descent): start 0 is the
    # estimate, the others are drawn around it (within init_spread = 2), or, given
    # explicitly, kept
    from neurojax.fitting._strategies import _Context, _StrategyState

    obj = make_objective(nj.HodgkinHuxley(**BAD), current, v, dt=DT, trainable=hh)
    ctx = _Context(
        build=lambda m: make_objective(m, current, v, dt=DT, trainable=hh),
        n_starts=4,
        key=jax.random.key(0),
        init_spread=2.0,
        progress_meter=QUIET,
    )
    st = DataDrivenInit()._run(ctx, _StrategyState(obj=obj, starts=None, stages=[]))
    starts = np.stack([np.asarray(x) for x in st.starts], 1)
    np.testing.assert_allclose(starts[0], start0, rtol=1e-5)
    assert np.all((starts[1:] > start0 / 2 * (1 - 1e-6)) & (starts[1:] < start0 * 2 * (1 + 1e-6)))
    given = [jnp.full((4,), p) for p in BAD.values()]
    st = DataDrivenInit()._run(ctx, _StrategyState(obj=obj, starts=given, stages=[]))
    starts = np.stack([np.asarray(x) for x in st.starts], 1)
    np.testing.assert_allclose(starts[0], start0, rtol=1e-5)
    np.testing.assert_allclose(starts[1:], np.broadcast_to(list(BAD.values()), (3, 3)), rtol=1e-6)

    # where it does not apply it says so: Auto goes on from the start, required raises
    lif_in = jnp.full((200, 1), 0.5)
    lif_v = nj.simulate(nj.LIF(tau=10.0), lif_in, dt=0.1).v
    lines = []

    class Collect(nj.NoProgress):
        def write(self, line):
            lines.append(line)

    r = fit(nj.LIF(tau=15.0), lif_in, lif_v, dt=0.1, trainable=lambda m: m.tau, steps=3,
            progress_meter=Collect())  # fmt: skip
    assert any("not applicable" in line for line in lines)
    assert r.stages[0].note.startswith("skipped")
    with pytest.raises(ValueError, match="DataDrivenInit does not apply"):
        fit(nj.LIF(tau=15.0), lif_in, lif_v, dt=0.1, trainable=lambda m: m.tau, steps=3,
            strategy=DataDrivenInit(required=True), progress_meter=QUIET)  # fmt: skip
    with pytest.raises(TypeError, match="strategy must be an instance"):
        fit(nj.LIF(tau=15.0), lif_in, lif_v, dt=0.1, trainable=lambda m: m.tau,
            strategy="data-driven")  # fmt: skip


@pytest.mark.slow  # a multiple-shooting fit to convergence
def test_multiple_shooting_recovers_where_plain_fails(single_sweep):
    """From the start where plain descent stalls (test above), multiple shooting — 12
    windows of 5 ms each started from the recorded voltage, continuity tightened
    0 → 1 → 10, then the plain polish — recovers the truth to 1 % (measured < 0.1 %)."""
    current, v = single_sweep
    r = fit(nj.HodgkinHuxley(**BAD), current, v, dt=DT, trainable=hh,
            strategy=MultipleShooting(), progress_meter=QUIET)  # fmt: skip
    err = g_of(r.params) / TRUTH - 1
    print("shooting from", BAD, "->", g_of(r.params), r.stages)
    np.testing.assert_array_less(np.abs(err), 0.01)
    assert [s.name for s in r.stages] == ["MultipleShooting", "gradient"]
    assert r.stages[0].n_simulations > 0

    # the windows are one vmapped simulation; at the truth, noise-free, each window
    # reproduces the recording (error = the gate reconstruction's, ≪ 1 mV)
    from neurojax.fitting._strategies import _Shooting, _shooting_problem

    obj = make_objective(nj.HodgkinHuxley(), current, v, dt=DT, trainable=hh)
    vv, cc, rows, length, names = _shooting_problem(obj, 12)
    sh = _Shooting(base=obj, weight=jnp.asarray(1.0), v=vv, current=cc, rows=rows,
                   length=length, gate_names=names)  # fmt: skip
    pred, data, _, _ = sh.windows(obj.params0)
    assert pred.shape == (12, length, 1)
    rms, worst = float(jnp.sqrt(jnp.mean((pred - data) ** 2))), float(jnp.max(jnp.abs(pred - data)))
    print(f"windows at the truth: rms {rms:.3g} mV, max {worst:.3g} mV")
    # the gates are integrated with V held at each step's midpoint, not by the solver's
    # own update: measured max 0.9 mV on a spike's upstroke (~100 mV/ms, so a shift of
    # < 0.01 ms), far less elsewhere. 2 mV max, 0.2 mV rms: a window gone wrong is off
    # by tens of mV.
    assert worst < 2.0 and rms < 0.2
    with pytest.raises(ValueError, match="too few"):
        _shooting_problem(obj, 5000)


@pytest.mark.slow  # CMA-ES generations then a polish
def test_global_search_finds_the_basin_from_a_far_start():
    """CMA-ES + polish on a 2-parameter problem (g_na, g_k; one 30 ms sweep, 3 spikes)
    from (240, 15) — twice and half the truth — where plain descent stalls (measured:
    g_na → 0.01). 1 %: the basin found and polished (measured < 0.02 %)."""
    current, v, n_spikes = sweep(duration=30.0, on=2.0, off=28.0)
    assert n_spikes == 3
    far = nj.HodgkinHuxley(g_na=240.0, g_k=15.0)
    plain = fit(far, current, v, dt=DT, trainable=hh2, strategy=Plain(),
                optimizer=descent._lbfgs(), patience=5, progress_meter=QUIET)  # fmt: skip
    assert abs(float(plain.params[0]) / 120 - 1) > 0.05  # plain L-BFGS fails from here
    r = fit(far, current, v, dt=DT, trainable=hh2, strategy=GlobalSearch(generations=40),
            progress_meter=QUIET)  # fmt: skip
    print("CMA-ES from (240, 15):", g_of(r.params), r.stages)
    np.testing.assert_allclose(g_of(r.params), TRUTH[:2], rtol=0.01)
    cma = r.stages[0]
    assert cma.name == "GlobalSearch" and cma.n_simulations % 16 == 0  # whole generations
    assert r.n_simulations == cma.n_simulations + r.n_evaluations


def test_cma_es_on_analytic_functions():
    """The CMA-ES itself: a shifted 5-D sphere to 1e-12 and the 2-D Rosenbrock valley to
    1e-8 (its minimum (1, 1), value 0) from (−1, 1); Hansen's defaults."""
    xs, fs = cma_es(lambda x: np.sum((x - 3.0) ** 2, axis=1), np.zeros(5), 1.0, generations=200)
    assert fs.min() < 1e-12
    np.testing.assert_allclose(xs[np.argmin(fs)], 3.0, atol=1e-5)
    rosen = lambda x: 100 * (x[:, 1] - x[:, 0] ** 2) ** 2 + (1 - x[:, 0]) ** 2  # noqa: E731
    xs, fs = cma_es(rosen, np.array([-1.0, 1.0]), 0.5, generations=400)
    assert fs.min() < 1e-8
    np.testing.assert_allclose(xs[np.argmin(fs)], [1.0, 1.0], atol=1e-3)


def test_cull_freezes_bad_starts():
    """LIF (τ, R) from 6 starts spread a factor 5: after 3 steps, starts whose loss is more
    than 3× the best are frozen — parameters constant from then on, excluded from the
    budget — and the best still converges (τ = R = 10 to 1 %)."""
    inputs, target, kw = _lif_multi_start()
    r = fit(nj.LIF(tau=15.0, r=6.0), inputs, target, cull=Cull(after=3, factor=3.0, every=100),
            **kw)  # fmt: skip
    free = fit(nj.LIF(tau=15.0, r=6.0), inputs, target, **kw)
    culled = r.culled
    print("culled", culled, "losses at step 3", r.all_losses[2])
    assert culled.any() and not culled.all()
    step3 = r.all_losses[2]
    np.testing.assert_array_equal(culled, step3 > 3.0 * step3.min())
    tau = np.asarray(r.all_param_history[0])
    # frozen after the cull at step 3: every later step evaluates the same parameters
    assert np.all(tau[4:, culled] == tau[3:4, culled])
    assert np.all(np.diff(tau[3:, ~culled], axis=0) != 0)
    assert r.n_evaluations < free.n_evaluations
    assert not culled[r.best_start]
    np.testing.assert_allclose(g_of(r.params), [10.0, 10.0], rtol=0.01)


def _lif_multi_start():
    """LIF (τ, R) step response, 6 starts of Adam: the setting `test_cull_freezes_bad_starts`
    and `test_chain_runs_its_stages_in_turn_and_floats_are_fitted` share (one compiled
    step)."""
    dt = 0.1
    inputs = jnp.where(jnp.arange(300) * dt >= 5.0, 0.5, 0.0)[:, None]
    target = nj.simulate(nj.LIF(tau=10.0, r=10.0), inputs, dt=dt).v
    kw = dict(dt=dt, trainable=lambda m: (m.tau, m.r), steps=40, patience=None, n_starts=6,
              key=jax.random.key(3), init_spread=5.0, progress_meter=QUIET,
              optimizer=descent._adam(40, 0.1))  # fmt: skip
    return inputs, target, kw


def test_chain_runs_its_stages_in_turn_and_floats_are_fitted():
    """The fast tier's check of `Chain` (the HH version with `DataDrivenInit` is the slow
    test below; tests/test_demo.py fits HH with the default `Auto` in the fast tier): on
    the LIF step response, `Chain(Plain(), GlobalSearch(...))` reports its stages in
    order, each CMA-ES generation is a whole population of simulations, its best points
    start the descent, and a Python float left by `eqx.tree_at` is fitted like an array:
    it moves from 15 to the truth 10 (Adam's 40 steps from the search's points, measured
    5.8 % and 2.9 % off for τ and R; asserted 10 %: convergence itself is checked by the
    cull test below and tests/test_fit.py)."""
    inputs, target, kw = _lif_multi_start()
    model = eqx.tree_at(lambda m: m.tau, nj.LIF(tau=15.0, r=6.0), 15.0)
    assert isinstance(model.tau, float)
    r = fit(model, inputs, target, strategy=Chain(Plain(), GlobalSearch(generations=2,
            population=4)), **kw)  # fmt: skip
    assert [s.name for s in r.stages] == ["GlobalSearch", "gradient"]
    assert r.stages[0].n_simulations == 8
    np.testing.assert_allclose(g_of(r.params), [10.0, 10.0], rtol=0.1)
    with pytest.raises(TypeError, match="Chain takes strategies"):
        Chain(Plain(), "cma")


@pytest.mark.slow  # an HH estimate and LM step compiled; the LIF Chain test above is fast
def test_chain_and_float_leaves(single_sweep):
    """`Chain(a, b)` runs the stages in turn (reported in order); a Python-float leaf left
    by `eqx.tree_at(lambda m: m.g_na, model, 168.0)` is fitted like an array."""
    current, v = single_sweep
    model = eqx.tree_at(lambda m: m.g_na, nj.HodgkinHuxley(g_k=18.0, g_l=0.45), 168.0)
    assert isinstance(model.g_na, float)
    r = fit(model, current, v, dt=DT, trainable=hh, steps=2, progress_meter=QUIET,
            strategy=Chain(Plain(), DataDrivenInit()))  # fmt: skip
    assert [s.name for s in r.stages] == ["DataDrivenInit", "gradient"]
    np.testing.assert_array_less(np.abs(g_of(r.params) / TRUTH - 1), [0.05, 0.05, 0.1])
    with pytest.raises(TypeError, match="Chain takes strategies"):
        Chain(Plain(), "cma")


@pytest.mark.slow  # fits on two noise seeds
def test_noise_limited_spread(single_sweep):
    """With 1 mV white measurement noise the default fit's estimates are within the
    noise-limited spread. That spread is the Gauss–Newton (Fisher) covariance of the
    least-squares estimate, Σ = σ² (JᵀJ)⁻¹, J = ∂v_pred/∂(g_na, g_k, g_l) at the fit
    (forward mode), σ = 1 mV the known noise: the Cramér–Rao bound, which least squares
    attains for Gaussian noise. Each error must be within 4 standard deviations (a
    false alarm has probability ~6e-5 per parameter), for two noise seeds; and the
    bound must not be trivially wide (every sd < 2 % of the value)."""
    current, v = single_sweep
    for seed in (0, 1):
        noisy = v + jax.random.normal(jax.random.key(seed), v.shape)
        a, b, c = random_starts(1, seed=seed + 10)[0]
        r = fit(nj.HodgkinHuxley(g_na=a, g_k=b, g_l=c), current, noisy, dt=DT, trainable=hh,
                progress_meter=QUIET)  # fmt: skip
        p = jnp.asarray(g_of(r.params), dtype=v.dtype)
        obj = r.objective
        jac = jax.jacfwd(lambda q, obj=obj: obj.simulate(tuple(q)).v.ravel())(p)
        jac = np.asarray(jac, dtype=float)
        sd = np.sqrt(np.diag(np.linalg.inv(jac.T @ jac)))  # σ = 1 mV
        z = (np.asarray(p) - TRUTH) / sd
        print(f"seed {seed}: fit {np.asarray(p)}, sd {sd}, z {z}, loss {r.loss:.3f}")
        assert abs(r.loss - 1.0) < 0.1  # mV²: the residual is the noise (2400 samples)
        np.testing.assert_array_less(np.abs(z), 4.0)
        np.testing.assert_array_less(sd / TRUTH, 0.02)
