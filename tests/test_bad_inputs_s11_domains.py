"""Session-11 probe follow-up: `continuation` and `bifurcation_diagram` through a
parameter's physical domain. `continuation(hh, 36, -10, parameter=lambda m: m.g_k)` went
on to negative g_k and reported folds at g_k = -0.27 mS/cm² (an ODE's answer, no
neuron's); now the interval is cut at the domain the model declares (`g_k >= 0`:
`neurojax.channels.hh`; `LIF.tau > 0`), the branch ends at the boundary (a closed one
exactly, an open one `min_step` inside) with a warning and `Branch.end`, and a `start`
outside is refused. The refusals and the cut are checked without compiling (fast); the
branches themselves in the slow tests (a continuation compiles, ~5-15 s)."""

import warnings

import numpy as np
import pytest

import neurojax as nj
from neurojax import analysis as an
from neurojax.analysis._continuation import clip_to_domain

HH = nj.HodgkinHuxley(e_l=-54.387)
G_K = lambda m: m.g_k  # noqa: E731


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: an.continuation(HH, -1.0, 10.0, parameter=G_K),
         ["continuation: start is outside", "HodgkinHuxley.g_k must be >= 0", "start=-1"]),
        (lambda: an.continuation(HH, -5.0, -1.0, parameter=G_K),
         ["start and stop are both outside", "g_k must be >= 0"]),
        (lambda: an.bifurcation_diagram(HH, -5.0, -1.0, parameter=G_K),
         ["bifurcation_diagram: start and stop", "g_k must be >= 0"]),
        (lambda: an.continuation(HH, 1.0, -1.0, parameter=lambda m: m.c_m, min_step=2.0,
                                 max_step=3.0),
         ["c_m must be > 0", "within min_step=2"]),
    ],
)  # fmt: skip
def test_interval_outside_the_domain_is_refused(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_interval_is_cut_at_the_domain():
    # closed boundary (g_k >= 0): exactly there; open (c_m > 0): min_step inside
    start, stop, note = clip_to_domain(HH, G_K, 36.0, -10.0, 1e-8, "continuation")
    assert (start, stop) == (36.0, 0.0)
    assert "g_k must be >= 0" in note and "g_k = 0, not at stop=-10" in note
    start, stop, note = clip_to_domain(HH, lambda m: m.c_m, 1.0, -1.0, 1e-8, "continuation")
    assert (start, stop) == (1.0, 1e-8) and "c_m must be > 0" in note
    # a diagram may be cut at either end
    start, stop, note = clip_to_domain(HH, G_K, -10.0, 36.0, 1e-8, "bd", both_ends=True)
    assert (start, stop) == (0.0, 36.0) and "not at start=-10" in note
    # inside the domain, or the current (no domain): unchanged
    assert clip_to_domain(HH, G_K, 36.0, 1.0, 1e-8, "continuation") == (36.0, 1.0, "")
    assert clip_to_domain(HH, None, 5.0, -50.0, 1e-8, "continuation") == (5.0, -50.0, "")
    assert clip_to_domain(HH, lambda m: m.v_th, 0.0, -1e3, 1e-8, "c") == (0.0, -1e3, "")


@pytest.mark.slow  # compiles the continuation (~15 s)
def test_hh_g_k_branch_ends_at_zero():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        branch = an.continuation(HH, 36.0, -10.0, parameter=G_K, max_step=1.0, min_step=1e-8)
    assert branch.parameter.min() == 0.0 and branch.parameter[-1] == 0.0
    assert "g_k must be >= 0" in branch.end
    assert any("g_k = 0, not at stop=-10" in str(w.message) for w in caught)
    assert not branch.folds  # were at g_k = -0.27 mS/cm²
    # the branch inside the domain is the one asked for up to 0 (same steps: same points)
    inside = an.continuation(HH, 36.0, 0.0, parameter=G_K, max_step=1.0, min_step=1e-8)
    np.testing.assert_array_equal(branch.parameter, inside.parameter)
    assert inside.end == ""
    assert [p.kind for p in branch.points] == [p.kind for p in inside.points] == ["hopf"] * 2


@pytest.mark.slow  # compiles the continuation (~5 s)
def test_lif_tau_branch_stops_inside_the_open_domain():
    lif = nj.LIF()
    with pytest.warns(UserWarning, match="LIF.tau must be > 0"):
        branch = an.continuation(lif, 10.0, -10.0, parameter=lambda m: m.tau, current=0.5)
    min_step = 1e-9 * 20.0  # continuation's default: 1e-9 of the span
    assert branch.parameter[-1] == pytest.approx(min_step, rel=1e-12)
    assert np.all(branch.parameter > 0)
    with pytest.warns(UserWarning, match="not at start=-10"):
        diagram = an.bifurcation_diagram(
            lif, -10.0, 10.0, parameter=lambda m: m.tau, current=0.5, cycles=False
        )
    assert diagram.interval[0] == pytest.approx(min_step, rel=1e-12)
    assert all("LIF.tau must be > 0" in b.end for b in diagram.branches)
