"""An eighth corpus of published `.mod` files (session 15) against NEURON compiling them.

The files are others' code and are never committed: they are read from a local copy,
`$NEUROJAX_CORPUS15` (default `/tmp/corpus15`; its `SOURCES.md` names each file's
repository, path and commit). A missing corpus skips everything (the slow test says so).

Sources not used by the earlier corpora: Durstewitz & Gabriel (2006)'s prefrontal cell
(ModelDB 82784: Ks and Kc computing their own `ek = 25*log(ko/ki)`, the persistent Na,
the Ca pool `cadyn` with its RANGE `CAF` only hoc sets, `kdyn` writing `ko` from `ik`,
the Tsodyks-Markram NMDA synapse with five NET_RECEIVE arguments under derivimplicit),
the hippocampal interneuron channels of ModelDB 267221 (an N-type Ca with a PARAMETER
named `ki`, a Ca- and V-dependent K, a CCK-cell HH with an ASSIGNED `el`, a Borg-Graham
A-type K declaring `ek` RANGE, an OLM A-type K), the ICGenealogy copies of ModelDB
files (a rod-photoreceptor Ih with a GLOBAL ASSIGNED `eh` (124063), Kole et al.'s Ih
(114394), a three-state BK KINETIC scheme with STEADYSTATE (121060), a
Moczydlowski-Latorre K-Ca with `cai` a PARAMETER (102288), Destexhe's IAHP with a second
concentration `Cai` (116862), Stacey & Durand's I_CT with a top-level LOCAL (115356),
Migliore's GHK T-type Ca with `celsius = 25` a PARAMETER (126814), and a K-Ca advancing
its state in BREAKPOINT with `dt` (3807)), Akemann & Knöpfel (2006)'s Purkinje-cell
files as kept in `lkoelman/stn-gpe-model-frontiers` (Kv1 and Kv4 with CONSTANT blocks,
the GHK P-type Ca whose FUNCTION assigns ASSIGNED names, the Ca pool `Caint` writing cai
from a PROCEDURE called in BREAKPOINT after a clamp, the binary K `Kbin`) and that
repository's Tsodyks-Markram synapses (NMDAsynTM; GABAsyn, whose GABA-B cascade is a
coupled cnexp system).

Setting: corpus 14's (`validation/nmodl_corpus14_vs_neuron.py`): one compartment (L =
diam = 10 µm, cm = 1) with the wheel's hh.mod renamed `hhx`, 34 °C, backward Euler
(`secondorder = 0`) at dt = 0.025 ms for 40 ms, float64, every file's TABLEs off;
density mechanisms under current clamp 0.05 nA and 0.5 nA (5–30 ms) and voltage clamp
(−65 → −10 → −50 mV), with a Ca source and pool where the file reads Ca (ModelDB
267221's N-type `cancr` into Durstewitz's `cadyn`, CAF = 1e-3); point processes driven
by one NetCon's events (5, 10, 10.5, 20, 31 ms). One addition, applied alike in both:
`nrn_globals={name: value}` (a GLOBAL set in NEURON, `h.<name>`) with `nj_params=
{suffix: {name: value}}` (the same value given to neurojax's `load_mod`), for the two Ih
files' GLOBAL `eh`.

    python validation/nmodl_corpus15_vs_neuron.py [case ...]   # max |Δ| per case

`tests/test_nmodl_corpus15_neuron.py` (slow tier) runs it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import _corpus_common as common  # noqa: E402
import nmodl_corpus11_vs_neuron as c11  # noqa: E402
import nmodl_vs_neuron as base  # noqa: E402

CORPUS = Path(os.environ.get("NEUROJAX_CORPUS15", "/tmp/corpus15"))


def _text(name: str) -> str:
    return (CORPUS / name).read_text()


def corpus_available() -> bool:
    return common.corpus_available(CORPUS)


def _case(files, mechs, record, **kw) -> dict:
    return dict(files=list(files), mechs=mechs, record=record, **kw)


EVENTS = [4.0, 9.0, 9.5, 19.0, 30.0]  # NetCon event times (ms, + the 1 ms delay)
# the Ca source (ohmic N-type, eca) and pool: CAF (an ASSIGNED RANGE only hoc sets) scales
# the influx, A·CAF ≈ 0.52 mM per mA/cm²·ms
CA = ["cadyn_durstewitz.mod", "cancr_chavlis.mod"]
CA_MECHS = [("cadyn", {"CAF": 1e-3}), ("cancr", {"gcabar": 0.002})]
HHX = ("hhx", {})

CASES = {
    # Durstewitz & Gabriel (2006), ModelDB 82784
    "Ks (own ek = 25*log(ko/ki), derivimplicit)": _case(
        ["Ks_durstewitz.mod"], [("Ks", {"gKsbar": 0.005}), HHX], {"Ks": ["a", "b"]}
    ),
    "Nap (ena a PARAMETER, derivimplicit)": _case(
        ["Nap_durstewitz.mod"], [("Nap", {"gNapbar": 0.001}), HHX], {"Nap": ["m", "h"]}
    ),
    "cadyn (CAF only hoc sets; + cancr)": _case(
        CA, [*CA_MECHS, HHX], {"cadyn": ["cai"], "cancr": ["m", "h", "s"]}
    ),
    "Kc (cai a PARAMETER, log10; + cadyn, cancr)": _case(
        ["Kc_durstewitz.mod", *CA],
        [*CA_MECHS, ("Kc", {"gKcbar": 0.005}), HHX],
        {"Kc": ["c"], "cadyn": ["cai"]},
    ),
    "kdyn (writes ko from ik; + Ks reading ko)": _case(
        ["kdyn_durstewitz.mod", "Ks_durstewitz.mod"],
        [("kdyn", {}), ("Ks", {"gKsbar": 0.005}), HHX],
        {"kdyn": ["ko"], "Ks": ["a", "b"]},
    ),
    # ModelDB 267221's interneuron channels
    "cancr (a PARAMETER named ki)": _case(
        ["cancr_chavlis.mod"], [("cancr", {"gcabar": 0.002}), HHX], {"cancr": ["m", "h", "s"]}
    ),
    "iCcr (log10(K*ca), vtrap; + cadyn, cancr)": _case(
        ["iccr_chavlis.mod", *CA],
        [*CA_MECHS, ("iCcr", {"gkcbar": 0.005}), HHX],
        {"iCcr": ["c"], "cadyn": ["cai"]},
    ),
    "ichan2cck (el an ASSIGNED RANGE only hoc sets)": _case(
        ["ichan2cck_chavlis.mod"],
        [("ichan2cck", {"gnabar": 0.02, "gkbar": 0.01, "gl": 1e-4, "el": -70.0}), HHX],
        {"ichan2cck": ["m", "h", "n"]},
    ),
    "borgka (RANGE ek beside USEION READ ek)": _case(
        ["bgka_chavlis.mod"], [("borgka", {"gkabar": 0.005}), HHX], {"borgka": ["n", "l"]}
    ),
    "IA (OLM A-type K)": _case(["IA_chavlis.mod"], [("IA", {}), HHX], {"IA": ["a", "b"]}),
    # ICGenealogy copies of ModelDB files
    "h (rod Ih, GLOBAL ASSIGNED eh = -32)": _case(
        ["rod_ih_124063.mod"],
        [("h", {}), HHX],
        {"h": ["nh"]},
        nrn_globals={"eh_h": -32.0},
        nj_params={"h": {"eh": -32.0}},
    ),
    "ih (Kole; eh a GLOBAL PARAMETER = -45)": _case(
        ["ih_kole_114394.mod"],
        [("ih", {"ghdbar": 0.001}), HHX],
        {"ih": ["qq"]},
        nrn_globals={"eh_ih": -45.0},
        nj_params={"ih": {"eh": -45.0}},
    ),
    "BKKCa (3-state KINETIC, STEADYSTATE, CONSERVE; + cadyn, cancr)": _case(
        ["BKKCa_121060.mod", *CA],
        [*CA_MECHS, ("BKKCa", {}), HHX],
        {"BKKCa": ["cst", "ost", "ist"], "cadyn": ["cai"]},
    ),
    "kca (cai a PARAMETER; + cadyn, cancr)": _case(
        ["IKCa_102288.mod", *CA],
        [*CA_MECHS, ("kca", {"gkbar": 0.005}), HHX],
        {"kca": ["o"], "cadyn": ["cai"]},
    ),
    "iahp (Cai a RANGE PARAMETER beside cai; + cadyn, cancr)": _case(
        ["iahp_116862.mod", *CA],
        [*CA_MECHS, ("iahp", {"gkbar": 0.005}), HHX],
        {"iahp": ["m"], "cadyn": ["cai"]},
    ),
    "KCT (top-level LOCAL q10; + cadyn, cancr)": _case(
        ["KCT_115356.mod", *CA],
        [*CA_MECHS, ("KCT", {"gCTbar": 0.005}), HHX],
        {"KCT": ["c", "d"], "cadyn": ["cai"]},
    ),
    "cat (GHK, `celsius = 25` a PARAMETER)": _case(
        ["cat_126814.mod"], [("cat", {"gbar": 0.001}), HHX], {"cat": ["m", "h"]}
    ),
    "cat (GHK; NEURON's slope)": _case(
        ["cat_126814.mod"], [("cat", {"gbar": 0.001}), HHX], {"cat": ["m", "h"]}, slope=["cat"]
    ),
    # Akemann & Knöpfel (2006) Purkinje cell (lkoelman/stn-gpe-model-frontiers)
    "kv1 (CONSTANT block)": _case(
        ["kv1_akemann.mod"], [("kv1", {"gkbar": 0.004}), HHX], {"kv1": ["n"]}
    ),
    "Kv4 (CONSTANT block)": _case(
        ["Kv4_akemann.mod"], [("Kv4", {"gbar": 0.004}), HHX], {"Kv4": ["n", "h"]}
    ),
    "CaP (GHK; a FUNCTION assigning ASSIGNED E, zeta)": _case(
        ["CaP_akemann.mod"], [("CaP", {"pcabar": 1e-5}), HHX], {"CaP": ["m"]}
    ),
    "CaP (GHK; NEURON's slope)": _case(
        ["CaP_akemann.mod"], [("CaP", {"pcabar": 1e-5}), HHX], {"CaP": ["m"]}, slope=["CaP"]
    ),
    "Caint (cai from a PROCEDURE after a clamp in BREAKPOINT; + CaP)": _case(
        ["Caint_akemann.mod", "CaP_akemann.mod"],
        [("Caint", {}), ("CaP", {"pcabar": 1e-5}), HHX],
        {"Caint": ["ca"], "CaP": ["m"]},
        slope=["CaP"],
    ),
    "Kbin (a step in v)": _case(["Kbin_akemann.mod"], [("Kbin", {}), HHX], {}),
    "Kbin (a step in v; NEURON's slope)": _case(
        ["Kbin_akemann.mod"], [("Kbin", {}), HHX], {}, slope=["Kbin"]
    ),
    # Traub et al. (2005) as kept in BhallaLab/moose-core (DEMOS/pymoose/traub2005)
    "k2 (TABLE, INITIAL sets m twice)": _case(
        ["k2_traub05.mod"], [("k2", {"gbar": 0.002}), HHX], {"k2": ["m", "h"]}
    ),
    "cad (cai clamped to [0, ceiling] in BREAKPOINT; + cal, v - 125)": _case(
        ["cad_traub05.mod", "cal_traub05.mod"],
        [("cad", {"phi": 1e3, "beta": 0.05}), ("cal", {"gbar": 0.002}), HHX],
        {"cad": ["cai"], "cal": ["m"]},
        nrn_globals={"ceiling_cad": 1e6},
        nj_params={"cad": {"ceiling": 1e6}},
    ),
    # point processes
    "nmda (Durstewitz; 5 NET_RECEIVE arguments, derivimplicit)": _case(
        ["nmda_durstewitz.mod"],
        [HHX],
        {0: ["a", "b"]},
        pps=[("nmda", {"gNMDAmax": 0.002}, EVENTS, 1.0)],
        protocols=["events"],
    ),
    "nmda (Durstewitz; NEURON's slope)": _case(
        ["nmda_durstewitz.mod"],
        [HHX],
        {0: ["a", "b"]},
        pps=[("nmda", {"gNMDAmax": 0.002}, EVENTS, 1.0)],
        protocols=["events"],
        slope=["nmda"],
    ),
    "NMDAsynTM (TM in NET_RECEIVE, a PARAMETER assigned in BREAKPOINT)": _case(
        ["NMDAsynTM_koelman.mod"],
        [HHX],
        {0: ["A_NMDA", "B_NMDA", "R", "Use"]},
        pps=[("NMDAsynTM", {"gmax_NMDA": 0.005}, EVENTS, 1.0)],
        protocols=["events"],
    ),
    "NMDAsynTM (NEURON's slope)": _case(
        ["NMDAsynTM_koelman.mod"],
        [HHX],
        {0: ["A_NMDA", "B_NMDA", "R", "Use"]},
        pps=[("NMDAsynTM", {"gmax_NMDA": 0.005}, EVENTS, 1.0)],
        protocols=["events"],
        slope=["NMDAsynTM"],
    ),
    "GABAsyn (TM, a coupled GABA-B cascade under cnexp)": _case(
        ["GABAsynTmGprot_koelman.mod"],
        [HHX],
        {0: ["A_GABAB", "B_GABAB", "Rrp", "Use", "R", "D", "G"]},
        pps=[("GABAsyn", {"gmax_GABAA": 0.002, "gmax_GABAB": 0.05}, EVENTS, 1.0)],
        protocols=["events"],
    ),
    "IClamp_const (ELECTRODE_CURRENT set in INITIAL only, empty BREAKPOINT)": _case(
        ["iclamp_const_traub05.mod"],
        [HHX],
        {},
        pps=[("IClamp_const", {"amp": 0.1}, None, None)],
        protocols=["current clamp", "current clamp 0.5 nA"],
    ),
    "NMDA (Traub; ramp by net_send self-events, Mg block from the DERIVATIVE)": _case(
        ["traub_nmda_traub05.mod"],
        [HHX],
        {0: ["A", "B"]},
        pps=[("NMDA", {}, EVENTS, 0.002)],
        protocols=["events"],
    ),
    "RampSyn (a STATE stepped in NET_RECEIVE, clamped in BREAKPOINT)": _case(
        ["rampsyn_traub05.mod"],
        [HHX],
        {0: ["g"]},
        pps=[("RampSyn", {}, EVENTS, 0.002)],
        protocols=["events"],
    ),
    "AlphaSynKin (KINETIC `~ g -> (1/tau)`, exp(1) in NET_RECEIVE)": _case(
        ["alphasynkin_traub05.mod"],
        [HHX],
        {0: ["a", "g"]},
        pps=[("AlphaSynKin", {"tau": 2.0}, EVENTS, 0.002)],
        protocols=["events"],
    ),
}

# file -> the message expected (a substring) from the importer: refused at load
IMPORT_ONLY = {
    # the state advanced in BREAKPOINT itself with dt (no SOLVE): NEURON runs those
    # statements in nrn_cur, twice a step (at v + 0.001 and v, for the slope)
    "gkca_3807.mod": "dt read outside the SOLVEd block",
    # net_move in a POINT_PROCESS (a pulse prolonged by each event)
    "pulsesyn_traub05.mod": "net_move() in a POINT_PROCESS",
}


def cases() -> dict:
    """`CASES` with each file's text read from the corpus (corpus 11's `texts=`)."""
    return {n: dict(c, texts={f: _text(f) for f in c["files"]}) for n, c in CASES.items()}


def _run_one(dll, name, case, globals_, tmp, report, modes) -> dict:
    """Corpus 11's runs of one case on the library `dll`, with the case's GLOBALs set in
    NEURON (`nrn_globals`) and the same values given to neurojax (`nj_params`)."""
    nrn_globals = {**globals_, **case.get("nrn_globals", {})}
    extra = case.get("nj_params", {})
    nj_case = dict(case, mechs=[(s, {**p, **extra.get(s, {})}) for s, p in case["mechs"]])
    return common.compare_case(
        name, c11.protocols_of(case),
        lambda mode: c11.run_neuron(dll, case, mode, nrn_globals, tmp),
        lambda mode: c11.run_neurojax(nj_case, mode), modes, report)  # fmt: skip


def compare_all(tmp: Path, names=None, report=None, modes=None) -> dict:
    """{(case, protocol): {trace: max |Δ|, "_vrange", "_range"}} over this corpus's cases,
    on one NEURON library."""
    table = cases()
    names = list(names or table)
    texts = c11.all_texts(names, table)
    globals_ = c11.tables_off(texts)
    dll = base.compile_mods(texts, tmp / "mods")
    out = {}
    for name in names:
        out.update(_run_one(dll, name, table[name], globals_, tmp, report, modes))
    return out


def import_only() -> dict:
    """{file: the importer's message} for the files in IMPORT_ONLY."""
    return common.import_only(IMPORT_ONLY, _text)


if __name__ == "__main__":
    if not corpus_available():
        sys.exit(f"no corpus at {CORPUS} (set NEUROJAX_CORPUS15)")
    for f, msg in import_only().items():
        print(f"{f}: {msg[:200]}")
    with tempfile.TemporaryDirectory() as d:
        compare_all(Path(d), sys.argv[1:] or None, report=common.show)
