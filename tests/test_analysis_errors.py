"""Bad input to neurojax.analysis fails early with a message that says what to do."""

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax.analysis as na
from neurojax import AbstractModel
from neurojax.neurons import LIF, HodgkinHuxley
from neurojax.solvers import Euler

HH = HodgkinHuxley()


def test_phase_plane_needs_two_variables():
    with pytest.raises(ValueError, match=r"4 dynamical variables \(v, m, h, n\).*exactly 2"):
        na.phase_plane(HH)
    with pytest.raises(ValueError, match=r"variables=\('v', 'n'\)"):
        na.phase_plane(HH)
    # LIF: one dynamical variable; its refractory timer is discrete state, not one
    with pytest.raises(ValueError, match=r"1 dynamical variable \(v\).*needs 2"):
        na.phase_plane(LIF())


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


# ---------------------------------------------------------------------------------------
# No silent wrong answers (issue 8, item 7)


def test_fixed_points_raises_when_there_is_no_equilibrium():
    # HH rests near -65 mV: nothing in (0, 50) mV. An error that says what to try, not []
    with pytest.raises(na.NoEquilibriumError, match=r"no equilibrium at current=0 with V in"):
        na.fixed_points(HH, 0.0, v_range=(0.0, 50.0))
    with pytest.raises(ValueError, match=r"wider v_range.*n_grid.*seeds="):
        na.fixed_points(HH, 0.0, v_range=(0.0, 50.0))
    # LIF above rheobase (1.5 nA): the ODE's zero lies beyond threshold, the reset removes it
    with pytest.raises(na.NoEquilibriumError, match=r"V = -45.*fires.*include_virtual=True"):
        na.fixed_points(LIF(), 2.0)


def test_continuation_refuses_equilibria_beyond_the_threshold():
    # all of (2, 3) nA is above rheobase: there is no equilibrium of the model to follow
    with pytest.raises(na.NoEquilibriumError, match=r"LIF has no equilibrium at current=2"):
        na.continuation(LIF(), 2.0, 3.0)
    # from below rheobase the branch stops where V reaches the threshold, at I = 1.5 nA
    model = LIF()  # v_rest −65 mV, R 10 MΩ, v_th −50 mV
    with pytest.warns(UserWarning, match=r"ends at parameter 1\.5, V = -50"):
        branch = na.continuation(model, 0.0, 3.0)
    assert np.all(branch.v < -50.0)
    assert branch.parameter.max() == pytest.approx(1.5, abs=1e-9)
    assert branch.v[-1] == pytest.approx(-50.0, abs=1e-9)
    # every point is an equilibrium V = v_rest + R·I
    np.testing.assert_allclose(branch.v, -65.0 + 10.0 * branch.parameter, atol=1e-9)
    with pytest.warns(UserWarning, match="ends at parameter 1.5"):
        diagram = na.bifurcation_diagram(model, 0.0, 3.0)
    assert all(np.all(b.v < -50.0) for b in diagram.branches)


class _V(NamedTuple):
    v: jnp.ndarray


class _Runaway(AbstractModel):
    """`dv/dt = v² + I` from v = 0: at rest for I = 0, blows up (at t = π/2 ms) for I = 1."""

    def init_state(self, batch_shape=()):
        return _V(v=jnp.zeros(batch_shape))

    def vector_field(self, t, y, current):
        return _V(v=y.v**2 + current)

    def event_step(self, info, y_old, y_new, z, inputs):
        return y_new, z, (y_new.v >= 100.0).astype(y_new.v.dtype)  # a "spike", no reset


def test_a_simulation_that_blows_up_is_an_error_not_zero_hertz():
    with pytest.raises(FloatingPointError, match=r"NaN or inf at current\(s\) 1, so no firing"):
        na.fi_curve(_Runaway(), [0.0, 1.0], duration=5.0, transient=0.0, dt=0.01, solver=Euler())
    with pytest.raises(FloatingPointError, match=r"non-finite.*value\(s\) 1 \(up sweep\)"):
        na.limit_cycles(
            _Runaway(),
            [0.0, 1.0],
            sweep=na.Sweep.UP,
            dt=0.01,
            transient=0.0,
            window=5.0,
            solver=Euler(),
        )


class _Leak(AbstractModel):
    """`dv/dt = −v + I`, no events: nothing to count."""

    def init_state(self, batch_shape=()):
        return _V(v=jnp.zeros(batch_shape))

    def vector_field(self, t, y, current):
        return _V(v=-y.v + current)


def test_fi_curve_needs_spikes():
    with pytest.raises(TypeError, match="needs a spiking model.*emits no spikes"):
        na.fi_curve(_Leak(), [0.0, 1.0], duration=1.0, transient=0.0, dt=0.1, solver=Euler())


def test_fi_curve_of_a_population_is_every_current_on_every_neuron():
    currents = np.array([1.0, 2.0, 3.0])
    # three neurons and three currents: must not be paired neuron i with current i
    pop = LIF(tau=jnp.array([10.0, 20.0, 30.0]))
    fi = na.fi_curve(pop, currents, duration=300.0, transient=0.0)
    assert fi.rate.shape == fi.n_spikes.shape == fi.first_spike.shape == (3, 3)
    np.testing.assert_allclose(fi.rate, na.lif_rate(pop, currents[:, None]), rtol=2e-2)
    # each column is that neuron's own f–I curve
    one = na.fi_curve(LIF(tau=20.0), currents, duration=300.0, transient=0.0)
    np.testing.assert_allclose(fi.rate[:, 1], one.rate, rtol=1e-6)
    with pytest.raises(ValueError, match="do not broadcast"):
        na.fi_curve(LIF(tau=jnp.array([10.0, 20.0]), r=jnp.array([1.0, 2.0, 3.0])), currents)
