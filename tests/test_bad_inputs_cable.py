"""Bad inputs to the cable helpers (distributions, regions, nseg rules, sites, SWC
paths, Hay et al.'s helpers) and `nernst` raise a `TypeError`/`ValueError` naming the
culprit. numpy-side checks only (no simulation), so the file costs about a CPU-second."""

import math

import numpy as np
import pytest

from neurojax import cable
from neurojax.cable import Branch, Morphology
from neurojax.channels import nernst

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def morph():
    # soma, a 100 µm apical trunk (3 segments) and a 50 µm apical child: path ends at
    # 20 (soma 1-end) + 100 + 50 = 170 µm from the soma's 0 end
    return Morphology(
        [
            Branch(20.0, 20.0, type="soma"),
            Branch(100.0, 2.0, parent=0, type="apical", nseg=3),
            Branch(50.0, 1.0, parent=1, type="apical"),
        ]
    )


D = np.array([0.0, 50.0, 100.0])

# (call, words the message must contain, error)
DISTRIBUTION_CASES = [
    (lambda: cable.linear(D, 1.0, NAN), ["linear", "slope"], ValueError),
    (lambda: cable.linear(np.array([0.0, NAN]), 1.0, 1.0), ["linear", "d", "path"], ValueError),
    (lambda: cable.exponential(D, 0.0, 1.0, 0.0), ["exponential", "length", "0"], ValueError),
    (lambda: cable.exponential(D, 0.0, 1.0, INF), ["exponential", "length"], ValueError),
    (lambda: cable.sigmoid(D, 0.0, 1.0, 50.0, 0.0), ["sigmoid", "width"], ValueError),
    (lambda: cable.sigmoid(D, "a", 1.0, 50.0, 1.0), ["sigmoid", "low"], TypeError),
    (lambda: cable.step(D, 1.0, 0.0, 100.0, 50.0), ["step", "start", "end"], ValueError),
    (lambda: cable.step(D, 1.0, 0.0, NAN, 50.0), ["step", "start"], ValueError),
]


@pytest.mark.parametrize("call, words, error", DISTRIBUTION_CASES)
def test_distribution_bad_arguments_are_named(call, words, error):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_distributions_keep_their_values():
    # the checks do not change a legitimate profile (closed forms, exact in float32 to
    # rounding: rtol 1e-6); an open-ended step (end = inf) is allowed
    np.testing.assert_allclose(cable.exponential(D, 1.0, 2.0, 50.0), 1 + 2 * np.exp(D / 50), 1e-6)
    np.testing.assert_array_equal(cable.step(D, 5.0, 1.0, 50.0, math.inf), [1.0, 5.0, 5.0])


MORPH_CASES = [
    (lambda m: m.branches_where([]), ["region is empty"], ValueError),
    (lambda m: m.branches_where(NAN), ["branch nan", "off the cell"], ValueError),
    (lambda m: m.distances(origin="soma"), ["origin", "(branch, x)"], TypeError),
    (lambda m: m.distances(origin=(0, 0.5, 1)), ["origin"], TypeError),
    (lambda m: m.values_by_type({"soma": NAN}, default=1.0), ["'soma'", "finite"], ValueError),
    (lambda m: m.values_by_type({"soma": "x"}, default=1.0), ["'soma'", "number"], TypeError),
    (lambda m: m.values_by_type(["soma"]), ["dict"], TypeError),
    (lambda m: m.with_nseg_by_length("a"), ["max_length"], TypeError),
    (lambda m: m.with_nseg_by_length(1e-9), ["10⁶", "max_length"], ValueError),
    (lambda m: cable.site_at_distance(m, 1e6), ["beyond the end", "170"], ValueError),
    (lambda m: cable.site_at_distance(m, -10.0), ["negative"], ValueError),
    (lambda m: cable.site_at_distance(m, NAN), ["distance", "finite"], ValueError),
    (lambda m: cable.site_at_distance(m, "a"), ["distance", "number"], TypeError),
    (lambda m: cable.site_at_distance(m, 10.0, along=99), ["along=99", "0..2"], ValueError),
    (lambda m: Branch(1 + 1j, 1.0), ["Branch length", "real"], TypeError),
    (lambda m: m.replace_axon(length="a"), ["replace_axon", "length"], TypeError),
]


@pytest.mark.parametrize("call, words, error", MORPH_CASES)
def test_morphology_bad_arguments_are_named(morph, call, words, error):
    with pytest.raises(error) as info:
        call(morph)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_site_at_distance_still_finds_sites(morph):
    # the far end of the path (170 µm) is allowed and lands on the last compartment;
    # 70 µm is 50 µm along the 100 µm trunk from its start at 20 µm: the middle segment
    assert cable.site_at_distance(morph, 170.0) == (2, 0.5)
    assert cable.site_at_distance(morph, 70.0) == (1, 0.5)


OTHER_CASES = [
    (lambda: cable.epsp_current(np.arange(3.0), 1.0, tau_rise=5.0, tau_decay=5.0),
     ["tau_rise", "different"], ValueError),
    (lambda: cable.epsp_current(np.arange(3.0), 1.0, tau_rise=0.0),
     ["tau_rise", "> 0"], ValueError),
    (lambda: cable.epsp_current(np.arange(3.0), NAN), ["onset", "finite"], ValueError),
    (lambda: cable.hay2011_morphology(max_length=0.0), ["max_length", "> 0"], ValueError),
    (lambda: cable.read_swc(3), ["read_swc", "path"], TypeError),
    (lambda: cable.read_swc("/"), ["directory"], ValueError),
    (lambda: nernst(10.0, 140.0, 1, -300.0), ["celsius", "absolute zero"], ValueError),
    (lambda: nernst(NAN, 140.0, 1, 6.3), ["ci", "NaN"], ValueError),
]  # fmt: skip


@pytest.mark.parametrize("call, words, error", OTHER_CASES)
def test_helper_bad_arguments_are_named(call, words, error):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_nernst_keeps_neuron_conventions():
    # K+ at 6.3 °C, ci 54.4 / co 2.5 mM: RT/F·ln(co/ci) = -74.17 mV (Hodgkin-Huxley's
    # squid axon; R and F exact in SI 2019; float32 rounding, rtol 1e-5); ci <= 0 still
    # gives NEURON's +1e6
    e = float(nernst(54.4, 2.5, 1, 6.3))
    ktf = 1000 * 8.31446261815324 * (6.3 + 273.15) / 96485.33212331001
    assert e == pytest.approx(ktf * math.log(2.5 / 54.4), rel=1e-5)
    assert float(nernst(0.0, 2.5, 1, 6.3)) == 1e6
