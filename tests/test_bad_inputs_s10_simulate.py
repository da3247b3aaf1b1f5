"""Session-10 probes of `simulate`'s arguments: values that the model's float type cannot
hold, parameters replaced after construction by non-numbers, a non-bool `throw`. All
refused before anything is compiled."""

import equinox as eqx
import jax.numpy as jnp
import pytest

import neurojax as nj

LIF = nj.LIF()
I = jnp.full(10, 2.0)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        # 1e-50 ms is 0 in float32: every step was at t = t0, V frozen (no error)
        (dict(dt=1e-50), ["dt=1e-50", "is 0 in the model's float32"]),
        (dict(dt=1e-300), ["dt=1e-300", "is 0"]),
        # 1e39 is inf in float32: reported as a NaN state "within the first step"
        (dict(dt=1e39), ["dt=1e+39", "is inf"]),
        (dict(dt=0.1, t0=1e39), ["t0=1e+39", "is inf"]),
    ],
)
def test_times_outside_the_float_type_are_named(kwargs, words):
    with pytest.raises(ValueError) as info:
        nj.simulate(LIF, I, **kwargs)
    for w in words:
        assert w in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        jnp.asarray(True),  # was read as tau = 1 ms, silently
        "10",  # was JAX's "Error interpreting argument ... path m.tau"
        None,  # was "unsupported operand type(s) for /"
        jnp.asarray(10.0 + 0j),  # was "float() argument must be ... not 'complex'"
    ],
)
def test_parameter_replaced_by_a_non_number_is_named(value):
    model = eqx.tree_at(lambda m: m.tau, LIF, value, is_leaf=lambda x: x is None)
    with pytest.raises(TypeError, match=r"LIF.tau must be a real number or array.*eqx.tree_at"):
        nj.simulate(model, I, dt=0.1)


def test_throw_must_be_a_bool():
    # "no" is truthy: it raised on NaN, the opposite of what was asked
    with pytest.raises(TypeError, match="throw must be True or False"):
        nj.simulate(LIF, I, dt=0.1, throw="no")


def test_optional_parameters_may_stay_none():
    # a current-based synapse's e_rev and a depressing-only STP's tau_f are None by
    # design: the type check leaves them alone
    from neurojax import synapses

    assert synapses.Exponential().e_rev is None
    assert synapses.TsodyksMarkram().tau_f is None
    from neurojax._simulate import check_parameter_types

    check_parameter_types(synapses.Exponential())
    check_parameter_types(synapses.TsodyksMarkram())


def test_empty_network_inputs_say_how_to_set_n_steps():
    from neurojax.network import Network, Population

    net = Network({"a": Population(nj.LIF(), 3)}, (), dt=0.1)
    with pytest.raises(ValueError, match=r"inputs is empty.*needs one entry to set n_steps"):
        nj.simulate(net, {}, dt=0.1)


def test_state0_gate_outside_unit_interval_is_refused():  # refused before compiling
    """A state0 with HH's m = 1.5 ran silently (a 49 mV spike from rest with no input);
    the model's declared gates (`gate_fields`) are checked to lie in [0, 1]."""
    hh = nj.HodgkinHuxley()
    state0 = hh.init_state(())._replace(m=jnp.asarray(1.5))
    with pytest.raises(ValueError, match="state0.*m"):
        nj.simulate(hh, jnp.zeros(4), dt=0.025, state0=state0)
