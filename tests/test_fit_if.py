"""Integrate-and-fire models fitted to spiking voltage traces (issue #19): the
spike-clamped estimate (`neurojax.fitting._spike_clamp`, `SpikeClampedInit`, `Auto`'s
default for reset models) and the recovery it gives.

Success rates over 20 starts per setting are measured by
`validation/fit_success_rates.py --models lif adex izhikevich` (docs/fitting.md,
"Integrate-and-fire models from spiking sweeps"); the slow tests here repeat single
fits of each model end to end."""

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import pytest

import neurojax as nj
from neurojax.fitting import SpikeClampedInit, StopReason
from neurojax.fitting._adex_estimate import adex_from_voltage
from neurojax.fitting._spike_clamp import (
    SpikeClamped,
    _qp,
    constrained_step,
    constrained_timing,
    force_rows,
    record,
    record_g,
    reset_steps,
)
from neurojax.fitting._transforms import Unconstrained

QUIET = nj.NoProgress()


def _steps(dt, n, on, off, amplitudes):
    t = dt * np.arange(n)
    step = ((t >= on) & (t < off)).astype(np.float32)
    return jnp.asarray(np.stack([a * step for a in amplitudes], 1))


def _clamped_inputs(current, v, spikes, force=None):
    return {"current": current, "spikes": jnp.asarray(spikes), "v": jnp.asarray(v),
            "force": jnp.zeros_like(v) if force is None else jnp.asarray(force)}  # fmt: skip


# ------------------------------------------------------------------ the pieces (fast)


def test_reset_steps_finds_the_spikes_of_a_noisy_trace():
    """The recorded resets are exactly the simulated spikes: LIF (15 mV resets) and
    Izhikevich (95 mV), noise-free and with 1 mV noise (the threshold, 6·√2·σ̂ ≈ 8.5 mV,
    is crossed by white noise with P ≈ 1e-9 per sample); a subthreshold trace has none."""
    for model, current in ((nj.LIF(), _steps(0.1, 600, 5, 55, [2.0, 3.0])),
                           (nj.Izhikevich(), _steps(0.1, 1000, 10, 90, [10.0]))):  # fmt: skip
        sol = nj.simulate(model, current, dt=0.1)
        assert sol.spikes.sum() >= 3
        for noise in (0.0, 1.0):
            v = sol.v + noise * jax.random.normal(jax.random.key(0), sol.v.shape)
            np.testing.assert_array_equal(reset_steps(v), np.asarray(sol.spikes))
    sub = nj.simulate(nj.LIF(), _steps(0.1, 300, 5, 25, [1.0]), dt=0.1).v
    assert not reset_steps(sub).any()


def test_spike_clamped_run_is_the_free_run_at_the_truth():
    """On the model's own data the clamped simulation is the free one bit for bit (same
    solver, same steps), the threshold violations `h` are 0, and teacher forcing at the
    truth changes nothing (the forced values are what the model produced): AdEx, with
    its hidden adaptation current and exponential upswing."""
    current = _steps(0.1, 1500, 10, 140, [0.8, 1.2])
    sol = nj.simulate(nj.AdEx(), current, dt=0.1)
    spikes = reset_steps(sol.v)
    assert spikes.sum() >= 4
    for force in (None, force_rows(spikes, 1)):
        out = nj.simulate(SpikeClamped(nj.AdEx()), _clamped_inputs(current, sol.v, spikes, force),
                          dt=0.1, saveat=nj.SaveAt(fn=record))  # fmt: skip
        v, h = out.states
        np.testing.assert_array_equal(np.asarray(v), np.asarray(sol.v))
        assert float(jnp.max(h)) == 0.0


def test_spike_clamped_stays_finite_far_from_the_truth():
    """AdEx at v_t −50 %, Δ_T −50 % and rest above v_t (a ±50 % start): the upswing's
    exponential overflows float32 in the free model; the clamped one limits |dV/dt|
    (`RATE_LIMIT`) and keeps the derivatives finite (`where`, not min/max/relu: a 0/1
    mask times an infinite tangent is NaN)."""
    current = _steps(0.1, 300, 5, 28, [1.5])
    truth = nj.simulate(nj.AdEx(), current, dt=0.1)
    spikes = reset_steps(truth.v)
    far = nj.AdEx(v_t=-75.6, delta_t=1.0, v_rest=-45.0)
    inputs = _clamped_inputs(current, truth.v, spikes)

    def loss(p):
        m = nj.AdEx(v_t=p[0], delta_t=p[1], v_rest=p[2])
        v, h = nj.simulate(SpikeClamped(m), inputs, dt=0.1, saveat=nj.SaveAt(fn=record)).states
        return jnp.mean((v - truth.v) ** 2) + jnp.mean(h**2)

    p = jnp.array([far.v_t, far.delta_t, far.v_rest])
    assert np.isfinite(float(loss(p)))
    assert np.all(np.isfinite(np.asarray(jax.jacfwd(loss)(p))))


def test_spike_clamped_refuses_a_model_without_resets():
    with pytest.raises(TypeError, match="integrate-and-fire model or Izhikevich"):
        SpikeClamped(nj.HodgkinHuxley())
    current = _steps(0.1, 200, 5, 15, [1.0])
    v = nj.simulate(nj.LIF(), current, dt=0.1).v
    with pytest.raises(ValueError, match="SpikeClampedInit does not apply.*no spikes"):
        nj.fit(nj.LIF(tau=12.0), current, v, dt=0.1, trainable=lambda m: m.tau,
               strategy=SpikeClampedInit(required=True), progress_meter=QUIET)  # fmt: skip


ADEX_FIELDS = ("tau", "r", "a", "b", "tau_w", "delta_t", "v_t", "v_rest")


def test_adex_estimate_is_exact_on_a_noise_free_trace():
    """The data-driven AdEx estimate (variable projection on the simulator's own step,
    no simulation) recovers all eight parameters and `v_reset` from a noise-free trace
    (two sweeps, 4 + 9 spikes). Tolerances from float32 rounding: on the same trace
    simulated in float64 the estimate is exact to 4e-9 (the method has no bias), in
    float32 it is off by ≤ 8e-6 (τ_w) and 3e-4 (`a`, whose current a·(V − E_L) is a few
    pA: the recording's rounding, ~4e-6 mV per sample, is the floor); 1e-4 and 1e-3
    leave a 3-10× margin."""
    current = _steps(0.1, 1500, 10, 140, [0.8, 1.2])
    truth = nj.AdEx()
    sol = nj.simulate(truth, current, dt=0.1)
    assert sol.spikes.sum() >= 10
    est, info = adex_from_voltage(sol.v, current, 0.1)
    assert info["window"] == 1  # noise-free: one-step regression
    for name in ADEX_FIELDS + ("v_reset",):
        rtol = 1e-3 if name == "a" else 1e-4
        np.testing.assert_allclose(est[name], float(getattr(truth, name)), rtol=rtol, err_msg=name)
    # E_L as it enters w (a free coefficient) agrees with the leak's: 1e-3 for the same
    # reason as `a` (it is R·a·E_L / R·a)
    np.testing.assert_allclose(info["v_rest_from_w"], float(truth.v_rest), rtol=1e-3)


def test_adex_estimate_refuses_what_it_cannot_use():
    current = _steps(0.1, 300, 5, 25, [0.2])
    v = nj.simulate(nj.AdEx(), current, dt=0.1).v
    with pytest.raises(ValueError, match="no spike"):
        adex_from_voltage(v, current, 0.1)
    with pytest.raises(ValueError, match="same shape"):
        adex_from_voltage(v, current[:-1], 0.1)
    # a NaN row or a bad dt used to end in "no (Δ_T, τ_w) on the grid ...", blaming the trace
    bad = np.array(v)
    bad[50] = np.nan
    with pytest.raises(ValueError, match="voltage has NaN"):
        adex_from_voltage(bad, current, 0.1)
    for dt in (0.0, float("nan")):
        with pytest.raises(ValueError, match="dt must be > 0"):
            adex_from_voltage(v, current, dt)


# ------------------------------------------------------------------ recovery


# slow tier: compiles the three clamped LM stages and the final one (~20 CPU-s); the
# pieces above keep the clamped simulation covered in the fast tier
@pytest.mark.slow
def test_lif_recovered_from_a_spiking_sweep_with_the_default():
    """LIF `tau, r, v_rest` from one spiking sweep (3 spikes), noise-free, started at
    (−45 %, +40 %, −40 %) — where plain LM on the trace MSE ends in a wrong piece (the
    held-out check, docs/fitting.md: 58 % off) — with `fit`'s defaults: the clamped
    stages find the truth, the final descent confirms it, converged. 1e-4: float32
    rounding of the solution (measured ≤ 3e-7)."""
    current = _steps(0.1, 400, 2, 38, [2.5])
    truth = nj.LIF()
    v = nj.simulate(truth, current, dt=0.1).v
    r = nj.fit(nj.LIF(tau=5.5, r=14.0, v_rest=-39.0), current, v, dt=0.1,
               trainable=lambda m: (m.tau, m.r, m.v_rest), progress_meter=QUIET)  # fmt: skip
    print(r, r.stages)
    np.testing.assert_allclose([float(x) for x in r.params], [10.0, 10.0, -65.0], rtol=1e-4)
    assert r.stages[0].name == "Auto → SpikeClampedInit"
    assert r.loss < 1e-6 and r.converged


def _noisy_fit(model, start, current, fields, seed=0):
    sol = nj.simulate(model, current, dt=0.1)
    v = sol.v + jax.random.normal(jax.random.key(seed), sol.v.shape)  # 1 mV
    r = nj.fit(start, current, v, dt=0.1, trainable=lambda m: tuple(getattr(m, f) for f in fields),
               progress_meter=QUIET)  # fmt: skip
    truth = np.array([float(getattr(model, f)) for f in fields])
    rel = np.array([float(x) for x in r.params]) / truth - 1
    truth_loss = float(jnp.mean((sol.v - v) ** 2))
    print(r, r.stages, rel, truth_loss)
    return r, rel, truth_loss


# slow tier: one Izhikevich fit of 3000 steps × 2 sweeps (~15 s with compilation); the
# fast tests above cover the pieces and a LIF recovery
@pytest.mark.slow
def test_izhikevich_regular_spiking_recovered_with_noise():
    """Izhikevich regular spiking `a, b, c, d` from two 1 mV-noisy sweeps (6 and 10; 4
    and 7 spikes), started at (+40 %, −45 %, +30 %, −50 %): within 2 % (measured ≤ 0.4 %;
    the 20-start study: docs/fitting.md), the free model fires at the recorded steps (its
    loss within 5 % of the truth's, which is σ² ± 2 % for 6000 samples), converged."""
    current = _steps(0.1, 3000, 10, 290, [6.0, 10.0])
    start = nj.Izhikevich(a=0.028, b=0.11, c=-84.5, d=4.0)
    r, rel, truth_loss = _noisy_fit(nj.Izhikevich(), start, current, ("a", "b", "c", "d"))
    assert np.all(np.abs(rel) < 0.02), rel
    assert r.loss < 1.05 * truth_loss
    assert r.converged and r.stop_reason is not StopReason.ABOVE_NOISE


# slow tier: one AdEx fit of 4000 steps × 2 sweeps, 8 parameters (~40 s)
@pytest.mark.slow
def test_adex_brette_gerstner_recovered_noise_free():
    """AdEx with Brette & Gerstner's (2005) parameters, all eight subthreshold and
    adaptation parameters (τ, R, a, b, τ_w, Δ_T, V_T, E_L) from two sweeps (0.8, 1.2 nA;
    7 and 18 spikes), started 11–48 % off in every one: recovered to 1e-3 (float32;
    measured ≤ 1e-5) — plain descent on the trace MSE ended 50 % off (docs/fitting.md,
    held-out checks)."""
    current = _steps(0.1, 4000, 20, 380, [0.8, 1.2])
    fields = ("tau", "r", "a", "b", "tau_w", "delta_t", "v_t", "v_rest")
    truth = nj.AdEx()
    t = np.array([float(getattr(truth, f)) for f in fields])
    factors = np.array([1.14, 0.77, 0.54, 0.52, 1.31, 1.41, 1.11, 1.23])
    start = nj.AdEx(**{f: float(x) for f, x in zip(fields, t * factors, strict=True)})
    v = nj.simulate(truth, current, dt=0.1).v
    r = nj.fit(start, current, v, dt=0.1, trainable=lambda m: tuple(getattr(m, f) for f in fields),
               progress_meter=QUIET)  # fmt: skip
    print(r, r.stages)
    np.testing.assert_allclose([float(x) for x in r.params], t, rtol=1e-3)


def _adex_fit(start_factors, noise, seed, current=None):
    current = _steps(0.1, 4000, 20, 380, [0.8, 1.2]) if current is None else current
    truth = nj.AdEx()
    t = np.array([float(getattr(truth, f)) for f in ADEX_FIELDS])
    start = nj.AdEx(**{f: float(x) for f, x in zip(ADEX_FIELDS, t * start_factors, strict=True)})
    clean = nj.simulate(truth, current, dt=0.1).v
    v = clean + noise * jax.random.normal(jax.random.key(seed), clean.shape)
    r = nj.fit(start, current, v, dt=0.1,
               trainable=lambda m: tuple(getattr(m, f) for f in ADEX_FIELDS),
               progress_meter=QUIET)  # fmt: skip
    p = np.array([float(x) for x in r.params])
    print(r, r.stages, p / t - 1)
    return r, p, t, float(jnp.mean((clean - v) ** 2))


# slow tier: one AdEx fit, 4000 steps × 2 sweeps, 8 parameters (~30 CPU-s)
@pytest.mark.slow
def test_adex_start_with_rest_above_threshold_recovered_through_the_estimate():
    """A ±50 % start of the success-rate study (docs/fitting.md) whose free AdEx
    overflowed before the data-driven estimate (`FloatingPointError`: V_T −35 % puts
    it 2 mV below E_L +10 %) — the estimate, screened against it by the spike-clamped
    MSE, replaces it, and the clamped stages and final descent recover all eight to
    1e-3 (float32; measured ≤ 1e-5), converged."""
    r, p, t, _ = _adex_fit(np.array([1.37, 1.26, 1.24, 1.23, 0.94, 0.78, 1.35, 1.10]), 0.0, 0)
    assert "data-driven estimate" in r.stages[0].note and "kept" in r.stages[0].note
    np.testing.assert_allclose(p, t, rtol=1e-3)
    assert r.converged


# slow tier: one AdEx fit with 1 mV noise plus its identifiability (~40 CPU-s)
@pytest.mark.slow
def test_adex_noisy_fit_says_converged_only_at_the_noise_limited_estimate():
    """The fit counted last session as "failed, said converged" (start 16 of the 1 mV
    study, voltages ±10 %: Δ_T 2.02 % off, loss 0.993 mV²) is the least-squares
    estimate, and `converged` says so honestly: its loss is below the truth's on the same
    noisy trace (no parameter set explains this recording better — not a wrong minimum),
    and by the likelihood-ratio test the truth is inside its 99 % confidence region:
    n·(L(truth) − L(fit))/σ² = 14 (n = 8000 rows, σ = 1 mV) against χ²(8, 0.99) = 20.09.
    Δ_T is ~2.2 of its standard errors (0.9 %) off, along the sloppiest direction (Δ_T
    +0.93, τ −0.28, a +0.19); the Wald form of the same test, (p̂ − p)ᵀF(p̂ − p) with the
    Fisher matrix at the fit, reads 29 (measured): its linearisation overstates the
    distance here. The 2 % tolerance was the wrong yardstick for Δ_T at 1 mV; the study
    counts such fits by the likelihood ratio (validation/fit_success_rates.py)."""
    factors = 1 + np.array([0.186, -0.186, -0.176, -0.423, -0.081, -0.026, 0.098, -0.035])
    r, p, t, truth_loss = _adex_fit(factors, 1.0, 16)
    assert r.converged and r.stop_reason is not StopReason.ABOVE_NOISE
    lr = 8000 * (truth_loss - r.loss) / 1.0**2
    assert 0 <= lr <= 20.09


# ------------------------------------------- the constrained spike-timed stage (fast)


def _constraints(model, current, v, spikes, margin):
    inputs = _clamped_inputs(current, v, spikes)
    inputs["margin"] = jnp.full(v.shape, margin, v.dtype)
    out = nj.simulate(SpikeClamped(model), inputs, dt=0.1, saveat=nj.SaveAt(fn=record_g))
    return out.states[1]


def test_spike_time_constraints_say_whether_the_free_run_keeps_the_recorded_spikes():
    """`g` (asinh of the margin by which the step agrees with the recorded spike train)
    is >= 0 at every step exactly where the free model fires at the recorded steps
    (margin 0): AdEx, V_T moved by 0 to ±1 mV from the truth — small moves keep the
    spikes, larger ones move one (both kinds occur, so the check can fail either way).
    With a margin, a step is counted only when it clears the threshold by that fraction
    of its own change (the truth's closest spike step clears it by 20 %)."""
    current = _steps(0.1, 1500, 10, 140, [0.8, 1.2])
    sol = nj.simulate(nj.AdEx(), current, dt=0.1)
    spikes = reset_steps(sol.v)
    kept = []
    for dv in (0.0, 0.01, -0.01, 0.3, -0.3, 1.0, -1.0):
        model = nj.AdEx(v_t=float(nj.AdEx().v_t) + dv)
        free = nj.simulate(model, current, dt=0.1)
        same = bool(np.array_equal(np.asarray(free.spikes), np.asarray(sol.spikes)))
        g = _constraints(model, current, sol.v, spikes, 0.0)
        assert bool(jnp.all(g >= 0)) == same, dv
        kept.append(same)
    assert any(kept) and not all(kept)
    g = _constraints(nj.AdEx(), current, sol.v, spikes, 0.01)
    assert float(jnp.min(g)) >= 0
    assert float(jnp.min(_constraints(nj.AdEx(), current, sol.v, spikes, 0.9))) < 0


def test_constrained_qp_matches_the_analytic_solution():
    """`_qp`: ½δᵀAδ + bᵀδ under one active linear constraint has the closed form
    δ = δ_free + A⁻¹gᵀ·(−c − g·δ_free)/(g A⁻¹ gᵀ); an inactive constraint leaves δ_free."""
    a = np.array([[2.0, 0.3], [0.3, 1.0]])
    b = np.array([-1.0, 0.5])
    free = np.linalg.solve(a, -b)
    g = np.array([[1.0, 1.0]])
    for c in (np.array([-0.2]), np.array([5.0])):  # active, inactive
        d = _qp(a, b, g, c)
        if g @ free + c >= 0:
            np.testing.assert_allclose(d, free, rtol=1e-12)
        else:
            ai = np.linalg.solve(a, g.T)
            want = free + ai[:, 0] * (-c[0] - g[0] @ free) / (g[0] @ ai[:, 0])
            np.testing.assert_allclose(d, want, atol=1e-7)


# slow tier: compiles the clamped LIF simulation's batched JVP (~10 CPU-s)
@pytest.mark.slow
def test_constrained_timing_reaches_the_least_squares_point_inside_the_recorded_spikes():
    """`constrained_timing` on a LIF recording with 1 mV noise (2 sweeps, 4 + 6 spikes),
    from the truth: the result keeps the recorded spikes (violation 0, and the free
    float32 run at it has them), its clamped loss is the free run's and below the
    truth's, and it is the least-squares point inside the recorded spike train: the
    Gauss–Newton step under the linearised spike-time constraints (`_qp`, undamped) is
    under 0.05 standard errors long there (0 at a constrained minimum; measured: three
    constraints active, the unconstrained Gauss–Newton step 0.28 s.e.: LIF's minimum lies
    on its piece's boundary), where at the truth it is over 0.5 (the stage had to move)."""
    from neurojax.fitting._objective import make_objective
    from neurojax.fitting._polish import _to_float64

    fields = ("tau", "r", "v_rest", "v_reset")
    current = _steps(0.1, 600, 5, 55, [2.0, 2.6])
    truth = nj.LIF()
    clean = nj.simulate(truth, current, dt=0.1)
    v = clean.v + jax.random.normal(jax.random.key(3), clean.v.shape)
    spikes = reset_steps(v)
    np.testing.assert_array_equal(spikes, np.asarray(clean.spikes))
    inputs = _clamped_inputs(current, v, spikes)
    inputs["margin"] = jnp.full(v.shape, 0.01, v.dtype)
    sub = make_objective(SpikeClamped(truth), inputs, (v, jnp.zeros_like(v)),
                         saveat=nj.SaveAt(fn=record_g), dt=0.1,
                         trainable=lambda m: tuple(getattr(m.model, f) for f in fields),
                         constraints=(Unconstrained(),) * 4)  # fmt: skip

    with jax.enable_x64(True):  # as `_constrained_stage` runs it for a float32 model
        p, loss = _constrained_timing_checks(jtu.tree_map(_to_float64, sub), v)
    free = nj.simulate(nj.LIF(**dict(zip(fields, p, strict=True))), current, dt=0.1)
    np.testing.assert_array_equal(np.asarray(free.spikes), np.asarray(clean.spikes))
    np.testing.assert_allclose(float(jnp.mean((free.v - v) ** 2)), loss, rtol=1e-5)


def _constrained_timing_checks(sub, v):
    from neurojax.fitting._polish import gauss_newton_standard_errors
    from neurojax.fitting._spike_clamp import _g_jacobian, _split

    def step_in_se(u):
        x = jnp.concatenate([jnp.ravel(a) for a in u])
        y, jac = _g_jacobian(sub, x, ((),) * 4)
        r, g = _split(np.asarray(y, float), 600, 2)
        jr, jg = _split(np.asarray(jac, float), 600, 2)
        r = r - np.ravel(np.asarray(v, float))
        d = constrained_step(jr, r, jg, g, 0.0, 1.0)
        step = float(np.linalg.norm(jr @ d))
        return gauss_newton_standard_errors(float(r @ r), step, r.size), g, float(r @ r) / r.size

    u0 = [x.astype(jnp.float64) for x in sub.to_unconstrained(sub.params0)]
    se0, _, loss0 = step_in_se(u0)
    u, loss, _, viol, _, _ = constrained_timing(sub, u0, v)
    se, g, _ = step_in_se(u)
    print(f"constrained Gauss–Newton step {se:.2g} s.e. (truth {se0:.2g}); loss {loss:.6g} "
          f"(truth {loss0:.6g}); {int(np.sum(g < 1e-6))} active")  # fmt: skip
    assert viol == 0 and loss < loss0
    assert se0 > 0.5 and se < 0.05
    return [float(x) for x in jtu.tree_leaves(sub.from_unconstrained(u))], loss


# slow tier: one AdEx fit with 1 mV noise each (~40 CPU-s)
@pytest.mark.slow
@pytest.mark.parametrize("start", [6, 17])
def test_adex_noisy_fits_that_stopped_above_the_truth_now_reach_its_loss(start):
    """Starts 6 and 17 of the 1 mV study (`validation/fit_success_rates.py`, their own
    noise draws) ended 0.0096 and 0.013 mV² above the truth's loss on the same trace
    (likelihood ratio −77 and −105 in χ² units), honestly `converged=False`. Start 6: the
    spike-clamped stage from the estimate (Δ_T 6.7 % high: its errors-in-variables bias)
    ended in a local minimum (1.073 mV²); from Δ_T × 0.93 (`DELTA_T_STARTS`) it reaches
    0.984. Start 17: the hinge-penalised spike-timed stage stopped on the boundary of the
    recorded spike train's piece (a spike whose upswing crosses `v_th` by 7.8 mV at the
    truth); the constrained stage (`constrained_timing`) reaches the least-squares point
    inside it. Both now pass the likelihood-ratio test at 99 %: |n·(L(truth) − L)/σ²| <=
    χ²(8, 0.99) = 20.09 (n = 8000 rows, σ = 1 mV; measured 2.8 and 8.8)."""
    rng = np.random.default_rng(200)
    factors = [1 + 0.5 * rng.uniform(-1, 1, size=8) for _ in range(20)][start]
    r, p, t, truth_loss = _adex_fit(factors, 1.0, start)
    assert "constrained spike-timed" in r.stages[0].note
    assert abs(8000 * (truth_loss - r.loss) / 1.0**2) <= 20.09
