"""Session-14 held-out checks against dendrify 2.2 on Brian2 (issue 20: "held-out checks
compare with dendrify on cases you have not seen").

Written, all of them, before any was run against neurojax; none was tuned afterwards
(the results, agreeing or not, are in docs/dendritic.md, "Held-out cases (session 14)").
They reach what the five references, the held-out, random and session-12 cases
(`dendrify_heldout_cases.py`, `dendrify_random_cases.py`, `dendrify_s12_cases.py`) did
not: compartments of unusual geometry (600 µm long and 0.4 µm thin beside 5 µm and
3 µm thick ones; a fatter, shorter one makes forward Euler diverge in both tools)
under half-cylinder couplings, very weak and very strong explicit couplings,
every dendrify synapse kind (AMPA, NMDA, GABA; instant, rise-and-decay with and without
`scale_g`) on each of soma, proximal and distal compartments, NMDA under low and high
Mg²⁺ with slow and fast decays, dSpike variants (a gap between rise and fall, a K-heavy
fall, long refractoriness with a high threshold, amplitudes too small to regenerate), soma
variants (`v_reset` far from `v_rest` with a long `t_ref`, a one-step spike width,
`t_ref = dt`), a sinusoidal current into a dendrite, dense Poisson trains from fixed
seeds as spike-generator inputs, a population with **per-neuron** soma parameters
(`v_th`, `v_reset`, `t_ref`: dendrify's threshold/reset/refractory as expressions of
the neuron index, neurojax's arrays of one value per neuron), networks at dt 0.05 and
0.2 ms, and runs of 1 and 2 s.

The spec format, the Brian2 runner and the comparison are those of the held-out driver
(through `dendrify_s12_cases`: its `neurojax_view` translates dendrify's global
`update_default_params` onto neurojax's per-object parameters). The one extension is
`per_neuron` (population → {"v_th": [...], "v_reset": [...], "t_ref": [...]}, mV/ms):

- dendrify: `threshold='V_soma > vth_pn(t, i)'`, `reset='V_soma = vreset_pn(t, i)'`,
  `refractory='tref_pn(t, i)'`, the per-neuron values in `TimedArray`s of one row added
  with `NeuronModel.add_params` (a dendrify user's way: its thresholds and resets are
  Brian2 strings);
- neurojax: `eqx.tree_at` sets `ReducedCell.v_th` / `.v_reset` / `.t_ref` to arrays
  shaped `(size,)` (a population's soma parameters may be one per neuron).

Usage:

    # references (Brian2) -> tests/data/dendrify_s14/*.npz, in the dendrify environment
    /tmp/brian2-venv/bin/python validation/dendrify_heldout_s14.py --reference [case ...]
    # neurojax against them (float64; --float32 for neurojax's default precision)
    .venv/bin/python validation/dendrify_heldout_s14.py [case ...] [--markdown] [--float32]

`tests/test_dendrify_heldout_s14.py` runs them against the stored references (slow tier).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "dendrify_s14"


def _load(name):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parent / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


s12 = _load("dendrify_s12_cases")
hc = s12.hc
_abs, _phys, _dsp, _pairs, _poisson_times = hc._abs, hc._phys, hc._dsp, hc._pairs, hc._poisson_times
_cell_case, _proj, _from_inputs = hc._cell_case, s12._proj, s12._from_inputs

# the six synapse kinds of dendrify: (channel, t_decay, extra), weights per spike (µS)
KINDS = [
    ("AMPA", 2.5, {}, 0.004),
    ("AMPA", 3.0, dict(t_rise=0.5), 0.004),  # scale_g=False (dendrify's default)
    ("NMDA", 60.0, {}, 0.0015),
    ("NMDA", 50.0, dict(t_rise=2.0, scale_g=True), 0.002),
    ("GABA", 6.0, {}, 0.003),
    ("GABA", 8.0, dict(t_rise=1.0, scale_g=True), 0.003),
]


def _three(dspikes=True, **soma):
    """soma–proximal–distal (dimensionless), Na dSpikes on the distal dendrite."""
    return [
        _abs("soma", 0.2, 0.01, -70.0),
        _abs("proximal", 0.06, 0.003, -70.0),
        _abs("distal", 0.03, 0.0015, -70.0, dspikes=_dsp(threshold=-40.0) if dspikes else None),
    ]


THREE_CONN = [["soma", "proximal", 0.03], ["proximal", "distal", 0.012]]


def _sine_steps(comp, t0, t1, period, amp, offset, piece):
    """A sinusoid as piecewise-constant steps of `piece` ms (the driver's `step` kind)."""
    out = []
    for a in np.arange(t0, t1, piece):
        val = offset + amp * np.sin(2 * np.pi * (a - t0) / period)
        out.append(dict(comp=comp, kind="step", t0=float(a), t1=float(a + piece), amp=float(val)))
    return out


def specs() -> dict:
    out = {}
    # --- 1. unusual geometry: short-fat and long-thin compartments, half cylinders -------
    out["s14_geometry_extremes"] = _cell_case(
        [
            _phys("soma", 30.0, 30.0, cm=1.0, gl=0.05, ra=100.0, e_l=-68.0),
            _phys("stub", 200.0, 5.0, gl=0.04, ra=120.0, e_l=-70.0),  # fat
            _phys(
                "thin",
                600.0,
                0.4,
                gl=0.03,
                ra=200.0,
                e_l=-70.0,  # long and thin
                dspikes=_dsp(g_rise=0.0015, g_fall=0.001, threshold=-40.0),
            ),
            _phys("thick", 200.0, 3.0, cm=1.2, gl=0.03, ra=90.0, e_l=-66.0),
            _phys("twig", 120.0, 0.6, gl=0.05, ra=250.0, e_l=-72.0),
            _phys("long", 400.0, 1.5, gl=0.02, ra=150.0, e_l=-69.0),
        ],
        [
            ["soma", "stub"],
            ["stub", "thin"],
            ["soma", "thick", "half_cylinders"],
            ["thick", "twig", "cylinder_twig"],
            ["long", "thick", "cylinder_long"],
        ],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
        [
            dict(comp="thin", kind="step", t0=20.0, t1=150.0, amp=0.04),
            dict(comp="soma", kind="ramp", t0=100.0, t1=250.0, a0=0.0, a1=0.4),
            dict(comp="long", kind="step", t0=180.0, t1=280.0, amp=0.2),
        ],
        n_steps=6000,
        dt=0.05,
    )
    # --- 2. very weak and very strong explicit couplings ---------------------------------
    out["s14_weak_and_strong_couplings"] = _cell_case(
        [
            _abs("soma", 0.25, 0.0125, -70.0),
            _abs("weak", 0.05, 0.0025, -70.0, dspikes=_dsp(threshold=-45.0)),
            _abs("strong", 0.1, 0.005, -70.0),
            _abs(
                "tip",
                0.02,
                0.001,
                -66.0,
                dspikes=_dsp(
                    "Ca",
                    threshold=-38.0,
                    g_rise=0.01,
                    g_fall=0.006,
                    duration_rise=3.0,
                    offset_fall=2.0,
                    duration_fall=5.0,
                    refractory=12.0,
                ),
            ),
        ],
        [["soma", "weak", 1e-4], ["strong", "soma", 0.12], ["strong", "tip", 0.004]],
        dict(v_th=-50.0, v_reset=-62.0, t_ref=3.0),
        [
            dict(comp="weak", kind="step", t0=10.0, t1=200.0, amp=0.12),
            dict(comp="tip", kind="ramp", t0=50.0, t1=280.0, a0=0.0, a1=0.12),
            dict(comp="strong", kind="step", t0=150.0, t1=250.0, amp=0.25),
        ],
    )
    # --- 3-5. every synapse kind onto one compartment (each case one compartment) -------
    for comp in ("soma", "proximal", "distal"):
        rng = np.random.default_rng({"soma": 1401, "proximal": 1402, "distal": 1403}[comp])
        n_per = 6
        n_in = n_per * len(KINDS)
        i, t = _poisson_times(rng, n_in, 40.0, 500.0, 0.1, off_grid=True)
        gain = 2.0 if comp == "distal" else 4.0  # (raised once: the first draw had no spike)
        projs = []
        for k, (ch, td, kw, g) in enumerate(KINDS):
            src = list(range(k * n_per, (k + 1) * n_per))
            projs.append(
                dict(
                    pre="in",
                    post="cell",
                    channel=ch,
                    compartment=comp,
                    t_decay=td,
                    g=g * gain,
                    i=src,
                    j=[0] * n_per,
                    w=rng.uniform(0.6, 1.4, n_per).tolist(),
                    delay=float(0.1 * k),
                    **kw,
                )
            )
        out[f"s14_all_synapses_on_{comp}"] = dict(
            _cell_case(
                _three(),
                THREE_CONN,
                dict(v_th=-50.0, v_reset=-60.0, t_ref=2.5),
                [dict(comp="proximal", kind="step", t0=100.0, t1=400.0, amp=0.05)],
                n_steps=5000,
                solo=False,
            ),
            inputs=dict(n=n_in, i=i, t=t),
            projections=projs,
        )
    # --- 6/7. NMDA under other Mg²⁺ and time constants -----------------------------------
    rng = np.random.default_rng(1406)
    i, t = _poisson_times(rng, 12, 30.0, 400.0, 0.1)
    out["s14_nmda_low_mg_slow"] = dict(
        _cell_case(
            _three(),
            THREE_CONN,
            dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
            [],
            n_steps=4000,
            solo=False,
        ),
        inputs=dict(n=12, i=i, t=t),
        projections=_from_inputs(
            12,
            "cell",
            [
                ("NMDA", "distal", 120.0, 0.0015, {}),
                ("NMDA", "proximal", 100.0, 0.0015, dict(t_rise=5.0)),
                ("AMPA", "distal", 2.0, 0.002, {}),
            ],
        ),
        default_params=dict(Mg_con=0.3),
    )
    rng = np.random.default_rng(1407)
    i, t = _poisson_times(rng, 12, 40.0, 400.0, 0.1)
    out["s14_nmda_high_mg_fast"] = dict(
        _cell_case(
            _three(),
            THREE_CONN,
            dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
            [dict(comp="distal", kind="step", t0=150.0, t1=300.0, amp=0.06)],
            n_steps=4000,
            solo=False,
        ),
        inputs=dict(n=12, i=i, t=t),
        projections=_from_inputs(
            12,
            "cell",
            [
                ("NMDA", "distal", 25.0, 0.006, {}),
                ("NMDA", "distal", 30.0, 0.006, dict(t_rise=1.0, scale_g=True)),
                ("NMDA", "soma", 20.0, 0.004, {}),
                ("AMPA", "proximal", 2.0, 0.004, {}),
            ],
        ),
        default_params=dict(Mg_con=2.5, Alpha_NMDA=0.05, Beta_NMDA=4.0, Gamma_NMDA=-5.0),
    )
    # --- 8-11. dSpike variants --------------------------------------------------------
    out["s14_dspike_gap_rise_fall"] = _cell_case(  # fall opens 2 ms after the rise ends
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs(
                "d",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    duration_rise=0.5,
                    offset_fall=2.5,
                    duration_fall=1.5,
                    refractory=6.0,
                    threshold=-42.0,
                ),
            ),
        ],
        [["soma", "d", 0.015]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0),
        [dict(comp="d", kind="ramp", t0=10.0, t1=280.0, a0=0.05, a1=0.4)],
    )
    out["s14_dspike_k_heavy"] = _cell_case(  # fall 4× the rise, reversal −95 mV
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs(
                "d",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    g_rise=0.02,
                    g_fall=0.08,
                    e_fall=-95.0,
                    threshold=-44.0,
                    duration_rise=0.8,
                    offset_fall=0.5,
                    duration_fall=4.0,
                    refractory=7.0,
                ),
            ),
        ],
        [["soma", "d", 0.012]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
        [
            dict(comp="d", kind="step", t0=20.0, t1=260.0, amp=0.3),
            dict(comp="soma", kind="step", t0=120.0, t1=200.0, amp=0.25),
        ],
    )
    out["s14_dspike_long_refractory_high_threshold"] = _cell_case(
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs(
                "d",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(threshold=-25.0, refractory=40.0, g_rise=0.04, g_fall=0.02),
            ),
            _abs(
                "e",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    "Ca",
                    threshold=-20.0,
                    refractory=80.0,
                    g_rise=0.015,
                    g_fall=0.01,
                    duration_rise=6.0,
                    offset_fall=5.0,
                    duration_fall=12.0,
                ),
            ),
        ],
        [["soma", "d", 0.01], ["d", "e", 0.008]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
        [
            dict(comp="d", kind="step", t0=10.0, t1=290.0, amp=0.45),
            dict(comp="e", kind="ramp", t0=50.0, t1=290.0, a0=0.1, a1=0.6),
        ],
    )
    out["s14_dspike_tiny_amplitudes"] = _cell_case(  # events that barely move V
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs(
                "d",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(g_rise=0.0005, g_fall=0.0003, threshold=-50.0, refractory=3.0),
            ),
        ],
        [["soma", "d", 0.015]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
        [dict(comp="d", kind="ramp", t0=10.0, t1=290.0, a0=0.0, a1=0.35)],
    )
    # --- 12-14. soma variants -----------------------------------------------------------
    out["s14_soma_reset_far_below_rest_long_tref"] = _cell_case(
        [
            _abs("soma", 0.2, 0.01, -62.0),
            _abs("d", 0.05, 0.0025, -65.0, dspikes=_dsp(threshold=-42.0)),
        ],
        [["soma", "d", 0.015]],
        dict(v_th=-48.0, v_reset=-80.0, t_ref=8.0),
        [dict(comp="soma", kind="step", t0=10.0, t1=280.0, amp=0.5)],
    )
    out["s14_soma_spike_width_one_step"] = _cell_case(
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs("d", 0.05, 0.0025, -70.0, dspikes=_dsp(threshold=-40.0)),
        ],
        [["soma", "d", 0.02]],
        dict(v_th=-50.0, v_reset=-58.0, t_ref=0.1, v_spike=30.0, spike_width=0.1),
        [dict(comp="soma", kind="ramp", t0=10.0, t1=290.0, a0=0.1, a1=0.6)],
    )
    out["s14_soma_tref_one_step_dt02"] = _cell_case(
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs(
                "d",
                0.06,
                0.003,
                -70.0,
                dspikes=_dsp(
                    threshold=-40.0,
                    duration_rise=1.0,
                    offset_fall=0.4,
                    duration_fall=2.0,
                    refractory=4.0,
                ),
            ),
        ],
        [["soma", "d", 0.015]],
        dict(v_th=-50.0, v_reset=-55.0, t_ref=0.2),
        [
            dict(comp="soma", kind="step", t0=20.0, t1=200.0, amp=0.4),
            dict(comp="d", kind="step", t0=150.0, t1=350.0, amp=0.3),
        ],
        n_steps=2000,
        dt=0.2,
    )
    # --- 15. a sinusoidal current into the distal dendrite -------------------------------
    out["s14_sine_current_distal"] = _cell_case(
        _three(),
        THREE_CONN,
        dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0, v_spike=20.0, spike_width=0.5),
        _sine_steps("distal", 0.0, 500.0, 50.0, 0.15, 0.3, 0.5),
        n_steps=5000,
    )
    # --- 16. dense Poisson trains (fixed seed) onto three compartments -------------------
    rng = np.random.default_rng(1416)
    n_in = 150
    i, t = _poisson_times(rng, n_in, 40.0, 1000.0, 0.1, off_grid=True)
    out["s14_dense_poisson_trains_1s"] = dict(
        _cell_case(
            _three(),
            THREE_CONN,
            dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
            [],
            n_steps=10000,
            solo=False,
            v_every=5,
        ),
        inputs=dict(n=n_in, i=i, t=t),
        projections=[
            dict(
                pre="in",
                post="cell",
                channel="AMPA",
                compartment="distal",
                t_decay=2.0,
                g=0.0008,
                i=list(range(0, 80)),
                j=[0] * 80,
                w=[1.0] * 80,
            ),
            dict(
                pre="in",
                post="cell",
                channel="NMDA",
                compartment="distal",
                t_decay=50.0,
                t_rise=2.0,
                g=0.0003,
                i=list(range(0, 80)),
                j=[0] * 80,
                w=[1.0] * 80,
            ),
            dict(
                pre="in",
                post="cell",
                channel="AMPA",
                compartment="proximal",
                t_decay=2.0,
                g=0.0008,
                i=list(range(80, 120)),
                j=[0] * 40,
                w=[1.0] * 40,
            ),
            dict(
                pre="in",
                post="cell",
                channel="GABA",
                compartment="soma",
                t_decay=6.0,
                g=0.0015,
                i=list(range(120, 150)),
                j=[0] * 30,
                w=[1.0] * 30,
                delay=0.5,
            ),
        ],
    )
    # --- 17. a population with per-neuron soma parameters --------------------------------
    rng = np.random.default_rng(1417)
    n, n_in = 12, 20
    i, t = _poisson_times(rng, n_in, 20.0, 300.0, 0.1)
    out["s14_per_neuron_soma"] = dict(
        dt=0.1,
        n_steps=3000,
        method="euler",
        inputs=dict(n=n_in, i=i, t=t),
        populations=dict(
            E=dict(
                size=n,
                compartments=_three(),
                connections=THREE_CONN,
                soma=dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
                current=[
                    dict(
                        comp="soma",
                        kind="step",
                        t0=20.0,
                        t1=280.0,
                        amp=0.25,
                        scale=rng.uniform(0.6, 1.2, n).tolist(),
                    )
                ],
                per_neuron=dict(
                    v_th=rng.uniform(-54.0, -46.0, n).round(2).tolist(),
                    v_reset=rng.uniform(-68.0, -55.0, n).round(2).tolist(),
                    t_ref=(0.1 * rng.integers(0, 60, n)).round(1).tolist(),
                ),
            )
        ),
        projections=[
            _proj("in", "E", "AMPA", "distal", 2.5, _pairs(rng, n_in, n, 0.3, 0.006)),
            _proj("E", "E", "AMPA", "proximal", 2.0, _pairs(rng, n, n, 0.3, 0.003), delay=1.0),
        ],
        record=dict(E=[0, 3, 7]),
    )

    # --- 18-20. networks at dt 0.2 and 0.05, and 2 s -----------------------------------
    def net_case(seed, dt, n_steps, method, t_stop, nmda=True, v_every=1):
        rng = np.random.default_rng(seed)
        n_e, n_i, n_in = 16, 6, 24
        i, t = _poisson_times(rng, n_in, 30.0, t_stop, dt, off_grid=True)
        e_comps = [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs(
                "basal",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    threshold=-40.0,
                    duration_rise=1.2,
                    offset_fall=0.4,
                    duration_fall=2.4,
                    refractory=5.0,
                ),
            ),
            _abs(
                "apical",
                0.04,
                0.002,
                -70.0,
                dspikes=_dsp(
                    "Ca",
                    g_rise=0.015,
                    g_fall=0.01,
                    threshold=-35.0,
                    duration_rise=3.0,
                    offset_fall=2.0,
                    duration_fall=6.0,
                    refractory=14.0,
                ),
            ),
        ]
        proj = [
            _proj("in", "E", "AMPA", "apical", 3.0, _pairs(rng, n_in, n_e, 0.3, 0.015)),
            _proj("in", "E", "AMPA", "basal", 3.0, _pairs(rng, n_in, n_e, 0.2, 0.004), t_rise=0.6),
            _proj("E", "E", "AMPA", "basal", 2.0, _pairs(rng, n_e, n_e, 0.2, 0.003), delay=1.0),
            _proj("E", "I", "AMPA", "soma", 2.0, _pairs(rng, n_e, n_i, 0.4, 0.003), delay=0.6),
            _proj("I", "E", "GABA", "soma", 6.0, _pairs(rng, n_i, n_e, 0.5, 0.004), delay=0.4),
            _proj("I", "E", "GABA", "apical", 8.0, _pairs(rng, n_i, n_e, 0.3, 0.002), delay=1.2),
        ]
        if nmda:
            proj.append(
                _proj(
                    "E",
                    "E",
                    "NMDA",
                    "apical",
                    60.0,
                    _pairs(rng, n_e, n_e, 0.2, 0.0015),
                    delay=2.0,
                    t_rise=2.0,
                    scale_g=True,
                )
            )
        return dict(
            dt=dt,
            n_steps=n_steps,
            method=method,
            inputs=dict(n=n_in, i=i, t=t),
            populations=dict(
                E=dict(
                    size=n_e,
                    compartments=e_comps,
                    connections=[["soma", "basal", 0.02], ["soma", "apical", 0.015]],
                    soma=dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0, v_spike=20.0, spike_width=0.4),
                    current=[
                        dict(
                            comp="soma",
                            kind="step",
                            t0=0.0,
                            t1=t_stop,
                            amp=0.25,
                            scale=rng.uniform(0.0, 1.0, n_e).tolist(),
                        )
                    ],
                ),
                I=dict(
                    size=n_i,
                    compartments=[_abs("soma", 0.1, 0.01, -65.0)],
                    connections=[],
                    soma=dict(v_th=-52.0, v_reset=-60.0, t_ref=1.0),
                    current=[
                        dict(
                            comp="soma",
                            kind="step",
                            t0=0.0,
                            t1=t_stop,
                            amp=0.12,
                            scale=rng.uniform(0.8, 1.2, n_i).tolist(),
                        )
                    ],
                ),
            ),
            projections=proj,
            record=dict(E=[0, 4], I=[0]),
            v_every=v_every,
        )

    out["s14_network_dt02"] = net_case(1418, 0.2, 2000, "euler", 400.0)
    out["s14_network_dt005_expeuler"] = net_case(
        1419, 0.05, 6000, "exponential_euler", 300.0, nmda=False
    )
    out["s14_network_2s"] = net_case(1420, 0.1, 20000, "euler", 2000.0, v_every=10)
    # --- 21. a 1 s single cell with an adapting-looking drive: steps up and down --------
    out["s14_long_1s_steps_dt005"] = _cell_case(
        _three(),
        THREE_CONN,
        dict(v_th=-50.0, v_reset=-65.0, t_ref=3.0, v_spike=15.0, spike_width=1.0),
        [
            dict(comp="soma", kind="step", t0=100.0 * k, t1=100.0 * k + 60.0, amp=0.05 * k)
            for k in range(1, 10)
        ]
        + [dict(comp="distal", kind="ramp", t0=0.0, t1=1000.0, a0=0.0, a1=0.1)],
        n_steps=20000,
        dt=0.05,
        v_every=10,
    )
    return out


# ------------------------------------------------------------------------------ per neuron


class _Expr(str):
    """A Brian2 expression standing where the held-out runner writes a number: its
    `repr` is the expression (the runner formats `f"V > {v_th!r}*mV"`), and `× ms` (the
    runner's `refractory=t_ref*ms`) gives the string (Brian2's refractory expression)."""

    def __repr__(self):
        return str(self)

    def __mul__(self, other):
        return str(self)


def _brian2_spec(spec):
    """The spec as the held-out runner reads it, with `per_neuron` soma values as
    expressions of the neuron index `i` (`TimedArray`s of one row: constant in time)."""
    spec = copy.deepcopy(spec)
    for pop in spec["populations"].values():
        pn = pop.get("per_neuron")
        if pn:
            for k, unit in (("v_th", "mV"), ("v_reset", "mV"), ("t_ref", "ms")):
                if k in pn:
                    # `/mV*mV`: the runner appends `*mV` to voltages
                    pop["soma"][k] = _Expr(f"{k}_pn(t, i)" + ("/mV" if unit == "mV" else ""))
    return spec


def _dendrify_model(pop, synapses):
    """The held-out runner's dendrify model, plus the per-neuron tables (`add_params`)."""
    model = _orig_dendrify_model(pop, synapses)
    pn = pop.get("per_neuron")
    if pn:
        import brian2 as b

        for k, v in pn.items():
            unit = b.mV if k != "t_ref" else b.ms
            table = b.TimedArray(np.asarray(v, float)[None, :] * unit, dt=1e9 * b.second)
            model.add_params({f"{k}_pn": table})
    return model


_orig_dendrify_model = hc._dendrify_model


def _neurojax_cell(pop):
    """The held-out driver's `ReducedCell`, with `per_neuron` soma values as `(size,)`
    arrays (`eqx.tree_at`)."""
    import equinox as eqx
    import jax.numpy as jnp

    cell = _orig_neurojax_cell(pop)
    for k, v in (pop.get("per_neuron") or {}).items():
        cell = eqx.tree_at(lambda c, k=k: getattr(c, k), cell, jnp.asarray(v, float))
    return cell


_orig_neurojax_cell = hc.neurojax_cell


@contextlib.contextmanager
def _per_neuron():
    """Route the held-out driver's model builders through the per-neuron extension while
    inside (restored after: other scripts and tests share the driver module)."""
    saved = hc._dendrify_model, hc.neurojax_cell
    hc._dendrify_model, hc.neurojax_cell = _dendrify_model, _neurojax_cell
    try:
        yield
    finally:
        hc._dendrify_model, hc.neurojax_cell = saved


# ------------------------------------------------------------------------------ driver


def write_references(names) -> None:
    import brian2 as b
    import dendrify

    b.prefs.codegen.target = "numpy"
    OUT.mkdir(parents=True, exist_ok=True)
    for name, spec in specs().items():
        if names and name not in names:
            continue
        with _per_neuron():
            data = s12.subsample(spec, hc.run_dendrify(_brian2_spec(spec)))
        meta = dict(spec, dendrify=getattr(dendrify, "__version__", "2.2"), brian2=b.__version__)
        np.savez_compressed(OUT / f"{name}.npz", spec=json.dumps(meta), **data)
        counts = {k: int(np.size(v)) for k, v in data.items() if "steps" in k}
        print(f"{name}: {counts}", flush=True)


def load(name):
    d = np.load(OUT / f"{name}.npz")
    return json.loads(str(d["spec"])), {k: d[k] for k in d.files if k != "spec"}


def compare_case(name, spec, ref):
    """[(run name, row)] as `dendrify_s12_cases.compare_case` (the case; for
    exponential-Euler rise-and-decay synapses also with the weights × ρ)."""
    with _per_neuron():
        return s12.compare_case(name, spec, ref)


def main(argv) -> None:
    if "--reference" in argv:
        write_references([a for a in argv[1:] if not a.startswith("--")])
        return
    import jax

    jax.config.update("jax_enable_x64", "--float32" not in argv)
    names = [a for a in argv[1:] if not a.startswith("--")] or list(specs())
    missing = [n for n in names if not (OUT / f"{n}.npz").exists()]
    if missing:
        print(f"making dendrify references for {missing} with {hc.DENDRIFY_PYTHON}", flush=True)
        subprocess.run([hc.DENDRIFY_PYTHON, __file__, "--reference", *missing], check=True)
    rows = []
    for name in names:
        spec, ref = load(name)
        for run, row in compare_case(name, spec, ref):
            rows.append((run, row))
            print(
                f"{run:44s} {'yes' if row['ok'] else 'NO':4s} soma {row['soma_ref']:5d}/"
                f"{row['soma_got']:5d} dsp {row['dsp_ref']:5d}/{row['dsp_got']:5d} "
                f"shift {row['shift']} mean|dV| {row['mean_dv']:.2e} max|dV| {row['max_dv']:.2e} "
                + "; ".join(row["notes"][:4]),
                flush=True,
            )
    if "--markdown" in argv:
        print(
            "\n| case | somatic spikes (dendrify / neurojax) | dSpikes | shift | mean \\|ΔV\\| "
            "| max \\|ΔV\\| | agree |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for run, r in rows:
            print(
                f"| `{run}` | {r['soma_ref']} / {r['soma_got']} | {r['dsp_ref']} / "
                f"{r['dsp_got']} | {r['shift']} | {r['mean_dv']:.1e} | {r['max_dv']:.1e} "
                f"| {'yes' if r['ok'] else 'no'} |"
            )
    print(f"{sum(r['ok'] for _, r in rows)}/{len(rows)} runs agree")


if __name__ == "__main__":
    main(sys.argv)
