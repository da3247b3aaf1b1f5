"""Ion pools against NEURON compiling the same .mod files (slow tier: nrnivmodl).

`validation/nmodl_ions_vs_neuron.py`: Hay et al.'s Ca_HVA + CaDynamics_E2 + SK_E2 + hh,
camchan (GHK) + capump + CaDynamics_E2 + hh, Ca_HVA + a Ca shell reading diam + SK_E2 +
hh (cao given), nacaex + cachan1 + hh; one compartment,
backward Euler at dt = 0.025 ms, current and voltage clamp. The same equations in the
same scheme: measured ≤ 7e-11 mV for ohmic currents, 5e-6 mV with camchan's GHK current
(NEURON linearises it by a 0.001 mV difference, neurojax exactly, and the difference is
amplified through spikes); states ≤ 5e-8. Bounds: 1e-4 mV and 1e-6 in the states, far
under the issue's 0.5 mV."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _validation():
    path = Path(__file__).parents[1] / "validation" / "nmodl_ions_vs_neuron.py"
    spec = importlib.util.spec_from_file_location("nmodl_ions_vs_neuron", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ion_pools_match_neuron(tmp_path):
    import neuron  # noqa: F401  (a dev dependency: missing fails, not skips)

    results = _validation().compare_all(tmp_path)
    assert len(results) == 8
    for (case, mode), r in results.items():
        lo, hi = r.pop("_vrange")
        if mode == "current clamp":
            assert hi > 20, (case, "should fire")
        for name, (theirs, ours) in r.pop("_e_init").items():
            assert abs(theirs - ours) < 1e-9, (case, name, theirs, ours)
        assert "cai" in r or "nacaex" in case  # the pool's state is compared
        for trace, (mx, mean) in r.items():
            bound = 1e-4 if trace == "v" else 1e-6
            assert mx < bound, (case, mode, trace, mx, mean)
