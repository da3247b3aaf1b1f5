"""NMODL importer against NEURON compiling the same .mod files (slow tier: nrnivmodl).

One compartment, backward Euler (secondorder = 0) at dt = 0.025 ms in both, current and
voltage clamp (`validation/nmodl_vs_neuron.py`). The same equations in the same scheme:
the differences are round-off, amplified through spikes (measured ≤ 7e-10 mV for the
channels with ohmic currents). NEURON linearises a nonlinear current (cachan1's) by a
0.001 mV difference, neurojax exactly: measured 6e-8 mV. Bounds: 1e-6 mV and 1e-8 in
the states, 2-3 orders above what was measured, far under the issue's 0.5 mV."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _validation():
    path = Path(__file__).parents[1] / "validation" / "nmodl_vs_neuron.py"
    spec = importlib.util.spec_from_file_location("nmodl_vs_neuron", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_imported_mods_match_neuron(tmp_path):
    # neuron (with nrnivmodl) is a dev dependency: a missing one fails, it is not skipped
    import neuron  # noqa: F401

    assert (Path(sys.executable).parent / "nrnivmodl").exists() or shutil.which("nrnivmodl"), (
        "nrnivmodl not found next to the interpreter or on PATH: pip install -e '.[dev]'"
    )
    results = _validation().compare_all(tmp_path)
    assert len(results) == 12
    for (case, mode), r in results.items():
        lo, hi = r.pop("_vrange")
        if mode == "current clamp" and "kinetic" not in case and "passive" not in case:
            assert hi > 20, (case, "should fire")
        for trace, (mx, mean) in r.items():
            bound = 1e-6 if trace == "v" else 1e-8
            assert mx < bound, (case, mode, trace, mx, mean)
