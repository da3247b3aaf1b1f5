"""Ion pools and concentrations against NEURON compiling the same `.mod` files.

One compartment (L = diam = 10 µm), backward Euler (`secondorder = 0`) at dt = 0.025 ms
in both, current clamp and voltage clamp (the protocols of `nmodl_vs_neuron.py`). The
cases exercise NEURON's ion rules (`nrn_promote`):

- Hay et al.'s Ca_HVA (reads eca, writes ica) + CaDynamics_E2 (reads the total ica,
  writes cai: a state) + SK_E2 (reads cai) + hh: eca by Nernst from cai every step, a
  Ca-activated K current through the shared pool, `ek` given (−80 mV);
- camchan.mod (GHK current from cai/cao) + capump.mod (reads cai, writes ica) +
  CaDynamics_E2 + hh: two Ca currents summed into the ica the pool reads;
- Ca_HVA + a Ca shell reading `diam` (written here) + SK_E2 + hh, `cao` given (3 mM);
- nacaex.mod (reads eca and ena) + cachan1.mod (reads cai, cao) + hh: eca computed by
  Nernst at 16 °C because a concentration is read (not NEURON's 132.46 mV default),
  `ena` given (55 mV).

The neurojax mechanisms are listed in NEURON's order of evaluation (`memb_order_`): the
mechanisms that write a concentration first (in reverse registration order), then the
others in registration order (asked from NEURON) — it sets the order of the INITIALs and
of the state updates.

    python validation/nmodl_ions_vs_neuron.py     # prints max/mean |Δ| per case

`tests/test_nmodl_ions_neuron.py` (slow tier) runs the same cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
HAY = HERE.parent / "neurojax" / "cable" / "data" / "hay2011"

sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import nmodl_vs_neuron as base  # noqa: E402

DT, T, L, DIAM = base.DT, base.T, base.L, base.DIAM


def hay(name: str) -> str:
    return (HAY / name).read_text()


# A Ca2+ pool in a shell of `depth` under the membrane of a cylinder of diameter `diam`
# (volume/area = depth·(diam − depth)/diam), written for this validation: reads diam.
CA_SHELL = """
NEURON { SUFFIX cashell  USEION ca READ ica WRITE cai  RANGE tau, cainf, depth }
UNITS {
    (mM) = (milli/liter) (mA) = (milliamp) (um) = (micron) FARADAY = (faraday) (coulomb)
}
PARAMETER { tau = 50 (ms) cainf = 1e-4 (mM) depth = 0.5 (um) }
ASSIGNED { ica (mA/cm2) diam (um) }
STATE { cai (mM) }
INITIAL { cai = cainf }
BREAKPOINT { SOLVE st METHOD cnexp }
DERIVATIVE st {
    cai' = -(1e4)*ica*diam/(2*FARADAY*depth*(diam - depth)) - (cai - cainf)/tau
}
"""


def cases() -> dict:
    """name -> (mod texts {file: text}, mechanisms [(suffix, {param: value})], celsius,
    NEURON globals, ion values {name: value})."""
    hh = base.renamed(base.mod_text("hh.mod"), "hh", "hhx")
    return {
        "Ca_HVA + CaDynamics_E2 + SK_E2 + hh": (
            {"Ca_HVA.mod": hay("Ca_HVA.mod"), "CaDynamics_E2.mod": hay("CaDynamics_E2.mod"),
             "SK_E2.mod": hay("SK_E2.mod"), "hhx.mod": hh},
            [("Ca_HVA", {"gCa_HVAbar": 0.002}), ("CaDynamics_E2", {}),
             ("SK_E2", {"gSK_E2bar": 0.003}), ("hhx", {})],
            16.0, {"usetable_hhx": 0}, {"ek": -80.0},
        ),
        "camchan + capump + CaDynamics_E2 + hh": (
            {"camchan.mod": base.mod_text("camchan.mod"), "capump.mod": base.mod_text("capump.mod"),
             "CaDynamics_E2.mod": hay("CaDynamics_E2.mod"), "hhx.mod": hh},
            [("cachan", {"pcabar": 2e-5}), ("capump", {"vmax": 0.002}),
             ("CaDynamics_E2", {"gamma": 0.2}), ("hhx", {})],
            16.0, {"usetable_hhx": 0, "usetable_cachan": 0}, {},
        ),
        "Ca_HVA + cashell (reads diam) + SK_E2 + hh": (
            {"Ca_HVA.mod": hay("Ca_HVA.mod"), "cashell.mod": CA_SHELL,
             "SK_E2.mod": hay("SK_E2.mod"), "hhx.mod": hh},
            [("Ca_HVA", {"gCa_HVAbar": 0.002}), ("cashell", {}),
             ("SK_E2", {"gSK_E2bar": 0.003}), ("hhx", {})],
            16.0, {"usetable_hhx": 0}, {"ek": -80.0, "cao": 3.0},
        ),
        "nacaex + cachan1 + hh (eca by Nernst at 16 degC)": (
            {"nacaex.mod": base.mod_text("nacaex.mod"), "cachan1.mod": base.mod_text("cachan1.mod"),
             "hhx.mod": hh},
            [("nacax", {"k": 0.001}), ("cachan1", {"imax": 0.001}), ("hhx", {})],
            16.0, {"usetable_hhx": 0, "usetable_cachan1": 0}, {"ena": 55.0},
        ),
    }  # fmt: skip


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
for k, val in cfg["ions"].items():
    setattr(s, k, val)
    if k[-1] in "io":  # the initial value where a mechanism writes it (NEURON's cinit)
        setattr(h, f"{k}0_{k[:-1]}_ion", val)
h.celsius = cfg["celsius"]
# the registration order of the inserted mechanisms (the order of NEURON's state updates)
mt = h.MechanismType(0)
names = []
for i in range(int(mt.count())):
    mt.select(i)
    sd = h.ref("")
    mt.selected(sd)
    names.append(sd[0])
order = [n for n in names if n in {m for m, _ in cfg["mechs"]}]
if cfg["mode"] == "current clamp":
    st = h.IClamp(s(0.5)); st.delay, st.dur, st.amp = 5.0, 25.0, 0.05
else:
    st = h.SEClamp(s(0.5)); st.rs = 0.01
    st.dur1, st.amp1, st.dur2, st.amp2, st.dur3, st.amp3 = 5.0, -65.0, 15.0, -10.0, 1e9, -50.0
recs = {"v": h.Vector().record(s(0.5)._ref_v)}
for suffix, names_ in cfg["record"].items():
    for n in names_:
        recs[f"{suffix}.{n}"] = h.Vector().record(getattr(s(0.5), f"_ref_{n}_{suffix}"))
for n in cfg["record_ions"]:
    recs[n] = h.Vector().record(getattr(s(0.5), f"_ref_{n}"))
h.dt, h.secondorder = cfg["dt"], 0
h.finitialize(-65.0)
e_init = {k: getattr(s(0.5), k) for k in ("ena", "ek", "eca") if hasattr(s(0.5), k)}
h.continuerun(cfg["T"])
np.savez(cfg["out"], **{k: np.array(r) for k, r in recs.items()})
json.dump({"order": order, "e_init": e_init}, open(cfg["out"] + ".json", "w"))
"""


def run_neuron(dll, mechs, celsius, globals_, ions, mode, record, record_ions, tmp: Path):
    out = tmp / f"ions_{abs(hash((mode, str(mechs))))}.npz"
    cfg = dict(dll=dll, mechs=mechs, celsius=celsius, globals=globals_, ions=ions, mode=mode,
               L=L, diam=DIAM, dt=DT, T=T, record=record, record_ions=record_ions,
               out=str(out))  # fmt: skip
    cfg_path = tmp / "cfg_ions.json"
    cfg_path.write_text(json.dumps(cfg))
    script = tmp / "run_neuron_ions.py"
    script.write_text(_NEURON_SCRIPT)
    env = dict(os.environ, PYTHONPATH="")
    subprocess.run(
        [sys.executable, str(script), str(cfg_path)], check=True, capture_output=True, env=env
    )
    data = np.load(out)
    meta = json.loads(Path(str(out) + ".json").read_text())
    return {k: data[k][1:] for k in data.files}, meta


def run_neurojax(texts, mechs, celsius, ions, mode, record, record_ions):
    import re

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
    i_cl, v_cl = base.protocols()[mode]
    kw = (
        dict(clamps=[(0, 0.5)])
        if mode == "current clamp"
        else dict(vclamps=[(0, 0.5)], rs_clamp=0.01)
    )
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), channels, temperature=celsius,
                v_init=-65.0, ions=ions, **kw)  # fmt: skip
    inputs = (
        jnp.asarray(i_cl)[:, None]
        if mode == "current clamp"
        else {"v_clamp": jnp.asarray(v_cl)[:, None]}
    )
    fns = {"v": cell.record_v([(0, 0.5)])}
    for k, (suffix, _) in enumerate(mechs):
        for n in record.get(suffix, []):
            fns[f"{suffix}.{n}"] = cell.record_gate(k, n, [(0, 0.5)])
    for n in record_ions:
        fns[n] = cell.record_ion(n, [(0, 0.5)])
    sol = nj.simulate(cell, inputs, dt=DT, solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(v)[:, 0] for k, v in sol.states.items()}, cell


def compare_all(tmp: Path, names=None, all_cases=None) -> dict:
    """{(case, protocol): {trace: (max |Δ|, mean |Δ|)}} plus NEURON's voltage range
    (`_vrange`) and initial reversal potentials against ours (`_e_init`). `all_cases`:
    another dict shaped as `cases()`'s."""
    import jax

    from neurojax.nmodl import mod_class

    all_cases = all_cases or cases()
    texts = {}
    for name in names or all_cases:
        texts.update(all_cases[name][0])
    dll = base.compile_mods(texts, tmp / "mods")
    results = {}
    with jax.enable_x64(True):
        for name in names or all_cases:
            mtexts, mechs, celsius, globals_, ions = all_cases[name]
            record, pools, writers = {}, set(), set()
            for fname, text in mtexts.items():
                spec = mod_class(text, file=fname)._spec
                record[spec.suffix] = [n for n in spec.state_names if n not in spec.pool]
                pools |= set(spec.pool)
                if spec.pool:
                    writers.add(spec.suffix)
            record = {s: record[s] for s, _ in mechs}
            record_ions = sorted(pools)
            for mode in base.protocols():
                ref, meta = run_neuron(dll, mechs, celsius, globals_, ions, mode, record,
                                       record_ions, tmp)  # fmt: skip
                # NEURON's memb_order_ (nrn_writes_conc): the mechanisms writing a
                # concentration first, in reverse registration order, then the others
                reg = meta["order"]
                ordered = sorted(mechs, key=lambda m: (0, -reg.index(m[0]))
                                 if m[0] in writers else (1, reg.index(m[0])))  # fmt: skip
                ours, cell = run_neurojax(mtexts, ordered, celsius, ions, mode, record,
                                          record_ions)  # fmt: skip
                r = {
                    k: (
                        float(np.max(np.abs(ours[k] - ref[k]))),
                        float(np.mean(np.abs(ours[k] - ref[k]))),
                    )
                    for k in ref
                }
                r["_vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
                y0 = cell.init_state()  # after the INITIAL blocks, as NEURON's finitialize
                pool = cell._ion_pool(y0.v, y0.ions)
                c = cell.node(0, 0.5)
                r["_e_init"] = {
                    k: (v, float(pool.x[k][c])) for k, v in meta["e_init"].items() if k in pool.x
                }
                results[(name, mode)] = r
    return results


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        res = compare_all(Path(d), sys.argv[1:] or None)
    for (name, mode), r in res.items():
        lo, hi = r.pop("_vrange")
        e = r.pop("_e_init")
        print(f"{name} — {mode} (NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
        print("    e at init (NEURON, neurojax):", {k: (round(a, 6), round(b, 6)) for k, (a, b) in e.items()})  # noqa: E501
        for k, (mx, mean) in r.items():
            print(f"    {k:22s} max {mx:.3g}  mean {mean:.3g}")


def store_reference(path: Path) -> None:
    """The stored NEURON reference of `tests/test_nmodl_ions.py`: the first case under
    current clamp, V, cai and SK_E2's z every 0.5 ms, NEURON's mechanism order and eca.

        store_reference(Path("tests/data/nmodl/ions_hay_ca_sk_hh_iclamp.npz"))
    """
    name = "Ca_HVA + CaDynamics_E2 + SK_E2 + hh"
    texts, mechs, celsius, globals_, ions = cases()[name]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        dll = base.compile_mods(texts, d / "mods")
        ref, meta = run_neuron(dll, mechs, celsius, globals_, ions, "current clamp",
                               {"SK_E2": ["z"]}, ["cai"], d)  # fmt: skip
    every = 20  # 0.5 ms
    np.savez_compressed(path, v=ref["v"][every - 1 :: every], cai=ref["cai"][every - 1 :: every],
                        z=ref["SK_E2.z"][every - 1 :: every], order=np.array(meta["order"]),
                        eca_init=meta["e_init"]["eca"])  # fmt: skip
