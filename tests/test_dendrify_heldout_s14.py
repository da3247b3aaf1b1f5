"""Session 14, issue 20: held-out dendrify comparisons written before being run
(`validation/dendrify_heldout_s14.py`): unusual compartment geometry, weak and strong
explicit couplings, every synapse kind on each compartment, NMDA under other Mg²⁺ and
time constants, dSpike and soma variants, a sinusoidal dendritic current, dense Poisson
trains, per-neuron soma parameters, networks at dt 0.2 and 0.05 ms, runs of 1–2 s.

Slow tier: every case against its stored Brian2 reference (`tests/data/dendrify_s14/`),
float64: every somatic spike and dSpike of every neuron at the same step and the voltages
within the float32 rounding of the stored reference (the issue asks for a step and
0.5 mV mean). Fast tier: the stored references are exactly the module's cases.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "validation" / "dendrify_heldout_s14.py"
_DATA = Path(__file__).resolve().parent / "data" / "dendrify_s14"


def _cases():
    name = "dendrify_heldout_s14"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _case_names():
    return sorted(p.stem for p in _DATA.glob("*.npz"))


def test_every_case_has_its_reference():
    """The stored references are exactly the module's cases (none missing, none stale),
    and each stored spec is the module's spec (a case edited after its reference was made
    would be compared against the old Brian2 run)."""
    m = _cases()
    specs = m.specs()
    assert _case_names() == sorted(specs)
    assert 15 <= len(specs) <= 25
    for name in specs:
        stored, _ = m.load(name)
        for k in ("dendrify", "brian2"):
            stored.pop(k)
        assert stored == json.loads(json.dumps(specs[name])), name


def test_every_case_has_events():
    """Each case exercises the rules: somatic spikes or dSpikes in the reference."""
    m = _cases()
    for name in _case_names():
        _, ref = m.load(name)
        n = sum(ref[k].size for k in ref if "steps" in k)
        assert n > 0, name


@pytest.mark.slow
@pytest.mark.parametrize("name", _case_names())
def test_case_agrees_with_dendrify(name, x64):
    """Every somatic spike and dSpike of every neuron at the same step (the issue allows a
    step), mean |ΔV| < 0.5 mV (the issue's tolerance); measured: the same steps and max
    |ΔV| ≤ 3.9e-6 mV (docs/dendritic.md, "Held-out cases (session 14)")."""
    m = _cases()
    spec, ref = m.load(name)
    rows = m.compare_case(name, spec, ref)
    for run, row in rows:
        if spec["method"] == "exponential_euler" and not run.endswith("(ρ-scaled)"):
            # the documented difference (Brian2's rise-and-decay synapses ρ times too
            # strong under exponential_euler): the ρ-scaled run must agree, below
            assert any(r.endswith("(ρ-scaled)") for r, _ in rows), run
            continue
        assert row["ok"], (run, row)
        assert row["shift"] == 0, (run, row)
        # the reference is stored in float32: |V| ≤ 140 mV rounds by ≤ 140·2⁻²⁴ ≈ 8e-6 mV
        assert row["max_dv"] < 1e-5, (run, row)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["s14_per_neuron_soma", "s14_network_dt02", "s14_all_synapses_on_distal"]
)
def test_case_agrees_in_float32(name):
    """neurojax's default precision against Brian2's float64: the issue's criteria (every
    event within a step, mean |ΔV| < 0.5 mV). Measured on all 21 cases: the same steps,
    mean |ΔV| ≤ 3.1e-5 mV, max ≤ 4.8e-4 mV (float32 rounding over up to 20 000 steps)."""
    m = _cases()
    spec, ref = m.load(name)
    ((run, row),) = m.compare_case(name, spec, ref)
    assert row["ok"], (run, row)
    assert row["shift"] <= 1 and row["mean_dv"] < 0.5, (run, row)
