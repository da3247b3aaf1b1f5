"""NMODL point processes with connection state, self-events (`net_send` + `flag`), `t`
in NET_RECEIVE; in-place cnexp; and the corpus constructs (VERBATIM `return 0;`, dt in
INITIAL, scaled UNITS constants). The mechanisms are those of
validation/nmodl_events_vs_neuron.py (written from published equations); NEURON itself
is compared in tests/test_nmodl_events_neuron.py (slow tier)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Branch, Cell, Morphology, Passive
from neurojax.nmodl import NmodlError, load_mod, parse
from neurojax.solvers import BackwardEuler

_spec = importlib.util.spec_from_file_location(
    "nmodl_events_vs_neuron",
    Path(__file__).parent.parent / "validation" / "nmodl_events_vs_neuron.py",
)
val = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(val)

DT = 0.025
N = 800  # 20 ms: one compiled program per synapse, shared by the tests below


def _run(syn, times, w, record, n=N):
    cell = Cell(Morphology([Branch(10.0, 10.0, nseg=1)]), [(Passive(g=0.1, e=-65.0), None)],
                v_init=-65.0, point_processes=[(syn, (0, 0.5))])  # fmt: skip
    ev = cell.event_input([(np.asarray(times), w)], n, DT)
    fns = {g: cell.record_point(0, g) for g in record}
    sol = nj.simulate(cell, {"i_clamp": jnp.zeros((n, 0)), "events": ev}, dt=DT,
                      solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return cell, {k: np.asarray(v).reshape(n) for k, v in sol.states.items()}


@pytest.fixture(scope="module")
def tm_run():
    with jax.enable_x64(True):
        syn = load_mod(val.TMSYN, file="tmsyn.mod")
        return syn, _run(syn, [2.0, 7.0, 9.0], 0.01, ["g", "nc_y", "nc_z", "nc_u", "nc_tsyn"])


def test_connection_state_tsodyks_markram(tm_run):
    """NET_RECEIVE's arguments after the weight are the connection's state (`nc_y`, …),
    set by NET_RECEIVE's INITIAL; NET_RECEIVE reads `t`. The jumps of g equal
    Tsodyks–Markram's recursion evaluated here in float64."""
    syn, (_, r) = tm_run
    assert type(syn).receive_time and not type(syn).receive_additive
    tau1, trec, tfac, U = 3.0, 100.0, 100.0, 0.3
    y = z = u = 0.0
    tsyn = 0.0
    jumps = []
    for t in (2.0, 7.0, 9.0):
        d = t - tsyn
        z = z * np.exp(-d / trec) + y * (np.exp(-d / tau1) - np.exp(-d / trec)) / (tau1 / trec - 1)
        y = y * np.exp(-d / tau1)
        x = 1 - y - z
        u = u * np.exp(-d / tfac)
        u = u + U * (1 - u)
        jumps.append(0.01 * x * u)
        y, tsyn = y + x * u, t
    g = r["g"]
    for t, jump in zip((2.0, 7.0, 9.0), jumps, strict=True):
        k = int(round(t / DT))  # delivered at the start of step k, then one cnexp step
        # g after the step = (g before + jump)·exp(−dt/τ₁): exact to rounding (1e-15)
        before = g[k - 1] * np.exp(-DT / tau1) if k else 0.0
        np.testing.assert_allclose(g[k], before + jump * np.exp(-DT / tau1), rtol=1e-12)
    assert r["nc_tsyn"][-1] == pytest.approx(9.0) and r["nc_y"][-1] == pytest.approx(y)


@pytest.fixture(scope="module")
def pulse_run():
    with jax.enable_x64(True):
        syn = load_mod(val.PULSESYN, file="pulse.mod")
        return syn, _run(syn, [2.0, 10.0, 10.5], 0.004, ["R", "on"])


def test_self_events_end_the_transmitter_pulse(pulse_run):
    """`net_send(Cdur, nspike)` ends the pulse Cdur after the last spike (a second spike
    inside the pulse extends it: its flag is the newer nspike); R follows Destexhe et
    al.'s closed form, evaluated here."""
    syn, (_, r) = pulse_run
    assert type(syn).self_events
    cmax, alpha, beta, cdur, w = 1.0, 1.1, 0.19, 1.0, 0.004
    rinf, rtau = cmax * alpha / (cmax * alpha + beta), 1 / (cmax * alpha + beta)
    t = DT * (np.arange(N) + 1)  # the SOLVEd procedure runs at the step's end
    want, r0, t_last, on = np.zeros(N), 0.0, 0.0, False
    phases = [(2.0, True), (3.0, False), (10.0, True), (11.5, False)]  # pulse ends: +Cdur
    for i, tt in enumerate(t):
        for tp, switch_on in phases:
            # NEURON's fixed step: delivered at the step starting at tp (tp on the grid)
            if abs(tt - DT - tp) < 1e-9:
                r0 = (w * rinf + (r0 - w * rinf) * np.exp(-(tp - t_last) / rtau)) if on else (
                    r0 * np.exp(-beta * (tp - t_last)))  # fmt: skip
                t_last, on = tp, switch_on
        want[i] = (w * rinf + (r0 - w * rinf) * np.exp(-(tt - t_last) / rtau) if on
                   else r0 * np.exp(-beta * (tt - t_last)))  # fmt: skip
    np.testing.assert_allclose(r["R"], want, rtol=1e-10, atol=1e-18)  # closed form: rounding
    assert r["on"][int(10.25 / DT)] == 1 and r["on"][int(11.6 / DT)] == 0
    del cdur


def test_event_input_refusals(tm_run, pulse_run):
    """Two events in one step for a NET_RECEIVE that is not additive, and event times
    off the dt grid where NET_RECEIVE reads t, are ValueErrors naming the synapse."""
    with jax.enable_x64(True):
        cell = tm_run[1][0]
        with pytest.raises(ValueError, match="two events in one step"):
            cell.event_input([([2.0, 2.01], 0.01)], 100, DT)
        with pytest.raises(ValueError, match="on the dt grid"):
            cell.event_input([([2.013], 0.01)], 100, DT)
        cell.event_input([([2.0, 2.05], 0.01)], 100, DT)  # fine


def test_self_event_queue_overflow_is_nan():
    """More pending self-events than slots: the synapse's state is NaN, never a
    silently dropped event."""
    from neurojax.nmodl._compile import SELF_EVENT_SLOTS

    text = val.PULSESYN.replace("Cdur = 1 (ms)", "Cdur = 100 (ms)")
    with jax.enable_x64(True):
        syn = load_mod(text, file="pulse.mod")
        g = syn.init(jnp.array([-65.0]), 6.3)
        for k in range(SELF_EVENT_SLOTS + 1):
            g = syn.receive(jnp.array([-65.0]), g, jnp.array([0.001]), t=k * DT, dt=DT)
        assert bool(jnp.isnan(g.R).all())


def test_cnexp_updates_in_place():
    """cnexp as nocmodl's code: each equation steps its state with the values of the
    moment, so R' = K1·C·(1 − R) − K2·R reads the C updated above it."""
    with jax.enable_x64(True):
        syn = load_mod(val.GABABSYN, file="gabab.mod")
        v = jnp.array([-65.0])
        g0 = syn.init(v, 6.3)._replace(C=jnp.array([1.0]), R=jnp.array([0.2]))
        g1 = syn.update(v, g0, DT, 6.3)
    c1 = 1.0 * np.exp(-DT / 10.0)
    a, b = 0.066 * c1, 0.066 * c1 + 0.02  # R' = a − b·R with the new C
    r1 = a / b + (0.2 - a / b) * np.exp(-b * DT)
    np.testing.assert_allclose(float(g1.C[0]), c1, rtol=1e-13)
    np.testing.assert_allclose(float(g1.R[0]), r1, rtol=1e-12)


NA3_LIKE = """
NEURON { SUFFIX na3x USEION na READ ena WRITE ina RANGE gbar }
UNITS { (mA) = (milliamp) (mV) = (millivolt) FARADAY = (faraday) (10000 coulomb) }
PARAMETER { gbar = 0.01 (mho/cm2) tha = -30 (mV) qa = 7.2 (mV) Ra = 0.4 (/ms) Rb = 0.124 (/ms) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) minf mtau (ms) F2 }
STATE { m }
LOCAL mexp
INITIAL { trates(v) m = minf F2 = FARADAY }
BREAKPOINT { SOLVE states  ina = gbar*m*m*m*(v - ena) }
PROCEDURE states() {
    trates(v)
    m = m + mexp*(minf - m)
    VERBATIM
    return 0;
    ENDVERBATIM
}
PROCEDURE trates(vm (mV)) { LOCAL a, b
    a = Ra*(vm - tha)/(1 - exp(-(vm - tha)/qa))
    b = Rb*(-vm + tha)/(1 - exp(-(-vm + tha)/qa))
    mtau = 1/(a + b)
    minf = a/(a + b)
    mexp = 1 - exp(-dt/mtau)
}
"""


def test_corpus_constructs():
    """Migliore's channels: `SOLVE states` (a PROCEDURE) ending in VERBATIM `return 0;`,
    dt read in INITIAL through the shared rate procedure (accepted: the initial state does
    not depend on it), `FARADAY = (faraday) (10000 coulomb)`."""
    with jax.enable_x64(True):
        ch = load_mod(NA3_LIKE, file="na3x.mod")
        v = jnp.array([-65.0, -20.0])
        g0 = ch.init(v, 6.3)
        g1 = ch.update(v, g0._replace(m=jnp.zeros(2)), DT, 6.3)
        a = 0.4 * (v + 30) / (1 - jnp.exp(-(v + 30) / 7.2))
        b = 0.124 * (-v - 30) / (1 - jnp.exp(-(-v - 30) / 7.2))
        np.testing.assert_allclose(g0.m, a / (a + b), rtol=1e-13)
        np.testing.assert_allclose(g1.m, (1 - jnp.exp(-DT * (a + b))) * a / (a + b), rtol=1e-12)
    # e·N_A = 96485.33212… C/mol (NEURON 9, 2019 SI) in units of 10⁴ C
    consts = parse(NA3_LIKE, "na3x.mod").unit_constants
    np.testing.assert_allclose(consts["FARADAY"], 1.602176634e-19 * 6.02214076e23 / 1e4, rtol=1e-14)
    assert not type(ch).init_depends_dt
    # an initial state that depends on dt: INITIAL sees dt_init (NEURON's h.dt, 0.025
    # ms) and a step with another dt is refused (tests/test_nmodl_constructs.py)
    dep = load_mod(NA3_LIKE.replace("m = minf F2", "m = minf*mexp F2"), file="na3x.mod")
    assert type(dep).init_depends_dt and dep.dt_init == 0.025
    other = NA3_LIKE.replace("return 0;", "x = 1;")
    with pytest.raises(NmodlError, match="VERBATIM"):
        ch = load_mod(other, file="na3x.mod")
        ch.update(jnp.array([-65.0]), ch.init(jnp.array([-65.0]), 6.3), DT, 6.3)


def test_refusals_name_the_line():
    """FOR_NETCONS with arguments other than NET_RECEIVE's, net_send in a density
    mechanism, net_move in a point process: NmodlError
    naming file and line."""
    stdp = val.PULSESYN.replace("nspike = nspike + 1", "FOR_NETCONS(w1, x) { w1 = 0 }")
    line = stdp[: stdp.index("FOR_NETCONS")].count("\n") + 1
    with pytest.raises(NmodlError, match=rf"s\.mod:{line}: FOR_NETCONS takes NET_RECEIVE's 1"):
        load_mod(stdp, file="s.mod")
    watch = val.PULSESYN.replace("nspike = nspike + 1", "WATCH (v > -20) 2\n WATCH (v > 0) 3")
    # two WATCH statements load (tests/test_nmodl_pointer_events.py checks NEURON's rule)
    fields = type(load_mod(watch, file="s.mod"))._spec.gates._fields
    assert {"watch_on0", "watch_on1", "watch_flag0", "watch_flag1"} <= set(fields)
    with pytest.raises(NmodlError, match=r"net_move\(\) in a POINT_PROCESS"):
        load_mod(val.PULSESYN.replace("net_send(Cdur, nspike)", "net_move(t + 1)"), file="s.mod")
    dens = NA3_LIKE.replace("m = minf F2 = FARADAY", "m = minf net_send(1, 1)")
    with pytest.raises(NmodlError, match=r"net_send\(\) in a SUFFIX"):
        load_mod(dens, file="d.mod")
