"""Slow tier: an STDP synapse (WATCH + FOR_NETCONS, Song, Miller & Abbott 2000) against
NEURON compiling the same file (validation/nmodl_stdp_vs_neuron.py). Slow: nrnivmodl and
NEURON subprocesses; the fast tier keeps it covered in tests/test_nmodl_stdp.py (its
closed form, call by call)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("neuron")

_spec = importlib.util.spec_from_file_location(
    "nmodl_stdp_vs_neuron", Path(__file__).parent.parent / "validation" / "nmodl_stdp_vs_neuron.py"
)
val = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(val)


def test_stdp_synapse_matches_neuron(tmp_path):
    res = val.compare(tmp_path)
    for name, r in res.items():
        lo, hi = r.pop("_vrange")
        ranges = r.pop("_range")
        jumps = r.pop("_g_jumps")
        assert hi > 0.0, name  # the events make the cell spike: the WATCH fires
        # the plasticity acts: later presynaptic events add w + dw ≠ w (NEURON's run)
        assert max(abs(j - 0.01) for j in jumps[1:]) > 1e-3, jumps
        # the same scheme and equations: measured 1.5e-11 mV, g to 7e-16 µS
        assert r["v"][0] < 1e-8, (name, r["v"])
        for k, (mx, _) in r.items():
            if k != "v":
                assert mx <= 1e-10 * ranges[k] + 1e-18, (name, k, mx)
