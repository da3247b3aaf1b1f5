"""Bad inputs to the analysis closed forms and helpers raise errors naming the culprit
(numpy only: no compilation)."""

import math

import numpy as np
import pytest

import neurojax as nj
from neurojax import analysis as A

LIF = nj.LIF()

CASES = [
    (lambda: A.lif_rate(LIF, math.nan), ValueError, ["lif_rate", "current", "finite"]),
    (lambda: A.lif_rate(LIF, "a"), TypeError, ["lif_rate", "current"]),
    (lambda: A.lif_voltage(LIF, 1.0, -5.0), ValueError, ["lif_voltage", "t must be >= 0"]),
    (lambda: A.lif_voltage(LIF, 1.0, math.nan), ValueError, ["lif_voltage", "t"]),
    (lambda: A.lif_time_to_spike(LIF, 1.0, v0=math.inf), ValueError, ["v0", "finite"]),
    (lambda: A.classify([math.nan, -1.0]), ValueError, ["classify", "finite"]),
    (lambda: A.classify([]), ValueError, ["classify", "non-empty"]),
    (lambda: A.classify("ab"), TypeError, ["classify", "numbers"]),
]


@pytest.mark.parametrize("call, error, words", CASES)
def test_bad_analysis_input_is_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_lif_closed_forms_where_the_checks_pass():
    # from at or above threshold the first spike is immediate, whatever the drive (was inf
    # below rheobase); above rheobase the closed form τ·ln((RI+v_rest−v0)/(RI+v_rest−v_th))
    v_th = float(LIF.v_th)
    assert float(A.lif_time_to_spike(LIF, 0.0, v0=v_th + 1.0)) == 0.0
    tau, r, v_rest = (float(x) for x in (LIF.tau, LIF.r, LIF.v_rest))
    i = 2.0 * (v_th - v_rest) / r  # twice rheobase
    drive = r * i + v_rest
    expected = tau * math.log((drive - v_rest) / (drive - v_th))
    # float64 closed form against itself written out: rtol 1e-12
    assert float(A.lif_time_to_spike(LIF, i)) == pytest.approx(expected, rel=1e-12)
    assert A.classify(np.array([-1.0 + 2j, -1.0 - 2j])) == "stable focus"


def test_one_compartment_refuses_a_wrong_cell_or_threshold():
    # at construction (was: accepted, then an AttributeError, or a NaN v_th counting no
    # spikes: a silent 0 Hz from fi_curve). Building a Cell compiles nothing.
    from neurojax import cable
    from neurojax.cable import Branch, Cell, Morphology

    one = Cell(Morphology([Branch(20.0, 20.0)]), [(cable.HH(), None)])
    three = Cell(Morphology([Branch(20.0, 20.0, nseg=3)]), [(cable.HH(), None)])
    with pytest.raises(TypeError, match="OneCompartment wraps a one-compartment"):
        A.OneCompartment("cell")
    with pytest.raises(TypeError, match="3 compartments"):
        A.OneCompartment(three)
    with pytest.raises(ValueError, match="OneCompartment: v_th must be finite"):
        A.OneCompartment(one, v_th=math.nan)
    # a sphere-equivalent 20 x 20 µm cylinder: area π·d·L (closed form, float64 rtol 1e-12)
    assert A.OneCompartment(one, v_th=-20.0).area == pytest.approx(math.pi * 400.0, rel=1e-12)
