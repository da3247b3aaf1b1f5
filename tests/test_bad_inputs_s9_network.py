"""Session-9 probes of networks with dendritic (`ReducedCell`) populations
(`neurojax/network/**`, `cable/_reduced.py`). Left as strict `xfail`s by the probing
helper, fixed by helper NETFIX: each is now refused at the API boundary (construction,
`record`, or `check_call` before the run), naming the argument and the value.

Found by the probes (the rest of the 60 network probes — projections to a compartment
that does not exist, negative/zero/NaN couplings, dSpike timings off the dt grid or
impossible (refractory < rise), thresholds made finite after the build on compartments
built without dSpikes, delays not a multiple of dt, negative/NaN/inf Poisson rates,
fractional or negative SpikeSource counts, input shapes — raised clearly already):

- a dSpike threshold set to NaN after the build (`eqx.tree_at`, which skips
  `__check_init__`; or a fit's NaN) simulated without a word: NaN compares False, so that
  compartment never fired a dSpike;
- a `PoissonDrive` whose `rate` or `weight` is shaped for another population size was
  accepted by `Network` and failed in the first step with JAX's "Incompatible types for
  broadcasting" (no drive, no population named);
- `Network(dt=0.1 + 0j)` failed with "'>' not supported between complex and int";
  `Projection(delay=0.1 + 0.1j)` with "float() argument must be a string or a real number";
- a `Projection` (or a drive) onto a `SpikeSource` population (pre and post swapped, say)
  was accepted and did nothing;
- `Network.record(v={"E": jnp.array([0, 7])})` on a population of 2 (or a compartment
  index 5 of 2) returned the last neuron (compartment) for the index beyond it: JAX's
  gather clamps out-of-range indices; `record(v={"src": ...})` on a `SpikeSource` returned
  zeros;
- `ReducedCell.build([dendrite, soma], ...)` made the first compartment the soma (the
  spiking unit, where `compartment=None` projects) whatever the names (Dendrify's soma is
  its `Soma` object wherever listed: now refused, the soma must come first);
  `clamp="no"` was truthy;
- (reported without a test) `spike_counts(n_steps=2.5)` truncated, bool source indices were
  read as 0/1; an `rbg` PRNG key with Poisson drives failed inside JAX's `poisson` with a
  NotImplementedError naming no drive.

Cost: nothing is compiled; the rbg-key test traces one network step (~0.3 CPU-s), the
traced NaN-threshold test (slow tier) compiles one small run.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns
from neurojax.cable import Compartment, DSpikes, ReducedCell

RUNTIME = (ValueError, RuntimeError)


def _cell():
    return ReducedCell.build(
        [
            Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
            Compartment(
                "d",
                c_abs=0.05,
                gl_abs=0.0025,
                e_l=-70.0,
                dspikes=DSpikes(g_rise=0.03, g_fall=0.015, threshold=-40.0),
            ),
        ],
        [("soma", "d", 0.04)],
    )


def _net(drive=None, dt=0.1, delay=0.0):
    return nn.Network(
        {"src": nn.Population(nn.SpikeSource(), 2), "E": nn.Population(_cell(), 2)},
        [
            nn.Projection(
                "src",
                "E",
                nn.one_to_one(2, 0.01),
                ns.Exponential(tau=2.0, e_rev=0.0),
                delay=delay,
                compartment="d",
            )
        ],  # fmt: skip
        [] if drive is None else [drive],
        dt=dt,
    )


def _drive(**kw):
    return nn.PoissonDrive("E", ns.Exponential(tau=2.0, e_rev=0.0), **{"rate": 5.0, **kw})


def _nan_threshold_cell():
    return eqx.tree_at(lambda m: m.threshold, _cell(), jnp.array([jnp.inf, jnp.nan]))


def test_nan_dspike_threshold_after_build_is_refused():
    # refused by check_call before anything is compiled, naming the compartment
    with pytest.raises(RUNTIME, match=r"threshold.*\['d'\]"):
        jax.block_until_ready(nj.simulate(_nan_threshold_cell(), jnp.zeros((2, 2)), dt=0.1).v)


def test_nan_dspike_threshold_refused_when_the_network_is_built():
    pops = {"E": nn.Population(_nan_threshold_cell(), 2)}
    with pytest.raises(ValueError, match=r"population 'E'.*threshold is NaN.*\['d'\]"):
        nn.Network(pops, dt=0.1)


@pytest.mark.slow  # ~1-2 CPU-s: compiles one small run
def test_traced_nan_dspike_threshold_is_refused_at_run_time():
    cell = _cell()

    @jax.jit
    def run(th):
        c = eqx.tree_at(lambda m: m.threshold, cell, th)
        return nj.simulate(c, jnp.zeros((2, 2)), dt=0.1).v

    assert jnp.all(jnp.isfinite(run(jnp.array([jnp.inf, -40.0]))))  # the control
    with pytest.raises(RUNTIME, match="threshold is NaN"):
        jax.block_until_ready(run(jnp.array([jnp.inf, jnp.nan])))


@pytest.mark.parametrize("field", ["rate", "weight"])
def test_drive_shaped_for_another_population_is_named(field):
    with pytest.raises(ValueError, match=rf"drive 0.*{field}"):
        _net(drive=_drive(**{field: jnp.full(3, 0.01)}))


def test_drive_shaped_for_its_population_is_fine():
    # the control: one rate and weight per neuron of E (2), or one for all
    assert len(_net(drive=_drive(rate=jnp.full(2, 5.0), weight=jnp.full(2, 0.01))).drives) == 1
    assert len(_net(drive=_drive(weight=0.01)).drives) == 1


@pytest.mark.parametrize("kw, name", [(dict(dt=0.1 + 0j), "dt"), (dict(delay=0.1 + 0.1j), "delay")])
def test_complex_dt_or_delay_is_named(kw, name):
    with pytest.raises(TypeError, match=name):
        _net(**kw)


def test_projection_onto_a_spike_source_is_refused():
    # e.g. pre and post swapped: the synapses would never act on anything
    with pytest.raises(ValueError, match="SpikeSource"):
        nn.Network(
            {"src": nn.Population(nn.SpikeSource(), 2), "E": nn.Population(_cell(), 2)},
            [nn.Projection("E", "src", nn.one_to_one(2, 0.01), ns.Exponential(tau=2.0))],
            dt=0.1,
        )


def _recorded(net, v):
    return net.record(v=v)(net.init_state())


@pytest.mark.parametrize(
    "index", [jnp.array([0, 7]), (slice(0, 2), 5)], ids=["neuron 7 of 2", "compartment 5 of 2"]
)
def test_record_index_beyond_the_population_is_refused(index):
    net = _net()
    assert _recorded(net, {"E": jnp.array([0, 1])})["E"].shape == (2, 2)  # the control
    with pytest.raises((ValueError, IndexError), match="7|5"):
        _recorded(net, {"E": index})


def test_record_voltage_of_a_spike_source_is_refused():
    with pytest.raises(ValueError, match="SpikeSource"):
        _recorded(_net(), {"src": slice(0, 2)})


def test_compartment_named_soma_not_first_is_refused():
    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0)
    dend = Compartment("d", c_abs=0.05, gl_abs=0.0025, e_l=-70.0)
    assert ReducedCell.build([soma, dend], [("soma", "d", 0.04)]).names[0] == "soma"
    with pytest.raises(ValueError, match="soma"):
        ReducedCell.build([dend, soma], [("soma", "d", 0.04)])


def test_clamp_must_be_a_bool():
    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0)
    with pytest.raises(TypeError, match="clamp"):
        ReducedCell.build([soma], [], clamp="no")


def test_drive_onto_a_spike_source_is_refused():
    with pytest.raises(ValueError, match="drive 0 .*SpikeSource"):
        _net(drive=nn.PoissonDrive("src", ns.Exponential(tau=2.0, e_rev=0.0), rate=5.0))


def test_record_a_bool_index_is_refused():
    net = _net()
    with pytest.raises(TypeError, match="bool"):
        _recorded(net, {"E": True})
    # a boolean mask of the population's length is an index like any other
    assert _recorded(net, {"E": jnp.array([True, False])})["E"].shape == (1, 2)
    with pytest.raises(IndexError, match="'E'"):
        _recorded(net, {"E": jnp.array([True, False, True])})


def test_record_a_compartment_by_name_still_checks_the_neurons():
    net = _net()
    assert _recorded(net, {"E": (jnp.array([1]), "d")})["E"].shape == (1,)
    with pytest.raises(IndexError, match="2"):
        _recorded(net, {"E": (jnp.array([2]), "d")})


@pytest.mark.parametrize("kw", [dict(n_steps=2.5), dict(n_sources=True), dict(n_steps="10")])
def test_spike_counts_takes_whole_counts_only(kw):
    args = dict(indices=[0, 0], times=[0.0, 0.1], n_sources=2, n_steps=10, dt=0.1)
    assert nn.spike_counts(**args).shape == (10, 2)  # the control
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        nn.spike_counts(**{**args, **kw})


def test_spike_counts_refuses_bool_indices():
    with pytest.raises(TypeError, match="indices"):
        nn.spike_counts([True, False], [0.0, 0.1], 2, 10, 0.1)


def test_rbg_key_with_poisson_drives_is_named():
    net = _net(drive=_drive())
    inputs = {"src": jnp.zeros((2, 2))}
    with pytest.raises(ValueError, match=r"drive 0 \(onto E\).*'rbg'"):
        nj.simulate(net, inputs, dt=0.1, key=jax.random.key(0, impl="rbg"))
