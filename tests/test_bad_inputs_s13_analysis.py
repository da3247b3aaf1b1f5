"""Session-13 probes (round 6) of the analysis's continuation options: `continue_cycle`'s
steps, bounds, stops and limits, `CycleSearch`, `find_cycle`'s window, guess and blown-up
simulations. Each case below gave a silently wrong answer, a hang or an unreadable error
before the fix named in its test (`docs/numerics.md`, "Probes of the API (session 13)").
The fast tests compile nothing: the options are checked before any start is looked at
(`start=None` below); the checks that compare with the starting cycle need one
(`find_cycle`, ~6 CPU-s) and are in the slow tier."""

import warnings

import numpy as np
import pytest

import neurojax as nj
from neurojax import analysis as A

FHN = nj.FitzHughNagumo()


@pytest.mark.parametrize(
    "options, error, words",
    [
        # max_step = 0 or NaN or inf: the step loop never ended (the step halved from 0
        # never fell below min_step); max_step < 0: the start alone, "step below min_step"
        (dict(max_step=0.0), ValueError, ["max_step must be a finite number > 0", "0.0"]),
        (dict(max_step=float("nan")), ValueError, ["max_step must be a finite number > 0"]),
        (dict(max_step=float("inf")), ValueError, ["max_step must be a finite number > 0"]),
        (dict(max_step=-0.05), ValueError, ["max_step must be a finite number > 0"]),
        (dict(min_step=-1.0), ValueError, ["min_step must be a finite number > 0"]),
        # reversed or NaN bounds: one cycle, ended "left bounds"; a scalar: Python's
        # "cannot unpack non-iterable float object"
        (dict(bounds=(0.9, 0.3)), ValueError, ["bounds=(0.9, 0.3)", "low < high"]),
        (dict(bounds=(float("nan"), 1.0)), ValueError, ["bounds=(nan, 1)", "not NaN"]),
        (dict(bounds=0.9), ValueError, ["bounds must be None or a pair (low, high)"]),
        # max_period <= 0: ended at the first step as "period → ∞"
        (dict(max_period=-1.0), ValueError, ["max_period must be a finite number > 0"]),
        (dict(max_period=0.0), ValueError, ["max_period must be a finite number > 0"]),
        # NaN or negative min_amplitude never ended a branch
        (dict(min_amplitude=-1.0), ValueError, ["min_amplitude must be a finite", ">= 0 mV"]),
        (dict(min_amplitude=float("nan")), ValueError, ["min_amplitude must be a finite"]),
        (dict(amplitude=0.0), ValueError, ["amplitude must be a finite number > 0"]),
        # max_points 2.7 was read as 2, "5" as 5
        (dict(max_points=2.7), ValueError, ["max_points must be an int >= 2", "2.7"]),
        (dict(max_points="5"), ValueError, ["max_points must be an int >= 2", "'5'"]),
    ],
)  # fmt: skip
def test_continue_cycle_options_are_checked_before_the_run(options, error, words):
    with pytest.raises(error) as info:
        A.continue_cycle(FHN, None, 0.8, **options)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_continue_cycle_stop_must_be_a_number():
    # "1" was parsed as 1.0
    with pytest.raises(TypeError, match="stop must be a real number, got '1'"):
        A.continue_cycle(FHN, None, "1")


@pytest.mark.parametrize(
    "options, words",
    [
        # each was accepted; probes=2.5/kicks=1.9 cut to 2/1 later, True read as 1
        (dict(probes=2.5), ["probes must be an int >= 0", "2.5"]),
        (dict(probes=True), ["probes must be an int >= 0", "True"]),
        (dict(kicks=1.9), ["kicks must be an int >= 0"]),
        # max_points=0 gave a bifurcation diagram without cycles, max_step=-1 branches of
        # one cycle each ("step below min_step"): bifurcation_diagram turns continue_cycle's
        # errors into warnings, so CycleSearch must refuse them itself
        (dict(max_points=0), ["max_points must be an int >= 2"]),
        (dict(max_step=-1.0), ["max_step must be > 0"]),
        (dict(max_step=float("nan")), ["max_step must be finite"]),
        # window=inf passed "window > 4 dt" and overflowed in int(round(inf))
        (dict(window=float("inf")), ["window must be finite"]),
    ],
)  # fmt: skip
def test_cycle_search_options_are_checked(options, words):
    with pytest.raises(ValueError) as info:
        A.CycleSearch(**options)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_cycle_search_dt_string_is_named():
    # was "'>' not supported between instances of 'str' and 'int'"
    with pytest.raises(TypeError, match="CycleSearch: dt must be a real number"):
        A.CycleSearch(dt="0.02")


def test_cycle_search_defaults_and_valid_options_still_accepted():
    assert A.CycleSearch().max_points == 300
    assert A.CycleSearch(probes=0, kicks=np.int64(3), max_step=2.0, window=50.0).kicks == 3


def test_find_cycle_window_shorter_than_steps_is_refused():
    # was numpy's "zero-size array to reduction operation min which has no identity"
    with pytest.raises(ValueError, match=r"window=0.001 ms is shorter than 4 steps"):
        A.find_cycle(FHN, 0.5, window=1e-3)


def test_find_cycle_value_true_is_refused():
    # True was read as a current of 1
    with pytest.raises(TypeError, match="the parameter value must be a real number"):
        A.find_cycle(FHN, True)


@pytest.mark.slow  # builds the system (~1.5 s wall at load 10)
def test_find_cycle_nan_guess_is_named():
    # was NoCycleError "settles at rest (V range nan mV ...)"
    with pytest.raises(ValueError, match=r"guess has non-finite values"):
        A.find_cycle(FHN, 0.5, guess=np.array([np.nan, 0.0]))


@pytest.mark.slow  # one RK4 trajectory compiled (~3 CPU-s)
def test_find_cycle_blown_up_simulation_is_not_called_rest():
    # RK4 at dt = 10 ms overflows: was "settles at rest (V range nan mV ...)"
    with pytest.raises(A.NoCycleError, match="became NaN or inf"):
        A.find_cycle(FHN, 0.5, dt=10.0)


@pytest.fixture(scope="module")
def orbit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return A.find_cycle(FHN, 0.5, window=300.0)  # period 39.47 ms, V peak-to-peak 3.82


@pytest.mark.slow  # find_cycle ~6 CPU-s
def test_limits_that_end_a_branch_at_its_first_step_are_refused(orbit):
    # max_period below the start's period ended the branch "period → ∞" after one step;
    # min_amplitude above the start's ended it "amplitude → 0 (Hopf)"
    with pytest.raises(ValueError, match=r"max_period=10.0 ms is not above the starting"):
        A.continue_cycle(FHN, orbit, 0.8, max_period=10.0)
    with pytest.raises(ValueError, match=r"min_amplitude=1000.0 mV is not below the starting"):
        A.continue_cycle(FHN, orbit, 0.8, min_amplitude=1e3)
    with pytest.raises(ValueError, match=r"need 0 < min_step < max_step"):
        A.continue_cycle(FHN, orbit, 0.8, max_step=0.01, min_step=0.1)
    # controls: limits the branch can use, a one-sided bound
    for kw in (dict(max_period=100.0), dict(min_amplitude=1.0), dict(bounds=(0.0, np.inf))):
        branch = A.continue_cycle(FHN, orbit, 0.8, max_points=3, **kw)
        assert branch.end == "max points", (kw, branch.end)


@pytest.mark.parametrize(
    "call",
    [
        lambda: A.continuation(FHN, 0.0, 1.0, current=0.3),
        lambda: A.limit_cycles(FHN, [0.4, 0.5], current=0.3),
        lambda: A.find_cycle(FHN, 0.5, current=0.3),
        lambda: A.bifurcation_diagram(FHN, 0.0, 1.0, current=0.3, cycles=False),
    ],
)
def test_current_with_the_current_as_parameter_is_refused(call):
    # continuation(FHN, 0, 1, current=0.3) traced the branch from I = 0 as if `current`
    # were not given (146 points, the same as without it): with parameter=None the
    # current is the varied parameter itself
    with pytest.raises(ValueError, match=r"current=0.3 is used only when another parameter"):
        call()


def test_current_with_another_parameter_is_still_the_base_current():
    # the control (compiles nothing but the parameter check): current with parameter=
    with pytest.raises(ValueError, match="start"):  # refused for its interval, not current
        A.continuation(FHN, 0.5, 0.5, parameter=lambda m: m.a, current=0.3)
