"""`v` assigned inside a density mechanism, against NEURON compiling the same `.mod` files.

In nocmodl's C a density mechanism's `v` is the instance's own copy, set from the node's
voltage at the start of each entry point (nrn_init; each of nrn_cur's two
`_nrn_current` runs, at v + 0.001 and at v; nrn_state). Assigning it changes that copy for
the rest of the entry point — procedures called afterwards, the caller after return —
never the membrane voltage. Published files rely on it: Hay et al. (2011)'s K_Pst.mod and
K_Tst.mod shift v by +10 mV in their rates and back; NaTa_t.mod and NaTg.mod guard a 0/0
with `if (v == -38) { v = v + 0.0001 }`.

Self-written mechanisms (from the equations, for this validation):

- `kshift`: a K channel n²h whose PROCEDURE rates() does `v = v + 10`, the rates at the
  shifted voltage, then `v = v - 10` (K_Pst's construct), q10 from celsius, cnexp;
- `naguard`: a Na channel m³h with `if (v == -38) { v = v + 1e-4 }` before its 0/0
  rate (NaTa_t's guard) and `if (v == -65) { v = v + 0.5 }`, which fires in INITIAL at
  finitialize(-65) (the initial gates are those at −64.5 mV: a visible difference);
- `vshadow`: v changed and never restored, in BREAKPOINT (`v = v - shift` before
  its current; `vseen = v` there, read by the next state update) and in the rates
  (`v = v + 20`, then read by the DERIVATIVE's equation): a copy leaking from one entry
  point into another (nrn_state into nrn_cur, INITIAL into the first current) would move
  the current by 20 mV.

and, only where /tmp/pubcells holds them (fetched outside the repository, reported
separately): Hay 2011's K_Pst, K_Tst, NaTa_t; Hay 2013's NaTa_t (with vShift) and NaTg.

One compartment (L = diam = 10 µm) at 34 °C, backward Euler at dt = 0.025 ms, float64,
current clamp (spikes) and voltage clamp (`nmodl_vs_neuron.py`'s protocols), a leak
`pasx` (g 3e-5 S/cm², e −90 mV).

    python validation/nmodl_vassign_vs_neuron.py     # prints max/mean |Δ| per case
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
PUB = Path("/tmp/pubcells")


def _ions_validation():
    spec = importlib.util.spec_from_file_location("nmodl_ions_vs_neuron",
                                                  HERE / "nmodl_ions_vs_neuron.py")  # fmt: skip
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


iv = _ions_validation()
IONS = {"ek": -85.0, "ena": 50.0}
PAS = ("pasx", {"g": 3e-5, "e": -90.0})

KSHIFT = """
NEURON { SUFFIX kshift  USEION k READ ek WRITE ik  RANGE gbar }
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gbar = 0.01 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) ninf ntau (ms) hinf htau (ms) }
STATE { n h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar*n*n*h*(v - ek)
}
DERIVATIVE states {
    rates()
    n' = (ninf - n)/ntau
    h' = (hinf - h)/htau
}
INITIAL { rates()  n = ninf  h = hinf }
PROCEDURE rates() {
    LOCAL qt
    qt = 3^((celsius - 22)/10)
    UNITSOFF
    v = v + 10
    ninf = 1/(1 + exp(-(v + 5)/10))
    if (v < -40) {
        ntau = (1 + 20*exp((v + 40)/20))/qt
    } else {
        ntau = (1 + 20*exp(-(v + 40)/25))/qt
    }
    hinf = 1/(1 + exp((v + 60)/8))
    htau = (50 + 100*exp(-((v + 70)/30)^2))/qt
    v = v - 10
    UNITSON
}
"""

NAGUARD = """
NEURON { SUFFIX naguard  USEION na READ ena WRITE ina  RANGE gbar }
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gbar = 0.2 (S/cm2) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) minf mtau (ms) hinf htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gbar*m*m*m*h*(v - ena)
}
DERIVATIVE states {
    rates()
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
}
INITIAL { rates()  m = minf  h = hinf }
PROCEDURE rates() {
    LOCAL a, b, qt
    qt = 2.3^((celsius - 21)/10)
    UNITSOFF
    if (v == -38) { v = v + 0.0001 }
    if (v == -65) { v = v + 0.5 }
    a = 0.18*(v + 38)/(1 - exp(-(v + 38)/6))
    b = 0.12*(-v - 38)/(1 - exp((v + 38)/6))
    minf = a/(a + b)
    mtau = 0.5/(a + b)/qt
    if (v == -66) { v = v + 0.0001 }
    a = -0.015*(v + 66)/(1 - exp((v + 66)/6))
    b = -0.015*(-v - 66)/(1 - exp(-(v + 66)/6))
    hinf = a/(a + b)
    htau = 0.5/(a + b)/qt
    UNITSON
}
"""

VSHADOW = """
NEURON { SUFFIX vshadow  NONSPECIFIC_CURRENT i  RANGE g, e, shift }
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { g = 0.002 (S/cm2) e = -70 (mV) shift = 3 (mV) }
ASSIGNED { v (mV) i (mA/cm2) ainf atau (ms) vseen (mV) }
STATE { a }
BREAKPOINT {
    SOLVE st METHOD cnexp
    v = v - shift
    vseen = v
    i = g*a*(v - e)
}
DERIVATIVE st {
    rates()
    a' = (ainf - a)/(atau + 0.02*(v + 120) + 0.01*(vseen + 100))
}
INITIAL { rates()  a = ainf }
PROCEDURE rates() {
    UNITSOFF
    v = v + 20
    ainf = 1/(1 + exp(-(v + 40)/8))
    atau = 2 + 3*exp(-((v + 50)/20)^2)
    UNITSON
}
"""

SELF_TEXTS = {"kshift.mod": KSHIFT, "naguard.mod": NAGUARD, "vshadow.mod": VSHADOW}


def _with_pas(texts: dict) -> dict:
    out = dict(texts)
    out["pasx.mod"] = iv.base.renamed(iv.base.mod_text("passive.mod"), "pas", "pasx")
    return out


def self_cases() -> dict:
    """The self-written files: name -> (texts, mechanisms, celsius, globals, ions)."""
    return {
        "kshift + naguard + vshadow + pas": (
            _with_pas(SELF_TEXTS),
            [("naguard", {"gbar": 0.2}), ("kshift", {"gbar": 0.03}),
             ("vshadow", {"g": 0.002, "shift": 3.0}), PAS],
            34.0, {}, IONS,
        ),
    }  # fmt: skip


def published_groups() -> dict:
    """{group: cases} for the published files under /tmp/pubcells (empty without them);
    each group compiles separately (Hay 2011's and 2013's NaTa_t share a SUFFIX)."""
    groups = {}
    h11, h13 = PUB / "hay" / "mods", PUB / "hay2013" / "mods"
    if all((h11 / f"{n}.mod").exists() for n in ("K_Pst", "K_Tst", "NaTa_t")):
        texts = _with_pas({f"{n}.mod": (h11 / f"{n}.mod").read_text()
                           for n in ("K_Pst", "K_Tst", "NaTa_t")})  # fmt: skip
        groups["Hay 2011"] = {
            "Hay 2011 K_Pst + K_Tst + NaTa_t + pas": (
                texts,
                [("NaTa_t", {"gNaTa_tbar": 2.04}), ("K_Pst", {"gK_Pstbar": 0.1}),
                 ("K_Tst", {"gK_Tstbar": 0.08}), PAS],
                34.0, {}, IONS,
            ),
        }  # fmt: skip
    if all((h13 / f"{n}.mod").exists() for n in ("NaTa_t", "NaTg", "K_Pst")):
        texts = _with_pas({f"{n}.mod": (h13 / f"{n}.mod").read_text()
                           for n in ("NaTa_t", "NaTg", "K_Pst")})  # fmt: skip
        groups["Hay 2013"] = {
            "Hay 2013 NaTg + NaTa_t + K_Pst + pas": (
                texts,
                [("NaTg", {"gNaTgbar": 1.0}), ("NaTa_t", {"gNaTa_tbar": 1.0}),
                 ("K_Pst", {"gK_Pstbar": 0.2}), PAS],
                34.0, {}, IONS,
            ),
        }  # fmt: skip
    return groups


def compare_self(tmp: Path) -> dict:
    tmp.mkdir(parents=True, exist_ok=True)
    return iv.compare_all(tmp, None, all_cases=self_cases())


def compare_published(tmp: Path) -> dict:
    out = {}
    for k, cases in enumerate(published_groups().values()):
        d = tmp / f"pub{k}"
        d.mkdir(parents=True, exist_ok=True)
        out.update(iv.compare_all(d, None, all_cases=cases))
    return out


def _print(res: dict) -> None:
    for (name, mode), r in res.items():
        lo, hi = r.pop("_vrange")
        r.pop("_e_init")
        print(f"{name} — {mode} (NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
        for k, (mx, mean) in r.items():
            print(f"    {k:22s} max {mx:.3g}  mean {mean:.3g}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        print("self-written files")
        _print(compare_self(Path(d) / "self"))
        if published_groups():
            print(f"published files ({PUB}, outside the repository)")
            _print(compare_published(Path(d)))
        else:
            print(f"published files: {PUB} not found, skipped")
