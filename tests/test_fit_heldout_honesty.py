"""Held-out checks of `fit`'s honesty (issue #19): fits of sweeps, networks and cells the
other tests do not see, each with a bug it found in the fitting library and the fix.

- `converged` trusted the surrogate gradient of spike losses (Izhikevich from spike
  trains: loss 2.40 → 2.34, truth at 0, 40–50 % off, "converged");
- `converged` missed a float64 fit that fell into its minimum late (the last n//10
  steps held the fall) although its gradient was 1e-11 of the start's;
- the noise check (`StopReason.ABOVE_NOISE`) ran only for `Auto`: AdEx with
  `GlobalSearch()` stopped at 12 mV² on a 0.25 mV² recording and said "converged";
- a trainable the simulation never reads (a Network projection's `delay` changed by
  `eqx.tree_at`) was returned unchanged as if fitted;
- `Positive`'s floor was a subnormal for small scales: a CMA-ES point stopped a fit with
  "Izhikevich.a must be > 0";
- a fit stopped by `steps` that claimed a minimum skipped the noise check (an
  oscillating Adam, 23 mV² on a noise-free LIF trace, "converged");
- a loss `window` after the end of the recording gave a loss of 0 ("converged" at the
  start), and `TraceMSE` weights of the wrong shape an unreadable broadcasting error.

The driver that ran the 30 held-out cases is described in docs/fitting.md ("Held-out
checks"); the slow tests here repeat the failing ones end to end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.fitting import GlobalSearch, Plain, Positive, Recording, StopReason, VanRossum
from neurojax.fitting._descent import _converged

QUIET = nj.NoProgress()


# ------------------------------------------------------------------ converged (unit)


def test_converged_after_a_late_fall_and_a_patience_stop():
    """The HH float64 fit of the held-out set: 230 slow LM steps, a fall to the noise
    floor in the last ~10, then `patience` flat steps; gradient 1e-11 of the start's."""
    slow = np.linspace(124.8, 55.0, 228)
    fall = np.array([20.0, 3.0, 1.2, 0.9943, 0.99418272])
    losses = np.concatenate([slow, fall, np.full(5, 0.99418272)])
    grads = np.concatenate([np.full(len(slow) + len(fall) - 1, 4.0), [2.5e-11] * 6])
    assert _converged(losses, grads, StopReason.PATIENCE)
    # ... but a fit still creeping down (1e-5 per step, each below CONVERGED_RTOL, but
    # 2e-4 over the last n // 10 steps) is not: the window stays n // 10 long
    creep = 1.0 * (1 - 1e-5) ** np.arange(200)
    assert not _converged(creep, np.full(200, 1e-3), StopReason.PATIENCE)


def test_converged_does_not_trust_a_surrogate_gradient():
    """A spike loss that barely moved (2.40 → 2.34) with a small surrogate gradient is
    not converged; the same history of a differentiable loss is, and a spike loss that
    fell 100-fold is (the loss certificate)."""
    losses = np.concatenate([np.linspace(2.396, 2.340, 100), np.full(400, 2.340)])
    grads = np.concatenate([[1.0], np.full(499, 1e-3)])
    assert _converged(losses, grads, StopReason.STEPS)
    assert not _converged(losses, grads, StopReason.STEPS, surrogate=True)
    fell = np.concatenate([np.linspace(2.4, 0.02, 100), np.full(400, 0.02)])
    assert _converged(fell, grads, StopReason.STEPS, surrogate=True)


def test_positive_floor_stays_positive_for_small_scales():
    """`p = scale·max(softplus(u), eps)`: positive for u far below 0 in float32, and after
    a float64 optimiser coordinate is cast to a float32 model (the old floor, the smallest
    normal float, gave 0.02·1.2e-38 → 0)."""
    c = Positive().bind(jnp.asarray(0.02, jnp.float32))
    p = c.forward(jnp.asarray(-200.0, jnp.float32))
    assert p.dtype == jnp.float32 and float(p) > 0.0
    with jax.enable_x64(True):
        c64 = Positive().bind(np.float64(0.02))
        p64 = c64.forward(jnp.asarray(-800.0, jnp.float64)).astype(jnp.float32)
        assert float(p64) > 0.0


# ------------------------------------------------------------------ refusals


def test_a_trainable_the_simulation_never_reads_is_refused():
    """A network counts its delays in whole steps when it is built: a delay changed by
    `eqx.tree_at` afterwards is never read, and `fit` returned it unchanged (loss flat,
    "ABOVE_NOISE" at best). Now refused before compilation, naming it."""
    from _network_helpers import relay, spike_train

    from neurojax.synapses import Exponential

    net = relay(Exponential(tau=5.0), delay=1.0)
    spikes = spike_train(100, [20, 60])
    saveat = nj.SaveAt(fn=net.record(v={"dst": slice(None)}))
    target = jnp.zeros((100, 1))
    with pytest.raises(ValueError, match=r"projections\[0\]\.delay do not affect the loss"):
        nj.fit(net, {"src": spikes}, {"dst": target}, dt=0.1, saveat=saveat,
               trainable=lambda m: (m.projections[0].synapse.tau, m.projections[0].delay),
               progress_meter=QUIET)  # fmt: skip


def test_a_loss_that_cannot_see_the_recording_is_refused():
    """A `window` after the end of the recording made the loss 0 (the fit "converged" at
    its start); `TraceMSE` weights of the wrong shape failed deep in the simulation with a
    bare broadcasting error. Both are refused before compilation, naming the fix."""
    from neurojax.fitting import TraceMSE, make_objective

    current = jnp.ones((50, 3))
    v = jnp.zeros((50, 3))
    with pytest.raises(ValueError, match=r"window \(60, 90\) ms holds no recorded row"):
        make_objective(nj.LIF(), current, v, dt=0.1, trainable=lambda m: m.tau,
                       loss=TraceMSE(window=(60.0, 90.0)))  # fmt: skip
    with pytest.raises(ValueError, match=r"weights shaped \(50,\) do not broadcast"):
        make_objective(nj.LIF(), current, v, dt=0.1, trainable=lambda m: m.tau,
                       loss=TraceMSE(weights=jnp.ones(50)))  # fmt: skip
    # per-sweep and per-row weights, and a window inside the recording, are accepted
    for loss in (TraceMSE(weights=jnp.ones(3)), TraceMSE(weights=jnp.ones((50, 1))),
                 TraceMSE(window=(1.0, 4.0))):  # fmt: skip
        make_objective(nj.LIF(), current, v, dt=0.1, trainable=lambda m: m.tau, loss=loss)


# ------------------------------------------------------------------ the noise check


def _lif_problem(noise=1.0, seed=4):
    """LIF `tau, r` from two noisy current-clamp sweeps (1 and 2 nA, 20 ms): spikes and
    resets make the trace MSE rugged; from (13.3, 6.0) LM stops in a local minimum."""
    dt, n = 0.1, 400
    t = dt * np.arange(n)
    on = (t >= 2) & (t < 38)
    current = jnp.asarray(np.stack([1.6 * on, 2.4 * on], 1))  # nA
    v = nj.simulate(nj.LIF(), current, dt=dt).v
    v = v + noise * jax.random.normal(jax.random.key(seed), v.shape, v.dtype)
    return current, v


def test_noise_check_applies_to_a_user_chosen_strategy():
    """With `strategy=Plain()` (no restarts) a fit stopped far above the recording's noise
    says `ABOVE_NOISE` and `converged=False`, as the default does (it said `converged`)."""
    current, v = _lif_problem()
    with pytest.warns(UserWarning, match="far above the recording's noise"):
        r = nj.fit(nj.LIF(tau=16.0, r=5.5), current, v, dt=0.1,
                   trainable=lambda m: (m.tau, m.r), strategy=Plain(), steps=30,
                   progress_meter=QUIET)  # fmt: skip
    truth_loss = float(r.objective((jnp.asarray(10.0), jnp.asarray(10.0))))
    # the check's premise, measured here: the truth explains the recording (σ² = 1 mV²
    # ± 7 % for 800 samples), the fit's minimum does not (> 4σ̂² + 0.01)
    assert truth_loss < 1.2
    assert r.loss > 4.0 * 0.9 + 0.01
    assert r.stop_reason is StopReason.ABOVE_NOISE and not r.converged


def test_a_fit_out_of_steps_that_claims_a_minimum_gets_the_noise_check():
    """The noise check applied only to fits stopped by `FLOOR`/`PATIENCE`; one stopped by
    `steps` that `_converged` accepts (an oscillating Adam, best 10 steps back, gradient
    shrunk) is now checked too (`_settled`). The end-to-end case is the slow test below."""
    from types import SimpleNamespace

    from neurojax.fitting import TraceMSE
    from neurojax.fitting._fit import _settled

    losses = np.concatenate([np.linspace(33.5, 23.14, 30), 23.5 + np.zeros(10)])[:, None]
    grads = np.concatenate([[10.0], np.full(39, 0.5)])[:, None]
    d = SimpleNamespace(stop_reason=StopReason.STEPS, best_loss=np.array([23.14]),
                        losses=list(losses), grad_norms=list(grads))  # fmt: skip
    assert _settled(d, SimpleNamespace(loss=TraceMSE()))
    falling = list(np.linspace(30, 1, 40)[:, None])  # still improving: cut short
    still = SimpleNamespace(stop_reason=StopReason.STEPS, best_loss=np.array([1.0]),
                            losses=falling, grad_norms=list(grads))  # fmt: skip
    assert not _settled(still, SimpleNamespace(loss=TraceMSE()))


# ------------------------------------------------------------------ end to end (slow)


def _izhikevich_problem():
    """Izhikevich `a, b, d` (truth 0.02, 0.2, 8) from two 300 ms sweeps (6, 10), started
    at (+50 %, −36 %, +47 %): one of the held-out cases (seed 8 of the driver)."""
    dt, n = 0.1, 3000
    t = dt * np.arange(n)
    on = (t >= 10) & (t < 290)
    current = jnp.asarray(np.stack([6.0 * on, 10.0 * on], 1))
    start = nj.Izhikevich(a=0.029949, b=0.127252, d=11.791834)
    return current, start, lambda m: (m.a, m.b, m.d)


# slow tier: two end-to-end fits of 3000 steps (~15 s each with compilation); the unit
# tests of `_converged` above keep the fix covered in the fast tier
@pytest.mark.slow
def test_izhikevich_spike_fit_that_stalls_is_not_converged():
    """Adam on VanRossum(20) moves the loss 2.40 → 2.34 (the truth's is 0) and ends 40–50 %
    off: it used to say `converged` (the surrogate gradient had shrunk 10-fold)."""
    current, start, where = _izhikevich_problem()
    spikes = nj.simulate(nj.Izhikevich(), current, dt=0.1).spikes
    r = nj.fit(start, current, Recording(spikes=spikes), dt=0.1, trainable=where,
               loss=VanRossum(tau=20.0), progress_meter=QUIET)  # fmt: skip
    assert r.loss > 0.1 * r.losses[0]  # the premise: it did not get close
    assert not r.converged, r


# slow tier: CMA-ES (30 generations × 16) then LM on 3000 steps; the Positive floor's
# unit test above keeps the fix covered in the fast tier
@pytest.mark.slow
def test_izhikevich_global_search_runs_and_says_above_noise():
    """`GlobalSearch()` from the same start used to stop with "Izhikevich.a must be > 0"
    (a CMA-ES point where `a`'s softplus floor was flushed to 0). Now it runs; it does not
    find the truth (trace MSE of a resetting model), and says so."""
    current, start, where = _izhikevich_problem()
    v = nj.simulate(nj.Izhikevich(), current, dt=0.1).v
    v = v + jax.random.normal(jax.random.key(8), v.shape, v.dtype)  # 1 mV
    with pytest.warns(UserWarning, match="far above the recording's noise"):
        r = nj.fit(start, current, v, dt=0.1, trainable=where, strategy=GlobalSearch(),
                   n_starts=4, key=jax.random.key(0), progress_meter=QUIET)  # fmt: skip
    assert np.all(np.isfinite(np.asarray(r.params)))
    assert r.stop_reason is StopReason.ABOVE_NOISE and not r.converged


# slow tier: an Adam fit compiled for one check; the `_settled` unit test above keeps the
# fix covered in the fast tier
@pytest.mark.slow
def test_an_oscillating_adam_fit_far_above_a_clean_recording_is_not_converged():
    """LIF `tau, r`, noise-free, `optax.adam(0.5)` for 40 steps: it ends at 23 mV²
    (the truth's loss is 0), its best 10 steps back; it said `converged`. Measured with
    plain descent (`strategy=Plain()`): the default now starts from `SpikeClampedInit`,
    which reaches the truth (loss 3e-13 mV², measured), so the user's optimiser is tested
    on its own here, and the default's recovery below."""
    import optax

    from neurojax.fitting import Plain

    dt, n = 0.1, 600
    t = dt * np.arange(n)
    on = (t >= 5) & (t < 55)
    current = jnp.asarray(np.stack([1.8 * on, 2.4 * on], 1))
    v = nj.simulate(nj.LIF(), current, dt=dt).v
    with pytest.warns(UserWarning, match="far above the recording's noise"):
        r = nj.fit(nj.LIF(tau=14.0, r=7.0), current, v, dt=dt,
                   trainable=lambda m: (m.tau, m.r), optimizer=optax.adam(0.5), steps=40,
                   strategy=Plain(), progress_meter=QUIET)  # fmt: skip
    assert r.loss > 1.0  # the premise: far from the truth (loss 0)
    assert r.stop_reason is StopReason.ABOVE_NOISE and not r.converged
    # the default (SpikeClampedInit first) with the same optimiser: the truth (τ = 10 ms,
    # R = 10 MΩ) to float32 rounding of the clamped stages (measured 7e-7 relative)
    d = nj.fit(nj.LIF(tau=14.0, r=7.0), current, v, dt=dt,
               trainable=lambda m: (m.tau, m.r), optimizer=optax.adam(0.5), steps=40,
               progress_meter=QUIET)  # fmt: skip
    np.testing.assert_allclose([float(d.params[0]), float(d.params[1])], [10.0, 10.0], rtol=1e-4)
    assert d.loss < 1e-6


# slow tier: a recovery study (a cable fit of 1600 steps, ~40 s with compilation); the
# network and cell fits of tests/test_fit_anything.py keep fit-anything in the fast tier
@pytest.mark.slow
def test_ball_and_stick_recovery_from_three_noisy_sites():
    """Held-out cell: a soma and an 8-segment dendrite, current clamps at the soma and the
    dendrite's middle and a conductance input near its tip; the dendrite's leak density
    and the axial resistivity from 1 mV-noisy voltages at three sites, started at
    (+42 %, −37 %). The default recovers both within 4 standard errors of the
    Fisher/Cramér–Rao estimate at the fit (measured 0.01 % and 0.29 %: 0.05 and 0.4 of
    the standard errors 0.19 % and 0.79 %), and says converged."""
    import equinox as eqx

    from neurojax.cable import Branch, Cell, Morphology, Passive

    def cell(g, ra):
        morph = Morphology([Branch(20.0, 20.0, type="soma"),
                            Branch(400.0, 1.5, parent=0, nseg=8, type="dend")])  # fmt: skip
        c = Cell(morph, [(Passive(g=0.1, e=-70.0), "soma"), (Passive(g=0.1, e=-70.0), "dend")],
                 ra=100.0, clamps=[(0, 0.5), (1, 0.5)], synapses=[(1, 0.8, 0.0)])  # fmt: skip
        return eqx.tree_at(lambda c: (c.mechanisms[1].g, c.ra), c, (g, ra))

    dt, n = 0.025, 1600
    i = np.zeros((n, 2))
    i[100:900, 0] = 0.1  # nA at the soma
    i[1000:1300, 1] = -0.05  # nA mid-dendrite
    g = np.zeros((n, 1))
    g[400:600, 0] = 0.003  # µS near the tip
    inputs = {"i_clamp": jnp.asarray(i), "g_syn": jnp.asarray(g)}
    truth = cell(0.06, 180.0)
    saveat = nj.SaveAt(fn=truth.record_v([(0, 0.5), (1, 0.3), (1, 0.9)]))
    target = nj.simulate(truth, inputs, dt=dt, saveat=saveat).states
    target = target + jax.random.normal(jax.random.key(13), target.shape, target.dtype)
    r = nj.fit(cell(0.0852, 113.0), inputs, target, dt=dt, saveat=saveat,
               trainable=lambda c: (c.mechanisms[1].g, c.ra), progress_meter=QUIET)  # fmt: skip
    info = r.identifiability(sigma_v=1.0)
    print(r, info)  # 4 s.e.: the estimate is local and σ̂ is one noise draw
    for p, p_true, rel_sd in zip(r.params, (0.06, 180.0), info.rel_std, strict=True):
        assert abs(float(p) - p_true) / p_true < 4 * float(rel_sd), (r, info)
    assert r.converged, r
