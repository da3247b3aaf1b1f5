"""Synapse kinetics against their closed-form solutions, driven through a Network by a
SpikeSource so that the whole pre → synapse path is exercised under `simulate`."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from _network_helpers import DT, relay, run_relay, spike_train

from neurojax import synapses as syn

N_STEPS = 400  # 40 ms


def g_of(k=0):
    return lambda y: y.synapses[k].g


def test_exponential_matches_closed_form(x64):
    # A spike at step 10 (delivered at the end of that step, t = 1.1 ms) jumps g by w, then
    # g = w·exp(−(t − 1.1)/τ). Exponential Euler is exact for this linear decay, so only
    # float64 rounding remains: 1e-12.
    w, tau = 0.5, 5.0
    sol = run_relay(relay(syn.Exponential(tau=tau), weight=w), spike_train(N_STEPS, [10]), g_of())
    t = np.asarray(sol.t)
    want = np.where(t >= 1.1 - 1e-9, w * np.exp(-(t - 1.1) / tau), 0.0)
    np.testing.assert_allclose(np.asarray(sol.states)[:, 0], want, rtol=1e-12, atol=1e-15)


def test_conductance_synapse_current_sign():
    # I = g·(E − V): an excitatory conductance (E = 0) depolarises a neuron at −65 mV, an
    # inhibitory one (E = −80 mV) hyperpolarises it: V after the spike moves accordingly.
    for e_rev, sign in ((0.0, 1), (-80.0, -1)):
        net = relay(syn.Exponential(tau=5.0, e_rev=e_rev), weight=0.01)
        sol = run_relay(net, spike_train(100, [5]), lambda y: y.neurons["dst"].v)
        dv = float(sol.states[-1, 0] - (-65.0))
        assert sign * dv > 0.1, (e_rev, dv)


@pytest.mark.parametrize("tau_rise,tau_decay", [(0.5, 5.0), (2.0, 100.0)])
def test_dual_exponential_peak_and_shape(x64, tau_rise, tau_decay):
    # Peak-normalised: the peak equals the weight, at t_p = τdτr/(τd−τr)·ln(τd/τr). Two
    # independent exponential decays: exponential Euler is exact, so 1e-10 of the peak;
    # the peak time is found on the grid of dt = 0.01 ms.
    dt, w = 0.01, 0.3
    n = int(5 * tau_decay / dt)
    net = relay(syn.DualExponential(tau_rise=tau_rise, tau_decay=tau_decay), weight=w, dt=dt)
    sol = run_relay(net, spike_train(n, [0]), lambda y: y.synapses[0].decay - y.synapses[0].rise)
    t = np.asarray(sol.t) - dt  # delivered at the end of step 0
    g = np.asarray(sol.states)[:, 0]
    shape = np.exp(-t / tau_decay) - np.exp(-t / tau_rise)
    tp = tau_decay * tau_rise / (tau_decay - tau_rise) * math.log(tau_decay / tau_rise)
    peak = math.exp(-tp / tau_decay) - math.exp(-tp / tau_rise)
    np.testing.assert_allclose(g, w * shape / peak, atol=1e-10 * w)
    assert abs(g.max() - w) < 1e-6 * w
    assert abs(t[g.argmax()] - tp) <= dt


def test_alpha_peak_at_tau(x64):
    # g = w (t/τ) e^{1 − t/τ}: peak w at t = τ. The coupled g–h pair is integrated to first
    # order: relative error ≈ dt/2τ = 0.25 % at dt = 0.01 ms, τ = 2 ms; 0.4 % allowed.
    dt, w, tau = 0.01, 0.2, 2.0
    net = relay(syn.Alpha(tau=tau), weight=w, dt=dt)
    sol = run_relay(net, spike_train(2000, [0]), g_of())
    t = np.asarray(sol.t) - dt
    g = np.asarray(sol.states)[:, 0]
    np.testing.assert_allclose(g, w * t / tau * np.exp(1 - t / tau), atol=4e-3 * w)
    assert abs(t[g.argmax()] - tau) < 0.05


@pytest.mark.parametrize("cls", [syn.AMPA, syn.GABAA])
def test_kinetic_receptor_pulse_response(x64, cls):
    # Destexhe et al. (1994): during the 1 ms pulse of [T] = 1 mM,
    #   r(t) = r∞ (1 − e^{−t/τr}),  r∞ = α[T]/(α[T] + β),  τr = 1/(α[T] + β),
    # then r decays as e^{−β t}. Exponential Euler with the state-dependent rate
    # α[T](1 − r) − βr (linear in r) is exact for both phases: 1e-12.
    model = cls()
    a, b = float(model.alpha), float(model.beta)
    sol = run_relay(relay(model), spike_train(200, [0]), lambda y: y.synapses[0].r)
    r = np.asarray(sol.states)[:, 0]
    t = np.asarray(sol.t) - DT  # pulse starts at the end of step 0
    r_inf, tau_r = a / (a + b), 1 / (a + b)
    during = (t > 0) & (t <= 1.0 + 1e-9)
    np.testing.assert_allclose(r[during], r_inf * (1 - np.exp(-t[during] / tau_r)), rtol=1e-12)
    r_end = r_inf * (1 - np.exp(-1.0 / tau_r))
    after = t > 1.0 + 1e-9
    np.testing.assert_allclose(r[after], r_end * np.exp(-b * (t[after] - 1.0)), rtol=1e-10)


def test_nmda_mg_block_jahr_stevens():
    # B(V) = 1/(1 + [Mg]/3.57·e^{−0.062 V}) (Jahr & Stevens 1990): with 1 mM Mg²⁺ about 8 %
    # of the channels conduct at −60 mV, 78 % at 0 mV, and B → 1 as V → +∞ or [Mg] → 0.
    assert float(syn.mg_block(-60.0)) == pytest.approx(1 / (1 + math.exp(3.72) / 3.57), rel=1e-6)
    assert float(syn.mg_block(-60.0)) == pytest.approx(0.0797, abs=5e-4)
    assert float(syn.mg_block(0.0)) == pytest.approx(1 / (1 + 1 / 3.57), rel=1e-6)
    assert float(syn.mg_block(-60.0, mg=0.0)) == 1.0
    v = jnp.linspace(-100, 40, 50)
    assert bool(jnp.all(jnp.diff(syn.mg_block(v)) > 0))


def test_nmda_current_voltage_relation():
    # The NMDA I–V curve has its negative-slope region below about −20 mV: |I| at −30 mV
    # exceeds |I| at −70 mV although the driving force is smaller.
    model = syn.NMDA(g_max=1.0)
    state = syn.NMDAState(s=jnp.array(0.5), x=jnp.array(0.0))
    i = lambda v: float(model.current(state, jnp.asarray(v)))  # noqa: E731
    assert abs(i(-30.0)) > abs(i(-70.0)) > 0
    assert i(0.0) == 0.0


def _tm_recurrence(n_spikes, period, u0, tau_d, tau_f):
    """Released fractions of a regular train, from the Tsodyks–Markram recurrences
    (Tsodyks, Pawelzik & Markram 1998; exact between spikes: x relaxes to 1, u to 0)."""
    x, u, out = 1.0, 0.0, []
    for _ in range(n_spikes):
        u_plus = u + u0 * (1 - u)
        r = u_plus * x
        out.append(r)
        x -= r
        u = u_plus if tau_f is not None else u
        x = 1 - (1 - x) * math.exp(-period / tau_d)
        if tau_f is not None:
            u = u * math.exp(-period / tau_f)
    return np.array(out)


@pytest.mark.parametrize("tau_f", [None, 200.0])
def test_tsodyks_markram_regular_train(x64, tau_f):
    # A 50 Hz train through STP into a non-decaying current synapse (τ = 1e12 ms): the
    # jumps of g are the released fractions, which follow the TM recurrences exactly
    # (exponential Euler is exact for the linear relaxations): 1e-9.
    u0, tau_d, period = 0.5 if tau_f is None else 0.1, 300.0, 20.0
    steps = np.arange(10) * int(period / DT) + 5
    stp = syn.TsodyksMarkram(u0=u0, tau_d=tau_d, tau_f=tau_f)
    net = relay(syn.Exponential(tau=1e12), stp=stp)
    sol = run_relay(net, spike_train(int(steps[-1]) + 3, steps), g_of())
    g = np.asarray(sol.states)[:, 0]
    jumps = g[steps] - g[steps - 1]
    want = _tm_recurrence(10, period, u0, tau_d, tau_f)
    np.testing.assert_allclose(jumps, want, rtol=1e-9)
    if tau_f is None:
        assert jumps[-1] < 0.5 * jumps[0]  # depression
    else:
        assert jumps[3] > 1.5 * jumps[0]  # facilitation dominates early at U = 0.1


def test_synapse_parameter_domains():
    with pytest.raises(ValueError, match="tau"):
        syn.Exponential(tau=0.0)
    with pytest.raises(ValueError, match="tau_decay > tau_rise"):
        syn.DualExponential(tau_rise=3.0, tau_decay=2.0)
    with pytest.raises(ValueError, match="u0"):
        syn.TsodyksMarkram(u0=0.0)
    with pytest.raises(ValueError, match="g_max"):
        syn.AMPA(g_max=-1.0)
