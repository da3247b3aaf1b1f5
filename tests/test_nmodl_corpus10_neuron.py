"""FUNCTION_TABLE, SOLVE of a NONLINEAR block in BREAKPOINT and a POINTER in a density
mechanism against NEURON compiling the same files (validation/nmodl_corpus10_vs_neuron.py;
slow tier: nrnivmodl and three NEURON runs, ~40 CPU-s)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    # NEURON is a dev dependency and nrnivmodl needs a C compiler: their absence is a
    # broken test environment, which fails here rather than skipping the comparison
    assert importlib.util.find_spec("neuron") is not None, "pip install -e '.[dev]'"
    assert shutil.which("gcc") or shutil.which("cc"), "nrnivmodl needs a C compiler"
    from validation.nmodl_corpus10_vs_neuron import compare_all

    return compare_all(Path(tmp_path_factory.mktemp("c10")))


def test_function_table_matches_neuron(results):
    """Same scheme, same tables (coarse: the interpolation decides the trace): measured
    3.8e-11 mV, n 4e-14 — float64 rounding through spikes (V in [−73, 41] mV)."""
    r = results["ftable"]
    assert r["vrange"][1] > 20.0  # it spikes: the tables are exercised over the range
    assert r["v"] < 1e-9
    assert r["state"] < 1e-11


def test_nonlinear_in_breakpoint_matches_neuron(results):
    """NEURON's Newton stops at its tolerance: its b is 8e-9 from the closed form,
    neurojax's at rounding (1e-16); the difference is that tolerance (b 6.7e-9, V 3.6e-7
    mV measured). Bounds: 10× the measured, and ours exact to 1e-13."""
    r = results["nonlinear_bp"]
    ours, neurons = r["closed_form"]
    assert ours < 1e-13
    assert neurons < 1e-7
    assert r["state"] < 10 * max(neurons, 1e-12)
    assert r["v"] < 5e-6
    assert r["vrange"][1] > 20.0


def test_pointer_in_a_density_mechanism_matches_neuron(results):
    """A series every 0.5 ms (20 steps) played into the pointer's variable in NEURON,
    bound with bind_pointer(values=, dt=0.5) here: measured 1.2e-11 mV, n 1.8e-14
    (float64 rounding through spikes); a sample read one step off moves V by 1e-5 mV at
    the first sample change already (measured before the fix of the series' time)."""
    r = results["pointer_density"]
    assert r["vrange"][1] > 20.0
    assert r["v"] < 1e-9
    assert r["state"] < 1e-11
