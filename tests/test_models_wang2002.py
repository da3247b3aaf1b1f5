"""Wang (2002) spiking decision network: the low-rate spontaneous state and a
winner-take-all decision at high coherence, scaled down to n = 400 (conductances ∝ 1/N
as Wang does)."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.models import wang2002, wang2002_inputs, wang2002_stimulus
from neurojax.models._wang2002 import NMDA_SCALE, nmda_release, nmda_synapse
from neurojax.network import Network, OneToOne, Population, Projection, SpikeSource


def _none(y):
    return None


SAVE = nj.SaveAt(fn=_none, spike_dtype=jnp.uint8)  # module-level: one compilation
N = 400  # 320 pyramidal (A, B: 48 each; NS: 224) + 80 interneurons


def _rates(sol, dt, start=0, stop=None):
    return {
        p: float(np.asarray(sol.spikes[p])[start:stop].mean() / (dt * 1e-3)) for p in sol.spikes
    }


@pytest.fixture(scope="module")
def spontaneous():
    net = wang2002(n=N)
    sol = nj.simulate(
        net, wang2002_inputs(net, 5000), dt=net.dt, key=jax.random.key(0), saveat=SAVE
    )
    return net, sol


@pytest.mark.slow  # 400 neurons with NMDA saturation, 500 ms
def test_spontaneous_state(spontaneous):
    # Wang (2002): without stimulus all pyramidal cells fire at ~2–3 Hz (interneurons
    # ~8 Hz). Measured over 100–500 ms at n = 400: A 1.1, B 1.9, NS 1.6, I 6.7 Hz (at
    # n = 2000, keys of validation/wang2002_rates.py: A 1.8–2.8 Hz). The bands allow the
    # finite-size and Poisson fluctuation of 48-cell groups over 400 ms (~±0.6 Hz) and
    # exclude both a silent network and the high-activity attractor (> 10 Hz).
    net, sol = spontaneous
    r = _rates(sol, net.dt, start=1000)
    for p in ("A", "B", "NS"):
        assert 0.5 < r[p] < 4.5, (p, r)
    assert 3.0 < r["I"] < 12.0, r


@pytest.mark.slow  # five seeds × 2.5 s of the 400-neuron network
def test_decision_high_coherence(spontaneous):
    # c' = 51.2 %, μ0 = 40 Hz switched on after 500 ms of spontaneous activity, 2 s of
    # stimulus. A (stronger input) must win: over the last 500 ms A fires > 18 Hz and
    # > 4× B, B stays low (< 5 Hz, suppressed below its spontaneous rate by the shared
    # inhibition). Measured, seeds 10–14: A 25.2, 29.8, 27.1, 25.4, 24.4 Hz; B 1.2, 1.9,
    # 1.1, 1.7, 1.1 Hz. Brian2 with Wang's per-neuron NMDA saturation at n = 400 (seeds
    # 1–3, docs/wang2002.md): A 25.9, 21.8, 26.8 Hz; with the per-group saturation
    # neurojax used before: 6.0, 6.0, 13.6 Hz (neurojax then: 10.4–20.0 Hz, which the
    # 18 Hz bound rejects in at least 2 of 5 seeds). Smaller than Wang's 30–40 Hz at
    # n = 2000 (test_winner_rate_full_size) because small networks decide later.
    net, sol0 = spontaneous
    stim = wang2002_stimulus(net, 51.2, 40.0)
    wins = 0
    for seed in range(10, 15):
        sol = nj.simulate(
            stim,
            wang2002_inputs(net, 20000),
            dt=net.dt,
            key=jax.random.key(seed),
            state0=sol0.final_state,
            saveat=SAVE,
        )
        r = _rates(sol, net.dt, start=15000)
        wins += r["A"] > 18.0 and r["A"] > 4 * r["B"] and r["B"] < 5.0
    assert wins >= 4, wins


@pytest.mark.slow  # 2000 neurons, 2.5 s (~1.5 CPU-min); test_nmda_saturation_* covers the fix
def test_winner_rate_full_size():
    # The published network (N = 2000) at c′ = 51.2 %, μ0 = 40 Hz (constant), switched on
    # after 500 ms: Wang (2002) reports the winner at 30–40 Hz. Measured over 0.5–2 s
    # after onset (validation/wang2002_rates.py, keys split from key(seed)): neurojax
    # 31.8, 31.9, 30.8 Hz (seeds 1–3); Brian2 with Wang's per-neuron NMDA saturation
    # 32.3, 32.9, 32.3 Hz; Brian2 with the per-group saturation neurojax used before
    # 22.7, 22.5, 23.4 Hz. The band 28–40 Hz allows ~4 standard deviations of the seed
    # spread (0.6 Hz) below the published range and excludes the old 23 Hz.
    net = wang2002(n=2000)
    k0, k1 = jax.random.split(jax.random.key(1))
    sol0 = nj.simulate(net, wang2002_inputs(net, 5000), dt=net.dt, key=k0, saveat=SAVE)
    sol = nj.simulate(
        wang2002_stimulus(net, 51.2, 40.0),
        wang2002_inputs(net, 20000),
        dt=net.dt,
        key=k1,
        state0=sol0.final_state,
        saveat=SAVE,
    )
    r = _rates(sol, net.dt, start=5000)
    assert 28.0 < r["A"] < 40.0, r
    assert r["B"] < 4.0, r  # the loser is suppressed (1.5–1.9 Hz measured)
    # Against the committed Brian2 runs (tests/data/brian2_wang2002.json, 100 ms bins;
    # bins 10–24 are 0.5–2 s after onset): within 3 Hz of Wang's per-neuron saturation
    # (1 Hz measured systematic difference — refractory one step longer, exponential
    # Euler — plus ~3.5 SD of the seed spread, 0.6 Hz), well above the per-group one.
    ref = json.loads((Path(__file__).parent / "data" / "brian2_wang2002.json").read_text())

    def brian2_a(nmda):
        runs = [
            r_["rates_hz"]["A"][10:25]
            for r_ in ref["runs"]
            if (r_["nmda"], r_["n"], r_["method"], r_["sigma"]) == (nmda, 2000, "euler", 0.0)
        ]
        assert len(runs) == 3
        return float(np.mean(runs))

    assert abs(r["A"] - brian2_a("exact")) < 3.0, (r, brian2_a("exact"))
    assert r["A"] > brian2_a("group") + 5.0, (r, brian2_a("group"))


# Wang (2002) NMDA gating of one presynaptic neuron: ds/dt = −s/τ_d + α x (1 − s),
# dx/dt = −x/τ_r + Σδ(t − t_k); τ_r = 2 ms, τ_d = 100 ms, α = 0.5 /ms.
TAU_R, TAU_D, ALPHA = 2.0, 100.0, 0.5


def _wang_nmda(trains, dt, sub):
    """Wang's per-synapse s (one column per train) at the end of each step of `trains`
    (spike counts per step, delivered at the step's end), integrated with `sub` substeps
    per step: x exactly, s exactly for x held at its substep midpoint."""
    h = dt / sub
    s = np.zeros(trains.shape[1])
    x = np.zeros(trains.shape[1])
    out = np.empty(trains.shape)
    mid, full = np.exp(-h / (2 * TAU_R)), np.exp(-h / TAU_R)
    for k in range(trains.shape[0]):
        for _ in range(sub):
            xm = ALPHA * x * mid
            a = 1.0 / TAU_D + xm
            s = xm / a + (s - xm / a) * np.exp(-a * h)
            x = x * full
        x = x + trains[k]
        out[k] = s
    return out


def test_nmda_single_spike_tail_and_charge():
    # One spike from s = 0. After the rise s follows A·e^{−t/τ_d}; wang2002's release
    # weight (κU) must be A, and the difference of exponentials (τ_rise 1.566 ms) must
    # carry the same charge ∫s dt. Reference: Wang's ODE at 1 µs to t1 = 30 ms (x has
    # fallen to e^{−15}), then the exact exponential tail. The integrator's error is
    # O(h²) ~ 1e-7; the tolerances (1e-4 on A, 2e-3 relative on the charge) cover the
    # rounding of τ_rise to 4 digits (a 1e-4 relative change of the charge per 0.01 ms).
    from neurojax.models._wang2002 import _NMDA_KAPPA, _NMDA_U, _TAU_NMDA_RISE_EFF

    h, t1 = 0.001, 30.0
    trains = np.zeros((int(t1 / h), 1))
    trains[0] = 1.0  # x jumps at the end of the first substep-sized step
    s = _wang_nmda(trains, h, 1)[:, 0]
    amp = s[-1] * np.exp((t1 - h) / TAU_D)
    charge = s.sum() * h + s[-1] * TAU_D
    assert abs(_NMDA_KAPPA * _NMDA_U - amp) < 1e-4, (_NMDA_KAPPA * _NMDA_U, amp)
    de_charge = amp * (TAU_D - _TAU_NMDA_RISE_EFF)
    assert abs(de_charge / charge - 1) < 2e-3, (de_charge, charge)
    # (1 − e^{−ατ_r}) alone, without the decay during the rise, would be 2.6 % low.
    assert abs((1 - np.exp(-ALPHA * TAU_R)) / amp - 1) > 0.02


def test_nmda_saturation_per_presynaptic_neuron():
    # The fix for the winner rate (issue 20): wang2002 saturates each presynaptic
    # neuron's NMDA gating (a Tsodyks–Markram release, U = 1 − e^{−ατ_r}, recovering
    # with τ_d, into a linear Mg-blocked difference of exponentials), as Wang does. One
    # source per train onto one cell held below threshold; the postsynaptic gating
    # (weight NMDA_SCALE, so g = Σ s) must follow Wang's per-synapse ODE. Tolerances:
    # the event form neglects how the rises of spikes < 5 ms apart overlap and lumps
    # the rise shape: the mean over 0.5–1 s differs by ≤ 0.6 % (measured: +0.1 %,
    # +0.1 %, −0.2 %, +0.6 % for the four trains), ≤ 1 % asserted; the RMS difference is
    # ≤ 0.006 (transients of the rise shape), 0.01 asserted.
    dt, n_steps = 0.1, 10000
    rng = np.random.default_rng(0)
    trains = np.zeros((n_steps, 4))
    trains[::250, 0] = 1.0  # regular 40 Hz
    trains[rng.random(n_steps) < 40e-3 * dt, 1] = 1.0  # Poisson 40 Hz
    trains[::500, 2] = trains[20::500, 2] = 1.0  # doublets 2 ms apart at 20 Hz
    trains[::50, 3] = 1.0  # regular 200 Hz: deep saturation
    net = Network(
        {"src": Population(SpikeSource(), 4), "dst": Population(nj.LIF(v_th=1e3), 4)},
        (Projection("src", "dst", OneToOne(4, NMDA_SCALE), nmda_synapse(), stp=nmda_release()),),
        dt=dt,
    )
    sol = nj.simulate(
        net, {"src": jnp.asarray(trains)}, dt=dt, saveat=nj.SaveAt(fn=lambda y: y.synapses[0])
    )
    g = np.asarray(sol.states.decay - sol.states.rise, float)
    ref = _wang_nmda(trains, dt, 5)  # 0.02 ms substeps: 1e-4 from 0.005 ms ones
    half = n_steps // 2
    mean, mean_ref = g[half:].mean(0), ref[half:].mean(0)
    np.testing.assert_array_less(np.abs(mean / mean_ref - 1), 0.01)
    np.testing.assert_array_less(np.sqrt(((g - ref) ** 2).mean(0)), 0.01)
    # The previous per-group saturation predicted the Poisson mean 0.632ντ/(1 + 0.632ντ)
    # for any train: 9 % low for the regular 40 Hz train, which this test would catch.
    lumped = 0.632 * 4.0 / (1 + 0.632 * 4.0)
    assert lumped / mean_ref[0] - 1 < -0.05, (lumped, mean_ref[0])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="coherence"):
        wang2002(-120.0, 40.0, n=N)
    with pytest.raises(ValueError, match="coherence"):
        wang2002(101.0, 40.0, n=N)
    with pytest.raises(ValueError, match="mu0"):
        wang2002(10.0, -1.0, n=N)
    with pytest.raises(ValueError, match="scalars"):
        wang2002(jnp.array([10.0, 20.0]), 40.0, n=N)
    with pytest.raises(ValueError, match="n must"):
        wang2002(n=10)
    with pytest.raises(ValueError, match="w_plus"):
        wang2002(n=N, w_plus=0.5)
    net = wang2002(n=N)
    with pytest.raises(ValueError, match="coherence"):
        wang2002_stimulus(net, -150.0, 40.0)
    with pytest.raises(ValueError, match="n_steps"):
        wang2002_inputs(net, 0)
    # Inputs of the wrong shape are refused by simulate.
    with pytest.raises((ValueError, TypeError)):
        nj.simulate(net, {"A": jnp.zeros((10, 7))}, dt=net.dt, key=jax.random.key(0), saveat=SAVE)


def test_published_structure():
    # N = 2000: 1600 pyramidal (f = 0.15 → 240 per selective group, 1120 non-selective)
    # and 400 interneurons; w− = 1 − f(w+ − 1)/(1 − f) = 0.8765 for w+ = 1.7; the summed
    # recurrent conductance is independent of n (Wang's 1/N scaling).
    net = wang2002(n=2000)
    assert {p: net.populations[p].size for p in net.populations} == {
        "A": 240,
        "B": 240,
        "NS": 1120,
        "I": 400,
    }
    small = wang2002(n=N)

    def total(network, pre, post, kind):
        # summed AMPA conductance (µS) onto one `post` cell from group `pre`
        for p in network.projections:
            if (p.pre, p.post) == (pre, post) and type(p.synapse).__name__ == kind:
                return float(p.connectivity.to_dense()[:, 0].sum())

    w_minus = 1 - 0.15 * 0.7 / 0.85
    for network in (net, small):
        assert np.isclose(total(network, "A", "A", "Exponential"), 240 * 0.05e-3 * 1.7)
        assert np.isclose(total(network, "NS", "A", "Exponential"), 1120 * 0.05e-3 * w_minus)
        assert np.isclose(total(network, "I", "I", "Exponential"), 400 * 1.0e-3)
        # NMDA: per-synapse weights g_NMDA·w (times the release-to-gating scale) and a
        # release per presynaptic neuron (STP state shaped like the presynaptic group)
        assert np.isclose(
            total(network, "A", "A", "MgBlock"), 240 * 0.165e-3 * 1.7 * NMDA_SCALE, rtol=1e-6
        )
        assert np.isclose(total(network, "B", "I", "MgBlock"), 240 * 0.13e-3 * NMDA_SCALE)
        nmda = [p for p in network.projections if type(p.synapse).__name__ == "MgBlock"]
        assert len(nmda) == 12 and all(p.stp is not None for p in nmda)
        assert np.isclose(float(nmda[0].stp.u0), 1 - np.exp(-1.0))
