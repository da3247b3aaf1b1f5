"""Reset-model fits whose least-squares point lies on the edge of the recorded spike
train's piece (issue #19, session 11): the spike clamp at a recorded spike, the elastic
(feasibility) mode of the constrained spike-timed stage, and the constrained (KKT)
stationarity test (`edge_stationarity`) that lets such a fit say `converged` — and only
such a fit."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax._simulate import StepInfo
from neurojax.fitting._spike_clamp import (
    CAP,
    ClampState,
    SpikeClamped,
    _elastic_qp,
    _qp,
    edge_stationarity,
    reset_steps,
)

QUIET = nj.NoProgress()


def _violation(g, c, d):
    return float(np.sum(np.maximum(-(g @ d + c), 0.0)))


def test_qp_elastic_mode_takes_the_least_violation_step_where_the_constraints_conflict():
    """δ₁ >= 1, δ₁ <= −1 and δ₂ >= 2 cannot all hold: SLSQP fails on them (the old `_qp`
    returned `None`, and `constrained_timing` stopped where it started). The elastic mode
    returns a step whose linearised violation is the least possible, 2 (δ₂ = 2, δ₁
    anywhere in [−1, 1]; the penalty weight 1e8 leaves ~1e-8), from 4 at δ = 0. A
    feasible problem is solved as before (the active constraint holds exactly)."""
    a, b = np.eye(2), np.array([0.3, -0.2])
    g, c = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]), np.array([-1.0, -1.0, -2.0])
    assert _violation(g, c, np.zeros(2)) == 4.0
    for solve in (_qp, _elastic_qp):
        d = solve(a, b, g, c)
        assert d is not None and np.all(np.isfinite(d))
        assert abs(_violation(g, c, d) - 2.0) < 1e-6
        assert abs(d[1] - 2.0) < 1e-6 and -1.0 <= d[0] <= 1.0
    g1, c1 = np.array([[1.0, 0.0]]), np.array([-1.0])
    d = _qp(a, b, g1, c1)
    np.testing.assert_allclose(d, [1.0, 0.2], atol=1e-7)
    np.testing.assert_allclose(_elastic_qp(a, b, g1, c1), [1.0, 0.2], atol=1e-6)


def test_spike_clamp_resets_at_a_recorded_spike_whose_v_is_just_below_the_threshold():
    """At a recorded spike step the clamped model must spike even where the free V ends
    within `CAP` below `v_th` (it spikes at `v >= v_th`): before the fix such a V passed
    through unchanged, the model did not reset, and the clamped V then sat at the cap to
    the next recorded spike (LIF 1 mV, start 0 of `validation/fit_success_rates.py`: 200
    steps, clamped MSE 5.47 mV² against the truth's 1.02, the fit a step off at a spike).
    Elsewhere such a V is capped and does not spike."""
    lif = nj.LIF()
    clamped = SpikeClamped(lif)
    v_th = float(lif.v_th)
    below = jnp.asarray([-0.5 * CAP, 0.0, 0.5 * CAP, 2.0] * 2)  # v_th − V_new
    spike = jnp.asarray([1.0] * 4 + [0.0] * 4)
    y = clamped.init_state(below.shape)
    z = clamped.init_discrete(below.shape)
    y_new = y._replace(inner=y.inner._replace(v=v_th - below))
    inputs = {"current": jnp.zeros_like(below), "spikes": spike, "v": jnp.zeros_like(below),
              "force": jnp.zeros_like(below)}  # fmt: skip
    out, _, events = eqx.filter_jit(clamped.event_step)(
        StepInfo(jnp.asarray(0), 0.0, 0.1, None), y, y_new, z, inputs
    )
    np.testing.assert_array_equal(np.asarray(events), np.asarray(spike))
    want = np.where(np.asarray(spike) > 0, float(lif.v_reset),
                    np.minimum(v_th - np.asarray(below), v_th - CAP))  # fmt: skip
    np.testing.assert_allclose(np.asarray(out.v), want, atol=1e-5)


def _study_lif():
    """The LIF sweeps of `validation/fit_success_rates.py` (1.8, 2.6, −1 nA, 100 ms, dt
    0.1; 12 spikes), its 1 mV noise draw 0 and its start 0."""
    t = 0.1 * np.arange(1000)
    step = ((t >= 5.0) & (t < 95.0)).astype(np.float32)
    current = jnp.asarray(np.stack([a * step for a in (1.8, 2.6, -1.0)], 1))
    clean = nj.simulate(nj.LIF(), current, dt=0.1)
    v = clean.v + jax.random.normal(jax.random.key(0), clean.v.shape)
    truth = np.array([10.0, 10.0, -65.0, -65.0])
    rng = np.random.default_rng(200)
    while True:  # the study draws again where the reset is not below the threshold
        s = truth * (1 + 0.5 * rng.uniform(-1, 1, size=4))
        if s[3] < -50.0:
            return current, clean, v, s


FIELDS = ("tau", "r", "v_rest", "v_reset")


# slow tier: a default LIF fit (~20 CPU-s) and the clamped Jacobians in float64
@pytest.mark.slow
def test_edge_minimum_says_converged_and_a_point_short_of_it_does_not():
    """Start 0 of the LIF study at 1 mV (before this session: a step off at a spike,
    1.87 mV², `converged=False`). Its least-squares point inside the recorded spike
    train lies on the piece's edge: the unconstrained Gauss–Newton step is > 1 standard
    error long (the interior test, `POLISH_SE`, fails) and crosses the edge, where the
    free loss is far higher (measured 4.7 against 1.017 mV²); the step under the
    spike-time constraints is ~0 (measured 0.025 s.e.). The fit says `converged`, by the
    `EdgeStationarity` stage, and it is the noise-limited answer: its loss is below the
    truth's (the likelihood-ratio statistic within χ²(4, 0.99) = 13.28).

    The same test refuses points that are not a minimum: the truth itself (its loss
    above the fit's; constrained step > 1 s.e.) and points whose free model does not
    fire at the recorded steps (τ +1 %, +20 %: `inf`). (Halfway from the fit to the
    truth it measured 0.61 s.e.: within one standard error, like the interior test.)"""
    current, clean, v, s = _study_lif()
    start = nj.LIF(**dict(zip(FIELDS, (float(x) for x in s), strict=True)))
    r = nj.fit(start, current, v, dt=0.1, trainable=lambda m: tuple(getattr(m, f) for f in FIELDS),
               progress_meter=QUIET)  # fmt: skip
    truth_loss = float(jnp.mean((clean.v - v) ** 2))
    assert abs(3000 * (truth_loss - r.loss)) <= 13.28
    edge = [st for st in r.stages if st.name == "EdgeStationarity"]
    print(r, edge)
    assert r.converged and edge and edge[0].note.endswith("a constrained minimum")
    e = edge_stationarity(r.objective, r.params)
    assert e["se"] <= 0.2 and e["se_free"] > 1.0 and e["loss_across"] > e["loss"]
    # the truth: inside the piece (it fires at the recorded steps), loss 0.0009 mV² (2.8
    # in χ² units) above the fit's: measured 1.2 s.e.
    e = edge_stationarity(r.objective, tuple(jnp.asarray(x) for x in (10.0, 10.0, -65.0, -65.0)))
    print(e["note"])
    assert e["se"] > 1.0 and e["loss"] > r.loss
    # and `fit`'s own use of it (`_edge_test` on a descent that ended at the truth)
    from types import SimpleNamespace

    from neurojax.fitting._fit import _edge_test

    obj = r.objective
    u = obj.to_unconstrained(tuple(jnp.asarray(x) for x in (10.0, 10.0, -65.0, -65.0)))
    passed, report = _edge_test(obj, SimpleNamespace(best_u=[x[None] for x in u],
                                                     best_loss=np.array([e["loss"]])))  # fmt: skip
    assert not passed and report[0].note.endswith("not a minimum")
    # the piece is narrow (V approaches v_th by 0.03 mV per step): τ +1 % moves a spike
    for f in (1.01, 1.2):
        e = edge_stationarity(r.objective, (r.params[0] * f,) + tuple(r.params[1:]))
        assert e["se"] == np.inf and "does not fire" in e["note"]


# slow tier: compiles a 1000-step LIF simulation (~2 s on the shared cores)
@pytest.mark.slow
def test_reset_steps_finds_a_lif_reset_that_the_8_sigma_rule_missed():
    """The LIF sweeps of `validation/fit_success_rates.py` (12 spikes, 15 mV resets) with
    its 1 mV noise draw 7: one reset dropped 11.2 mV, under the old threshold 8·√2·σ̂
    (11.3 mV), so the clamped fit saw 11 spikes and ended τ ×34 (`ABOVE_NOISE`). At
    `RESET_NOISE_FACTOR` = 6 every reset is found, and no false one (white noise crosses
    6·√2·σ with P ≈ 1e-9 per sample)."""
    t = 0.1 * np.arange(1000)
    step = ((t >= 5.0) & (t < 95.0)).astype(np.float32)
    current = jnp.asarray(np.stack([a * step for a in (1.8, 2.6, -1.0)], 1))
    sol = nj.simulate(nj.LIF(), current, dt=0.1)
    v = sol.v + jax.random.normal(jax.random.key(7), sol.v.shape)
    assert int(sol.spikes.sum()) == 12
    np.testing.assert_array_equal(reset_steps(v), np.asarray(sol.spikes))
