"""Session 14, issue 20 ("Bad input"): ~150 bad or edge inputs to the dendritic-network API
(`validation/probe_dendritic_s14.py`): projections, drives, inputs and recordings naming a
compartment that does not exist; impossible dSpike timings (given or set after the build);
negative, zero, NaN, infinite, complex couplings and capacitances, leaks and areas; wrong
shapes of per-neuron and per-compartment parameters (at the build, after it, after the
network); spike trains with unsorted, negative, NaN, infinite times and counts; delays off
the grid, negative, NaN, infinite or huge; zero, negative and fractional population sizes;
a dt that does not divide a refractory period, a dSpike duration or a spike width; float16,
float32 and float64 models.

Each must give a clear error (ValueError/TypeError/IndexError/FloatingPointError) whose
message contains the culprit's words listed with the probe, or a checked correct answer:
per-neuron `v_th`, `v_reset`, `t_ref` equal, neuron by neuron, to populations built with
each value; `np.str_` and `None` compartments the same as their string; a projection with
no synapse the same as none; unsorted spike times the same counts as sorted; a delay of d
steps arriving in the update of step s + d + 1.

Found silent or unclear by these probes, and fixed (docs/numerics.md, "Probes (session 14)"):
soma parameters of the wrong shape (4 thresholds for 3 neurons, `(3, 1)`, `(3, 3)`) and
per-compartment ones set by `eqx.tree_at` were accepted by `Population` (the run then
failed in JAX's broadcasting, or, for `g_l` of 4 values for 3 compartments, ran); an
infinite SpikeSource count passed its check (`inf == round(inf)`); a `Sparse`
connectivity with no synapse (`from_pairs([], [], ...)`) failed in the run with JAX's
"index is out of bounds"; a complex coupling gave Python's "float() argument".
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "validation" / "probe_dendritic_s14.py"


def _probes():
    name = "probe_dendritic_s14"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_ALL = _probes().probes()


def test_there_are_about_a_hundred_probes():
    assert len(_ALL) >= 100
    assert len({label for label, *_ in _ALL}) == len(_ALL)  # labels unique


@pytest.mark.parametrize("label", [p[0] for p in _ALL])
def test_probe_is_refused_clearly_or_answered_correctly(label):
    m = _probes()
    ((_, fn, words, check),) = [p for p in _ALL if p[0] == label]
    verdict, note = m.verdict(fn, words, check)
    assert verdict in ("clear", "ok"), (label, verdict, note)
    if words is None:
        assert check is not None, label  # every run that is accepted is checked
