"""Probes round 5 (session 12), the network: a SpikeSource population left out of the
inputs dict ran silent without a word (found by the round's probes of the API)."""

import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns

DT = 0.1


def _net():
    return nn.Network(
        {"S": nn.Population(nn.SpikeSource(), 1), "E": nn.Population(nj.LIF(), 2)},
        [nn.Projection("S", "E", nn.from_pairs([0, 0], [0, 1], 1, 2, weight=5.0), ns.Delta())],
        dt=DT,
    )


def test_a_spike_source_without_input_is_refused():
    with pytest.raises(ValueError, match=r"no entry for the SpikeSource population\(s\) \['S'\]"):
        nj.simulate(_net(), {"E": jnp.zeros((5, 2))}, dt=DT)


def test_a_spike_source_given_zeros_runs():
    """The refusal's advice works: an explicit all-zero train is a silent source."""
    n = _net()
    sol = nj.simulate(n, {"E": jnp.zeros((5, 2)), "S": jnp.zeros((5, 1))}, dt=DT)
    assert sol.spikes["S"].sum() == 0
