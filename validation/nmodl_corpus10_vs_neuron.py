"""Constructs found in the third corpus of published .mod files, against NEURON.

Every `.mod` text here is written for this check from the equations in its comments
(no published file is copied). One compartment (L = diam = 10 µm) with the wheel's
hh.mod (renamed `hhx`, tables off), backward Euler (`secondorder = 0`) at dt = 0.025 ms,
float64, IClamp 0.1 nA from 2 to 12 ms, 20 ms:

- `ftable`: `FUNCTION_TABLE` — a K conductance whose gate's steady state `ninf_t(v)` and
  time constant `taun(v)` are tables given before the run: `taun` by (x, y) vectors on an
  irregular grid (NEURON's `table_taun_ftk(yvec, xvec)`), `ninf_t` by equally spaced
  samples (`table_ninf_t_ftk(&y, n, xmin, xmax)`), and a constant one (`table_c(value)`);
  neurojax: `mech.bind_table(...)`. The samples are coarse (5 mV to 20 mV apart), so the
  interpolation, and its clamping at the ends, decides the trace;
- `nonlinear_bp`: `SOLVE eq` of a NONLINEAR block in BREAKPOINT — a conductance gated by
  the occupancy b of a site at equilibrium with a voltage-dependent ligand,
  `b·K + b² = c(v)`, c(v) = 1/(1 + exp(−(v + 40)/8)), solved at every step (NEURON's
  nrn_state runs Newton at the new v). b has the closed form (−K + √(K² + 4c))/2;
- `pointer_density`: a POINTER in a density mechanism (Snudda's `damod`) — a K
  conductance scaled by (1 + mod), mod a series played into the variable the pointer
  names (`Vector.play(&var, 0.5)`; neurojax: `mech.bind_pointer("mod", values=, dt=)`).

    python validation/nmodl_corpus10_vs_neuron.py     # prints max |Δ| per case

`tests/test_nmodl_corpus10_neuron.py` (slow tier) runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DT, T = 0.025, 20.0
L = DIAM = 10.0
AMP, DELAY, DUR = 0.1, 2.0, 10.0

# n' = (ninf_t(v) - n)/taun(v); ik = gbar*n^4*(v - ek)*c0, c0 a constant table (1 here)
FTABLE_MOD = """
NEURON {
    SUFFIX ftk
    USEION k READ ek WRITE ik
    RANGE gbar
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 0.01 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) }
STATE { n }
FUNCTION_TABLE taun(v (mV)) (ms)
FUNCTION_TABLE ninf_t(v (mV))
FUNCTION_TABLE c0(v (mV))
INITIAL { n = ninf_t(v) }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar*c0(v)*n^4*(v - ek)
}
DERIVATIVE states { n' = (ninf_t(v) - n)/taun(v) }
"""

NONLINEAR_MOD = """
NEURON { SUFFIX nlbp NONSPECIFIC_CURRENT i RANGE g, e, K }
PARAMETER { g = 0.002 (S/cm2) e = -80 (mV) K = 0.3 }
ASSIGNED { v (mV) i (mA/cm2) c }
STATE { b }
INITIAL { b = 0.5 SOLVE eq }
BREAKPOINT {
    SOLVE eq
    i = g*b*(v - e)
}
NONLINEAR eq {
    c = 1/(1 + exp(-(v + 40)/8))
    ~ b*K + b*b = c
}
"""


# a K conductance scaled by a neuromodulator level read through a POINTER (Snudda's
# `damod` pattern): ik = gbar*(1 + mod)*n^4*(v - ek), n' = (ninf(v) - n)/tau
POINTER_MOD = """
NEURON {
    SUFFIX ptk
    USEION k READ ek WRITE ik
    RANGE gbar
    POINTER mod
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 0.01 (S/cm2) tau = 2 (ms) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) mod }
STATE { n }
INITIAL { n = ninf(v) }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar*(1 + mod)*n^4*(v - ek)
}
DERIVATIVE states { n' = (ninf(v) - n)/tau }
FUNCTION ninf(v (mV)) { ninf = 1/(1 + exp(-(v + 45)/9)) }
"""
POINTER_DT = 0.5  # ms per sample of the modulator series


def modulator():
    """The modulator series (one sample per POINTER_DT): 0, then 1.5 from 5 ms, 0.5 from
    12 ms; the samples around the steps shift by ~0.1 to make misalignment visible."""
    t = np.arange(int(round(T / POINTER_DT))) * POINTER_DT
    return np.where(t < 5.0, 0.0, np.where(t < 12.0, 1.5, 0.5)) + 0.1 * np.sin(t)


def tables():
    """The FUNCTION_TABLE samples: taun on an irregular grid (x, y); ninf_t equally
    spaced from -100 to 40 mV (15 samples, 10 mV apart); c0 the constant 1."""
    x_tau = np.array([-100.0, -80.0, -65.0, -60.0, -50.0, -45.0, -30.0, -10.0, 10.0, 40.0])
    y_tau = 1.0 + 6.0 / (np.exp((x_tau + 50.0) / 12.0) + np.exp(-(x_tau + 50.0) / 20.0))
    x_inf = np.linspace(-100.0, 40.0, 15)
    y_inf = 1.0 / (1.0 + np.exp(-(x_inf + 45.0) / 9.0))
    return {"taun": (x_tau, y_tau), "ninf_t": (x_inf, y_inf), "c0": 1.0}


_NEURON_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
s = h.Section(name="soma")
s.L, s.diam, s.nseg, s.cm = cfg["L"], cfg["diam"], 1, 1.0
s.insert("hhx")
h.usetable_hhx = 0
s.insert(cfg["suffix"])
keep = []
if cfg["suffix"] == "ftk":
    t = cfg["tables"]
    xv, yv = h.Vector(t["taun"][0]), h.Vector(t["taun"][1])
    h.table_taun_ftk(yv, xv)                                 # (y, x) vectors
    yi = h.Vector(t["ninf_t"][1])
    h.table_ninf_t_ftk(yi._ref_x[0], len(t["ninf_t"][1]), t["ninf_t"][0][0], t["ninf_t"][0][-1])
    h.table_c0_ftk(t["c0"])                                  # a constant
    keep += [xv, yv, yi]
if cfg["suffix"] == "ptk":                                   # POINTER in a density mechanism
    var = h.Vector(1)
    h.setpointer(var._ref_x[0], "mod", s(0.5).ptk)
    series = h.Vector(cfg["series"])
    series.play(var._ref_x[0], cfg["pdt"])                   # Vector.play(&var, dt)
    keep += [var, series]
st = h.IClamp(s(0.5)); st.delay, st.dur, st.amp = cfg["delay"], cfg["dur"], cfg["amp"]
rec = {"v": h.Vector().record(s(0.5)._ref_v),
       "state": h.Vector().record(getattr(s(0.5), "_ref_" + cfg["state"] + "_" + cfg["suffix"]))}
h.dt, h.secondorder, h.celsius = cfg["dt"], 0, 6.3
h.finitialize(-65.0)
h.continuerun(cfg["T"])
np.savez(cfg["out"], **{k: np.array(r) for k, r in rec.items()})
"""


def compile_mods(where: Path) -> str:
    from validation.nmodl_vs_neuron import mod_text, renamed

    where.mkdir(parents=True, exist_ok=True)
    (where / "ftk.mod").write_text(FTABLE_MOD)
    (where / "nlbp.mod").write_text(NONLINEAR_MOD)
    (where / "ptk.mod").write_text(POINTER_MOD)
    (where / "hhx.mod").write_text(renamed(mod_text("hh.mod"), "hh", "hhx"))
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    subprocess.run([str(nrnivmodl if nrnivmodl.exists() else "nrnivmodl")], cwd=where,
                   check=True, capture_output=True)  # fmt: skip
    lib = next(where.glob("*/libnrnmech.so"), None) or next(where.glob("*/.libs/libnrnmech.so"))
    return str(lib)


def run_neuron(dll: str, case: str, tmp: Path) -> dict:
    suffix, state = {"ftable": ("ftk", "n"), "nonlinear_bp": ("nlbp", "b"),
                     "pointer_density": ("ptk", "n")}[case]  # fmt: skip
    tabs = {k: ([list(v[0]), list(v[1])] if isinstance(v, tuple) else v)
            for k, v in tables().items()}  # fmt: skip
    cfg = dict(dll=dll, suffix=suffix, state=state, tables=tabs, L=L, diam=DIAM, dt=DT, T=T,
               amp=AMP, delay=DELAY, dur=DUR, out=str(tmp / f"{case}.npz"),
               series=modulator().tolist(), pdt=POINTER_DT)  # fmt: skip
    (tmp / "cfg.json").write_text(json.dumps(cfg))
    (tmp / "run.py").write_text(_NEURON_SCRIPT)
    # the NEURON run starts where no x86_64/ is (neuron loads one from the cwd by itself)
    subprocess.run([sys.executable, str(tmp / "run.py"), str(tmp / "cfg.json")], check=True,
                   capture_output=True, cwd=tmp, env=dict(os.environ, PYTHONPATH=""))  # fmt: skip
    d = np.load(tmp / f"{case}.npz")
    return {k: d[k][1:] for k in d.files}  # drop t = 0


def mechanism(case: str):
    from neurojax.nmodl import load_mod

    if case == "nonlinear_bp":
        return load_mod(NONLINEAR_MOD, file="nlbp.mod"), "b"
    if case == "pointer_density":
        mech = load_mod(POINTER_MOD, file="ptk.mod")
        return mech.bind_pointer("mod", values=modulator(), dt=POINTER_DT), "n"
    mech = load_mod(FTABLE_MOD, file="ftk.mod")
    t = tables()
    mech = mech.bind_table("taun", t["taun"][1], t["taun"][0])
    x_inf, y_inf = t["ninf_t"]
    mech = mech.bind_table("ninf_t", y_inf, xmin=x_inf[0], xmax=x_inf[-1])
    return mech.bind_table("c0", t["c0"]), "n"


def run_neurojax(case: str) -> dict:
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod
    from neurojax.solvers import BackwardEuler
    from validation.nmodl_vs_neuron import mod_text, renamed

    hh = load_mod(renamed(mod_text("hh.mod"), "hh", "hhx"), file="hhx.mod")
    mech, state = mechanism(case)
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), [(hh, None), (mech, None)],
                temperature=6.3, v_init=-65.0, clamps=[(0, 0.5)])  # fmt: skip
    n = int(round(T / DT))
    t = np.arange(n) * DT + DT / 2  # IClamp at mid-step
    i_cl = np.where((t >= DELAY) & (t < DELAY + DUR), AMP, 0.0)
    fv, fs = cell.record_v([(0, 0.5)]), cell.record_gate(1, state, [(0, 0.5)])
    sol = nj.simulate(cell, jnp.asarray(i_cl)[:, None], dt=DT, solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {"v": fv(y), "state": fs(y)}))  # fmt: skip
    return {k: np.asarray(x)[:, 0] for k, x in sol.states.items()}


def b_exact(v, K=0.3):
    """The NONLINEAR case's b: the root in [0, 1] of b·K + b² = c(v)."""
    c = 1.0 / (1.0 + np.exp(-(np.asarray(v) + 40.0) / 8.0))
    return (-K + np.sqrt(K * K + 4.0 * c)) / 2.0


CASES = ("ftable", "nonlinear_bp", "pointer_density")


def compare_all(tmp: Path, names=CASES) -> dict:
    """{case: {"v": max |ΔV| mV, "state": max |Δ|, "vrange": NEURON's (min, max) V,
    "closed_form": (ours, NEURON's) max |b − closed form| for nonlinear_bp}}."""
    import jax

    dll = compile_mods(tmp / "mods")
    out = {}
    with jax.enable_x64(True):
        for case in names:
            ref = run_neuron(dll, case, tmp)
            ours = run_neurojax(case)
            r = {k: float(np.max(np.abs(ours[k] - ref[k]))) for k in ("v", "state")}
            r["vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
            r["state_range"] = (float(ref["state"].min()), float(ref["state"].max()))
            if case == "nonlinear_bp":
                r["closed_form"] = tuple(float(np.max(np.abs(x["state"] - b_exact(x["v"]))))
                                         for x in (ours, ref))  # fmt: skip
            out[case] = r
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory() as d:
        res = compare_all(Path(d), tuple(sys.argv[1:]) or CASES)
    for case, r in res.items():
        print(case, json.dumps(r))
