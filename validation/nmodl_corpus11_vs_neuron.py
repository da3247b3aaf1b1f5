"""A fourth corpus of published `.mod` files (session 11) against NEURON compiling them.

The files are others' code and are never committed: they are read from a local copy,
`$NJ_CORPUS11` (default `/tmp/corpus11`; its `SOURCES.md` names each file's repository,
path and commit). A missing corpus skips everything (the slow test says so).

Setting (the same as the earlier corpora's, `docs/nmodl.md`): one compartment (L = diam =
10 µm, cm = 1) with the wheel's hh.mod renamed `hhx` (tables off), 34 °C, backward Euler
(`secondorder = 0`) at dt = 0.025 ms for 40 ms, float64, every file's TABLEs off
(`usetable_<suffix> = 0`); density mechanisms under current clamp 0.05 nA and 0.5 nA
(5–30 ms) and voltage clamp (−65 → −10 → −50 mV, rs 0.01 MΩ: `nmodl_vs_neuron`'s
protocols), with a Ca source or pool where the file reads one; point processes driven by
one NetCon's events on the dt grid (delay 1 ms) or by their own parameters.

Cases whose current is nonlinear in v (GHK) are also run with `with_neuron_slope` (the
same mechanism linearised by NEURON's 0.001 mV difference): the rows "(NEURON's
slope)". Files NEURON 9 cannot compile and files the importer refuses are listed in
`IMPORT_ONLY` with the message expected.

    python validation/nmodl_corpus11_vs_neuron.py [case ...]   # max |Δ| per case

`tests/test_nmodl_corpus11_neuron.py` (slow tier) runs it.
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

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import _corpus_common as common  # noqa: E402
import nmodl_vs_neuron as base  # noqa: E402

DT, T, L, DIAM = base.DT, base.T, base.L, base.DIAM
CELSIUS = 34.0
DELAY = 1.0  # ms, the NetCon delay
CORPUS = Path(os.environ.get("NJ_CORPUS11", "/tmp/corpus11"))

# Written here (not a corpus file), from the equations of Kager et al. (2000)'s Na/K
# pump (the corpus's nakpump.mod, a POINT_PROCESS reading diam, is refused): a density
# mechanism whose currents are assigned only in its KINETIC block and INITIAL, as in
# the published file — NEURON's nrn_cur adds the value the last state update left.
# pump current ~ (1 + km_k/ko)^-2 (1 + km_na/nai)^-3; 3 Na out per 2 K in.
PUMP_MOD = """
NEURON {
    SUFFIX kagerpump
    USEION k READ ko WRITE ik
    USEION na READ nai WRITE ina
    RANGE imax, qna
}
UNITS { (mA) = (milliamp) (mM) = (milli/liter) }
PARAMETER { imax = 0.02 (mA/cm2) km_k = 2 (mM) km_na = 10 (mM) }
ASSIGNED { ik (mA/cm2) ina (mA/cm2) ko (mM) nai (mM) }
STATE { qna }
INITIAL {
    qna = 0
    ik = -2*imax*pump(nai, ko)
    ina = -1.5*ik
}
BREAKPOINT { SOLVE integrate METHOD sparse }
KINETIC integrate {
    ik = -2*imax*pump(nai, ko)
    ina = -1.5*ik
    ~ qna << (-ina)
}
FUNCTION pump(na (mM), k (mM)) {
    pump = 1/((1 + km_k/k)*(1 + km_k/k)) / ((1 + km_na/na)*(1 + km_na/na)*(1 + km_na/na))
}
"""
WRITTEN = {"kagerpump.mod": PUMP_MOD}
# corpus files run with one change NEURON needs: MyExp2SynBB.mod is THREADSAFE and
# writes its GLOBAL `total` in NET_RECEIVE, and NEURON 9 then crashes (segmentation
# fault) at the first event; without THREADSAFE it runs (neurojax imports both alike)
DERIVED = {
    "MyExp2SynBB_nothreadsafe.mod": ("MyExp2SynBB.mod", r"^\s*THREADSAFE\s*$", ""),
    # (m1_mergenthal.mod and kmb_inh.mod, valence-0 "ions", ran here as valence-1 copies
    # until `channels.nernst` gave NEURON's 0 mV for z = 0: now run as published)
}

# name -> dict(files=[corpus files], mechs=[(suffix, {param: value})] in NEURON's
# memb_order_ (concentration writers first), pps=[(name, {param}, event times, weight)],
# ions={NEURON ion global: value} (set in both), nj_ions={neurojax ions= value} (NEURON's
# defaults a Cell asks for), celsius=°C (default CELSIUS), texts={file: text} (a case's
# own text), slope=[suffixes linearised as NEURON],
# record={suffix or pp index: [states]}, protocols=subset of the three)
CASES = {
    "cadiff_polegpolsky (+ calrgc)": dict(
        files=["cadiff_polegpolsky.mod", "calRGC.mod"],
        mechs=[("cadiff", {}), ("calrgc", {"gbar": 0.002}), ("hhx", {})],
        record={"cadiff": ["cai"], "calrgc": ["m"]},
    ),
    "cadiff_nicoletti (+ calrgc)": dict(
        files=["cadiff_nicoletti.mod", "calRGC.mod"],
        mechs=[("cadiffn", {}), ("calrgc", {"gbar": 0.002}), ("hhx", {})],
        record={"cadiffn": ["ca"], "calrgc": ["m"]},
    ),
    "slo1iso (+ cadiff, calrgc)": dict(
        files=["slo1iso.mod", "cadiff_polegpolsky.mod", "calRGC.mod"],
        mechs=[
            ("cadiff", {}),
            ("calrgc", {"gbar": 0.002}),
            ("slo1iso", {"gbar": 0.01}),
            ("hhx", {}),
        ],
        record={"slo1iso": ["m"], "cadiff": ["cai"]},
    ),
    "egl19": dict(
        files=["egl19.mod"],
        mechs=[("egl19", {"gbar": 0.002}), ("hhx", {})],
        record={"egl19": ["m", "h"]},
    ),
    "m1_mergenthal (ACh valence 0, as published)": dict(
        files=["m1_mergenthal.mod"],
        mechs=[("m1", {}), ("hhx", {})],
        ions={"AChi0_ACh_ion": 0.001},
        record={"m1": ["m", "R", "RLA", "G", "PIP2", "KCNQ", "PIP2_KCNQ"]},
    ),
    "xiong": dict(
        files=["xiong.mod"], mechs=[("xiong", {"g": 1e-4}), ("hhx", {})], record={"xiong": ["m"]}
    ),
    "kdrglia": dict(
        files=["kdrglia.mod"],
        mechs=[("kdrglia", {"gkbar": 0.01}), ("hhx", {})],
        record={"kdrglia": ["n", "c", "qk"]},
    ),
    "taccumulation3 (hh's ina, ik)": dict(
        files=["taccumulation3.mod"],
        mechs=[("taccumulation3", {}), ("hhx", {})],
        record={"taccumulation3": ["nai", "ki"]},
    ),
    "calRGC": dict(
        files=["calRGC.mod"],
        mechs=[("calrgc", {"gbar": 0.002}), ("hhx", {})],
        record={"calrgc": ["m"]},
    ),
    "cal2_mergenthal (GHK, + cadiff)": dict(
        files=["cal2_mergenthal.mod", "cadiff_polegpolsky.mod"],
        mechs=[("cadiff", {}), ("cal", {"gcalbar": 0.003}), ("hhx", {})],
        record={"cal": ["m"], "cadiff": ["cai"]},
    ),
    "cal2_mergenthal (GHK, + cadiff; NEURON's slope)": dict(
        files=["cal2_mergenthal.mod", "cadiff_polegpolsky.mod"],
        mechs=[("cadiff", {}), ("cal", {"gcalbar": 0.003}), ("hhx", {})],
        slope=["cal"],
        record={"cal": ["m"], "cadiff": ["cai"]},
    ),
    "kmb_inh (kcnq, pip2_kcnq charge 0, as published)": dict(
        files=["kmb_inh.mod"],
        mechs=[("kmb_inh", {"gbar": 0.001}), ("hhx", {})],
        ions={"kcnqi0_kcnq_ion": 1.0, "pip2_kcnqi0_pip2_kcnq_ion": 1.6},
        record={"kmb_inh": ["m"]},
    ),
    "caintra1 (+ egl19)": dict(
        files=["caintra1.mod", "egl19.mod"],
        mechs=[("egl19", {"gbar": 0.002}), ("caintra1", {}), ("hhx", {})],
        record={"caintra1": ["caintra"], "egl19": ["m"]},
    ),
    "shl1": dict(
        files=["shl1.mod"],
        mechs=[("shl1", {"gbar": 0.01}), ("hhx", {})],
        record={"shl1": ["m", "hs", "hf"]},
    ),
    "exp2_nicoletti": dict(
        files=["exp2_nicoletti.mod"],
        mechs=[("exp2", {"gbar": 0.01}), ("hhx", {})],
        record={"exp2": ["m", "h"]},
    ),
    "irk": dict(
        files=["irk.mod"], mechs=[("irk", {"gbar": 0.001}), ("hhx", {})], record={"irk": ["m"]}
    ),
    "unc2": dict(
        files=["unc2.mod"],
        mechs=[("unc2", {"gbar": 0.002}), ("hhx", {})],
        record={"unc2": ["m", "h"]},
    ),
    "kqt1": dict(
        files=["kqt1.mod"],
        mechs=[("kqt1", {"gbar": 0.01}), ("hhx", {})],
        record={"kqt1": ["m", "s"]},
    ),
    "cdp5_filipis (+ calrgc)": dict(
        files=["cdp5_filipis.mod", "calRGC.mod"],
        mechs=[("cdp5", {}), ("calrgc", {"gbar": 0.002}), ("hhx", {})],
        record={"cdp5": ["ca", "CB", "PV_ca", "pump", "BTC_ca"]},
    ),
    "kagerpump, written here (+ taccumulation3 writing nai, ki)": dict(
        files=["kagerpump.mod", "taccumulation3.mod"],
        mechs=[("taccumulation3", {}), ("kagerpump", {}), ("hhx", {})],
        record={"kagerpump": ["qna"], "taccumulation3": ["nai", "ki"]},
    ),
    "Ca_Accum_milstein (+ calrgc)": dict(
        files=["Ca_Accum_milstein.mod", "calRGC.mod"],
        mechs=[("Cacum", {}), ("calrgc", {"gbar": 0.002}), ("hhx", {})],
        record={"Cacum": ["cai"]},
    ),
    "cat_milstein (a dummy ion Ca, GHK)": dict(
        files=["cat_milstein.mod"],
        mechs=[("cat", {"gcatbar": 0.001}), ("hhx", {})],
        record={"cat": ["m", "h"]},
    ),
    "cat_milstein (a dummy ion Ca, GHK; NEURON's slope)": dict(
        files=["cat_milstein.mod"],
        mechs=[("cat", {"gcatbar": 0.001}), ("hhx", {})],
        slope=["cat"],
        record={"cat": ["m", "h"]},
    ),
    "kir_kager (reads nao, clo)": dict(
        files=["kir_kager.mod"],
        mechs=[("kir", {"gbar": 0.002}), ("hhx", {})],
        ions={"clo0_cl_ion": 130.0, "cli0_cl_ion": 10.0},
        record={"kir": ["qk"]},
    ),
    "kir_kager (reads nao, clo; NEURON's slope)": dict(
        files=["kir_kager.mod"],
        mechs=[("kir", {"gbar": 0.002}), ("hhx", {})],
        ions={"clo0_cl_ion": 130.0, "cli0_cl_ion": 10.0},
        slope=["kir"],
        record={"kir": ["qk"]},
    ),
    # point processes
    "SynVec (a constant conductance)": dict(
        files=["SynVec.mod"],
        mechs=[("hhx", {})],
        pps=[("SynVec", {"g": 2.0, "e": -20.0}, None, None)],
        record={0: ["g"]},
        protocols=["current clamp", "current clamp 0.5 nA"],
    ),
    "Hzclamp (pulses at_time, after_cvode)": dict(
        files=["hzclamp.mod"],
        mechs=[("hhx", {})],
        # pulse edges off the dt grid: an edge on it (del = 5) is a tie that the
        # rounding of t decides — NEURON's t is accumulated (t += dt/2 twice a step:
        # 14.99999999999968 at "15 ms"), neurojax's is k·dt (15.000000000000002), and the
        # pulse starts a step apart (12 mV, measured)
        pps=[
            (
                "Hzclamp",
                {"del": 5.01, "dur": 20.0, "amp": 0.3, "freq": 100.0, "width": 2.0},
                None,
                None,
            )
        ],
        record={0: ["telpulse", "stand"]},
        protocols=["events"],
    ),
    "FDSExp2Syn (NetCon events)": dict(
        files=["fdsexp2s.mod"],
        mechs=[("hhx", {})],
        pps=[("FDSExp2Syn", {"tau1": 0.5, "tau2": 3.0}, [4.0, 9.0, 11.0, 19.0, 25.0], 0.004)],
        record={0: ["A", "B"]},
        protocols=["events"],
    ),
    "MyExp2SynBB (NetCon events; THREADSAFE removed for NEURON)": dict(
        files=["MyExp2SynBB_nothreadsafe.mod"],
        mechs=[("hhx", {})],
        pps=[("MyExp2SynBB", {"tau1": 0.5, "tau2": 3.0}, [4.0, 9.0, 11.0, 19.0, 25.0], 0.004)],
        record={0: ["A", "B"]},
        protocols=["events"],
    ),
    "NMDA_KIN5 (NetCon events, net_send, Mg block)": dict(
        files=["nmda_kin5_milstein.mod"],
        mechs=[("hhx", {})],
        pps=[("NMDA_KIN5", {"gmax": 0.02}, [4.0, 9.0, 9.5, 19.0, 30.0], 1.0)],
        record={0: ["Ro", "Rb"]},
        protocols=["events"],
    ),
    "NMDA_KIN5 (NetCon events, net_send, Mg block; NEURON's slope)": dict(
        files=["nmda_kin5_milstein.mod"],
        mechs=[("hhx", {})],
        pps=[("NMDA_KIN5", {"gmax": 0.02}, [4.0, 9.0, 9.5, 19.0, 30.0], 1.0)],
        slope=["NMDA_KIN5"],
        record={0: ["Ro", "Rb"]},
        protocols=["events"],
    ),
    "AMPA_KIN (NetCon events, net_send)": dict(
        files=["ampa_kin_milstein.mod"],
        mechs=[("hhx", {})],
        pps=[("AMPA_KIN", {"gmax": 0.01}, [4.0, 9.0, 9.5, 19.0, 30.0], 1.0)],
        record={0: ["Ro", "Rb"]},
        protocols=["events"],
    ),
}

# file -> the message expected (a substring) from the importer, or "NEURON" for a file
# NEURON 9 itself cannot compile (then only the import is checked)
IMPORT_ONLY = {
    "kcnl.mod": "EXTERNAL",
    "slo1egl19.mod": "EXTERNAL",
    "Gfluct2.mod": "normrand",
    "pr_milstein.mod": "VERBATIM",
    "accum.mod": "LONGITUDINAL_DIFFUSION",
    "nakpump.mod": "diam in a POINT_PROCESS",
    "stdp_cc.mod": "printf",
}
NEURON_CANNOT = {
    "Gfluct2.mod": "new_seed used as both variable and function",
    "pr_milstein.mod": "C++: nrn_random_arg redeclared (VERBATIM)",
}


def _text(name: str, case: dict | None = None) -> str:
    if case is not None and name in case.get("texts", {}):  # a case's own text
        return case["texts"][name]
    if name in WRITTEN:
        return WRITTEN[name]
    if name in DERIVED:
        src, pattern, repl = DERIVED[name]
        return re.sub(pattern, repl, (CORPUS / src).read_text(), flags=re.M)
    return (CORPUS / name).read_text()


def corpus_available() -> bool:
    return common.corpus_available(CORPUS)


def _suffix_of(text: str):
    m = re.search(r"\b(?:SUFFIX|POINT_PROCESS)\s+(\w+)", text)
    return m.group(1)


def all_texts(names=None, cases=None) -> dict:
    """{file: text} of the corpus files the cases use (NEURON-compilable), plus hhx.
    `cases`: another table of cases (default `CASES`), whose entries may carry their own
    texts (`texts={file: text}`)."""
    cases = CASES if cases is None else cases
    texts = {"hhx.mod": base.renamed(base.mod_text("hh.mod"), "hh", "hhx")}
    for name in names or cases:
        for f in cases[name]["files"]:
            texts[f] = _text(f, cases[name])
    return texts


def tables_off(texts: dict) -> dict:
    """NEURON's `usetable_<suffix> = 0` for every file with a TABLE."""
    return {f"usetable_{_suffix_of(t)}": 0 for t in texts.values()
            if re.search(r"^\s*TABLE\b", t, re.M)}  # fmt: skip


_NEURON_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
for k, val in cfg["ions"].items():  # before the ions are created at the first insert
    setattr(h, k, val)
s = h.Section(name="soma")
s.L, s.diam, s.nseg, s.cm, s.Ra = cfg["L"], cfg["diam"], 1, 1.0, 35.4
for suffix, params in cfg["mechs"]:
    s.insert(suffix)
    for k, val in params.items():
        setattr(s(0.5), f"{k}_{suffix}", val)
import re
for k, val in cfg["ions"].items():  # a concentration nothing writes keeps the value the
    # ion got when created (1 mM for a new ion), not <x>0_<ion>_ion: set it on the node
    setattr(s(0.5), re.fullmatch(r"(\w+?)0_\w+_ion", k).group(1), val)
keep, pps = [], []
for name, params, times, w in cfg["pps"]:
    pp = getattr(h, name)(s(0.5))
    for k, val in params.items():
        setattr(pp, k, val)
    pps.append(pp)
    if times:
        nc = h.NetCon(None, pp)  # one connection: its NET_RECEIVE arguments persist
        nc.weight[0] = w
        keep.append(nc)
        def events(nc=nc, times=times):
            for t0 in times:
                nc.event(t0 + cfg["delay"])
        keep.append(h.FInitializeHandler(1, events))
for k, val in cfg["globals"].items():
    setattr(h, k, val)
h.celsius = cfg["celsius"]
mode = cfg["mode"]
if mode.startswith("current clamp"):
    st = h.IClamp(s(0.5)); st.delay, st.dur, st.amp = 5.0, 25.0, cfg["amp"]
elif mode == "voltage clamp":
    st = h.SEClamp(s(0.5)); st.rs = 0.01
    st.dur1, st.amp1, st.dur2, st.amp2, st.dur3, st.amp3 = 5.0, -65.0, 15.0, -10.0, 1e9, -50.0
recs = {"v": h.Vector().record(s(0.5)._ref_v)}
for key, names in cfg["record"].items():
    for n in names:
        if key.isdigit():
            ref = getattr(pps[int(key)], f"_ref_{n}")
        else:
            ref = getattr(s(0.5), f"_ref_{n}_{key}") if hasattr(s(0.5), f"{n}_{key}") \
                else getattr(s(0.5), f"_ref_{n}")
        recs[f"{key}.{n}"] = h.Vector().record(ref)
h.dt, h.secondorder = cfg["dt"], 0
h.finitialize(-65.0)
h.continuerun(cfg["T"])
np.savez(cfg["out"], **{k: np.array(r) for k, r in recs.items()})
"""


def protocols_of(case: dict) -> list:
    if case.get("protocols"):
        return case["protocols"]
    return list(base.protocols(spiking=True))


def run_neuron(dll: str, case: dict, mode: str, globals_: dict, tmp: Path) -> dict:
    out = tmp / "corpus11.npz"
    cfg = dict(
        dll=dll,
        mechs=case["mechs"],
        pps=case.get("pps", []),
        delay=DELAY,
        globals=globals_,
        ions=case.get("ions", {}),
        celsius=case.get("celsius", CELSIUS),
        mode=mode,
        amp=base.IC_AMP.get(mode, 0.0),
        L=L,
        diam=DIAM,
        dt=DT,
        T=T,
        record={str(k): v for k, v in case.get("record", {}).items()},
        out=str(out),
    )
    (tmp / "cfg11.json").write_text(json.dumps(cfg))
    (tmp / "run11.py").write_text(_NEURON_SCRIPT)
    r = subprocess.run([sys.executable, str(tmp / "run11.py"), str(tmp / "cfg11.json")],
                       capture_output=True, text=True, cwd=tmp,
                       env=dict(os.environ, PYTHONPATH=""))  # fmt: skip
    if r.returncode:
        raise RuntimeError(f"NEURON failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    data = np.load(out)
    return {k: data[k][1:] for k in data.files}  # drop t = 0


def _ion_values(case: dict) -> dict:
    """NEURON's `<x>0_<ion>_ion` globals as neurojax's `ions=` names, plus the case's
    `nj_ions` (values NEURON has as defaults and a Cell asks for: a new ion's e, 0 mV)."""
    out = {}
    for k, val in case.get("ions", {}).items():
        m = re.fullmatch(r"(\w+?)0_(\w+)_ion", k)
        out[m.group(1)] = val
    out.update(case.get("nj_ions", {}))
    return out


def run_neurojax(case: dict, mode: str) -> dict:
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod
    from neurojax.nmodl._compile import with_neuron_slope
    from neurojax.solvers import BackwardEuler

    texts = all_texts_for(case)
    by_suffix = {_suffix_of(t): (f, t) for f, t in texts.items()}
    ions = _ion_values(case)
    channels = []
    for suffix, params in case["mechs"]:
        f, t = by_suffix[suffix]
        mech = load_mod(t, file=f, **params)
        if suffix in case.get("slope", ()):
            mech = with_neuron_slope(mech)
        channels.append((mech, None))
    pps = []
    for name, params, _, _ in case.get("pps", []):
        f, t = by_suffix[name]
        pp = load_mod(t, file=f, **params)
        pps.append((with_neuron_slope(pp) if name in case.get("slope", ()) else pp, (0, 0.5)))
    n = int(round(T / DT))
    kw = dict(point_processes=pps) if pps else {}
    if ions:
        kw["ions"] = ions
    if mode.startswith("current clamp"):
        kw.update(clamps=[(0, 0.5)])
    elif mode == "voltage clamp":
        kw.update(vclamps=[(0, 0.5)], rs_clamp=0.01)
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), channels,
                temperature=case.get("celsius", CELSIUS),
                v_init=-65.0, **kw)  # fmt: skip
    if mode == "events":
        inputs = {"i_clamp": jnp.zeros((n, 0))}
    else:
        i_cl, v_cl = base.protocols(spiking=True)[mode]
        inputs = ({"i_clamp": jnp.asarray(i_cl)[:, None]} if mode.startswith("current clamp")
                  else {"v_clamp": jnp.asarray(v_cl)[:, None]})  # fmt: skip
    receivers = [(np.asarray(times) + DELAY, w) for _, _, times, w in case.get("pps", [])
                 if times]  # fmt: skip
    if receivers:
        inputs["events"] = cell.event_input(receivers, n, DT)
    if set(inputs) == {"i_clamp"}:
        inputs = inputs["i_clamp"]
    suffixes = [s for s, _ in case["mechs"]]
    mech_gates = jax.eval_shape(cell.init_state).gates
    fns = {"v": cell.record_v([(0, 0.5)])}
    for key, names in case.get("record", {}).items():
        for nm in names:
            if isinstance(key, int):
                fns[f"{key}.{nm}"] = cell.record_point(key, nm)
            elif nm in type(mech_gates[suffixes.index(key)])._fields:
                fns[f"{key}.{nm}"] = cell.record_gate(suffixes.index(key), nm, [(0, 0.5)])
            else:  # a concentration the mechanism writes: the cell's
                fns[f"{key}.{nm}"] = cell.record_ion(nm, [(0, 0.5)])
    sol = nj.simulate(cell, inputs, dt=DT, solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(x).reshape(n) for k, x in sol.states.items()}


def all_texts_for(case: dict) -> dict:
    texts = {"hhx.mod": base.renamed(base.mod_text("hh.mod"), "hh", "hhx")}
    texts.update({f: _text(f, case) for f in case["files"]})
    return texts


def compare_all(tmp: Path, names=None, report=None, modes=None, cases=None) -> dict:
    """{(case, protocol): {trace: max |Δ|, "_vrange": NEURON's (min, max) V,
    "_range": {trace: NEURON's range}}}. `cases`: another table (default `CASES`)."""

    cases = CASES if cases is None else cases
    names = list(names or cases)
    texts = all_texts(names, cases)
    globals_ = tables_off(texts)
    dll = base.compile_mods(texts, tmp / "mods")
    out = {}
    for name in names:
        case = cases[name]
        out.update(common.compare_case(
            name, protocols_of(case),
            lambda mode, case=case: run_neuron(dll, case, mode, globals_, tmp),
            lambda mode, case=case: run_neurojax(case, mode), modes, report))  # fmt: skip
    return out


def import_only() -> dict:
    """{file: the importer's message} for the files in IMPORT_ONLY."""
    return common.import_only(IMPORT_ONLY, _text)


if __name__ == "__main__":
    if not corpus_available():
        sys.exit(f"no corpus at {CORPUS} (set NJ_CORPUS11)")
    for f, msg in import_only().items():
        print(f"{f}: {msg[:160]}")

    with tempfile.TemporaryDirectory() as d:
        compare_all(Path(d), sys.argv[1:] or None, report=lambda *a: common.show(*a, width=300))
