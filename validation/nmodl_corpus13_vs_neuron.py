"""A sixth corpus of published `.mod` files (session 13) against NEURON compiling them.

The files are others' code and are never committed: they are read from a local copy,
`$NEUROJAX_CORPUS13` (default `/tmp/corpus13`; its `SOURCES.md` names each file's
repository, path and commit). A missing corpus skips everything (the slow test says so).

Sources not used by the earlier corpora: Rothman & Manis (2003)'s and Manis's cochlear
nucleus channels, pumps and synapses as kept in `cnmodel/cnmodel` (kht, klt, ka, ihvcn,
jsrnaf, kis, kcnq after Gunay et al. 2008, hcno after Bal & Oertel 2000, CaPCalyx after
Borst & Sakmann 1998, capump, the NEURON book's cadifpmp, Kampa et al. 2004's NMDA
receptor, an AdEx written as a SUFFIX, a cooperative Na), Wolf et al. (2005)/Moyer's
nucleus accumbens files as kept in `vividn/DBS_NAcc` (caL13 with GHK and `POINTER mu`,
Lazarewicz's BK, the cadyn pool, Hake's AMPA and NMDA synapses writing `ical`), and the
Sterratt, Graham, Gillies & Willshaw book's code (`compneuroprinciples/cnbook-code`:
cadifeb4, caJpump, DEsyn, ampade, the Pinsky-Rinzel rkq, kcRT03, rcadecay) and Graham's
IntFire6 (`bpgraham/NEURONexercises`).

Setting: corpus 11's and 12's (`validation/nmodl_corpus12_vs_neuron.py`, on
`validation/nmodl_corpus11_vs_neuron.py`): one compartment (L = diam = 10 µm, cm = 1)
with the wheel's hh.mod renamed `hhx`, 34 °C, backward Euler (`secondorder = 0`) at dt =
0.025 ms for 40 ms, float64, every file's TABLEs off; density mechanisms under current
clamp 0.05 nA and 0.5 nA (5–30 ms) and voltage clamp (−65 → −10 → −50 mV), with
CaPCalyx as a Ca source (ohmic, eca) where the file reads Ca; point processes driven by
one NetCon's events or by their own parameters. Corpus 12's `pointers=` (a density
mechanism's POINTER set to a constant) is used as is; one addition here, applied alike in
NEURON and neurojax:

- `pp_values=[(index, name, value)]`: a point process's POINTER set to a constant (NEURON:
  `h.setpointer` to a one-element Vector; neurojax: `bind_pointer(name, values=[value],
  dt=...)`, a one-sample series held to the end) —
  the transmitter concentration of Kampa's NMDA receptor (`XMTR`) and of ampade (`C`).

    python validation/nmodl_corpus13_vs_neuron.py [case ...]   # max |Δ| per case

`tests/test_nmodl_corpus13_neuron.py` (slow tier) runs it.
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

CORPUS = Path(os.environ.get("NEUROJAX_CORPUS13", "/tmp/corpus13"))


def _text(name: str) -> str:
    return (CORPUS / name).read_text()


def corpus_available() -> bool:
    return common.corpus_available(CORPUS)


CAP = "CaPCalyx_manis.mod"
CA_SOURCE = [("CaPCalyx", {"gbar": 0.001})]  # Borst & Sakmann's P-type Ca (ohmic, eca)
EVENTS = [4.0, 9.0, 9.5, 19.0, 30.0]  # NetCon event times (ms, + the 1 ms delay)
CAL = {"cali0_cal_ion": 1e-4, "calo0_cal_ion": 2.0}  # the Wolf files' ion `cal`


def _case(files, mechs, record, **kw) -> dict:
    return dict(files=list(files), mechs=mechs, record=record, **kw)


CASES = {
    # Rothman & Manis (2003), Manis's cnmodel copies: q10 from celsius in INITIAL, the
    # unit factor `(degC)` inside an exponent, GLOBAL rate variables, THREADSAFE
    "kht_rothman": _case(
        ["kht_rothman.mod"], [("kht", {"gbar": 0.01}), ("hhx", {})], {"kht": ["n", "p"]}
    ),
    "klt_rothman (`^0.25` steady state)": _case(
        ["klt_rothman.mod"], [("klt", {"gbar": 0.005}), ("hhx", {})], {"klt": ["w", "z"]}
    ),
    "ka_rothman": _case(
        ["ka_rothman.mod"], [("ka", {"gbar": 0.005}), ("hhx", {})], {"ka": ["a", "b", "c"]}
    ),
    "ihvcn (eh an ASSIGNED RANGE)": _case(
        ["ihvcn_rothman.mod"],
        [("ihvcn", {"gbar": 0.002, "eh": -43.0}), ("hhx", {})],
        {"ihvcn": ["r"]},
    ),
    "hcno_bal (derivimplicit, F in kilocoulombs)": _case(
        ["hcno_bal.mod"],
        [("hcno", {"gbar": 0.002, "eh": -43.0}), ("hhx", {})],
        {"hcno": ["h1", "h2"]},
    ),
    "jsrnaf (a PARAMETER ena beside `USEION na READ ena`)": _case(
        ["jsrnaf_rothman.mod"], [("jsrna", {"gbar": 0.05}), ("hhx", {})], {"jsrna": ["m", "h"]}
    ),
    "kcnq_gunay (a PARAMETER assigned in BREAKPOINT)": _case(
        ["kcnq_gunay.mod"], [("kcnq", {"gbar": 0.002}), ("hhx", {})], {"kcnq": ["m"]}
    ),
    "kis_kanold (FUNCTIONs of v, `if` in INITIAL)": _case(
        ["kis_kanold.mod"], [("kis", {"gbar": 0.003}), ("hhx", {})], {"kis": ["kisa", "kisi"]}
    ),
    "CaPCalyx (UNITSOFF INITIAL, TABLE DEPEND dt, celsius)": _case(
        [CAP], [*CA_SOURCE, ("hhx", {})], {"CaPCalyx": ["m"]}
    ),
    "cadyn_wolf (derivimplicit pool, `if` in DERIVATIVE; + CaPCalyx)": _case(
        ["cadyn_wolf.mod", CAP],
        [("cadyn", {}), *CA_SOURCE, ("hhx", {})],
        {"cadyn": ["cai"], "CaPCalyx": ["m"]},
    ),
    "capump_cnmodel (LOCAL kept across calls; + cadyn, CaPCalyx)": _case(
        ["capump_cnmodel.mod", "cadyn_wolf.mod", CAP],
        [("cadyn", {}), *CA_SOURCE, ("capump", {}), ("hhx", {})],
        {"cadyn": ["cai"]},
    ),
    "cadifpmp (KINETIC, COMPARTMENT, arrays, f_flux; + CaPCalyx)": _case(
        ["cadifpmp_cnmodel.mod", CAP],
        [("cadifpmp", {}), *CA_SOURCE, ("hhx", {})],
        {"cadifpmp": ["cai", "pump", "pumpca"]},
    ),
    "cadifeb4_graham (KINETIC, excess buffer; + CaPCalyx)": _case(
        ["cadifeb4_graham.mod", CAP],
        [("cadifeb4", {}), *CA_SOURCE, ("hhx", {})],
        {"cadifeb4": ["cai"]},
    ),
    "caJpump_graham (STATE cai READ only; + cadyn, CaPCalyx)": _case(
        ["caJpump_graham.mod", "cadyn_wolf.mod", CAP],
        [("cadyn", {}), *CA_SOURCE, ("caJpump", {}), ("hhx", {})],
        {"cadyn": ["cai"]},
    ),
    "bkkca_lazarewicz (KINETIC, STEADYSTATE, cai^3; + cadyn, CaPCalyx)": _case(
        ["bkkca_lazarewicz.mod", "cadyn_wolf.mod", CAP],
        [("cadyn", {}), *CA_SOURCE, ("bkkca", {"gkbar": 0.01}), ("hhx", {})],
        {"bkkca": ["cst", "ost", "ist"], "cadyn": ["cai"]},
    ),
    "rcadecay (SOLVE inside `if` in BREAKPOINT; + CaPCalyx)": _case(
        ["rcadecay_pr.mod", CAP], [("rcadecay", {}), *CA_SOURCE, ("hhx", {})], {"rcadecay": ["cai"]}
    ),
    "rkq_traub91 (+ rcadecay, CaPCalyx)": _case(
        ["rkq_traub91.mod", "rcadecay_pr.mod", CAP],
        [("rcadecay", {}), *CA_SOURCE, ("rkq", {"gmax": 0.01}), ("hhx", {})],
        {"rkq": ["m"], "rcadecay": ["cai"]},
    ),
    "kcRT03 (+ rcadecay, CaPCalyx)": _case(
        ["kcRT03_lazarewicz.mod", "rcadecay_pr.mod", CAP],
        [("rcadecay", {}), *CA_SOURCE, ("kcRT03", {"gmax": 0.05}), ("hhx", {})],
        {"kcRT03": ["m"], "rcadecay": ["cai"]},
    ),
    "caL13_moyer (GHK on ion cal, POINTER mu = 1)": _case(
        ["caL13_moyer.mod"],
        [("caL13", {"pcaLbar": 1e-4}), ("hhx", {})],
        {"caL13": ["m", "h"]},
        ions=CAL,
        pointers=[("caL13", "mu", 1.0)],
    ),
    "caL13_moyer (GHK; NEURON's slope)": _case(
        ["caL13_moyer.mod"],
        [("caL13", {"pcaLbar": 1e-4}), ("hhx", {})],
        {"caL13": ["m", "h"]},
        ions=CAL,
        pointers=[("caL13", "mu", 1.0)],
        slope=["caL13"],
    ),
    # point processes
    "NMDA_hake (NetCon events, per-stream y1_loc, `B = mgblock(v)`, writes ical)": _case(
        ["nmda_hake.mod"],
        [("hhx", {})],
        {0: ["y1", "y2"]},  # (B is not a RANGE variable)
        pps=[("NMDA", {"gbar": 2e-3}, EVENTS, 1.0)],
        protocols=["events"],
    ),
    "NMDA_hake (NEURON's slope)": _case(
        ["nmda_hake.mod"],
        [("hhx", {})],
        {0: ["y1", "y2"]},
        pps=[("NMDA", {"gbar": 2e-3}, EVENTS, 1.0)],
        protocols=["events"],
        slope=["NMDA"],
    ),
    "AMPA_hake (NetCon events, writes ical)": _case(
        ["ampa_hake.mod"],
        [("hhx", {})],
        {0: ["y1", "y2"]},
        pps=[("AMPA", {"gbar": 5e-3}, EVENTS, 1.0)],
        protocols=["events"],
    ),
    "NMDA_Kampa (10-state KINETIC, POINTER XMTR = 0.01 mM)": _case(
        ["nmda_kampa.mod"],
        [("hhx", {})],
        {0: ["U", "Cl", "Open", "OMg", "D1"]},
        pps=[("NMDA_Kampa", {"gmax": 5e4}, None, None)],
        pp_values=[(0, "XMTR", 0.01)],
        protocols=["current clamp", "current clamp 0.5 nA"],
    ),
    "ampade_graham (6-state KINETIC, POINTER C = 0.1 mM)": _case(
        ["ampade_graham.mod"],
        [("hhx", {})],
        {0: ["C0", "C1", "O1", "O2", "D"]},
        pps=[("AMPADE", {"gmax": 2e3}, None, None)],
        pp_values=[(0, "C", 0.1)],
        protocols=["current clamp", "current clamp 0.5 nA"],
    ),
    "DESynapse (t in BREAKPOINT, onset 5 ms)": _case(
        ["desyn_graham.mod"],
        [("hhx", {})],
        {},
        pps=[("DESynapse", {"gmax": 0.005, "onset": 5.0}, None, None)],
        protocols=["current clamp", "current clamp 0.5 nA"],
    ),
}

# file -> the message expected (a substring) from the importer: refused at load
IMPORT_ONLY = {
    # NEURON 9 refuses it too: "Method derivimplicit can't be used with Block states"
    "nacncoop_manis.mod": "SOLVE states",
    # BREAKPOINT calls the DERIVATIVE block `states()` as a function (NEURON 9 compiles it)
    "adex_manis.mod": "states()",
}
NEURON_CANNOT = {"nacncoop_manis.mod"}


def cases() -> dict:
    """`CASES` with each file's text read from the corpus (corpus 11's `texts=`)."""
    return {n: dict(c, texts={f: _text(f) for f in c["files"]}) for n, c in CASES.items()}


_PP_VALUE_CODE = """
_ppv_keep = []
for _i, _nm, _val in {pp_values!r}:
    _vec = h.Vector([_val])
    _ppv_keep.append(_vec)
    h.setpointer(_vec._ref_x[0], _nm, pps[_i])
"""


@contextlib.contextmanager
def _pp_values(case: dict):
    """Corpus 11's NEURON script and `load_mod` with this case's point-process POINTERs
    set to constants (`pp_values`, see the module docstring); restored after."""
    import neurojax.nmodl as nm

    values = case.get("pp_values", [])
    if not values:
        yield
        return
    script, load = c11._NEURON_SCRIPT, nm.load_mod
    assert script.count(c12._MARK) == 1, "corpus 11's NEURON script changed"
    code = _PP_VALUE_CODE.format(pp_values=[tuple(p) for p in values])
    by_suffix = {c11._suffix_of(t): f for f, t in case["texts"].items()}
    bound = {by_suffix[case["pps"][i][0]]: (n, v) for i, n, v in values}

    def load_bound(text, *a, file=None, **kw):
        mech = load(text, *a, file=file, **kw)
        if file in bound:
            # a one-sample series: held from t = 0 to the end (a point process's pointer
            # takes v_at= or values=/dt=)
            mech = mech.bind_pointer(bound[file][0], values=[bound[file][1]], dt=base.DT)
        return mech

    c11._NEURON_SCRIPT = script.replace(c12._MARK, code + c12._MARK)
    nm.load_mod = load_bound
    try:
        yield
    finally:
        c11._NEURON_SCRIPT, nm.load_mod = script, load


# Graham's IntFire6 (an ARTIFICIAL_CELL: self-event `net_send(refrac, 1)` ends the
# refractory period; inputs integrate only when excitable): driven by NetCon events at
# exact times (weights), its output spike times against NEURON's (`NetCon.record`)
ARTCELL = "intfire6_graham.mod"
ART_EVENTS = [(5.0, 0.6), (6.3, 0.6), (8.1, 0.9), (11.7, 0.2), (20.05, 0.7),
              (21.0, 0.45), (33.3, 1.2), (35.0, 1.2), (50.0, 0.4)]  # fmt: skip
ART_TSTOP = 60.0

_ART_SCRIPT = r"""
import json, sys
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
c = h.IntFire6()
ncs = [h.NetCon(None, c) for _ in cfg["events"]]  # one per event: its own weight
out, rec = h.Vector(), h.NetCon(c, None)
rec.record(out)
def events():
    for nc, (t0, w) in zip(ncs, cfg["events"]):
        nc.weight[0] = w
        nc.event(t0)
fih = h.FInitializeHandler(1, events)
h.dt, h.secondorder = cfg["dt"], 0
h.finitialize(-65.0)
h.continuerun(cfg["tstop"])
print(json.dumps(list(out)))
"""


def artcell_vs_neuron(tmp: Path) -> dict:
    """{"neuron": NEURON's output spike times (ms), "neurojax": `spike_times`'s} for
    IntFire6 driven by the events `ART_EVENTS` (NEURON: one NetCon per event)."""
    import json
    import subprocess

    from neurojax.nmodl import load_mod

    dll = base.compile_mods({ARTCELL: _text(ARTCELL)}, tmp / "art")
    cfg = dict(dll=dll, events=ART_EVENTS, dt=base.DT, tstop=ART_TSTOP)
    (tmp / "art.json").write_text(json.dumps(cfg))
    (tmp / "art.py").write_text(_ART_SCRIPT)
    r = subprocess.run([sys.executable, str(tmp / "art.py"), str(tmp / "art.json")],
                       capture_output=True, text=True, cwd=tmp,
                       env=dict(os.environ, PYTHONPATH=""))  # fmt: skip
    if r.returncode:
        raise RuntimeError(f"NEURON failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    ref = json.loads(r.stdout.strip().splitlines()[-1])
    ours = load_mod(_text(ARTCELL), file=ARTCELL).spike_times(ART_TSTOP, events=ART_EVENTS)
    return {"neuron": [float(x) for x in ref], "neurojax": [float(x) for x in ours]}


def compare_all(tmp: Path, names=None, report=None, modes=None) -> dict:
    """{(case, protocol): {trace: max |Δ|, "_vrange", "_range"}}: corpus 12's per-case
    runs (`c12._run_one`, with its density POINTERs) over this corpus's cases, on one
    NEURON library."""
    table = cases()
    names = list(names or table)
    texts = c11.all_texts(names, table)
    globals_ = c11.tables_off(texts)
    dll = base.compile_mods(texts, tmp / "mods")
    out = {}
    for name in names:
        with c12._pointers(table[name]), _pp_values(table[name]):
            out.update(c12._run_one(dll, name, table[name], globals_, tmp, report, modes))
    return out


def import_only() -> dict:
    """{file: the importer's message} for the files in IMPORT_ONLY."""
    return common.import_only(IMPORT_ONLY, _text)


if __name__ == "__main__":
    if not corpus_available():
        sys.exit(f"no corpus at {CORPUS} (set NEUROJAX_CORPUS13)")
    for f, msg in import_only().items():
        print(f"{f}: {msg[:200]}")
    with tempfile.TemporaryDirectory() as d:
        if not sys.argv[1:]:
            print(f"{ARTCELL}: output spikes {artcell_vs_neuron(Path(d))}")
        compare_all(Path(d), sys.argv[1:] or None, report=c12._show)
