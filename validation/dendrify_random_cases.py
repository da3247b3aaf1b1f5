"""Random held-out cases: neurojax's Dendrify-style neurons against dendrify 2.2 on Brian2.

`validation/dendrify_heldout_cases.py` compares hand-written variations of dendrify's
examples; this script *generates* cases from a seed — none of them written or looked at
before they were run — and compares them by the issue's criteria (every somatic spike and
dSpike of every neuron within one step, voltages within 0.5 mV on average). What a case
draws (`random_spec`):

- a cell of 2–5 compartments (the soma first), a random tree (chains, stars, branched),
  its connections listed in random order and direction; either all dimensionless
  (`c_abs`, `gl_abs`, explicit couplings) or all physical (lengths, diameters, `cm`, `gl`,
  `ra`, area factors; `half_cylinders`, `cylinder_<either end>` or an explicit coupling);
  resting potentials per compartment;
- dSpikes (Na- or Ca-type) on some dendrites, timings in whole steps with the edges
  forced in often: a one-step rise or fall, `offset_fall` of one step, equal to the rise
  or past the rise's end, `refractory` equal to the rise or shorter than offset + fall,
  `g_fall = 0`;
- the soma: threshold, reset (above or below rest), refractoriness 0–5 ms, sometimes
  Dendrify's two-stage reset (`v_spike`, `spike_width` ≤ `t_ref`, often equal), or no
  threshold at all;
- inputs: current steps and ramps into random compartments (sized from the cell's total
  leak), spike-generator trains (on or off the grid) through AMPA / NMDA / GABA synapses
  (instant or rise-and-decay, `scale_g` on or off) onto random compartments with delays
  of whole steps; small recurrent networks of two populations (E: the random cell, I: a
  soma or a soma and a dendrite) with projections onto random compartments;
- `dt` ∈ {0.1, 0.05, 0.025} ms; Brian2's `euler` (neurojax `Euler()`) or, without NMDA,
  `exponential_euler` (the network's `ExponentialEuler`; its rise-and-decay synapses are
  compared with the weights × ρ, the documented rule difference of Brian2's scheme).

Cells whose forward-Euler step would be inaccurate (`dt·Σg/C > 0.5` in a compartment) are
redrawn: both tools would agree on a wrong answer there, which tests nothing.

Usage (Brian2 needs numpy < 2.3: dendrify lives in its own environment):

    # references (Brian2), one .npz per case, spec included
    /tmp/brian2-venv/bin/python validation/dendrify_random_cases.py --reference \
        [--seed 2026] [--n 40] [--out DIR]
    # neurojax against them (missing references are made first with DENDRIFY_PYTHON)
    .venv/bin/python validation/dendrify_random_cases.py [--seed 2026] [--n 40] [--markdown]
    # options: --float32 (neurojax's default precision), --default-solver (neurojax's
    # default schemes instead of Brian2's)

The stored references (`tests/data/dendrify_random/`, seed 2026) back the slow test
`tests/test_dendrify_random.py`; any other seed makes fresh cases in /tmp.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STORED_SEED = 2026
STORED = ROOT / "tests" / "data" / "dendrify_random"
DENDRIFY_PYTHON = os.environ.get("DENDRIFY_PYTHON", "/tmp/brian2-venv/bin/python")
E_NA, E_K, E_CA = 70.0, -89.0, 136.0  # dendrify's E_Na, E_K, E_Ca (mV)
NAMES = ["prox", "dist", "apic", "basal", "trunk", "tuft", "obl", "dend"]


def heldout():
    """validation/dendrify_heldout_cases.py as a module: its spec runner for Brian2
    (`run_dendrify`) and for neurojax (`run_neurojax`), and its comparison."""
    name = "dendrify_heldout_cases"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent / "dendrify_heldout_cases.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ------------------------------------------------------------------------------ the draw


def _steps(rng, dt, lo_ms, hi_ms, lo_steps=1):
    """A duration of a whole number of steps (ms), at least `lo_steps`, in [lo, hi] ms."""
    k = int(rng.integers(max(lo_steps, int(np.ceil(lo_ms / dt))), int(hi_ms / dt) + 1))
    return round(k * dt, 10)


def _membrane(c):
    """(C nF, g_L µS, r_axial MΩ or None) of a compartment spec (neurojax's formulas)."""
    if "c_abs" in c:
        return c["c_abs"], c["gl_abs"], None
    area = np.pi * c["length"] * c["diameter"] * c.get("scale_factor", 1.0)
    area *= c.get("spine_factor", 1.0)
    r = 4 * c["ra"] * c["length"] * 1e-4 / (np.pi * (c["diameter"] * 1e-4) ** 2) * 1e-6
    return c["cm"] * area * 1e-5, c["gl"] * area * 1e-5, r


def _coupling(comps, conn):
    a, b = (next(c for c in comps if c["name"] == n) for n in conn[:2])
    how = conn[2] if len(conn) == 3 else "half_cylinders"
    if not isinstance(how, str):
        return how
    if how == "half_cylinders":
        return 1.0 / ((_membrane(a)[2] + _membrane(b)[2]) / 2)
    return 1.0 / _membrane(a if how == f"cylinder_{a['name']}" else b)[2]


def stiffness(comps, conns, dt) -> float:
    """The largest `dt·(g_L + Σg)/C` of the cell: forward Euler is accurate well below 1."""
    total = {c["name"]: _membrane(c)[1] for c in comps}
    for conn in conns:
        g = _coupling(comps, conn)
        total[conn[0]] += g
        total[conn[1]] += g
    return max(dt * total[c["name"]] / _membrane(c)[0] for c in comps)


def _dspikes(rng, dt):
    """A dSpike mechanism with timings in whole steps, edge timings drawn often."""
    kind = "Ca" if rng.random() < 0.3 else "Na"
    rise = _steps(rng, dt, dt, 3.0 if kind == "Ca" else 1.5)
    if rng.random() < 0.2:
        rise = dt  # one step
    fall = _steps(rng, dt, dt, 4.0 if kind == "Ca" else 3.0)
    if rng.random() < 0.15:
        fall = dt
    u = rng.random()
    offset = dt if u < 0.25 else rise if u < 0.5 else _steps(rng, dt, dt, rise + 2.0)
    v = rng.random()
    if v < 0.25:
        refractory = rise  # the shortest allowed
    elif v < 0.45:  # shorter than offset + fall: the next dSpike cuts the fall
        refractory = round(max(rise, offset + fall - dt), 10)
    else:
        refractory = _steps(rng, dt, max(rise, 2.0), 12.0)
    g_rise = rng.uniform(0.5, 2.0)  # × the compartment's leak (set by the caller)
    g_fall = 0.0 if rng.random() < 0.15 else rng.uniform(0.3, 1.5)
    return dict(
        name=kind,
        g_rise=g_rise,
        g_fall=g_fall,
        threshold=float(rng.uniform(-50.0, -30.0)),
        e_rise=E_NA if kind == "Na" else E_CA,
        e_fall=E_K,
        duration_rise=rise,
        duration_fall=fall,
        offset_fall=offset,
        refractory=refractory,
    )


def _cell(rng, dt, n_comp=None, dspikes=True, physical=None):
    """Compartments and connections of a random cell (the soma first)."""
    n = int(rng.integers(2, 6)) if n_comp is None else n_comp
    physical = rng.random() < 0.5 if physical is None else physical
    names = ["soma"] + [str(x) for x in rng.choice(NAMES, n - 1, replace=False)]
    for _ in range(200):
        comps = []
        for k, name in enumerate(names):
            e_l = float(rng.uniform(-75.0, -60.0))
            if physical:
                if k == 0:
                    length = diameter = float(rng.uniform(15.0, 30.0))
                else:
                    length = float(rng.uniform(50.0, 300.0))
                    diameter = float(rng.uniform(0.8, 4.0))
                c = dict(
                    name=name,
                    length=length,
                    diameter=diameter,
                    cm=float(rng.uniform(0.7, 2.0)),
                    gl=float(rng.uniform(0.02, 0.08)),
                    ra=float(rng.uniform(80.0, 250.0)),
                    e_l=e_l,
                )
                if rng.random() < 0.3:
                    c["scale_factor"] = float(rng.uniform(1.0, 3.0))
                    if k > 0 and rng.random() < 0.5:
                        c["spine_factor"] = float(rng.uniform(1.0, 2.0))
            else:
                big = k == 0
                c = dict(
                    name=name,
                    c_abs=float(rng.uniform(0.1, 0.3) if big else rng.uniform(0.02, 0.1)),
                    gl_abs=0.0,
                    e_l=e_l,
                )
                c["gl_abs"] = c["c_abs"] / float(rng.uniform(10.0, 30.0))  # τ = 10–30 ms
            comps.append(c)
        conns = []
        for k in range(1, n):
            parent = names[int(rng.integers(0, k))]
            a, b = (parent, names[k]) if rng.random() < 0.6 else (names[k], parent)
            u = rng.random()
            if not physical:
                g = float(rng.uniform(0.3, 1.5) * min(_membrane(comps[k])[1], 1.0) * 5)
                conns.append([a, b, g])
            elif u < 0.4:
                conns.append([a, b] if rng.random() < 0.5 else [a, b, "half_cylinders"])
            elif u < 0.8:
                conns.append([a, b, f"cylinder_{[a, b][int(rng.integers(0, 2))]}"])
            else:
                g = 1.0 / ((_membrane(comps[names.index(a)])[2] + _membrane(comps[k])[2]) / 2)
                conns.append([a, b, float(g * rng.uniform(0.5, 1.5))])
        rng.shuffle(conns)
        if stiffness(comps, conns, dt) <= 0.5:
            break
    else:
        raise RuntimeError("no accurate cell drawn in 200 tries")
    if rng.random() < 0.1:  # a dendrite (or the soma) resting above its threshold
        comps[int(rng.integers(0, n))]["e_l"] = float(rng.uniform(-45.0, -30.0))
    if dspikes:
        for c in comps[1:]:
            if rng.random() < 0.6:
                d = _dspikes(rng, dt)
                if rng.random() < 0.08:  # threshold below rest: fires at step 0
                    d["threshold"] = float(c["e_l"] - rng.uniform(0.0, 5.0))
                g_l = _membrane(c)[1]
                d["g_rise"] *= 20 * g_l
                d["g_fall"] *= 20 * g_l
                c["dspikes"] = d
        # dSpike conductances stiffen the step too: keep dt·(Σg + g_rise + g_fall)/C small
        for c in comps[1:]:
            d = c.get("dspikes")
            if d:
                cap = _membrane(c)[0]
                room = max(0.0, 0.9 * cap / dt - (d["g_rise"] + d["g_fall"]))
                if room <= 0:
                    s = 0.8 * cap / dt / (d["g_rise"] + d["g_fall"])
                    d["g_rise"] *= s
                    d["g_fall"] *= s
    return comps, conns


def _soma(rng, dt, allow_none=True, two_stage=True):
    if allow_none and rng.random() < 0.08:
        return None
    v_th = float(rng.uniform(-55.0, -45.0))
    t_ref = 0.0 if rng.random() < 0.15 else _steps(rng, dt, dt, 5.0)
    soma = dict(v_th=v_th, v_reset=float(v_th - rng.uniform(3.0, 15.0)), t_ref=t_ref)
    if t_ref > 0 and rng.random() < 0.1:  # reset above threshold: fires when t_ref ends
        soma["v_reset"] = float(v_th + rng.uniform(0.5, 5.0))
    if two_stage and t_ref > 0 and rng.random() < 0.4:
        soma["v_spike"] = float(rng.uniform(0.0, 40.0))
        soma["spike_width"] = t_ref if rng.random() < 0.4 else _steps(rng, dt, dt, t_ref)
    return soma


def _currents(rng, comps, t_stop, size=1):
    g_total = sum(_membrane(c)[1] for c in comps)
    out = []
    for _ in range(int(rng.integers(1, 4))):
        comp = comps[int(rng.integers(0, len(comps)))]["name"]
        t0 = float(rng.uniform(0.0, 0.6 * t_stop))
        t1 = float(min(t_stop, t0 + rng.uniform(0.2, 0.6) * t_stop))
        amp = float(
            g_total * (rng.uniform(-10.0, 0.0) if rng.random() < 0.15 else rng.uniform(10.0, 50.0))
        )  # nA (µS·mV)
        c = dict(comp=comp, t0=round(t0, 3), t1=round(t1, 3))
        if rng.random() < 0.3:
            c.update(kind="ramp", a0=0.0, a1=amp)
        else:
            c.update(kind="step", amp=amp)
        if size > 1:
            c["scale"] = rng.uniform(0.3, 1.2, size).tolist()
        out.append(c)
    return out


def _synapse(rng, dt, channels, g_scale):
    ch = str(rng.choice(channels))
    if ch == "NMDA":
        t_decay = _steps(rng, dt, 30.0, 80.0)
        t_rise = _steps(rng, dt, 1.0, 5.0) if rng.random() < 0.7 else None
        g = g_scale * rng.uniform(0.1, 0.4)
    elif ch == "AMPA":
        t_decay = _steps(rng, dt, 1.0, 5.0)
        t_rise = _steps(rng, dt, 0.1, 0.8) if rng.random() < 0.4 else None
        g = g_scale * rng.uniform(0.5, 1.5)
    else:
        t_decay = _steps(rng, dt, 4.0, 12.0)
        t_rise = _steps(rng, dt, 0.2, 1.5) if rng.random() < 0.4 else None
        g = g_scale * rng.uniform(0.5, 2.0)
    u = rng.random()
    if u < 0.1:  # equal constants: an alpha function (no scale_g: dendrify divides by 0)
        s = dict(channel=ch, t_decay=t_decay, g=float(g / t_decay), t_rise=t_decay)
        return s
    if u < 0.2 and t_rise is not None:  # rise slower than decay: dendrify accepts it
        t_rise, t_decay = t_decay, t_rise
    s = dict(channel=ch, t_decay=t_decay, g=float(g))
    if t_rise is not None:
        s.update(t_rise=t_rise, scale_g=bool(rng.random() < 0.5))
    return s


def _pairs(rng, n_pre, n_post, p, spread=0.5):
    m = rng.random((n_pre, n_post)) < p
    a, b = np.nonzero(m)
    if a.size == 0:
        a, b = np.array([0]), np.array([0])
    return dict(i=a.tolist(), j=b.tolist(), w=rng.uniform(1 - spread, 1 + spread, a.size).tolist())


def _train(rng, n, rate_hz, t_stop, dt, off_grid):
    p = rate_hz * dt * 1e-3
    k, i = np.nonzero(rng.random((int(round(t_stop / dt)), n)) < p)
    t = k * dt
    if off_grid:
        t = t + rng.uniform(0.05, 0.95, t.size) * dt
    return i.tolist(), [round(float(x), 9) for x in t]


def random_spec(seed: int, index: int) -> dict:
    """Case `index` of the cases drawn from `seed` (kinds cycle: a cell driven by
    currents, a cell (or a few) driven by spike trains through synapses, a small
    recurrent network); about a third start from drawn voltages (`v0`, Dendrify's
    `group.V_<comp> = ...`) instead of rest."""
    spec = _random_spec(seed, index)
    rng = np.random.default_rng([seed, index, 1])  # its own stream: the rest unchanged
    if rng.random() < 0.35:
        for pop in spec["populations"].values():
            v0 = {}
            for c in pop["compartments"]:
                if rng.random() < 0.6:
                    n = pop["size"]
                    v = rng.uniform(-80.0, -35.0, n)  # sometimes above a threshold
                    v0[c["name"]] = float(v[0]) if n == 1 else [float(x) for x in v]
            pop["v0"] = v0
    return spec


def _random_spec(seed: int, index: int) -> dict:
    rng = np.random.default_rng([seed, index])
    kind = ["solo", "synaptic", "solo", "synaptic", "network"][index % 5]
    dt = float(rng.choice([0.1, 0.1, 0.05, 0.025, 0.025]))
    t_stop = 200.0 if dt >= 0.05 else 120.0
    n_steps = int(round(t_stop / dt))
    comps, conns = _cell(rng, dt)
    g_total = sum(_membrane(c)[1] for c in comps)
    # voltages stored and compared every `v_stride` steps (≈ 400 samples a trace: the
    # references stay small; spikes and dSpikes are compared at every step)
    spec = dict(
        dt=dt,
        n_steps=n_steps,
        seed=int(seed),
        index=int(index),
        kind=kind,
        v_stride=max(1, n_steps // 400),
    )
    if kind == "solo":
        spec.update(
            method="euler",
            solo=True,
            populations=dict(
                cell=dict(
                    size=1,
                    compartments=comps,
                    connections=conns,
                    soma=_soma(rng, dt),
                    current=_currents(rng, comps, t_stop),
                )
            ),
            record=dict(cell=[0]),
        )
        return spec
    if kind == "synaptic":
        size = int(rng.integers(1, 4))
        method = "exponential_euler" if rng.random() < 0.3 else "euler"
        channels = ["AMPA", "GABA"] + ([] if method == "exponential_euler" else ["NMDA"])
        n_in = int(rng.integers(5, 25))
        i, t = _train(rng, n_in, float(rng.uniform(10, 60)), t_stop, dt, rng.random() < 0.5)
        projections = []
        for k in range(int(rng.integers(1, 5))):
            s = _synapse(rng, dt, channels[:1] + channels[2:] if k == 0 else channels, g_total)
            s.update(
                pre="in",
                post="cell",
                compartment=comps[int(rng.integers(0, len(comps)))]["name"],
                delay=0.0 if rng.random() < 0.4 else _steps(rng, dt, dt, 3.0),
                **_pairs(rng, n_in, size, float(rng.uniform(0.3, 0.9))),
            )
            projections.append(s)
        spec.update(
            method=method,
            inputs=dict(n=n_in, i=i, t=t),
            populations=dict(
                cell=dict(
                    size=size,
                    compartments=comps,
                    connections=conns,
                    soma=_soma(rng, dt),
                    current=_currents(rng, comps, t_stop, size) if rng.random() < 0.5 else [],
                )
            ),
            projections=projections,
            record=dict(cell=list(range(min(size, 2)))),
        )
        return spec
    # a small recurrent network: E (the random cell), I (soma, or soma + dendrite)
    n_e, n_i = int(rng.integers(10, 31)), int(rng.integers(4, 11))
    method = "exponential_euler" if rng.random() < 0.3 else "euler"
    channels = ["AMPA"] + ([] if method == "exponential_euler" else ["NMDA"])
    n_ic = int(rng.integers(1, 3))
    i_comps, i_conns = _cell(
        rng, dt, n_comp=n_ic, dspikes=False, physical=False if n_ic == 1 else None
    )
    if len(i_comps) == 1:
        i_conns = []
    g_i = sum(_membrane(c)[1] for c in i_comps)
    n_in = int(rng.integers(10, 30))
    i, t = _train(rng, n_in, float(rng.uniform(10, 40)), t_stop, dt, rng.random() < 0.5)
    e_names = [c["name"] for c in comps]
    i_names = [c["name"] for c in i_comps]
    projections = []

    def proj(pre, post, channels, g_scale, names, p):
        s = _synapse(rng, dt, channels, g_scale)
        n_pre = dict(E=n_e, I=n_i, **{"in": n_in})[pre]
        n_post = dict(E=n_e, I=n_i)[post]
        s.update(
            pre=pre,
            post=post,
            compartment=names[int(rng.integers(0, len(names)))],
            delay=0.0 if rng.random() < 0.2 else _steps(rng, dt, dt, 3.0),
            **_pairs(rng, n_pre, n_post, p),
        )
        projections.append(s)

    proj("in", "E", channels, 0.8 * g_total, e_names, 0.4)
    if rng.random() < 0.5:
        proj("in", "E", channels, 0.8 * g_total, e_names, 0.3)
    proj("in", "I", ["AMPA"], 0.5 * g_i, i_names, 0.3)
    proj("E", "E", channels, 2.0 * g_total / n_e, e_names, 0.2)
    proj("E", "I", ["AMPA"], 2.0 * g_i / n_e, i_names, 0.3)
    proj("I", "E", ["GABA"], 1.0 * g_total / n_i, e_names, 0.4)
    spec.update(
        method=method,
        inputs=dict(n=n_in, i=i, t=t),
        populations=dict(
            E=dict(
                size=n_e,
                compartments=comps,
                connections=conns,
                soma=_soma(rng, dt, allow_none=False),
                current=_currents(rng, comps, t_stop, n_e) if rng.random() < 0.5 else [],
            ),
            I=dict(
                size=n_i,
                compartments=i_comps,
                connections=i_conns,
                # (dendrify's PointNeuronModel has no second reset)
                soma=_soma(rng, dt, allow_none=False, two_stage=len(i_comps) > 1),
                current=[],
            ),
        ),
        projections=projections,
        record=dict(E=[0, 1], I=[0]),
    )
    return spec


def _kinetics(p) -> str:
    if not p.get("t_rise"):
        return ""
    return "α" if p["t_rise"] == p["t_decay"] else "rd>" if p["t_rise"] > p["t_decay"] else "rd"


def describe(spec) -> str:
    """A short line: what the case drew."""
    pops = spec["populations"]
    first = next(iter(pops.values()))
    comps = first["compartments"]
    n_ds = sum(bool(c.get("dspikes")) for c in comps)
    phys = "phys" if "length" in comps[0] else "abs"
    soma = first["soma"]
    s = "no-th" if soma is None else ("2-stage" if soma.get("v_spike") is not None else "lif")
    syn = sorted({p["channel"] + _kinetics(p) for p in spec.get("projections", [])})
    sizes = "+".join(str(p["size"]) for p in pops.values())
    v0 = " v0" if any(p.get("v0") for p in pops.values()) else ""
    return (
        f"{spec['kind']} dt={spec['dt']} {spec['method'][:5]} {len(comps)}c {phys} "
        f"ds{n_ds} {s} n={sizes}{v0} {','.join(syn)}"
    )


# ------------------------------------------------------------------------------ running


def case_name(seed, index) -> str:
    return f"s{seed}_{index:03d}"


def out_dir(seed, out=None) -> Path:
    if out:
        return Path(out)
    return STORED if seed == STORED_SEED else Path(f"/tmp/dendrify_random_{seed}")


def write_references(seed, indices, out) -> None:
    import brian2 as b
    import dendrify

    b.prefs.codegen.target = "numpy"  # small models: no compilation
    out.mkdir(parents=True, exist_ok=True)
    h = heldout()
    for k in indices:
        path = out / f"{case_name(seed, k)}.npz"
        if path.exists():
            continue
        spec = random_spec(seed, k)
        t0 = time.process_time()
        data = subsample(spec, h.run_dendrify(spec))
        meta = dict(spec, dendrify=getattr(dendrify, "__version__", "2.2"), brian2=b.__version__)
        np.savez_compressed(path, spec=json.dumps(meta), **data)
        counts = sum(int(np.size(v)) for kk, v in data.items() if "steps" in kk)
        print(
            f"{path.name}: {describe(spec)}: {counts} events, {time.process_time() - t0:.1f} s CPU",
            flush=True,
        )


def subsample(spec, data: dict) -> dict:
    """The voltage traces every `v_stride` steps (the events untouched)."""
    k = spec.get("v_stride", 1)
    return {
        n: (v[::k] if n.startswith("v_") and not n.startswith("v_neuron_mean") else v)
        for n, v in data.items()
    }


def load(path):
    d = np.load(path)
    return json.loads(str(d["spec"])), {k: d[k] for k in d.files if k != "spec"}


def compare_case(spec, ref, default_solver=False) -> dict:
    """neurojax against the reference (float64, Brian2's scheme); an exponential-Euler
    case with rise-and-decay synapses with the weights × ρ (the documented difference).
    `default_solver`: neurojax's default schemes instead (a lone cell's `CrankNicolson`,
    a network's `ExponentialEuler`), to measure what they change."""
    h = heldout()
    rd = any(p.get("t_rise") for p in spec.get("projections", []))
    scaled = spec["method"] == "exponential_euler" and rd
    got = h.run_neurojax(spec, brian2_expeuler=scaled, default_solver=default_solver)
    row = h.compare(spec, ref, subsample(spec, got))
    row["rho_scaled"] = scaled
    return row


def main(argv) -> None:
    def opt(name, default):
        return type(default)(argv[argv.index(name) + 1]) if name in argv else default

    seed, n = opt("--seed", STORED_SEED), opt("--n", 40)
    out = out_dir(seed, opt("--out", ""))
    indices = range(opt("--start", 0), n)
    if "--reference" in argv:
        write_references(seed, indices, out)
        return
    missing = [k for k in indices if not (out / f"{case_name(seed, k)}.npz").exists()]
    if missing:
        print(f"making {len(missing)} dendrify references with {DENDRIFY_PYTHON}", flush=True)
        subprocess.run(
            [
                DENDRIFY_PYTHON,
                __file__,
                "--reference",
                "--seed",
                str(seed),
                "--n",
                str(n),
                "--out",
                str(out),
            ],
            check=True,
        )
    import jax

    jax.config.update("jax_enable_x64", "--float32" not in argv)
    rows = []
    for k in indices:
        spec, ref = load(out / f"{case_name(seed, k)}.npz")
        row = compare_case(spec, ref, default_solver="--default-solver" in argv)
        rows.append((case_name(seed, k), spec, row))
        print(
            f"{case_name(seed, k)} {'yes' if row['ok'] else 'NO ':3s} {describe(spec):55s} "
            f"soma {row['soma_ref']:4d}/{row['soma_got']:4d} dsp {row['dsp_ref']:4d}/"
            f"{row['dsp_got']:4d} shift {row['shift']} mean|dV| {row['mean_dv']:.1e} "
            f"max|dV| {row['max_dv']:.1e} " + "; ".join(row["notes"][:2]),
            flush=True,
        )
    if "--markdown" in argv:
        print(
            "\n| case | what it drew | somatic spikes | dSpikes | shift | mean \\|ΔV\\| | "
            "max \\|ΔV\\| | agree |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, spec, r in rows:
            print(
                f"| `{name}` | {describe(spec)} | {r['soma_ref']} / {r['soma_got']} | "
                f"{r['dsp_ref']} / {r['dsp_got']} | {r['shift']} | {r['mean_dv']:.1e} | "
                f"{r['max_dv']:.1e} | {'yes' if r['ok'] else 'NO'} |"
            )
    ok = [r for _, _, r in rows if r["ok"]]
    print(
        f"{len(ok)}/{len(rows)} cases agree; events {sum(r['soma_ref'] for _, _, r in rows)} "
        f"somatic, {sum(r['dsp_ref'] for _, _, r in rows)} dSpikes; worst shift "
        f"{max(r['shift'] for _, _, r in rows)} steps, worst mean |dV| "
        f"{max(r['mean_dv'] for _, _, r in rows):.1e} mV, max |dV| "
        f"{max(r['max_dv'] for _, _, r in rows):.1e} mV"
    )


if __name__ == "__main__":
    main(sys.argv)
