"""Point processes that write a concentration, emit spikes (`net_event`), read a
`POINTER`, or hold several `WATCH` statements, against NEURON compiling the same files.

Every `.mod` text here is written for neurojax from published equations (none is
copied from another model's file). One or two compartments (L = diam = 10 µm, cm = 1,
hh renamed `hhx` with its rate tables off), backward Euler (`secondorder = 0`) at
dt = 0.025 ms in both simulators. Cases (`CASES`):

- `conc`: `NmdaCaPool`, an NMDA synapse (Jahr & Stevens 1990 Mg²⁺ block) whose Ca²⁺
  fraction is `WRITE ica` (nA) *and* flows into its own Ca²⁺ shell `STATE cai`
  (`USEION ca WRITE cai, ica`: a point process writing a concentration), read by a
  Ca²⁺-activated point conductance (`cai`, `eca` by Nernst);
- `spikes`: `ThreshDetect`, a threshold detector (`WATCH (v > thresh) 2` →
  `net_event(t)`) on an hh compartment driven by a current step; its spikes drive an
  ExpSyn in a second cell through a NetCon (delay 1 ms) in NEURON and through
  `Cell.event_input` of the recorded spike times here;
- `gap`: two hh compartments coupled by a gap junction written from Ohm's law
  (`POINTER vgap`, `i = g·(v − vgap)`), one driven by a current step (NEURON: two
  separate sections; neurojax: one cell whose second branch hangs from the first by
  1e15 Ω·cm, 1e-12 µS);
- `pointer`: a kinetic AMPA receptor from Destexhe, Mainen & Sejnowski (1994)'s
  five-state scheme (`POINTER C`, the transmitter concentration) with C a time series
  played into the pointer (NEURON: `Vector.play` on a `setpointer`ed variable);
- `updown`, `updown_stuck`: a hysteresis detector with two WATCH statements (each
  crossing arms the other's: NEURON deactivates an instance's watches when a
  NET_RECEIVE call runs its first WATCH), `net_event` at each up crossing, and a
  conductance switched by its state, on an hh compartment under a current step; in
  `updown_stuck` the down threshold is never reached, so only one spike is emitted;
- `izh`, `izh_fd`: Izhikevich (2007)'s regular-spiking cell as a point process on a
  100 pF compartment: its reset writes the node's v in NET_RECEIVE, u is advanced in
  BREAKPOINT (state kept across NEURON's two current evaluations per step); `izh_fd`
  with NEURON's finite-difference membrane slope (`with_neuron_slope`), `izh` with
  neurojax's exact one (the quadratic current: the slope rule is the difference);
- `nonlinear`: a buffer set to its binding equilibrium by a NONLINEAR block in INITIAL
  (`~ b (b + K) = T`, Newton's method), then relaxing and gating a conductance.

    python validation/nmodl_pointer_events_vs_neuron.py   # prints max |Δ| per trace

`tests/test_nmodl_pointer_events_neuron.py` (slow tier) runs it.
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
import nmodl_useion_point_vs_neuron as useion  # noqa: E402
import nmodl_vs_neuron as base  # noqa: E402

DT, L, DIAM = base.DT, base.L, base.DIAM

NMDA_CA_POOL = """
: NMDA synapse (two-exponential conductance, Mg2+ block of Jahr & Stevens 1990) whose
: Ca2+ fraction fCa flows into a Ca2+ shell of volume vol under the synapse, which
: relaxes to cainf with time constant taur (a spine-head pool as in Zador, Koch & Brown
: 1990, first order). Writes the node's cai. Written for neurojax.
NEURON {
    POINT_PROCESS NmdaCaPool
    USEION ca WRITE cai, ica
    NONSPECIFIC_CURRENT i
    RANGE tau1, tau2, e, mg, fCa, vol, taur, cainf, g, i, ica
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) (mM) = (milli/liter)
        (um) = (micron) FARADAY = (faraday) (coulomb) }
PARAMETER {
    tau1 = 3 (ms) <1e-9,1e9>
    tau2 = 40 (ms) <1e-9,1e9>
    e = 0 (mV)
    mg = 1 (mM)
    fCa = 0.1 <0,1>
    vol = 0.5 (um3) <1e-9,1e9>
    taur = 20 (ms) <1e-9,1e9>
    cainf = 5e-5 (mM)
}
ASSIGNED { v (mV) i (nA) ica (nA) g (uS) itot (nA) }
STATE { A (uS) B (uS) cai (mM) }
INITIAL { A = 0  B = 0  cai = cainf }
BREAKPOINT {
    SOLVE state METHOD cnexp
    g = B - A
    itot = g*mgblock(v)*(v - e)
    ica = fCa*itot
    i = (1 - fCa)*itot
}
UNITSOFF
DERIVATIVE state {
    A' = -A/tau1
    B' = -B/tau2
    : nA over 2 F vol: 1e-9 A / (2 F C/mol * vol 1e-15 l) = mol/l/s = mM/ms (x1e6)
    cai' = -ica*1e6/(2*FARADAY*vol) - (cai - cainf)/taur
}
UNITSON
FUNCTION mgblock(v (mV)) {
    mgblock = 1/(1 + exp(0.062*(-v))*(mg/3.57))
}
NET_RECEIVE(weight (uS)) {
    A = A + weight
    B = B + weight
}
"""

CA_SENS = useion.CA_SENS  # the Ca2+-activated point process, written once there

CA_GATE = """
: A density conductance gated by cai with a first-order gate (w relaxes to
: cai/(cai + kd), read in INITIAL and in the state update), current g w (v - e): the
: order check for a point process writing cai (NEURON updates concentration writers
: first). Written for neurojax.
NEURON {
    SUFFIX cagate
    USEION ca READ cai
    NONSPECIFIC_CURRENT i
    RANGE gbar, kd, tauw
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) (mM) = (milli/liter) }
PARAMETER { gbar = 0.002 (S/cm2)  kd = 2e-4 (mM)  tauw = 3 (ms)  e = -80 (mV) }
ASSIGNED { v (mV) i (mA/cm2) cai (mM) }
STATE { w }
INITIAL { w = cai/(cai + kd) }
BREAKPOINT {
    SOLVE state METHOD cnexp
    i = gbar*w*(v - e)
}
DERIVATIVE state { w' = (cai/(cai + kd) - w)/tauw }
"""

THRESH = """
: A spike detector: an event each time v crosses thresh upwards (NEURON's NetCon
: threshold, written as a point process). Written for neurojax.
NEURON {
    POINT_PROCESS ThreshDetect
    RANGE thresh, n
}
UNITS { (mV) = (millivolt) }
PARAMETER { thresh = -20 (mV) }
ASSIGNED { v (mV) n }
INITIAL { n = 0  net_send(0, 1) }
BREAKPOINT { }
NET_RECEIVE(w) {
    if (flag == 1) {
        WATCH (v > thresh) 2
    } else if (flag == 2) {
        n = n + 1
        net_event(t)
    }
}
"""

GAP = """
: An ohmic gap junction: i = g (v - vgap), vgap the other side's voltage (POINTER).
: Written for neurojax.
NEURON {
    POINT_PROCESS GapJ
    POINTER vgap
    NONSPECIFIC_CURRENT i
    RANGE g, i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER { g = 0.01 (uS) <0,1e9> }
ASSIGNED { v (mV) vgap (mV) i (nA) }
BREAKPOINT { i = g*(v - vgap) }
"""

AMPA5 = """
: Kinetic AMPA receptor, Destexhe, Mainen & Sejnowski (1994) J Comput Neurosci 1:195,
: the five-state scheme C0 <-> C1 <-> C2 <-> O, C1 <-> D1 (rates of their Table/Fig.),
: the transmitter concentration C (mM) a POINTER. Written for neurojax from the paper.
NEURON {
    POINT_PROCESS Ampa5k
    POINTER C
    NONSPECIFIC_CURRENT i
    RANGE gmax, erev, g, i, Rb, Ru1, Ru2, Rd, Rr, Ro, Rc
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (pS) = (picosiemens) (umho) = (micromho)
        (mM) = (milli/liter) (uM) = (micro/liter) }
PARAMETER {
    erev = 0 (mV)
    gmax = 500 (pS)
    Rb = 13 (/mM /ms)
    Ru1 = 0.0059 (/ms)
    Ru2 = 86 (/ms)
    Rd = 0.9 (/ms)
    Rr = 0.064 (/ms)
    Ro = 2.7 (/ms)
    Rc = 0.2 (/ms)
}
ASSIGNED { v (mV) C (mM) i (nA) g (pS) }
STATE { C0 C1 C2 D O }
INITIAL { C0 = 1  C1 = 0  C2 = 0  D = 0  O = 0 }
BREAKPOINT {
    SOLVE kstates METHOD sparse
    g = gmax*O
    i = (1e-6)*g*(v - erev)
}
KINETIC kstates {
    ~ C0 <-> C1 (Rb*C, Ru1)
    ~ C1 <-> C2 (Rb*C, Ru2)
    ~ C1 <-> D (Rd, Rr)
    ~ C2 <-> O (Ro, Rc)
    CONSERVE C0 + C1 + C2 + D + O = 1
}
"""

UPDOWN = """
: A hysteresis detector with an after-hyperpolarising conductance: the state goes up
: when v crosses `up` upwards (an output spike, net_event) and down when v falls below
: `down`; while up, the conductance gs*s (s relaxing to the state with tau) pulls v to
: e. Each crossing arms the other WATCH only: NEURON deactivates an instance's watches
: when a NET_RECEIVE call runs its first WATCH statement, so while up the up-crossing
: is not watched. Written for neurojax.
NEURON {
    POINT_PROCESS UpDown
    NONSPECIFIC_CURRENT i
    RANGE up, down, gs, e, tau, state, nup, ndown, i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER {
    up = -10 (mV)  down = -60 (mV)  gs = 0.002 (uS) <0,1e9>  e = -90 (mV)  tau = 5 (ms)
}
ASSIGNED { v (mV) i (nA) state nup ndown }
STATE { s }
INITIAL { s = 0  state = 0  nup = 0  ndown = 0  net_send(0, 1) }
BREAKPOINT {
    SOLVE states METHOD cnexp
    i = gs*s*(v - e)
}
DERIVATIVE states { s' = (state - s)/tau }
NET_RECEIVE(w) {
    if (flag == 1) {
        WATCH (v > up) 2
    } else if (flag == 2) {
        state = 1
        nup = nup + 1
        net_event(t)
        WATCH (v < down) 3
    } else if (flag == 3) {
        state = 0
        ndown = ndown + 1
        WATCH (v > up) 2
    }
}
"""

IZH = """
: Izhikevich (2007), Dynamical Systems in Neuroscience, ch. 8 (eq. 8.5-8.6): C v' =
: k (v - vr)(v - vt) - u + I, u' = a (b (v - vr) - u), at v >= vpeak: v <- c, u <- u + d
: (his regular-spiking pyramidal cell, Fig. 8.12: C = 100 pF, k = 0.7 nS/mV). A point
: process on a compartment whose capacitance is C (area 1e4 um2 at 1 uF/cm2): the
: compartment's v is the model's, i = -(k (v-vr)(v-vt) - u + I)/1000 nA (pA -> nA). The
: reset writes the node's v in NET_RECEIVE; u is advanced in BREAKPOINT by explicit Euler
: over the time since the last call (state kept across calls, as ModelDB's izhi2007b
: does). Written for neurojax from the book's equations.
NEURON {
    POINT_PROCESS Izh07
    NONSPECIFIC_CURRENT i
    RANGE k, vr, vt, vpeak, a, b, c, d, I, u, i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) }
PARAMETER {
    k = 0.7  vr = -60 (mV)  vt = -40 (mV)  vpeak = 35 (mV)
    a = 0.03  b = -2  c = -50 (mV)  d = 100  I = 100
}
ASSIGNED { v (mV) i (nA) u t0 }
INITIAL { u = 0  t0 = 0  net_send(0, 1) }
BREAKPOINT {
    u = u + (t - t0)*a*(b*(v - vr) - u)
    t0 = t
    i = -(k*(v - vr)*(v - vt) - u + I)/1000
}
NET_RECEIVE(w) {
    if (flag == 1) {
        WATCH (v > vpeak) 2
        v = vr
    } else if (flag == 2) {
        net_event(t)
        v = c
        u = u + d
    }
}
"""

BIND_NL = """
: A buffer at binding equilibrium at rest, b (b + K) = T (b free, K the dissociation
: constant, T the total): set by a NONLINEAR block in INITIAL, then b relaxes to its
: resting value with time constant tau and gates a small conductance. Written for
: neurojax.
NEURON { POINT_PROCESS BindNL  NONSPECIFIC_CURRENT i  RANGE K, T, tau, binf, gmax }
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER { K = 0.3  T = 2  tau = 10 (ms)  binf = 0.1  gmax = 0.002 (uS) }
ASSIGNED { v (mV) i (nA) }
STATE { b }
INITIAL {
    b = T
    SOLVE eq
}
NONLINEAR eq { ~ b*(b + K) = T }
BREAKPOINT {
    SOLVE st METHOD cnexp
    i = gmax*b*(v + 80)
}
DERIVATIVE st { b' = (binf - b)/tau }
"""

EXPSYN = None  # the wheel's expsyn.mod (read at run time)


def texts() -> dict:
    return {
        "hhx.mod": base.renamed(base.mod_text("hh.mod"), "hh", "hhx"),
        "nmdacapool.mod": NMDA_CA_POOL,
        "casens.mod": CA_SENS,
        "cagate.mod": CA_GATE,
        "thresh.mod": THRESH,
        "gapj.mod": GAP,
        "ampa5k.mod": AMPA5,
        "updown.mod": UPDOWN,
        "izh07.mod": IZH,
        "bindnl.mod": BIND_NL,
    }


_NEURON_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
secs = []
for j, sc in enumerate(cfg["sections"]):
    s = h.Section(name=f"s{j}")
    s.L, s.diam, s.nseg, s.cm, s.Ra = sc["L"], sc["diam"], 1, sc.get("cm", 1.0), 35.4
    for m in sc["mechs"]:
        s.insert(m)
    secs.append(s)
h.usetable_hhx = 0
keep, recs, spikes, pps = [], {}, {}, []
for j, s in enumerate(secs):
    recs[f"v{j}"] = h.Vector().record(s(0.5)._ref_v)
    if "hhx" in cfg["sections"][j]["mechs"]:
        recs[f"m{j}"] = h.Vector().record(s(0.5)._ref_m_hhx)
    if "cagate" in cfg["sections"][j]["mechs"]:
        recs[f"w{j}"] = h.Vector().record(s(0.5)._ref_w_cagate)
for j, p in enumerate(cfg["points"]):
    pp = getattr(h, p["mech"])(secs[p["sec"]](0.5))
    for k, val in p["params"].items():
        setattr(pp, k, val)
    pps.append(pp)
    for t0 in p.get("events", []):
        ns = h.NetStim()
        ns.number, ns.start, ns.noise, ns.interval = 1, t0, 0, 1e9
        nc = h.NetCon(ns, pp)
        nc.delay, nc.weight[0] = cfg["delay"], p["weight"]
        keep += [ns, nc]
    for g in p.get("rec", []):
        recs[f"{j}.{g}"] = h.Vector().record(getattr(pp, f"_ref_{g}"))
for j, p in enumerate(cfg["points"]):
    for name, target in p.get("pointers", {}).items():
        if target[0] == "v":
            h.setpointer(secs[target[1]](0.5)._ref_v, name, pps[j])
        else:  # a time series played into a hoc variable the pointer names
            var = h.Vector(1)
            keep.append(var)
            h.setpointer(var._ref_x[0], name, pps[j])
            vec = h.Vector(target[1])
            vec.play(var._ref_x[0], cfg["dt"])
            keep.append(vec)
    if p.get("emits"):
        vec = h.Vector()
        nc = h.NetCon(pps[j], None)
        nc.record(vec)
        spikes[f"spikes{j}"] = vec
        keep += [nc]
        for tgt in p.get("drives", []):
            nc = h.NetCon(pps[j], pps[tgt])
            nc.delay, nc.weight[0] = cfg["delay"], p["drive_weight"]
            keep.append(nc)
for j, s in enumerate(secs):
    if cfg["sections"][j].get("rec_cai"):  # the ion exists once a mechanism uses it
        recs[f"cai{j}"] = h.Vector().record(s(0.5)._ref_cai)
for c in cfg.get("iclamps", []):
    ic = h.IClamp(secs[c["sec"]](0.5))
    ic.delay, ic.dur, ic.amp = c["del"], c["dur"], c["amp"]
    keep.append(ic)
h.dt, h.secondorder, h.celsius = cfg["dt"], 0, cfg["celsius"]
h.finitialize(cfg["v_init"])
h.continuerun(cfg["T"])
out = {k: np.array(r)[1:] for k, r in recs.items()}
out.update({k: np.array(r) for k, r in spikes.items()})
np.savez(cfg["out"], **out)
"""

DELAY = 1.0  # ms, NetCon delays


def run_neuron(dll, cfg: dict, tmp: Path, tag: str) -> dict:
    out = tmp / f"{tag}.npz"
    cfg = dict(cfg, dll=dll, dt=DT, delay=DELAY, out=str(out))
    (tmp / f"cfg_{tag}.json").write_text(json.dumps(cfg))
    script = tmp / "run_neuron_pointer_events.py"
    script.write_text(_NEURON_SCRIPT)
    env = dict(os.environ, PYTHONPATH="")
    r = subprocess.run([sys.executable, str(script), str(tmp / f"cfg_{tag}.json")],
                       capture_output=True, env=env, text=True)  # fmt: skip
    if r.returncode:
        raise RuntimeError(f"NEURON failed:\n{r.stderr[-3000:]}")
    data = np.load(out)
    return {k: data[k] for k in data.files}


def _sec(mechs=("hhx",), **kw):
    return dict(dict(L=L, diam=DIAM), mechs=list(mechs), **kw)


def _step(T, t0, t1, amp):
    """IClamp's current per step (nA), evaluated at mid-step as NEURON's fixed step."""
    t = np.arange(int(round(T / DT))) * DT + DT / 2
    return np.where((t >= t0) & (t < t1), amp, 0.0)


# Transmitter pulses for the AMPA receptor (mM per step of DT): 1 mM for 1 ms after
# each release (Destexhe et al. 1994's square pulse), releases at 5, 12, 14, 40 ms
_T_PTR = 60.0
_tk = np.arange(int(round(_T_PTR / DT))) * DT
TRANSMITTER = np.zeros_like(_tk)
for _t0 in (5.0, 12.0, 14.0, 40.0):
    TRANSMITTER[(_tk >= _t0 - 1e-9) & (_tk < _t0 + 1.0 - 1e-9)] = 1.0

CASES = {
    "conc": dict(
        # cagate (density, reads cai in INITIAL and its update): NEURON initialises and
        # updates the point process writing cai first (memb_order_), as the cell does
        sections=[_sec(mechs=("hhx", "cagate"), rec_cai=True)],
        points=[
            dict(mech="NmdaCaPool", sec=0, params={"fCa": 0.1, "mg": 0.0, "vol": 5.0,
                                                    "cainf": 1e-4},
                 events=[5.0, 5.5, 6.0, 30.0, 30.4], weight=0.004, rec=["A", "B"]),
            dict(mech="CaSens", sec=0, params={"gmax": 0.002}, rec=["w"]),
        ],
        T=80.0, celsius=6.3, v_init=-65.0,
    ),
    "spikes": dict(
        sections=[_sec(), _sec()],
        points=[
            dict(mech="ThreshDetect", sec=0, params={"thresh": -20.0}, rec=["n"], emits=True,
                 drives=[1], drive_weight=0.003),
            dict(mech="ExpSyn", sec=1, params={"tau": 2.0, "e": 0.0}, rec=["g"]),
        ],
        iclamps=[{"sec": 0, "del": 5.0, "dur": 50.0, "amp": 0.1}],
        T=60.0, celsius=6.3, v_init=-65.0,
    ),
    "gap": dict(
        # two separate sections in NEURON; in neurojax one cell whose second branch hangs
        # from the first's end through 1e15 ohm cm (1e-12 uS against the junction's
        # 0.01 uS: a Cell is one tree)
        sections=[_sec(), _sec(parent=0, Ra=1e15)],
        points=[
            dict(mech="GapJ", sec=0, params={"g": 0.01}, pointers={"vgap": ["v", 1]},
                 rec=["i"]),
            dict(mech="GapJ", sec=1, params={"g": 0.01}, pointers={"vgap": ["v", 0]},
                 rec=["i"]),
        ],
        iclamps=[{"sec": 0, "del": 5.0, "dur": 25.0, "amp": 0.1}],
        T=40.0, celsius=6.3, v_init=-65.0,
    ),
    "pointer": dict(
        sections=[_sec()],
        points=[dict(mech="Ampa5k", sec=0, params={"gmax": 2000.0},
                     pointers={"C": ["play", TRANSMITTER.tolist()]},
                     rec=["C0", "C1", "C2", "D", "O"])],
        T=_T_PTR, celsius=6.3, v_init=-65.0,
    ),
    "updown": dict(
        sections=[_sec()],
        points=[dict(mech="UpDown", sec=0, params={}, rec=["s", "state", "nup", "ndown"],
                     emits=True)],
        iclamps=[{"sec": 0, "del": 5.0, "dur": 40.0, "amp": 0.1}],
        T=60.0, celsius=6.3, v_init=-65.0,
    ),
    # `down` below the after-hyperpolarisation: once up it never goes down, and the
    # up-crossing, deactivated by the down-WATCH, never fires again: one spike (a file
    # whose watches stayed armed would count every action potential)
    "updown_stuck": dict(
        sections=[_sec()],
        points=[dict(mech="UpDown", sec=0, params={"down": -85.0},
                     rec=["s", "state", "nup", "ndown"], emits=True)],
        iclamps=[{"sec": 0, "del": 5.0, "dur": 40.0, "amp": 0.1}],
        T=60.0, celsius=6.3, v_init=-65.0,
    ),
    # the compartment is the model's capacitance: 100 pF = 1 uF/cm2 on 1e4 um2, no other
    # mechanism; "izh_fd": linearised by NEURON's 0.001 mV difference (`with_neuron_slope`)
    "izh": dict(
        sections=[_sec(mechs=(), L=100.0 / np.sqrt(np.pi), diam=100.0 / np.sqrt(np.pi))],
        points=[dict(mech="Izh07", sec=0, params={}, rec=["u"], emits=True)],
        T=300.0, celsius=6.3, v_init=-65.0,
    ),
}
CASES["izh_fd"] = dict(CASES["izh"], neuron_slope=True)
# a NONLINEAR block solved in INITIAL (Newton from the state's INITIAL value)
CASES["nonlinear"] = dict(
    sections=[_sec()],
    points=[dict(mech="BindNL", sec=0, params={}, rec=["b"])],
    iclamps=[{"sec": 0, "del": 5.0, "dur": 20.0, "amp": 0.1}],
    T=40.0, celsius=6.3, v_init=-65.0,
)


def _mods():
    from neurojax.nmodl import load_mod

    t = texts()
    by = {"NmdaCaPool": "nmdacapool.mod", "CaSens": "casens.mod", "ThreshDetect": "thresh.mod",
          "GapJ": "gapj.mod", "Ampa5k": "ampa5k.mod", "UpDown": "updown.mod",
          "Izh07": "izh07.mod", "BindNL": "bindnl.mod"}
    t["expsyn.mod"] = base.mod_text("expsyn.mod")
    by["ExpSyn"] = "expsyn.mod"

    def load(name, **params):
        return load_mod(t[by[name]], file=by[name], **params)

    return load


def _cell(cfg, secs, points):
    """A neurojax Cell of the sections `secs` (indices into cfg's) with `points`
    [(index into cfg["points"], pp)]; one branch per section."""
    from neurojax.cable import Branch, Cell, Morphology

    branches, ra = [], []
    for j in secs:
        sc = cfg["sections"][j]
        parent = sc.get("parent")
        branches.append(Branch(sc["L"], sc["diam"], nseg=1,
                               parent=-1 if parent is None else secs.index(parent)))  # fmt: skip
        ra.append(sc.get("Ra", 35.4))
    names = cfg["sections"][secs[0]]["mechs"]
    mechs = [(load_hh(), None)] if "hhx" in names else []
    if "cagate" in names:
        from neurojax.nmodl import load_mod

        mechs.append((load_mod(CA_GATE, file="cagate.mod"), None))
    pps = [(pp, (secs.index(cfg["points"][j]["sec"]), 0.5)) for j, pp in points]
    clamps = [c for c in cfg.get("iclamps", []) if c["sec"] in secs]
    cell = Cell(Morphology(branches), mechs, ra=np.array(ra), v_init=cfg["v_init"],
                temperature=cfg["celsius"], point_processes=pps,
                clamps=[(secs.index(c["sec"]), 0.5) for c in clamps])  # fmt: skip
    return cell, clamps


def load_hh():
    from neurojax.nmodl import load_mod

    return load_mod(texts()["hhx.mod"], file="hhx.mod")


def _pps(cfg, which):
    """The point processes of cfg["points"][j] for j in `which`, parameters and POINTERs
    bound (sites: section k's middle → branch index in `secs_of`)."""
    load = _mods()
    return {j: load(cfg["points"][j]["mech"], **cfg["points"][j]["params"]) for j in which}


def _simulate(cell, clamps, events, T, record):
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.solvers import BackwardEuler

    n = int(round(T / DT))
    inputs = {"i_clamp": jnp.asarray(np.stack([_step(T, c["del"], c["del"] + c["dur"],
                                                     c["amp"]) for c in clamps], -1)
                                     if clamps else np.zeros((n, 0)))}  # fmt: skip
    if events is not None:
        inputs["events"] = events
    fn = lambda y: {k: f(y) for k, f in record.items()}  # noqa: E731
    sol = nj.simulate(cell, inputs, dt=DT, solver=BackwardEuler(), saveat=nj.SaveAt(fn=fn))
    return {k: np.asarray(v)[:, 0] for k, v in sol.states.items()}


def run_neurojax(name: str) -> dict:
    """The traces of case `name`, keyed as NEURON's (`v<sec>`, `m<sec>`, `cai<sec>`,
    `<point>.<gate>`, `spikes<point>`)."""
    from neurojax.nmodl import emitted_spike_times

    cfg = CASES[name]
    T = cfg["T"]
    n = int(round(T / DT))
    pps = _pps(cfg, range(len(cfg["points"])))
    out = {}
    if name == "spikes":  # two cells: the detector's spikes drive the other's ExpSyn
        cell, clamps = _cell(cfg, [0], [(0, pps[0])])
        rec = {"v0": cell.record_v([(0, 0.5)]), "m0": cell.record_gate(0, "m", [(0, 0.5)]),
               "0.n": cell.record_point(0, "n"), "ne_n": cell.record_point(0, "ne_n"),
               "ne_t": cell.record_point(0, "ne_t")}  # fmt: skip
        r = _simulate(cell, clamps, jnp_zeros_events(cell, n), T, rec)
        times = emitted_spike_times(r.pop("ne_n"), r.pop("ne_t"))
        out.update(r, spikes0=times)
        p = cfg["points"][0]
        cell1, _ = _cell(cfg, [1], [(1, pps[1])])
        events = cell1.event_input([(times + DELAY, p["drive_weight"])], n, DT)
        rec = {"v1": cell1.record_v([(0, 0.5)]), "m1": cell1.record_gate(0, "m", [(0, 0.5)]),
               "1.g": cell1.record_point(0, "g")}  # fmt: skip
        out.update(_simulate(cell1, [], events, T, rec))
        return out
    secs = list(range(len(cfg["sections"])))
    for j, p in enumerate(cfg["points"]):
        for ptr, target in p.get("pointers", {}).items():
            if target[0] == "v":
                pps[j] = pps[j].bind_pointer(ptr, v_at=(target[1], 0.5))
            else:
                pps[j] = pps[j].bind_pointer(ptr, values=np.asarray(target[1]), dt=DT)
    if cfg.get("neuron_slope"):
        from neurojax.nmodl._compile import with_neuron_slope

        pps = {j: with_neuron_slope(pp) for j, pp in pps.items()}
    cell, clamps = _cell(cfg, secs, list(pps.items()))
    rec = {}
    for k, sc in enumerate(cfg["sections"]):
        rec[f"v{k}"] = cell.record_v([(k, 0.5)])
        if "hhx" in sc["mechs"]:
            rec[f"m{k}"] = cell.record_gate(0, "m", [(k, 0.5)])
        if "cagate" in sc["mechs"]:
            rec[f"w{k}"] = cell.record_gate(1, "w", [(k, 0.5)])
        if sc.get("rec_cai"):
            rec[f"cai{k}"] = cell.record_ion("cai", [(k, 0.5)])
    for j, p in enumerate(cfg["points"]):
        for g in p.get("rec", []):
            if g == "i":
                continue  # a current, not a gate: compared through v
            rec[f"{j}.{g}"] = cell.record_point(j, g)
        if p.get("emits"):
            rec[f"ne_n{j}"] = cell.record_point(j, "ne_n")
            rec[f"ne_t{j}"] = cell.record_point(j, "ne_t")
    receivers = [p for p in cfg["points"] if p.get("events")]
    events = (cell.event_input([(np.asarray(p["events"]) + DELAY, p["weight"])
                                for p in receivers], n, DT)
              if receivers else jnp_zeros_events(cell, n))  # fmt: skip
    r = _simulate(cell, clamps, events, T, rec)
    for j, p in enumerate(cfg["points"]):
        if p.get("emits"):
            r[f"spikes{j}"] = emitted_spike_times(r.pop(f"ne_n{j}"), r.pop(f"ne_t{j}"))
    return r


def jnp_zeros_events(cell, n):
    import jax.numpy as jnp

    return jnp.zeros((n, len(cell.geometry.receivers)))


def compare(tmp: Path, names=None) -> dict:
    """{case: {trace: max |Δ|}} (spike trains: max |Δt| ms, and their counts), plus
    NEURON's voltage range per case."""
    import jax

    dll = base.compile_mods(texts(), tmp / "mods")
    res = {}
    for name in names or CASES:
        ref = run_neuron(dll, CASES[name], tmp, name)
        with jax.enable_x64(True):
            ours = run_neurojax(name)
        out = {}
        for k, x in ours.items():
            if k.startswith("spikes"):
                out[k] = (len(x), len(ref[k]),
                          float(np.max(np.abs(x - ref[k]))) if len(x) == len(ref[k]) and len(x)
                          else float("nan"))  # fmt: skip
            else:
                out[k] = float(np.max(np.abs(x - ref[k])))
        out["_vrange"] = (float(min(ref[k].min() for k in ref if k.startswith("v"))),
                          float(max(ref[k].max() for k in ref if k.startswith("v"))))  # fmt: skip
        res[name] = out
    return res


if __name__ == "__main__":
    import sys as _sys

    with tempfile.TemporaryDirectory() as d:
        all_res = compare(Path(d), _sys.argv[1:] or None)
    for case, res in all_res.items():
        lo, hi = res.pop("_vrange")
        print(f"{case}: NEURON V in [{lo:.1f}, {hi:.1f}] mV")
        for k, x in res.items():
            print(f"  {k:10s} {x}")
