"""Reference traces of Dendrify-style reduced neurons from dendrify 2.2 on Brian2, for
`tests/test_dendritic_network_dendrify.py`.

Each case is a *spec* (a plain dict in neurojax's units: nF, µS, mV, ms, nA; physical
compartments in µm, µF/cm², mS/cm², Ω·cm) from which this script builds the dendrify
model and the test builds the neurojax one, so the two are built from the same numbers.
The spec is stored with the traces (`tests/data/dendrify/<case>.npz`, key `spec`, JSON).

Cases (dt = 0.1 ms unless said):

- `dspikes`: Dendrify's "Understanding dSpikes" example (soma 200 pF / 10 nS, dendrite
  50 pF / 2.5 nS, 15 nS coupling, Na-like dSpikes 30/15 nS, threshold −35 mV, rise 1.2
  ms, fall 2.4 ms after 0.5 ms, refractory 5 ms; 213 pA into the dendrite 10–160 ms).
- `soma_resets`: a soma and two dendrites with physical dimensions, one half-cylinder
  and one `cylinder_<name>` coupling, a leaky-IF soma with Dendrify's two-stage reset
  (`reset`, `second_reset` after `spike_width`) and refractoriness, dSpikes in the
  distal dendrite (backpropagation and dendritic spikes), currents into soma and dendrite.
- `synapses`: AMPA, NMDA (instant rise, Mg²⁺ block) and GABA, and the rise-and-decay
  AMPA/NMDA (with and without `scale_g`), on a dendrite and the soma, driven by a spike
  generator with delays.
- `network_euler`: 40 three-compartment E cells (dSpikes in the distal dendrite) and 10
  two-compartment I cells, spike-generator input onto distal AMPA+NMDA and I dendrites,
  recurrent E→E (proximal, 1.5 ms), E→I (soma, 1 ms), I→E (soma GABA, 0.5 ms);
  Brian2 `method='euler'` (Dendrify's default).
- `network_expeuler`: the same without NMDA, `method='exponential_euler'` (the scheme of
  neurojax's default network solver).

Dendrify and Brian2 are not neurojax dependencies; Brian2 needs numpy < 2.3:

    python3 -m venv /tmp/dendrify-venv
    /tmp/dendrify-venv/bin/pip install dendrify brian2 'numpy<2.3'
    /tmp/dendrify-venv/bin/python validation/make_dendrify_reference.py
    # → tests/data/dendrify/*.npz
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "dendrify"


# ------------------------------------------------------------------------------ specs


def _poisson_times(rng, n, rate_hz, t_stop, dt):
    """Spike steps of `n` Poisson sources (at most one spike per source and step)."""
    p = rate_hz * dt * 1e-3
    steps = int(round(t_stop / dt))
    fired = rng.random((steps, n)) < p
    k, i = np.nonzero(fired)
    return i.tolist(), (k * dt).tolist()


def specs() -> dict:
    dsp = dict(
        g_rise=0.030,
        g_fall=0.015,
        threshold=-35.0,
        e_rise=70.0,
        e_fall=-89.0,
        duration_rise=1.2,
        duration_fall=2.4,
        offset_fall=0.5,
        refractory=5.0,
    )
    out = {}
    out["dspikes"] = dict(
        dt=0.1,
        n_steps=2500,
        compartments=[
            dict(name="soma", c_abs=0.2, gl_abs=0.01, e_l=-60.0),
            dict(name="dend", c_abs=0.05, gl_abs=0.0025, e_l=-60.0, dspikes=dsp),
        ],
        connections=[["soma", "dend", 0.015]],
        soma=None,
        current=[["dend", 10.0, 160.0, 0.213]],
        method="euler",
    )
    out["soma_resets"] = dict(
        dt=0.1,
        n_steps=3000,
        compartments=[
            dict(name="soma", length=25.0, diameter=25.0, cm=1.0, gl=0.04, ra=150.0, e_l=-70.0),
            dict(name="prox", length=100.0, diameter=2.0, cm=1.0, gl=0.04, ra=150.0, e_l=-70.0),
            dict(
                name="dist",
                length=150.0,
                diameter=1.0,
                cm=1.0,
                gl=0.04,
                ra=150.0,
                e_l=-70.0,
                dspikes=dict(dsp, g_rise=0.004, g_fall=0.002, threshold=-40.0),
            ),
        ],
        connections=[["soma", "prox", "half_cylinders"], ["prox", "dist", "cylinder_dist"]],
        soma=dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0, v_spike=40.0, spike_width=0.5),
        current=[["soma", 20.0, 120.0, 0.25], ["dist", 150.0, 260.0, 0.1]],
        method="euler",
    )
    rng = np.random.default_rng(2)
    i, t = _poisson_times(rng, 6, 60.0, 280.0, 0.1)
    out["synapses"] = dict(
        dt=0.1,
        n_steps=3000,
        compartments=[
            dict(name="soma", c_abs=0.2, gl_abs=0.01, e_l=-65.0),
            dict(name="dend", c_abs=0.05, gl_abs=0.0025, e_l=-65.0),
        ],
        connections=[["soma", "dend", 0.012]],
        soma=dict(v_th=-52.0, v_reset=-62.0, t_ref=2.0),
        current=[],
        method="euler",
        inputs=dict(n=6, i=i, t=t),
        synapses=[
            dict(
                channel="AMPA",
                tag="a",
                compartment="dend",
                g=0.004,
                t_decay=2.0,
                source=0,
                delay=0.0,
            ),
            dict(
                channel="NMDA",
                tag="n",
                compartment="dend",
                g=0.003,
                t_decay=60.0,
                source=1,
                delay=1.0,
            ),
            dict(
                channel="AMPA",
                tag="ar",
                compartment="dend",
                g=0.004,
                t_rise=0.5,
                t_decay=3.0,
                source=2,
                delay=0.0,
            ),
            dict(
                channel="NMDA",
                tag="nr",
                compartment="dend",
                g=0.002,
                t_rise=2.0,
                t_decay=50.0,
                scale_g=True,
                source=3,
                delay=2.0,
            ),
            dict(
                channel="GABA",
                tag="g",
                compartment="soma",
                g=0.006,
                t_decay=8.0,
                source=4,
                delay=0.5,
            ),
            dict(
                channel="AMPA",
                tag="s",
                compartment="soma",
                g=0.01,
                t_decay=2.0,
                source=5,
                delay=0.0,
            ),
        ],
    )
    for name, method, nmda in (
        ("network_euler", "euler", True),
        ("network_expeuler", "exponential_euler", False),
    ):
        rng = np.random.default_rng(7)
        n_in, n_e, n_i = 20, 40, 10
        i, t = _poisson_times(rng, n_in, 40.0, 190.0, 0.1)

        def pairs(n_pre, n_post, p, w, rng=rng):
            m = rng.random((n_pre, n_post)) < p
            a, b = np.nonzero(m)
            return dict(i=a.tolist(), j=b.tolist(), w=(w * rng.uniform(0.5, 1.5, a.size)).tolist())

        projections = [
            dict(
                pre="in",
                post="E",
                channel="AMPA",
                compartment="dist",
                t_decay=2.0,
                delay=0.0,
                **pairs(n_in, n_e, 0.3, 0.012),
            ),
            dict(
                pre="in",
                post="I",
                channel="AMPA",
                compartment="dend",
                t_decay=2.0,
                delay=0.0,
                **pairs(n_in, n_i, 0.3, 0.006),
            ),
            dict(
                pre="E",
                post="E",
                channel="AMPA",
                compartment="prox",
                t_decay=2.0,
                delay=1.5,
                **pairs(n_e, n_e, 0.1, 0.006),
            ),
            dict(
                pre="E",
                post="I",
                channel="AMPA",
                compartment="soma",
                t_decay=2.0,
                delay=1.0,
                **pairs(n_e, n_i, 0.2, 0.003),
            ),
            dict(
                pre="I",
                post="E",
                channel="GABA",
                compartment="soma",
                t_decay=6.0,
                delay=0.5,
                **pairs(n_i, n_e, 0.3, 0.004),
            ),
        ]
        if nmda:
            projections.insert(
                1,
                dict(
                    pre="in",
                    post="E",
                    channel="NMDA",
                    compartment="dist",
                    t_decay=60.0,
                    delay=0.0,
                    **pairs(n_in, n_e, 0.3, 0.002),
                ),
            )
        out[name] = dict(
            dt=0.1,
            n_steps=2000,
            method=method,
            inputs=dict(n=n_in, i=i, t=t),
            populations=dict(
                E=dict(
                    size=n_e,
                    compartments=[
                        dict(name="soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
                        dict(name="prox", c_abs=0.06, gl_abs=0.003, e_l=-70.0),
                        dict(
                            name="dist",
                            c_abs=0.04,
                            gl_abs=0.002,
                            e_l=-70.0,
                            dspikes=dict(dsp, g_rise=0.02, g_fall=0.01, threshold=-40.0),
                        ),
                    ],
                    connections=[["soma", "prox", 0.03], ["prox", "dist", 0.02]],
                    soma=dict(v_th=-54.0, v_reset=-60.0, t_ref=3.0, v_spike=30.0, spike_width=0.5),
                ),
                I=dict(
                    size=n_i,
                    compartments=[
                        dict(name="soma", c_abs=0.1, gl_abs=0.01, e_l=-65.0),
                        dict(name="dend", c_abs=0.03, gl_abs=0.003, e_l=-65.0),
                    ],
                    connections=[["soma", "dend", 0.02]],
                    soma=dict(v_th=-52.0, v_reset=-60.0, t_ref=1.0),
                ),
            ),
            projections=projections,
            record=dict(E=[0, 1, 2, 3, 4], I=[0, 1]),
        )
    return out


# ------------------------------------------------------------------------------ dendrify


E_REV = {"AMPA": 0.0, "NMDA": 0.0, "GABA": -80.0}


def build_model(cell: dict, synapses=()):
    """A dendrify NeuronModel from a cell spec (and synapse specs on its compartments)."""
    from brian2.units import cm, mS, ms, mV, nF, ohm, uF, um, uS
    from dendrify import Dendrite, NeuronModel, Soma

    comps = {}
    for k, c in enumerate(cell["compartments"]):
        kind = Soma if k == 0 else Dendrite
        if "c_abs" in c:
            kw = dict(cm_abs=c["c_abs"] * nF, gl_abs=c["gl_abs"] * uS)
        else:
            kw = dict(
                length=c["length"] * um,
                diameter=c["diameter"] * um,
                cm=c["cm"] * uF / cm**2,
                gl=c["gl"] * mS / cm**2,
                r_axial=c["ra"] * ohm * cm,
            )
        comp = kind(c["name"], v_rest=c["e_l"] * mV, **kw)
        d = c.get("dspikes")
        if d:
            comp.dspikes(
                "Na",
                threshold=d["threshold"] * mV,
                g_rise=d["g_rise"] * uS,
                g_fall=d["g_fall"] * uS,
                duration_rise=d["duration_rise"] * ms,
                duration_fall=d["duration_fall"] * ms,
                reversal_rise=d["e_rise"] * mV,
                reversal_fall=d["e_fall"] * mV,
                offset_fall=d["offset_fall"] * ms,
                refractory=d["refractory"] * ms,
            )
        comps[c["name"]] = comp
    for s in synapses:
        comps[s["compartment"]].synapse(
            s["channel"],
            tag=s["tag"],
            g=s.get("g", 1.0) * uS,
            t_rise=s["t_rise"] * ms if s.get("t_rise") else None,
            t_decay=s["t_decay"] * ms,
            scale_g=s.get("scale_g", False),
        )
    conns = []
    for a, b, g in cell["connections"]:
        conns.append((comps[a], comps[b], g if isinstance(g, str) else g * uS))
    model = NeuronModel(conns)
    return model


def make_group(model, n, soma, method):
    from brian2.units import ms

    kw = dict(method=method)
    if soma:
        first = soma.get("v_spike", soma["v_reset"])
        kw.update(
            threshold=f"V_soma > {soma['v_th']}*mV",
            reset=f"V_soma = {first}*mV",
            refractory=soma["t_ref"] * ms,
        )
        if soma.get("v_spike") is not None:
            kw.update(
                second_reset=f"V_soma = {soma['v_reset']}*mV", spike_width=soma["spike_width"] * ms
            )
    out = model.make_neurongroup(n, **kw)
    return out if isinstance(out, tuple) else (out, None)


def run_cell(spec: dict) -> dict:
    """A single cell (cases `dspikes`, `soma_resets`, `synapses`)."""
    import brian2 as b
    from brian2.units import ms, nA

    b.start_scope()
    b.defaultclock.dt = spec["dt"] * ms
    syn = spec.get("synapses", [])
    model = build_model(spec, syn)
    group, ap = make_group(model, 1, spec["soma"], spec["method"])
    names = [c["name"] for c in spec["compartments"]]
    mon = b.StateMonitor(group, [f"V_{n}" for n in names], record=True, when="end")
    spikes = b.SpikeMonitor(group) if spec["soma"] else None
    objs = (
        [group, mon] + ([spikes] if spikes is not None else []) + ([ap] if ap is not None else [])
    )
    dmons = {}
    for c in spec["compartments"]:
        if c.get("dspikes"):
            dmons[c["name"]] = b.EventMonitor(group, f"spike_Na_{c['name']}")
            objs.append(dmons[c["name"]])
    if syn:
        inp = spec["inputs"]
        gen = b.SpikeGeneratorGroup(inp["n"], inp["i"], np.asarray(inp["t"]) * ms)
        objs.append(gen)
        for s in syn:
            var = f"s_{s['channel']}_{s['tag']}_{s['compartment']}"
            S = b.Synapses(gen, group, on_pre=f"{var} += 1.0", delay=s["delay"] * ms)
            S.connect(i=s["source"], j=0)
            objs.append(S)
    net = b.Network(*objs)
    # piecewise-constant currents: run between the boundaries
    edges = sorted(
        {0.0, spec["n_steps"] * spec["dt"]} | {x for c in spec["current"] for x in c[1:3]}
    )
    for t0, t1 in zip(edges[:-1], edges[1:], strict=True):
        for n in names:
            setattr(group, f"I_ext_{n}", 0 * nA)
        for comp, a, z, amp in spec["current"]:
            if a <= t0 < z:
                setattr(group, f"I_ext_{comp}", amp * nA)
        net.run((t1 - t0) * ms)
    dt = spec["dt"] * ms
    v = np.stack([np.asarray(getattr(mon, f"V_{n}")[0] / b.mV) for n in names], axis=-1)
    out = dict(
        v=v.astype(np.float32),
        spike_steps=np.round(np.asarray(spikes.t / dt)).astype(np.int32)
        if spikes is not None
        else np.zeros(0, np.int32),
    )
    for n, m in dmons.items():
        out[f"dspike_steps_{n}"] = np.round(np.asarray(m.t / dt)).astype(np.int32)
    return out


def run_network(spec: dict) -> dict:
    import brian2 as b
    from brian2.units import ms

    b.start_scope()
    b.defaultclock.dt = spec["dt"] * ms
    dt = spec["dt"] * ms
    groups, objs = {}, []
    for name, pop in spec["populations"].items():
        syn = [
            dict(
                channel=p["channel"],
                tag=f"{p['pre']}{k}",
                compartment=p["compartment"],
                g=1.0,
                t_decay=p["t_decay"],
            )
            for k, p in enumerate(spec["projections"])
            if p["post"] == name
        ]
        model = build_model(pop, syn)
        group, ap = make_group(model, pop["size"], pop["soma"], spec["method"])
        groups[name] = group
        objs += [group] + ([ap] if ap is not None else [])
    inp = spec["inputs"]
    groups["in"] = b.SpikeGeneratorGroup(inp["n"], inp["i"], np.asarray(inp["t"]) * ms)
    objs.append(groups["in"])
    for k, p in enumerate(spec["projections"]):
        var = f"s_{p['channel']}_{p['pre']}{k}_{p['compartment']}"
        S = b.Synapses(
            groups[p["pre"]],
            groups[p["post"]],
            "w : 1",
            on_pre=f"{var} += w",
            delay=p["delay"] * ms,
        )
        S.connect(i=np.asarray(p["i"]), j=np.asarray(p["j"]))
        S.w = np.asarray(p["w"])
        objs.append(S)
    mons, spk, dsp = {}, {}, {}
    for name, pop in spec["populations"].items():
        names = [c["name"] for c in pop["compartments"]]
        mons[name] = b.StateMonitor(
            groups[name], [f"V_{n}" for n in names], record=spec["record"][name], when="end"
        )
        spk[name] = b.SpikeMonitor(groups[name])
        objs += [mons[name], spk[name]]
        for c in pop["compartments"]:
            if c.get("dspikes"):
                dsp[name] = (c["name"], b.EventMonitor(groups[name], f"spike_Na_{c['name']}"))
                objs.append(dsp[name][1])
    net = b.Network(*objs)
    net.run(spec["n_steps"] * dt)
    out = {}
    for name, pop in spec["populations"].items():
        names = [c["name"] for c in pop["compartments"]]
        out[f"v_{name}"] = (
            np.stack([np.asarray(getattr(mons[name], f"V_{n}") / b.mV) for n in names], axis=-1)
            .transpose(1, 0, 2)
            .astype(np.float32)
        )  # (n_steps, recorded, n_comp)
        out[f"spike_i_{name}"] = np.asarray(spk[name].i).astype(np.int32)
        out[f"spike_steps_{name}"] = np.round(np.asarray(spk[name].t / dt)).astype(np.int32)
        if name in dsp:
            comp, m = dsp[name]
            out[f"dspike_i_{name}"] = np.asarray(m.i).astype(np.int32)
            out[f"dspike_steps_{name}"] = np.round(np.asarray(m.t / dt)).astype(np.int32)
    return out


def main(argv) -> None:
    import brian2 as b
    import dendrify

    b.prefs.codegen.target = "numpy"  # small models: no compilation
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(argv[1:])
    for name, spec in specs().items():
        if only and name not in only:
            continue
        data = run_network(spec) if "populations" in spec else run_cell(spec)
        meta = dict(spec, dendrify=getattr(dendrify, "__version__", "2.2"), brian2=b.__version__)
        np.savez_compressed(OUT / f"{name}.npz", spec=json.dumps(meta), **data)
        counts = {k: int(np.size(v)) for k, v in data.items() if "steps" in k}
        print(f"{name}: {counts}")


if __name__ == "__main__":
    main(sys.argv)
