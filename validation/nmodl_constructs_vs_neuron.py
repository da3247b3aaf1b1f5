"""Constructs found in published `.mod` files (docs/nmodl.md's corpus) against NEURON.

Four density mechanisms written here from published equations (not copied), each the
smallest file with the construct that a published model uses:

- `IARX`: Destexhe, Bal, McCormick & Sejnowski (1996)'s calcium-regulated Ih of
  thalamocortical cells, a KINETIC scheme `c1 <-> o1 (α, β)`, `p0 <-> p1 (k1·cai^n,
  k2)`, `o1 <-> o2 (k3·p1^m, k4)` whose rate `k3p` reads the scheme's own state `p1`
  (two CONSERVEs). nocmodl compiles the scheme as linear (`_linmat = 1`): NEURON's
  `sparse` is then one linear solve per step with the rates at the old states, which
  neurojax reproduces (Newton's iterations on backward Euler differed by 0.3 % of the
  states' range);
- `TRAUBX`: Traub & Miles (1991)'s hippocampal Na/K in Destexhe's formulation, whose
  rate procedure, called from the DERIVATIVE block, also computes the `1 − exp(−dt/τ)`
  factors of an older discretisation (`dt` read inside a cnexp block);
- `CARX`: Poirazi, Brannon & Mel (2003)'s somatic R-type Ca²⁺ current, stepped by its own
  procedure `m ← m + (1 − e^{−dt/τ})·(m∞ − m)` (SOLVE without METHOD), which INITIAL
  also runs once from m = 0, h = 1: the initial state depends on dt (NEURON's h.dt;
  neurojax's `dt_init`, 0.025 ms by default);
- `NAV3`: a three-state (closed, open, inactivated) Na⁺ channel in the style of Kuo &
  Bean (1994) as a KINETIC scheme, started at the equilibrium of its rate equations
  by `SOLVE equilibrium` of a LINEAR block in INITIAL (Allen's NaV.mod, Carter et al.
  2012, does so for its 12 states).

One compartment (L = diam = 10 µm) with the wheel's hh (renamed hhx, tables off), current
clamp and voltage clamp, backward Euler at dt 0.025 ms for 40 ms (the setting and the
runners of `nmodl_vs_neuron.py`).

    python validation/nmodl_constructs_vs_neuron.py     # max/mean |Δ| per trace

`tests/test_nmodl_constructs_neuron.py` (slow tier) runs it;
`tests/test_nmodl_constructs.py` (fast) checks the same files against closed forms.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import nmodl_vs_neuron as base  # noqa: E402

IARX = """
NEURON {
    SUFFIX iarx
    NONSPECIFIC_CURRENT i
    RANGE ghbar, erev, cai
    GLOBAL k2, cac, k4, Pc, nca, nexp, ginc, taum
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (mM) = (milli/liter) }
PARAMETER {
    erev = -40 (mV)
    ghbar = 2e-4 (mho/cm2)
    cai = 0.01 (mM)
    cac = 0.002 (mM)
    k2 = 0.0004 (/ms)
    Pc = 0.01
    k4 = 0.001 (/ms)
    nca = 4
    nexp = 1
    ginc = 2
    taum = 20 (ms)
}
STATE { c1 o1 o2 p0 p1 }
ASSIGNED { v (mV) i (mA/cm2) h_inf tau_s (ms) alpha (/ms) beta (/ms) k1ca (/ms) k3p (/ms) }
BREAKPOINT {
    SOLVE ihkin METHOD sparse
    i = ghbar*(o1 + ginc*o2)*(v - erev)
}
KINETIC ihkin {
    rates(v, cai)
    ~ c1 <-> o1 (alpha, beta)
    ~ p0 <-> p1 (k1ca, k2)
    ~ o1 <-> o2 (k3p, k4)
    CONSERVE p0 + p1 = 1
    CONSERVE c1 + o1 + o2 = 1
}
INITIAL {
    rates(v, cai)
    c1 = 1
    o1 = 0
    o2 = 0
    p0 = 1
    p1 = 0
}
PROCEDURE rates(v (mV), cai (mM)) {
    h_inf = 1/(1 + exp((v + 75)/5.5))
    tau_s = taum + 1000/(exp((v + 71.5)/14.2) + exp(-(v + 89)/11.6))
    alpha = h_inf/tau_s
    beta = (1 - h_inf)/tau_s
    k1ca = k2*(cai/cac)^nca
    k3p = k4*(p1/Pc)^nexp
}
"""

TRAUBX = """
NEURON {
    SUFFIX traubx
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    RANGE gnabar, gkbar, vtraub, m_exp, h_exp, n_exp
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) }
PARAMETER {
    gnabar = 0.05 (mho/cm2)
    gkbar = 0.01 (mho/cm2)
    vtraub = -55 (mV)
}
STATE { m h n }
ASSIGNED {
    v (mV) dt (ms) celsius (degC) ena (mV) ek (mV) ina (mA/cm2) ik (mA/cm2)
    m_inf h_inf n_inf tau_m (ms) tau_h (ms) tau_n (ms) m_exp h_exp n_exp tadj
}
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gnabar*m*m*m*h*(v - ena)
    ik = gkbar*n*n*n*n*(v - ek)
}
DERIVATIVE states {
    rates(v)
    m' = (m_inf - m)/tau_m
    h' = (h_inf - h)/tau_h
    n' = (n_inf - n)/tau_n
}
INITIAL {
    tadj = 3.0^((celsius - 36)/10)
    rates(v)
    m = m_inf
    h = h_inf
    n = n_inf
}
PROCEDURE rates(v (mV)) { LOCAL a, b, v2
    v2 = v - vtraub
    a = 0.32*(13 - v2)/(exp((13 - v2)/4) - 1)
    b = 0.28*(v2 - 40)/(exp((v2 - 40)/5) - 1)
    tau_m = 1/(a + b)/tadj
    m_inf = a/(a + b)
    a = 0.128*exp((17 - v2)/18)
    b = 4/(1 + exp((40 - v2)/5))
    tau_h = 1/(a + b)/tadj
    h_inf = a/(a + b)
    a = 0.032*(15 - v2)/(exp((15 - v2)/5) - 1)
    b = 0.5*exp((10 - v2)/40)
    tau_n = 1/(a + b)/tadj
    n_inf = a/(a + b)
    m_exp = 1 - exp(-dt/tau_m)
    h_exp = 1 - exp(-dt/tau_h)
    n_exp = 1 - exp(-dt/tau_n)
}
"""

CARX = """
NEURON {
    SUFFIX carx
    USEION ca READ eca WRITE ica
    RANGE gcabar
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) }
PARAMETER { gcabar = 0.003 (mho/cm2) }
STATE { m h }
ASSIGNED { v (mV) dt (ms) eca (mV) ica (mA/cm2) inf[2] fac[2] tau[2] (ms) }
BREAKPOINT {
    SOLVE states
    ica = gcabar*m*m*m*h*(v - eca)
}
INITIAL {
    m = 0
    h = 1
    states()
}
PROCEDURE states() {
    rates(v)
    m = m + fac[0]*(inf[0] - m)
    h = h + fac[1]*(inf[1] - h)
}
PROCEDURE rates(v (mV)) {
    inf[0] = 1/(1 + exp(-(v + 60)/3))
    inf[1] = 1/(1 + exp((v + 62)/1))
    tau[0] = 100
    tau[1] = 5
    FROM i = 0 TO 1 {
        fac[i] = 1 - exp(-dt/tau[i])
    }
}
"""

NAV3 = """
NEURON {
    SUFFIX nav3x
    USEION na READ ena WRITE ina
    RANGE gbar
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER {
    gbar = 0.02 (S/cm2)
    a0 = 4 (/ms)
    b0 = 0.3 (/ms)
    va = 18 (mV)
    kin = 1.5 (/ms)
    kout = 0.02 (/ms)
    kci = 0.01 (/ms)
    kic = 0.05 (/ms)
}
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) }
STATE { c o i }
BREAKPOINT {
    SOLVE scheme METHOD sparse
    ina = gbar*o*(v - ena)
}
INITIAL { SOLVE equilibrium }
KINETIC scheme {
    LOCAL a, b
    a = a0*exp((v + 35)/va)
    b = b0*exp(-(v + 35)/va)
    ~ c <-> o (a, b)
    ~ o <-> i (kin, kout)
    ~ c <-> i (kci, kic)
    CONSERVE c + o + i = 1
}
LINEAR equilibrium {
    LOCAL a, b
    a = a0*exp((v + 35)/va)
    b = b0*exp(-(v + 35)/va)
    ~ o*b + i*kic - c*(a + kci) = 0
    ~ c*a + i*kout - o*(b + kin) = 0
    ~ c + o + i = 1
}
"""


def cases() -> dict:
    """name -> (mod texts, mechanisms [(suffix, params)], celsius, NEURON globals)."""
    hh = base.renamed(base.mod_text("hh.mod"), "hh", "hhx")
    return {
        "Ca-regulated Ih (linear KINETIC, rate reads a state) + hh": (
            {"iarx.mod": IARX, "hhx.mod": hh}, [("iarx", {}), ("hhx", {})], 34.0,
            {"usetable_hhx": 0}),  # fmt: skip
        "Traub-Miles Na/K (dt read in the DERIVATIVE's procedure) + hh leak": (
            {"traubx.mod": TRAUBX, "hhx.mod": hh},
            [("traubx", {}), ("hhx", {"gnabar": 0.0, "gkbar": 0.0})], 34.0,
            {"usetable_hhx": 0}),  # fmt: skip
        "3-state Na (KINETIC; LINEAR equilibrium in INITIAL) + hh K/leak": (
            {"nav3x.mod": NAV3, "hhx.mod": hh}, [("nav3x", {}), ("hhx", {"gnabar": 0.0})],
            34.0, {"usetable_hhx": 0}),  # fmt: skip
        "somatic R-type Ca (INITIAL runs a dt step) + hh": (
            {"carx.mod": CARX, "hhx.mod": hh}, [("carx", {}), ("hhx", {})], 34.0,
            {"usetable_hhx": 0}),  # fmt: skip
    }


def compare(tmp: Path) -> dict:
    """{(case, protocol): {trace: (max |Δ|, mean |Δ|)}, `_vrange`, `_range`}."""
    import jax

    from neurojax.nmodl import mod_class

    all_cases = cases()
    texts = {}
    for mtexts, *_ in all_cases.values():
        texts.update(mtexts)
    dll = base.compile_mods(texts, tmp / "mods")
    results = {}
    with jax.enable_x64(True):
        for name, (mtexts, mechs, celsius, globals_) in all_cases.items():
            record = {}
            for fname, text in mtexts.items():
                cls = mod_class(text, file=fname)
                record[cls._spec.suffix] = list(cls._spec.state_names)
            record = {s: record[s] for s, _ in mechs}
            for mode in base.protocols():
                ref = base.run_neuron(dll, mechs, celsius, globals_, mode, record, tmp)
                ours = base.run_neurojax(mtexts, mechs, celsius, mode, record)
                res = {k: (float(np.max(np.abs(ours[k] - ref[k]))),
                           float(np.mean(np.abs(ours[k] - ref[k])))) for k in ref}  # fmt: skip
                res["_vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
                res["_range"] = {k: float(np.ptp(ref[k])) for k in ref}
                results[(name, mode)] = res
    return results


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        res = compare(Path(d))
    for (name, mode), r in res.items():
        lo, hi = r.pop("_vrange")
        rng = r.pop("_range")
        print(f"{name} — {mode} (NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
        for k, (mx, mean) in r.items():
            print(f"    {k:14s} max {mx:.3g}  mean {mean:.3g}  (range {rng[k]:.3g})")
