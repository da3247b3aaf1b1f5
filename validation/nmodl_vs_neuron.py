"""The NMODL importer against NEURON compiling the same `.mod` files.

One compartment (L = diam = 10 µm, cm = 1), backward Euler at dt = 0.025 ms in both
(NEURON's `secondorder = 0`), current clamp and voltage clamp. NEURON's built-in `hh` and
`pas` are compiled again from the wheel's `hh.mod`/`passive.mod` under new suffixes
(`hhx`, `pasx`), with their rate tables off (`usetable_* = 0`: exact rates).

    python validation/nmodl_vs_neuron.py      # prints max/mean |Δ| per case

`tests/test_nmodl_neuron.py` (slow tier) runs the same cases.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DT, T = 0.025, 40.0
L = DIAM = 10.0


def share_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("neuron")
    return Path(spec.origin).parent / ".data" / "share"


def mod_text(name: str) -> str:
    s = share_dir()
    for p in (s / "modfile" / name, s / "nrn" / "demo" / "release" / name):
        if p.is_file():
            return p.read_text()
    raise FileNotFoundError(name)


def renamed(text: str, old: str, new: str) -> str:
    return re.sub(rf"SUFFIX\s+{old}\b", f"SUFFIX {new}", text)


# A small kinetic scheme (closed <-> open, HH-like rates) to exercise KINETIC/sparse,
# CONSERVE and STEADYSTATE; written for this validation.
KINETIC_K = """
NEURON {
    SUFFIX kin2
    USEION k READ ek WRITE ik
    RANGE gbar
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 0.036 (S/cm2) <0,1e9> }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) a (/ms) b (/ms) celsius (degC) }
STATE { c o }
INITIAL { SOLVE kin STEADYSTATE sparse }
BREAKPOINT {
    SOLVE kin METHOD sparse
    ik = gbar*o*(v - ek)
}
KINETIC kin {
    rates(v)
    ~ c <-> o (a, b)
    CONSERVE c + o = 1
}
PROCEDURE rates(v (mV)) {
    a = 0.01*(v + 55)/(1 - exp(-(v + 55)/10))
    b = 0.125*exp(-(v + 65)/80)
}
"""


def cases() -> dict:
    """name -> (mod texts {file: text}, mechanisms [(suffix, {param: value})], celsius,
    globals to set in NEURON)."""
    hh = renamed(mod_text("hh.mod"), "hh", "hhx")
    hh_di = renamed(mod_text("hh.mod"), "hh", "hhdi").replace(
        "METHOD cnexp", "METHOD derivimplicit"
    )
    pas = renamed(mod_text("passive.mod"), "pas", "pasx")
    return {
        "hh.mod (cnexp)": ({"hhx.mod": hh}, [("hhx", {})], 6.3, {"usetable_hhx": 0}),
        "hh.mod (derivimplicit)": ({"hhdi.mod": hh_di}, [("hhdi", {})], 6.3, {"usetable_hhdi": 0}),
        "passive.mod": ({"pasx.mod": pas}, [("pasx", {"g": 0.001, "e": -65.0})], 6.3, {}),
        "nachan.mod + khhchan.mod + passive.mod": (
            {
                "nachan.mod": mod_text("nachan.mod"),
                "khhchan.mod": mod_text("khhchan.mod"),
                "pasx.mod": pas,
            },
            [("HHna", {}), ("HHk", {}), ("pasx", {"g": 0.0003, "e": -54.3})],
            16.0,
            {"usetable_HHna": 0, "usetable_HHk": 0},
        ),  # fmt: skip
        "cachan1.mod + hh.mod": (
            {"cachan1.mod": mod_text("cachan1.mod"), "hhx.mod": hh},
            [("cachan1", {"imax": 0.001}), ("hhx", {})],
            16.0,
            {"usetable_cachan1": 0, "usetable_hhx": 0},
        ),
        "kinetic (sparse, CONSERVE, STEADYSTATE) + hh Na/leak": (
            {"kin2.mod": KINETIC_K, "hhx.mod": hh},
            [("kin2", {}), ("hhx", {"gkbar": 0.0})],
            6.3,
            {"usetable_hhx": 0},
        ),
    }


# the amplitude (nA) of each current-clamp protocol; "current clamp 0.5 nA" (spikes in an
# hh compartment at 34 degC, where 0.05 nA does not reach threshold) is run only when
# asked for (`protocols(spiking=True)`: the corpus runs)
IC_AMP = {"current clamp": 0.05, "current clamp 0.5 nA": 0.5}


def protocols(spiking: bool = False):
    """name -> (i_clamp nA per step or None, v_clamp mV per step or None). NEURON's
    IClamp/SEClamp are evaluated at mid-step."""
    t = np.arange(int(round(T / DT))) * DT + DT / 2
    out = {}
    for mode, amp in IC_AMP.items():
        if spiking or mode == "current clamp":
            out[mode] = (np.where((t >= 5.0) & (t < 30.0), amp, 0.0), None)
    vclamp = np.where(t < 5.0, -65.0, np.where(t < 20.0, -10.0, -50.0))
    out["voltage clamp"] = (None, vclamp)
    return out


_NEURON_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
s = h.Section(name="soma")
s.L, s.diam, s.nseg, s.cm, s.Ra = cfg["L"], cfg["diam"], 1, 1.0, 35.4
for suffix, params in cfg["mechs"]:
    s.insert(suffix)
    for k, val in params.items():
        setattr(s(0.5), f"{k}_{suffix}", val)
for k, val in cfg["globals"].items():
    setattr(h, k, val)
h.celsius = cfg["celsius"]
if cfg["mode"].startswith("current clamp"):
    st = h.IClamp(s(0.5)); st.delay, st.dur, st.amp = 5.0, 25.0, cfg["amp"]
else:
    st = h.SEClamp(s(0.5)); st.rs = 0.01
    st.dur1, st.amp1, st.dur2, st.amp2, st.dur3, st.amp3 = 5.0, -65.0, 15.0, -10.0, 1e9, -50.0
recs = {"v": h.Vector().record(s(0.5)._ref_v)}
for suffix, names in cfg["record"].items():
    for n in names:
        recs[f"{suffix}.{n}"] = h.Vector().record(getattr(s(0.5), f"_ref_{n}_{suffix}"))
h.dt, h.secondorder = cfg["dt"], 0
h.finitialize(-65.0)
h.continuerun(cfg["T"])
np.savez(cfg["out"], **{k: np.array(r) for k, r in recs.items()})
"""


def compile_mods(texts: dict, where: Path) -> str:
    where.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (where / name).write_text(text)
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    subprocess.run([str(nrnivmodl if nrnivmodl.exists() else "nrnivmodl")], cwd=where,
                   check=True, capture_output=True)  # fmt: skip
    lib = next(where.glob("*/libnrnmech.so"), None) or next(where.glob("*/.libs/libnrnmech.so"))
    return str(lib)


def run_neuron(dll, mechs, celsius, globals_, mode, record, tmp: Path) -> dict:
    out = tmp / f"out_{abs(hash((mode, str(mechs))))}.npz"
    cfg = dict(dll=dll, mechs=mechs, celsius=celsius, globals=globals_, mode=mode, L=L,
               amp=IC_AMP.get(mode, 0.0),
               diam=DIAM, dt=DT, T=T, record=record, out=str(out))  # fmt: skip
    cfg_path = tmp / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    script = tmp / "run_neuron.py"
    script.write_text(_NEURON_SCRIPT)
    env = dict(os.environ, PYTHONPATH="")
    subprocess.run(
        [sys.executable, str(script), str(cfg_path)], check=True, capture_output=True, env=env
    )
    data = np.load(out)
    return {k: data[k][1:] for k in data.files}  # drop t = 0


def run_neurojax(texts, mechs, celsius, mode, record) -> dict:
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod
    from neurojax.solvers import BackwardEuler

    by_suffix = {}
    for name, text in texts.items():
        m = re.search(r"SUFFIX\s+(\w+)", text)
        by_suffix[m.group(1)] = (name, text)
    channels = []
    for suffix, params in mechs:
        name, text = by_suffix[suffix]
        channels.append((load_mod(text, file=name, **params), None))
    i_cl, v_cl = protocols(spiking=True)[mode]
    kw = (
        dict(clamps=[(0, 0.5)])
        if mode.startswith("current clamp")
        else dict(vclamps=[(0, 0.5)], rs_clamp=0.01)
    )
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), channels, temperature=celsius,
                v_init=-65.0, **kw)  # fmt: skip
    inputs = (
        jnp.asarray(i_cl)[:, None]
        if mode.startswith("current clamp")
        else {"v_clamp": jnp.asarray(v_cl)[:, None]}
    )
    fns = {"v": cell.record_v([(0, 0.5)])}
    for k, (suffix, _) in enumerate(mechs):
        for n in record.get(suffix, []):
            fns[f"{suffix}.{n}"] = cell.record_gate(k, n, [(0, 0.5)])
    sol = nj.simulate(cell, inputs, dt=DT, solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(v)[:, 0] for k, v in sol.states.items()}


def compare_all(tmp: Path, names=None) -> dict:
    """{(case, protocol): {trace: (max |Δ|, mean |Δ|)}}, plus the NEURON voltage range."""
    import jax

    results = {}
    all_cases = cases()
    texts = {}
    for name in names or all_cases:
        texts.update(all_cases[name][0])
    dll = compile_mods(texts, tmp / "mods")
    with jax.enable_x64(True):
        for name in names or all_cases:
            mtexts, mechs, celsius, globals_ = all_cases[name]
            from neurojax.nmodl import mod_class

            record = {}
            for fname, text in mtexts.items():
                cls = mod_class(text, file=fname)
                record[cls._spec.suffix] = list(cls._spec.state_names)
            record = {s: record[s] for s, _ in mechs}
            for mode in protocols():
                ref = run_neuron(dll, mechs, celsius, globals_, mode, record, tmp)
                ours = run_neurojax(mtexts, mechs, celsius, mode, record)
                results[(name, mode)] = {
                    k: (
                        float(np.max(np.abs(ours[k] - ref[k]))),
                        float(np.mean(np.abs(ours[k] - ref[k]))),
                    )
                    for k in ref
                } | {"_vrange": (float(ref["v"].min()), float(ref["v"].max()))}
    return results


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        res = compare_all(Path(d), sys.argv[1:] or None)
    for (name, mode), r in res.items():
        lo, hi = r.pop("_vrange")
        print(f"{name} — {mode} (NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
        for k, (mx, mean) in r.items():
            print(f"    {k:14s} max {mx:.3g}  mean {mean:.3g}")
