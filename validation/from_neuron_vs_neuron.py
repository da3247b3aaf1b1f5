"""`cable.from_neuron` against NEURON: a cell built in NEURON, imported as it stands,
simulated by both.

The cell (built here with NEURON's Python API, as a published model's script would): a
soma with 3-d points carrying NEURON's `hh`; a 3-section dendrite attached at soma(0.5)
and at the soma's 1 end, with the `.mod` files shipped in the `neuron` wheel (`HHna`,
`HHk`, `cachan1`, `capump`) and a calcium pool written here from its equation
(`cai' = −ica·k − (cai − cainf)/τ`, which makes `cai` a state and `eca` Nernst's), `pas`
with a conductance that varies per segment, a second `Ra` and `cm`, `celsius = 16`,
`v_init = −60`, two `IClamp`s. NEURON runs backward Euler (its default) at dt 0.025 ms
with `usetable_* = 0` (neurojax's rates are exact); neurojax runs `BackwardEuler` in
float64 on `from_neuron`'s cell and `NeuronCell.inputs`. Reported: max |ΔV| at three
sites and of `cai`, in mV / mM.

    python validation/from_neuron_vs_neuron.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DT = 0.025
T_END = 60.0

# a first-order Ca²⁺ pool (written here from its equation; Destexhe-style decay)
CAPOOL_MOD = """NEURON { SUFFIX capool USEION ca READ ica WRITE cai RANGE tau, cainf, depth }
UNITS { (mM) = (milli/liter) (mA) = (milliamp) FARADAY = (faraday) (coulomb) }
PARAMETER { tau = 20 (ms) cainf = 5e-5 (mM) depth = 0.1 (um) }
ASSIGNED { ica (mA/cm2) }
STATE { cai (mM) }
INITIAL { cai = cainf }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { cai' = -(10000) * ica / (2 * FARADAY * depth) - (cai - cainf) / tau }
"""

WHEEL = ("nachan.mod", "khhchan.mod", "cachan1.mod", "capump.mod")


def wheel_mod(name: str) -> Path:
    import importlib.util

    share = Path(importlib.util.find_spec("neuron").origin).parent / ".data" / "share"
    for p in (share / "modfile" / name, share / "nrn" / "demo" / "release" / name):
        if p.is_file():
            return p
    raise FileNotFoundError(f"{name} is not in the installed neuron wheel under {share}")


def compile_mods(where: Path) -> list[Path]:
    """The wheel's files and the pool, copied to `where` and compiled by nrnivmodl."""
    where.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in WHEEL:
        p = where / name
        p.write_text(wheel_mod(name).read_text())
        paths.append(p)
    (where / "capool.mod").write_text(CAPOOL_MOD)
    paths.append(where / "capool.mod")
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    subprocess.run([str(nrnivmodl if nrnivmodl.exists() else "nrnivmodl")], cwd=where,
                   check=True, capture_output=True)  # fmt: skip
    return paths


def build(h):
    """The cell in NEURON (sections named soma, dend[0..2]); returns the recording
    sites as (section, x) and the IClamps."""
    h.load_file("stdrun.hoc")
    soma = h.Section(name="soma")
    for x, d in ((0, 12), (8, 18), (16, 20), (24, 14)):
        h.pt3dadd(x, 0, 0, d, sec=soma)
    soma.nseg = 3
    d0 = h.Section(name="d0")
    d1 = h.Section(name="d1")
    d2 = h.Section(name="d2")
    d0.connect(soma(0.5), 0)
    d1.connect(d0(1), 0)
    d2.connect(soma(1), 0)
    for sec, L, diam, nseg in ((d0, 150, 3, 5), (d1, 200, 1.5, 7), (d2, 80, 2, 3)):
        sec.L, sec.diam, sec.nseg = L, diam, nseg
    soma.Ra, soma.cm = 150.0, 1.0
    for sec in (d0, d1, d2):
        sec.Ra, sec.cm = 100.0, 2.0
    soma.insert("hh")
    for sec in (d0, d1):
        for m in ("HHna", "HHk", "pas", "cachan1", "capump", "capool"):
            sec.insert(m)
        for seg in sec:
            seg.HHna.gnabar = 0.04 * (1 - 0.5 * seg.x)
            seg.HHk.gkbar = 0.012
            seg.pas.g = 1e-4 * (1 + seg.x)
            seg.pas.e = -65.0
            seg.cachan1.imax = 0.05
            seg.capump.vmax = 1e-4
    d2.insert("pas")
    d2.g_pas, d2.e_pas = 3e-4, -62.0
    h.celsius = 16.0
    h.v_init = -60.0
    for s in ("hh", "HHna", "HHk", "cachan1"):
        if hasattr(h, f"usetable_{s}"):
            setattr(h, f"usetable_{s}", 0)
    stims = []
    for seg, (delay, dur, amp) in ((soma(0.5), (5.0, 30.0, 1.2)), (d1(0.8), (20.0, 25.0, 0.4))):
        st = h.IClamp(seg)
        st.delay, st.dur, st.amp = delay, dur, amp
        stims.append(st)
    sites = {"soma": (soma, 0.5), "d0": (d0, 0.3), "d1": (d1, 0.8)}
    return dict(sections=[soma, d0, d1, d2], sites=sites, stims=stims, cai=(d1, 0.5))


def run_neuron(h, model) -> dict:
    h.dt, h.steps_per_ms = DT, 1.0 / DT
    recs = {k: h.Vector().record(sec(x)._ref_v) for k, (sec, x) in model["sites"].items()}
    sec, x = model["cai"]
    recs["cai"] = h.Vector().record(sec(x)._ref_cai)
    h.finitialize(h.v_init)
    h.continuerun(T_END)
    n = int(round(T_END / DT))
    return {k: np.asarray(v)[1 : n + 1] for k, v in recs.items()}


def run_neurojax(imported, model) -> dict:
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.solvers import BackwardEuler

    with jax.enable_x64(True):
        cell = imported.cell
        sites = {k: imported.site(sec.name(), x) for k, (sec, x) in model["sites"].items()}
        fns = {k: cell.record_v([s]) for k, s in sites.items()}
        sec, x = model["cai"]
        fns["cai"] = cell.record_ion("cai", [imported.site(sec.name(), x)])
        n = int(round(T_END / DT))
        save = nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()})
        u = jnp.asarray(imported.inputs(n, DT))
        sol = nj.simulate(cell, u, dt=DT, solver=BackwardEuler(), saveat=save)
        return {k: np.asarray(v, np.float64)[:, 0] for k, v in sol.states.items()}


def compare(tmp: Path) -> dict:
    from neuron import h

    from neurojax.cable import from_neuron

    paths = compile_mods(tmp)
    lib = next(tmp.glob("*/libnrnmech.so"), None) or next(tmp.glob("*/.libs/libnrnmech.so"))
    h.nrn_load_dll(str(lib))
    model = build(h)
    import jax

    with jax.enable_x64(True):  # float64 parameters, as the comparison at round-off needs
        imported = from_neuron(model["sections"], mods=paths)
    ref = run_neuron(h, model)
    got = run_neurojax(imported, model)
    return {k: float(np.max(np.abs(got[k] - ref[k]))) for k in ref} | {
        "soma_peak_mV": float(ref["soma"].max()),
        "d1_peak_mV": float(ref["d1"].max()),
        "cai_peak_mM": float(ref["cai"].max()),
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        print(compare(Path(d)))
