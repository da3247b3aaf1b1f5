"""What the slow tests of the published `.mod` corpora (`test_nmodl_corpus1*_neuron.py`)
share: the two fixtures (the fetched corpus, else a skip saying so; NEURON's and neurojax's
runs, where a missing NEURON or C compiler fails, never skips) and the checks.

The corpora are others' code, kept outside the repository (each driver's `CORPUS`, with a
`SOURCES.md` naming each file's repository, path and commit)."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from pathlib import Path

import pytest


def corpus_fixtures(module: str, env: str, cases, modes=("current clamp 0.5 nA",)):
    """The module-scoped fixtures `corpus` (the driver `validation.<module>`, or a skip
    naming the corpus path and `$env`) and `results` (the driver's `compare_all` over
    `cases`, `modes`). Use as `corpus, results = corpus_fixtures(...)` at module level."""

    @pytest.fixture(scope="module")
    def corpus():
        c = importlib.import_module(f"validation.{module}")
        if not c.corpus_available():
            pytest.skip(f"the published corpus is not at {c.CORPUS} (others' code, never "
                        f"committed): set {env} to a copy made from its SOURCES.md")  # fmt: skip
        return c

    @pytest.fixture(scope="module")
    def results(corpus, tmp_path_factory):
        require_neuron()
        return corpus.compare_all(Path(tmp_path_factory.mktemp(module)), list(cases),
                                  modes=modes)  # fmt: skip

    return corpus, results


def require_neuron():
    """NEURON is a dev dependency and nrnivmodl needs a C compiler: their absence is a
    broken test environment, which fails here rather than skipping the comparison."""
    assert importlib.util.find_spec("neuron") is not None, "pip install -e '.[dev]'"
    assert shutil.which("gcc") or shutil.which("cc"), "nrnivmodl needs a C compiler"


def check_matches_neuron(results, name, v_bound=1e-9, state_rel=1e-9):
    """Every protocol of case `name` ran: V within `v_bound` mV of NEURON's and every
    recorded state within `state_rel` of its range (a state constant in NEURON's run:
    within 1e-15 of it)."""
    runs = {mode: r for (n, mode), r in results.items() if n == name}
    assert runs, name
    for mode, r in runs.items():
        assert "_error" not in r, (mode, r.get("_error"))
        assert r["v"] < v_bound, (mode, r["v"])
        for k, d in r.items():
            if k.startswith("_") or k == "v":
                continue
            assert d <= max(state_rel * r["_range"][k], 1e-15), (mode, k, d, r["_range"][k])


def check_refusals(corpus):
    """Each file in the driver's IMPORT_ONLY fails at load with a ValueError naming
    `file:line:` and the construct (never later, never a different mechanism)."""
    got = corpus.import_only()
    for f, expected in corpus.IMPORT_ONLY.items():
        assert got[f].startswith(f"{f}:"), got[f]
        assert expected in got[f], got[f]
