"""`cable.from_neuron` on a whole published cell: Hay et al. (2011)'s L5b pyramidal cell
built in NEURON (by `hay2011_cell_vs_neuron.neuron_sections`: the simplified L5
morphology, 281 compartments, its ten channel `.mod` files and calcium dynamics with
their published densities and distributions), imported from NEURON as it stands and
run by both simulators under the somatic step (0.5 nA from 10 ms, 100 ms), backward
Euler at dt 0.025 ms, float64.

Reported: spike times of both, max |ΔV| at the soma, the trunk (620 µm) and the hot zone
(785 µm), max |Δcai| there, and the largest difference from neurojax's own
`hay2011_cell` built from the same description (which validates the import against the
hand-built cell too).

    python validation/from_neuron_hay2011.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hay2011_cell_vs_neuron as H  # noqa: E402


def compare(tmp: Path, protocol: str = "step") -> dict:
    import jax
    import jax.numpy as jnp
    from neuron import h

    import neurojax as nj
    from neurojax.cable import HAY2011_DIR, from_neuron, hay2011_morphology
    from neurojax.solvers import BackwardEuler

    dll = H.compile_mods(tmp)
    h.nrn_load_dll(dll)
    morph = hay2011_morphology()
    cfg = H.neuron_config(dll, morph, protocol)
    secs = H.neuron_sections(h, cfg)
    ic = h.IClamp(secs[0](0.5))
    ic.delay, ic.dur, ic.amp = cfg["pulse"]
    h.v_init = cfg["v_init"]
    rec = {k: h.Vector().record(secs[b](x)._ref_v) for k, (b, x) in cfg["sites"].items()}
    b, x = cfg["sites"]["hot"]
    rec["cai_hot"] = h.Vector().record(secs[b](x)._ref_cai)
    with jax.enable_x64(True):
        imp = from_neuron(secs, mods=HAY2011_DIR)
    h.dt, h.secondorder = H.DT, 0
    h.finitialize(h.v_init)
    h.continuerun(cfg["T"])
    n = int(round(cfg["T"] / H.DT))
    ref = {k: np.asarray(v)[1 : n + 1] for k, v in rec.items()}

    with jax.enable_x64(True):
        cell = imp.cell
        # NEURON's sections b0, b1, … are branches in from_neuron's (breadth-first) order
        site = {k: imp.site(secs[b].name(), x) for k, (b, x) in cfg["sites"].items()}
        fns = {k: cell.record_v([s]) for k, s in site.items()}
        fns["cai_hot"] = cell.record_ion("cai", [site["hot"]])
        save = nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()})
        u = jnp.asarray(imp.inputs(n, H.DT))
        sol = nj.simulate(cell, u, dt=H.DT, solver=BackwardEuler(), saveat=save)
        got = {k: np.asarray(v, np.float64)[:, 0] for k, v in sol.states.items()}
        own = H.run_neurojax(H.neurojax_cell(morph), protocol)  # the hand-built cell
    out = {f"max_dv_{k}": float(np.max(np.abs(got[k] - ref[k]))) for k in cfg["sites"]}
    out["max_dcai_hot"] = float(np.max(np.abs(got["cai_hot"] - ref["cai_hot"])))
    out["spikes_neuron_ms"] = H.spike_times(ref["soma"]).tolist()
    out["spikes_neurojax_ms"] = H.spike_times(got["soma"]).tolist()
    out["max_dv_vs_hay2011_cell"] = float(np.max(np.abs(got["soma"] - own["v_soma"])))
    out["n_compartments"] = int(sum(br.nseg for br in cell.morphology.branches))
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        print(compare(Path(d)))
