"""The NMODL importer's follow-ups of session 11 (issue 18) against NEURON compiling the
same text: constructs found in published cells, each now imported.

1. a density mechanism that WRITEs a reversal potential (`USEION nca … WRITE ncai, enca`:
   the reproducer below, and Santhakumar et al. (2005)'s ccanl.mod writing enca, elca,
   etca read by nca, lca, cat);
2. `dt` read in NET_RECEIVE (Destexhe's AMPA_S: `exp(-Beta*(t-dt-t0))`);
3. `VERBATIM cai = _ion_cai; ENDVERBATIM` in INITIAL (Santhakumar's tca.mod, LcaMig.mod,
   gskch.mod, ccanl.mod): a no-op in NEURON;
4. an ion of valence 0 whose concentration is read (NEURON's nrn_nernst: e = 0 mV).

Texts written here are the reproducers (equations of the issue); the published files
are others' code, read at run time from `$NEUROJAX_PUBCELLS2` (default `/tmp/pubcells2`, its
SOURCES.md naming repository and commit) and never committed: a case whose file is
missing is skipped, saying so. Setting and comparison: `nmodl_corpus11_vs_neuron`'s (one
compartment with hh renamed hhx, 34 °C, backward Euler, dt 0.025 ms, 40 ms, float64).

    python validation/nmodl_s11_followups_vs_neuron.py [case ...]

`tests/test_nmodl_s11_followups_neuron.py` (slow tier) runs it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import nmodl_corpus11_vs_neuron as c11  # noqa: E402

PUBCELLS = Path(os.environ.get("NEUROJAX_PUBCELLS2", "/tmp/pubcells2"))
SANTHAKUMAR = PUBCELLS / "santhakumar" / "mods_nrn9"  # as published (NEURON 9's fix only)
DESTEXHE = PUBCELLS / "destexhe_spy" / "mods"

# the reproducer: a pool writing ncai and its reversal potential enca
EPOOL_MOD = """
NEURON { SUFFIX epool USEION nca READ ncai, inca WRITE ncai, enca VALENCE 2 }
STATE { ncai }
ASSIGNED { inca enca }
INITIAL { ncai = 1e-4 enca = 12*log(2/ncai) }
BREAKPOINT { SOLVE s METHOD derivimplicit enca = 12*log(2/ncai) }
DERIVATIVE s { ncai' = -inca - (ncai-1e-4)/10 }
"""
# a channel reading enca (written by epool), writing inca
NCALEAK_MOD = """
NEURON { SUFFIX ncaleak USEION nca READ enca WRITE inca VALENCE 2 RANGE g }
PARAMETER { g = 0.0005 (S/cm2) }
ASSIGNED { v (mV) enca (mV) inca (mA/cm2) }
BREAKPOINT { inca = g*(v - enca) }
"""
# a second messenger of valence 0 whose concentration is read: its e is 0 mV in NEURON
# (nrn_nernst), read here by a current
ZERO_MOD = """
NEURON { SUFFIX zeroval USEION xm READ xmi, exm VALENCE 0 NONSPECIFIC_CURRENT il RANGE g }
PARAMETER { g = 0.0003 (S/cm2) }
ASSIGNED { v (mV) xmi (mM) exm (mV) il (mA/cm2) }
BREAKPOINT { il = g*(v + 70 - exm - 10*xmi) }
"""
# the same text writing the reversal potential AND a current: refused (NEURON's nrn_cur
# writes e too; not supported)
EPOOL_CURRENT_MOD = EPOOL_MOD.replace("SUFFIX epool", "SUFFIX epoolc").replace(
    "VALENCE 2 }", "VALENCE 2 NONSPECIFIC_CURRENT il }"
)


def _santhakumar(name: str) -> str:
    return (SANTHAKUMAR / name).read_text()


def cases() -> dict:
    """`nmodl_corpus11_vs_neuron` cases (with `texts=`); published files missing: left out."""
    out = {
        "epool writes ncai and enca (+ ncaleak reading enca)": dict(
            files=["epool.mod", "ncaleak.mod"],
            texts={"epool.mod": EPOOL_MOD, "ncaleak.mod": NCALEAK_MOD},
            mechs=[("epool", {}), ("ncaleak", {}), ("hhx", {})],
            ions={"ncao0_nca_ion": 2.0},
            nj_ions={"ncai": 1.0, "enca": 0.0},  # NEURON's new-ion defaults (INITIAL overwrites)
            record={"epool": ["ncai", "enca"]},
            protocols=["current clamp 0.5 nA"],
        ),
        "valence 0: exm = 0 mV (NEURON's nrn_nernst)": dict(
            files=["zeroval.mod"],
            texts={"zeroval.mod": ZERO_MOD},
            mechs=[("zeroval", {}), ("hhx", {})],
            ions={"xmi0_xm_ion": 0.5, "xmo0_xm_ion": 3.0},
            record={},
            protocols=["current clamp 0.5 nA"],
        ),
    }
    if all((SANTHAKUMAR / f).is_file() for f in ("ccanl.mod", "nca.mod", "LcaMig.mod",
                                                 "tca.mod", "gskch.mod")):  # fmt: skip
        names = ["ccanl.mod", "nca.mod", "LcaMig.mod", "tca.mod", "gskch.mod"]
        out["Santhakumar ccanl (writes enca, elca, etca; VERBATIM) + nca, lca, cat, gskch"] = dict(
            files=names,
            texts={n: _santhakumar(n) for n in names},
            mechs=[
                ("ccanl", {"catau": 10.0, "caiinf": 5e-6}),
                # the granule cell's soma values (RI10sp.hoc)
                ("nca", {"gncabar": 0.002}),
                ("lca", {"glcabar": 0.005}),
                ("cat", {"gcatbar": 0.000037}),
                ("gskch", {"gskbar": 0.001}),
                ("hhx", {}),
            ],
            # NEURON's defaults of a new ion (eion.cpp: e 0 mV, ci = co = 1 mM),
            # which a Cell asks for
            nj_ions={
                "enca": 0.0,
                "elca": 0.0,
                "etca": 0.0,
                "esk": 0.0,
                "ncai": 1.0,
                "ncao": 1.0,
                "lcai": 1.0,
                "lcao": 1.0,
                "tcai": 1.0,
                "tcao": 1.0,
            },  # fmt: skip
            record={"ccanl": ["ncai", "lcai", "tcai", "enca", "elca"], "gskch": ["q"]},
            # the cells' 6.3 °C (gskch's step `1 - exp(-dt*q10/qtau)*q10` is unstable
            # for q10 > 1: at 34 °C q diverges in NEURON too)
            celsius=6.3,
            slope=["lca", "cat"],  # GHK currents: NEURON's 0.001 mV slope
            protocols=["current clamp 0.5 nA"],
        )
    if (DESTEXHE / "ampa.mod").is_file():
        out["Destexhe AMPA_S (dt in NET_RECEIVE; NetCon events)"] = dict(
            files=["ampa.mod"],
            texts={"ampa.mod": (DESTEXHE / "ampa.mod").read_text()},
            mechs=[("hhx", {})],
            pps=[("AMPA_S", {"gmax": 0.0}, [4.0, 9.0, 9.5, 19.0, 30.0], 0.01)],
            record={0: ["Ron", "Roff", "synon"]},
            protocols=["events"],
        )
    return out


def compare_all(tmp: Path, names=None, report=None, modes=None) -> dict:
    """`nmodl_corpus11_vs_neuron.compare_all` over these cases."""
    return c11.compare_all(tmp, names, report=report, modes=modes, cases=cases())


def refused_texts() -> dict:
    """{name: (text, file)} the importer must still refuse, naming file, line and what."""
    return {"epoolc.mod": EPOOL_CURRENT_MOD}


if __name__ == "__main__":

    def show(name, mode, r):
        if "_error" in r:
            print(f"{name} — {mode}: {r['_error'][:400]}", flush=True)
            return
        lo, hi = r.pop("_vrange")
        rng = r.pop("_range")
        states = {k: v / rng[k] if rng[k] > 0 else v for k, v in r.items() if k != "v"}
        worst = max(states.items(), key=lambda kv: kv[1]) if states else ("-", 0.0)
        print(f"{name} — {mode}: V {r['v']:.2g} mV (NEURON V in [{lo:.1f}, {hi:.1f}]); "
              f"worst state {worst[0]} {worst[1]:.2g} of range; all {r}", flush=True)  # fmt: skip

    with tempfile.TemporaryDirectory() as d:
        compare_all(Path(d), sys.argv[1:] or None, report=show)
