"""Session-10 probes of the network helpers: spike statistics on a dict, a 1-D or NaN
recording, a zero/negative dt (a wrong number or numpy's IndexError before); a box
window that halved the rate at the edges; fractional neuron indices; a population whose
parameters are shaped for another size. Numpy only, nothing compiled."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.network import (
    Network,
    Population,
    from_pairs,
    isi_cv,
    mean_rate,
    population_rate,
    spike_times,
)

S = np.zeros((100, 3))
S[[10, 50, 90], 0] = 1.0

CASES = [
    (lambda: mean_rate({"exc": S}, 0.1), TypeError, ["dict", "sol.spikes['exc']"]),
    (lambda: mean_rate(S, 0.0), ValueError, ["dt", "> 0"]),  # was inf
    (lambda: mean_rate(S, -0.1), ValueError, ["dt"]),  # was -100 Hz
    (lambda: mean_rate(S * np.nan, 0.1), ValueError, ["finite"]),  # was nan
    (lambda: mean_rate(np.zeros((0, 3)), 0.1), ValueError, ["n_steps >= 1"]),
    (lambda: spike_times(S, "0.1"), TypeError, ["dt"]),
    # counts above 1 (a SaveAt(every=k) recording): the times within a row are lost
    (lambda: spike_times(2 * S, 0.1), ValueError, ["counts above 1", "every=1"]),
    (lambda: isi_cv(S, 0.1, min_spikes=1), ValueError, ["min_spikes", ">= 3"]),  # was 1e-16
    (lambda: population_rate(S, 0.1, window=-5.0), ValueError, ["window"]),  # was unsmoothed
    (lambda: population_rate(S, 0.1, window=np.nan), ValueError, ["window"]),
    (lambda: from_pairs([0, 1.7], [0, 1], 3, 4), ValueError, ["whole neuron indices", "1.7"]),
    (lambda: from_pairs([True, False], [0, 1], 3, 4), TypeError, ["indices"]),
    # 4 values for 3 neurons: accepted, then simulate blamed the inputs' batch shape
    (lambda: Population(nj.LIF(tau=jnp.full(4, 10.0)), 3),
     ValueError, ["Population of 3 LIF", ".tau has shape (4,)"]),
]  # fmt: skip


@pytest.mark.parametrize("call, error, words", CASES)
def test_bad_network_helper_arguments_are_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_statistics_of_legitimate_recordings():
    # one neuron as a 1-D array (was IndexError): 3 spikes in 10 ms = 300 Hz
    assert mean_rate(S[:, 0], 0.1) == pytest.approx(300.0, rel=1e-12)
    assert spike_times(S[:, 0], 0.1)[0].tolist() == pytest.approx([1.1, 5.1, 9.1])
    # regular firing: CV 0 (exact in float64 up to rounding of the times)
    assert isi_cv(S, 0.1) == pytest.approx(0.0, abs=1e-12)
    # a constant population rate stays constant up to the edges (zero padding gave half)
    r = population_rate(np.ones((100, 3)), 0.1, window=2.0)
    np.testing.assert_allclose(r, 1e4, rtol=1e-12)


def test_population_parameters_one_per_neuron_are_accepted():
    net = Network({"a": Population(nj.LIF(tau=jnp.array([10.0, 20.0, 30.0])), 3)}, (), dt=0.1)
    assert net.populations["a"].size == 3
    Population(nj.LIF(tau=jnp.array([10.0])), 3)  # a (1,) array broadcasts


def test_spike_source_input_shape_message_names_spike_counts():
    """A SpikeSource's mis-shaped input was described as "one current per neuron"
    (probe, session 10): it names spike counts."""
    from neurojax.network import Network, Population, SpikeSource

    net = Network({"S": Population(SpikeSource(), 5)}, dt=0.1)
    with pytest.raises(ValueError, match=r"spike counts per neuron of the SpikeSource"):
        nj.simulate(net, {"S": jnp.zeros((10, 3))}, dt=0.1)


def test_delay_longer_than_the_ring_limit_is_refused():
    """A 10⁹ ms delay was accepted and failed at run time on memory (probe, session 10):
    refused at build, naming the steps and the units."""
    from neurojax.network import delay_steps, heterogeneous_delay_steps

    with pytest.raises(ValueError, match="Delays are in ms: check the units"):
        delay_steps(1e9, 0.1)
    with pytest.raises(ValueError, match="Delays are in ms"):
        heterogeneous_delay_steps(np.array([1.0, 2e8]), 0.1)
    assert delay_steps(1.5, 0.1) == 15
