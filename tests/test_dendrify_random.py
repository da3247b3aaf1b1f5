"""Random held-out cases against dendrify 2.2 on Brian2 (issue 20, item 1): cases drawn
from a seed by `validation/dendrify_random_cases.py` (2–5 compartments in random trees,
explicit / half-cylinder / cylinder couplings, dSpikes with edge timings, one- and
two-stage resets, AMPA / NMDA / GABA synapses with instant, rise-and-decay, equal or
swapped time constants, recurrent networks, drawn initial voltages, dt 0.1 / 0.05 /
0.025 ms, Brian2's `euler` and `exponential_euler`). Brian2's results for seed 2026 are
stored in
`tests/data/dendrify_random/*.npz` (made by that script in the dendrify environment,
spec included). The fast tier checks the draw and the one synapse mapping this work
added; the slow tier runs every stored case.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_ROOT = Path(__file__).resolve().parents[1]
DATA = _ROOT / "tests" / "data" / "dendrify_random"


def _driver():
    name = "dendrify_random_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, _ROOT / "validation" / "dendrify_random_cases.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


CASES = sorted(p.stem for p in DATA.glob("s2026_*.npz"))  # (not point_adex.npz)


# ----------------------------------------------------------------------------- fast tier


def test_stored_cases_are_the_seeds_draw():
    """The stored references are the draw of `random_spec` (a change to the generator
    must remake them), at least 30 of them (the issue's held-out set)."""
    d = _driver()
    assert len(CASES) >= 30
    for name in CASES[:40:7]:  # a few: each load decompresses the traces
        spec, _ = d.load(DATA / f"{name}.npz")
        drawn = d.random_spec(spec["seed"], spec["index"])
        # the stored spec went through JSON (tuples → lists): compare as JSON
        import json

        assert json.loads(json.dumps(drawn)) == {
            k: v for k, v in spec.items() if k not in ("dendrify", "brian2")
        }, name


def test_draw_builds_valid_cells_and_reaches_the_edges():
    """Every drawn cell builds in neurojax, its timings are whole steps, its forward-Euler
    step is accurate (`dt·Σg/C ≤ 0.5`), and the draw reaches the edges it is meant to:
    one-step rises, refractory = rise, falls cut by the next dSpike, two-stage resets
    with spike_width = t_ref, resets above threshold, alpha and swapped synapses,
    exponential Euler, dt = 0.025 ms, 5 compartments, physical and dimensionless cells,
    drawn initial voltages."""
    d = _driver()
    h = d.heldout()
    seen = set()
    for k in range(40):
        spec = d.random_spec(d.STORED_SEED, k)
        dt = spec["dt"]
        for pop in spec["populations"].values():
            cell = h.neurojax_cell(pop)
            assert cell.check_dt(dt)
            assert d.stiffness(pop["compartments"], pop["connections"], dt) <= 0.5
            comps = pop["compartments"]
            seen.add(f"{len(comps)}c")
            seen.add("phys" if "length" in comps[0] else "abs")
            for c in comps:
                ds = c.get("dspikes")
                if ds:
                    seen.add("rise1" if abs(ds["duration_rise"] - dt) < 1e-12 else "rise")
                    if ds["refractory"] == ds["duration_rise"]:
                        seen.add("ref=rise")
                    if ds["refractory"] < ds["offset_fall"] + ds["duration_fall"]:
                        seen.add("fall cut")
            if pop.get("v0"):
                seen.add("v0")
            soma = pop["soma"]
            if soma and soma.get("spike_width") == soma["t_ref"]:
                seen.add("width=tref")
            if soma and soma["v_reset"] > soma["v_th"]:
                seen.add("reset>th")
        for p in spec.get("projections", []):
            if p.get("t_rise"):
                seen.add(d._kinetics(p) + ("expeuler" if spec["method"] != "euler" else ""))
        seen.add(f"dt{dt}")
        seen.add(spec["method"])
    expect = {"2c", "5c", "phys", "abs", "rise1", "ref=rise", "fall cut", "width=tref"}
    expect |= {"reset>th", "α", "rd>", "rdexpeuler", "dt0.025", "dt0.1", "exponential_euler"}
    expect |= {"v0"}
    assert expect <= seen, expect - seen


def test_alpha_mapping_reproduces_dendrifys_pair():
    """Dendrify's rise-and-decay pair with equal constants (`ds/dt = −s/τ`, `dx/dt =
    −x/τ + s/ms`, `s += 1`) is neurojax's `Alpha(τ)` with weight `g·τ/e`: stepped by
    forward Euler (Brian2's `euler`, neurojax's `Euler()`: `y + dt·f(y)`) both give the
    same conductance sequence, to float64 rounding (1e-12 relative)."""
    import jax

    from neurojax import synapses as ns

    with jax.enable_x64(True):
        tau, dt, g = 3.0, 0.1, 0.7
        syn = ns.Alpha(tau=tau, e_rev=0.0)
        state = syn.on_arrival(syn.init(), g * tau / np.e, dt)
        s, x = 1.0, 0.0
        for _ in range(300):
            f = syn.vector_field(state, -65.0)
            state = jax.tree.map(lambda a, b: a + dt * b, state, f)
            x, s = x + dt * (-x / tau + s), s + dt * (-s / tau)
            np.testing.assert_allclose(float(state.g), g * x, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- slow tier


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_random_case_matches_dendrify(name, x64):
    """Every somatic spike and dSpike of every neuron at the same step as Brian2's (the
    issue asks for one step), voltages within 0.5 mV on average (the issue's); both run
    the same arithmetic in float64, so the voltages also agree to the float32 rounding of
    the stored reference (|V| ≤ 100 mV: 100·2⁻²⁴ ≈ 6e-6 mV; 1e-4 mV leaves room)."""
    d = _driver()
    spec, ref = d.load(DATA / f"{name}.npz")
    row = d.compare_case(spec, ref)
    assert row["soma_same"] and row["dsp_same"], row["notes"]
    assert row["shift"] <= 1
    assert row["mean_dv"] < 0.5 and row["max_dv"] < 1e-4, (row["mean_dv"], row["max_dv"])


@pytest.mark.slow
def test_point_adex_matches_dendrify_without_refractoriness(x64):
    """dendrify's `PointNeuronModel('adex')` (threshold `V > 0 mV`, reset `V = Vr; w +=
    b`) is `neurojax.neurons.AdEx` step for step under forward Euler when there is no
    refractory period (the same 8 spikes in 300 ms; V to the float32 rounding of the stored
    reference, 6e-6 mV at 100 mV, 1e-4 mV leaves room). With one (2 ms), neurojax holds V
    at the reset while dendrify's library equations integrate through it: the spikes
    move — the documented difference (docs/dendritic.md)."""
    spec = importlib.util.spec_from_file_location(
        "dendrify_point_adex", _ROOT / "validation" / "dendrify_point_adex.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.compare()
    free, held = rows[0.0], rows[2.0]
    assert free["n_ref"] >= 5 and free["same"], free
    assert free["max_dv"] < 1e-4 and free["max_dw"] < 1e-6, free
    assert not held["same"] and held["max_dv"] > 1.0, held


def test_several_dspike_mechanisms_in_one_compartment_are_refused():
    """Dendrify lets one dendrite carry several dSpike mechanisms (`dspikes('Na', ...)`,
    `dspikes('Ca', ...)`); a ReducedCell compartment has one: a list is refused with the
    count and what to do, not read as something else."""
    from neurojax.cable import Compartment, DSpikes

    two = [DSpikes(0.03, 0.015), DSpikes(0.01, 0.0, e_rise=136.0, duration_rise=2.0)]
    with pytest.raises(TypeError, match=r"'d': dspikes takes one DSpikes.*got 2 in a list"):
        Compartment("d", c_abs=0.05, gl_abs=0.0025, dspikes=two)
