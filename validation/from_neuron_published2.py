"""`cable.from_neuron` on more published NEURON cells (issue 18, held-out checks, second
set), run as their authors wrote them.

The models' files are not in this repository: fetch them into a folder (default
`/tmp/pubcells2`, or `$NEUROJAX_PUBCELLS2`) as docs/from_neuron.md says (each model's
`SOURCES.md` names the repository, path and commit of every file, and every edit), then

    python validation/from_neuron_published2.py [model ...]

For each model: NEURON builds the cell from the published hoc, `from_neuron` imports it as
it stands, and both simulators run the same somatic step current (and, where the model
has synapses, the same events from a VecStim through NetCons) with backward Euler,
dt 0.025 ms, float64, NEURON's TABLEs off. Reported as in from_neuron_published.py:
sections, compartments, import time (CPU-s), max |ΔV| at the soma and at a distal site,
spike times; or the refusal, for a model neurojax does not carry over.

Models (Santhakumar, Aradi & Soltesz 2005, ModelDB 51781: dentate gyrus cells with
custom ions nat, kf, ks, sk, nca, lca, tca, three Ca²⁺ pools written by ccanl, GHK Ca²⁺
currents):

- `santhakumar_gc`, `santhakumar_mc`, `santhakumar_bc`: the granule cell (RI10sp.hoc's
  GranuleCell), the mossy cell and the basket cell (reduced_dentate's MossyCell.hoc,
  BasketCell.hoc) as published: ccanl.mod WRITEs enca, elca, etca (NEURON then neither
  initialises nor advances them by Nernst: they are ccanl's values), and the VERBATIM
  blocks copying an ion variable into itself (ccanl, tca, LcaMig, gskch) are no-ops.
  Refused until issue 18's follow-ups (neurojax's NMODL importer).
- `santhakumar_gc_nernst`, `santhakumar_mc_nernst`, `santhakumar_bc_nernst`: the cells
  with ccanl not writing the reversal potentials (`mods_fixede/`: NEURON's default then
  makes enca, elca, etca Nernst's from the pools). The granule cell's two perforant-path
  Exp2Syns are driven by a VecStim (`spike_times=`).
- `santhakumar_gc_fixed_e`: that granule cell with `ion_style(…, 3, 1, 0, 0, 1)` for nca,
  lca and tca (e fixed at 130 mV while ccanl writes the concentrations; the published
  model's hoc sets elca = etca = 130): `Cell(fixed_reversal=...)` for three custom ions.

- `destexhe_tc`: Destexhe et al. (1996)'s thalamocortical cell (ModelDB 3343, `TC.tem`):
  a rebound burst after a hyperpolarising step.
- `destexhe_spy`, `destexhe_spy_nosyn`: Destexhe's one-compartment pyramidal cell
  (`sPY.tem`) as a later network model uses it, with its AMPA_S/GABAa_S synapses (their
  NET_RECEIVE reads dt: refused until issue 18's follow-ups; no events reach them here)
  and without them, compared over 60 ms. At 36 °C its
  Nav1.1 (q10 26) fires at ~500 Hz and amplifies round-off ~1e9-fold in 60 ms: NEURON
  against itself with the step's amplitude changed by 1e-14 (relative) differs by about as
  much as NEURON and neurojax do (`neuron_vs_itself_mV`, reported for every model).

The dentate cells' T- and L-type Ca²⁺ currents (cat, lca) are GHK currents, nonlinear in v: imported
with `neuron_slope=True` for the step-for-step comparison (docs/from_neuron.md, RTCl).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from from_neuron_published import _load_dll, main  # noqa: E402

ROOT = Path(os.environ.get("NEUROJAX_PUBCELLS2", "/tmp/pubcells2"))
_SANTHAKUMAR_SUFFIXES = ("ichan2", "nca", "lca", "cat", "ccanl", "gskch", "cagk", "borgka",
                         "hyperde3")  # fmt: skip


def _santhakumar(h, which: str, mods: str, nernst: bool = True, vecstim: bool = False):
    d = ROOT / "santhakumar"
    _load_dll(h, d / ("mods_nrn9" if mods == "published" else "mods_fixede"))
    if which == "gc":
        h.load_file(str(d / "RI10sp_GranuleCell.hoc"))
        cell = h.GranuleCell()
        far, amp = cell.gcdend1[3], 0.2
    elif which == "bc":
        h.load_file(str(d / "BasketCell.hoc"))
        cell = h.BasketCell()
        far, amp = cell.dendrites[0][3], 0.3
    else:
        h.load_file(str(d / "MossyCell.hoc"))
        cell = h.MossyCell(0, 0)
        far, amp = cell.dendrites[0][3], 0.3
    secs = list(cell.all)
    for m in _SANTHAKUMAR_SUFFIXES:
        if hasattr(h, f"usetable_{m}"):
            setattr(h, f"usetable_{m}", 0)
    if not nernst:  # e fixed while ccanl writes the concentrations (hoc's elca = etca = 130)
        for s in secs:
            for ion in ("nca", "lca", "tca"):
                h.ion_style(f"{ion}_ion", 3, 1, 0, 0, 1, sec=s)
            s.enca = s.elca = s.etca = 130.0
    out = dict(secs=secs, soma=(cell.soma, 0.5), distal=(far, 0.5), stim=(5.0, 150.0, amp),
               T=200.0, v_init=-70.0, neuron_slope=True, keep=[cell])  # fmt: skip
    # neurojax imports the same files as NEURON (the VERBATIM copies of an ion variable
    # into itself are no-ops; ccanl's WRITE enca, elca, etca: supported since issue 18)
    out["mods"] = d / ("mods_nrn9" if mods == "published" else "mods_fixede")
    if vecstim:  # the perforant-path synapses (pre_list 0, 1) driven by a VecStim
        times = h.Vector([30.0, 31.5, 60.0, 61.0, 62.0, 120.0])
        vs = h.VecStimRd()
        vs.play(times)
        ncs = []
        for k, (w, delay) in enumerate(((2e-3, 3.0), (1.5e-3, 3.5))):
            nc = h.NetCon(vs, cell.pre_list.o(k))
            nc.weight[0], nc.delay = w, delay
            ncs.append(nc)
        out["spike_times"] = {vs: times}
        out["keep"] += [times, vs, ncs]
    return out


def _destexhe_tc(h, stim=(50.0, 100.0, -0.1)):
    """Destexhe et al. (1996)'s thalamocortical cell (ModelDB 3343's TC.tem, template
    sTC: one compartment; pas, a K⁺ leak point process placed by `kl.loc(0.5)` with a
    GLOBAL reversal, hh2, the T current `it` computing its own Nernst reversal from
    cai, the Ca²⁺-dependent Ih `iar` (a KINETIC scheme with CONSERVE, reading cai), and
    `cad` writing cai with an `if` in its DERIVATIVE block), celsius 36 (the model's). A
    hyperpolarising step; its release fires a low-threshold Ca²⁺ spike crowned by Na⁺
    spikes (a rebound burst)."""
    d = ROOT / "destexhe_tc"
    _load_dll(h, d / "mods")
    h.load_file(str(d / "TC.tem"))
    h.celsius = 36.0
    for m in ("hh2", "it", "iar", "cad"):
        if hasattr(h, f"usetable_{m}"):
            setattr(h, f"usetable_{m}", 0)
    cell = h.sTC()
    soma = cell.soma[0]
    return dict(secs=[soma], mods=d / "mods", soma=(soma, 0.5), distal=(soma, 0.5),
                stim=stim, T=300.0, v_init=-70.0, keep=[cell])  # fmt: skip


def _destexhe_spy(h, synapses: bool = True):
    """Destexhe's one-compartment cortical pyramidal cell (sPY.tem) as a thalamocortical
    network model uses it (jessfeld/...thalamocortical_network): pas, Barela et al.
    2006's Nav1.1 (inak2005: custom ions nat, kf), Destexhe's M current (im), and the
    AMPA_S and GABAa_S synapses the template creates on the soma (their NET_RECEIVE
    reads dt: NEURON's fixed step); `synapses=False` releases
    them (the template's objrefs set to NULLobject: NEURON deletes the point processes)."""
    d = ROOT / "destexhe_spy"
    _load_dll(h, d / "mods")
    h.load_file(str(d / "sPY.tem"))
    h.celsius = 36.0
    for m in ("inak2005", "im"):
        if hasattr(h, f"usetable_{m}"):
            setattr(h, f"usetable_{m}", 0)
    cell = h.sPY()
    if not synapses:
        h("objref fn_nil")  # hoc's NULLobject: the objrefs let go, NEURON frees them
        for name in ("ampapostPY", "ampapostTC", "gabaapost"):
            h(f"{cell.hname()}.{name} = fn_nil")
    soma = cell.soma
    out = dict(secs=[soma], mods=d / "mods", soma=(soma, 0.5), distal=(soma, 0.5),
               stim=(20.0, 200.0, 1.5), T=60.0, v_init=-70.0, keep=[cell])  # fmt: skip
    return out


MODELS = {
    "destexhe_spy": _destexhe_spy,
    "destexhe_spy_nosyn": lambda h: _destexhe_spy(h, synapses=False),
    "destexhe_tc": _destexhe_tc,
    "santhakumar_gc": lambda h: _santhakumar(h, "gc", "published"),
    "santhakumar_mc": lambda h: _santhakumar(h, "mc", "published"),
    "santhakumar_gc_nernst": lambda h: _santhakumar(h, "gc", "fixede", vecstim=True),
    "santhakumar_mc_nernst": lambda h: _santhakumar(h, "mc", "fixede"),
    "santhakumar_bc": lambda h: _santhakumar(h, "bc", "published"),
    "santhakumar_bc_nernst": lambda h: _santhakumar(h, "bc", "fixede"),
    "santhakumar_gc_fixed_e": lambda h: _santhakumar(h, "gc", "fixede", nernst=False),
}


if __name__ == "__main__":
    main(__file__, MODELS, self_check=True)
