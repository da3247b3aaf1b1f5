"""Synapses with connection state, self-events and coupled cnexp states against NEURON.

Three POINT_PROCESS files written here from published equations (not copied):

- `TMSYN`: Tsodyks, Pawelzik & Markram (1998) / Fuhrmann et al. (2002) short-term
  depression and facilitation; the resources `y`, `z`, the utilisation `u` and the last
  event time are NET_RECEIVE arguments (state of the connection, set in NET_RECEIVE's
  INITIAL), NET_RECEIVE reads `t` and uses `state_discontinuity`;
- `PULSESYN`: Destexhe, Mainen & Sejnowski (1994)'s transmitter-pulse receptor: an event
  opens a pulse of `Cdur` ms during which `R → Rinf` with `Rtau`, then `R` decays with
  `Beta`; the end of the pulse is a self-event `net_send(Cdur, nspike)` whose `flag` names
  the spike that started it (overlapping pulses extend it);
- `GABABSYN`: Destexhe & Sejnowski (1995)'s GABA-B cascade (transmitter `C`, receptor
  `R`, G-protein `G`), a `cnexp` DERIVATIVE whose equations read the states updated above
  them (nocmodl's cnexp code updates in place, in order).

One compartment (L = diam = 10 µm) with the wheel's hh (renamed hhx, tables off), one
NetCon per synapse driven by `NetCon.event` at times on the dt grid, backward Euler at dt
0.025 ms for 40 ms in both.

    python validation/nmodl_events_vs_neuron.py     # max/mean |Δ| per trace

`tests/test_nmodl_events_neuron.py` (slow tier) runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import nmodl_vs_neuron as base  # noqa: E402

DT, T, L, DIAM = base.DT, base.T, base.L, base.DIAM

TMSYN = """
NEURON {
    POINT_PROCESS TMSyn
    RANGE e, i, tau_1, tau_rec, tau_facil, U, u0
    NONSPECIFIC_CURRENT i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER {
    e = 0 (mV)
    tau_1 = 3 (ms) <1e-9, 1e9>
    tau_rec = 100 (ms) <1e-9, 1e9>
    tau_facil = 100 (ms) <0, 1e9>
    U = 0.3 (1) <0, 1>
    u0 = 0 (1) <0, 1>
}
ASSIGNED { v (mV) i (nA) x }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT {
    SOLVE state METHOD cnexp
    i = g*(v - e)
}
DERIVATIVE state { g' = -g/tau_1 }
NET_RECEIVE(weight (uS), y, z, u, tsyn (ms)) {
    INITIAL {
        y = 0
        z = 0
        u = u0
        tsyn = t
    }
    : resources: active y decays into inactive z (tau_1), z recovers (tau_rec)
    z = z*exp(-(t - tsyn)/tau_rec)
    z = z + (y*(exp(-(t - tsyn)/tau_1) - exp(-(t - tsyn)/tau_rec))/((tau_1/tau_rec) - 1))
    y = y*exp(-(t - tsyn)/tau_1)
    x = 1 - y - z
    if (tau_facil > 0) {
        u = u*exp(-(t - tsyn)/tau_facil)
        state_discontinuity(u, u + U*(1 - u))
    } else {
        u = U
    }
    state_discontinuity(g, g + weight*x*u)
    state_discontinuity(y, y + x*u)
    tsyn = t
}
"""

PULSESYN = """
NEURON {
    POINT_PROCESS PulseSyn
    RANGE R, g, Cdur, Alpha, Beta, Erev
    NONSPECIFIC_CURRENT i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (mM) = (milli/liter) }
PARAMETER {
    Cmax = 1 (mM)
    Cdur = 1 (ms)
    Alpha = 1.1 (/ms mM)
    Beta = 0.19 (/ms)
    Erev = 0 (mV)
}
ASSIGNED {
    v (mV) i (nA) g (uS)
    R Rinf Rtau (ms) R0 on gmax tLast nspike
}
INITIAL {
    R = 0
    R0 = 0
    Rinf = Cmax*Alpha/(Cmax*Alpha + Beta)
    Rtau = 1/(Cmax*Alpha + Beta)
    on = 0
    nspike = 0
}
BREAKPOINT {
    SOLVE release
    g = R
    i = g*(v - Erev)
}
PROCEDURE release() {
    : R(t) in closed form from the start of the current phase
    if (on) {
        R = gmax*Rinf + (R0 - gmax*Rinf)*exp(-(t - tLast)/Rtau)
    } else {
        R = R0*exp(-Beta*(t - tLast))
    }
    VERBATIM
    return 0;
    ENDVERBATIM
}
NET_RECEIVE(weight (uS)) {
    if (flag == 0) {
        if (!on) {
            R0 = R
            tLast = t
            on = 1
            gmax = weight
        }
        nspike = nspike + 1
        net_send(Cdur, nspike)
    } else if (flag == nspike) {
        R0 = R
        tLast = t
        on = 0
        gmax = 0
    }
}
"""

GABABSYN = """
NEURON {
    POINT_PROCESS GabaBSyn
    RANGE C, R, G, g, gmax
    NONSPECIFIC_CURRENT i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (mM) = (milli/liter) (uS) = (microsiemens) }
PARAMETER {
    tauD = 10 (ms)
    K1 = 0.066 (/ms mM)
    K2 = 0.02 (/ms)
    K3 = 0.098 (/ms)
    K4 = 0.033 (/ms)
    KD = 100
    n = 4
    e = -95 (mV)
    gmax = 0.01 (uS)
}
ASSIGNED { v (mV) i (nA) g (uS) Gn }
STATE { C (mM) R G }
BREAKPOINT {
    SOLVE state METHOD cnexp
    Gn = G^n
    g = gmax*Gn/(Gn + KD)
    i = g*(v - e)
}
DERIVATIVE state {
    C' = -C/tauD
    R' = K1*C*(1 - R) - K2*R
    G' = K3*R - K4*G
}
NET_RECEIVE(weight (mM)) { C = C + weight }
"""

# (name, text, parameters, event times (ms, on the dt grid), weight, recorded)
CASES = [
    ("TMSyn", TMSYN, {}, [4.0, 9.0, 11.0, 19.0, 25.0], 0.01, ["g"]),
    ("PulseSyn", PULSESYN, {}, [4.0, 9.0, 9.5, 19.0, 30.0], 0.004, ["R"]),
    ("GabaBSyn", GABABSYN, {"gmax": 0.05}, [2.0, 2.5, 3.0], 1.0, ["C", "R", "G"]),
]
DELAY = 1.0  # ms, the NetCon delay

_NEURON_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
s = h.Section(name="soma")
s.L, s.diam, s.nseg, s.cm, s.Ra = cfg["L"], cfg["diam"], 1, 1.0, 35.4
s.insert("hhx")
h.usetable_hhx = 0
h.celsius = 6.3
syn = getattr(h, cfg["name"])(s(0.5))
for k, val in cfg["params"].items():
    setattr(syn, k, val)
nc = h.NetCon(None, syn)  # one connection: its NET_RECEIVE arguments persist
nc.weight[0] = cfg["w"]
def events():
    for t0 in cfg["times"]:
        nc.event(t0 + cfg["delay"])
fih = h.FInitializeHandler(1, events)
recs = {"v": h.Vector().record(s(0.5)._ref_v)}
for g in cfg["record"]:
    recs[g] = h.Vector().record(getattr(syn, f"_ref_{g}"))
h.dt, h.secondorder = cfg["dt"], 0
h.finitialize(-65.0)
h.continuerun(cfg["T"])
np.savez(cfg["out"], **{k: np.array(r) for k, r in recs.items()})
"""


def run_neuron(dll, case, tmp: Path) -> dict:
    name, _, params, times, w, record = case
    out = tmp / f"{name}.npz"
    cfg = dict(dll=dll, name=name, params=params, times=times, w=w, delay=DELAY, record=record,
               dt=DT, T=T, L=L, diam=DIAM, out=str(out))  # fmt: skip
    (tmp / "cfg_events.json").write_text(json.dumps(cfg))
    (tmp / "run_events.py").write_text(_NEURON_SCRIPT)
    cmd = [sys.executable, str(tmp / "run_events.py"), str(tmp / "cfg_events.json")]
    r = subprocess.run(cmd, capture_output=True, env=dict(os.environ, PYTHONPATH=""), text=True)
    if r.returncode:
        raise RuntimeError(f"NEURON failed:\n{r.stderr[-3000:]}")
    data = np.load(out)
    return {k: data[k][1:] for k in data.files}  # drop t = 0


def run_neurojax(case) -> dict:
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod
    from neurojax.solvers import BackwardEuler

    name, text, params, times, w, record = case
    hh = load_mod(base.renamed(base.mod_text("hh.mod"), "hh", "hhx"))
    syn = load_mod(text, file=f"{name}.mod", **params)
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), [(hh, None)], v_init=-65.0,
                temperature=6.3, point_processes=[(syn, (0, 0.5))])  # fmt: skip
    n = int(round(T / DT))
    events = cell.event_input([(np.asarray(times) + DELAY, w)], n, DT)
    fns = {"v": cell.record_v([(0, 0.5)])}
    for g in record:
        fns[g] = cell.record_point(0, g)
    sol = nj.simulate(cell, {"i_clamp": jnp.zeros((n, 0)), "events": events}, dt=DT,
                      solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(v).reshape(n) for k, v in sol.states.items()}


def compare(tmp: Path) -> dict:
    """{name: {trace: (max |Δ|, mean |Δ|)} plus `_vrange`, NEURON's voltage range}."""
    import jax

    texts = {"hhx.mod": base.renamed(base.mod_text("hh.mod"), "hh", "hhx")}
    texts.update({f"{c[0]}.mod": c[1] for c in CASES})
    dll = base.compile_mods(texts, tmp / "mods")
    out = {}
    for case in CASES:
        ref = run_neuron(dll, case, tmp)
        with jax.enable_x64(True):
            ours = run_neurojax(case)
        res = {k: (float(np.max(np.abs(ours[k] - ref[k]))),
                   float(np.mean(np.abs(ours[k] - ref[k])))) for k in ref}  # fmt: skip
        res["_vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
        res["_range"] = {k: float(np.ptp(ref[k])) for k in ref}
        out[case[0]] = res
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        res = compare(Path(d))
    for name, r in res.items():
        lo, hi = r.pop("_vrange")
        r.pop("_range")
        print(f"{name} + hh, NetCon events (NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
        for k, (mx, mean) in r.items():
            print(f"    {k:6s} max {mx:.3g}  mean {mean:.3g}")
