"""The whole bifurcation picture in one call (`bifurcation_diagram`): equilibria, cycles
from Hopf points and from simulated firing, their folds, how firing starts and stops, and
the bistable ranges — checked against published values, closed forms and simulations."""

import matplotlib
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from test_analysis_cycles import reduced_hh_numpy
from test_analysis_models import INaPIKState, inapik_numpy

import neurojax.analysis as na
from neurojax.neurons import ReducedHH
from neurojax.neurons.inapk import INaPIK

matplotlib.use("Agg")


def test_inapik_model_matches_izhikevich():
    """The INa,p+IK model against a numpy transcription of Izhikevich (2007) §4.1.2, and
    its fold of equilibria at I ≈ 4.51 µA/cm² (Fig. 4.1 / 6.7: a saddle-node on an
    invariant circle)."""
    import jax

    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        model = INaPIK()
        for _ in range(5):
            y = np.array([rng.uniform(-90, 40), rng.uniform(0, 1)])
            dy = model.vector_field(0.0, INaPIKState(*y), 3.0)
            # the same formulas in float64: rounding only
            np.testing.assert_allclose(np.array(dy), inapik_numpy(0, y, 3.0), rtol=1e-12)
    rest = model.init_state()
    np.testing.assert_allclose(inapik_numpy(0, np.array(rest), 0.0), 0.0, atol=1e-4)  # float32
    low = INaPIK.izhikevich2007("low-threshold")
    assert float(low.v_half_n) == -45.0 and float(low.e_l) == -78.0
    with pytest.raises(ValueError, match="high-threshold"):
        INaPIK.izhikevich2007("medium")


def _settles(f, y0, t_end=1500.0):
    """Peak-to-peak V over the last 200 ms of a scipy LSODA run (rtol 1e-9) from y0."""
    sol = solve_ivp(f, (0, t_end), y0, method="LSODA", rtol=1e-9, atol=1e-9, max_step=0.5)
    return np.ptp(sol.y[0, sol.t > t_end - 200.0])


# slow tier: a full bifurcation diagram with cycles plus four 1.5 s scipy LSODA runs at rtol
# 1e-9 (96 s measured, 37 s with the multiple-shooting corrector); the fast tier keeps the
# diagram's onsets through the Morris-Lecar homoclinic set (test_analysis_onset) and
# test_analysis_cycles' ReducedHH bistability
@pytest.mark.slow
def test_reduced_hh_starts_and_stops_firing_in_folds_of_cycles():
    """ReducedHH (default h_plus_n = 0.855): rest is a stable focus at every current in
    [−5, 30] µA/cm² (no fold, no Hopf point), yet the neuron can fire over a band of
    currents: a stable cycle born and destroyed in folds of limit cycles. One call finds
    both folds (from a cycle found by simulation) and the bistable band between them; a
    scipy simulation (LSODA, rtol 1e-9) started on the cycle next to each fold keeps
    firing just inside the band and returns to rest just outside it."""
    model = ReducedHH()
    d = na.bifurcation_diagram(model, -5.0, 30.0, cycles=na.CycleSearch(probes=3))
    assert d.folds == [] and d.hopfs == []
    assert all(b.stable.all() for b in d.branches)
    lower, upper = d.onsets
    assert (lower.side, upper.side) == ("lower", "upper")
    assert lower.kind == upper.kind == "fold of cycles"
    # the band between the folds is where rest and firing coexist (edges located, not
    # sampled: to the continuation's tolerance)
    ((lo, hi),) = d.bistable
    assert lo == pytest.approx(lower.edge, abs=1e-6) and hi == pytest.approx(upper.edge, abs=1e-6)
    # measured (test_analysis_cycles' sweep): firing from ≈ −1.75 to ≈ 12 µA/cm²
    assert -2.5 < lower.edge < -1.0 and 10.0 < upper.edge < 13.0
    cycle = d.cycles[0]
    f = reduced_hh_numpy
    for edge, inward in ((lower.edge, +1.0), (upper.edge, -1.0)):
        i = int(np.argmin(np.abs(cycle.parameter - edge)))
        start = cycle.state[i]
        # 0.2 µA/cm² either side: beyond the fold the cycle's ghost slows the decay, so
        # a margin well above the fold's location error (~1e-6) and a long run (1.5 s)
        assert _settles(f(model, edge + 0.2 * inward), start) > 100.0  # fires on
        assert _settles(f(model, edge - 0.2 * inward), start) < 1.0  # back to rest
    summary = d.summary()
    assert "fold of cycles" in summary and "bistable" in summary
    ax = d.plot()
    assert ax.get_xlabel() == "I (µA/cm²)" and ax.get_ylabel() == "V (mV)"
    labels = ax.get_legend_handles_labels()[1]
    assert "stable cycles (min/max)" in labels and "stable equilibria" in labels
