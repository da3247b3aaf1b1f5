"""USEION in a POINT_PROCESS against NEURON compiling the same `.mod` files.

One compartment (L = diam = 10 µm) with hh (the wheel's, renamed `hhx`, rate tables
off) and Hay et al.'s CaDynamics_E2 (reads the total `ica`, writes `cai`), at its middle
three point processes written here from published equations:

- `NMDACa`: an NMDA synapse (two-exponential conductance, rise 3 ms, decay 40 ms) with
  the Mg²⁺ block of Jahr & Stevens (1990), `B(v) = 1/(1 + exp(−0.062 v)·[Mg]/3.57)`; a
  fraction `fCa` (10 %) of its current is carried by Ca²⁺ and WRITTEN as `ica` (nA),
  the rest is `NONSPECIFIC_CURRENT i`. NEURON adds `ica·100/area` (mA/cm²) to the
  node's `ica`, which CaDynamics_E2 integrates: cai rises.
- `CaSens`: a Ca²⁺-activated conductance reading `cai` (its gate `w` relaxes to
  `cai/(cai + kd)`) and `eca` (its current `g·w·(v − eca)`, NONSPECIFIC): reads the pool,
  eca by Nernst every step since a concentration is read.
- `AmpaNa`: an exponential synapse whose current is carried by Na⁺ (`USEION na READ ena
  WRITE ina`, `ina = g·(v − ena)`).

Driven by `NetStim` → `NetCon` events (delay 1 ms), backward Euler (`secondorder = 0`)
at dt = 0.025 ms for 80 ms in both. NEURON's `memb_order_`: CaDynamics_E2 (writes a
concentration) first, then hhx, then the point processes — neurojax's order
(mechanisms, then point processes).

Three cases (`CASES`): [Mg²⁺]o = 1 mM; the same with the NMDA synapse linearised by
NEURON's rule (nocmodl's `nrn_cur` takes the membrane slope as `(i(v + 0.001) −
i(v))/0.001`, neurojax's cell the exact dI/dV: the Mg block is the only current here
nonlinear in V at fixed states); [Mg²⁺]o = 0 (every current linear in V). Measured
(float64): 2.8e-5 mV with the exact slope, 4.2e-11 mV with NEURON's slope and 3.8e-11 mV
at mg = 0 — the residual is the slope rule alone. Then the gradient of cai at 80 ms with
respect to the Ca fraction `fCa`, reverse mode against a central difference.

    python validation/nmodl_useion_point_vs_neuron.py     # prints max/mean |Δ| per trace

`tests/test_nmodl_useion_point_neuron.py` (slow tier) runs it.
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
HAY = HERE.parent / "neurojax" / "cable" / "data" / "hay2011"

sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import nmodl_vs_neuron as base  # noqa: E402

DT, L, DIAM = base.DT, base.L, base.DIAM
T = 80.0  # ms
DELAY = 1.0  # ms, the NetCon delay

NMDA_CA = """
: NMDA synapse with Mg block (Jahr & Stevens 1990, J Neurosci 10:3178), two-exponential
: conductance g = B - A (A' = -A/tau1, B' = -B/tau2, each event adds weight to both);
: a fraction fCa of the current is carried by Ca2+ (written as ica). Written for neurojax.
NEURON {
    POINT_PROCESS NMDACa
    USEION ca WRITE ica
    NONSPECIFIC_CURRENT i
    RANGE tau1, tau2, e, mg, fCa, g, i, ica
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) (mM) = (milli/liter) }
PARAMETER {
    tau1 = 3 (ms) <1e-9,1e9>
    tau2 = 40 (ms) <1e-9,1e9>
    e = 0 (mV)
    mg = 1 (mM)
    fCa = 0.1 <0,1>
}
ASSIGNED { v (mV) i (nA) ica (nA) g (uS) itot (nA) }
STATE { A (uS) B (uS) }
INITIAL { A = 0  B = 0 }
BREAKPOINT {
    SOLVE state METHOD cnexp
    g = B - A
    itot = g*mgblock(v)*(v - e)
    ica = fCa*itot
    i = (1 - fCa)*itot
}
DERIVATIVE state {
    A' = -A/tau1
    B' = -B/tau2
}
FUNCTION mgblock(v (mV)) {
    mgblock = 1/(1 + exp(0.062*(-v))*(mg/3.57))
}
NET_RECEIVE(weight (uS)) {
    A = A + weight
    B = B + weight
}
"""

CA_SENS = """
: A Ca2+-activated conductance: w relaxes to cai/(cai + kd) with time constant tauw, its
: current g w (v - eca) reads eca (Nernst from cai, cao). Written for neurojax.
NEURON {
    POINT_PROCESS CaSens
    USEION ca READ cai, eca
    NONSPECIFIC_CURRENT i
    RANGE gmax, kd, tauw, i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) (mM) = (milli/liter) }
PARAMETER {
    gmax = 0.002 (uS) <0,1e9>
    kd = 2e-4 (mM) <1e-12,1e9>
    tauw = 5 (ms) <1e-9,1e9>
}
ASSIGNED { v (mV) i (nA) cai (mM) eca (mV) }
STATE { w }
INITIAL { w = cai/(cai + kd) }
BREAKPOINT {
    SOLVE state METHOD cnexp
    i = gmax*w*(v - eca)
}
DERIVATIVE state { w' = (cai/(cai + kd) - w)/tauw }
"""

AMPA_NA = """
: An exponential synapse whose current is carried by Na+ (ina = g (v - ena)), g decays
: with tau, each event adds its weight. Written for neurojax.
NEURON {
    POINT_PROCESS AmpaNa
    USEION na READ ena WRITE ina
    RANGE tau, g, ina
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER { tau = 2 (ms) <1e-9,1e9> }
ASSIGNED { v (mV) ina (nA) ena (mV) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT {
    SOLVE state METHOD cnexp
    ina = g*(v - ena)
}
DERIVATIVE state { g' = -g/tau }
NET_RECEIVE(weight (uS)) { g = g + weight }
"""

# (POINT_PROCESS, parameters, event times (ms, before the delay), weight µS, recorded)
POINTS = [
    ("NMDACa", {"fCa": 0.1, "mg": 1.0}, [5.0, 5.5, 6.0, 30.0, 30.4], 0.004, ["A", "B"]),
    ("CaSens", {"gmax": 0.002}, [], 0.0, ["w"]),
    ("AmpaNa", {"tau": 2.0}, [20.0, 50.0], 0.006, ["g"]),
]
CAD = {"gamma": 0.5, "decay": 80.0}


def texts() -> dict:
    return {
        "CaDynamics_E2.mod": (HAY / "CaDynamics_E2.mod").read_text(),
        "hhx.mod": base.renamed(base.mod_text("hh.mod"), "hh", "hhx"),
        "nmdaca.mod": NMDA_CA,
        "casens.mod": CA_SENS,
        "ampana.mod": AMPA_NA,
    }


_NEURON_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
s = h.Section(name="soma")
s.L, s.diam, s.nseg, s.cm, s.Ra = cfg["L"], cfg["diam"], 1, 1.0, 35.4
s.insert("CaDynamics_E2")
for k, val in cfg["cad"].items():
    setattr(s(0.5), f"{k}_CaDynamics_E2", val)
s.insert("hhx")
h.usetable_hhx = 0
keep = []
recs = {"v": h.Vector().record(s(0.5)._ref_v), "cai": h.Vector().record(s(0.5)._ref_cai),
        "m": h.Vector().record(s(0.5)._ref_m_hhx)}
for j, (name, params, times, w, rec) in enumerate(cfg["points"]):
    pp = getattr(h, name)(s(0.5))
    for k, val in params.items():
        setattr(pp, k, val)
    keep.append(pp)
    for t0 in times:  # one NetStim per spike (the wheel has no VecStim)
        ns = h.NetStim()
        ns.number, ns.start, ns.noise, ns.interval = 1, t0, 0, 1e9
        nc = h.NetCon(ns, pp)
        nc.delay, nc.weight[0] = cfg["delay"], w
        keep += [ns, nc]
    for g in rec:
        recs[f"{j}.{g}"] = h.Vector().record(getattr(pp, f"_ref_{g}"))
h.dt, h.secondorder = cfg["dt"], 0
h.finitialize(-65.0)
h.continuerun(cfg["T"])
np.savez(cfg["out"], **{k: np.array(r) for k, r in recs.items()})
"""


def with_mg(mg: float) -> list:
    """POINTS with the NMDA synapse's [Mg²⁺]o (mM) set to `mg`."""
    return [(n, {**p, "mg": mg} if n == "NMDACa" else p, *rest) for n, p, *rest in POINTS]


def run_neuron(dll, tmp: Path, points=POINTS) -> dict:
    out = tmp / "useion_point.npz"
    cfg = dict(dll=dll, points=points, cad=CAD, delay=DELAY, dt=DT, T=T, L=L, diam=DIAM,
               out=str(out))  # fmt: skip
    (tmp / "cfg_useion_point.json").write_text(json.dumps(cfg))
    script = tmp / "run_neuron_useion_point.py"
    script.write_text(_NEURON_SCRIPT)
    env = dict(os.environ, PYTHONPATH="")
    r = subprocess.run([sys.executable, str(script), str(tmp / "cfg_useion_point.json")],
                       capture_output=True, env=env, text=True)  # fmt: skip
    if r.returncode:
        raise RuntimeError(f"NEURON failed:\n{r.stderr[-3000:]}")
    data = np.load(out)
    return {k: data[k][1:] for k in data.files}


def build(points=POINTS):
    """The neurojax cell, its event input and the recording functions."""
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod

    t = texts()
    by_name = {"NMDACa": t["nmdaca.mod"], "CaSens": t["casens.mod"], "AmpaNa": t["ampana.mod"]}
    pps = [(load_mod(by_name[name], file=name, **params), (0, 0.5))
           for name, params, *_ in points]  # fmt: skip
    mechs = [(load_mod(t["CaDynamics_E2.mod"], **CAD), None), (load_mod(t["hhx.mod"]), None)]
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), mechs, v_init=-65.0, point_processes=pps)
    n = int(round(T / DT))
    receivers = [(times, w) for _, _, times, w, _ in points if times]
    events = cell.event_input([(np.asarray(tt) + DELAY, w) for tt, w in receivers], n, DT)
    site = [(0, 0.5)]
    fns = {"v": cell.record_v(site), "cai": cell.record_ion("cai", site),
           "m": cell.record_gate(1, "m", site)}  # fmt: skip
    for j, (_, _, _, _, rec) in enumerate(points):
        for g in rec:
            fns[f"{j}.{g}"] = cell.record_point(j, g)
    return cell, events, fns


def neuron_slope(pp):
    """`pp` with NEURON's membrane slope: `(i(v + 0.001) − i(v))/0.001` (nocmodl's
    `nrn_cur`) instead of neurojax's exact dI/dV (the same current); for this comparison
    only (it cuts the gradient with respect to the parameters)."""
    import jax

    sg = jax.lax.stop_gradient
    cls = type(pp)

    class NeuronSlope(cls):
        def current_ions(self, v, gates, temperature, ions, t=None):
            i, out = cls.current_ions(self, v, gates, temperature, ions, t)
            i2, _ = cls.current_ions(self, v + 0.001, gates, temperature, ions, t)
            return sg(i) + (v - sg(v)) * sg((i2 - i) / 0.001), out

    NeuronSlope._spec = cls._spec
    return NeuronSlope(**{f: getattr(pp, f) for f in cls._spec.field_of.values()})


def run_neurojax(points=POINTS, fd_slope: bool = False) -> dict:
    """The traces; `fd_slope`: the NMDA synapse linearised by NEURON's rule (`neuron_slope`)."""
    import equinox as eqx
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.solvers import BackwardEuler

    cell, events, fns = build(points)
    if fd_slope:
        cell = eqx.tree_at(lambda c: c.point_processes[0], cell,
                           neuron_slope(cell.point_processes[0]))  # fmt: skip
    n = events.shape[0]
    sol = nj.simulate(cell, {"i_clamp": jnp.zeros((n, 0)), "events": events}, dt=DT,
                      solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(v)[:, 0] for k, v in sol.states.items()}


CASES = {  # name: ([Mg²⁺]o mM, the NMDA synapse linearised by NEURON's 0.001 mV rule)
    "mg 1 mM": (1.0, False),
    "mg 1 mM, NEURON's slope": (1.0, True),
    "mg 0": (0.0, False),
}


def compare(tmp: Path, cases=CASES) -> dict:
    """{case: {trace: (max |Δ|, mean |Δ|)} plus NEURON's voltage and cai ranges}. With
    the Mg block the NMDA current is nonlinear in V, which NEURON linearises by a
    0.001 mV difference and neurojax exactly: the residual of "mg 1 mM"; the same run
    with NEURON's slope ("… NEURON's slope", `neuron_slope`) and mg = 0 (every current
    linear in V) are the same arithmetic: rounding only."""
    import jax

    dll = base.compile_mods(texts(), tmp / "mods")
    res = {}
    refs = {}
    for name, (mg, fd) in cases.items():
        if mg not in refs:
            refs[mg] = run_neuron(dll, tmp, with_mg(mg))
        ref = refs[mg]
        with jax.enable_x64(True):
            ours = run_neurojax(with_mg(mg), fd_slope=fd)
        out = {k: (float(np.max(np.abs(ours[k] - ref[k]))),
                   float(np.mean(np.abs(ours[k] - ref[k])))) for k in ref}  # fmt: skip
        out["_vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
        out["_cairange"] = (float(ref["cai"].min()), float(ref["cai"].max()))
        res[name] = out
    return res


def cai_end_and_grad(f_ca: float, eps: float = 1e-5):
    """cai (mM) at the end of the run as a function of the NMDA synapse's Ca fraction:
    (value, reverse-mode d/dfCa, central difference with step `eps`), float64."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.solvers import BackwardEuler

    with jax.enable_x64(True):
        cell, events, fns = build()
        n = events.shape[0]
        rec = fns["cai"]

        def cai_end(f):
            c = eqx.tree_at(lambda c: c.point_processes[0].fCa, cell, jnp.asarray(f))
            sol = nj.simulate(c, {"i_clamp": jnp.zeros((n, 0)), "events": events}, dt=DT,
                              solver=BackwardEuler(), saveat=nj.SaveAt(fn=rec))  # fmt: skip
            return sol.states[-1, 0]

        value, grad = jax.value_and_grad(cai_end)(jnp.float64(f_ca))
        fd = (cai_end(f_ca + eps) - cai_end(f_ca - eps)) / (2 * eps)
        return float(value), float(grad), float(fd)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        all_res = compare(Path(d))
    for case, res in all_res.items():
        lo, hi = res.pop("_vrange")
        clo, chi = res.pop("_cairange")
        print(
            f"NMDA(ica; {case}) + CaSens(cai, eca) + AmpaNa(ina) + CaDynamics_E2 + hh, "
            f"NetStim events (NEURON V in [{lo:.1f}, {hi:.1f}] mV, cai in "
            f"[{clo:.3g}, {chi:.3g}] mM)"
        )
        for k, (mx, mean) in res.items():
            print(f"  {k:10s} max |Δ| = {mx:.3g}   mean |Δ| = {mean:.3g}")
    value, grad, fd = cai_end_and_grad(0.1)
    print(
        f"cai(80 ms) = {value:.6g} mM; d/dfCa: reverse mode {grad:.9g}, central "
        f"difference {fd:.9g} (rel. {abs(grad - fd) / abs(fd):.2g})"
    )
