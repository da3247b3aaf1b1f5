"""Session-12 held-out checks against dendrify 2.2 on Brian2: what the earlier held-out
(`dendrify_heldout_cases.py`) and random (`dendrify_random_cases.py`) cases did not reach.

Written before any of them was run against neurojax (issue 20: "held-out checks compare
with dendrify on cases you have not seen"). Each case is a spec of the held-out driver
(its format, its Brian2 runner and its comparison), plus what that driver could not
express until now, each the dendrify call a user would write:

- `neuronmodel`: model-wide `NeuronModel(connections, cm=, gl=, r_axial=, v_rest=,
  scale_factor=, spine_factor=)`;
- `config_dspikes`: `NeuronModel.config_dspikes(event, ...)` after building;
- `reversal_rise`/`reversal_fall` given by name (`'E_Na'`, `'E_K'`, `'E_Ca'`);
- `default_params`: `dendrify.update_default_params(...)` (`E_AMPA`, `E_GABA`,
  `Mg_con`, `Alpha_NMDA`, `Beta_NMDA`, `Gamma_NMDA`, `E_Ca`, ...);
- `noise`: `compartment.noise(tau, sigma, mean)` (compared by statistics).

`neurojax_view(spec)` is the translation a user makes to neurojax's per-compartment,
per-object parameters (docs/dendritic.md, "Every difference from Dendrify"), written
from dendrify's source (`NeuronModel._set_properties`, `config_dspikes`,
`EphysProperties.DEFAULT_PARAMS`): a model-wide property overrides every compartment's
and — dendrify's rule — resets each compartment's `scale_factor` and `spine_factor` to 1
unless given model-wide too (the soma never takes the model-wide `spine_factor`);
`config_dspikes` replaces every timing of the event (a parameter not given becomes
`None`, which Brian2 refuses), and its reversal is shared by every compartment with that
event name.

Usage:

    # references (Brian2) -> tests/data/dendrify_s12/*.npz, in the dendrify environment
    /tmp/brian2-venv/bin/python validation/dendrify_s12_cases.py --reference [case ...]
    # neurojax against them (float64; --float32 for neurojax's default precision)
    .venv/bin/python validation/dendrify_s12_cases.py [case ...] [--markdown] [--float32]

`tests/test_dendritic_s12_heldout.py` runs them against the stored references (slow tier).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "dendrify_s12"


def _driver():
    name = "dendrify_heldout_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parent / "dendrify_heldout_cases.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


hc = _driver()
_abs, _phys, _dsp, _pairs, _poisson_times = hc._abs, hc._phys, hc._dsp, hc._pairs, hc._poisson_times
_cell_case = hc._cell_case

# dendrify's defaults (`EphysProperties.DEFAULT_PARAMS`; mV and dimensionless)
DEFAULTS = {
    "E_AMPA": 0.0,
    "E_NMDA": 0.0,
    "E_GABA": -80.0,
    "E_Na": 70.0,
    "E_K": -89.0,
    "E_Ca": 136.0,
    "Mg_con": 1.0,
    "Alpha_NMDA": 0.062,
    "Beta_NMDA": 3.57,
    "Gamma_NMDA": 0.0,
}


# ------------------------------------------------------------------------------ specs


def _proj(pre, post, channel, compartment, t_decay, pairs, delay=0.0, **kw):
    return dict(
        pre=pre,
        post=post,
        channel=channel,
        compartment=compartment,
        t_decay=t_decay,
        delay=delay,
        **kw,
        **pairs,
    )


def _from_inputs(n_in, post, targets):
    """One projection per (channel, compartment, t_decay, g, extra) from every input
    source onto the single cell of `post`."""
    return [
        dict(
            pre="in",
            post=post,
            channel=ch,
            compartment=comp,
            t_decay=td,
            g=g,
            i=list(range(n_in)),
            j=[0] * n_in,
            w=[1.0] * n_in,
            **kw,
        )
        for ch, comp, td, g, kw in targets
    ]


def specs() -> dict:
    out = {}
    # --- 1. many dendrites: soma + 7 in a star and a chain with obliques (physical) ------
    out["s12_eight_compartments"] = dict(
        _cell_case(
            [
                _phys("soma", 20.0, 20.0, cm=1.0, gl=0.05, ra=100.0, e_l=-68.0),
                _phys("basal1", 120.0, 1.2, gl=0.04, e_l=-70.0),
                _phys(
                    "basal2",
                    150.0,
                    1.0,
                    gl=0.04,
                    e_l=-69.0,
                    dspikes=_dsp(
                        g_rise=0.004,
                        g_fall=0.0025,
                        threshold=-42.0,
                        duration_rise=0.6,
                        offset_fall=0.4,
                        duration_fall=1.5,
                        refractory=4.0,
                    ),
                ),
                _phys("basal3", 90.0, 0.9, gl=0.05, e_l=-71.0),
                _phys("trunk", 200.0, 3.0, cm=1.1, gl=0.03, ra=120.0, e_l=-68.0),
                _phys("oblique", 100.0, 0.8, gl=0.04, ra=180.0, e_l=-70.0),
                _phys(
                    "mid",
                    180.0,
                    1.8,
                    gl=0.035,
                    e_l=-69.0,
                    dspikes=_dsp(
                        g_rise=0.006,
                        g_fall=0.004,
                        threshold=-40.0,
                        duration_rise=0.8,
                        offset_fall=0.6,
                        duration_fall=2.0,
                        refractory=6.0,
                    ),
                ),
                _phys(
                    "tuft",
                    220.0,
                    1.0,
                    cm=1.4,
                    gl=0.03,
                    ra=200.0,
                    e_l=-66.0,
                    dspikes=_dsp(
                        "Ca",
                        g_rise=0.008,
                        g_fall=0.005,
                        threshold=-35.0,
                        duration_rise=4.0,
                        offset_fall=3.0,
                        duration_fall=8.0,
                        refractory=20.0,
                    ),
                ),
            ],
            [
                ["soma", "basal1"],
                ["basal2", "soma", "half_cylinders"],
                ["soma", "basal3", "cylinder_basal3"],
                ["soma", "trunk", "cylinder_trunk"],
                ["trunk", "oblique"],
                ["mid", "trunk"],
                ["mid", "tuft", "cylinder_mid"],
            ],
            dict(v_th=-50.0, v_reset=-62.0, t_ref=3.0, v_spike=25.0, spike_width=0.6),
            [
                dict(comp="basal2", kind="step", t0=20.0, t1=120.0, amp=0.08),
                dict(comp="tuft", kind="ramp", t0=100.0, t1=300.0, a0=0.0, a1=0.12),
                dict(comp="soma", kind="step", t0=250.0, t1=380.0, amp=0.15),
                dict(comp="oblique", kind="step", t0=150.0, t1=200.0, amp=-0.03),
            ],
            n_steps=8000,
            dt=0.05,
        ),
        v_every=4,
    )
    # --- 2. soma–proximal–distal chain: NMDA (Mg block, changed constants), GABA on the
    #        dendrites, AMPA; instant and rise-and-decay; dendrify's defaults changed ----
    rng = np.random.default_rng(1201)
    n_in = 16
    i, t = _poisson_times(rng, n_in, 40.0, 400.0, 0.1)
    out["s12_chain_nmda_gaba_dendrites"] = dict(
        _cell_case(
            [
                _abs("soma", 0.2, 0.01, -70.0),
                _abs("proximal", 0.06, 0.003, -70.0),
                _abs("distal", 0.03, 0.0015, -70.0, dspikes=_dsp(threshold=-38.0)),
            ],
            [["soma", "proximal", 0.03], ["proximal", "distal", 0.012]],
            dict(v_th=-50.0, v_reset=-60.0, t_ref=2.5),
            [dict(comp="soma", kind="step", t0=200.0, t1=300.0, amp=0.06)],
            n_steps=4000,
            solo=False,
        ),
        inputs=dict(n=n_in, i=i, t=t),
        projections=_from_inputs(
            n_in,
            "cell",
            [
                ("NMDA", "distal", 60.0, 0.004, {}),
                ("NMDA", "proximal", 50.0, 0.005, dict(t_rise=2.0, scale_g=True)),
                ("AMPA", "distal", 2.5, 0.006, {}),
                ("GABA", "distal", 6.0, 0.003, {}),
                ("GABA", "proximal", 8.0, 0.004, dict(t_rise=0.7)),
            ],
        ),
        default_params=dict(
            Mg_con=1.6, Alpha_NMDA=0.075, Beta_NMDA=3.2, Gamma_NMDA=4.0, E_GABA=-72.0, E_AMPA=-2.0
        ),
    )
    # --- 3. dSpike timing edges --------------------------------------------------------
    out["s12_dspike_timing_edges"] = _cell_case(
        [
            _abs("soma", 0.2, 0.01, -70.0),
            # one-step rise, offset and fall, refractory = rise (the shortest allowed)
            _abs(
                "d1",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    g_rise=0.02,
                    g_fall=0.02,
                    threshold=-45.0,
                    duration_rise=0.1,
                    offset_fall=0.1,
                    duration_fall=0.1,
                    refractory=0.1,
                ),
            ),
            # refractory exactly offset + fall
            _abs(
                "d2",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    threshold=-42.0,
                    duration_rise=0.5,
                    offset_fall=0.5,
                    duration_fall=1.5,
                    refractory=2.0,
                ),
            ),
            # refractory shorter than the offset: a new dSpike before the fall opens
            _abs(
                "d3",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    "Ca",
                    g_rise=0.015,
                    g_fall=0.02,
                    threshold=-40.0,
                    duration_rise=1.0,
                    offset_fall=3.0,
                    duration_fall=2.0,
                    refractory=2.5,
                ),
            ),
            # offset equal to the rise, fall longer than refractory
            _abs(
                "d4",
                0.04,
                0.002,
                -70.0,
                dspikes=_dsp(
                    threshold=-44.0,
                    duration_rise=0.3,
                    offset_fall=0.3,
                    duration_fall=6.0,
                    refractory=4.0,
                ),
            ),
        ],
        [["soma", "d1", 0.01], ["soma", "d2", 0.01], ["d3", "soma", 0.008], ["d4", "d2", 0.006]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0),
        [
            dict(comp="d1", kind="ramp", t0=10.0, t1=150.0, a0=0.0, a1=0.5),
            dict(comp="d2", kind="step", t0=50.0, t1=250.0, amp=0.3),
            dict(comp="d3", kind="step", t0=100.0, t1=280.0, amp=0.45),
            dict(comp="d4", kind="ramp", t0=150.0, t1=300.0, a0=0.5, a1=0.05),
        ],
        n_steps=3200,
    )
    # --- 4. thresholds at and below rest, resets above threshold, no refractoriness -----
    out["s12_threshold_extremes"] = _cell_case(
        [
            _abs("soma", 0.15, 0.01, -48.0),  # rests above v_th: fires on its own
            _abs("below", 0.04, 0.002, -70.0, dspikes=_dsp(threshold=-75.0, refractory=3.0)),
            _abs(
                "atrest",
                0.05,
                0.0025,
                -60.0,
                dspikes=_dsp(
                    "Ca",
                    threshold=-60.0,
                    duration_rise=2.0,
                    offset_fall=1.5,
                    duration_fall=4.0,
                    refractory=12.0,
                ),
            ),
        ],
        [["soma", "below", 0.01], ["soma", "atrest", 0.015]],
        dict(v_th=-50.0, v_reset=-49.0, t_ref=0.0),  # reset above threshold, t_ref = 0
        [dict(comp="soma", kind="step", t0=100.0, t1=200.0, amp=-0.15)],
        n_steps=3000,
    )
    # --- 5/6. networks whose synapses target dendrites ---------------------------------
    for name, method in (
        ("s12_network_dendrite_targets_euler", "euler"),
        ("s12_network_dendrite_targets_expeuler", "exponential_euler"),
    ):
        rng = np.random.default_rng(1205)
        n_e, n_i, n_in = 24, 8, 30
        i, t = _poisson_times(rng, n_in, 15.0, 300.0, 0.1, off_grid=True)
        e_comps = [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs("basal", 0.05, 0.0025, -70.0, dspikes=_dsp(threshold=-40.0, refractory=4.0)),
            _abs("aprox", 0.06, 0.003, -70.0),
            _abs(
                "adist",
                0.03,
                0.0015,
                -70.0,
                dspikes=_dsp(
                    "Ca",
                    g_rise=0.02,
                    g_fall=0.012,
                    threshold=-32.0,
                    duration_rise=3.0,
                    offset_fall=2.5,
                    duration_fall=6.0,
                    refractory=15.0,
                ),
            ),
        ]
        w = 1.0 if method == "euler" else 2.5  # (no NMDA under exponential_euler)
        proj = [
            _proj("in", "E", "AMPA", "adist", 3.0, _pairs(rng, n_in, n_e, 0.25, 0.004 * w)),
            _proj(
                "in",
                "E",
                "AMPA",
                "basal",
                4.0,
                _pairs(rng, n_in, n_e, 0.2, 0.004 * w),
                t_rise=0.5,
                scale_g=True,
            ),
            _proj("E", "E", "AMPA", "basal", 2.0, _pairs(rng, n_e, n_e, 0.15, 0.003), delay=1.0),
            _proj("E", "I", "AMPA", "dend", 2.0, _pairs(rng, n_e, n_i, 0.3, 0.003), delay=0.5),
            _proj("I", "E", "GABA", "aprox", 6.0, _pairs(rng, n_i, n_e, 0.4, 0.004), delay=0.5),
            _proj(
                "I",
                "E",
                "GABA",
                "basal",
                8.0,
                _pairs(rng, n_i, n_e, 0.3, 0.003),
                delay=1.0,
                t_rise=0.5,
            ),
            _proj("I", "I", "GABA", "dend", 5.0, _pairs(rng, n_i, n_i, 0.3, 0.003)),
        ]
        if method == "euler":  # NMDA (Brian2 refuses it under exponential_euler)
            proj += [
                _proj("in", "E", "NMDA", "adist", 60.0, _pairs(rng, n_in, n_e, 0.25, 0.0015)),
                _proj(
                    "E",
                    "E",
                    "NMDA",
                    "aprox",
                    50.0,
                    _pairs(rng, n_e, n_e, 0.15, 0.002),
                    delay=2.0,
                    t_rise=2.0,
                ),
            ]
        out[name] = dict(
            dt=0.1,
            n_steps=3000,
            method=method,
            inputs=dict(n=n_in, i=i, t=t),
            populations=dict(
                E=dict(
                    size=n_e,
                    compartments=e_comps,
                    connections=[
                        ["soma", "basal", 0.02],
                        ["soma", "aprox", 0.025],
                        ["aprox", "adist", 0.012],
                    ],
                    soma=dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0, v_spike=25.0, spike_width=0.5),
                    current=[
                        dict(
                            comp="soma",
                            kind="step",
                            t0=50.0,
                            t1=250.0,
                            amp=0.04,
                            scale=rng.uniform(0.0, 1.0, n_e).tolist(),
                        )
                    ],
                ),
                I=dict(
                    size=n_i,
                    compartments=[_abs("soma", 0.1, 0.01, -65.0), _abs("dend", 0.03, 0.003, -65.0)],
                    connections=[["dend", "soma", 0.02]],
                    soma=dict(v_th=-52.0, v_reset=-60.0, t_ref=1.0),
                    current=[],
                ),
            ),
            projections=proj,
            record=dict(E=[0, 5], I=[0]),
        )
    # --- 7. model-wide properties (NeuronModel(cm=, gl=, r_axial=, v_rest=)) over
    #        compartments that give their own, and area factors given per compartment -----
    out["s12_neuronmodel_properties"] = dict(
        _cell_case(
            [
                _phys("soma", 25.0, 25.0, cm=1.5, gl=0.02, ra=80.0, e_l=-60.0, scale_factor=2.0),
                _phys(
                    "trunk",
                    150.0,
                    2.0,
                    cm=0.8,
                    gl=0.06,
                    ra=300.0,
                    e_l=-75.0,
                    scale_factor=2.0,
                    spine_factor=1.5,
                ),
                _phys(
                    "tuft",
                    120.0,
                    0.8,
                    e_l=-72.0,
                    spine_factor=2.0,
                    dspikes=_dsp(g_rise=0.004, g_fall=0.0025, threshold=-45.0),
                ),
            ],
            [["soma", "trunk"], ["trunk", "tuft"]],
            dict(v_th=-52.0, v_reset=-62.0, t_ref=2.0),
            [
                dict(comp="soma", kind="step", t0=20.0, t1=160.0, amp=0.08),
                dict(comp="tuft", kind="step", t0=120.0, t1=260.0, amp=0.05),
            ],
        ),
        populations_neuronmodel=dict(cell=dict(cm=1.0, gl=0.04, r_axial=150.0, v_rest=-70.0)),
    )
    # model-wide area factors (the soma takes scale_factor only) with per-compartment ones
    out["s12_neuronmodel_area_factors"] = dict(
        _cell_case(
            [
                _phys("soma", 20.0, 20.0, e_l=-70.0, spine_factor=3.0),
                _phys(
                    "dend",
                    200.0,
                    1.5,
                    e_l=-70.0,
                    scale_factor=3.0,
                    spine_factor=3.0,
                    dspikes=_dsp(g_rise=0.01, g_fall=0.006, threshold=-42.0),
                ),
                _phys("obl", 100.0, 0.8, e_l=-70.0),
            ],
            [["soma", "dend"], ["dend", "obl", "cylinder_obl"]],
            dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0, v_spike=20.0, spike_width=0.5),
            [dict(comp="dend", kind="ramp", t0=10.0, t1=280.0, a0=0.0, a1=0.4)],
        ),
        populations_neuronmodel=dict(cell=dict(scale_factor=1.7, spine_factor=1.3)),
    )
    # --- 8. dSpikes given reversal names, reconfigured by config_dspikes, E_Ca changed ---
    out["s12_config_dspikes_named_reversals"] = dict(
        _cell_case(
            [
                _abs("soma", 0.2, 0.01, -70.0),
                _abs(
                    "d1",
                    0.05,
                    0.0025,
                    -70.0,
                    dspikes=_dsp("Na", reversal_rise="E_Na", reversal_fall="E_K"),
                ),
                _abs(
                    "d2",
                    0.05,
                    0.0025,
                    -70.0,
                    dspikes=_dsp("Na", threshold=-38.0, reversal_rise="E_Na", reversal_fall="E_K"),
                ),
                _abs(
                    "d3",
                    0.07,
                    0.0035,
                    -70.0,
                    dspikes=_dsp(
                        "Ca",
                        g_rise=0.02,
                        g_fall=0.012,
                        reversal_rise="E_Ca",
                        reversal_fall="E_K",
                        duration_rise=3.0,
                        offset_fall=2.0,
                        duration_fall=6.0,
                        refractory=15.0,
                    ),
                ),
            ],
            [["soma", "d1", 0.015], ["soma", "d2", 0.012], ["d2", "d3", 0.01]],
            dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0, v_spike=20.0, spike_width=0.5),
            [
                dict(comp="d1", kind="step", t0=20.0, t1=120.0, amp=0.3),
                dict(comp="d3", kind="ramp", t0=100.0, t1=280.0, a0=0.05, a1=0.6),
            ],
        ),
        default_params=dict(E_Ca=120.0, E_K=-85.0),
        populations_config_dspikes=dict(
            cell=[
                [
                    "Na",
                    dict(
                        threshold=-44.0,
                        duration_rise=0.8,
                        duration_fall=1.6,
                        reversal_rise="E_Na",
                        reversal_fall=-90.0,
                        offset_fall=0.4,
                        refractory=4.0,
                    ),
                ],
                [
                    "Ca",
                    dict(
                        threshold=-30.0,
                        duration_rise=4.0,
                        duration_fall=5.0,
                        reversal_rise="E_Ca",
                        reversal_fall="E_K",
                        offset_fall=3.0,
                        refractory=20.0,
                    ),
                ],
            ]
        ),
    )
    # --- 9. coarse and fine steps -------------------------------------------------------
    out["s12_dt05"] = _cell_case(
        [
            _abs("soma", 0.3, 0.015, -70.0),
            _abs(
                "dend",
                0.15,
                0.0075,
                -70.0,
                dspikes=_dsp(
                    g_rise=0.05,
                    g_fall=0.03,
                    threshold=-42.0,
                    duration_rise=1.0,
                    offset_fall=0.5,
                    duration_fall=2.5,
                    refractory=5.0,
                ),
            ),
        ],
        [["soma", "dend", 0.02]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=2.5, v_spike=20.0, spike_width=0.5),
        [
            dict(comp="dend", kind="step", t0=20.0, t1=500.0, amp=0.5),
            dict(comp="soma", kind="step", t0=200.0, t1=450.0, amp=0.2),
        ],
        n_steps=1200,
        dt=0.5,
    )
    out["s12_dt001"] = _cell_case(
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs(
                "dend",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    threshold=-40.0,
                    duration_rise=0.37,
                    offset_fall=0.23,
                    duration_fall=1.19,
                    refractory=3.01,
                ),
            ),
        ],
        [["soma", "dend", 0.015]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=1.73, v_spike=20.0, spike_width=0.41),
        [dict(comp="dend", kind="step", t0=10.0, t1=140.0, amp=0.35)],
        n_steps=15000,
        dt=0.01,
        v_every=5,
    )
    # --- 10. parameter extremes: strong coupling (Euler near its oscillatory range),
    #         a tiny leak, a depolarised dendrite, large currents, extreme resets ---------
    out["s12_parameter_extremes"] = _cell_case(
        [
            _abs("soma", 0.2, 1e-5, -70.0),
            _abs("hot", 0.05, 0.002, -20.0),  # rests far above the soma's threshold
            _abs(
                "strong",
                0.05,
                0.0025,
                -70.0,
                dspikes=_dsp(
                    "Ca",
                    g_rise=0.2,
                    g_fall=0.3,
                    threshold=-30.0,
                    duration_rise=0.5,
                    offset_fall=0.5,
                    duration_fall=1.0,
                    refractory=1.0,
                ),
            ),
        ],
        [["soma", "hot", 0.004], ["soma", "strong", 0.2]],  # dt·Σg/C = 0.4 (strong)
        dict(v_th=-45.0, v_reset=-120.0, t_ref=0.5, v_spike=60.0, spike_width=0.5),
        [
            dict(comp="strong", kind="step", t0=50.0, t1=120.0, amp=2.5),
            dict(comp="soma", kind="step", t0=150.0, t1=200.0, amp=-3.0),
        ],
        n_steps=2500,
    )
    # --- 11. point neurons and dendritic neurons in one network --------------------------
    rng = np.random.default_rng(1211)
    n_p, n_d, n_in = 12, 10, 20
    i, t = _poisson_times(rng, n_in, 20.0, 250.0, 0.1)
    out["s12_point_and_dendritic_network"] = dict(
        dt=0.1,
        n_steps=2500,
        method="euler",
        inputs=dict(n=n_in, i=i, t=t),
        populations=dict(
            P=dict(
                size=n_p,
                compartments=[_abs("soma", 0.15, 0.01, -68.0)],
                connections=[],
                soma=dict(v_th=-52.0, v_reset=-62.0, t_ref=2.0),
                current=[
                    dict(
                        comp="soma",
                        kind="step",
                        t0=30.0,
                        t1=200.0,
                        amp=0.25,
                        scale=rng.uniform(0.3, 1.0, n_p).tolist(),
                    )
                ],
            ),
            D=dict(
                size=n_d,
                compartments=[
                    _abs("soma", 0.2, 0.01, -70.0),
                    _abs("dend", 0.05, 0.0025, -70.0, dspikes=_dsp(threshold=-40.0)),
                ],
                connections=[["soma", "dend", 0.015]],
                soma=dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0),
                current=[],
            ),
        ),
        projections=[
            _proj("in", "D", "AMPA", "dend", 3.0, _pairs(rng, n_in, n_d, 0.3, 0.01)),
            _proj(
                "P",
                "D",
                "NMDA",
                "dend",
                60.0,
                _pairs(rng, n_p, n_d, 0.4, 0.002),
                delay=1.0,
                t_rise=2.0,
                scale_g=True,
            ),
            _proj("P", "D", "AMPA", "dend", 2.0, _pairs(rng, n_p, n_d, 0.4, 0.004), delay=1.0),
            _proj("D", "P", "AMPA", "soma", 2.0, _pairs(rng, n_d, n_p, 0.4, 0.004), delay=0.5),
            _proj("P", "P", "GABA", "soma", 5.0, _pairs(rng, n_p, n_p, 0.3, 0.003), delay=0.3),
            _proj("in", "P", "NMDA", "soma", 40.0, _pairs(rng, n_in, n_p, 0.2, 0.001)),
        ],
        record=dict(P=[0, 1], D=[0, 1]),
    )
    # --- 12. a long run: timers and refractoriness over 5 s ------------------------------
    out["s12_long_run"] = _cell_case(
        [
            _abs("soma", 0.2, 0.01, -70.0),
            _abs("dend", 0.05, 0.0025, -70.0, dspikes=_dsp(threshold=-40.0, refractory=7.0)),
        ],
        [["soma", "dend", 0.015]],
        dict(v_th=-50.0, v_reset=-60.0, t_ref=4.0, v_spike=20.0, spike_width=0.7),
        [
            dict(comp="dend", kind="ramp", t0=0.0, t1=5000.0, a0=0.0, a1=0.5),
            dict(comp="soma", kind="step", t0=2500.0, t1=2600.0, amp=0.2),
        ],
        n_steps=50000,
        v_every=10,
    )
    # --- 13. noise currents (compartment.noise), by statistics ---------------------------
    out["s12_noise_statistics"] = dict(
        dt=0.1,
        n_steps=4000,
        method="euler",
        stochastic=True,
        seed=12,
        stat_neurons=400,
        populations=dict(
            N=dict(
                size=400,
                compartments=[
                    _abs("soma", 0.2, 0.01, -70.0),
                    _abs("dend", 0.05, 0.0025, -70.0, dspikes=_dsp(threshold=-45.0)),
                ],
                connections=[["soma", "dend", 0.015]],
                soma=dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0),
                current=[],
                noise=[
                    dict(comp="dend", tau=10.0, sigma=0.1, mean=0.12),
                    dict(comp="soma", tau=20.0, sigma=0.05, mean=0.05),
                ],
            ),
        ),
        record=dict(N=list(range(100))),
        v_every=10,
    )
    # the population-level extras live where the held-out driver reads them
    for spec in out.values():
        for key in ("neuronmodel", "config_dspikes"):
            for pop, value in spec.pop(f"populations_{key}", {}).items():
                spec["populations"][pop][key] = value
    return out


# ------------------------------------------------------------------------------ neurojax


def neurojax_view(spec, naive: bool = False) -> dict:
    """The spec a neurojax user writes for the same model: every model-wide or global
    dendrify setting moved onto the compartments, dSpikes and synapses it reaches (module
    docstring). `naive`: model-wide properties applied without dendrify's two area-factor
    rules (each compartment keeps its own factors unless given model-wide, and the soma
    takes the model-wide `spine_factor` too) — to confirm that those rules are real."""
    spec = copy.deepcopy(spec)
    params = dict(DEFAULTS, **(spec.pop("default_params", None) or {}))

    def reversal(x):
        return params[x] if isinstance(x, str) else x

    for pop in spec["populations"].values():
        model = pop.pop("neuronmodel", None) or {}
        for k, c in enumerate(pop["compartments"]):
            d = c.get("dspikes")
            if d:  # reversal names: dendrify's default parameters at dspikes() time
                for side in ("rise", "fall"):
                    name = d.pop(f"reversal_{side}", None)
                    if name:
                        d[f"e_{side}"] = reversal(name)
            if model.get("v_rest") is not None:
                c["e_l"] = model["v_rest"]
            if "c_abs" in c or not any(
                model.get(p) for p in ("cm", "gl", "r_axial", "scale_factor", "spine_factor")
            ):
                continue
            for p, key in (
                ("cm", "cm"),
                ("gl", "gl"),
                ("r_axial", "ra"),
                ("scale_factor", "scale_factor"),
                ("spine_factor", "spine_factor"),
            ):
                if p == "spine_factor" and k == 0 and not naive:
                    continue  # dendrify skips the soma's spine factor
                if model.get(p):
                    c[key] = model[p]
                elif p in ("scale_factor", "spine_factor") and not naive:
                    c[key] = 1.0  # dendrify's rule: reset when not given model-wide
        for event, kw in pop.pop("config_dspikes", None) or []:
            shared = {}
            for c in pop["compartments"]:
                d = c.get("dspikes")
                if not d or d["name"] != event:
                    continue
                for p in (
                    "threshold",
                    "duration_rise",
                    "duration_fall",
                    "offset_fall",
                    "refractory",
                ):
                    d[p] = kw[p]  # (dendrify sets every one: a missing one becomes None)
                for side in ("rise", "fall"):
                    shared[f"e_{side}"] = reversal(kw[f"reversal_{side}"])
                d.update(shared)
        pop.pop("noise", None)
    for s in spec.get("projections", []) + spec.get("poisson", []):
        s["e_rev"] = params[f"E_{s['channel']}"]
        if s["channel"] == "NMDA":
            s["mg"] = dict(
                mg=params["Mg_con"],
                alpha=params["Alpha_NMDA"],
                beta=params["Beta_NMDA"],
                gamma=params["Gamma_NMDA"],
            )
    return spec


def run_noise(spec, key):
    """neurojax with the spec's `noise` as OU input currents (`stimuli.OUNoise`, nA):
    mean and s.d. of V per compartment over the second half, the recorded neurons."""
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax import stimuli

    view = neurojax_view(spec)
    net, inputs = hc.neurojax_network(view)
    ((name, pop),) = spec["populations"].items()
    names = [c["name"] for c in pop["compartments"]]
    cur = np.array(inputs[name])
    n, dt = spec["n_steps"], spec["dt"]
    for k, nz in enumerate(pop["noise"]):
        ou = stimuli.OUNoise(
            mean=nz["mean"],
            sigma=nz["sigma"],
            tau=nz["tau"],
            key=jax.random.fold_in(key, k),
            shape=(pop["size"],),
            duration=n * dt,
        )
        x = np.asarray(ou.sample(dt))[:n]  # stationary from the start
        # dendrify's noise starts at I = 0: X_k − ρᵏ·X_0 is the same OU process started
        # at 0 (mean m(1 − ρᵏ), variance σ²(1 − ρ²ᵏ)), ρ = e^{−dt/τ}
        rho = np.exp(-dt / nz["tau"]) ** np.arange(n)
        cur[:, :, names.index(nz["comp"])] += x - rho[:, None] * x[0]
    inputs[name] = jnp.asarray(cur)
    sol = nj.simulate(net, inputs, dt=dt, solver=nj.solvers.Euler(), key=key)
    v = np.asarray(sol.v[name])
    soma = np.asarray(sol.spikes[name])
    dsp = np.asarray(sol.spikes[f"{name}.dspikes"])
    return v, soma, dsp


def noise_statistics(spec, ref, key) -> dict:
    """Rates (somatic, dSpike) within 4 s.e. (neurons independent); the mean V per
    compartment (each neuron's time average over the run, all `stat_neurons`) within 4
    s.e. and 0.5 mV; the s.d. of V over the second half (the recorded neurons, every
    `v_every` steps) within 4 s.e."""
    v, soma, dsp = run_noise(spec, key)
    ((name, pop),) = spec["populations"].items()
    size, seconds = pop["size"], spec["n_steps"] * spec["dt"] * 1e-3
    rec = spec["record"][name]
    every = spec.get("v_every", 1)
    half = spec["n_steps"] // 2 // every
    notes, ok = [], True
    ref_v = ref[f"v_{name}"].astype(float)[half:]  # (steps, recorded, comps)
    got_v = v[::every][half:, rec]
    n_stat = min(size, spec.get("stat_neurons", size))
    for c, comp in enumerate(x["name"] for x in pop["compartments"]):
        means = (ref[f"v_neuron_mean_{name}"][:, c], v[:, :n_stat, c].mean(axis=0))
        sds = (ref_v[:, :, c].std(axis=0), got_v[:, :, c].std(axis=0))
        for stat, (a, b), cap in (("mean", means, 0.5), ("sd", sds, np.inf)):
            se = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(len(a))  # per neuron
            d = abs(a.mean() - b.mean())
            ok &= bool(d < 4 * se and d < cap)
            notes.append(f"{comp} V {stat} {a.mean():.3f} vs {b.mean():.3f} mV (s.e. {se:.3f})")
    counts = [
        ("soma", ref[f"spike_i_{name}"], np.nonzero(soma)[1]),
        *[
            (comp, ref[f"dspike_i_{name}_{comp}"], np.nonzero(dsp[:, :, c])[1])
            for c, comp in enumerate(x["name"] for x in pop["compartments"])
            if f"dspike_i_{name}_{comp}" in ref
        ],
    ]
    for what, a, b in counts:
        (r, sr), (g, sg) = hc._rate(a, size, seconds), hc._rate(b, size, seconds)
        ok &= bool(abs(r - g) < 4 * np.hypot(sr, sg))
        notes.append(f"{what} rate {r:.2f} ± {sr:.2f} vs {g:.2f} ± {sg:.2f} Hz")
    return dict(
        ok=ok,
        notes=notes,
        soma_ref=len(counts[0][1]),
        soma_got=len(counts[0][2]),
        dsp_ref=sum(len(a) for _, a, _ in counts[1:]),
        dsp_got=sum(len(b) for _, _, b in counts[1:]),
    )


def stiffness(spec) -> float:
    """The largest `dt·(g_L + Σg)/C` over the spec's cells (neurojax's view)."""
    rc_path = Path(__file__).resolve().parent / "dendrify_random_cases.py"
    spec_ = importlib.util.spec_from_file_location("dendrify_random_cases", rc_path)
    rc = sys.modules.get("dendrify_random_cases")
    if rc is None:
        rc = importlib.util.module_from_spec(spec_)
        sys.modules["dendrify_random_cases"] = rc
        spec_.loader.exec_module(rc)
    view = neurojax_view(spec)
    return max(
        rc.stiffness(p["compartments"], p["connections"], spec["dt"])
        for p in view["populations"].values()
    )


# ------------------------------------------------------------------------------ driver


def write_references(names) -> None:
    import brian2 as b
    import dendrify

    b.prefs.codegen.target = "numpy"
    OUT.mkdir(parents=True, exist_ok=True)
    for name, spec in specs().items():
        if names and name not in names:
            continue
        data = subsample(spec, hc.run_dendrify(spec))
        meta = dict(spec, dendrify=getattr(dendrify, "__version__", "2.2"), brian2=b.__version__)
        np.savez_compressed(OUT / f"{name}.npz", spec=json.dumps(meta), **data)
        counts = {k: int(np.size(v)) for k, v in data.items() if "steps" in k}
        print(f"{name}: {counts}", flush=True)


def subsample(spec, data: dict) -> dict:
    """Voltage traces kept every `v_every` steps (the stored references' size)."""
    k = spec.get("v_every", 1)
    return {n: (x[::k] if n.startswith("v_") and "mean" not in n else x) for n, x in data.items()}


def load(name):
    d = np.load(OUT / f"{name}.npz")
    return json.loads(str(d["spec"])), {k: d[k] for k in d.files if k != "spec"}


def compare_case(name, spec, ref) -> list[tuple[str, dict]]:
    """[(run name, row)]: the case, and for exponential-Euler rise-and-decay synapses
    also with the weights × ρ (the documented Brian2 difference)."""
    import jax

    if spec.get("noise") or any(p.get("noise") for p in spec["populations"].values()):
        return [(name, noise_statistics(spec, ref, jax.random.key(spec.get("seed", 0))))]
    view = neurojax_view(spec)
    rows = [(name, hc.compare(view, ref, subsample(view, hc.run_neurojax(view))))]
    if any(p.get("neuronmodel") for p in spec["populations"].values()):
        naive = neurojax_view(spec, naive=True)  # expected to differ: the rules matter
        got = subsample(naive, hc.run_neurojax(naive))
        rows.append((f"{name} (naive translation)", hc.compare(naive, ref, got)))
    rd = any(p.get("t_rise") for p in view.get("projections", []))
    if view["method"] == "exponential_euler" and rd:
        got = subsample(view, hc.run_neurojax(view, brian2_expeuler=True))
        rows.append((f"{name} (ρ-scaled)", hc.compare(view, ref, got)))
    return rows


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
                + (
                    f"shift {row['shift']} mean|dV| {row['mean_dv']:.2e} "
                    f"max|dV| {row['max_dv']:.2e} "
                    if "shift" in row
                    else ""
                )
                + "; ".join(row["notes"][:6]),
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
                f"{r['dsp_got']} | {r.get('shift', '–')} | "
                + (f"{r['mean_dv']:.1e} | {r['max_dv']:.1e}" if "shift" in r else "– | –")
                + f" | {'yes' if r['ok'] else 'no'} |"
            )
    print(f"{sum(r['ok'] for _, r in rows)}/{len(rows)} runs agree")


if __name__ == "__main__":
    main(sys.argv)
