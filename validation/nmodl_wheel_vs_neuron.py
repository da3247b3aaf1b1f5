"""Every `.mod` file of the installed `neuron` wheel, imported and run against NEURON
compiling the same file.

The wheel's files are read at run time from `share/modfile` and
`share/nrn/demo/release`. Each is imported with `neurojax.nmodl.load_mod`; those NEURON
can run in one compartment (L = diam = 10 µm, cm = 1) are compiled with `nrnivmodl`
(NEURON's built-ins renamed: hh → hhx, pas → pasx, ExpSyn → ExpSynX, IClamp → IClampX,
SEClamp → SEClampX, NetStim → NetStimX, IntervalFire → IntervalFireX) and run in both
for 40 ms, with the companions a file needs (a Ca channel for the Ca pumps, hh for
spikes), under current clamp (0.05 nA, 5–30 ms) and voltage clamp (−65 → −10 → −50 mV,
NEURON's SEClamp with rs = 0.01 MΩ vs the cell's clamp), or driven by the file itself
(stim.mod's IClamp, svclmp.mod's SEClamp, netstim.mod's spikes through NetCon events).

Per trace (V and every state) four numbers:

- `same`: neurojax with NEURON's own scheme (`BackwardEuler`: NEURON's `secondorder = 0`)
  at dt = 0.025 ms against NEURON at the same dt — the import's semantics, to rounding;
- `ours`: neurojax with the cell's default solver at dt = 0.025 ms, mean |Δ| from
  converged NEURON (backward Euler at dt = 0.025/64 and 0.025/32 ms,
  Richardson-extrapolated: NEURON's Crank–Nicolson rings under a voltage clamp);
- `ours_half`: the same run against converged NEURON half a step later, `t + dt/2`:
  where V is free the default's saved gates are the gates at `t + dt/2` (its
  staggering, NEURON's `secondorder = 2` convention); under a clamp, after a command
  step, they are the gates at `t` (docs/nmodl.md);
- `be`: neurojax's `BackwardEuler` run, mean |Δ| from the same converged run;
- `neuron`: NEURON's own default (`secondorder = 0`) at dt = 0.025 ms, mean |Δ| from the
  same converged run (the issue's bar: `ours` no worse, and within 0.5 mV for V);
- `conv`: the converged run against the same extrapolation from dt/32 and dt/16 (its
  own error, an upper bound).

The ARTIFICIAL_CELLs' spike times (netstim.mod, invlfire.mod with input events) are
compared with NEURON's NetCon records. pattern.mod (C code through VERBATIM and
BBCOREPOINTER) is refused with an `NmodlError` naming the line.

    python validation/nmodl_wheel_vs_neuron.py [case ...]   # prints the table

`tests/test_nmodl_wheel_neuron.py` (slow tier) runs it.
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
import nmodl_vs_neuron as base  # noqa: E402

DT, T, L, DIAM = base.DT, base.T, base.L, base.DIAM
# The converged run: NEURON's backward Euler (secondorder = 0, which does not ring under a
# voltage clamp as its Crank–Nicolson does) at DT/FINE and DT/(FINE/2), Richardson-
# extrapolated (2·x(h) − x(2h): the first-order error removed); its own error is the
# difference from the same extrapolation one level coarser (DT/(FINE/2), DT/(FINE/4)).
FINE = 64
DELAY = 1.0  # ms, NetCon delay

# NEURON's built-ins, renamed so that the wheel's file is what runs
RENAME = {
    "hh.mod": ("SUFFIX", "hh", "hhx"),
    "passive.mod": ("SUFFIX", "pas", "pasx"),
    "expsyn.mod": ("POINT_PROCESS", "ExpSyn", "ExpSynX"),
    "exp2syn.mod": ("POINT_PROCESS", "Exp2Syn", "Exp2SynX"),
    "stim.mod": ("POINT_PROCESS", "IClamp", "IClampX"),
    "svclmp.mod": ("POINT_PROCESS", "SEClamp", "SEClampX"),
    "netstim.mod": ("ARTIFICIAL_CELL", "NetStim", "NetStimX"),
    "invlfire.mod": ("ARTIFICIAL_CELL", "IntervalFire", "IntervalFireX"),
    "pattern.mod": ("ARTIFICIAL_CELL", "PatternStim", "PatternStimX"),
}

# files refused, with the construct named in the error
REFUSED = {"pattern.mod": "BBCOREPOINTER"}


def wheel_files() -> list[str]:
    s = base.share_dir()
    names = [p.name for d in (s / "modfile", s / "nrn" / "demo" / "release")
             for p in sorted(d.glob("*.mod"))]  # fmt: skip
    return sorted(names)


def wheel_text(name: str) -> str:
    text = base.mod_text(name)
    if name in RENAME:
        kw, old, new = RENAME[name]
        text = re.sub(rf"{kw}\s+{old}\b", f"{kw} {new}", text)
    return text


HH = ("hhx", {})
CC, VC, OWN = "current clamp", "voltage clamp", "its own drive"

# name -> case: files (wheel), mechs [(suffix, params)], pps [(name, params)], sources
# {pp index: [(NetStim params, weight)]}, celsius, NEURON globals, protocols
CASES = {
    "hh.mod": dict(files=["hh.mod"], mechs=[HH], celsius=6.3, protocols=[CC, VC]),
    "passive.mod": dict(files=["passive.mod"], mechs=[("pasx", {"g": 0.001, "e": -65.0})],
                        protocols=[CC, VC]),
    "nachan.mod + khhchan.mod": dict(
        files=["nachan.mod", "khhchan.mod", "passive.mod"],
        mechs=[("HHna", {}), ("HHk", {}), ("pasx", {"g": 0.0003, "e": -54.3})],
        celsius=16.0, protocols=[CC, VC]),
    "cachan1.mod": dict(files=["cachan1.mod", "hh.mod"], mechs=[("cachan1", {"imax": 0.001}), HH],
                        celsius=16.0, protocols=[CC, VC]),
    "camchan.mod + capump.mod": dict(
        files=["camchan.mod", "capump.mod", "hh.mod"],
        mechs=[("cachan", {"pcabar": 2e-5}), ("capump", {"vmax": 0.002}), HH],
        celsius=16.0, protocols=[CC, VC]),
    "nacaex.mod": dict(files=["nacaex.mod", "cachan1.mod", "hh.mod"],
                       mechs=[("nacax", {"k": 0.001}), ("cachan1", {"imax": 0.001}), HH],
                       celsius=16.0, protocols=[CC, VC]),
    "cabpump.mod": dict(files=["cabpump.mod", "cachan1.mod", "hh.mod"],
                        mechs=[("cadifpmp", {}), ("cachan1", {"imax": 0.001}), HH],
                        celsius=16.0, protocols=[CC, VC]),
    "capmpr.mod": dict(files=["capmpr.mod", "cachan1.mod", "hh.mod"],
                       mechs=[("capmpr", {}), ("cachan1", {"imax": 0.001}), HH],
                       celsius=16.0, protocols=[CC, VC]),
    "release.mod": dict(files=["release.mod", "capump.mod", "cachan1.mod", "hh.mod"],
                        mechs=[("capump", {"vmax": 0.002}), ("trel", {}),
                               ("cachan1", {"imax": 0.002}), HH],
                        celsius=16.0, protocols=[CC, VC]),
    "stim.mod": dict(files=["stim.mod", "hh.mod"], mechs=[HH],
                     pps=[("IClampX", {"del": 5.0, "dur": 25.0, "amp": 0.05})],
                     celsius=6.3, protocols=[OWN]),
    "svclmp.mod": dict(files=["svclmp.mod", "hh.mod"], mechs=[HH],
                       pps=[("SEClampX", {"rs": 0.01, "dur1": 5.0, "amp1": -65.0, "dur2": 15.0,
                                          "amp2": -10.0, "dur3": 10.0, "amp3": -50.0})],
                       celsius=6.3, protocols=[OWN]),
    "expsyn.mod + exp2syn.mod + netstim.mod": dict(
        files=["expsyn.mod", "exp2syn.mod", "netstim.mod", "hh.mod"], mechs=[HH],
        pps=[("ExpSynX", {"tau": 2.0, "e": 0.0}),
             ("Exp2SynX", {"tau1": 1.0, "tau2": 8.0, "e": -80.0})],
        sources={0: [({"start": 4.01, "interval": 7.3, "number": 4}, 0.004),
                     ({"start": 11.31, "interval": 1e9, "number": 1}, 0.004)],
                 1: [({"start": 25.5, "interval": 2.0, "number": 3}, 0.003)]},
        celsius=6.3, protocols=[OWN]),
}  # fmt: skip

# ARTIFICIAL_CELLs: spike times, (params, input events [(NetStim params, weight)])
SPIKE_SOURCES = {
    "netstim.mod": ("NetStimX", {"start": 3.3, "interval": 2.7, "number": 9}, []),
    "invlfire.mod": (
        "IntervalFireX",
        {"tau": 5.0, "invl": 7.0},
        [({"start": 3.0, "interval": 9.5, "number": 3}, 0.5)],
    ),
}


def covered() -> set:
    """The wheel files each case exercises (every file: a case, a source or a refusal)."""
    out = set(REFUSED) | set(SPIKE_SOURCES)
    for c in CASES.values():
        out |= set(c["files"])
    return out


_NEURON_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
out = {}
meta = {}
for run_name, dt, so in cfg["runs"]:
    s = h.Section(name="soma")
    s.L, s.diam, s.nseg, s.cm, s.Ra = cfg["L"], cfg["diam"], 1, 1.0, 35.4
    for suffix, params in cfg["mechs"]:
        s.insert(suffix)
        for k, val in params.items():
            setattr(s(0.5), f"{k}_{suffix}", val)
    for k, val in cfg["globals"].items():
        setattr(h, k, val)
    h.celsius = cfg["celsius"]
    keep = []
    pps = []
    st = None
    for name, params in cfg["pps"]:
        pp = getattr(h, name)(s(0.5))
        for k, val in params.items():
            setattr(pp, k, val)
        pps.append(pp)
    for j, srcs in cfg["sources"].items():
        for params, w in srcs:
            ns = h.NetStim()
            ns.noise = 0
            for k, val in params.items():
                setattr(ns, k, val)
            nc = h.NetCon(ns, pps[int(j)])
            nc.delay, nc.weight[0] = cfg["delay"], w
            keep += [ns, nc]
    if cfg["mode"] == "current clamp":
        st = h.IClamp(s(0.5)); st.delay, st.dur, st.amp = 5.0, 25.0, 0.05
    elif cfg["mode"] == "voltage clamp":
        st = h.SEClamp(s(0.5)); st.rs = 0.01
        st.dur1, st.amp1, st.dur2, st.amp2, st.dur3, st.amp3 = 5.0, -65.0, 15.0, -10.0, 1e9, -50.0
    recs = {"v": h.Vector().record(s(0.5)._ref_v)}
    for key, (kind, owner, n, k) in cfg["record"].items():
        if kind == "mech":
            obj = getattr(s(0.5), owner)
        elif kind == "pp":
            obj = pps[owner]
        else:
            obj = s(0.5)
        ref = getattr(obj, f"_ref_{n}")
        recs[key] = h.Vector().record(ref[k] if k >= 0 else ref)
    h.dt, h.secondorder = dt, so
    h.finitialize(-65.0)
    h.continuerun(cfg["T"])
    stride = int(round(cfg["dt"] / dt))
    for key, r in recs.items():
        out[f"{run_name}/{key}"] = np.array(r)[stride::stride]
        if stride > 1:  # half a step later: the staggered gates' own time
            out[f"{run_name}@half/{key}"] = np.array(r)[stride + stride // 2 :: stride]
    mt = h.MechanismType(0)
    names = []
    for i in range(int(mt.count())):
        mt.select(i)
        sd = h.ref("")
        mt.selected(sd)
        names.append(sd[0])
    meta["order"] = [n for n in names if n in {m for m, _ in cfg["mechs"]}]
    del recs, st, pps, keep, s
np.savez(cfg["out"], **out)
json.dump(meta, open(cfg["out"] + ".json", "w"))
"""

_SPIKES_SCRIPT = r"""
import json, sys
import numpy as np
from neuron import h
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
h.load_file("stdrun.hoc")
out = {}
for key, (name, params, inputs) in cfg["sources"].items():
    cell = getattr(h, name)()
    for k, val in params.items():
        setattr(cell, k, val)
    keep = []
    for p, w in inputs:
        ns = h.NetStim(); ns.noise = 0
        for k, val in p.items():
            setattr(ns, k, val)
        nc = h.NetCon(ns, cell); nc.delay, nc.weight[0] = cfg["delay"], w
        keep += [ns, nc]
    tv = h.Vector()
    rec = h.NetCon(cell, None); rec.record(tv)
    h.dt, h.secondorder = cfg["dt"], 0
    h.finitialize(-65.0)
    h.continuerun(cfg["T"])
    out[key] = np.array(tv)
    del cell, keep, rec
np.savez(cfg["out"], **out)
"""


def _specs(case):
    from neurojax.nmodl import mod_class

    out = {}
    for f in case["files"]:
        spec = mod_class(wheel_text(f), file=f)._spec
        out[spec.suffix] = spec
    return out


def _record(case, specs) -> dict:
    """{trace: (kind, owner, name, index)} for NEURON (index −1: not an array)."""
    rec = {}

    def add(kind, owner, label, spec, names):
        for n in names:
            m = re.fullmatch(r"(.*)_(\d+)", n)
            if m and m.group(1) in spec.prog.arrays:
                rec[f"{label}.{n}"] = (kind, owner, m.group(1), int(m.group(2)))
            else:
                rec[f"{label}.{n}"] = (kind, owner, n, -1)

    pools = set()
    for suffix, _ in case["mechs"]:
        spec = specs[suffix]
        add("mech", suffix, suffix, spec, [n for n in spec.state_names if n not in spec.pool])
        pools |= set(spec.pool)
    for j, (name, _) in enumerate(case.get("pps", [])):
        spec = specs[name]
        add("pp", j, f"{j}:{name}", spec, spec.state_names)
    for n in sorted(pools):
        rec[n] = ("ion", 0, n, -1)
    return rec


def _subprocess(script: str, cfg: dict, tmp: Path, tag: str):
    cfg_path = tmp / f"cfg_{tag}.json"
    cfg_path.write_text(json.dumps(cfg))
    path = tmp / f"run_{tag}.py"
    path.write_text(script)
    env = dict(os.environ, PYTHONPATH="")
    r = subprocess.run([sys.executable, str(path), str(cfg_path)], capture_output=True,
                       env=env, text=True)  # fmt: skip
    if r.returncode:
        raise RuntimeError(f"NEURON failed ({tag}):\n{r.stderr[-3000:]}")


def run_neuron(dll, case, mode, record, tmp: Path) -> tuple[dict, dict]:
    out = tmp / f"wheel_{abs(hash((mode, json.dumps(case, sort_keys=True))))}.npz"
    runs = [
        ("neuron", DT, 0),
        ("h", DT / FINE, 0),
        ("2h", 2 * DT / FINE, 0),
        ("4h", 4 * DT / FINE, 0),
    ]
    cfg = dict(dll=dll, mechs=case["mechs"], pps=case.get("pps", []),
               sources={str(k): v for k, v in case.get("sources", {}).items()},
               celsius=case.get("celsius", 6.3), globals=_globals(case), mode=mode, L=L,
               diam=DIAM, dt=DT, T=T, delay=DELAY, record=record, runs=runs,
               out=str(out))  # fmt: skip
    _subprocess(_NEURON_SCRIPT, cfg, tmp, "wheel")
    data = np.load(out)
    meta = json.loads(Path(str(out) + ".json").read_text())
    res: dict = {}
    for k in data.files:
        run, key = k.split("/", 1)
        res.setdefault(run, {})[key] = data[k]
    res["conv"] = {k: 2 * res["h"][k] - res["2h"][k] for k in res["h"]}
    res["conv@half"] = {k: 2 * res["h@half"][k] - res["2h@half"][k] for k in res["h@half"]}
    res["conv2"] = {k: 2 * res["2h"][k] - res["4h"][k] for k in res["h"]}
    return res, meta


def _globals(case) -> dict:
    """Rate tables off (exact rates, as neurojax): usetable_<suffix> = 0."""
    g = {}
    for f in case["files"]:
        m = re.search(r"(SUFFIX|POINT_PROCESS)\s+(\w+)", wheel_text(f))
        if m and re.search(r"\bTABLE\b", wheel_text(f)):
            g[f"usetable_{m.group(2)}"] = 0
    return g


def run_neurojax(case, mode, mechs, solver) -> dict:
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod

    texts = {}
    for f in case["files"]:
        text = wheel_text(f)
        m = re.search(r"(SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)", text)
        texts[m.group(2)] = (f, text)
    channels = [(load_mod(texts[s][1], file=texts[s][0], **p), None) for s, p in mechs]
    pps = [(load_mod(texts[n][1], file=texts[n][0], **p), (0, 0.5))
           for n, p in case.get("pps", [])]  # fmt: skip
    kw = {}
    if mode == CC:
        kw = dict(clamps=[(0, 0.5)])
    elif mode == VC:
        kw = dict(vclamps=[(0, 0.5)], rs_clamp=0.01)
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), channels,
                temperature=case.get("celsius", 6.3), v_init=-65.0, point_processes=pps,
                **kw)  # fmt: skip
    n = int(round(T / DT))
    i_cl, v_cl = base.protocols()[mode] if mode in (CC, VC) else (None, None)
    inputs = {"i_clamp": jnp.asarray(i_cl)[:, None] if mode == CC else jnp.zeros((n, 0))}
    if mode == VC:
        inputs["v_clamp"] = jnp.asarray(v_cl)[:, None]
    if case.get("sources"):
        ns_text = wheel_text("netstim.mod")
        spikes = []
        for j in sorted(case["sources"]):  # the receivers, in point-process order
            times = np.concatenate([load_mod(ns_text, file="netstim.mod", **p).spike_times(T)
                                    for p, _ in case["sources"][j]])  # fmt: skip
            ws = np.concatenate([np.full(len(load_mod(ns_text, file="netstim.mod", **p)
                                                  .spike_times(T)), w)
                                 for p, w in case["sources"][j]])  # fmt: skip
            spikes.append((times + DELAY, ws))
        inputs["events"] = _events(cell, spikes, n)
    fns = {"v": cell.record_v([(0, 0.5)])}
    specs = _specs(case)
    for k, (suffix, _) in enumerate(mechs):
        spec = specs[suffix]
        for name in spec.state_names:
            if name not in spec.pool:
                fns[f"{suffix}.{name}"] = cell.record_gate(k, name, [(0, 0.5)])
        for name in spec.pool:
            fns[name] = cell.record_ion(name, [(0, 0.5)])
    for j, (name, _) in enumerate(case.get("pps", [])):
        for st in specs[name].state_names:
            fns[f"{j}:{name}.{st}"] = _point_record(cell, j, st)
    kw = {} if solver is None else {"solver": solver}
    save = nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()})
    sol = nj.simulate(cell, inputs, dt=DT, saveat=save, **kw)
    return {k: np.asarray(v).reshape(n, -1)[:, 0] for k, v in sol.states.items()}


def _point_record(cell, j, name):
    f = cell.record_point(j, name)
    return f


def _events(cell, spikes, n):
    """`inputs["events"]` for spike trains with one weight per spike: one column per
    receiver (Cell.event_input takes one weight per train: one call per weight)."""
    import jax.numpy as jnp

    cols = np.zeros((n, len(spikes)))
    for j, (times, ws) in enumerate(spikes):
        for w in np.unique(ws):
            trains = [(times[ws == w], float(w)) if i == j else (np.zeros(0), 1.0)
                      for i in range(len(spikes))]  # fmt: skip
            cols[:, j] += np.asarray(cell.event_input(trains, n, DT))[:, j]
    return jnp.asarray(cols)


def _order(case, specs, meta):
    """NEURON's memb_order_: mechanisms writing a concentration first (reverse
    registration order), then the others in registration order."""
    reg = meta["order"]
    writers = {s for s, sp in specs.items() if sp.pool}
    return sorted(case["mechs"], key=lambda m: (0, -reg.index(m[0])) if m[0] in writers
                  else (1, reg.index(m[0])))  # fmt: skip


def compare_case(name, dll, tmp: Path) -> dict:
    """{protocol: {trace: {"same": (max, mean), "ours": mean, "neuron": mean, "conv": mean,
    "scale": max |x|}}} plus `_vrange` per protocol."""
    import jax

    from neurojax.solvers import BackwardEuler

    case = CASES[name]
    specs = _specs(case)
    record = _record(case, specs)
    results = {}
    for mode in case["protocols"]:
        ref, meta = run_neuron(dll, case, mode, record, tmp)
        mechs = _order(case, specs, meta)
        with jax.enable_x64(True):
            same = run_neurojax(case, mode, mechs, BackwardEuler())
            ours = run_neurojax(case, mode, mechs, None)
        r = {}
        half = ref["conv@half"]
        for k in ref["neuron"]:
            conv = ref["conv"][k]
            r[k] = dict(
                same=(float(np.max(np.abs(same[k] - ref["neuron"][k]))),
                      float(np.mean(np.abs(same[k] - ref["neuron"][k])))),
                ours=float(np.mean(np.abs(ours[k] - conv))),
                # the default's saved gates, where V is free, are the gates half a step
                # later (its staggering): against converged NEURON at t + dt/2
                ours_half=float(np.mean(np.abs(ours[k][: len(half[k])] - half[k]))),
                be=float(np.mean(np.abs(same[k] - conv))),
                neuron=float(np.mean(np.abs(ref["neuron"][k] - conv))),
                conv=float(np.mean(np.abs(ref["conv2"][k] - conv))),
                scale=float(np.max(np.abs(conv))),
            )  # fmt: skip
        r["_vrange"] = (float(ref["conv"]["v"].min()), float(ref["conv"]["v"].max()))
        results[mode] = r
    return results


def compare_spikes(dll, tmp: Path) -> dict:
    """{file: (NEURON spike times, neurojax spike times)} for the ARTIFICIAL_CELLs."""
    import jax

    from neurojax.nmodl import load_mod

    out = tmp / "spikes.npz"
    cfg = dict(dll=dll, sources={k: v for k, v in SPIKE_SOURCES.items()}, dt=DT, T=T,
               delay=DELAY, out=str(out))  # fmt: skip
    _subprocess(_SPIKES_SCRIPT, cfg, tmp, "spikes")
    ref = np.load(out)
    res = {}
    with jax.enable_x64(True):
        ns_text = wheel_text("netstim.mod")
        for f, (_, params, inputs) in SPIKE_SOURCES.items():
            events = []
            for p, w in inputs:
                events += [(t + DELAY, w) for t in
                           load_mod(ns_text, file="netstim.mod", **p).spike_times(T)]  # fmt: skip
            mine = load_mod(wheel_text(f), file=f, **params).spike_times(T, events=events)
            res[f] = (ref[f], mine)
    return res


def refusals() -> dict:
    """{file: the NmodlError message} for the files refused."""
    from neurojax.nmodl import NmodlError, load_mod

    out = {}
    for f in REFUSED:
        try:
            load_mod(wheel_text(f), file=f)
        except NmodlError as e:
            out[f] = str(e)
        else:
            out[f] = None
    return out


def compile_all(tmp: Path, names) -> str:
    files = set(SPIKE_SOURCES) | {"netstim.mod"}
    for n in names:
        files |= set(CASES[n]["files"])
    return base.compile_mods({f: wheel_text(f) for f in sorted(files)}, tmp / "mods")


def compare_all(tmp: Path, names=None) -> dict:
    names = names or list(CASES)
    dll = compile_all(tmp, names)
    return {n: compare_case(n, dll, tmp) for n in names}, compare_spikes(dll, tmp)


def report(name, res):
    for mode, r in res.items():
        r = dict(r)
        lo, hi = r.pop("_vrange")
        print(f"{name} — {mode} (V in [{lo:.1f}, {hi:.1f}] mV)")
        for k, x in r.items():
            print(
                f"    {k:24s} same max {x['same'][0]:.2g} mean {x['same'][1]:.2g} | vs "
                f"converged: ours {x['ours']:.3g} (at t+dt/2 {x['ours_half']:.3g}; BE "
                f"{x['be']:.3g})  NEURON {x['neuron']:.3g}  "
                f"(converged to {x['conv']:.2g}, scale {x['scale']:.3g})",
                flush=True,
            )


if __name__ == "__main__":
    missing = set(wheel_files()) - covered()
    print("wheel files:", len(wheel_files()), "not covered:", sorted(missing) or "none")
    for f, msg in refusals().items():
        print(f"{f}: refused — {msg}")
    names = [n for n in sys.argv[1:] if n != "--no-spikes"] or list(CASES)
    with tempfile.TemporaryDirectory() as d:
        dll = compile_all(Path(d), names)
        if "--no-spikes" not in sys.argv:
            for f, (a, b) in compare_spikes(dll, Path(d)).items():
                dd = np.max(np.abs(a - b)) if len(a) == len(b) else float("nan")
                print(f"{f}: {len(a)} spikes in NEURON, {len(b)} here, max |Δt| {dd:.3g} ms")
        for name in names:
            report(name, compare_case(name, dll, Path(d)))
