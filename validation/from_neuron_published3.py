"""`cable.from_neuron` on more published NEURON cells (issue 18, held-out checks, third
set), run as their authors wrote them.

The models' files are not in this repository: fetch them into a folder (default
`/tmp/pubcells3`, or `$NEUROJAX_PUBCELLS3`) as docs/from_neuron.md says (each model's
`SOURCES.md` names the repository, path and commit of every file, and every edit), then

    python validation/from_neuron_published3.py [model ...]

The driver is from_neuron_published.py's `compare` (dt_check and self_check on): NEURON
builds the cell from the published hoc, `from_neuron` imports it as it stands, both run
the published protocol's somatic step (backward Euler, dt 0.025 ms, float64, NEURON's
TABLEs off), and beside max |ΔV| stand NEURON's own dt error (NEURON at dt 0.0025 against
NEURON at 0.025) and NEURON against itself with the step's amplitude changed by 1e-14.

Models:

- `pospischil_rs`, `pospischil_lts`, `pospischil_ib`: Pospischil et al. (2008)'s
  one-compartment cortical cells (ModelDB 123623: templates sPY, sPYr, sPYb; Destexhe's
  `hh2` written as a PROCEDURE with exponential updates that read dt, `im` with a TABLEd
  FUNCTION, `it` with m at steady state, `cad`, the L current `ical` whose reversal comes
  from its own PARAMETER cai, cao), with the parameters and steps of their demo files
  (demo_PY_RS.hoc, demo_PY_LTS.hoc, demo_PY_IB.hoc) at celsius 36.
- `bezaire_olm`: Bezaire et al. (2016)'s CA1 O-LM interneuron (mbezaire/ca1,
  `cells/class_olmcell.hoc`, template olmcell: a soma, two dendrites and an axon from
  3-d points, nseg by the network's lambda rule, ch_Nav, ch_Kdrfast, ch_KvAolm,
  ch_HCNolm with a custom ion `h`, ch_leak at celsius 34), alone (no synapses), its
  .mod files as published (a top-level `VERBATIM #include <stdlib.h> ENDVERBATIM` in 12
  of Bezaire's 15 files: accepted since session 12's E2, as it changes nothing NEURON
  computes; before, the comparison read copies without it, `mods_noinclude/`);
  `bezaire_olm_verbatim_code`: the same with one line of C (`static int n_calls;`)
  added to ch_Kdrfast.mod's top-level VERBATIM (copies in a temporary folder; NEURON
  runs the published files): refused by neurojax's NMODL importer, naming the file, the
  line and the construct.
- `bezaire_cck`: the network's CCK+ basket cell (Ca²⁺ shell writing cai and eca, GHK
  L-type, SK and BK, channels inserted per segment by distance).
- `bezaire_pyr`: the network's pyramidal cell (poolosyncell: 202 sections, Ih and A
  currents by distance, nseg changed after the parameters were set).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from from_neuron_published import _load_dll, main  # noqa: E402

ROOT = Path(os.environ.get("NEUROJAX_PUBCELLS3", "/tmp/pubcells3"))


def _pospischil(h, which: str):
    """One of Pospischil et al. (2008)'s cells with its demo's parameters and step
    (their `Electrode` is an IClamp at soma(0.5)); the templates' hoc as published."""
    d = ROOT / "pospischil"
    _load_dll(h, d / "mods")
    template, stim, T, v_init, extra = {
        # demo_PY_RS.hoc: the template's parameters, 0.75 nA from 300 to 700 ms
        "rs": ("sPY", (300.0, 400.0, 0.75), 1000.0, -70.0, {}),
        # demo_PY_LTS.hoc: 0.15 nA from 400 to 800 ms, its "rebound parameters"
        "lts": ("sPYr", (400.0, 400.0, 0.15), 1000.0, -84.0,
                dict(gcabar_it=4e-4, gkbar_im=3e-5, g_pas=1e-5, e_pas=-85.0,
                     gnabar_hh2=0.05, gkbar_hh2=0.005)),
        # demo_PY_IB.hoc: 0.15 nA from 500 to 2500 ms (one burst, then regular spikes)
        "ib": ("sPYb", (500.0, 2000.0, 0.15), 3000.0, -84.0,
               dict(gcabar_ical=1.7e-4, gkbar_im=3e-5, g_pas=1e-5, e_pas=-85.0,
                    gnabar_hh2=0.05, gkbar_hh2=0.005)),
    }[which]  # fmt: skip
    if not hasattr(h, template):
        h.load_file(str(d / f"{template}_template"))
    h.celsius = 36.0
    for m in ("hh2", "im", "it", "ical", "cad"):
        if hasattr(h, f"usetable_{m}"):
            setattr(h, f"usetable_{m}", 0)
    cell = getattr(h, template)()
    soma = cell.soma[0]
    for name, value in extra.items():
        setattr(soma, name, value)
    return dict(secs=[soma], mods=d / "mods", soma=(soma, 0.5), distal=(soma, 0.5),
                stim=stim, T=T, v_init=v_init, keep=[cell])  # fmt: skip


def _bezaire_olm(h, verbatim_code: bool = False):
    """Bezaire et al. (2016)'s O-LM cell, alone: `olmcell(0, 0, -1)` (no synapses; the
    template's externals `numCellTypes`, `cellType` declared first; `lambda_f` is
    NEURON's stdlib's), a 0.1 nA step at the soma. `verbatim_code`: neurojax reads
    copies with a C declaration added to ch_Kdrfast.mod's top-level VERBATIM block."""
    d = ROOT / "bezaire"
    _load_dll(h, d / "mods")
    if not hasattr(h, "olmcell"):
        h("numCellTypes = 0")
        h("objref cellType[1]")
        h.load_file(str(d / "class_olmcell.hoc"))
    for m in ("ch_Nav", "ch_Kdrfast", "ch_KvAolm", "ch_HCNolm", "ch_leak"):
        if hasattr(h, f"usetable_{m}"):
            setattr(h, f"usetable_{m}", 0)
    cell = h.olmcell(0, 0, 0)
    secs = list(cell.all)
    soma = cell.soma[0]
    out = dict(secs=secs, mods=d / "mods", soma=(soma, 0.5),
               distal=(cell.dend[0], 0.9), stim=(100.0, 400.0, 0.1), T=600.0, v_init=-67.0,
               keep=[cell])  # fmt: skip
    if verbatim_code:  # C code beside the `#include <stdlib.h>`: refused, naming it
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="bezaire_olm_verbatim_"))
        for f in (d / "mods").glob("*.mod"):
            text = f.read_text()
            if f.name == "ch_Kdrfast.mod":
                assert text.count("#include <stdlib.h>") == 1, "ch_Kdrfast.mod changed"
                inc = "#include <stdlib.h>"
                text = text.replace(inc, inc + "\nstatic int n_calls;", 1)
            (tmp / f.name).write_text(text)
        out.update(mods=tmp, refusal="ch_Kdrfast.mod:19: VERBATIM blocks (C code) are not "
                   "supported: 'static int n_calls;' at line 21")  # fmt: skip
    return out


def _bezaire_cck(h):
    """Bezaire et al. (2016)'s CCK+ basket cell (cells/class_cckcell.hoc, template
    cckcell): a soma and 16 dendrites from 3-d points; `iconc_Ca` writing cai and eca
    (a Ca²⁺ shell, eca by its own Nernst), N- and GHK L-type Ca²⁺ (ch_CavL copies cai
    from the ion in a VERBATIM block of INITIAL), SK (ch_KCaS: `q = qinf` before qinf is
    computed in INITIAL) and BK (ch_KvCaB) read cai, and ch_Navcck, ch_Kdrfast,
    ch_KvGroup inserted in a dendrite from a `for (x, 0)` loop where distance(x) < 100 µm
    with their gmax set per segment there (the other segments keep the files'
    defaults). Alone (`cckcell(0, 0, 0)`, no synapses), a 0.1 nA step at the soma.
    Imported with `neuron_slope=True` (ch_CavL's GHK current is nonlinear in v)."""
    d = ROOT / "bezaire_cck"
    _load_dll(h, d / "mods")
    if not hasattr(h, "cckcell"):
        h("numCellTypes = 0")
        h("objref cellType[1]")
        h.load_file(str(d / "class_cckcell.hoc"))
    for m in ("ch_Navcck", "ch_Kdrfast", "ch_KvGroup", "ch_HCN", "ch_CavN", "ch_CavL"):
        if hasattr(h, f"usetable_{m}"):
            setattr(h, f"usetable_{m}", 0)
    cell = h.cckcell(0, 0, 0)
    secs = list(cell.all)
    soma = cell.soma[0]
    return dict(secs=secs, mods=d / "mods", soma=(soma, 0.5),
                distal=(cell.dend[4], 0.9), stim=(100.0, 400.0, 0.1), T=600.0,
                v_init=-61.0, neuron_slope=True, keep=[cell])  # fmt: skip


def _bezaire_pyr(h):
    """Bezaire et al. (2016)'s CA1 pyramidal cell (cells/class_poolosyncell.hoc, template
    poolosyncell, after Poolos et al.): 202 sections given by L and diam, `connect`
    written from the parent's side (`soma[0] {connect basal[0] (0), 0}`, an axon on
    soma[2](0.5)); distance() from soma[5](0); in apical sections thicker than 0.5 µm
    within 500 µm, Ih and the proximal or distal A current set per segment by distance
    in a `for (x, 0)` loop (the RANGE vhalfl_ch_HCNp set section-wide in the same loop:
    its last segment's value holds); then nseg changed by the lambda rule after all
    that (NEURON gives each new segment the value of the old one holding its centre),
    define_shape's 3-d points swapped x↔y by pt3dchange. ch_Navp has a PARAMETER named
    `Ra`. Alone (`poolosyncell(0, 0, 0)`), a 0.3 nA step at soma[5]."""
    d = ROOT / "bezaire_pyr"
    _load_dll(h, d / "mods")
    if not hasattr(h, "poolosyncell"):
        h("numCellTypes = 0")
        h("objref cellType[1]")
        h.load_file(str(d / "class_poolosyncell.hoc"))
    cell = h.poolosyncell(0, 0, 0)
    secs = list(cell.all)
    soma = cell.soma[5]
    h.distance(0, soma(0))
    far = max((s for s in cell.apical if h.ismembrane("ch_KvAdistp", sec=s)),
              key=lambda s: h.distance(s(0.5)))  # fmt: skip
    return dict(secs=secs, mods=d / "mods", soma=(soma, 0.5), distal=(far, 0.5),
                stim=(100.0, 400.0, 0.3), T=600.0, v_init=-66.0, keep=[cell])  # fmt: skip


MODELS = {
    "pospischil_rs": lambda h: _pospischil(h, "rs"),
    "pospischil_lts": lambda h: _pospischil(h, "lts"),
    "pospischil_ib": lambda h: _pospischil(h, "ib"),
    "bezaire_olm": _bezaire_olm,
    "bezaire_olm_verbatim_code": lambda h: _bezaire_olm(h, verbatim_code=True),
    "bezaire_cck": _bezaire_cck,
    "bezaire_pyr": _bezaire_pyr,
}


if __name__ == "__main__":
    main(__file__, MODELS, self_check=True, dt_check=True)
