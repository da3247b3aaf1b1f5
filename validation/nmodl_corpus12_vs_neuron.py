"""A fifth corpus of published `.mod` files (session 12) against NEURON compiling them.

The files are others' code and are never committed: they are read from a local copy,
`$NEUROJAX_CORPUS12` (default `/tmp/corpus12`; its `SOURCES.md` names each file's
repository, path and commit). A missing corpus skips everything (the slow test says so).

Setting: corpus 11's (`validation/nmodl_corpus11_vs_neuron.py`, on
`validation/nmodl_vs_neuron.py`): one compartment (L = diam = 10 µm, cm = 1) with the
wheel's hh.mod renamed `hhx`, 34 °C, backward Euler (`secondorder = 0`) at dt = 0.025 ms
for 40 ms, float64, every file's TABLEs off; density mechanisms under current clamp 0.05
nA and 0.5 nA (5–30 ms) and voltage clamp (−65 → −10 → −50 mV), with a Ca source and pool
where the file reads Ca. The cases, the runs and the comparison are corpus 11's
(`compare_all` with this table); two additions here, each applied alike in NEURON and
neurojax:

- `pointers=[(suffix, name, value)]`: a density mechanism's POINTER set to a constant
  (NEURON: `h.setpointer` to a one-element Vector; neurojax: `bind_pointer(name,
  value=...)`) — the tDCS channels' `stim_i`;
- `pp_pointers=[(index, name)]`: a point process's POINTER set to the compartment's v
  (NEURON: `h.setpointer(sec(0.5)._ref_v, ...)`; neurojax: `bind_pointer(name, v_at=(0,
  0.5))`) — Destexhe's GABAb `pre`.

Files whose SUFFIX another corpus file also uses run as copies with the SUFFIX renamed
(`RENAMED`; nothing else changed), so that one NEURON library holds them all.

    python validation/nmodl_corpus12_vs_neuron.py [case ...]   # max |Δ| per case

`tests/test_nmodl_corpus12_neuron.py` (slow tier) runs it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import _corpus_common as common  # noqa: E402
import nmodl_corpus11_vs_neuron as c11  # noqa: E402
import nmodl_vs_neuron as base  # noqa: E402

CORPUS = Path(os.environ.get("NEUROJAX_CORPUS12", "/tmp/corpus12"))

# file -> (the SUFFIX as published, the copy's): suffixes several corpus files share
RENAMED = {
    "cad_purkinje.mod": ("cad", "cadp"),
    "cad2_poirazi.mod": ("cad", "cad2"),
    "kca_bush.mod": ("kca", "kcab"),
}


# file -> [(pattern, replacement)]: copies changed where a neurojax `Cell` refuses the
# file as published (the same copy runs in NEURON). Empty since session 12's E2:
# skbk_filipis.mod and SK_mahapatra.mod (`USEION lca READ lcai` without VALENCE) ran as
# copies with VALENCE 2 added while a Cell refused any ion without valence; it now
# refuses one only where a mechanism reads a reversal potential that Nernst computes
# (NEURON's `ion_charge` fails there too), and these files read none.
EDITED: dict = {}


def _text(name: str) -> str:
    text = (CORPUS / name).read_text()
    if name in RENAMED:
        text = base.renamed(text, *RENAMED[name])
    for pattern, repl in EDITED.get(name, ()):
        text = re.sub(pattern, repl, text)
    return text


def corpus_available() -> bool:
    return common.corpus_available(CORPUS)


def _case(files, mechs, record, **kw) -> dict:
    """A corpus-11 case whose texts are read from this corpus (when it is there)."""
    return dict(files=list(files), mechs=mechs, record=record, **kw)


STIM = 1.0  # the tDCS channels' stim_i: nonzero, so their BEFORE STEP running average runs
CA_SOURCE = [("CaP", {"gmax": 0.001})]  # De Schutter & Bower's P-type Ca (ohmic, eca)
CAP = "CaP_purkinje.mod"

CASES = {
    # Mainen & Sejnowski (1996)
    "cad_mainen (+ CaP_purkinje)": _case(
        ["cad_mainen.mod", CAP],
        [("cad", {}), *CA_SOURCE, ("hhx", {})],
        {"cad": ["ca", "cai"], "CaP": ["m", "h"]},
    ),
    "kca_mainen (derivimplicit; + cad_mainen, CaP)": _case(
        ["kca_mainen.mod", "cad_mainen.mod", CAP],
        [("cad", {}), *CA_SOURCE, ("kca", {"gbar": 10.0}), ("hhx", {})],
        {"kca": ["n"], "cad": ["ca"]},
    ),
    # Bush & Sejnowski's (ModelDB 52034) K-Ca: METHOD euler, `rates(cai)` before the SOLVE,
    # TABLE FROM a PARAMETER, the DERIVATIVE reading `o` assigned after the SOLVE
    "kca_bush (euler, TABLE FROM cainit; + cad_mainen, CaP)": _case(
        ["kca_bush.mod", "cad_mainen.mod", CAP],
        [("cad", {}), *CA_SOURCE, ("kcab", {"gmax": 0.005}), ("hhx", {})],
        {"kcab": ["c", "o"], "cad": ["ca"]},
    ),
    # De Schutter & Bower (1994) Purkinje cell, neuroConstruct/ChannelML exports
    "NaF_purkinje (`?` comments, TABLE DEPEND celsius, UNITSON at the top level)": _case(
        ["NaF_purkinje.mod"],
        [("NaF", {"gmax": 0.02}), ("hhx", {})],
        {"NaF": ["m", "h"]},
    ),
    "Kh1_purkinje (constant tau, `ek = -85` in INITIAL)": _case(
        ["Kh1_purkinje.mod"],
        [("Kh1", {"gmax": 0.002}), ("hhx", {})],
        {"Kh1": ["m"]},
    ),
    "KC_purkinje (+ cad_purkinje, CaP)": _case(
        ["KC_purkinje.mod", "cad_purkinje.mod", CAP],
        [("cadp", {}), *CA_SOURCE, ("KC", {"gmax": 0.005}), ("hhx", {})],
        {"KC": ["m", "z"], "cadp": ["cai"]},
    ),
    # Poirazi et al. (2003) / Migliore CA1 (ModelDB 266900)
    "calH_poirazi (FROM loop over arrays; + cad2_poirazi)": _case(
        ["calH_poirazi.mod", "cad2_poirazi.mod"],
        [("cad2", {}), ("calH", {"gcalbar": 0.002}), ("hhx", {})],
        {"calH": ["m", "h"], "cad2": ["ca"]},
    ),
    # the tDCS variants of Migliore's channels (ModelDB 266900): BEFORE STEP, POINTER
    "kaprox_tdcs (BEFORE STEP, stim_i = 1)": _case(
        ["kaprox_tdcs.mod"],
        [("kap", {"gkabar": 0.008}), ("hhx", {})],
        {"kap": ["n", "l", "vrun", "vvrun", "count"]},
        pointers=[("kap", "stim_i", STIM)],
    ),
    "kaprox_tdcs (BEFORE STEP, stim_i = 0)": _case(
        ["kaprox_tdcs.mod"],
        [("kap", {"gkabar": 0.008}), ("hhx", {})],
        {"kap": ["n", "l", "vvrun"]},
        pointers=[("kap", "stim_i", 0.0)],
    ),
    "kdrca1_3_tdcs (BEFORE STEP, tau switched on n < ninf)": _case(
        ["kdrca1_3_tdcs.mod"],
        [("kdr", {"gkdrbar": 0.003}), ("hhx", {})],
        {"kdr": ["n", "vrun", "vvrun"]},
        pointers=[("kdr", "stim_i", STIM)],
    ),
    "kmdb_tdcs (BEFORE STEP)": _case(
        ["kmdb_tdcs.mod"],
        [("kmdb", {"gbar": 0.001}), ("hhx", {})],
        {"kmdb": ["m", "vvrun"]},
        pointers=[("kmdb", "stim_i", STIM)],
    ),
    "naxn_tdcs (BEFORE STEP writing a GLOBAL sh2)": _case(
        ["naxn_tdcs.mod"],
        [("nax", {"gbar": 0.01}), ("hhx", {})],
        {"nax": ["m", "h", "vvrun"]},
        pointers=[("nax", "stim_i", STIM)],
    ),
    "h_tdcs (BEFORE STEP's `LOCAL i` shadowing the current i)": _case(
        ["h_tdcs.mod"],
        [("hd", {"ghdbar": 0.001}), ("hhx", {})],
        {"hd": ["l"]},  # vvrun is a GLOBAL here (NEURON records no range variable)
        pointers=[("hd", "stim_i", STIM)],
    ),
    "cagk_tdcs (BEFORE STEP; + cad2_poirazi, calH)": _case(
        ["cagk_tdcs.mod", "cad2_poirazi.mod", "calH_poirazi.mod"],
        [("cad2", {}), ("calH", {"gcalbar": 0.002}), ("mykca", {"gbar": 0.01}), ("hhx", {})],
        {"mykca": ["o", "vvrun"], "cad2": ["ca"]},
        pointers=[("mykca", "stim_i", STIM)],
    ),
    # Solinas et al. (2007) cerebellar Golgi cell (OpenSourceBrain's NEURON copy)
    "Golgi_Na_solinas (derivimplicit, TABLE DEPEND on 13 names, linoid)": _case(
        ["Golgi_Na_solinas.mod"],
        [("Golgi_Na", {"gnabar": 0.02}), ("hhx", {})],
        {"Golgi_Na": ["m", "h"]},
    ),
    "Golgi_KM_solinas (top-level LOCAL after UNITSOFF, COMMENT in a PROCEDURE)": _case(
        ["Golgi_KM_solinas.mod"],
        [("Golgi_KM", {"gkbar": 0.001}), ("hhx", {})],
        {"Golgi_KM": ["n"]},
    ),
    "Golgi_Ca_HVA_solinas (+ cad_mainen)": _case(
        ["Golgi_Ca_HVA_solinas.mod", "cad_mainen.mod"],
        [("cad", {}), ("Golgi_Ca_HVA", {"gcabar": 460e-6}), ("hhx", {})],
        {"Golgi_Ca_HVA": ["s", "u"], "cad": ["ca"]},
    ),
    # Schmidt-Hieber & Bischofberger (2010): 8-state Markov Na writing ina and ica
    "na8st (8-state KINETIC, STEADYSTATE)": _case(
        ["na8st_schmidthieber.mod"],
        [("na", {"gbar": 200.0}), ("hhx", {})],
        {"na": ["c1", "c3", "o", "i1", "i4"]},
    ),
    # Dervinis et al. thalamocortical channels
    "IT_dervinis (eca a PARAMETER, `(mS) = (millisecond)`)": _case(
        ["IT_dervinis.mod"],
        [("it", {"gcabar": 0.001}), ("hhx", {})],
        {"it": ["m", "h"]},
    ),
    "ICAN_dervinis (ion `n`, bimolecular KINETIC, two CONSERVE; + cad_mainen, CaP)": _case(
        ["ICAN_dervinis.mod", "cad_mainen.mod", CAP],
        [("cad", {}), *CA_SOURCE, ("ican", {"gnbar": 0.001}), ("hhx", {})],
        {"ican": ["p1", "o"], "cad": ["ca"]},
        nj_ions={"en": 0.0},  # NEURON's e of a new ion (its PARAMETER en = 10 is the ion's)
    ),
    "IKNa_dervinis (`bind(nai)` before the SOLVE; + nadecay_dervinis)": _case(
        ["IKNa_dervinis.mod", "nadecay_dervinis.mod"],
        [("nad", {}), ("ikna", {"gkbar": 0.002}), ("hhx", {})],
        {"ikna": ["n"], "nad": ["nai"]},
    ),
    # Ait Ouares, Filipis et al. (2018) Purkinje BK over three Ca "ions" (ModelDB 267355):
    # SOLVE of a PROCEDURE with `VERBATIM return 0;`, dt in INITIAL's procedure, ek a
    # PARAMETER with `USEION k WRITE ik`, ions declared without VALENCE (run as
    # published)
    "skbk_filipis (lca, nca, tca read, no VALENCE; SOLVE procedure)": _case(
        ["skbk_filipis.mod"],
        [("bks", {"gkbar": 0.08}), ("hhx", {})],
        {"bks": ["m", "z"]},
        ions={"lcai0_lca_ion": 1e-3, "ncai0_nca_ion": 1e-3, "tcai0_tca_ion": 1e-3},
    ),
    "SK_mahapatra (tca, nca read, no VALENCE; ninf = a, `(degC)` in expressions)": _case(
        ["SK_mahapatra.mod"],
        [("sk", {"gbar": 0.01}), ("hhx", {})],
        {"sk": ["n"]},
        ions={"tcai0_tca_ion": 1e-4, "ncai0_nca_ion": 1e-4},
    ),
    # Destexhe's GABAb (ModelDB 18198): POINTER pre, t and dt in the DERIVATIVE's procedure
    "gabab_destexhe (POINTER pre = v, spikes release)": _case(
        ["gabab_destexhe_pointer.mod"],
        [("hhx", {})],
        {0: ["R", "G", "C", "TimeCount"]},
        pps=[("GABAb", {"gmax": 0.002}, None, None)],
        pp_pointers=[(0, "pre")],
        protocols=["current clamp", "current clamp 0.5 nA"],
    ),
}

# file -> the message expected (a substring) from the importer: refused at load
IMPORT_ONLY = {
    "nadifl.mod": "LONGITUDINAL_DIFFUSION",
    "undernai.mod": "a VERBATIM block (C code) in BREAKPOINT",
}


def _texts_for(case: dict) -> dict:
    return {f: _text(f) for f in case["files"]}


def cases() -> dict:
    """`CASES` with each file's text read from the corpus (corpus 11's `texts=`)."""
    return {name: dict(case, texts=_texts_for(case)) for name, case in CASES.items()}


_POINTER_CODE = """
_ptr_keep = []
for _sfx, _nm, _val in {ptrs!r}:
    _vec = h.Vector([_val])
    _ptr_keep.append(_vec)
    h.setpointer(_vec._ref_x[0], _nm, getattr(s(0.5), _sfx))
for _i, _nm in {pp_ptrs!r}:
    h.setpointer(s(0.5)._ref_v, _nm, pps[_i])
"""
_MARK = 'for k, val in cfg["globals"].items():'


@contextlib.contextmanager
def _pointers(case: dict):
    """Corpus 11's NEURON script and `load_mod` with this case's POINTERs set (see the
    module docstring); restored after."""
    import neurojax.nmodl as nm

    ptrs = case.get("pointers", [])
    pp_ptrs = case.get("pp_pointers", [])
    if not ptrs and not pp_ptrs:
        yield
        return
    script, load = c11._NEURON_SCRIPT, nm.load_mod
    assert script.count(_MARK) == 1, "corpus 11's NEURON script changed"
    code = _POINTER_CODE.format(ptrs=[tuple(p) for p in ptrs], pp_ptrs=[tuple(p) for p in pp_ptrs])
    by_suffix = {c11._suffix_of(t): f for f, t in case["texts"].items()}
    density = {by_suffix[s]: (n, v) for s, n, v in ptrs}
    points = {by_suffix[case["pps"][i][0]]: n for i, n in pp_ptrs}

    def load_bound(text, *a, file=None, **kw):
        mech = load(text, *a, file=file, **kw)
        if file in density:
            n, v = density[file]
            mech = mech.bind_pointer(n, value=v)
        if file in points:
            mech = mech.bind_pointer(points[file], v_at=(0, 0.5))
        return mech

    c11._NEURON_SCRIPT = script.replace(_MARK, code + _MARK)
    nm.load_mod = load_bound
    try:
        yield
    finally:
        c11._NEURON_SCRIPT, nm.load_mod = script, load


def compare_all(tmp: Path, names=None, report=None, modes=None) -> dict:
    """{(case, protocol): {trace: max |Δ|, "_vrange", "_range"}}: corpus 11's
    `compare_all` over this corpus's cases (one NEURON library for all of them)."""
    table = cases()
    names = list(names or table)
    texts = c11.all_texts(names, table)
    globals_ = c11.tables_off(texts)
    dll = base.compile_mods(texts, tmp / "mods")
    out = {}
    for name in names:
        with _pointers(table[name]):
            # (corpus 11's compare_all would build a library per call: its per-case
            # loop, `_run_one`, runs here on the one library built above)
            out.update(_run_one(dll, name, table[name], globals_, tmp, report, modes))
    return out


def _run_one(dll, name, case, globals_, tmp, report, modes) -> dict:
    """Corpus 11's runs of one case on the library `dll` (`_corpus_common.compare_case`)."""
    return common.compare_case(
        name, c11.protocols_of(case), lambda mode: c11.run_neuron(dll, case, mode, globals_, tmp),
        lambda mode: c11.run_neurojax(case, mode), modes, report)  # fmt: skip


def import_only() -> dict:
    """{file: the importer's message} for the files in IMPORT_ONLY."""
    return common.import_only(IMPORT_ONLY, _text)


_show = common.show


if __name__ == "__main__":
    if not corpus_available():
        sys.exit(f"no corpus at {CORPUS} (set NEUROJAX_CORPUS12)")
    for f, msg in import_only().items():
        print(f"{f}: {msg[:200]}")
    with tempfile.TemporaryDirectory() as d:
        compare_all(Path(d), sys.argv[1:] or None, report=_show)
