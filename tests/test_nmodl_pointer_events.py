"""Point processes that WRITE a concentration, emit spikes (`net_event`), read a
`POINTER`, or hold several WATCH statements: closed forms and refusals (fast tier; the
comparisons with NEURON are `tests/test_nmodl_pointer_events_neuron.py`, slow).

Each mechanism is written here; one or two compartments, a few hundred steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import HH, Branch, Cell, Morphology, Passive
from neurojax.nmodl import NmodlError, emitted_spike_times, load_mod
from neurojax.solvers import BackwardEuler

DT = 0.025
# NEURON 9's 2019-SI values: R = N_A·k (J/(mol K)), F = N_A·e (C/mol)
R, F = 6.02214076e23 * 1.380649e-23, 6.02214076e23 * 1.602176634e-19

CA_RELAX = """
NEURON { POINT_PROCESS CaRelax  USEION ca WRITE cai  RANGE taur, cainf, c0 }
UNITS { (mM) = (milli/liter) }
PARAMETER { taur = 2 (ms)  cainf = 1e-3 (mM)  c0 = 1e-4 (mM) }
STATE { cai (mM) }
INITIAL { cai = c0 }
BREAKPOINT { SOLVE st METHOD cnexp }
DERIVATIVE st { cai' = (cainf - cai)/taur }
"""

# copies eca into x within the step (tau 1e-6 ms: exp(-dt/tau) underflows to 0)
ECA_PROBE = """
NEURON { POINT_PROCESS EcaProbe  USEION ca READ eca }
PARAMETER { tau = 1e-6 (ms) }
ASSIGNED { eca (mV) }
STATE { x }
BREAKPOINT { SOLVE st METHOD cnexp }
DERIVATIVE st { x' = (eca - x)/tau }
"""

DRIVE = """
NEURON { POINT_PROCESS Drive  POINTER C  RANGE tau }
PARAMETER { tau = 1 (ms) }
ASSIGNED { C }
STATE { x }
BREAKPOINT { SOLVE st METHOD cnexp }
DERIVATIVE st { x' = C - x/tau }
"""

GAP = """
NEURON { POINT_PROCESS GapJ  POINTER vgap  NONSPECIFIC_CURRENT i  RANGE g }
PARAMETER { g = 0.01 (uS) }
ASSIGNED { v (mV) vgap (mV) i (nA) }
BREAKPOINT { i = g*(v - vgap) }
"""

DETECT = """
NEURON { POINT_PROCESS Detect  RANGE thresh }
PARAMETER { thresh = -20 (mV) }
ASSIGNED { v (mV) }
INITIAL { net_send(0, 1) }
BREAKPOINT { }
NET_RECEIVE(w) {
    if (flag == 1) { WATCH (v > thresh) 2 }
    else if (flag == 2) { net_event(t) }
}
"""

# the first WATCH statement a NET_RECEIVE call runs deactivates the instance's others
TWO_WATCH = """
NEURON { POINT_PROCESS TwoWatch }
ASSIGNED { v (mV) }
INITIAL { net_send(0, 1) }
BREAKPOINT { }
NET_RECEIVE(w) {
    if (flag == 1) { WATCH (v > 0) 2 }
    else if (flag == 0) { WATCH (v < -100) 3 }
}
"""


def _one(mechs, pps, **kw):
    return Cell(Morphology([Branch(10.0, 10.0, nseg=1)]), mechs, point_processes=pps,
                v_init=-65.0, **kw)  # fmt: skip


def _run(cell, n, fns, clamp=None, solver=None):
    i = jnp.zeros((n, 0)) if clamp is None else jnp.asarray(clamp)
    inputs = {"i_clamp": i}
    if len(cell.geometry.receivers):  # a NET_RECEIVE without input events
        inputs["events"] = jnp.zeros((n, len(cell.geometry.receivers)))
    sol = nj.simulate(cell, inputs, dt=DT, solver=solver or BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(v)[:, 0] for k, v in sol.states.items()}


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_point_process_writes_its_nodes_concentration(x64):
    """cai written by a point process is the node's: the cell's cai is cnexp's exact
    exponential `cainf + (c0 − cainf)·e^{−t/τ}`, and another point process reading eca
    sees Nernst of it (computed at each step's start, NEURON's rule): float64 rounding
    (1e-12), float32 (2e-6: a few ulps through 80 steps)."""
    with jax.enable_x64(x64):
        relax = load_mod(CA_RELAX, file="carelax.mod")
        probe = load_mod(ECA_PROBE, file="ecaprobe.mod")
        cell = _one([(Passive(), None)], [(relax, (0, 0.5)), (probe, (0, 0.5))],
                    temperature=6.3)  # fmt: skip
        n = 80
        out = _run(cell, n, {"cai": cell.record_ion("cai", [(0, 0.5)]),
                             "x": cell.record_point(1, "x")})  # fmt: skip
    t = (np.arange(n) + 1) * DT
    cai = 1e-3 + (1e-4 - 1e-3) * np.exp(-t / 2.0)
    rtol = 1e-12 if x64 else 2e-6
    np.testing.assert_allclose(out["cai"], cai, rtol=rtol)
    start = np.concatenate([[1e-4], cai[:-1]])  # cai at each step's start
    eca = 1e3 * R * (6.3 + 273.15) / (2 * F) * np.log(2.0 / start)
    np.testing.assert_allclose(out["x"], eca, rtol=rtol)


def test_pointer_time_series_is_held_over_each_step():
    """A POINTER bound to a time series: sample k over the step from k·dt (NEURON's
    Vector.play with dt), the last one after the end: x' = C − x/τ stepped by cnexp is
    `x ← x·e^{−dt/τ} + C_k·τ·(1 − e^{−dt/τ})` (float64 rounding); reverse mode through
    the series equals that recursion's coefficients."""
    with jax.enable_x64(True):
        values = np.random.default_rng(0).uniform(0.0, 2.0, 30)
        drive = load_mod(DRIVE, file="drive.mod").bind_pointer("C", values=values, dt=DT)
        n = 40  # ten steps past the end of the series
        cell = _one([(Passive(), None)], [(drive, (0, 0.5))])
        out = _run(cell, n, {"x": cell.record_point(0, "x")})
        a = np.exp(-DT / 1.0)
        x, xs = 0.0, []
        for k in range(n):
            x = x * a + values[min(k, 29)] * (1 - a)
            xs.append(x)
        np.testing.assert_allclose(out["x"], xs, rtol=1e-12, atol=1e-15)

        def x_end(vals):
            c = cell.point_processes[0].bind_pointer("C", values=vals, dt=DT)
            c = Cell(cell.morphology, [(Passive(), None)], point_processes=[(c, (0, 0.5))],
                     v_init=-65.0)  # fmt: skip
            sol = nj.simulate(c, {"i_clamp": jnp.zeros((n, 0))}, dt=DT, solver=BackwardEuler(),
                              saveat=nj.SaveAt(fn=c.record_point(0, "x")))  # fmt: skip
            return sol.states[-1, 0]

        g = np.asarray(jax.grad(x_end)(jnp.asarray(values)))
    coef = (1 - a) * a ** (n - 1 - np.arange(30))
    coef[-1] = (1 - a) * sum(a ** (n - 1 - k) for k in range(29, n))  # held after the end
    np.testing.assert_allclose(g, coef, rtol=1e-10)


@pytest.mark.parametrize("x64", [True, False], ids=["float64", "float32"])
def test_gap_junction_steady_state(x64):
    """Two passive compartments joined only by a gap junction (`POINTER vgap` bound to
    the other's v; the second branch's axial resistance 1e15 Ω·cm: 1e-12 µS), current
    into the first: the steady state solves `G·d0 + g·(d0 − d1) = I`, `G·d1 + g·(d1 −
    d0) = 0` (d = v − e, G = g_pas·area): `d0 = I(G + g)/((G + g)² − g²)`, d1 =
    g·d0/(G + g). The junction is explicit in vgap (as NEURON's), which does not move the
    fixed point; after 200 ms = 20 τ (τ = C/G = 10 ms, the slowest mode) e^{−20} = 2e-9
    of it is left: 1e-6 relative. float32: backward Euler stalls where the step's
    increment drops below v's rounding, ulp(70 mV) = 7.6e-6 mV, amplified by τ/dt = 400
    (3e-3 mV of d0 ≈ 15.7 mV): 3e-4 relative."""
    with jax.enable_x64(x64):
        gap = load_mod(GAP, file="gapj.mod")
        morph = Morphology([Branch(10.0, 10.0, nseg=1), Branch(10.0, 10.0, parent=0, nseg=1)])
        pas = Passive(g=0.1, e=-70.0)  # mS/cm²: τ = 10 ms
        cell = Cell(morph, [(pas, None)], ra=np.array([35.4, 1e15]), v_init=-70.0,
                    point_processes=[(gap.bind_pointer("vgap", v_at=(1, 0.5)), (0, 0.5)),
                                     (gap.bind_pointer("vgap", v_at=(0, 0.5)), (1, 0.5))],
                    clamps=[(0, 0.5)])  # fmt: skip
        n = 8000  # 200 ms = 20 τ
        i_amp = 0.01
        out = _run(cell, n, {"v0": cell.record_v([(0, 0.5)]), "v1": cell.record_v([(1, 0.5)])},
                   clamp=np.full((n, 1), i_amp), solver=BackwardEuler())  # fmt: skip
    area = np.pi * 10.0 * 10.0  # µm²
    G = 0.1e-3 * area * 1e-8 * 1e6  # mS/cm² → S/cm² × cm² → µS
    g = 0.01
    d0 = i_amp * (G + g) / ((G + g) ** 2 - g**2)
    d1 = g * d0 / (G + g)
    rel = 1e-6 if x64 else 3e-4
    assert out["v1"][-1] + 70.0 == pytest.approx(d1, rel=rel)
    assert out["v0"][-1] + 70.0 == pytest.approx(d0, rel=rel)
    # explicit in vgap (NEURON's): the second compartment moves from the second step on
    # (step 1 sees v0 = v1 = −70 at its start; only the 1e-12 µS axial path acts there)
    assert abs(out["v1"][0] + 70.0) < 1e-9 < 1e-3 < out["v1"][1] + 70.0


def test_detector_spikes_are_the_upward_crossings():
    """`WATCH (v > thresh) 2` → `net_event(t)`: the spike times are the first saved
    times of each excursion above threshold (the check at a step's start sees the state
    the previous step ended with), exactly; they drive another cell's synapse through
    `Cell.event_input` as a NetCon would."""
    with jax.enable_x64(True):
        det = load_mod(DETECT, file="detect.mod")
        cell = _one([(HH(), None)], [(det, (0, 0.5))], clamps=[(0, 0.5)])
        n = 1200
        t = (np.arange(n) + 0.5) * DT
        amp = np.where(t > 2.0, 0.1, 0.0)[:, None]
        out = _run(cell, n, {"v": cell.record_v([(0, 0.5)]), "n": cell.record_point(0, "ne_n"),
                             "t": cell.record_point(0, "ne_t")}, clamp=amp)  # fmt: skip
    times = emitted_spike_times(out["n"], out["t"])
    above = out["v"] > -20.0
    ts = (np.arange(n) + 1) * DT
    # an upward crossing between saved states k-1 and k fires at the start of step k+1,
    # i.e. at time ts[k]
    k = np.nonzero(above[1:] & ~above[:-1])[0] + 1
    assert len(times) >= 3
    np.testing.assert_allclose(times, ts[k], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="2 spikes were emitted in saved step 1"):
        emitted_spike_times([0.0, 2.0], [-1e30, 0.05])


def test_first_watch_statement_of_a_call_deactivates_the_others():
    """NEURON's rule (`_nrn_watch_activate` with r = 0): the first WATCH statement a
    NET_RECEIVE call runs deactivates every watch of the instance, then arms its own."""
    tw = load_mod(TWO_WATCH, file="tw.mod")
    v = jnp.array([-65.0])
    g = tw.init(v, 6.3)
    g = tw.receive(v, g, jnp.array([0.0]), t=jnp.array([0.0]), dt=DT)  # the flag-1 event
    assert float(g.watch_on0[0]) == 1.0 and float(g.watch_on1[0]) == 0.0
    g = tw.receive(v, g, jnp.array([1.0]), t=jnp.array([DT]), dt=DT)  # an external event
    assert float(g.watch_on0[0]) == 0.0 and float(g.watch_on1[0]) == 1.0


def test_pointer_and_event_refusals_name_the_culprit():
    gap = load_mod(GAP, file="gapj.mod")
    with pytest.raises(ValueError, match="POINTER vgap of GapJ is not bound"):
        gap.init(jnp.array([-65.0]), 6.3)
    with pytest.raises(ValueError, match="POINTER vgap of GapJ is not bound"):
        _one([(Passive(), None)], [(gap, (0, 0.5))]).init_state()
    with pytest.raises(ValueError, match=r"POINTER vgap is bound to v at \(3, 0.5\), which is "
                                         "not a site"):  # fmt: skip
        _one([(Passive(), None)], [(gap.bind_pointer("vgap", v_at=(3, 0.5)), (0, 0.5))])
    with pytest.raises(ValueError, match="has no POINTER 'C'; its POINTERs: vgap"):
        gap.bind_pointer("C", values=np.zeros(3), dt=DT)
    with pytest.raises(ValueError, match="give v_at"):
        gap.bind_pointer("vgap", v_at=(0, 0.5), values=np.zeros(3), dt=DT)
    with pytest.raises(ValueError, match="needs dt > 0"):
        gap.bind_pointer("vgap", values=np.zeros(3))
    # a POINTER in a density mechanism is bound to a constant or a series
    # (tests/test_nmodl_corpus10_constructs.py); unbound, it is named when read
    dens = load_mod(GAP.replace("POINT_PROCESS GapJ", "SUFFIX gapd").replace("(nA)", "(mA/cm2)"),
                    file="d.mod")  # fmt: skip
    with pytest.raises(ValueError, match=r"POINTER vgap of gapd is not bound: mech = "):
        dens.init(jnp.zeros(1), 6.3)
    with pytest.raises(NmodlError, match="assigning the POINTER vgap"):
        load_mod(GAP.replace("i = g*(v - vgap)", "vgap = 0  i = g*v"), file="w.mod")
    with pytest.raises(NmodlError, match=r"net_event\(\) outside NET_RECEIVE"):
        det = load_mod(DETECT.replace("INITIAL { net_send(0, 1) }",
                                      "INITIAL { net_send(0, 1)  net_event(0) }"),
                       file="e.mod")  # fmt: skip
        det.init(jnp.array([-65.0]), 6.3)


COUNT = """
NEURON { POINT_PROCESS Cnt  RANGE n  NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) n i (nA) }
INITIAL { n = 0 }
BREAKPOINT { n = n + 1  i = 0 }
"""

RESET = """
NEURON { POINT_PROCESS Reset  RANGE vset }
PARAMETER { vset = -20 (mV) }
ASSIGNED { v (mV) }
BREAKPOINT { }
NET_RECEIVE(w) { v = vset }
"""

QUAD = """
NEURON { POINT_PROCESS Quad  NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (nA) }
BREAKPOINT { i = 1e-3*(v + 60)*(v + 40) }
"""


def test_breakpoint_state_runs_twice_per_evaluation_as_neuron():
    """A value BREAKPOINT reads before it writes (izhi2007b's `u`, `t0`) is state kept
    across calls, and NEURON runs the statements twice per current evaluation (at
    v + 0.001 mV and at v, for its slope), finitialize's included: measured with NEURON 9,
    a counter `n = n + 1` reads 2 after finitialize, 4, 6, 8 after each step."""
    cnt = load_mod(COUNT, file="cnt.mod")
    v = jnp.array([-65.0])
    g = cnt.init(v, 6.3)
    counts = [float(g.n[0])]
    for _ in range(3):
        g = cnt.update(v, g, DT, 6.3)
        counts.append(float(g.n[0]))
    assert counts == [2.0, 4.0, 6.0, 8.0]


def test_net_receive_sets_the_node_voltage():
    """`v = vset` in NET_RECEIVE (a point-process neuron's reset) moves the node's v at
    the event's step, before its currents: in a passive compartment backward Euler then
    gives `v ← (v·cm/dt + g·e)/(cm/dt + g)` from vset (float64 rounding); the steps
    without an event are not reset."""
    with jax.enable_x64(True):
        pp = load_mod(RESET, file="reset.mod")
        cell = _one([(Passive(g=1.0, e=-70.0), None)], [(pp, (0, 0.5))])
        n, k_ev = 40, 10
        events = cell.event_input([(np.array([k_ev * DT]), 1.0)], n, DT)
        sol = nj.simulate(cell, {"i_clamp": jnp.zeros((n, 0)), "events": events}, dt=DT,
                          solver=BackwardEuler(),
                          saveat=nj.SaveAt(fn=cell.record_v([(0, 0.5)])))  # fmt: skip
    got = np.asarray(sol.states)[:, 0]
    c, g, e = 1.0 / DT, 1.0, -70.0
    v, want = -65.0, []
    for k in range(n):
        v = (-20.0 if k == k_ev else v) * c / (c + g) + g * e / (c + g)
        want.append(v)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    with pytest.raises(NmodlError, match="assigning v in BREAKPOINT"):
        load_mod(RESET.replace("BREAKPOINT { }", "BREAKPOINT { v = 0 }"), file="r.mod")


def test_neuron_slope_is_its_finite_difference():
    """`with_neuron_slope`: the slope a cell takes (the current's JVP in v) is NEURON's
    `(i(v + 0.001) − i(v))/0.001`, the value unchanged (float64 rounding)."""
    from neurojax.nmodl._compile import with_neuron_slope

    with jax.enable_x64(True):
        q = load_mod(QUAD, file="quad.mod")
        qf = with_neuron_slope(q)
        v = jnp.array([-70.0, -50.0, 0.0])
        g = q.init(v, 6.3)
        i, di = jax.jvp(lambda u: qf.current(u, g), (v,), (jnp.ones_like(v),))
        i0, di0 = jax.jvp(lambda u: q.current(u, g), (v,), (jnp.ones_like(v),))
    vv = np.asarray(v)
    np.testing.assert_allclose(i, i0, rtol=1e-15)
    np.testing.assert_allclose(di0, 1e-3 * (2 * vv + 100), rtol=1e-13)
    fd = 1e-3 * ((vv + 0.001 + 60) * (vv + 0.001 + 40) - (vv + 60) * (vv + 40)) / 0.001
    np.testing.assert_allclose(di, fd, rtol=1e-9, atol=1e-13)  # cancellation at -50 mV
    assert type(qf).neuron_slope and not type(q).neuron_slope


HALF_GAP = """
NEURON { POINT_PROCESS HalfG  POINTER vgap  ELECTRODE_CURRENT i  RANGE r }
PARAMETER { r = 100 (megohm) }
ASSIGNED { v (mV) vgap (mV) i (nA) }
BREAKPOINT { i = (vgap - v)/r }
"""


def test_electrode_current_gap_is_not_a_clamp():
    """A gap junction written as an ELECTRODE_CURRENT (NEURON's HalfGap) is the same
    coupling as the NONSPECIFIC_CURRENT one: with the default solver (TR-BDF2, whose
    clamp modes apply at electrodes with a voltage slope) both runs agree to rounding
    (before the fix: 2.7 mV apart on two hh compartments)."""
    with jax.enable_x64(True):
        morph = Morphology([Branch(10.0, 10.0, nseg=1), Branch(10.0, 10.0, parent=0, nseg=1)])
        n = 200
        clamp = np.where((np.arange(n) + 0.5) * DT > 1.0, 0.3, 0.0)[:, None]
        out = {}
        for name, text, kw in (("electrode", HALF_GAP, {"r": 100.0}), ("nonspecific", GAP, {})):
            pp = load_mod(text, file=f"{name}.mod", **kw)
            cell = Cell(morph, [(HH(), None)], ra=np.array([35.4, 1e15]), v_init=-65.0,
                        point_processes=[(pp.bind_pointer("vgap", v_at=(1, 0.5)), (0, 0.5)),
                                         (pp.bind_pointer("vgap", v_at=(0, 0.5)), (1, 0.5))],
                        clamps=[(0, 0.5)])  # fmt: skip
            sol = nj.simulate(cell, {"i_clamp": jnp.asarray(clamp)}, dt=DT,
                              saveat=nj.SaveAt(fn=cell.record_v([(0, 0.5), (1, 0.5)])))
            out[name] = np.asarray(sol.states)
    assert out["nonspecific"][:, 0].max() > 0  # the driven compartment fires
    np.testing.assert_allclose(out["electrode"], out["nonspecific"], rtol=0, atol=1e-9)
