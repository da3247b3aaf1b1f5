"""Session-11 probes of `neurojax.analysis`: a current or interval end given as a string
(`"1"` was parsed) or a bool (`True` read as 1 µA/cm²); `max_step=inf` (the continuation
never ended); `max_points="a"`/NaN (a bare `int()` error); `steady_state_current(n_iter=0)`
(NaN for every voltage); a phase-plane trajectory starting at NaN (a NaN trajectory, drawn
as nothing); a `ReducedCell` given to the analysis ("non-finite parameters (threshold)":
+inf is how a compartment without dSpikes is stored) or to `fi_curve` (an input-shape
error), a `Network` to `fi_curve` ("got ShapeDtypeStruct"). Each is refused before any
Newton step or integration: no compilation."""

import numpy as np
import pytest

import neurojax as nj
from neurojax import analysis as an

HH = nj.HodgkinHuxley(e_l=-54.387)
RHH = nj.ReducedHH()


def _reduced():
    from neurojax.cable import Compartment, ReducedCell

    return ReducedCell.build(
        [Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
         Compartment("d", c_abs=0.05, gl_abs=0.0025, e_l=-70.0)],
        [("soma", "d", 0.04)])  # fmt: skip


def _network():
    from neurojax import network as nn

    return nn.Network({"E": nn.Population(nj.LIF(), 2)}, dt=0.1)


CASES = [
    (lambda: an.fixed_points(HH, "1"), TypeError, ["fixed_points", "current", "'1'"]),
    (lambda: an.fixed_points(HH, True), TypeError, ["current", "True"]),
    (lambda: an.continuation(HH, "0", 5.0), TypeError, ["continuation: start", "'0'"]),
    (lambda: an.continuation(HH, True, 5.0), TypeError, ["start", "bool"]),
    (lambda: an.continuation(HH, 0.0, None), TypeError, ["stop"]),
    (lambda: an.continuation(HH, 0.0, 5.0, max_step=np.inf), ValueError, ["max_step", "finite"]),
    (lambda: an.continuation(HH, 0.0, 5.0, max_step="1"), TypeError, ["max_step"]),
    (lambda: an.continuation(HH, 0.0, 5.0, max_points="a"), ValueError, ["max_points", "'a'"]),
    (lambda: an.continuation(HH, 0.0, 5.0, max_points=np.nan), ValueError, ["max_points"]),
    (lambda: an.bifurcation_diagram(RHH, "0", 5.0), TypeError, ["bifurcation_diagram: start"]),
    (lambda: an.bifurcation_diagram(RHH, 0.0, 5.0, max_step=np.inf), ValueError,
     ["bifurcation_diagram: max_step"]),
    (lambda: an.steady_state_current(HH, -65.0, n_iter=0), ValueError, ["n_iter", ">= 1"]),
    (lambda: an.phase_plane(RHH, 0.0, trajectories=[(np.nan, 0.5)], limit_cycle=False),
     ValueError, ["trajectories", "finite", "nan"]),
    (lambda: an.fixed_points(_reduced(), 0.0), TypeError, ["reduced cell of 2 compartment"]),
    (lambda: an.continuation(_reduced(), 0.0, 1.0), TypeError, ["continuation", "reduced cell"]),
    (lambda: an.fi_curve(_reduced(), [0.1]), TypeError, ["fi_curve", "reduced cell"]),
    (lambda: an.fi_curve(_network(), [0.1]), TypeError, ["fi_curve", "Network is a network"]),
]  # fmt: skip


@pytest.mark.parametrize("call, error, words", CASES)
def test_bad_analysis_arguments_are_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_numbers_of_any_real_type_are_accepted():
    # the check refuses strings and bools, not NumPy scalars or ints (nothing run here:
    # continuation's interval check is all that is exercised)
    from neurojax.analysis._continuation import check_interval, check_max_points

    assert check_interval(np.float32(0.0), 5, None, None)[:2] == (0.0, 5.0)
    assert check_max_points("continuation", 100.0) == 100
