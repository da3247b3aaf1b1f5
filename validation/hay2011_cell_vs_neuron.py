"""Hay et al. (2011)'s L5b pyramidal cell, whole, against NEURON running the same files.

The cell of `neurojax.cable.hay2011_cell` (the simplified L5 morphology shipped with
neurojax, Hay et al.'s densities and distributions) is built in NEURON section by section
from the same `Morphology` (3-d points, nseg, parent and position, cm and Ra per branch)
with the same per-compartment parameters (`hay2011_mechanisms`), the eleven `.mod` files
of `neurojax/cable/data/hay2011/` compiled by `nrnivmodl` into a temporary directory.
Both run backward Euler (NEURON's `secondorder = 0`) at dt = 0.025 ms, 34 °C, from
v_init = −80 mV, in float64:

- **step**: a somatic current step (`STEP_NA` nA from 10 ms to the end);
- **bac**: Hay et al.'s BAC protocol — a somatic pulse of 1.9 nA for 5 ms at 20 ms and
  an EPSP-shaped current (0.5 nA peak, rise 0.5 ms, decay 5 ms) at the apical trunk
  620 µm from the soma starting 5 ms later (`epsp_current`).

NEURON's stimuli are evaluated at mid-step (`t + dt/2` in BREAKPOINT), so neurojax's
input arrays are sampled there. The EPSP current in NEURON is a point process written
here (`_EPSP_MOD`, the same formula as `epsp_current`).

    python validation/hay2011_cell_vs_neuron.py      # prints spike times and |ΔV|
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DT = 0.025  # ms
T = 100.0  # ms
STEP_NA = 0.5  # nA
THRESHOLD = -20.0  # mV: a spike is an upward crossing

_EPSP_MOD = r"""
: An EPSP-shaped injected current (nA), written for neurojax's validation:
:     i = imax (exp(-s/tau_decay) - exp(-s/tau_rise)) / p,  s = t - onset >= 0,
: p the peak of the difference (so the peak is imax). Positive depolarises.
NEURON {
    POINT_PROCESS EpspCurrent
    ELECTRODE_CURRENT i
    RANGE onset, imax, tau_rise, tau_decay, i
}
UNITS { (nA) = (nanoamp) }
PARAMETER { onset = 1e9 (ms) imax = 0 (nA) tau_rise = 0.5 (ms) tau_decay = 5 (ms) }
ASSIGNED { i (nA) p tp (ms) }
INITIAL {
    tp = tau_rise*tau_decay/(tau_decay - tau_rise)*log(tau_decay/tau_rise)
    p = exp(-tp/tau_decay) - exp(-tp/tau_rise)
    i = 0
}
BREAKPOINT {
    if (t >= onset) {
        i = imax*(exp(-(t - onset)/tau_decay) - exp(-(t - onset)/tau_rise))/p
    } else {
        i = 0
    }
}
"""

def neuron_sections(h, cfg: dict) -> list:
    """Build the cell of `cfg` (`run_neuron`'s configuration) in NEURON's `h`, the
    mechanisms' library already loaded: sections `b0, b1, …` with their geometry, nseg,
    cm, Ra, mechanisms and per-segment parameters, ions and `celsius`. Returns the
    sections, branch order."""
    h.load_file("stdrun.hoc")
    secs = []
    for b, br in enumerate(cfg["branches"]):
        s = h.Section(name=f"b{b}")
        if br["points"] is not None:
            s.pt3dclear()
            for x, y, z, d in br["points"]:
                s.pt3dadd(x, y, z, d)
        else:
            s.L, s.diam = br["length"], br["diameter"]
        s.nseg = br["nseg"]
        s.cm, s.Ra = br["cm"], br["ra"]
        if br["parent"] >= 0:
            s.connect(secs[br["parent"]](br["parent_x"]), 0)
        secs.append(s)
    for suffix, branches, params in cfg["mechs"]:
        for b in branches:
            secs[b].insert(suffix)
        k = 0
        for b in branches:
            for seg in secs[b]:
                for name, val in params.items():
                    setattr(seg, f"{name}_{suffix}", val if np.ndim(val) == 0 else val[k])
                k += 1
    for s in secs:
        for name, val in cfg["ions"].items():
            if h.ismembrane(name[1:] + "_ion", sec=s):
                setattr(s, name, val)
    h.celsius = cfg["celsius"]
    return secs


_NEURON_SCRIPT = r"""
import json, sys, time
import numpy as np
from neuron import h
sys.path.insert(0, sys.argv[2])
from hay2011_cell_vs_neuron import neuron_sections
cfg = json.loads(open(sys.argv[1]).read())
h.nrn_load_dll(cfg["dll"])
secs = neuron_sections(h, cfg)
ic = h.IClamp(secs[0](0.5))
ic.delay, ic.dur, ic.amp = cfg["pulse"]
b, x = cfg["dend"]
ep = h.EpspCurrent(secs[b](x))
ep.onset, ep.imax = cfg["epsp"]
recs = {}
for name, (b, x) in cfg["sites"].items():
    recs["v_" + name] = h.Vector().record(secs[b](x)._ref_v)
b, x = cfg["sites"]["hot"]
recs["cai_hot"] = h.Vector().record(secs[b](x)._ref_cai)
h.dt, h.secondorder = cfg["dt"], cfg.get("secondorder", 0)
h.finitialize(cfg["v_init"])
t0 = time.perf_counter()
h.continuerun(cfg["T"])
elapsed = time.perf_counter() - t0
np.savez(cfg["out"], _seconds=np.array([0.0, elapsed]),
         **{k: np.array(r) for k, r in recs.items()})
"""


BAC_T0 = 300.0  # ms: on the "bac" shape the stimuli come after ~300 ms at rest (Hay et al.)
BAC_T = 340.0  # ms: runs of the BAC protocols on the "bac" shape
REF_DT = 0.001  # ms: the converged reference (NEURON, Crank–Nicolson)


def protocols(shape: str = "simplified") -> dict:
    """name -> (somatic IClamp (delay ms, dur ms, amp nA), EPSP (onset ms, imax nA), run
    length ms) for a shipped shape (`hay2011_morphology(shape=...)`):

    - `"simplified"`: `step` (`STEP_NA` from 10 ms) and `bac` (the pulse at 20 ms, the
      EPSP 5 ms later), runs of `T` = 100 ms;
    - `"bac"`: `step` (100 ms) and Hay et al.'s BAC protocol at their timing, the cell
      near rest: `bAP` (the pulse alone at `BAC_T0` = 300 ms), `EPSP` (the EPSP alone at
      305 ms), `bac` (both), runs of `BAC_T` = 340 ms."""
    step = ((10.0, 1e9, STEP_NA), (1e9, 0.0), T)
    if shape == "simplified":
        return {"step": step, "bac": ((20.0, 5.0, 1.9), (25.0, 0.5), T)}
    if shape == "bac":
        pulse, epsp, none = (BAC_T0, 5.0, 1.9), (BAC_T0 + 5.0, 0.5), (1e9, 0.0)
        return {"step": step, "bAP": (pulse, none, BAC_T),
                "EPSP": ((BAC_T0, 5.0, 0.0), epsp, BAC_T), "bac": (pulse, epsp, BAC_T)}
    raise ValueError(f"protocols: unknown shape {shape!r}; 'simplified' or 'bac'.")


def sites(morph) -> dict:
    """Recording sites `(branch, x)`: soma, the trunk 620 µm from the soma (the EPSP's
    site), the hot zone's middle (785 µm)."""
    from neurojax.cable import site_at_distance

    return {"soma": (0, 0.5), "dend": site_at_distance(morph, 620.0),
            "hot": site_at_distance(morph, 785.0)}  # fmt: skip


def compile_mods(where: Path) -> str:
    from neurojax.cable import HAY2011_DIR

    where.mkdir(parents=True, exist_ok=True)
    for p in sorted(HAY2011_DIR.glob("*.mod")):
        (where / p.name).write_text(p.read_text())
    (where / "EpspCurrent.mod").write_text(_EPSP_MOD)
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    subprocess.run([str(nrnivmodl if nrnivmodl.exists() else "nrnivmodl")], cwd=where,
                   check=True, capture_output=True)  # fmt: skip
    lib = next(where.glob("*/libnrnmech.so"), None) or next(where.glob("*/.libs/libnrnmech.so"))
    return str(lib)


def neuron_config(dll: str, morph, protocol: str, *, shape: str = "simplified",
                  dt: float = DT, secondorder: int = 0) -> dict:  # fmt: skip
    """The JSON-able description of the Hay cell on `morph` and of `protocol` that
    `neuron_sections` and `_NEURON_SCRIPT` build and run in NEURON."""
    from neurojax.cable import hay2011_mechanisms
    from neurojax.cable._hay2011 import CM, IONS, RA, TEMPERATURE, V_INIT

    branches = []
    for br in morph.branches:
        branches.append(dict(
            points=None if br.points is None else np.asarray(br.points).tolist(),
            length=br.length, diameter=br.diameter, nseg=br.nseg, parent=br.parent,
            parent_x=br.parent_x, cm=CM.get(br.type, 1.0), ra=RA,
        ))  # fmt: skip
    mechs = []
    for suffix, where, params in hay2011_mechanisms(morph):
        mechs.append([suffix, list(morph.branches_where(where)),
                      {k: np.asarray(v).tolist() for k, v in params.items()}])  # fmt: skip
    pulse, epsp, t_end = protocols(shape)[protocol]
    st = sites(morph)
    cfg = dict(dll=dll, branches=branches, mechs=mechs, ions=IONS, celsius=TEMPERATURE,
               v_init=V_INIT, pulse=pulse, epsp=epsp, dend=st["dend"], sites=st, dt=dt,
               T=t_end, secondorder=secondorder)  # fmt: skip
    return cfg


def run_neuron(dll: str, morph, protocol: str, tmp: Path, *, shape: str = "simplified",
               dt: float = DT, secondorder: int = 0) -> dict:  # fmt: skip
    """NEURON's run of `protocols(shape)[protocol]` on `morph` at `dt` (ms), `secondorder`
    0 (backward Euler) or 2 (Crank–Nicolson): traces `v_soma`, `v_dend`, `v_hot` (mV),
    `cai_hot` (mM) at `(k + 1)·dt`, and `_seconds` (wall time of the run)."""
    t_end = protocols(shape)[protocol][2]
    out = tmp / f"neuron_{protocol}.npz"
    cfg = neuron_config(dll, morph, protocol, shape=shape, dt=dt, secondorder=secondorder)
    cfg["out"] = str(out)
    (tmp / "cfg.json").write_text(json.dumps(cfg))
    (tmp / "run_neuron.py").write_text(_NEURON_SCRIPT)
    env = dict(os.environ, PYTHONPATH="")
    here = str(Path(__file__).resolve().parent)
    subprocess.run([sys.executable, str(tmp / "run_neuron.py"), str(tmp / "cfg.json"), here],
                   check=True, capture_output=True, env=env)  # fmt: skip
    data = np.load(out)
    n = int(round(t_end / dt))  # drop t = 0 (and a last sample past t_end, if any)
    out = {k: data[k][1 : n + 1] for k in data.files}
    out["_seconds"] = float(data["_seconds"][1])  # wall time of NEURON's run (s)
    return out


def inputs(protocol: str, shape: str = "simplified", dt: float = DT) -> np.ndarray:
    """neurojax's clamp currents (nA), `(n_steps, 2)`: soma, dendrite — sampled at
    mid-step as NEURON evaluates its stimuli."""
    from neurojax.cable import epsp_current

    (delay, dur, amp), (onset, imax), t_end = protocols(shape)[protocol]
    t = np.arange(int(round(t_end / dt))) * dt + dt / 2
    soma = np.where((t >= delay) & (t < delay + dur), amp, 0.0)
    return np.stack([soma, epsp_current(t, onset, imax)], axis=-1)


def neurojax_cell(morph):
    from neurojax.cable import hay2011_cell

    return hay2011_cell(morph, clamps=[(0, 0.5), sites(morph)["dend"]])


def run_neurojax(cell, protocol: str, solver=None, *, shape: str = "simplified",
                 dt: float = DT) -> dict:  # fmt: skip
    """neurojax's run (backward Euler unless `solver` is given), the traces of
    `run_neuron`, in the default dtype (float64 inside `jax.enable_x64(True)`, as the
    comparison at round-off needs; float32 outside)."""
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.solvers import BackwardEuler

    st = sites(cell.morphology)
    fns = {f"v_{k}": cell.record_v([s]) for k, s in st.items()}
    fns["cai_hot"] = cell.record_ion("cai", [st["hot"]])
    sol = nj.simulate(cell, jnp.asarray(inputs(protocol, shape, dt)), dt=dt,
                      solver=BackwardEuler() if solver is None else solver,
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    return {k: np.asarray(v, np.float64)[:, 0] for k, v in sol.states.items()}


def spike_times(v, dt=DT, threshold=THRESHOLD) -> np.ndarray:
    """Upward crossings of `threshold` (mV), linearly interpolated; `v[k]` at
    `(k + 1)·dt` (the state after step k)."""
    v = np.asarray(v)
    k = np.nonzero((v[:-1] < threshold) & (v[1:] >= threshold))[0]
    frac = (threshold - v[k]) / (v[k + 1] - v[k])
    return (k + 1 + frac) * dt


def compare_all(tmp: Path, shape: str = "simplified", dll: str | None = None) -> dict:
    """Backward Euler in both at `DT`, float64, on `hay2011_morphology(shape=shape)`, every
    protocol of `protocols(shape)`: per protocol the spike times of both, (max, mean)
    |Δ| per trace, and `_traces` (NEURON's, neurojax's)."""
    import jax

    from neurojax.cable import hay2011_morphology

    morph = hay2011_morphology(shape=shape)
    dll = dll or compile_mods(tmp / "mods")
    out = {}
    with jax.enable_x64(True):
        cell = neurojax_cell(morph)
        for protocol in protocols(shape):
            ref = run_neuron(dll, morph, protocol, tmp, shape=shape)
            ours = run_neurojax(cell, protocol, shape=shape)
            r = {"spikes_neuron": spike_times(ref["v_soma"]),
                 "spikes_neurojax": spike_times(ours["v_soma"])}  # fmt: skip
            for k in (k for k in ref if not k.startswith("_")):
                diff = np.abs(ours[k] - ref[k])
                r[k] = (float(diff.max()), float(diff.mean()))
            r["_traces"] = (ref, ours)
            out[protocol] = r
    return out


def errors(ref: dict, run: dict, dt: float, ref_dt: float) -> dict:
    """`run` (traces at `(k + 1)·dt`) against the reference `ref` (at `(j + 1)·ref_dt`,
    `dt` a multiple of `ref_dt`): somatic spike count and, if the counts agree, the
    largest spike-time error (ms); mean |ΔV| (mV) at the soma, the trunk (620 µm) and
    the hot zone (785 µm) on `run`'s grid; the hot zone's time above −20 mV (ms)."""
    stride = int(round(dt / ref_dt))
    if abs(stride * ref_dt - dt) > 1e-9 * dt:
        raise ValueError(f"errors: dt {dt} ms is not a multiple of ref_dt {ref_dt} ms.")
    s_ref, s_run = spike_times(ref["v_soma"], ref_dt), spike_times(run["v_soma"], dt)
    out = {"spikes": len(s_run), "spikes_ref": len(s_ref),
           "max_dt_spike": float(np.max(np.abs(s_run - s_ref), initial=0.0))
           if len(s_run) == len(s_ref) else float("nan"),
           "hot_above": float(np.sum(run["v_hot"] > THRESHOLD) * dt)}  # fmt: skip
    for k in ("v_soma", "v_dend", "v_hot"):
        sub = ref[k][stride - 1 :: stride]
        n = min(sub.size, run[k].size)
        out[f"mean_{k}"] = float(np.mean(np.abs(run[k][:n] - sub[:n])))
    return out


CANDIDATES = ("NEURON BE", "NEURON CN", "neurojax BE f64", "neurojax TR-BDF2 f64",
              "neurojax TR-BDF2 f32")  # fmt: skip


def convergence(tmp: Path, shape: str = "bac", ref_dt: float = REF_DT, dll: str | None = None,
                protocols_=None, candidates=CANDIDATES, check: bool = True) -> dict:  # fmt: skip
    """Runs at dt `DT` against a converged reference, NEURON's Crank–Nicolson
    (`secondorder = 2`) at `ref_dt` (checked, if `check`, by the same at 2·`ref_dt`:
    `ref_check`), on `hay2011_morphology(shape=shape)`, for the protocols `protocols_`
    (default all of `protocols(shape)`). `candidates` (default all of `CANDIDATES`):
    NEURON backward Euler and Crank–Nicolson; neurojax backward Euler (float64) and its
    default TR-BDF2 (float64, float32). Per protocol `{name: errors(...)}`, and `_ref`
    (the reference's traces)."""
    import jax

    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2

    unknown = set(candidates) - set(CANDIDATES)
    if unknown:
        raise ValueError(f"convergence: unknown candidates {sorted(unknown)}; {CANDIDATES}.")
    morph = hay2011_morphology(shape=shape)
    dll = dll or compile_mods(tmp / "mods")
    names = list(protocols(shape)) if protocols_ is None else list(protocols_)
    out = {p: {} for p in names}
    for p in names:
        ref = run_neuron(dll, morph, p, tmp, shape=shape, dt=ref_dt, secondorder=2)
        out[p]["_ref"] = ref
        if check:
            half = run_neuron(dll, morph, p, tmp, shape=shape, dt=2 * ref_dt, secondorder=2)
            out[p]["ref_check"] = errors(ref, half, 2 * ref_dt, ref_dt)
        for name, order in (("NEURON BE", 0), ("NEURON CN", 2)):
            if name in candidates:
                run = run_neuron(dll, morph, p, tmp, shape=shape, secondorder=order)
                out[p][name] = errors(ref, run, DT, ref_dt)
    runs = [(n, s, x64) for n, s, x64 in (("neurojax BE f64", None, True),
                                           ("neurojax TR-BDF2 f64", TRBDF2(), True),
                                           ("neurojax TR-BDF2 f32", TRBDF2(), False))
            if n in candidates]  # fmt: skip
    for name, solver, x64 in runs:
        with jax.enable_x64(x64):
            cell = neurojax_cell(morph)
            for p in names:
                run = run_neurojax(cell, p, solver, shape=shape)
                out[p][name] = errors(out[p]["_ref"], run, DT, ref_dt)
    return out


if __name__ == "__main__":
    # python validation/hay2011_cell_vs_neuron.py [simplified|bac] [--convergence]
    args = sys.argv[1:]
    conv = "--convergence" in args
    args = [a for a in args if a != "--convergence"]
    shape = args[0] if args else "simplified"
    import neurojax  # noqa: F401  (before JAX's first computation: its loop settings)

    with tempfile.TemporaryDirectory() as d:
        dll = compile_mods(Path(d) / "mods")
        res = compare_all(Path(d), shape, dll)
        for protocol, r in res.items():
            r.pop("_traces")
            print(protocol)
            for k, v in r.items():
                print(f"    {k:16s} {v}")
        if conv:
            print(f"\nagainst NEURON Crank–Nicolson at dt {REF_DT} ms (shape {shape!r}); "
                  f"others at dt {DT} ms")
            print("| protocol | run | spikes (ref) | max \\|Δt\\| spike (ms) | mean \\|ΔV\\| soma "
                  "/ 620 µm / 785 µm (mV) | hot zone > −20 mV (ms) |")
            print("| --- | --- | --- | --- | --- | --- |")
            for p, rows in convergence(Path(d), shape, dll=dll).items():
                rows.pop("_ref")
                for name, e in rows.items():
                    label = f"NEURON CN dt {2 * REF_DT:g}" if name == "ref_check" else name
                    print(f"| {p} | {label} | {e['spikes']} ({e['spikes_ref']}) | "
                          f"{e['max_dt_spike']:.2g} | {e['mean_v_soma']:.2g} / "
                          f"{e['mean_v_dend']:.2g} / {e['mean_v_hot']:.2g} | "
                          f"{e['hot_above']:.1f} |", flush=True)  # fmt: skip
