"""The sixth corpus of published `.mod` files (session 13) against NEURON compiling them
(validation/nmodl_corpus13_vs_neuron.py; slow tier: nrnivmodl and ~5 NEURON runs).

The files are others' code, kept outside the repository (`$NEUROJAX_CORPUS13`, default
/tmp/corpus13, with SOURCES.md naming each file's repository, path and commit): without
them this test is skipped, saying so. The cases here are those that exercise what this
session fixed, in the spiking current clamp (0.5 nA); the script runs every case and
protocol."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CASES = [
    # an ASSIGNED RANGE eh that only hoc sets: was refused as a parameter
    "ihvcn (eh an ASSIGNED RANGE)",
    # a linear KINETIC scheme's `cai = ca[0]`: was a step behind, 0.0058 mV, cai 0.11
    "cadifeb4_graham (KINETIC, excess buffer; + CaPCalyx)",
    # a nonlinear KINETIC scheme stepped as scopmath's sparse (one Newton iteration
    # here): was 1.9e-7 mV, pumpca 4e-8 relative after the first step
    "cadifpmp (KINETIC, COMPARTMENT, arrays, f_flux; + CaPCalyx)",
]


@pytest.fixture(scope="module")
def corpus():
    from validation import nmodl_corpus13_vs_neuron as c

    if not c.corpus_available():
        pytest.skip(f"the published corpus is not at {c.CORPUS} (others' code, never "
                    "committed): set NEUROJAX_CORPUS13 to a copy made from its "
                    "SOURCES.md")  # fmt: skip
    return c


@pytest.fixture(scope="module")
def results(corpus, tmp_path_factory):
    # NEURON is a dev dependency and nrnivmodl needs a C compiler: their absence is a
    # broken test environment, which fails here rather than skipping the comparison
    assert importlib.util.find_spec("neuron") is not None, "pip install -e '.[dev]'"
    assert shutil.which("gcc") or shutil.which("cc"), "nrnivmodl needs a C compiler"
    return corpus.compare_all(Path(tmp_path_factory.mktemp("c13")), CASES,
                              modes=("current clamp 0.5 nA",))  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_corpus_file_matches_neuron(results, name):
    """Same scheme (backward Euler, dt 0.025 ms, float64): V within 1e-9 mV and every
    state within 1e-9 of its range. Measured ≤ 8.1e-11 mV (docs/nmodl.md, corpus 13):
    float64 rounding carried through the spikes; the differences fixed were ≥ 1.9e-7 mV."""
    runs = {mode: r for (n, mode), r in results.items() if n == name}
    assert runs, name
    for mode, r in runs.items():
        assert "_error" not in r, (mode, r.get("_error"))
        assert r["v"] < 1e-9, (mode, r["v"])
        for k, d in r.items():
            if k.startswith("_") or k == "v":
                continue
            # (a state constant in NEURON's run: within 1e-15 of it)
            assert d <= max(1e-9 * r["_range"][k], 1e-15), (mode, k, d, r["_range"][k])


def test_refusals_name_file_line_and_construct(corpus):
    """Each refused file fails at load with a ValueError naming `file:line:` and the
    construct (never later, never a different mechanism)."""
    got = corpus.import_only()
    for f, expected in corpus.IMPORT_ONLY.items():
        assert got[f].startswith(f"{f}:"), got[f]
        assert expected in got[f], got[f]


def test_artificial_cell_spike_times_match_neuron(corpus, tmp_path):
    """Graham's IntFire6 (ARTIFICIAL_CELL, `net_send` self-event ending the refractory
    period) driven by 9 input events at exact times: the same output spikes as NEURON's
    (measured equal: 6.3, 21, 33.3 ms); 1e-9 ms allows float64 rounding of event times."""
    got = corpus.artcell_vs_neuron(tmp_path)
    assert len(got["neurojax"]) == len(got["neuron"]) > 0, got
    for a, b in zip(got["neurojax"], got["neuron"], strict=True):
        assert abs(a - b) <= 1e-9, got
