"""Bad input to neurojax.analysis fails early with a message that says what to do."""

import jax.numpy as jnp
import pytest

import neurojax.analysis as na
from neurojax.neurons import LIF, HodgkinHuxley

HH = HodgkinHuxley()


def test_phase_plane_needs_two_variables():
    with pytest.raises(ValueError, match=r"4 dynamical variables \(v, m, h, n\).*exactly 2"):
        na.phase_plane(HH)
    with pytest.raises(ValueError, match=r"variables=\('v', 'n'\)"):
        na.phase_plane(HH)
    # LIF: one dynamical variable; its refractory counter is not one
    with pytest.raises(ValueError, match=r"1 dynamical variable \(v\).*needs 2"):
        na.phase_plane(LIF())
    with pytest.raises(ValueError, match="'refractory' is not dynamical"):
        na.phase_plane(LIF(), variables=("v", "refractory"))


@pytest.mark.parametrize(
    "variables, message",
    [
        (("v",), "must name two"),
        ("vn", "must name two"),
        (("v", "x"), "no dynamical variable 'x'; choose two of: v, m, h, n"),
        (("v", "v"), "two different variables"),
    ],
)
def test_phase_plane_bad_variables(variables, message):
    with pytest.raises(ValueError, match=message):
        na.phase_plane(HH, variables=variables)


@pytest.mark.parametrize(
    "region, message",
    [
        ((10.0, -10.0), "empty or inverted"),
        ((0.0, 0.0), "empty or inverted"),
        ((0.0, float("nan")), "finite"),
        (5.0, "pair"),
    ],
)
def test_bad_search_region(region, message):
    with pytest.raises(ValueError, match=message):
        na.fixed_points(HH, v_range=region)
    with pytest.raises(ValueError, match=message):
        na.phase_plane(HH, variables=("v", "n"), x_range=region)
    with pytest.raises(ValueError, match=message):
        na.bifurcation_diagram(HH, 0.0, 10.0, v_range=region)


def test_parameter_selector_must_pick_a_scalar():
    with pytest.raises(ValueError, match=r"one scalar parameter.*returned FastSigmoid"):
        na.continuation(HH, 0.0, 10.0, parameter=lambda m: m.surrogate)
    with pytest.raises(ValueError, match=r"selector failed.*no attribute 'g_kk'"):
        na.continuation(HH, 0.0, 10.0, parameter=lambda m: m.g_kk)
    two = HodgkinHuxley(g_k=jnp.array([36.0, 30.0]))
    with pytest.raises(ValueError, match=r"array of shape \(2,\)"):
        na.continuation(two, 0.0, 10.0, parameter=lambda m: m.g_k)
    with pytest.raises(TypeError, match="selector function"):
        na.bifurcation_diagram(HH, 0.0, 10.0, parameter="g_k")


def test_population_model_is_refused():
    two = HodgkinHuxley(g_k=jnp.array([36.0, 30.0]))
    with pytest.raises(ValueError, match="one neuron.*scalar parameters"):
        na.fixed_points(two)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="two different finite"):
        na.continuation(HH, 5.0, 5.0)
    with pytest.raises(TypeError, match="needs a neurojax model"):
        na.fixed_points("hh")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        na.fi_curve(LIF(), [[1.0, 2.0]])
    with pytest.raises(ValueError, match=">= 2 finite"):
        na.limit_cycles(HH, [1.0])
    with pytest.raises(TypeError, match="LIF-like model"):
        na.lif_rate(HH, 1.0)
    with pytest.raises(ValueError, match=r"a state of HodgkinHuxley.*4 dynamical variables"):
        na.fixed_points(HH, seeds=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="no equilibrium"):
        na.continuation(HH, 0.0, 10.0, state0=[float("nan"), 0.5, 0.5, 0.5])
