"""WATCH and FOR_NETCONS (fast tier): an STDP synapse written from Song, Miller & Abbott
(2000)'s equations (validation/nmodl_stdp_vs_neuron.py's `STDPSYN`) driven call by call
through `receive`, against its closed form. The slow tier compares it with NEURON in a
cell (tests/test_nmodl_stdp_neuron.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

_spec = importlib.util.spec_from_file_location(
    "nmodl_stdp_vs_neuron", Path(__file__).parent.parent / "validation" / "nmodl_stdp_vs_neuron.py"
)
val = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(val)

DT = 0.025
P = {"aplus": 0.5, "aminus": 0.2, "tau_plus": 20.0, "tau_minus": 10.0, "wmax": 0.02}


@pytest.fixture(scope="module")
def calls():
    """The synapse's gates after a scripted sequence of `receive` calls (one compiled
    receive, x64): (t ms, v mV, weight µS) per call."""
    script = [
        (0.0, -65.0, 0.0),  # INITIAL's net_send(0, 1) delivered: WATCH armed
        (2.0, -65.0, 0.01),  # presynaptic spike
        (5.0, 0.0, 0.0),  # v crosses thresh (−20): postsynaptic spike, potentiation
        (5.025, 10.0, 0.0),  # still above: no second spike
        (6.0, -65.0, 0.0),  # below again: re-armed
        (8.0, -65.0, 0.01),  # presynaptic spike: depression (post 3 ms before)
        (9.0, 0.0, 0.0),  # postsynaptic spike
    ]
    with jax.enable_x64(True):
        syn = load_mod(val.STDPSYN, file="stdp.mod", **P)
        rcv = jax.jit(lambda v, g, w, t: syn.receive(v, g, w, t=t, dt=DT))
        g = syn.init(jnp.array([-65.0]), 6.3)
        out = [g]
        for t, v, w in script:
            g = rcv(jnp.array([v]), g, jnp.array([w]), jnp.float64(t))
            out.append(g)
    return syn, [{k: float(np.asarray(x)[0]) for k, x in g._asdict().items()} for g in out]


def test_watch_and_for_netcons_load_as_carried_state(calls):
    syn, _ = calls
    fields = type(syn.init(jnp.array([-65.0]), 6.3))._fields
    # the WATCH's activation and last condition value, the connection's NET_RECEIVE
    # arguments (FOR_NETCONS aliases them) and the self-event queue, all with the gates
    for name in ("watch_on0", "watch_flag0", "nc_dw", "nc_tpre", "nc_weight", "q_t0"):
        assert name in fields
    assert type(syn).self_events


def test_stdp_closed_form(calls):
    _, g = calls
    wmax, ap, am = P["wmax"], P["aplus"], P["aminus"]
    # armed by the flag-1 self-event at t = 0 (v below thresh: condition false)
    assert g[0]["watch_on0"] == 0.0 and g[1]["watch_on0"] == 1.0 and g[1]["watch_flag0"] == 0.0
    # presynaptic spike at 2 ms: g += w + dw (dw = 0); no postsynaptic spike yet
    assert g[2]["g"] == 0.01 and g[2]["nc_tpre"] == 2.0 and g[2]["nc_dw"] == 0.0
    assert g[2]["nc_weight"] == 0.01
    # v above thresh at 5 ms: the WATCH fires net_send(0, 2) at t = 5, delivered in the
    # same call: tpost = 5 and FOR_NETCONS potentiates by aplus·wmax·e^((2 − 5)/τ+)
    dw = ap * wmax * np.exp((2.0 - 5.0) / P["tau_plus"])
    assert g[3]["tpost"] == 5.0 and g[3]["watch_flag0"] == 1.0
    # float64 rounding of a few operations: 1e-15 relative
    np.testing.assert_allclose(g[3]["nc_dw"], dw, rtol=1e-15)
    # still above thresh: no new crossing, nothing changes
    assert g[4]["tpost"] == 5.0 and g[4]["nc_dw"] == g[3]["nc_dw"]
    assert g[5]["watch_flag0"] == 0.0  # below: re-armed
    # presynaptic spike at 8 ms: g += w + dw (g not decayed: no update between calls),
    # then depression by aminus·wmax·e^((5 − 8)/τ−)
    np.testing.assert_allclose(g[6]["g"], 0.02 + dw, rtol=1e-15)
    dw -= am * wmax * np.exp((5.0 - 8.0) / P["tau_minus"])
    np.testing.assert_allclose(g[6]["nc_dw"], dw, rtol=1e-14)
    # postsynaptic spike at 9 ms: potentiation from tpre = 8, w + dw capped at wmax
    assert dw + ap * wmax * np.exp((8.0 - 9.0) / P["tau_plus"]) > wmax - 0.01  # the cap acts
    dw = min(dw + ap * wmax * np.exp((8.0 - 9.0) / P["tau_plus"]), wmax - 0.01)
    assert g[7]["tpost"] == 9.0
    np.testing.assert_allclose(g[7]["nc_dw"], dw, rtol=1e-14)


def test_watch_and_for_netcons_refusals_name_the_line():
    text = val.STDPSYN
    bad = text.replace("FOR_NETCONS (w1, dw1, tp)", "FOR_NETCONS (w1, dw1)")
    line = bad[: bad.index("FOR_NETCONS")].count("\n") + 1
    with pytest.raises(NmodlError, match=rf"s\.mod:{line}: FOR_NETCONS takes NET_RECEIVE's 3"):
        load_mod(bad, file="s.mod")
    # WATCH outside NET_RECEIVE (NEURON allows it only there)
    bad = text.replace("    net_send(0, 1)\n", "    WATCH (v > thresh) 2\n")
    line = bad[: bad.index("WATCH")].count("\n") + 1
    with pytest.raises(NmodlError, match=rf"s\.mod:{line}: WATCH outside NET_RECEIVE"):
        load_mod(bad, file="s.mod")
