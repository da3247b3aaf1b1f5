"""Session-10 probes of `neurojax.analysis`: the LIF closed forms applied to other
integrate-and-fire models, a Jacobian classified as eigenvalues, f–I durations off the
grid. Refused before anything is compiled."""

import numpy as np
import pytest

import neurojax as nj
from neurojax import analysis as A

LIF = nj.LIF()
FHN = nj.FitzHughNagumo()
RHH = nj.ReducedHH()


@pytest.mark.parametrize("model", [nj.EIF(), nj.AdEx(), nj.QIF()])
@pytest.mark.parametrize("fn", [A.lif_rate, A.lif_time_to_spike])
def test_lif_closed_forms_refuse_other_if_models(model, fn):
    # EIF at 2 nA fires, but lif_rate gave 0 Hz: its v_th is the cut-off, and its
    # exponential current is not in the LIF formula
    with pytest.raises(TypeError, match=rf"neurojax.LIF only, not {type(model).__name__}"):
        fn(model, 2.0)


def test_classify_refuses_a_matrix():
    # a 2x2 Jacobian's four entries were classified as four eigenvalues
    jac = np.array([[-1.0, 2.0], [0.5, -3.0]])
    with pytest.raises(ValueError, match=r"1-D array, got shape \(2, 2\).*eigvals"):
        A.classify(jac)
    assert A.classify(np.linalg.eigvals(jac)) in ("stable node", "saddle")


CASES = [
    # a duration or transient off the grid was rounded to it without a word
    (lambda: A.fi_curve(LIF, [2.0], duration=100.05, dt=0.1),
     ValueError, ["100.05", "whole number"]),
    (lambda: A.fi_curve(LIF, [2.0], duration=100.0, transient=10.05, dt=0.1),
     ValueError, ["10.05", "whole number"]),
    # shorter than a step: was "inputs must be shaped (n_steps, ...) got shape (0, 1)"
    (lambda: A.fi_curve(LIF, [2.0], duration=0.05, transient=0.0, dt=0.1),
     ValueError, ["shorter than one step"]),
    # was "'>' not supported between instances of 'str' and 'int'"
    (lambda: A.fi_curve(LIF, [2.0], duration="100"), TypeError, ["duration", "number in ms"]),
    # was numpy's "could not convert string to float" / "float() argument ... complex"
    (lambda: A.fi_curve(LIF, ["a"]), TypeError, ["fi_curve", "currents"]),
    (lambda: A.fi_curve(LIF, [2.0 + 1j]), TypeError, ["fi_curve", "currents", "real"]),
    # 2.5 was truncated to 2 grid voltages
    (lambda: A.fixed_points(nj.HodgkinHuxley(), 0.0, n_grid=2.5), ValueError, ["n_grid", "int"]),
    # "no" is truthy
    (lambda: A.fixed_points(FHN, 0.0, v_range=(-3, 3), include_virtual="no"),
     TypeError, ["include_virtual", "True or False"]),
    # a period without a guess was silently ignored; dt = 0 was a ZeroDivisionError
    (lambda: A.find_cycle(FHN, 0.5, period=30.0), ValueError, ["period=", "guess="]),
    (lambda: A.find_cycle(FHN, 0.5, dt=0.0), ValueError, ["dt", "> 0"]),
    # phase_plane: numpy's "Number of samples, -299", "cannot reshape array of size 1",
    # or an accepted empty trajectory / 1-point nullcline grid
    (lambda: A.phase_plane(RHH, 0.0, n_arrows=0), ValueError, ["n_arrows", "int >= 2"]),
    (lambda: A.phase_plane(RHH, 0.0, resolution=1), ValueError, ["resolution"]),
    (lambda: A.phase_plane(RHH, 0.0, trajectories=[(-65.0,)]),
     ValueError, ["trajectories", "(k, 2)", "(1, 1)"]),
    (lambda: A.phase_plane(RHH, 0.0, t_max=0.001, dt=0.01), ValueError, ["t_max", "one step"]),
    (lambda: A.phase_plane(RHH, 0.0, t_max=10.0, t_sample=20.0), ValueError, ["t_sample"]),
]  # fmt: skip


@pytest.mark.parametrize("call, error, words", CASES)
def test_bad_analysis_arguments_are_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)
