"""The NMODL follow-ups of session 11 (issue 18) against NEURON compiling the same texts
(validation/nmodl_s11_followups_vs_neuron.py; slow tier: nrnivmodl and 4 NEURON runs).

The reproducers are written there; the published files (Santhakumar et al.'s ccanl.mod
with nca, LcaMig, tca, gskch as published; Destexhe's ampa.mod) are read from
`$NEUROJAX_PUBCELLS2` (default /tmp/pubcells2) and never committed: without them those cases
are skipped, saying so."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPRODUCERS = [
    "epool writes ncai and enca (+ ncaleak reading enca)",
    "valence 0: exm = 0 mV (NEURON's nrn_nernst)",
]
PUBLISHED = [
    "Santhakumar ccanl (writes enca, elca, etca; VERBATIM) + nca, lca, cat, gskch",
    "Destexhe AMPA_S (dt in NET_RECEIVE; NetCon events)",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from validation import nmodl_s11_followups_vs_neuron as f

    # NEURON is a dev dependency and nrnivmodl needs a C compiler: their absence is a
    # broken test environment, which fails here rather than skipping the comparison
    assert importlib.util.find_spec("neuron") is not None, "pip install -e '.[dev]'"
    assert shutil.which("gcc") or shutil.which("cc"), "nrnivmodl needs a C compiler"
    return f.compare_all(Path(tmp_path_factory.mktemp("s11f")))


@pytest.mark.parametrize("name", REPRODUCERS + PUBLISHED)
def test_followup_matches_neuron(results, name):
    """Same scheme (backward Euler, dt 0.025 ms, float64): V within 1e-9 mV and every
    recorded state within 1e-9 of its range. Measured ≤ 3.1e-11 mV (docs/nmodl.md):
    float64 rounding through spikes. A construct run differently moves far more: enca by
    Nernst instead of the file's formula is 12 mV off in the reproducer (131 vs 119 mV),
    dt = 0 in AMPA_S's NET_RECEIVE changes Roff by 0.45 % at each event, a valence-0
    potential other than 0 shifts the leak by its value."""
    runs = {mode: r for (n, mode), r in results.items() if n == name}
    if not runs:
        pytest.skip(f"{name}: the published files are not under $NEUROJAX_PUBCELLS2 (others' "
                    "code, never committed: see its SOURCES.md)")  # fmt: skip
    for mode, r in runs.items():
        assert "_error" not in r, (mode, r.get("_error"))
        assert r["v"] < 1e-9, (mode, r["v"])
        for k, d in r.items():
            if k.startswith("_") or k == "v":
                continue
            assert d <= max(1e-9 * r["_range"][k], 1e-15), (mode, k, d, r["_range"][k])
