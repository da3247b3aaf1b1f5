"""Session-13 probes (round 6) of `neurojax.sharding.sweep`: an empty sweep failed in
numpy, and a parameter set outside its domain (or NaN) crashed the whole process on
several devices (the run-time check raised on one device, the others waited in an
all-reduce until XLA aborted, measured on 4 CPU devices). The sets are now checked before
anything is placed or compiled (`docs/numerics.md`, "Probes of the API (session 13)")."""

import equinox as eqx
import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax.sharding import sweep


def _never(p):
    raise AssertionError("fn must not be traced for refused parameter sets")


def test_an_empty_sweep_is_refused():
    # was "zero-size array to reduction operation max which has no identity"
    with pytest.raises(ValueError, match="params hold no parameter set"):
        sweep(_never, jnp.zeros(0))


def test_a_nan_parameter_set_is_named():
    with pytest.raises(
        ValueError, match=r"sweep: params is NaN or inf in parameter set\(s\) \[1\]"
    ):
        sweep(_never, jnp.array([10.0, jnp.nan, 20.0, 30.0]))


def test_a_model_outside_its_domain_is_named():
    # eqx.tree_at skips the model's own checks: tau = -5 ms in set 1
    model = eqx.tree_at(lambda m: m.tau, nj.LIF(), jnp.array([10.0, -5.0, 20.0, 30.0]))
    with pytest.raises(ValueError, match=r"sweep: params: .*LIF.tau must be > 0"):
        sweep(_never, model)
    with pytest.raises(ValueError, match=r"sweep: params\[1\]: .*LIF.tau must be > 0"):
        sweep(_never, (jnp.arange(4.0), model))


def test_pad_must_be_a_bool():
    # pad="no" was truthy: the sweep was padded
    with pytest.raises(TypeError, match="pad must be True or False, got 'no'"):
        sweep(_never, jnp.arange(3.0), pad="no")


def test_device_mesh_takes_devices():
    from neurojax.sharding import device_mesh

    # was "'str' object has no attribute 'id'"
    with pytest.raises(TypeError, match="devices must be jax.Device objects"):
        device_mesh(["cpu"])
    with pytest.raises(TypeError, match="axis_name must be a str"):
        device_mesh(axis_name=5)
    assert device_mesh().axis_names == ("neurons",)  # the control
