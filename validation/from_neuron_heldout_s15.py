"""`cable.from_neuron` on one more published NEURON cell (issue 18, held-out checks,
session 15), run as its authors wrote it, built from the eighth corpus's mechanisms.

The model's files are not in this repository: they are fetched into a folder (default
`/tmp/cells15`, or `$NEUROJAX_CELLS15`), one subfolder per model with a `SOURCES.txt`
naming the repository, path and commit of every file (docs/nmodl.md, "An eighth corpus
(session 15)"). Then

    python validation/from_neuron_heldout_s15.py [model ...]

prints one dict per model: session 14's driver (`from_neuron_heldout_s14.run`, on
from_neuron_published.py's `compare`): NEURON builds the cell from the published hoc,
`from_neuron` imports it as it stands, both run the same somatic step with backward
Euler in float64, at dt 0.025 ms (with NEURON against itself, amplitude × (1 + 1e-14),
and NEURON's own dt error) and again at dt 0.0025 ms.

Models:

- `durstewitz_ib`: Durstewitz & Gabriel (2006)'s prefrontal intrinsically bursting cell
  (ModelDB 82784, IB.tem's `IBcell`): a soma and a 650 µm dendrite, each with Naf, Nap,
  Kdr, HVA, Kc, Ks (the K⁺ channels computing their own `ek = 25*log(ko/ki)` from the
  concentrations), the Ca²⁺ pool `cadyn` (CAF, tc set per section), `kdyn` writing ko
  from ik everywhere, pas with cm and g_pas scaled in the dendrite, and the template
  setting `cao0_ca_ion`, `cai0_ca_ion`, `ko0_k_ion`, `ki0_k_ion` after the inserts. A 0.5
  nA somatic step from 50 to 450 ms.
- `durstewitz_ib_nmda`: the same with the dendrite's constant NMDA conductance (`nmdac`,
  its Mg²⁺ block nonlinear in v) set to 0.5 mS/cm² (the template's value is 0) and a 0.2
  nA step; `neuron_slope=True`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import from_neuron_heldout_s14 as s14  # noqa: E402
from from_neuron_published import _load_dll  # noqa: E402

ROOT = Path(os.environ.get("NEUROJAX_CELLS15", "/tmp/cells15"))
_DURSTEWITZ = ("Naf", "Nap", "Kdr", "HVA", "Kc", "Ks", "cadyn", "kdyn", "nmdac")


def _durstewitz_ib(h, nmda: float = 0.0, amp: float = 0.5):
    """IBcell() as published (NEURON's default celsius: no rate here reads it), a step of
    `amp` nA at the soma from 50 to 450 ms; `nmda`: the dendrite's gNMDAcbar_nmdac
    (mho/cm²)."""
    d = ROOT / "durstewitz_ib"
    _load_dll(h, d / "mods")
    if not hasattr(h, "IBcell"):
        h.load_file(str(d / "IB.tem"))
    s14._tables_off(h, _DURSTEWITZ)
    cell = h.IBcell()
    if nmda:
        cell.dend.gNMDAcbar_nmdac = nmda
    return dict(secs=[cell.soma, cell.dend], mods=d / "mods", soma=(cell.soma, 0.5),
                distal=(cell.dend, 0.5), stim=(50.0, 400.0, amp), T=600.0, v_init=-70.0,
                neuron_slope=bool(nmda), keep=[cell])  # fmt: skip


MODELS = {
    "durstewitz_ib": _durstewitz_ib,
    "durstewitz_ib_nmda": lambda h: _durstewitz_ib(h, nmda=5e-4, amp=0.2),
}


def run(name: str, fine: bool = True) -> dict:
    """Session 14's `run` over this file's MODELS."""
    s14.MODELS = MODELS
    return s14.run(name, fine)


if __name__ == "__main__":
    import subprocess

    names = [a for a in sys.argv[1:] if not a.startswith("-")] or list(MODELS)
    fine = "--no-fine" not in sys.argv
    if len(names) == 1:
        print(run(names[0], fine), flush=True)
    else:  # one NEURON per model
        for name in names:
            subprocess.run([sys.executable, __file__, name, *([] if fine else ["--no-fine"])],
                           check=False)  # fmt: skip
