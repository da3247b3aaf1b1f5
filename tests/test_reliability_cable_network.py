"""Reliability matrices for cables and networks: every cell of the matrix is checked
against a known fact with a stated tolerance (see docs/numerics.md, "Cables" and
"Networks", for the measured errors).

**Cables**: scheme (TRBDF2 — the default —, BackwardEuler, CrankNicolson) × dt (0.1,
0.025, 0.01 ms) × clamp (current, conductance, voltage), on a ball-and-stick cell (HH
soma, passive dendrite, subthreshold stimuli switched on at 1 ms), against a converged
fine-dt reference, in float64. The tolerance of each cell is `C·dt^p`, with `p` the
scheme's order (1 for backward Euler, 2 for TR-BDF2 and Crank–Nicolson) and `C` the error
constant err/dt^p measured (the largest over the three steps) with a margin of 2. The
conductance input sits on a segment centre: on a membrane-less branch end (x = 0 or 1)
Crank–Nicolson is only first order for it (docs/numerics.md; TR-BDF2 stays second order
there, tests/test_cable_scheme.py).

**Networks**: connectivity (dense, sparse event-driven, one-to-one, sparse with
per-synapse delays) × synapse model (current- and conductance-based exponential,
dual-exponential, alpha, kinetic AMPA, NMDA, delta) × delay (0, 1 ms) × dtype (float32,
float64). Facts: (1) event-driven sparse and one-to-one propagation equal the dense
matrix product (to the dtype's rounding); (2) a spike at step k reaches the synapse at
step k + delay/dt exactly; (3) the conductance (or current) integral of a linear synapse
is the analytic charge (`w·τ`, `w(τ_d − τ_r)/η`, `w·e·τ`) to the scheme's accuracy; a
delta synapse moves V by exactly `w`; kinetic gates stay in [0, 1].
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nw
from neurojax import synapses as syn
from neurojax.cable import HH, Branch, Cell, Morphology, Passive
from neurojax.solvers import TRBDF2, BackwardEuler, CrankNicolson

pytestmark = pytest.mark.slow

# ------------------------------------------------------------------------------ cables

T, T_ON, SAVE = 10.0, 1.0, 0.1  # ms: run, stimulus onset, comparison grid
SITES = [(0, 0.5), (1, 1.0)]  # soma centre and dendrite tip
SCHEMES = {
    "TRBDF2": (TRBDF2, 2),
    "BackwardEuler": (BackwardEuler, 1),
    "CrankNicolson": (CrankNicolson, 2),
}
# Error constants C (mV/ms^p): 2 × the largest err/dt^p measured over the three steps
# (docs/numerics.md has the errors themselves).
C = {
    ("TRBDF2", "current"): 2 * 0.23,
    ("TRBDF2", "conductance"): 2 * 7.1,  # pre-asymptotic at 0.1 ms, 1.9 at 0.01
    ("TRBDF2", "voltage"): 2 * 28.4,  # 19 and 18 at 0.025 and 0.01
    ("BackwardEuler", "current"): 2 * 0.40,
    ("BackwardEuler", "conductance"): 2 * 1.85,
    ("BackwardEuler", "voltage"): 2 * 9.6,
    ("CrankNicolson", "current"): 2 * 0.37,
    ("CrankNicolson", "conductance"): 2 * 21.2,  # pre-asymptotic at 0.1 ms, 3.8 at 0.01
    ("CrankNicolson", "voltage"): 2 * 0.37,  # what CN would need to count as second order
}
# The fine reference: Crank–Nicolson at dt = 1 µs (within 2e-6 mV of TR-BDF2 at 1 µs),
# and for the voltage clamp — where CN rings — TR-BDF2 at dt = 0.5 µs (within 1e-5 mV of
# TR-BDF2 at 1 µs and of backward Euler Richardson-extrapolated from 0.5 and 0.25 µs;
# backward Euler at 0.5 µs alone is 0.005 mV off, as large as what is measured).
REFERENCE = {
    "current": (CrankNicolson, 0.001),
    "conductance": (CrankNicolson, 0.001),
    "voltage": (TRBDF2, 0.0005),
}
CN_RINGS = pytest.mark.xfail(
    strict=True,
    reason="known limit of NEURON's scheme: Crank–Nicolson rings undamped after a "
    "voltage-clamp step (errors of 6–10 mV at every dt; it is not L-stable); the default "
    "TRBDF2() and BackwardEuler() do not.",
)


def _cell(clamp):
    morph = Morphology([Branch(20.0, 20.0, type="soma"), Branch(200.0, 1.0, parent=0, nseg=9)])
    sites = {
        "current": dict(clamps=[(0, 0.5)]),
        "conductance": dict(synapses=[(1, 0.95, 0.0)]),
        "voltage": dict(vclamps=[(0, 0.5)]),
    }[clamp]
    return Cell(morph, [(HH(), "soma"), (Passive(g=0.1, e=-65.0), [1])], **sites)


def _inputs(clamp, dt):
    n = int(round(T / dt))
    on = (np.arange(n) * dt >= T_ON - 1e-9)[:, None]
    if clamp == "current":
        return jnp.asarray(0.02 * on)  # nA: subthreshold
    empty = jnp.zeros((n, 0))
    if clamp == "conductance":
        return {"i_clamp": empty, "g_syn": jnp.asarray(0.0005 * on)}  # µS, e_rev = 0 mV
    return {"i_clamp": empty, "v_clamp": jnp.asarray(np.where(on, -55.0, -65.0))}  # mV


def _run_cell(clamp, scheme, dt):
    cell = _cell(clamp)
    sol = nj.simulate(
        cell,
        _inputs(clamp, dt),
        dt=dt,
        solver=scheme(),
        saveat=nj.SaveAt(every=int(round(SAVE / dt)), fn=cell.record_v(SITES)),
    )
    return np.asarray(sol.states)


@functools.cache
def _reference(clamp):
    with jax.enable_x64(True):
        scheme, dt = REFERENCE[clamp]
        return _run_cell(clamp, scheme, dt)


def _cable_cases():
    for name in SCHEMES:
        for dt in (0.1, 0.025, 0.01):
            for clamp in ("current", "conductance", "voltage"):
                marks = [CN_RINGS] if (name, clamp) == ("CrankNicolson", "voltage") else []
                yield pytest.param(name, dt, clamp, marks=marks, id=f"{name}-{dt}-{clamp}")


@pytest.mark.parametrize("scheme,dt,clamp", list(_cable_cases()))
def test_cable_matrix(scheme, dt, clamp):
    solver, order = SCHEMES[scheme]
    ref = _reference(clamp)
    with jax.enable_x64(True):
        got = _run_cell(clamp, solver, dt)
    err = float(np.abs(got - ref).max())
    tol = C[(scheme, clamp)] * dt**order
    assert err <= tol, f"{scheme} dt={dt} {clamp} clamp: max |ΔV| = {err:.3g} mV > {tol:.3g}"


# ---------------------------------------------------------------------------- networks

DT = 0.1  # ms
N_STEPS = 800  # 80 ms: 16 of the slowest linear time constant (5 ms)
N_PRE, N_POST = 4, 3
SPIKE_STEPS = {0: [10, 200], 1: [10], 2: [50], 3: []}  # presynaptic neuron → steps
W = np.array([[0.5, 0.0, 1.0], [0.25, 0.75, 0.0], [0.0, 0.5, 0.5], [1.0, 1.0, 1.0]])

SYNAPSES = {
    "exp_current": lambda: syn.Exponential(tau=5.0),
    "exp_conductance": lambda: syn.Exponential(tau=5.0, e_rev=0.0),
    "dual_exponential": lambda: syn.DualExponential(tau_rise=0.5, tau_decay=5.0, e_rev=0.0),
    "alpha": lambda: syn.Alpha(tau=2.0),
    "ampa": lambda: syn.AMPA(),
    "nmda": lambda: syn.NMDA(),
    "delta": lambda: syn.Delta(),
}
CONNECTIVITY = ("dense", "sparse", "one_to_one", "sparse_het_delays")


def _weights(kind):
    return np.diag(np.diag(W[:N_POST, :])) if kind == "one_to_one" else W


def _connectivity(kind, w):
    if kind == "dense":
        return nw.Dense(w)
    if kind == "one_to_one":
        return nw.one_to_one(N_POST, np.diag(w))
    pre, post = np.nonzero(w)
    return nw.from_pairs(pre, post, w.shape[0], w.shape[1], w[pre, post])


def _network(kind, synapse, delay, w):
    conn = _connectivity(kind, w)
    n_pre = conn.n_pre
    if kind == "sparse_het_delays":
        delay = np.where(np.asarray(conn.post) < conn.n_post, delay, 0.0)
    # a post neuron far below threshold (no spikes: only the synapses are observed); for
    # the delta synapse, a leak so slow that V holds its jumps
    lif = nj.LIF(v_th=1e3, tau=1e9) if isinstance(synapse, syn.Delta) else nj.LIF(v_th=1e3)
    return nw.Network(
        {"S": nw.Population(nw.SpikeSource(), n_pre), "E": nw.Population(lif, N_POST)},
        [nw.Projection("S", "E", conn, synapse, delay=delay)],
        dt=DT,
    )


def _spikes(n_pre):
    s = np.zeros((N_STEPS, n_pre))
    for i, steps in SPIKE_STEPS.items():
        if i < n_pre:
            s[steps, i] = 1.0
    return jnp.asarray(s)


@functools.cache
def _run_net(kind, name, delay, dtype):
    with jax.enable_x64(dtype == "float64"):
        w = _weights(kind)
        net = _network(kind, SYNAPSES[name](), delay, w)
        sol = nj.simulate(net, {"S": _spikes(net.populations["S"].size)}, dt=DT)
        state = jax.tree.map(np.asarray, sol.states)
        assert sol.v["E"].dtype == np.dtype(dtype)
        return state


def _observed(name, state):
    """The synapse's observable per post neuron over time: its conductance (µS) or
    current (nA), the open fraction of a kinetic receptor, or V for a delta synapse."""
    if name == "delta":
        return state.neurons["E"].v
    s = state.synapses[0]
    return {
        "exp_current": lambda: s.g,
        "exp_conductance": lambda: s.g,
        "dual_exponential": lambda: s.decay - s.rise,
        "alpha": lambda: s.g,
        "ampa": lambda: s.r,
        "nmda": lambda: s.s,
    }[name]()


def _jumped(name, state):
    """The variable that jumps when spikes arrive (the others follow from the next step
    on): g, the slow component, alpha's h, the transmitter pulse's time left, NMDA's x,
    or V for a delta synapse."""
    if name == "delta":
        return state.neurons["E"].v
    s = state.synapses[0]
    return {
        "exp_current": lambda: s.g,
        "exp_conductance": lambda: s.g,
        "dual_exponential": lambda: s.decay,
        "alpha": lambda: s.h,
        "ampa": lambda: s.t_left,
        "nmda": lambda: s.x,
    }[name]()


EPS = {"float32": 2e-6, "float64": 1e-12}


def _net_cases():
    for kind in CONNECTIVITY:
        for name in SYNAPSES:
            for delay in (0.0, 1.0):
                if kind == "sparse_het_delays" and delay == 0.0:
                    continue  # per-synapse delays of 0 are the homogeneous case
                for dtype in ("float32", "float64"):
                    yield pytest.param(
                        kind, name, delay, dtype, id=f"{kind}-{name}-{delay}-{dtype}"
                    )


@pytest.mark.parametrize("kind,name,delay,dtype", list(_net_cases()))
def test_network_matrix(kind, name, delay, dtype):
    state = _run_net(kind, name, delay, dtype)
    obs = _observed(name, state)
    w = _weights(kind)
    eps = EPS[dtype]
    scale = max(1.0, float(np.abs(obs).max()))

    # (1) event-driven and one-to-one propagation equal the dense product
    if kind != "dense":
        dense = _observed(name, _run_net("dense", name, delay, dtype))
        if kind == "one_to_one":
            dense = _observed(name, _run_dense_diag(name, delay, dtype))
        np.testing.assert_allclose(obs, dense, rtol=0, atol=8 * eps * scale)

    # (2) arrival: the first step at which each post neuron's synapse jumps
    lag = int(round(delay / DT))
    jumped = _jumped(name, state)
    rest = np.zeros(N_POST) if name != "delta" else np.full(N_POST, float(nj.LIF().v_rest))
    for k in range(N_POST):
        sources = [i for i in range(w.shape[0]) if w[i, k] != 0 and SPIKE_STEPS[i]]
        if not sources:
            continue
        first_spike = min(SPIKE_STEPS[i][0] for i in sources)
        moved = np.nonzero(np.abs(jumped[:, k] - rest[k]) > 1e-6 * scale)[0]
        assert moved[0] == first_spike + lag, (kind, name, k, moved[:3], first_spike + lag)

    # (3) charge and bounds
    arrived = np.array(
        [sum(w[i, k] * len(SPIKE_STEPS[i]) for i in range(w.shape[0])) for k in range(N_POST)]
    )
    synapse = SYNAPSES[name]()
    if name in ("exp_current", "exp_conductance", "dual_exponential", "alpha"):
        if name.startswith("exp"):
            charge, tol = arrived * 5.0, (DT / 5.0) ** 2 / 12
        elif name == "dual_exponential":
            charge = arrived / float(synapse._peak()) * (5.0 - 0.5)
            tol = (DT / 0.5) ** 2 / 12  # the fast component sets the quadrature error
        else:  # alpha: exponential Euler is first order for the coupled g, h
            charge, tol = arrived * np.e * 2.0, DT / 2.0
        # trapezoid over the saved states (row i = end of step i; tails beyond 80 ms are
        # below e^-12): g jumps by the arriving weight for the exponential synapse, whose
        # trapezoid then starts from half the jump; the others are continuous
        integral = DT * obs.sum(axis=0)
        if name.startswith("exp"):
            integral = integral - DT / 2 * arrived
        np.testing.assert_allclose(integral, charge, rtol=tol + 100 * eps, atol=1e-9)
    elif name == "delta":
        # V jumps by exactly the summed weight of the spikes arriving in a step
        v = obs
        for k in range(N_POST):
            jumps = {}
            for i in range(w.shape[0]):
                for s in SPIKE_STEPS[i]:
                    jumps[s + lag] = jumps.get(s + lag, 0.0) + w[i, k]
            for step, jump in jumps.items():
                assert abs((v[step, k] - v[step - 1, k]) - jump) <= 1e-4 + 1e4 * eps * scale
    else:  # kinetic gates: open fractions in [0, 1], and every post with input opens
        assert np.all(obs >= -eps) and np.all(obs <= 1 + eps)
        assert np.all((obs.max(axis=0) > 0) == (arrived > 0))


@functools.cache
def _run_dense_diag(name, delay, dtype):
    """The dense run with the one-to-one weights (a diagonal matrix, 3 × 3)."""
    with jax.enable_x64(dtype == "float64"):
        w = _weights("one_to_one")
        net = _network("dense", SYNAPSES[name](), delay, w)
        sol = nj.simulate(net, {"S": _spikes(N_POST)}, dt=DT)
        return jax.tree.map(np.asarray, sol.states)
