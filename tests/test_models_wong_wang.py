"""Wong & Wang (2006) reduced decision model: fixed points and stability against an
independent scipy solve of the published equations; decisions in simulation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import neurojax as nj
from neurojax.models import WongWang

# The published equations and values, written out again independently of the model code.
A, B, D, GAMMA, TAU_S = 270.0, 108.0, 0.154, 0.641, 0.1  # Hz/nA, Hz, s, -, s
J11, J12, I0, J_EXT = 0.2609, 0.0497, 0.3255, 5.2e-4


def _h(x):
    y = A * x - B
    return y / (1 - np.exp(-D * y))


def _f(s, mu0, c):  # dS/dt in 1/s
    i1, i2 = J_EXT * mu0 * (1 + c / 100), J_EXT * mu0 * (1 - c / 100)
    x1 = J11 * s[0] - J12 * s[1] + I0 + i1
    x2 = J11 * s[1] - J12 * s[0] + I0 + i2
    return np.array(
        [-s[0] / TAU_S + (1 - s[0]) * GAMMA * _h(x1), -s[1] / TAU_S + (1 - s[1]) * GAMMA * _h(x2)]
    )


def _scipy_fixed_points(mu0, c):
    found = []
    for s1 in np.linspace(0.02, 0.98, 13):
        for s2 in np.linspace(0.02, 0.98, 13):
            sol = optimize.root(_f, [s1, s2], args=(mu0, c), method="hybr", tol=1e-14)
            if (
                sol.success
                and np.all((sol.x > 0) & (sol.x < 1))
                and np.max(np.abs(_f(sol.x, mu0, c))) < 1e-9
            ):
                if not any(np.max(np.abs(sol.x - q)) < 1e-6 for q in found):
                    found.append(sol.x)
    out = []
    for x in sorted(found, key=lambda r: (r[0] - r[1], r[0])):
        # central-difference Jacobian (1/s → 1/ms to compare with the model)
        h = 1e-7
        jac = np.stack(
            [(_f(x + h * e, mu0, c) - _f(x - h * e, mu0, c)) / (2 * h) for e in np.eye(2)], 1
        )
        out.append((x, np.sort(np.linalg.eigvals(jac).real) * 1e-3))
    return out


@pytest.mark.parametrize(
    "mu0,coherence,n_stable",
    [
        (0.0, 0.0, 3),  # spontaneous state + two persistent (working-memory) states
        (30.0, 0.0, 2),  # two decision attractors around a symmetric saddle
        (30.0, 6.4, 2),
        (30.0, 51.2, 2),
        (30.0, 100.0, 1),  # strong evidence: only the correct choice remains
    ],
)
def test_fixed_points_match_independent_solve(x64, mu0, coherence, n_stable):
    # Same fixed points (1e-8 in S) and eigenvalues (1e-6 relative: the reference Jacobian
    # is a central difference with h = 1e-7, error ~h² × f''' ≈ 1e-9 of the largest).
    # float64 parameters (built under x64): float32 ones moved a saddle by 1e-7.
    ours = WongWang().fixed_points(mu0, coherence)
    ref = _scipy_fixed_points(mu0, coherence)
    assert len(ours) == len(ref), ([(p.s1, p.s2) for p in ours], [r[0] for r in ref])
    for p, (x, ev) in zip(ours, ref, strict=True):
        np.testing.assert_allclose([p.s1, p.s2], x, atol=1e-8)
        np.testing.assert_allclose(np.sort(p.eigenvalues.real), ev, rtol=1e-6, atol=1e-9)
        assert p.stable == bool(np.all(ev < 0))
    assert sum(p.stable for p in ours) == n_stable


def test_published_rates_at_fixed_points():
    # Wong & Wang (2006): spontaneous activity of ~2 Hz, persistent (memory) states of
    # ~20 Hz at μ0 = 0, decision states of ~30 Hz at μ0 = 30 Hz.
    m = WongWang()
    sym = [p for p in m.fixed_points(0.0, 0.0) if p.stable and abs(p.s1 - p.s2) < 1e-9]
    assert len(sym) == 1 and 1.0 < sym[0].r1 < 3.0
    memory = max(p.r1 for p in m.fixed_points(0.0, 0.0) if p.stable)
    assert 15.0 < memory < 25.0
    decision = max(p.r1 for p in m.fixed_points(30.0, 0.0) if p.stable)
    assert 25.0 < decision < 35.0


def test_simulation_reaches_the_choice_attractor():
    # Without noise, from the spontaneous state, a 51.2 % coherent stimulus drives the
    # network to the correct-choice attractor (S1 = 0.6884 from the fixed-point solve):
    # after 3 s, within 1e-3 (exponential Euler at dt = 0.5 ms, slowest mode 1/0.0074 ms).
    m = WongWang()
    stim = jnp.tile(m.stimulus(30.0, 51.2), (6000, 1))
    y0 = m.init_state()._replace(s1=jnp.asarray(0.1027), s2=jnp.asarray(0.1027))
    sol = nj.simulate(m, stim, dt=0.5, state0=y0, saveat=nj.SaveAt(every=6000))
    target = [p for p in m.fixed_points(30.0, 51.2) if p.stable and p.s1 > p.s2][0]
    assert float(sol.states.s1[-1]) == pytest.approx(target.s1, abs=1e-3)
    assert float(sol.states.s2[-1]) == pytest.approx(target.s2, abs=1e-3)


def test_noisy_choices_follow_coherence():
    # With background noise (σ = 0.02 nA), 64 trials at once (batch axis): at 51.2 %
    # coherence nearly all choose population 1 (Wong & Wang 2006 Fig. 3: ~100 %), at 0 %
    # about half (binomial sd 6 %: 0.2..0.8 allowed).
    m = WongWang()
    n_steps, trials = 4000, 64  # 2 s at dt = 0.5 ms

    def choices(c):
        stim = jnp.broadcast_to(m.stimulus(30.0, c), (n_steps, trials, 2))
        sol = nj.simulate(
            m, stim, dt=0.5, key=jax.random.key(int(c * 10)), saveat=nj.SaveAt(every=n_steps)
        )
        return np.asarray(sol.states.s1[-1] > sol.states.s2[-1])

    assert choices(51.2).mean() > 0.95
    assert 0.2 < choices(0.0).mean() < 0.8


def test_input_shape_error():
    with pytest.raises(ValueError, match="shaped"):
        nj.simulate(WongWang(), jnp.zeros((10, 3)), dt=0.5)
