"""`cable.from_neuron` on more published NEURON cells (issue 18, held-out checks, session
14), run as their authors wrote them.

The models' files are not in this repository: they are fetched into a folder (default
`/tmp/cells14`, or `$NEUROJAX_CELLS14`), one subfolder per model with a `SOURCES.txt`
naming the repository, path and commit of every file (docs/from_neuron.md, "Held-out
cells (session 14)"). Then

    python validation/from_neuron_heldout_s14.py [model ...]

prints one dict per model. The driver is from_neuron_published.py's `compare`: NEURON
builds the cell from the published hoc, `from_neuron` imports it as it stands, and both
simulators run the same somatic step (and the model's synapses, where it has them, driven
by a NetStim) with backward Euler in float64 and NEURON's TABLEs off. Each model is
compared at dt 0.025 ms (with NEURON against itself, amplitude × (1 + 1e-14), and
NEURON's own dt error, NEURON at 0.0025 against NEURON at 0.025) and again with both
simulators at dt 0.0025 ms (`fine`: the converged step, where NEURON's dt error is
~10× smaller), with NEURON against itself at that step too.

Models:

- `santhakumar_hipp`: Santhakumar, Aradi & Soltesz (2005)'s hilar perforant-path
  associated (HIPP) interneuron, the `HIPPCell` template of RI10sp.hoc (ModelDB 51781;
  13 sections, two per-section lists setting ichan2 differently in proximal and distal
  dendrites; ccanl writing the nca/lca/tca pools and their reversal potentials, borgka,
  nca, lca, gskch, cagk, hyperde3 with its custom ions hyf and hys), with the
  model's own GC→HIPP AMPA Exp2Syns (pre_list 0–3, on the four proximal dendrites)
  driven by a NetStim, plus a somatic step. The model's .mod files as NEURON 9 runs
  them (mods_nrn9 of the second set: `VERBATIM return 0;` removed from two INITIAL
  blocks).
- `bezaire_pvb`: Bezaire et al. (2016)'s CA1 PV+ basket cell (`pvbasketcell`): a soma
  and 16 dendrites from 3-d points, nseg by the lambda rule, ch_Navaxonp, ch_Kdrfast,
  ch_KvA, N- and (GHK) L-type Ca²⁺, SK and BK everywhere, but no Ca²⁺ pool: cai is read
  by four mechanisms and written by none (it stays at cai0_ca_ion); the template sets
  the GLOBAL `cao_iconc_Ca` of a mechanism it does not insert. `neuron_slope=True`.
- `bezaire_ngf`: Bezaire et al. (2016)'s neurogliaform cell (`ngfcell`): iconc_Ca
  writing cai everywhere, ch_Navngf and ch_Kdrfastngf inserted in the soma and, from a
  `for (x, 0)` loop, in the dendrites' segments within 100 µm (per-segment gmax there,
  the file's default elsewhere), RANGE offsets and slopes of ch_Kdrfastngf set per
  section, `offset1_ch_Navngf = …` naming no variable of ch_Navngf (hoc makes a scalar:
  nothing changes), eca 130 set over the shell's Nernst. `neuron_slope=True`.
- `destexhe_re`: Destexhe et al. (1996)'s one-compartment thalamic reticular cell (ModelDB
  3343's RE.tem, template sRE): hh2, the T current `it2` integrated by `METHOD euler`
  with its own reversal from cai/cao declared as PARAMETERs that USEION also reads, and
  `cad`; celsius 36. A depolarising step from the −90 mV rest: a burst, then spikes.
  `destexhe_re_autapse`: with the model's pointer-driven GABA-A synapse (gabaa.mod,
  GABAa_S, `POINTER pre`) set to the cell's own voltage; `destexhe_re_pointer_other`:
  set to another sRE cell's voltage, as in the network (refused, naming it).
- `solinas_grc`: Solinas et al. (2010)'s cerebellar granule cell, built by its Python
  class (GRANULE_Cell.py) with its test.py's protocol; 13 mechanisms.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from from_neuron_published import _load_dll, compare  # noqa: E402

ROOT = Path(os.environ.get("NEUROJAX_CELLS14", "/tmp/cells14"))
FINE_DT = 0.0025
_SANTHAKUMAR = ("ichan2", "nca", "lca", "cat", "ccanl", "gskch", "cagk", "borgka", "hyperde3")


def _tables_off(h, suffixes) -> None:
    for m in suffixes:
        if hasattr(h, f"usetable_{m}"):
            setattr(h, f"usetable_{m}", 0)


def _santhakumar_hipp(h):
    """The HIPP cell alone (`HIPPCell()`, NEURON's default celsius, as the second set's
    dentate cells), a 0.2 nA somatic step from 5 to 155 ms, and a NetStim (5 events
    every 20 ms from 30 ms) onto its four GC→HIPP AMPA Exp2Syns (tau 0.3/0.6 ms) with
    weights 2–5 nS and delays 1–2.5 ms."""
    d = ROOT / "santhakumar_hipp"
    _load_dll(h, d / "mods")
    if not hasattr(h, "HIPPCell"):
        h.load_file(str(d / "RI10sp_HIPPCell.hoc"))
    _tables_off(h, _SANTHAKUMAR)
    cell = h.HIPPCell()
    ns = h.NetStim()
    ns.start, ns.interval, ns.number, ns.noise = 30.0, 20.0, 5, 0
    ncs = []
    for k in range(4):
        nc = h.NetCon(ns, cell.pre_list.o(k))
        nc.weight[0], nc.delay = 2e-3 + 1e-3 * k, 1.0 + 0.5 * k
        ncs.append(nc)
    secs = list(cell.all)
    return dict(secs=secs, mods=d / "mods", soma=(cell.soma, 0.5),
                distal=(cell.hcdend1[2], 0.5), stim=(5.0, 150.0, 0.2), T=200.0,
                v_init=-70.0, neuron_slope=True, keep=[cell, ns, ncs])  # fmt: skip


def _bezaire(h, which: str, amp: float):
    """A Bezaire et al. (2016) interneuron alone (`<template>(0, 0, 0)`, numCellTypes 0:
    no synapses), a step of `amp` nA at the soma from 50 to 250 ms."""
    d = ROOT / f"bezaire_{which}"
    _load_dll(h, d / "mods")
    template = {"pvb": "pvbasketcell", "ngf": "ngfcell"}[which]
    if not hasattr(h, template):
        h("numCellTypes = 0")
        h("objref cellType[1]")
        h.load_file(str(d / f"class_{template}.hoc"))
    _tables_off(h, [p.stem for p in (d / "mods").glob("*.mod")])
    cell = getattr(h, template)(0, 0, 0)
    secs = list(cell.all)
    soma = cell.soma[0]
    return dict(secs=secs, mods=d / "mods", soma=(soma, 0.5), distal=(cell.dend[4], 0.5),
                stim=(50.0, 200.0, amp), T=300.0, v_init=-65.0, neuron_slope=True,
                keep=[cell])  # fmt: skip


def _destexhe_re(h, pointer=None):
    """The sRE cell at celsius 36, 0.1 nA from 20 to 120 ms: from its −90 mV rest (T
    current de-inactivated) a low-threshold Ca²⁺ spike crowned by Na⁺ spikes, then
    tonic spikes. (A hyperpolarising step fires no rebound here: the rest is already
    at e_pas = −90 mV.)"""
    d = ROOT / "destexhe_re"
    _load_dll(h, d / ("mods" if pointer is None else "mods_pointer"))
    if not hasattr(h, "sRE"):
        h.load_file(str(d / "RE.tem"))
    h.celsius = 36.0
    _tables_off(h, ("hh2", "it2", "cad"))
    cell = h.sRE()
    soma = cell.soma[0]
    return dict(secs=[soma], mods=d / "mods", soma=(soma, 0.5), distal=(soma, 0.5),
                stim=(20.0, 100.0, 0.1), T=250.0, v_init=-70.0, keep=[cell])  # fmt: skip


def _destexhe_re_pointer(h, target: str):
    """sRE with the model's pointer-driven GABA-A synapse (ModelDB 3343's gabaa.mod:
    GABAa_S, `POINTER pre` to a presynaptic voltage, transmitter released while pre >
    0 mV, its PROCEDURE reading dt and ending in `VERBATIM return 0; ENDVERBATIM`, a
    TABLEd FUNCTION). `target="self"`: pre set to the cell's own soma voltage (an
    autapse; `from_neuron` binds it, `v_at=`), gmax 0.02 µS. `target="other"`: pre set
    to a second sRE cell's voltage, as in the network: refused, naming the object and
    its pointer (NEURON simulates the other cell; the import cannot)."""
    out = _destexhe_re(h, pointer=target)
    d = ROOT / "destexhe_re"
    cell = out["keep"][0]
    soma = cell.soma[0]
    syn = h.GABAa_S(soma(0.5))
    syn.gmax = 0.02
    h.usetable_GABAa_S = 0
    if target == "self":
        h.setpointer(soma(0.5)._ref_v, "pre", syn)
        out["keep"] += [syn]
    else:
        other = h.sRE()
        h.setpointer(other.soma[0](0.5)._ref_v, "pre", syn)
        out["keep"] += [syn, other]
        out["refusal"] = f"{syn.hname()} in section {soma.name()}: its POINTER pre points to"
    out["mods"] = d / "mods_pointer"
    return out


def _solinas_grc(h):
    """Solinas et al. (2010)'s cerebellar granule cell built by its Python class
    (`GRANULE_Cell.py`, class Grc: one compartment with 3-d points, 13 mechanisms: Na⁺
    transient, resurgent and persistent, five K⁺ currents, Ca²⁺ HVA, a Ca²⁺ pool writing
    cai, two leaks and a Mg²⁺-blocked NMDA leak; an output NetCon from soma(1)'s v onto
    a NetStim), with its test.py's protocol: 10 pA from 100 to 600 ms, celsius 30 (set
    after the cell, over the class's 37), v_init −60. The file is Python 2 with mixed
    tabs: it is run with its tabs expanded to 8 columns (Python 2's rule), and the
    `synapse.synapse` module it imports (only `createsyn` uses it, not called here) is
    a stub; NEURON 9 refuses the keyword arguments of its `h.NetCon(..., threshold=-20,
    delay=0, weight=1)`, passed by position instead. `neuron_slope=True` (the NMDA
    leak's Mg²⁺ block is nonlinear in v)."""
    import types

    import numpy as np

    d = ROOT / "solinas_grc"
    _load_dll(h, d / "mods")
    stub = types.ModuleType("synapse.synapse")
    stub.Synapse = None
    sys.modules.setdefault("synapse", types.ModuleType("synapse"))
    sys.modules["synapse.synapse"] = stub
    text = (d / "GRANULE_Cell.py").read_text().expandtabs(8)
    # NEURON 9's NetCon takes threshold, delay, weight by position only ("invalid keyword
    # argument"): the one edit, to the output detector's NetCon
    old = "sec = self.soma, threshold=-20, delay=0, weight=1)"
    assert text.count(old) == 1, "GRANULE_Cell.py changed"
    text = text.replace(old, "-20, 0, 1, sec = self.soma)")
    ns: dict = {"__name__": "GRANULE_Cell"}
    exec(compile(text, str(d / "GRANULE_Cell.py"), "exec"), ns)
    cell = ns["Grc"](position=np.zeros(3))
    h.celsius = 30.0
    _tables_off(h, [p.stem for p in (d / "mods").glob("*.mod")])
    soma = cell.soma
    return dict(secs=[soma], mods=d / "mods", soma=(soma, 0.5), distal=(soma, 0.5),
                stim=(100.0, 500.0, 0.01), T=700.0, v_init=-60.0, neuron_slope=True,
                keep=[cell])  # fmt: skip


MODELS = {
    "santhakumar_hipp": _santhakumar_hipp,
    "bezaire_pvb": lambda h: _bezaire(h, "pvb", 0.5),
    "bezaire_ngf": lambda h: _bezaire(h, "ngf", 0.3),
    "destexhe_re": _destexhe_re,
    "destexhe_re_autapse": lambda h: _destexhe_re_pointer(h, "self"),
    "destexhe_re_pointer_other": lambda h: _destexhe_re_pointer(h, "other"),
    "solinas_grc": _solinas_grc,
}
_KEEP = ("max_dv_soma_mV", "mean_dv_soma_mV", "max_dv_distal_mV", "n_spikes", "max_dspike_ms")


def run(name: str, fine: bool = True) -> dict:
    """Model `name` at dt 0.025 ms (self and dt checks on) and, with `fine`, again with
    both simulators at FINE_DT."""
    out = compare(name, MODELS, self_check=True, dt_check=True)
    if fine and "refused" not in out:
        res = compare(name, MODELS, self_check=True, dt=FINE_DT)
        out["fine"] = {"dt_ms": FINE_DT, **{k: res[k] for k in _KEEP},
                       "neuron_vs_itself_mV": res["neuron_vs_itself_mV"]}  # fmt: skip
    return out


if __name__ == "__main__":
    import subprocess

    names = [a for a in sys.argv[1:] if not a.startswith("-")] or list(MODELS)
    fine = "--no-fine" not in sys.argv
    if len(names) == 1:
        print(run(names[0], fine), flush=True)
    else:  # one NEURON per model: their .mod files share names
        for name in names:
            subprocess.run([sys.executable, __file__, name, *([] if fine else ["--no-fine"])],
                           check=False)  # fmt: skip
