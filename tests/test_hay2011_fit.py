"""Fitting channel densities of Hay et al. (2011)'s L5b cell (validation/hay2011_fit.py;
docs/fitting.md, "Hay et al.'s L5 cell: ten densities").

Fast tier: the study's CMA-ES baseline and its start sampling (pure numpy, milliseconds).
Building the cell alone loads eleven .mod files (~6 s) and compiling one simulation takes
~13 s on the 2-core VM, so every fit is in the slow tier; `tests/test_hay2011_cell.py` and
`tests/test_fit_anything.py` keep the cell and `fit` on cells covered in the fast tier."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _study():
    spec = importlib.util.spec_from_file_location("hay2011_fit", ROOT / "validation" / "hay2011_fit.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its equinox modules (dataclasses) look themselves up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def study():
    return _study()


def test_starts_are_uniform_within_fifty_percent(study):
    truth = np.array([2.04, 0.693, 6.75e-5])
    s = study.draw_starts(truth, 200, seed=1)
    r = s / truth
    assert s.shape == (200, 3)
    assert r.min() >= 0.5 and r.max() <= 1.5
    # uniform on [0.5, 1.5]: the mean of 600 draws is 1 within 4 standard errors (0.29/√600)
    assert abs(r.mean() - 1.0) < 4 * 0.29 / np.sqrt(600)


def test_cma_es_baseline_minimises_an_ill_conditioned_quadratic(study):
    """The comparison baseline must work: a 10-d ellipsoid (condition 1e3, as the
    densities' sensitivities differ by orders of magnitude) from distance ~1 to < 1e-6
    in 3000 evaluations (Hansen's CMA-ES needs ~1500-2500 on it)."""
    scale = np.logspace(0, 1.5, 10)

    def f(x):
        return np.sum((x * scale) ** 2, axis=-1)

    x, fx, hist = study.cma_es(f, np.ones(10), 0.5, 3000, 10, seed=0)
    assert fx < 1e-6, fx
    assert hist[-1][0] <= 3000
    assert all(b <= a for (_, a), (_, b) in zip(hist, hist[1:]))  # best-so-far is monotone


@pytest.fixture(scope="module")
def hay():
    st = _study()
    return (st, *st.setup(T=45.0))


def _three(st, cell):
    dens = [st.DENSITIES[i] for i in (0, 1, 8)]  # soma NaTa_t, soma SKv3_1, apical NaTa_t
    trainable = st.trainable_for(dens)
    return trainable, np.array([float(x) for x in trainable(cell)])


@pytest.mark.slow  # compiles the Hay cell (~15 s); the fast tests above keep the study's tools covered
def test_trace_mse_basin_is_narrower_than_one_percent(hay):
    """Why no fit from ±50 % recovers the densities (docs/fitting.md): the target is
    reproduced at the truth (float32 self-consistency) but 1 % off the loss is already
    tens of mV² (spikes of the BAC burst shift). Measured: 2.8e-8, 4.0 (0.1 %), 59 (1 %)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj

    st, cell, inputs, saveat, target = hay
    trainable, truth = _three(st, cell)

    @jax.jit
    def loss(x):
        m = eqx.tree_at(trainable, cell, tuple(x[i] for i in range(3)))
        v = nj.simulate(m, inputs, dt=st.DT, saveat=saveat).states
        return jnp.mean((v - target) ** 2)

    at = [float(loss(jnp.asarray(truth * np.array([f, 2 - f, f]), jnp.float32)))
          for f in (1.0, 1.001, 1.01)]  # fmt: skip
    assert at[0] < 1e-4, at  # the same program on the same values: float32 round-off only
    assert at[1] > 0.5, at  # 0.1 % off: measured 4.0 mV²
    assert at[2] > 10.0, at  # 1 % off: measured 59 mV²


@pytest.mark.slow  # a Hay cell fit: ~1-2 CPU-min; the fast tests above keep the study's tools covered
def test_three_densities_from_thirty_percent_off_are_not_recovered(hay):
    """The measured limitation, recorded so that a change to `fit` that lifts it shows up:
    the default `fit` does not recover three densities from ±30 % (measured: it stays at
    +28/-30/+30 %, loss 402 mV², `ABOVE_NOISE` after 16 steps) — and says so
    (`converged` False)."""
    import equinox as eqx
    import jax.numpy as jnp

    import neurojax as nj

    st, cell, inputs, saveat, target = hay
    trainable, truth = _three(st, cell)
    guess = eqx.tree_at(
        trainable, cell, tuple(jnp.float32(v) for v in truth * np.array([1.3, 0.7, 1.3]))
    )
    r = nj.fit(guess, inputs, target, dt=st.DT, trainable=trainable, saveat=saveat,
               steps=30, progress_meter=nj.NoProgress())  # fmt: skip
    err = np.abs(np.array([float(x) for x in r.params]) / truth - 1)
    print(r, err)
    assert float(r.loss) > 1.0, r  # far from the truth's 2.8e-8 mV²
    assert not r.converged, r  # no silent wrong answer: the fit does not claim convergence


def _rec(v, dt=0.025):
    import jax.numpy as jnp

    from neurojax.fitting import Recording

    return Recording(v=jnp.asarray(v, jnp.float32), dt=dt)


def test_smoothed_trace_mse_without_smoothing_is_the_trace_mse(study):
    """sigma=0, stride 1, no window: the plain `TraceMSE` (same formula), and the loss is
    the sum of squared residuals (what Levenberg–Marquardt minimises)."""
    import neurojax as nj

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 2)) * 5, rng.normal(size=(400, 2)) * 5
    loss = study.SmoothedTraceMSE()
    want = float(nj.fitting.TraceMSE()(_rec(a), _rec(b)))
    r = np.asarray(loss.residuals(_rec(a), _rec(b)))
    # float32 sums of 800 terms of ~50 mV²: relative round-off ~1e-6, 1e-5 is safe
    assert abs(float(loss(_rec(a), _rec(b))) - want) < 1e-5 * want
    assert abs(float(r @ r) - want) < 1e-5 * want
    # a window keeps only its rows: 2.5-5 ms is rows 99..198 of t = (i + 1)·0.025
    w = study.SmoothedTraceMSE(window=(2.5, 5.0))
    t = (np.arange(400) + 1) * 0.025
    keep = (t >= 2.5) & (t < 5.0)
    want_w = np.mean((a[keep] - b[keep]) ** 2)
    assert abs(float(w(_rec(a), _rec(b))) - want_w) < 1e-5 * want_w


def test_smoothed_trace_mse_is_smooth_in_spike_timing(study):
    """Why the hierarchy low-passes first: a 100 mV, 0.3 ms-wide spike shifted by δ costs
    the raw trace MSE as much as a missing one once δ exceeds its width (flat beyond
    ~0.6 ms: no slope to follow), while with σ = 3 ms the loss still grows with δ up to
    2 ms (each step up by more than 10 %: measured ~1.5-2.5x per 0.25 ms)."""
    t = (np.arange(1600) + 1) * 0.025  # 40 ms

    def spike(t0):
        return (-70 + 100 * np.exp(-0.5 * ((t - t0) / 0.3) ** 2))[:, None]

    deltas = np.arange(0, 2.01, 0.25)
    raw = [float(study.SmoothedTraceMSE()(_rec(spike(20 + d)), _rec(spike(20.0)))) for d in deltas]
    smooth = [float(study.SmoothedTraceMSE(sigma=3.0)(_rec(spike(20 + d)), _rec(spike(20.0))))
              for d in deltas]  # fmt: skip
    # raw: two Gaussians of SD s = 0.3 ms overlap by exp(−δ²/4s²): 0.2 % at 1.5 ms, so
    # 1.5 and 2 ms cost the same (2 × the spike's energy) to within 1 %
    assert abs(raw[-1] - raw[-3]) < 1e-2 * raw[-1], raw
    assert all(b > 1.1 * a for a, b in zip(smooth[1:], smooth[2:])), smooth


def test_smoothed_trace_mse_rejects_bad_settings(study):
    with pytest.raises(ValueError, match="sigma"):
        study.SmoothedTraceMSE(sigma=-1.0)
    with pytest.raises(ValueError, match="stride"):
        study.SmoothedTraceMSE(stride=0)
    # a ±3σ kernel longer than the trace (10 ms at 0.025 ms: 2401 rows > 400) is refused,
    # not returned at the kernel's length
    a = np.zeros((400, 2))
    with pytest.raises(ValueError, match="longer than the trace"):
        study.SmoothedTraceMSE(sigma=10.0)(_rec(a), _rec(a))


def test_log_scale_maps_the_log_ratio(study):
    """`LogScale`: u = log(p/p₀) (so ±50 % is u ∈ [−0.69, 0.41]); round trip to float32
    precision; a non-positive start is refused."""
    import jax.numpy as jnp

    c = study.LogScale().bind(jnp.asarray(2.0e-3))
    p = jnp.asarray([1.0e-3, 2.0e-3, 3.0e-3])
    u = c.inverse(p)
    np.testing.assert_allclose(np.asarray(u), np.log([0.5, 1.0, 1.5]), atol=1e-6)
    np.testing.assert_allclose(np.asarray(c.forward(u)), np.asarray(p), rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        study.LogScale().bind(np.asarray(0.0))


def test_bounded_log_scale_keeps_densities_in_the_box_with_a_gradient(study):
    """`BoundedLogScale(center, factor)`: p = center·exp(L·u/√(L²+u²)), L = log(factor).
    Inside the box for any u; slope 1 at the centre (it is `LogScale` there); at |u| = 3L
    the slope dv/du = (1 + 9)^(−3/2) = 0.0316 (tanh's would be sech²(3) = 0.0099), so a
    density pushed towards a bound is not trapped; `bind` keeps the centre (the box is
    the original start's, through every stage); bad settings and starts are refused."""
    import jax
    import jax.numpy as jnp

    center, factor = 2.0e-3, 10.0
    L = np.log(factor)
    c = study.BoundedLogScale(center, factor).bind(jnp.asarray(3.0e-3))
    assert c.center == center  # not re-anchored at the value bound to
    u = jnp.asarray([-1e6, -50.0, -3 * L, 0.0, 3 * L, 50.0, 1e6], jnp.float32)
    r = np.asarray(c.forward(u)) / center
    # float32 exp rounds within ~1e-6 relative of the bound: the box up to that rounding
    assert np.all(r >= (1 - 1e-6) / factor) and np.all(r <= factor * (1 + 1e-6)), r
    assert np.all(np.diff(r) >= 0), r  # monotone
    # elementwise map: one forward-mode product with unit tangents gives each slope
    x = jnp.asarray([0.0, 3 * L], jnp.float32)
    slope = jax.jvp(lambda v: jnp.log(c.forward(v)), (x,), (jnp.ones_like(x),))[1]
    # analytic slopes 1 and 10^(-3/2); float32 derivative of log∘exp: rtol 1e-5
    np.testing.assert_allclose(np.asarray(slope), [1.0, 10 ** -1.5], rtol=1e-5)
    # the inverse is u = v/√(1 − (v/L)²), v = log(p/center) (float32: rtol 1e-6); for
    # ±50 % of the centre that is within 5 % of LogScale's u = v (1/√(1 − (log 2/L)²) = 1.049)
    p = jnp.asarray([1.0e-3, 2.0e-3, 3.0e-3])
    uu = np.asarray(c.inverse(p))
    v = np.log([0.5, 1.0, 1.5])
    np.testing.assert_allclose(uu, v / np.sqrt(1 - (v / L) ** 2), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(uu, v, rtol=0.05, atol=1e-7)
    # round trip inside the box, float32: rtol 1e-5 (a few ulps through log, √ and exp)
    np.testing.assert_allclose(np.asarray(c.forward(c.inverse(p))), np.asarray(p), rtol=1e-5)
    with pytest.raises(ValueError, match="factor"):
        study.BoundedLogScale(center, 1.0)
    with pytest.raises(ValueError, match="center"):
        study.BoundedLogScale(0.0, factor)
    with pytest.raises(ValueError, match="inside the box"):
        study.BoundedLogScale(center, factor).bind(np.asarray(center * 20))


def test_hierarchical_log_bound_needs_one_start(study):
    """The box is one start's: several starts with `log_bound` are refused before any
    simulation (a stand-in cell carrying only the ten densities)."""
    from types import SimpleNamespace

    mechs = {}
    for _, k, f in study.DENSITIES:
        mechs.setdefault(k, {})[f] = 1.0
    cell = SimpleNamespace(mechanisms=[SimpleNamespace(**mechs.get(k, {})) for k in range(22)])
    with pytest.raises(ValueError, match="one start"):
        study.hierarchical(cell, None, None, None, np.ones((2, 10)), log_bound=10.0)


def _sloppy_pair():
    """A stand-in objective for `PriorObjective`: two log densities `u` (p = e^u) of which
    the data see only the sum, `r = u₀ + u₁ − a` (a sloppy valley, as somatic K_Tst and Ih
    against the rest on the Hay cell)."""
    import equinox as eqx
    import jax.numpy as jnp

    class Sloppy(eqx.Module):
        a: float = 1.0

        def from_unconstrained(self, u):
            return [jnp.exp(x) for x in u]

        def unconstrained_residuals(self, u):
            return jnp.stack([u[0] + u[1] - self.a])

    return Sloppy()


def test_prior_objective_appends_the_log_prior_residuals(study):
    """`PriorObjective`: the data's residuals, then √w·(log p − log c)/sd per density, so
    the sum of squares is the data's plus w·Σ(Δlog/sd)² (float32: rtol 1e-6); weight 0
    appends zeros (the last stage is the data's alone); bad settings are refused."""
    import jax.numpy as jnp

    sd, w = float(np.log(2.0)), 0.5
    obj = study.PriorObjective(_sloppy_pair(), jnp.asarray([0.0, np.log(2.0)]), w, sd)
    u = [jnp.float32(0.3), jnp.float32(-0.2)]
    r = np.asarray(obj.unconstrained_residuals(u))
    want = [0.3 - 0.2 - 1.0, np.sqrt(w) * 0.3 / sd, np.sqrt(w) * (-0.2 - np.log(2.0)) / sd]
    np.testing.assert_allclose(r, want, rtol=1e-6)
    zero = study.PriorObjective(_sloppy_pair(), jnp.zeros(2), 0.0, sd)
    np.testing.assert_allclose(np.asarray(zero.unconstrained_residuals(u))[1:], 0.0, atol=0)
    with pytest.raises(ValueError, match="weight"):
        study.PriorObjective(_sloppy_pair(), jnp.zeros(2), -1.0, sd)
    with pytest.raises(ValueError, match="sd"):
        study.PriorObjective(_sloppy_pair(), jnp.zeros(2), 1.0, 0.0)


def test_prior_pins_the_sloppy_direction_and_the_data_the_rest(study):
    """Why the prior (approach (a) of docs/fitting.md's Hay section): LM on data that fix
    only u₀ + u₁ = 1 keeps the start's u₀ − u₁ (here 3: Gauss–Newton's step has no
    component along the valley); with a prior of weight w, SD s around 0 the minimum is
    u₀ = u₁ = a/(2 + w/s²) (set the derivative of (2t − a)² + 2(w/s²)t² to 0): the
    sloppy direction goes to the prior's centre, the data's direction stays fitted
    to within the prior's pull (here w/s² = 0.01: t = 0.4975, data residual 0.005).
    Runs `neurojax.fitting`'s own LM step and descent loop (as `prior_lm_stage` does);
    tolerance 1e-4: LM on a linear residual converges to float32 round-off in a few
    steps."""
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.fitting._descent import _descend

    sd = 1.0
    u0 = [jnp.asarray([2.0]), jnp.asarray([-1.0])]  # one start: u₀ − u₁ = 3

    def run(weight):
        obj = study.PriorObjective(_sloppy_pair(), jnp.zeros(2), weight, sd)
        d = _descend(obj, nj.fitting.LevenbergMarquardt(), u0, steps=20, patience=5,
                     rtol=1e-6, progress_meter=nj.NoProgress(), print_every=20)  # fmt: skip
        return np.array([float(x[0]) for x in d.best_u])

    free = run(0.0)
    assert abs(free.sum() - 1.0) < 1e-4 and abs(free[0] - free[1] - 3.0) < 1e-4, free
    t = 1.0 / (2 + 0.01 / sd**2)
    np.testing.assert_allclose(run(0.01), [t, t], atol=1e-4)


def test_hierarchical_refuses_bad_prior_and_hold_settings(study):
    """A prior is one start's (its centre), needs one weight per stage; `hold_first`
    indexes `DENSITIES`: refused before any simulation (a stand-in cell)."""
    from types import SimpleNamespace

    mechs = {}
    for _, k, f in study.DENSITIES:
        mechs.setdefault(k, {})[f] = 1.0
    cell = SimpleNamespace(mechanisms=[SimpleNamespace(**mechs.get(k, {})) for k in range(22)])
    with pytest.raises(ValueError, match="one start"):
        study.hierarchical(cell, None, None, None, np.ones((2, 10)), prior=[1, 0, 0, 0])
    with pytest.raises(ValueError, match="one weight per stage"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), prior=[1, 0])
    with pytest.raises(ValueError, match="hold_first"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), hold_first=(10,))


def test_cma_stage_points_are_kept_in_the_log_bound_box(study):
    """`clip_log_ratio`: with `log_bound` the CMA-ES stage's points (z = log(p/start)) are
    clipped strictly inside `BoundedLogScale`'s box, so that the LM stages after it can
    bind there (an out-of-box start is refused); without a bound nothing changes; a bad
    factor is refused."""
    factor = 3.0
    z = np.array([-5.0, -np.log(factor), -0.2, 0.0, 0.7, np.log(factor), 9.0])
    c = study.clip_log_ratio(z, factor)
    np.testing.assert_array_equal(c[2:5], z[2:5])  # inside: untouched
    assert np.all(np.abs(c) < np.log(factor)), c
    center = 2.0e-3
    b = study.BoundedLogScale(center, factor)
    for v in c:  # every clipped point is a valid start of the bounded LM stage
        b.bind(np.asarray(center * np.exp(v), np.float32))
    with pytest.raises(ValueError, match="inside the box"):
        b.bind(np.asarray(center * np.exp(z[-1]), np.float32))
    np.testing.assert_array_equal(study.clip_log_ratio(z, None), z)
    with pytest.raises(ValueError, match="factor"):
        study.clip_log_ratio(z, 1.0)


def test_fisher_windows_sums_the_rows_kept(study):
    """`fisher_windows`: F = J_sᵀJ_s over the rows of the chosen windows and sites (row
    i·n_sites + k: site k at t[i]). A stand-in Jacobian where the soma sees only density 0
    and the trunk density 1 after 2 ms: the soma alone leaves density 1 undetermined
    (rel_std ∞), soma + trunk gives each 1/√(Σ rows²) exactly (float64: rtol 1e-12)."""
    t = np.arange(1, 5) * 1.0  # 1, 2, 3, 4 ms
    jac = np.zeros((8, 2))
    jac[0::2, 0] = [1.0, 2.0, 0.0, 0.0]  # soma rows: density 0 at 1 and 2 ms
    jac[1::2, 1] = [5.0, 0.0, 3.0, 4.0]  # trunk rows: density 1
    sets = [("soma", [(0.0, 10.0, (0,))]), ("both, t >= 2", [(2.0, 10.0, (0, 1))])]
    soma, both = study.fisher_windows(jac, t, 2, sets)
    assert soma["rows"] == 4 and both["rows"] == 6
    assert np.isinf(soma["rel_std"][1]) and np.isinf(soma["condition_number"])
    np.testing.assert_allclose(both["rel_std"], [1 / 2.0, 1 / 5.0], rtol=1e-12)
    np.testing.assert_allclose(both["eigenvalues"], [25.0, 4.0], rtol=1e-12)
    with pytest.raises(ValueError, match="jac must be"):
        study.fisher_windows(jac[:6], t, 2, sets)
    with pytest.raises(ValueError, match="site"):
        study.fisher_windows(jac, t, 2, [("bad", [(0.0, 1.0, (2,))])])


def test_abs_scale_keeps_a_jacobian_column_at_zero(study):
    """`AbsScale(center)`: p = center·|u| (linear, reflected at 0). Round trip (float32:
    rtol 1e-6); p ≥ 0 for any u; at a density driven to 2e-9 of its scale its Jacobian
    column dp/du is still `center` where `LogScale`'s is p itself, and 0 once u is clipped
    at −20 (the trap that kept somatic K_Tst at 0 on every failed Hay start); LM through
    `neurojax.fitting`'s own step on a residual r = p/center − 1 then goes from 2e-9 to the
    truth (one Gauss–Newton step on a linear residual; float32 round-off: 1e-5). Bad
    settings and negative densities are refused."""
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.fitting._descent import _descend

    center = 3.0e-3
    c = study.AbsScale(center).bind(jnp.asarray(1.0e-3))
    assert c.center == center  # not re-anchored
    p = jnp.asarray([0.0, 1.0e-3, 4.5e-3], jnp.float32)
    np.testing.assert_allclose(np.asarray(c.forward(c.inverse(p))), np.asarray(p), rtol=1e-6)
    assert np.all(np.asarray(c.forward(jnp.asarray([-2.0, -1e-9, 0.5]))) >= 0)
    low = jnp.asarray(2e-9, jnp.float32)
    slope_abs = jax.jvp(c.forward, (c.inverse(low * center),), (jnp.float32(1.0),))[1]
    lg = study.LogScale().bind(jnp.asarray(center))

    def slope_log(x):
        return float(jax.jvp(lg.forward, (lg.inverse(x * center),), (jnp.float32(1.0),))[1])

    np.testing.assert_allclose(float(slope_abs), center, rtol=1e-6)
    # LogScale: dp/du = p (1e-8·center, float32 exp∘log: rtol 1e-4), and exactly 0 below
    # e^-20 of its anchor, where u is clipped (2e-9 < e^-20 = 2.06e-9)
    np.testing.assert_allclose(slope_log(1e-8), 1e-8 * center, rtol=1e-4)
    assert slope_log(2e-9) == 0.0

    import equinox as eqx

    class Linear(eqx.Module):
        con: object

        def from_unconstrained(self, u):
            return [self.con.forward(x) for x in u]

        def unconstrained_residuals(self, u):
            return jnp.stack([self.con.forward(u[0]) / center - 1.0])

    d = _descend(Linear(c), nj.fitting.LevenbergMarquardt(), [jnp.asarray([2e-9])], steps=10,
                 patience=5, rtol=1e-6, progress_meter=nj.NoProgress(), print_every=10)  # fmt: skip
    np.testing.assert_allclose(float(c.forward(d.best_u[0])[0]), center, rtol=1e-5)
    with pytest.raises(ValueError, match="center"):
        study.AbsScale(0.0)
    with pytest.raises(ValueError, match=">= 0"):
        study.AbsScale(center).bind(np.asarray(-1e-3))


def test_finish_goes_on_from_the_stored_final_point_of_the_same_start(study):
    """`final_point`: the finish stage starts from the stored run's final densities
    (truth·(1 + rel_error); a key with several starts: row `start_index`), and refuses a
    run from another start, a missing key and a missing `--start-index`; `key_of` names
    the result after the run it goes on from. `hierarchical` refuses a bad `scale` or
    `finish` before any simulation."""
    from types import SimpleNamespace

    truth = np.array([1.0, 2.0])
    start = np.array([1.5, 1.0])
    one = {"starts": [start.tolist()], "lm": [{"rel_error": [0.1, -1.0]}]}
    many = {"lm": [{"rel_error": [0.0, 0.0]}, {"rel_error": [0.5, 0.25]}]}
    allres = {"one": one, "many": many, "fisher": {"fisher": []}}
    np.testing.assert_allclose(study.final_point(allres, "one", 3, start, truth), [[1.1, 0.0]])
    np.testing.assert_allclose(study.final_point(allres, "many", 1, start, truth), [[1.5, 2.5]])
    with pytest.raises(ValueError, match="another start"):
        study.final_point(allres, "one", 2, start * 1.01, truth)
    with pytest.raises(ValueError, match="no such run"):
        study.final_point(allres, "fisher", 0, start, truth)
    with pytest.raises(ValueError, match="start-index"):
        study.final_point(allres, "one", None, start, truth)
    args = SimpleNamespace(from_key="one", finish=60)
    assert study.key_of(args) == "one-finish60"
    mechs = {}
    for _, k, f in study.DENSITIES:
        mechs.setdefault(k, {})[f] = 1.0
    cell = SimpleNamespace(mechanisms=[SimpleNamespace(**mechs.get(k, {})) for k in range(22)])
    with pytest.raises(ValueError, match="scale"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), scale="lin")
    with pytest.raises(ValueError, match="scale"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), scale="abs", log_bound=3.0)
    with pytest.raises(ValueError, match="finish"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), finish=-1)


def test_with_onsets_adds_the_raw_windows_to_the_smoothed_loss(study):
    """`with_onsets(loss, w, windows)`: the loss plus w × the raw trace MSE of each window
    (each the mean over its own rows), still a sum of squares (Σ r² equals the loss, so
    LM runs it); weight 0 returns the loss itself; bad weights and windows are refused.
    float32 sums of ≤ 800 terms: relative round-off ~1e-6, 1e-5 is safe."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 2)) * 5, rng.normal(size=(400, 2)) * 5
    base = study.SmoothedTraceMSE(sigma=0.5, stride=2)
    wins = ((1.0, 2.0), (5.0, 9.0))
    loss = study.with_onsets(base, 0.3, wins)
    t = (np.arange(400) + 1) * 0.025
    want = float(base(_rec(a), _rec(b)))
    for t0, t1 in wins:
        k = (t >= t0) & (t < t1)
        want += 0.3 * np.mean((a[k] - b[k]) ** 2)
    got = float(loss(_rec(a), _rec(b)))
    assert abs(got - want) < 1e-5 * want, (got, want)
    r = np.asarray(loss.residuals(_rec(a), _rec(b)))
    assert abs(float(r @ r) - want) < 1e-5 * want
    assert study.with_onsets(base, 0.0, wins) is base
    with pytest.raises(ValueError, match="weight"):
        study.with_onsets(base, -1.0, wins)
    with pytest.raises(ValueError, match="window"):
        study.with_onsets(base, 1.0, ((2.0, 1.0),))


def test_cma_restarts_double_the_population_only_while_above_the_threshold(study):
    """`cma_restarted` (`--cma-restarts K`): no restart once the best value is at or below
    `above`; otherwise up to K restarts, λ doubled each time with the budget (50, 100, 200
    simulations for λ 10, 20, 40), each from the best point so far (its value never gets
    worse), the history counting every simulation. On a sphere offset by 1 (min 1) with
    `above` 0.5 nothing can reach it, so both restarts run; with `above` 2 the first run's
    best (~1.0x after 5 generations from distance 3) is below it and none runs."""
    c = np.full(10, 0.3)

    def f(x):
        return 1.0 + np.sum((x - c) ** 2, axis=-1)

    x0 = np.zeros(10)
    bx, bf, hist, done = study.cma_restarted(f, x0, 0.25, 50, 10, seed=0, restarts=2,
                                             above=0.5, log=lambda r: None)
    assert [r["popsize"] for r in done] == [20, 40]
    assert [r["simulations"] for r in done] == [100, 200]
    assert hist[-1][0] == 50 + 100 + 200
    assert all(b <= a for (_, a), (_, b) in zip(hist, hist[1:], strict=False))
    assert bf == min(r["best_loss"] for r in done + [{"best_loss": hist[4][1]}])
    assert f(bx[None])[0] == pytest.approx(bf)
    assert done[0]["from_loss"] == hist[4][1]  # the first run's best after its 5 generations
    _, bf1, hist1, none = study.cma_restarted(f, x0, 0.25, 50, 10, seed=0, restarts=2,
                                              above=f(x0[None])[0], log=lambda r: None)
    assert none == [] and hist1[-1][0] == 50 and bf1 <= f(x0[None])[0]


def test_cma_restarts_alternate_between_the_best_point_and_the_start(study):
    """`cma_restarted(restart_from=...)` (`--cma-restart-from`): "alternate" runs the first
    restart from the best point so far and the second from `x0` — each restart's first
    generation is drawn around its mean, so on a sphere centred far from `x0` (at c, 3 from
    `x0`; f ~1.9 after the first 50 simulations) the second restart's first generation of
    λ 40 (σ 0.25 around `x0`: its best f ≈ 6.4, |x − c|² ≈ 9 + 0.6 less the
    luckiest draw) is far worse than the first restart's; "start" runs both from `x0`; a
    bad value is refused."""
    c = np.full(10, 3.0 / np.sqrt(10.0))

    def f(x):
        return np.sum((x - c) ** 2, axis=-1)

    firsts = {}

    def g(x, tag):
        firsts.setdefault(tag, []).append(float(np.min(f(x))))
        return f(x)

    x0 = np.zeros(10)
    for mode in ("alternate", "start", "best"):
        _, _, _, done = study.cma_restarted(lambda x, m=mode: g(x, m), x0, 0.25, 50, 10,
                                            seed=0, restarts=2, above=-1.0,
                                            log=lambda r: None, restart_from=mode)  # fmt: skip
        assert [r["from"] for r in done] == {"alternate": ["best", "start"],
                                             "start": ["start", "start"],
                                             "best": ["best", "best"]}[mode]  # fmt: skip
    # the generations: 5 of the first run, 5 of restart 1 (λ 20), 5 of restart 2 (λ 40)
    first_of = {m: (firsts[m][5], firsts[m][10]) for m in firsts}
    assert first_of["alternate"][1] > 5.0 > first_of["alternate"][0]
    assert first_of["start"][0] > 5.0 and first_of["start"][1] > 5.0
    with pytest.raises(ValueError, match="restart_from"):
        study.cma_restarted(f, x0, 0.25, 50, 10, seed=0, restarts=1, restart_from="random")


def test_finish_lm_settings_and_x64_name_the_run(study):
    """`parse_lm` (`--finish-lm`): LevenbergMarquardt's own names only, `max_tries` an int;
    `key_of` appends the finish's settings, `-x64` and the restarts, so runs differing in
    them do not overwrite one another in the JSON."""
    from types import SimpleNamespace

    def error(msg):
        raise ValueError(msg)

    assert study.parse_lm("max_damping=1e14, max_tries=20", error) == {
        "max_damping": 1e14, "max_tries": 20}
    assert study.parse_lm("", error) == {}
    with pytest.raises(ValueError, match="max_damping"):
        study.parse_lm("maxdamping=1e14", error)
    args = SimpleNamespace(from_key="k", finish=40, x64=True,
                           finish_lm_dict={"max_damping": 1e14})
    assert study.key_of(args) == "k-finish40-max_damping1e+14-x64"
    args = SimpleNamespace(from_key=None, variant="hierarchical", protocol="long", method="lm",
                           log_bound=None, prior=None, hold_first=(), cma_first=200,
                           spike_peaks=0.1, cma_restarts=2, cma_restart_above=10.0, finish=40,
                           x64=False, finish_lm_dict={}, start_index=2)
    assert study.key_of(args) == ("hierarchical-long-lm-cmafirst200-spikepeaks0.1-restarts2"
                                  "-finish40-start2")
    args.cma_restart_from = "alternate"
    assert study.key_of(args) == ("hierarchical-long-lm-cmafirst200-spikepeaks0.1-restarts2"
                                  "-fromalternate-finish40-start2")


def test_hierarchical_summary_reads_the_stage_records(study):
    """`hierarchical_summary`: the final densities and loss are the last stage's, the
    simulation-equivalents count CMA-ES's simulations plus (1 + tangents) per LM
    evaluation, and an entry that is not a stage (a restart record) is skipped."""
    out = {"stages": [
        {"stage": "cma-es", "n_evaluations_total": 0, "n_tangents": 0, "simulations": 600,
         "losses": [[5.0, 1.0]], "rel_error": [[0.3, 0.2]], "stop_reason": "budget",
         "converged": False},
        {"cma_restart": {"popsize": 20}},
        {"stage": "raw", "n_evaluations_total": 12, "n_tangents": 10,
         "losses": [[1.0, 0.5, 0.25]], "rel_error": [[0.01, -0.02]], "stop_reason": "FLOOR",
         "converged": True}]}
    row = study.hierarchical_summary(out, 1)["lm"][0]
    assert row["rel_error"] == [0.01, -0.02] and row["loss"] == 0.25
    assert row["simulations_equivalent"] == 600 + 12 * 11
    assert row["losses"] == [5.0, 1.0, 1.0, 0.5, 0.25]
    assert out["lm_stop_reason"] == "FLOOR" and out["lm_converged"] is True
