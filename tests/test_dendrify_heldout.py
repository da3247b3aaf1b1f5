"""Held-out checks against dendrify 2.2 on Brian2 (issue 20, item 1): cases beyond the
five of `tests/test_dendritic_network_dendrify.py`, built by
`validation/dendrify_heldout_cases.py` from one spec in both tools, with the stored
Brian2 references in `tests/data/dendrify_heldout/*.npz` (made by that script in the
dendrify environment). The fast tier checks what this work added to neurojax (Dendrify's
area factors, Brian2's spike-time binning, refusals of bad cells) and the exponential-Euler
factor that explains the one rule difference; the slow tier runs a selection of the cases.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from neurojax import network as nn
from neurojax.cable import Compartment, DSpikes, ReducedCell

_PATH = Path(__file__).resolve().parents[1] / "validation" / "dendrify_heldout_cases.py"


def _driver():
    """The validation driver as a module (registered in sys.modules, as its dataclass-free
    code does not need, but importlib's spec loading expects)."""
    name = "dendrify_heldout_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ----------------------------------------------------------------------------- fast tier


def test_area_factors_scale_membrane_not_coupling():
    """Dendrify's `scale_factor`/`spine_factor` multiply the area (π·L·d), hence C = cm·A
    and g_L = gl·A, but not the axial resistance 4·ra·L/(πd²) nor the couplings."""
    plain = Compartment("d", length=100.0, diameter=1.0, cm=1.0, gl=0.04, ra=150.0)
    spiny = Compartment(
        "d",
        length=100.0,
        diameter=1.0,
        cm=1.0,
        gl=0.04,
        ra=150.0,
        scale_factor=2.8,
        spine_factor=1.5,
    )
    area = np.pi * 100.0 * 1.0 * 2.8 * 1.5  # µm²
    # exact up to float rounding of the products (rtol 1e-12)
    np.testing.assert_allclose(spiny.area, area, rtol=1e-12)
    np.testing.assert_allclose(spiny.capacitance, 1.0 * area * 1e-5, rtol=1e-12)  # nF
    np.testing.assert_allclose(spiny.g_leak, 0.04 * area * 1e-5, rtol=1e-12)  # µS
    assert spiny.r_axial == plain.r_axial
    soma = Compartment("soma", length=25.0, diameter=25.0, scale_factor=2.8)
    a = ReducedCell.build([soma, plain], [("soma", "d")])
    b = ReducedCell.build([soma, spiny], [("soma", "d")])
    np.testing.assert_array_equal(np.asarray(a.g_couple), np.asarray(b.g_couple))
    # the cell stores float32 by default: 2⁻²⁴ relative per value, 1e-6 leaves room
    np.testing.assert_allclose(np.asarray(b.c)[1] / np.asarray(a.c)[1], 2.8 * 1.5, rtol=1e-6)


def test_area_factors_refused_where_meaningless():
    with pytest.raises(ValueError, match=r"'d'.*dimensionless one.*scale c_abs and gl_abs"):
        Compartment("d", c_abs=0.05, gl_abs=0.002, scale_factor=2.0)
    with pytest.raises(ValueError, match=r"'d': spine_factor must be finite > 0"):
        Compartment("d", length=10.0, diameter=1.0, spine_factor=0.0)


def test_spike_counts_bins_like_brian2():
    """Brian2's SpikeGeneratorGroup emits a spike at t in step floor(t/dt + 1e-3): times on
    the grid with float noise (10 + k·0.1 ms) land on their own step, times inside a step
    on that step (not the nearest one), coincident spikes of one source add up."""
    times = [10.0 + k * 0.1 for k in range(15)]  # 10.299999999999999, ...
    x = nn.spike_counts(range(15), times, 15, 200, 0.1)
    steps, idx = np.nonzero(x)
    np.testing.assert_array_equal(steps, 100 + idx)
    x = nn.spike_counts([0, 1, 1, 1], [0.0, 0.35, 0.399, 0.36], 2, 10, 0.1)
    assert x[0, 0] == 1 and x[3, 1] == 3 and x.sum() == 4  # 0.35 → step 3, not 4
    with pytest.raises(ValueError, match=r"source index 2 is outside \[0, 2\)"):
        nn.spike_counts([2], [1.0], 2, 100, 0.1)
    with pytest.raises(ValueError, match=r"spike time -0.5 ms is negative"):
        nn.spike_counts([0], [-0.5], 2, 100, 0.1)
    with pytest.raises(ValueError, match=r"source 1 at t = 10 ms is at or after the end"):
        nn.spike_counts([0, 1], [1.0, 10.0], 2, 100, 0.1)


def test_bad_couplings_and_dspike_timings_are_refused():
    """The issue's bad inputs (a missing compartment, impossible dSpike timings, a negative
    coupling) and two that Dendrify refuses or cannot express: a pair coupled twice, a
    compartment cut off from the soma."""
    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01)
    dend = Compartment("dend", c_abs=0.05, gl_abs=0.0025)
    with pytest.raises(ValueError, match=r"connection \('soma', 'dend', -0.01\).*> 0"):
        ReducedCell.build([soma, dend], [("soma", "dend", -0.01)])
    with pytest.raises(ValueError, match=r"\('dend', 'soma', 0.01\) couples 'dend' and 'soma' a"):
        ReducedCell.build([soma, dend], [("soma", "dend", 0.02), ("dend", "soma", 0.01)])
    with pytest.raises(ValueError, match=r"compartments \['far'\] are not connected to the soma"):
        ReducedCell.build(
            [soma, dend, Compartment("far", c_abs=0.05, gl_abs=0.0025)], [("soma", "dend", 0.01)]
        )
    with pytest.raises(ValueError, match=r"DSpikes.duration_fall = 0.0 ms with g_fall"):
        DSpikes(g_rise=0.03, g_fall=0.015, duration_fall=0.0)
    with pytest.raises(ValueError, match=r"DSpikes.refractory = 0.5 ms is shorter than"):
        DSpikes(g_rise=0.03, g_fall=0.015, duration_rise=1.0, refractory=0.5)
    cell = ReducedCell.build(
        [
            soma,
            Compartment(
                "dend", c_abs=0.05, gl_abs=0.0025, dspikes=DSpikes(0.03, 0.015, duration_rise=0.25)
            ),
        ],
        [("soma", "dend", 0.01)],
    )
    with pytest.raises(ValueError, match=r"'dend': DSpikes.duration_rise = 0.25 ms is not a"):
        cell.check_dt(0.1)
    ok = ReducedCell.build([soma, dend], [("soma", "dend", 0.01)])
    src = nn.Population(nn.SpikeSource(), 2)
    with pytest.raises(ValueError, match=r"'E' has no compartment 'distal'.*\['soma', 'dend'\]"):
        nn.Network(
            {"S": src, "E": nn.Population(ok, 3)},
            [
                nn.Projection(
                    "S",
                    "E",
                    nn.from_pairs([0], [0], 2, 3, 0.01),
                    nn_exponential(),
                    compartment="distal",
                )
            ],
            dt=0.1,
        )


def nn_exponential():
    from neurojax import synapses as ns

    return ns.Exponential(tau=2.0, e_rev=0.0)


def test_brian2_exponential_euler_factor():
    """ρ, the documented factor between Brian2's exponential-Euler rise-and-decay synapse
    and the exact one, against Brian2's recurrence iterated directly: x_{n+1} = A·x_n +
    τ_d(1 − A)·s_n, s_{n+1} = B·s_n from s = 1 (one spike), exact x = τ_dτ_r/(τ_d − τ_r)·
    (e^{−t/τ_d} − e^{−t/τ_r}); the ratio is the same at every step (to float rounding)."""
    rho = _driver().brian2_expeuler_factor
    for tr, td, dt in ((0.5, 3.0, 0.1), (2.0, 50.0, 0.1), (0.5, 8.0, 0.05)):
        a, b = np.exp(-dt / td), np.exp(-dt / tr)
        x, s, ratios = 0.0, 1.0, []
        for n in range(1, 400):
            x, s = a * x + td * (1 - a) * s, b * s
            exact = td * tr / (td - tr) * (np.exp(-n * dt / td) - np.exp(-n * dt / tr))
            ratios.append(x / exact)
        np.testing.assert_allclose(ratios, rho(tr, td, dt), rtol=1e-9)
    assert 1.10 < rho(0.5, 3.0, 0.1) < 1.11  # the value docs/dendritic.md quotes
    assert abs(rho(0.5, 3.0, 1e-4) - 1.0) < 1e-3  # → 1 as dt → 0


# ----------------------------------------------------------------------------- slow tier

# Slow: each case compiles its own simulation and runs thousands of steps (2–10 CPU-s);
# the fast tier keeps the features they rely on (above) and the five stored cases of
# tests/test_dendritic_network_dendrify.py keep single cells and synapses covered.
CASES = [
    "chain4_half_cylinders",  # physical chain, half-cylinder couplings, per-compartment ra/cm/gl
    "scale_spine_factors",  # dendrify's back-propagation example: area factors, 3 dSpikes
    "two_stage_width_eq_tref",  # second reset at the end of refractoriness
    "dspikes_na_and_ca",  # Na- and Ca-type dSpikes on two dendrites
    "dspikes_three_dendrites_dt005",  # dt = 0.05 ms, three dSpiking dendrites, a chain and a star
    "dspikes_fall_cut_by_next",  # refractory shorter than offset + fall
    "synapse_mixture",  # AMPA/NMDA/GABA, instant and rise-and-decay, soma and dendrite, delays
    "example_dendritic_io",  # dendrify's I/O-curve example, spike times binned as Brian2
    "network_hetero_delays_dt005",  # per-synapse delays, off-grid input spikes, NMDA rise-decay
    "example_network",  # dendrify's recurrent network example (200 neurons)
    "point_neurons_synapses",  # soma-only cells (dendrify's PointNeuronModel), recurrent
]


def _agree(name, **kw):
    d = _driver()
    spec, ref = d.load(name)
    return d.compare(spec, ref, d.run_neurojax(spec, **kw))


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_heldout_case_matches_dendrify(name, x64):
    """Every somatic spike and dSpike of every neuron at the same step as Brian2's (the
    issue asks for one step), voltages within 0.5 mV on average (the issue's); both run
    the same arithmetic in float64, so the voltages also agree to the float32 rounding of
    the stored reference (|V| ≤ 100 mV: 100·2⁻²⁴ ≈ 6e-6 mV; 1e-4 mV leaves room)."""
    row = _agree(name)
    assert row["soma_ref"] + row["dsp_ref"] > 0 or name == "example_dendritic_io"
    assert row["soma_same"] and row["dsp_same"], row["notes"]
    assert row["shift"] <= 1
    assert row["mean_dv"] < 0.5 and row["max_dv"] < 1e-4, (row["mean_dv"], row["max_dv"])


@pytest.mark.slow
def test_exponential_euler_rise_decay_difference_is_rho(x64):
    """Brian2's `exponential_euler` makes rise-and-decay synapses ρ times stronger than
    neurojax's exact kinetics: as built, the network drifts apart; with the weights scaled
    by ρ, every spike and dSpike agrees — so ρ is the whole difference."""
    plain = _agree("network_star_expeuler")
    assert not (plain["soma_same"] and plain["dsp_same"])
    scaled = _agree("network_star_expeuler", brian2_expeuler=True)
    assert scaled["soma_same"] and scaled["dsp_same"] and scaled["shift"] == 0
    assert scaled["max_dv"] < 1e-4


@pytest.mark.slow
def test_dendrify_shared_reversal_quirk(x64):
    """Two dendrites with dSpikes of one name and different reversal potentials: dendrify
    uses the last compartment's for both (one `E_rise_Na` in its namespace), neurojax each
    its own; given dendrify's effective value, neurojax reproduces it exactly."""
    d = _driver()
    spec, ref = d.load("dspikes_same_name_two_reversals")
    assert not d.compare(spec, ref, d.run_neurojax(spec))["ok"]
    row = d.compare(spec, ref, d.run_neurojax(d.as_dendrify(spec)))
    assert row["ok"] and row["shift"] == 0 and row["dsp_ref"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["poisson_statistics", "poisson_statistics_5000"])
def test_poisson_drives_match_dendrify_statistics(name, x64):
    """PoissonDrive against Brian2's PoissonInput (AMPA and NMDA onto the dendrite, GABA
    onto the soma; 300 independent neurons for 1 s, and 5000 for 0.3 s — drawn as one
    total per step, neurojax's path from 4096 neurons): somatic and dSpike rates within 4
    standard errors of their difference, mean voltage per compartment within 0.5 mV."""
    row = _agree(name)
    assert row["soma_ref"] > 500 and row["dsp_ref"] > 5000
    assert row["soma_same"] and row["dsp_same"], row["notes"]
    assert row["mean_dv"] < 0.5, row["notes"]
