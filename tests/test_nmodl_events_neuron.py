"""Slow tier: synapses with connection state (Tsodyks–Markram), self-events (a
Destexhe-style transmitter pulse ended by `net_send`) and coupled in-place cnexp states
(a GABA-B cascade) against NEURON compiling the same files
(validation/nmodl_events_vs_neuron.py). Slow: nrnivmodl and NEURON subprocesses; the
fast tier keeps the module covered in tests/test_nmodl_events.py (the same files against
their closed forms)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("neuron")

_spec = importlib.util.spec_from_file_location(
    "nmodl_events_vs_neuron",
    Path(__file__).parent.parent / "validation" / "nmodl_events_vs_neuron.py",
)
val = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(val)


def test_event_synapses_match_neuron(tmp_path):
    res = val.compare(tmp_path)
    for name, r in res.items():
        lo, hi = r.pop("_vrange")
        ranges = r.pop("_range")
        assert hi - lo > 5.0, name  # the events move the voltage
        # the same scheme and equations: measured ≤ 2.2e-10 mV (rounding amplified
        # through the spikes), states to ≤ 1e-13 of their range
        assert r["v"][0] < 1e-7, (name, r["v"])
        for k, (mx, _) in r.items():
            if k != "v":
                assert mx <= 1e-11 * ranges[k] + 1e-18, (name, k, mx)
