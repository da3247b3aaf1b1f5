"""NMODL POINT_PROCESS and NET_RECEIVE in the cable Cell (fast tier): the wheel's
expsyn.mod/exp2syn.mod against their closed forms and a stored NEURON run
(`validation/nmodl_point_vs_neuron.py`; live: `tests/test_nmodl_point_neuron.py`, slow),
NEURON's event delivery rule, gradients, refusals."""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Branch, Cell, Morphology, Passive
from neurojax.nmodl import NmodlError, load_mod
from neurojax.solvers import BackwardEuler

DT = 0.025
REF = Path(__file__).parent / "data" / "nmodl" / "point_expsyn_exp2syn_hh.npz"


def _wheel(name):
    spec = importlib.util.find_spec("neuron")
    assert spec is not None, "neuron is not installed: pip install -e '.[dev]'"
    return Path(spec.origin).parent / ".data" / "share" / "modfile" / name


def _validation():
    path = Path(__file__).parents[1] / "validation" / "nmodl_point_vs_neuron.py"
    spec = importlib.util.spec_from_file_location("nmodl_point_vs_neuron", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cell(pps, mechs=None):
    mechs = [(Passive(g=0.1, e=-65.0), None)] if mechs is None else mechs
    return Cell(Morphology([Branch(10.0, 10.0, nseg=1)]), mechs,
                point_processes=[(p, (0, 0.5)) for p in pps])  # fmt: skip


def test_event_delivery_follows_neurons_fixed_step_rule():
    cell = _cell([load_mod(_wheel("expsyn.mod")), load_mod(_wheel("exp2syn.mod"))])
    ev = np.asarray(cell.event_input([([0.0, 0.0124, 0.0126, 1.0, 1.01, 99.0], 2.0),
                                      (np.array([0.0375]), [0.5])], 100, DT))  # fmt: skip
    # t_e ≤ (k + ½)·dt: 0 and 0.0124 at step 0, 0.0126 at step 1 (past ½·dt), the tie
    # 0.0375 = 1.5·dt at step 1, 1.0 and 1.01 both at step 40 (their weights add), 99
    # beyond the run dropped
    assert ev.shape == (100, 2)
    assert ev[0, 0] == 4.0 and ev[1, 0] == 2.0 and ev[40, 0] == 4.0 and ev[:, 0].sum() == 10.0
    assert ev[1, 1] == 0.5 and ev[:, 1].sum() == 0.5
    with pytest.raises(ValueError, match="2 point process"):
        cell.event_input([([1.0], 1.0)], 100, DT)


def test_expsyn_is_its_closed_form(x64):
    """One event of w µS: g = w·exp(−(t − t_k)/tau) from the step it is delivered at,
    exactly (cnexp on g' = −g/tau), and i = g·(V − e) in nA enters the cell."""
    syn = load_mod(_wheel("expsyn.mod"), tau=2.0, e=0.0)
    cell = _cell([syn])
    n = 200
    ev = cell.event_input([([1.0], 0.003)], n, DT)
    sol = nj.simulate(cell, {"i_clamp": jnp.zeros((n, 0)), "events": ev}, dt=DT,
                      solver=BackwardEuler(), saveat=nj.SaveAt(fn=cell.record_point(0, "g")))  # noqa: E501  # fmt: skip
    g = np.asarray(sol.states)[:, 0]
    k = 40  # delivered at the start of the step from 1.0 ms; saved after each step
    t_end = DT * (np.arange(n) + 1)
    exact = np.where(np.arange(n) >= k, 0.003 * np.exp(-(t_end - k * DT) / 2.0), 0.0)
    np.testing.assert_allclose(g, exact, rtol=1e-13, atol=1e-18)
    # the current: nA at the node (not a density)
    y = cell.init_state()
    y = y._replace(points=(type(y.points[0])(g=jnp.array([0.002])),))
    i, _ = cell._currents(y, {"i_clamp": jnp.zeros(0), "events": jnp.zeros(1)})
    area = np.pi * 100.0 * 1e-5  # µm² → nA per µA/cm²
    np.testing.assert_allclose(i[1], 0.002 * (-65.0) + 0.1 * area * 0.0, rtol=1e-13)


def test_exp2syn_factor_and_adjusted_tau1(x64):
    """Exp2Syn's INITIAL normalises the peak to the weight, and moves tau1 off tau2 when
    they are too close: an assigned PARAMETER persists (NEURON's range variable)."""
    syn = load_mod(_wheel("exp2syn.mod"), tau1=0.5, tau2=3.0)
    g = syn.init(jnp.array([-65.0]), 6.3)
    tp = 0.5 * 3.0 / 2.5 * np.log(6.0)
    np.testing.assert_allclose(g.factor, 1 / (np.exp(-tp / 3.0) - np.exp(-tp / 0.5)), rtol=1e-14)
    close = load_mod(_wheel("exp2syn.mod"), tau1=3.0, tau2=3.0)
    g = close.init(jnp.array([-65.0]), 6.3)
    np.testing.assert_allclose(g.tau1, 0.9999 * 3.0, rtol=1e-15)
    g1 = close.update(jnp.array([-65.0]), g._replace(A=jnp.array([1.0])), 0.1, 6.3)
    np.testing.assert_allclose(g1.A, np.exp(-0.1 / (0.9999 * 3.0)), rtol=1e-14)


@pytest.fixture(scope="module")
def neuron_case():
    with jax.enable_x64(True):
        return _validation().run_neurojax()


def test_synapses_on_hh_match_stored_neuron(neuron_case):
    ref = np.load(REF)
    v, g = neuron_case["v"][9::10], neuron_case["0.g"][9::10]
    assert ref["v"].max() > 20  # the events make it fire
    # the same equations and event times: measured 2.5e-11 mV, 4e-18 µS; the bounds
    # leave room for another BLAS's rounding amplified through the spikes
    np.testing.assert_allclose(v, ref["v"], atol=1e-7)
    np.testing.assert_allclose(g, ref["g"], atol=1e-14)


def test_gradients_reach_weights_and_synapse_parameters(x64):
    n = 120

    def v_end(w, tau):
        syn = load_mod(_wheel("expsyn.mod"), tau=tau)
        cell = _cell([syn])
        ev = jnp.zeros((n, 1)).at[20, 0].set(w)
        sol = nj.simulate(cell, {"i_clamp": jnp.zeros((n, 0)), "events": ev}, dt=DT,
                          solver=BackwardEuler(), saveat=nj.SaveAt(fn=cell.record_v([(0, 0.5)])))  # noqa: E501  # fmt: skip
        return sol.states[-1, 0]

    gw, gt = jax.grad(v_end, argnums=(0, 1))(0.002, 2.0)
    eps = 1e-6
    fw = (v_end(0.002 + eps, 2.0) - v_end(0.002 - eps, 2.0)) / (2 * eps)
    ft = (v_end(0.002, 2.0 + eps) - v_end(0.002, 2.0 - eps)) / (2 * eps)
    # central differences in float64: error ~ eps² f''' + round-off/eps ~ 1e-9 relative
    np.testing.assert_allclose([gw, gt], [fw, ft], rtol=1e-6)
    assert gw > 0 and gt > 0  # excitatory: a larger or slower synapse depolarises more


NOT_ADDITIVE = """
NEURON { POINT_PROCESS Sat  RANGE tau, e, i  NONSPECIFIC_CURRENT i }
PARAMETER { tau = 2 (ms) e = 0 (mV) }
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
BREAKPOINT { SOLVE s METHOD cnexp  i = g*(v - e) }
DERIVATIVE s { g' = -g/tau }
NET_RECEIVE(weight (uS)) { g = weight }
"""


def test_refusals():
    syn = load_mod(_wheel("expsyn.mod"))
    # a NET_RECEIVE not additive in the weight loads; two events in one step are refused
    # (the cell merges a step's events): tests/test_nmodl_events.py
    assert not type(load_mod(NOT_ADDITIVE, file="sat.mod")).receive_additive
    assert type(syn).receive_additive
    with pytest.raises(TypeError, match="is a point process"):
        Cell(Morphology([Branch(10.0, 10.0)]), [(syn, None)])
    with pytest.raises(TypeError, match="not a point process"):
        Cell(Morphology([Branch(10.0, 10.0)]), point_processes=[(Passive(), (0, 0.5))])
    with pytest.raises(ValueError, match="off the cell|x="):
        Cell(Morphology([Branch(10.0, 10.0)]), point_processes=[(syn, (3, 0.5))])
    with pytest.raises(NmodlError, match="WRITE eca in a POINT_PROCESS"):
        load_mod(NOT_ADDITIVE.replace("RANGE tau", "USEION ca WRITE eca  RANGE tau"))
    with pytest.raises(NmodlError, match="FOR_NETCONS takes NET_RECEIVE's 1 arguments"):
        load_mod(NOT_ADDITIVE.replace("g = weight", "FOR_NETCONS(w1, w2) { w1 = 0 }"))
    cell = _cell([syn])
    with pytest.raises(ValueError, match="events"):
        nj.simulate(cell, {"i_clamp": jnp.zeros((10, 0))}, dt=DT)


def test_stim_mod_is_the_cells_current_clamp(x64):
    """The wheel's stim.mod (IClamp: ELECTRODE_CURRENT, `del` a Python keyword, reads t)
    as a point process equals the cell's own current clamp driven by the same pulse
    sampled at mid-step (NEURON evaluates BREAKPOINT at t + dt/2)."""
    n = 400
    stim = load_mod(_wheel("stim.mod"), **{"del": 2.0, "dur": 5.0, "amp": 0.2})
    assert float(stim.del_) == 2.0 and type(stim).uses_time
    morph = Morphology([Branch(10.0, 10.0, nseg=1)])
    a = Cell(morph, [(Passive(g=0.1, e=-65.0), None)], point_processes=[(stim, (0, 0.5))])
    b = Cell(morph, [(Passive(g=0.1, e=-65.0), None)], clamps=[(0, 0.5)])
    t = DT * np.arange(n) + DT / 2
    pulse = jnp.asarray(np.where((t >= 2.0) & (t < 7.0), 0.2, 0.0))[:, None]
    kw = dict(dt=DT, solver=BackwardEuler())
    va = nj.simulate(a, jnp.zeros((n, 0)), saveat=nj.SaveAt(fn=a.record_v([(0, 0.5)])), **kw)
    vb = nj.simulate(b, pulse, saveat=nj.SaveAt(fn=b.record_v([(0, 0.5)])), **kw)
    assert float(va.states.max()) > -60  # the pulse depolarises
    np.testing.assert_allclose(va.states, vb.states, atol=1e-12)
