"""Session-9 probes of networks with dendritic (`ReducedCell`) populations. Every
failure found is in `neurojax/network/**` or `cable/_reduced.py`, helper DEND's files
this session, so each is a strict `xfail` here (the fix is theirs; the test turns into a
pass, and then an error to remove the mark, once fixed).

Found by the probes (the rest of the 60 network probes — projections to a compartment
that does not exist, negative/zero/NaN couplings, dSpike timings off the dt grid or
impossible (refractory < rise), thresholds made finite after the build on compartments
built without dSpikes, delays not a multiple of dt, negative/NaN/inf Poisson rates,
fractional or negative SpikeSource counts, input shapes — raised clearly):

- a dSpike threshold set to NaN after the build (`eqx.tree_at`, which skips
  `__check_init__`; or a fit's NaN) simulates without a word: NaN compares False, so that
  compartment never fires a dSpike;
- a `PoissonDrive` whose `rate` or `weight` is shaped for another population size is
  accepted by `Network` and fails in the first step with JAX's "Incompatible types for
  broadcasting" (no drive, no population named);
- `Network(dt=0.1 + 0j)` fails with "'>' not supported between complex and int";
  `Projection(delay=0.1 + 0.1j)` with "float() argument must be a string or a real number";
- a `Projection` onto a `SpikeSource` population (pre and post swapped, say) is accepted
  and does nothing;
- `Network.record(v={"E": jnp.array([0, 7])})` on a population of 2 (or a compartment
  index 5 of 2) returns the last neuron (compartment) for the index beyond it: JAX's
  gather clamps out-of-range indices; `record(v={"src": ...})` on a `SpikeSource` returns
  zeros;
- `ReducedCell.build([dendrite, soma], ...)` makes the first compartment the soma (the
  spiking unit, where `compartment=None` projects) whatever the names; `clamp="no"` is
  truthy.
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


@pytest.mark.slow  # ~1 CPU-s: compiles one small run (the rest of this file: nothing)
@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's cable/_reduced.py: a NaN dSpike threshold set after the build "
    "(eqx.tree_at) is not refused by simulate (ReducedCell.check_call checks timings only)",
)
def test_nan_dspike_threshold_after_build_is_refused():
    cell = eqx.tree_at(lambda m: m.threshold, _cell(), jnp.array([jnp.inf, jnp.nan]))
    with pytest.raises(RUNTIME, match="threshold"):
        jax.block_until_ready(nj.simulate(cell, jnp.zeros((2, 2)), dt=0.1).v)


@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's network/_network.py: a PoissonDrive rate/weight shaped for "
    "another population size is accepted by Network and fails inside JAX's broadcasting",
)
@pytest.mark.parametrize("field", ["rate", "weight"])
def test_drive_shaped_for_another_population_is_named(field):
    with pytest.raises(ValueError, match=rf"drive 0.*{field}"):
        _net(drive=_drive(**{field: jnp.full(3, 0.01)}))


def test_drive_shaped_for_its_population_is_fine():
    # the control: one rate and weight per neuron of E (2), or one for all
    assert len(_net(drive=_drive(rate=jnp.full(2, 5.0), weight=jnp.full(2, 0.01))).drives) == 1
    assert len(_net(drive=_drive(weight=0.01)).drives) == 1


@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's network/_network.py, _delay.py: a complex dt or delay fails with "
    "a bare comparison/float() TypeError that names neither",
)
@pytest.mark.parametrize("kw, name", [(dict(dt=0.1 + 0j), "dt"), (dict(delay=0.1 + 0.1j), "delay")])
def test_complex_dt_or_delay_is_named(kw, name):
    with pytest.raises(TypeError, match=name):
        _net(**kw)


@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's network/_network.py: a projection onto a SpikeSource population "
    "is accepted and has no effect (its spikes are its inputs; measured: E→src with weight "
    "5 µS changed nothing)",
)
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


@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's network/_network.py: Network.record(v=...) takes an index beyond "
    "the population or the compartments, which JAX's gather clamps to the last neuron / "
    "compartment without a word",
)
@pytest.mark.parametrize(
    "index", [jnp.array([0, 7]), (slice(0, 2), 5)], ids=["neuron 7 of 2", "compartment 5 of 2"]
)
def test_record_index_beyond_the_population_is_refused(index):
    net = _net()
    assert _recorded(net, {"E": jnp.array([0, 1])})["E"].shape == (2, 2)  # the control
    with pytest.raises((ValueError, IndexError), match="7|5"):
        _recorded(net, {"E": index})


@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's network/_network.py: Network.record(v={'src': ...}) on a "
    "SpikeSource population returns zeros (it has no voltage) instead of refusing",
)
def test_record_voltage_of_a_spike_source_is_refused():
    with pytest.raises(ValueError, match="SpikeSource"):
        _recorded(_net(), {"src": slice(0, 2)})


@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's cable/_reduced.py: ReducedCell.build takes the FIRST compartment "
    "as the soma whatever its name: [dendrite 'd', 'soma'] makes 'd' the spiking unit",
)
def test_compartment_named_soma_not_first_is_refused():
    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0)
    dend = Compartment("d", c_abs=0.05, gl_abs=0.0025, e_l=-70.0)
    assert ReducedCell.build([soma, dend], [("soma", "d", 0.04)]).names[0] == "soma"
    with pytest.raises(ValueError, match="soma"):
        ReducedCell.build([dend, soma], [("soma", "d", 0.04)])


@pytest.mark.xfail(
    strict=True,
    reason="helper DEND's cable/_reduced.py: ReducedCell.build(clamp='no') is truthy: the "
    "soma is held while refractory",
)
def test_clamp_must_be_a_bool():
    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0)
    with pytest.raises(TypeError, match="clamp"):
        ReducedCell.build([soma], [], clamp="no")
