"""How repetitive firing starts: the period's growth law near an infinite-period onset
(saddle-node on an invariant circle: T ∝ (I − I_c)^(−1/2); homoclinic: T ∝ −ln(I − I_c)),
checked on closed forms and on Morris–Lecar (Rinzel & Ermentrout 1998) simulations."""

import numpy as np
import pytest

import neurojax.analysis as na
from neurojax.neurons import MorrisLecar


def test_period_law_recovers_closed_forms():
    d = np.geomspace(1e-3, 1.0, 12)
    snic = na.period_law(2.0 + d, 3.0 + 7.0 * d**-0.5, 2.0)
    # exact data: the exponent to the golden-section tolerance (1e-10 of the bracket)
    assert snic.exponent == pytest.approx(-0.5, abs=1e-6)
    assert snic.amplitude == pytest.approx(7.0, rel=1e-5)
    assert snic.better == "square root" and snic.power_rms < 1e-9
    homoclinic = na.period_law(2.0 - d, 12.0 - 5.0 * np.log(d), 2.0)  # from below
    # a linear least-squares fit of exact data: rounding only
    assert homoclinic.log_slope == pytest.approx(5.0, rel=1e-9)
    assert homoclinic.better == "logarithmic" and homoclinic.log_rms < 1e-12
    with pytest.raises(ValueError, match="one side of critical"):
        na.period_law([1.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0], 2.0)
    with pytest.raises(ValueError, match=">= 4"):
        na.period_law([3.0, 4.0], [1.0, 2.0], 2.0)


# slow tier: a cycle branch followed up to an infinite period (35 s measured, 9 s with the
# multiple-shooting corrector); the fast tier keeps the period-law fit and the
# subcritical-Hopf onset
@pytest.mark.slow
def test_snic_period_grows_like_inverse_square_root():
    """Morris–Lecar, Rinzel & Ermentrout's SNLC set: rest disappears at the fold of the
    equilibria (I_c ≈ 39.96 µA/cm²) onto a limit cycle, whose period diverges there like
    (I − I_c)^(−1/2). The periods are measured by simulation (limit_cycles), the fold by
    continuation: two independent computations."""
    model = MorrisLecar.rinzel_ermentrout1998("snlc")
    diagram = na.bifurcation_diagram(model, 0.0, 60.0, cycles=False)
    (fold,) = [f for f in diagram.folds if f.parameter > 30.0]
    assert fold.parameter == pytest.approx(39.96, abs=0.01)  # Rinzel & Ermentrout: ≈ 40
    d = np.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    lc = na.limit_cycles(
        model,
        fold.parameter + d,
        sweep=na.Sweep.DOWN,
        down_state0=[0.0, 0.3],
        dt=0.1,
        transient=3000.0,
        window=4000.0,
    )
    assert lc.down.oscillating.all()
    law = na.period_law(lc.down.parameter, lc.down.period, fold.parameter)
    # measured −0.495 (periods 120 to 813 ms): the O(1) and O(√d) corrections to the
    # normal form's π/√(ab·d) bias a fit over d = 0.05..3.2 by ~1 %; 0.02 is 4× that
    assert law.exponent == pytest.approx(-0.5, abs=0.02)
    # the square-root law fits to 0.2 %, the logarithmic one 80× worse (measured 16 %)
    assert law.better == "square root" and law.log_rms > 10 * law.power_rms


def test_morris_lecar_hopf_set_loses_rest_in_a_subcritical_hopf():
    """Rinzel & Ermentrout (1998) Fig. 7.3: with the `hopf` set rest loses stability in a
    subcritical Hopf bifurcation near 93.9 µA/cm² (first Lyapunov coefficient > 0). Its
    branch of unstable cycles turns at a fold of cycles (88.2932 µA/cm², measured with
    `bifurcation_diagram(model, 80, 100)`), but following those relaxation cycles needs
    4096–16384 RK4 steps per period and minutes of CPU, too long for the test suite; the
    fold-of-cycles machinery is tested on HH and the reduced HH (test_analysis_periodic)."""
    model = MorrisLecar.rinzel_ermentrout1998("hopf")
    d = na.bifurcation_diagram(model, 80.0, 100.0, cycles=False)
    (hopf,) = d.hopfs
    assert hopf.criticality == "subcritical"
    assert 93.0 < hopf.parameter < 95.0  # R&E's Fig. 7.3: onset of firing near 94 µA/cm²
    # rest is stable below the Hopf point and unstable above it
    below = na.fixed_points(model, current=hopf.parameter - 1.0)
    above = na.fixed_points(model, current=hopf.parameter + 1.0)
    assert [p.stable for p in below] == [True] and [p.stable for p in above] == [False]


# the SNIC set is in the slow tier (a cycle branch followed to an infinite period over a
# wider interval: 88 s measured before the multiple-shooting corrector, 19 s after); the
# homoclinic set (38 s then, 8 s after) keeps the onset classification in the fast tier
@pytest.mark.parametrize(
    "name, interval",
    [
        pytest.param("snlc", (30.0, 50.0), marks=pytest.mark.slow),
        ("homoclinic", (30.0, 40.0)),
    ],
)
def test_morris_lecar_onsets_match_rinzel_ermentrout(name, interval):
    """Rinzel & Ermentrout (1998) Figs. 7.4–7.6: with `snlc` the cycle
    appears where rest disappears in a fold of equilibria (SNIC), its period diverging
    like (I − I_c)^(−1/2); with `homoclinic` the period diverges at a saddle away from the
    fold, logarithmically, with slope 1/λ_u (λ_u the saddle's unstable eigenvalue)."""
    model = MorrisLecar.rinzel_ermentrout1998(name)
    d = na.bifurcation_diagram(model, *interval, cycles=na.CycleSearch(probes=2))
    onset = d.onsets[0]  # the lowest current at which the neuron can fire
    assert onset.side == "lower"
    if name == "snlc":
        (fold,) = d.folds
        assert onset.kind == "snic" and onset.parameter == fold.parameter  # ≈ 39.96
        # continuation periods up to ~20 × the shortest: as with the simulated ones,
        # ~1 % bias from the corrections to the normal form; 0.02 allows twice that
        assert onset.law.exponent == pytest.approx(-0.5, abs=0.02)
        assert onset.law.better == "square root"
        assert d.bistable == []  # class I: no coexistence
    else:
        assert onset.kind == "homoclinic"
        assert onset.law.better == "logarithmic"
        saddle = onset.point
        assert saddle.stability == "saddle"
        lam = saddle.eigenvalues.real.max()
        # T ≈ c − ln(I − I_c)/λ_u: the slope fitted over periods 2-20× the shortest,
        # where the O(d) corrections are a few %; 10 % allows for them
        assert onset.law.log_slope == pytest.approx(1.0 / lam, rel=0.1)
        # and rest (below the fold at 39.96) coexists with firing above the onset
        ((lo, hi),) = d.bistable
        assert lo == pytest.approx(onset.edge, abs=1e-3) and hi > 39.9
