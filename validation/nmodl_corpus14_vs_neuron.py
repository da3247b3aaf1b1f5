"""A seventh corpus of published `.mod` files (session 14) against NEURON compiling them.

The files are others' code and are never committed: they are read from a local copy,
`$NEUROJAX_CORPUS14` (default `/tmp/corpus14`; its `SOURCES.md` names each file's
repository, path and commit). A missing corpus skips everything (the slow test says so).

Sources not used by the earlier corpora: Lindroos, Kozlov & Hjorth's striatal channels as
kept in `Hjorthmedh/Snudda` (naf_ms, kas_ms, kir_ms, the GHK cal13_ms and cat33_ms on an
ion `cal`, the cal pool caldyn_ms, sk_fs, the tmGlut synapse), Solinas et al. (2010)'s
cerebellar granule cell as kept in `OpenSourceBrain/GranCellSolinasEtAl10` (GRANULE_CA,
_CALC, _KM, _KCA: derivimplicit, TABLE DEPEND celsius, `ek` and `cao` as PARAMETERs; the
Ampa_det_vi synapse with Tsodyks-Markram STP, spillover arrays and `net_send`),
Lazarewicz's OLM-cell files (ModelDB 182134: Caolmw, Iholmw with `INCLUDE "aux_fun.inc"`,
Exp2SynNMDAperm), Migliore's mitral-cell kamt and kdrmt (two ASSIGNED names on one line;
`Yanfeng-Zhang/Pause-in-ChIs-Neuron-model`), Balbi et al. (2017)'s six-state Markov
Nav1.3 (`research-team/robot-dream`), the thalamic reticular cell of
`blabuva/RTCl` (Sohal's constant-field Ts, the gabaaCl synapse writing `icl` of VALENCE −1
with a bicarbonate NONSPECIFIC_CURRENT, the cld2 Cl⁻ diffusion pool) and a CA3 burster's
HVA Ca, two-pool Ca on an ion `cas`, sAHP and BK (`pbcanfield/NeuroResearch`).

Setting: corpus 13's (`validation/nmodl_corpus13_vs_neuron.py`, on corpora 11 and 12):
one compartment (L = diam = 10 µm, cm = 1) with the wheel's hh.mod renamed `hhx`, 34 °C,
backward Euler (`secondorder = 0`) at dt = 0.025 ms for 40 ms, float64, every file's
TABLEs off; density mechanisms under current clamp 0.05 nA and 0.5 nA (5–30 ms) and
voltage clamp (−65 → −10 → −50 mV), with a Ca source where the file reads Ca; point
processes driven by one NetCon's events (5, 10, 10.5, 20, 31 ms) or by their own
parameters; corpus 12's `pointers=` for a density POINTER set to a constant. One
addition: files INCLUDEd (`INCLUDES`) are compiled beside the others in NEURON and found
through `$MODL_INCLUDE` (the corpus directory) by the importer, as nocmodl finds them.

    python validation/nmodl_corpus14_vs_neuron.py [case ...]   # max |Δ| per case

`tests/test_nmodl_corpus14_neuron.py` (slow tier) runs it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import _corpus_common as common  # noqa: E402
import nmodl_corpus11_vs_neuron as c11  # noqa: E402
import nmodl_corpus12_vs_neuron as c12  # noqa: E402
import nmodl_vs_neuron as base  # noqa: E402

CORPUS = Path(os.environ.get("NEUROJAX_CORPUS14", "/tmp/corpus14"))
INCLUDES = ["aux_fun.inc"]  # INCLUDEd by iholmw_lazarewicz.mod


def _text(name: str) -> str:
    return (CORPUS / name).read_text()


def corpus_available() -> bool:
    return common.corpus_available(CORPUS)


def _case(files, mechs, record, **kw) -> dict:
    return dict(files=list(files), mechs=mechs, record=record, **kw)


EVENTS = [4.0, 9.0, 9.5, 19.0, 30.0]  # NetCon event times (ms, + the 1 ms delay)
# Solinas's HVA Ca (ohmic, eca) and Fontana's first-order pool: the Ca source and pool
GCA = "GRANULE_CA_solinas.mod"
GCALC = "GRANULE_CALC_solinas.mod"
CA_SOURCE = [("GRANULE_CA", {"gbar": 0.002})]
# the Snudda files' ion `cal` and the CA3 files' `cas` (both VALENCE 2)
CAL = {"cali0_cal_ion": 7e-5, "calo0_cal_ion": 2.0}
CAS = {"casi0_cas_ion": 5e-5, "caso0_cas_ion": 2.0}
# the CA3 burster's HVA Ca and its two-pool capool (writes casi from ica)
CA3 = ["cadyn_ca3.mod", "capool_ca3.mod"]
# (a Cell steps its mechanisms in list order: the concentration writers first, as
# NEURON's `memb_order_` — docs/nmodl.md, *Ions and concentrations*)
CA3_MECHS = [("capool", {}), ("cadyn", {"gcabar": 0.002})]

CASES = {
    # Snudda (Lindroos, Kozlov, Hjorth): PROCEDURE rates() with UNITSOFF, q factors,
    # FUNCTIONs with no arguments in the current
    "naf_ms (modulation FUNCTIONs)": _case(
        ["naf_ms_snudda.mod"], [("naf_ms", {"gbar": 0.05}), ("hhx", {})], {"naf_ms": ["m", "h"]}
    ),
    "kas_ms (partial inactivation)": _case(
        ["kas_ms_snudda.mod"], [("kas_ms", {"gbar": 0.005}), ("hhx", {})], {"kas_ms": ["m", "h"]}
    ),
    "kir_ms": _case(
        ["kir_ms_snudda.mod"], [("kir_ms", {"gbar": 0.002}), ("hhx", {})], {"kir_ms": ["m"]}
    ),
    "cal13_ms (GHK on cal, POINTER damod = 0)": _case(
        ["cal13_ms_snudda.mod"],
        [("cal13_ms", {"pbar": 1e-4}), ("hhx", {})],
        {"cal13_ms": ["m", "h"]},
        ions=CAL,
        pointers=[("cal13_ms", "damod", 0.0)],
    ),
    "cal13_ms (GHK; NEURON's slope)": _case(
        ["cal13_ms_snudda.mod"],
        [("cal13_ms", {"pbar": 1e-4}), ("hhx", {})],
        {"cal13_ms": ["m", "h"]},
        ions=CAL,
        pointers=[("cal13_ms", "damod", 0.0)],
        slope=["cal13_ms"],
    ),
    "cat33_ms (GHK `if (z == 0)`; NEURON's slope)": _case(
        ["cat33_ms_snudda.mod"],
        [("cat33_ms", {"pbar": 1e-4}), ("hhx", {})],
        {"cat33_ms": ["m", "h"]},
        ions=CAL,
        slope=["cat33_ms"],
    ),
    "caldyn_ms (cnexp through an ASSIGNED nonlinear in cali; + cal13_ms)": _case(
        ["caldyn_ms_snudda.mod", "cal13_ms_snudda.mod"],
        [("caldyn_ms", {}), ("cal13_ms", {"pbar": 1e-4}), ("hhx", {})],
        {"caldyn_ms": ["cali"], "cal13_ms": ["m"]},
        ions=CAL,
        pointers=[("cal13_ms", "damod", 0.0)],
        slope=["cal13_ms"],
    ),
    "sk_fs (cai^5.2; + GRANULE_CA, GRANULE_CALC)": _case(
        ["sk_fs_snudda.mod", GCA, GCALC],
        [("GRANULE_CALC", {}), *CA_SOURCE, ("sk_fs", {"gbar": 0.01}), ("hhx", {})],
        {"sk_fs": ["o"], "GRANULE_CALC": ["cai"]},
    ),
    # Solinas et al. (2010) granule cell: derivimplicit, TABLE DEPEND celsius, Q10 gbar
    "GRANULE_CA (derivimplicit, TABLE DEPEND celsius)": _case(
        [GCA], [*CA_SOURCE, ("hhx", {})], {"GRANULE_CA": ["s", "u"]}
    ),
    "GRANULE_CALC (PARAMETERs cao, ica; + GRANULE_CA)": _case(
        [GCALC, GCA], [("GRANULE_CALC", {}), *CA_SOURCE, ("hhx", {})], {"GRANULE_CALC": ["cai"]}
    ),
    "GRANULE_KM (ek a PARAMETER)": _case(
        ["GRANULE_KM_solinas.mod"],
        [("GRANULE_KM", {"gbar": 0.002}), ("hhx", {})],
        {"GRANULE_KM": ["n"]},
    ),
    "GRANULE_KCA (+ GRANULE_CA, GRANULE_CALC)": _case(
        ["GRANULE_KCA_solinas.mod", GCA, GCALC],
        [("GRANULE_CALC", {}), *CA_SOURCE, ("GRANULE_KCA", {}), ("hhx", {})],
        {"GRANULE_KCA": ["c"], "GRANULE_CALC": ["cai"]},
    ),
    # Lazarewicz's OLM cell (ModelDB 182134)
    "Iholmw (INCLUDE aux_fun.inc)": _case(
        ["iholmw_lazarewicz.mod"], [("Iholmw", {}), ("hhx", {})], {"Iholmw": ["q"]}
    ),
    "Caolmw (INITIAL cai = 0; + Ts)": _case(
        ["caolmw_lazarewicz.mod", "ITs_rtcl.mod"],
        [("Caolmw", {}), ("Ts", {}), ("hhx", {})],
        {"Caolmw": ["cai"], "Ts": ["m", "h"]},
        slope=["Ts"],
    ),
    # Migliore's mitral-cell K channels: `minf mtau (ms)` on one line, GLOBAL rates
    "kamt (two ASSIGNED names on a line)": _case(
        ["kamt_migliore.mod"], [("kamt", {"gbar": 0.005}), ("hhx", {})], {"kamt": ["m", "h"]}
    ),
    "kdrmt": _case(
        ["kdrmt_migliore.mod"], [("kdrmt", {"gbar": 0.005}), ("hhx", {})], {"kdrmt": ["m"]}
    ),
    # Balbi et al. (2017)'s 6-state Markov Nav1.3 (research-team/robot-dream): KINETIC,
    # `SOLVE kin` and `STEADYSTATE sparse` on two lines in INITIAL
    "na13a (6-state KINETIC, STEADYSTATE)": _case(
        ["nav13_balbi.mod"],
        [("na13a", {"gbar": 0.05}), ("hhx", {})],
        {"na13a": ["C1", "C2", "O1", "O2", "I1", "I2"]},
    ),
    # the thalamic reticular cell (blabuva/RTCl)
    "Ts (constant-field ica, `||` in BREAKPOINT)": _case(
        ["ITs_rtcl.mod"], [("Ts", {}), ("hhx", {})], {"Ts": ["m", "h"]}
    ),
    "Ts (NEURON's slope)": _case(
        ["ITs_rtcl.mod"], [("Ts", {}), ("hhx", {})], {"Ts": ["m", "h"]}, slope=["Ts"]
    ),
    # a CA3 burster (pbcanfield/NeuroResearch): ion `cas`, FARADAY a number, xx = casi
    "cadyn (HVA, `if` in a PROCEDURE)": _case(
        ["cadyn_ca3.mod"], [("cadyn", {"gcabar": 0.002}), ("hhx", {})], {"cadyn": ["u", "z"]}
    ),
    "capool (casi from ica, a STATE assigned in DERIVATIVE; + cadyn)": _case(
        CA3, [*CA3_MECHS, ("hhx", {})], {"capool": ["casi", "xx"]}, ions=CAS
    ),
    "sAHP (log10(casi); + cadyn, capool)": _case(
        ["sahp_ca3.mod", *CA3],
        [*CA3_MECHS, ("sAHP", {"gsAHPbar": 0.005}), ("hhx", {})],
        {"sAHP": ["c"], "capool": ["casi"]},
        ions=CAS,
    ),
    "bkkca (INITIAL reads ainf before any rate; + cadyn, capool)": _case(
        ["bkkca_ca3.mod", *CA3],
        [*CA3_MECHS, ("bkkca", {"g": 0.01}), ("hhx", {})],
        {"bkkca": ["a", "b"], "capool": ["casi"]},
        ions=CAS,
    ),
    # point processes
    "gabaaCl (writes icl, VALENCE -1; HCO3 NONSPECIFIC_CURRENT; events)": _case(
        ["gabaA_Cl_rtcl.mod"],
        [("hhx", {})],
        {0: ["A", "B"]},
        pps=[("gabaaCl", {"gpeak": 0.005}, EVENTS, 1.0)],
        protocols=["events"],
        # NEURON: ecl a new ion's default, 0 mV (no mechanism reads cli or clo); NEURON
        # has no `ecl0_cl_ion` to set before the ion exists
        nj_ions={"ecl": 0.0},
    ),
    "Exp2SynNMDAperm (a constant Mg-blocked conductance)": _case(
        ["exp2synnmdaperm_lazarewicz.mod"],
        [("hhx", {})],
        {},
        # (events too: its `NET_RECEIVE(w) {}` does nothing, but a Cell with a receiver
        # takes an events input)
        pps=[("Exp2SynNMDAperm", {"gmax": 1e-3}, EVENTS, 1.0)],
        protocols=["current clamp", "current clamp 0.5 nA"],
    ),
    "Exp2SynNMDAperm (NEURON's slope)": _case(
        ["exp2synnmdaperm_lazarewicz.mod"],
        [("hhx", {})],
        {},
        pps=[("Exp2SynNMDAperm", {"gmax": 1e-3}, EVENTS, 1.0)],
        protocols=["current clamp", "current clamp 0.5 nA"],
        slope=["Exp2SynNMDAperm"],
    ),
}

# file -> the message expected (a substring) from the importer: refused at load
IMPORT_ONLY = {
    # NEURON 9's RANDOM stream (urand()) and VERBATIM `return;` in NET_RECEIVE
    "tmglut_snudda.mod": "VERBATIM",
    # printf in INITIAL; also arrays indexed at run time (fmod(numpulses, 100))
    "GRANULE_Ampa_det_vi_solinas.mod": "printf",
    # radial + longitudinal Cl- diffusion
    "cldecay2_rtcl.mod": "LONGITUDINAL_DIFFUSION",
}


def cases() -> dict:
    """`CASES` with each file's text read from the corpus (corpus 11's `texts=`)."""
    return {n: dict(c, texts={f: _text(f) for f in c["files"]}) for n, c in CASES.items()}


@contextlib.contextmanager
def _include_path():
    """The importer finds INCLUDEd files through `$MODL_INCLUDE`, as nocmodl does."""
    old = os.environ.get("MODL_INCLUDE")
    os.environ["MODL_INCLUDE"] = str(CORPUS) + (f":{old}" if old else "")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MODL_INCLUDE", None)
        else:
            os.environ["MODL_INCLUDE"] = old


def compare_all(tmp: Path, names=None, report=None, modes=None) -> dict:
    """{(case, protocol): {trace: max |Δ|, "_vrange", "_range"}}: corpus 12's per-case
    runs (`c12._run_one`, with its density POINTERs) over this corpus's cases, on one
    NEURON library (the INCLUDEd files beside the others)."""
    table = cases()
    names = list(names or table)
    texts = c11.all_texts(names, table)
    globals_ = c11.tables_off(texts)
    dll = base.compile_mods({**texts, **{f: _text(f) for f in INCLUDES}}, tmp / "mods")
    out = {}
    with _include_path():
        for name in names:
            with c12._pointers(table[name]):
                out.update(c12._run_one(dll, name, table[name], globals_, tmp, report, modes))
    return out


def import_only() -> dict:
    """{file: the importer's message} for the files in IMPORT_ONLY."""
    with _include_path():
        return common.import_only(IMPORT_ONLY, _text)


if __name__ == "__main__":
    if not corpus_available():
        sys.exit(f"no corpus at {CORPUS} (set NEUROJAX_CORPUS14)")
    for f, msg in import_only().items():
        print(f"{f}: {msg[:200]}")
    with tempfile.TemporaryDirectory() as d:
        compare_all(Path(d), sys.argv[1:] or None, report=common.show)
