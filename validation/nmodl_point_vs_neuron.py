"""POINT_PROCESS and NET_RECEIVE against NEURON compiling the same `.mod` files.

The wheel's `expsyn.mod` and `exp2syn.mod` (renamed `ExpSynX`, `Exp2SynX`, so as not to
clash with NEURON's built-ins) at the middle of one compartment (L = diam = 10 µm) with
hh (rate tables off), driven by `NetStim` → `NetCon` events (one NetStim per spike,
delay 1 ms), backward Euler (`secondorder = 0`) at dt = 0.025 ms for 40 ms in both. Two
of the ExpSyn events fall in one step (their weights add), one Exp2Syn is inhibitory
(e = −80 mV); then the wheel's stim.mod (IClamp: ELECTRODE_CURRENT, reads t) and an
alpha synapse reading t.

    python validation/nmodl_point_vs_neuron.py     # prints max/mean |Δ| per trace

`tests/test_nmodl_point_neuron.py` (slow tier) runs it.
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

sys.path.insert(0, str(HERE))  # the shared NEURON/neurojax set-up beside this file
import nmodl_vs_neuron as base  # noqa: E402

DT, T, L, DIAM = base.DT, base.T, base.L, base.DIAM
DELAY = 1.0  # ms, the NetCon delay

# (POINT_PROCESS name, parameters, event times (ms, before the delay), weight µS)
SYNAPSES = [
    ("ExpSynX", {"tau": 2.0, "e": 0.0}, [4.01, 11.3, 11.31, 19.007], 0.004),
    ("Exp2SynX", {"tau1": 0.5, "tau2": 3.0, "e": 0.0}, [7.0123, 24.3], 0.006),
    ("Exp2SynX", {"tau1": 1.0, "tau2": 8.0, "e": -80.0}, [14.5], 0.01),
]

# Point processes that read the time t (no events): the wheel's stim.mod (IClamp, an
# ELECTRODE_CURRENT) and an alpha-function synapse written for this validation.
TIMED = [
    ("IClampX", {"del": 30.0, "dur": 3.0, "amp": 0.3}),
    ("AlphaSynX", {"onset": 34.3, "tau": 1.0, "gmax": 0.004, "e": 0.0}),
]

ALPHA_SYN = """
NEURON { POINT_PROCESS AlphaSynX  RANGE onset, tau, gmax, e, i, g  NONSPECIFIC_CURRENT i }
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER { onset = 0 (ms) tau = 0.1 (ms) <1e-3,1e6> gmax = 0 (uS) <0,1e9> e = 0 (mV) }
ASSIGNED { v (mV) i (nA) g (uS) }
BREAKPOINT {
    at_time(onset)
    g = gmax*alpha((t - onset)/tau)
    i = g*(v - e)
}
FUNCTION alpha(x) {
    : g/gmax = x exp(1 - x) for 0 <= x <= 10, peak 1 at x = 1
    if (x < 0 || x > 10) {
        alpha = 0
    } else {
        alpha = x*exp(1 - x)
    }
}
"""


def texts() -> dict:
    import re

    return {
        "expsynx.mod": re.sub(r"POINT_PROCESS\s+ExpSyn\b", "POINT_PROCESS ExpSynX",
                              base.mod_text("expsyn.mod")),
        "exp2synx.mod": re.sub(r"POINT_PROCESS\s+Exp2Syn\b", "POINT_PROCESS Exp2SynX",
                               base.mod_text("exp2syn.mod")),
        "hhx.mod": base.renamed(base.mod_text("hh.mod"), "hh", "hhx"),
        "stimx.mod": re.sub(r"POINT_PROCESS\s+IClamp\b", "POINT_PROCESS IClampX",
                            base.mod_text("stim.mod")),
        "alphasynx.mod": ALPHA_SYN,
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
s.insert("hhx")
h.usetable_hhx = 0
keep = []
recs = {"v": h.Vector().record(s(0.5)._ref_v)}
for j, (name, params, times, w) in enumerate(cfg["syns"]):
    syn = getattr(h, name)(s(0.5))
    for k, val in params.items():
        setattr(syn, k, val)
    keep.append(syn)
    for t0 in times:  # one NetStim per spike (the wheel has no VecStim)
        ns = h.NetStim()
        ns.number, ns.start, ns.noise, ns.interval = 1, t0, 0, 1e9
        nc = h.NetCon(ns, syn)
        nc.delay, nc.weight[0] = cfg["delay"], w
        keep += [ns, nc]
    for g in cfg["record"][j]:
        recs[f"{j}.{g}"] = h.Vector().record(getattr(syn, f"_ref_{g}"))
for name, params in cfg["timed"]:
    pp = getattr(h, name)(s(0.5))
    for k, val in params.items():
        setattr(pp, k, val)
    keep.append(pp)
h.dt, h.secondorder = cfg["dt"], 0
h.finitialize(-65.0)
h.continuerun(cfg["T"])
np.savez(cfg["out"], **{k: np.array(r) for k, r in recs.items()})
"""


def record_names():
    return [["g"] if name == "ExpSynX" else ["A", "B"] for name, *_ in SYNAPSES]


def run_neuron(dll, tmp: Path) -> dict:
    out = tmp / "point.npz"
    cfg = dict(dll=dll, syns=SYNAPSES, timed=TIMED, delay=DELAY, dt=DT, T=T, L=L, diam=DIAM,
               record=record_names(), out=str(out))  # fmt: skip
    (tmp / "cfg_point.json").write_text(json.dumps(cfg))
    script = tmp / "run_neuron_point.py"
    script.write_text(_NEURON_SCRIPT)
    env = dict(os.environ, PYTHONPATH="")
    r = subprocess.run([sys.executable, str(script), str(tmp / "cfg_point.json")],
                       capture_output=True, env=env, text=True)  # fmt: skip
    if r.returncode:
        raise RuntimeError(f"NEURON failed:\n{r.stderr[-3000:]}")
    data = np.load(out)
    return {k: data[k][1:] for k in data.files}


def run_neurojax() -> dict:
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod
    from neurojax.solvers import BackwardEuler

    t = texts()
    by_name = {"ExpSynX": t["expsynx.mod"], "Exp2SynX": t["exp2synx.mod"],
               "IClampX": t["stimx.mod"], "AlphaSynX": t["alphasynx.mod"]}  # fmt: skip
    pps = [(load_mod(by_name[name], file=name, **params), (0, 0.5))
           for name, params, _, _ in SYNAPSES]  # fmt: skip
    pps += [(load_mod(by_name[name], file=name, **params), (0, 0.5)) for name, params in TIMED]
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]), [(load_mod(t["hhx.mod"]), None)],
                v_init=-65.0, point_processes=pps)  # fmt: skip
    n = int(round(T / DT))
    events = cell.event_input(
        [(np.asarray(times) + DELAY, w) for _, _, times, w in SYNAPSES], n, DT
    )
    fns = {"v": cell.record_v([(0, 0.5)])}
    for j, names in enumerate(record_names()):
        for g in names:
            fns[f"{j}.{g}"] = cell.record_point(j, g)
    sol = nj.simulate(cell, {"i_clamp": jnp.zeros((n, 0)), "events": events}, dt=DT,
                      solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(v)[:, 0] for k, v in sol.states.items()}


def compare(tmp: Path) -> dict:
    """{trace: (max |Δ|, mean |Δ|)} plus NEURON's voltage range (`_vrange`)."""
    import jax

    dll = base.compile_mods(texts(), tmp / "mods")
    ref = run_neuron(dll, tmp)
    with jax.enable_x64(True):
        ours = run_neurojax()
    out = {k: (float(np.max(np.abs(ours[k] - ref[k]))), float(np.mean(np.abs(ours[k] - ref[k]))))
           for k in ref}  # fmt: skip
    out["_vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        res = compare(Path(d))
    lo, hi = res.pop("_vrange")
    print("ExpSyn + 2 Exp2Syn + IClamp + alpha synapse + hh, NetStim events "
          f"(NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
    for k, (mx, mean) in res.items():
        print(f"    {k:10s} max {mx:.3g}  mean {mean:.3g}")


def store_reference(path: Path) -> None:
    """The stored NEURON reference of `tests/test_nmodl_point.py`: V and the first
    ExpSyn's g every 0.25 ms."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ref = run_neuron(base.compile_mods(texts(), d / "mods"), d)
    np.savez_compressed(path, v=ref["v"][9::10], g=ref["0.g"][9::10])
