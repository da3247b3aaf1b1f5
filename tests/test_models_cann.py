"""CANN (Wu, Hamaguchi & Amari 2008): the stationary bump against the analytic solution,
population decoding, and tracking of a moving stimulus."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.models import CANN, CANNState

DT = 0.05  # ms, τ = 1 ms: RK4 is accurate to ~1e-7 per unit time here


@pytest.mark.parametrize("k", [0.5, 2.0])
def test_stationary_bump_matches_analytic(x64, k):
    # From a bump of the wrong height (3× too low) and width, without input, the network
    # settles (40 τ) onto u₀ e^{−(x−z)²/4a²}. With a = 0.4 rad the wrap-around on the ring
    # changes the solution by e^{−π²/4a²} ≈ 2e-7 and the sum over 256 neurons equals the
    # integral to spectral accuracy, so height and profile agree to 1e-5 relative.
    m = CANN(k=k, a=0.4, j0=1.0, n=256)
    u0, r0, _ = m.analytic_bump()
    z = float(m.x[140])  # ≈ 0.31 rad, on a grid point so that max(u) is the peak
    start = CANNState(u=0.3 * u0 * jnp.exp(-((m.x - z) ** 2) / (2 * 0.3**2)))
    sol = nj.simulate(m, jnp.zeros((800, m.n)), dt=DT, state0=start, saveat=nj.SaveAt(every=800))
    u = np.asarray(sol.states.u[-1])
    d = np.asarray(m._distance(m.x, z))
    np.testing.assert_allclose(u.max(), u0, rtol=1e-5)
    np.testing.assert_allclose(u, u0 * np.exp(-(d**2) / (4 * 0.4**2)), atol=1e-5 * u0)
    r = np.asarray(m.firing_rate(jnp.asarray(u)))
    np.testing.assert_allclose(r, r0 * np.exp(-(d**2) / (2 * 0.4**2)), atol=1e-5 * r0)
    # Width: the bump's second moment is 2a² (u) — the published width.
    w = u / u.sum()
    assert math.sqrt(np.sum(w * d**2)) == pytest.approx(math.sqrt(2) * 0.4, rel=1e-4)
    assert float(m.decode(jnp.asarray(u))) == pytest.approx(z, abs=1e-6)


def test_no_bump_above_critical_inhibition():
    m = CANN(k=10.0, a=0.5, j0=1.0, n=128)
    with pytest.raises(ValueError, match="k_c"):
        m.analytic_bump()


def test_tracks_a_moving_stimulus():
    # A stimulus moving at v = 0.02 rad/ms (A = 0.5·u₀): after a transient the decoded
    # bump position moves at the stimulus speed (±5 %) and lags behind it by a constant
    # amount (< 0.3 rad; Wu et al. 2008, Fig. 6: smooth tracking with a lag).
    m = CANN(k=0.5, a=0.5, j0=1.0, n=128)
    u0, _, _ = m.analytic_bump()
    n_steps, v = 4000, 0.02  # 200 ms
    t = (jnp.arange(n_steps) + 0.5) * DT
    z = -2.0 + v * t
    stim = m.stimulus(z, 0.5 * u0)
    start = CANNState(u=m.stimulus(-2.0, u0))
    sol = nj.simulate(m, stim, dt=DT, state0=start, saveat=nj.SaveAt(every=100))
    decoded = np.unwrap(np.asarray(m.decode(sol.states.u)))
    zs = np.asarray(z[99::100])
    late = slice(len(zs) // 2, None)
    speed = np.polyfit(np.asarray(sol.t)[late], decoded[late], 1)[0]
    assert speed == pytest.approx(v, rel=0.05)
    lag = zs[late] - decoded[late]
    assert 0 <= lag.mean() < 0.3 and lag.std() < 0.02
