"""`v` assigned inside a density mechanism, against NEURON compiling the same files (slow
tier): validation/nmodl_vassign_vs_neuron.py's self-written kshift (v + 10 in the rates,
then restored), naguard (`if (v == c) { v = v + … }` guards, one firing in INITIAL) and
vshadow (v changed and never restored, in BREAKPOINT and in the rates), one compartment,
34 °C, backward Euler dt = 0.025 ms, float64, current clamp (spikes) and voltage clamp.

Measured: ≤ 2.0e-10 mV and ≤ 2.4e-12 in the gates (round-off through the spikes, as the
other NMODL comparisons); bounds 1e-8 mV and 1e-10. The published Hay et al. files
(K_Pst, K_Tst, NaTa_t; 2013's NaTa_t, NaTg) are compared only where /tmp/pubcells holds
them (fetched outside the repository; skipped otherwise): measured ≤ 5.8e-10 mV."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _val():
    path = Path(__file__).parents[1] / "validation" / "nmodl_vassign_vs_neuron.py"
    spec = importlib.util.spec_from_file_location("nmodl_vassign_vs_neuron", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _check(results, n_cases):
    assert len(results) == n_cases
    for (case, mode), r in results.items():
        lo, hi = r.pop("_vrange")
        r.pop("_e_init")
        if mode == "current clamp":
            assert hi > 20, (case, "should fire")
        for trace, (mx, mean) in r.items():
            assert mx < (1e-8 if trace == "v" else 1e-10), (case, mode, trace, mx, mean)


def test_vassign_self_written_match_neuron(tmp_path):
    import neuron  # noqa: F401  (a dev dependency: missing fails, not skips)

    _check(_val().compare_self(tmp_path / "self"), 2)


def test_vassign_published_hay_match_neuron(tmp_path):
    import neuron  # noqa: F401

    val = _val()
    groups = val.published_groups()
    if not groups:
        pytest.skip(f"the published files are not fetched ({val.PUB})")
    _check(val.compare_published(tmp_path), 2 * sum(len(c) for c in groups.values()))
