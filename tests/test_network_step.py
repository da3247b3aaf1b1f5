"""The network step's storage plans (docs/dendritic.md, "Performance"): a `ReducedCell`
population keeps no dSpike gate or timer for compartments built without dSpikes, and a
population's projections of different delays share one ring buffer. Both must leave the
results unchanged (checked bit for bit against the unpruned state and against separate
delays) and refuse what would make them wrong."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns
from neurojax.cable import Compartment, DSpikes, ReducedCell
from neurojax.network._delay import Delay

DT = 0.1


def cell(dspikes=True):
    ds = DSpikes(g_rise=0.03, g_fall=0.015, duration_rise=1.2, duration_fall=2.4)
    comps = [
        Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        Compartment("prox", c_abs=0.05, gl_abs=0.0025, e_l=-70.0),
        Compartment("dist", c_abs=0.03, gl_abs=0.0015, e_l=-70.0, dspikes=ds if dspikes else None),
    ]
    conns = [("soma", "prox", 0.04), ("prox", "dist", 0.03)]
    return ReducedCell.build(comps, conns, v_th=-50.0, v_reset=-60.0, t_ref=3.0)


def network(delays=(1.0, 0.5)):
    """20 E cells (distal dSpikes) and 10 I cells (none), Poisson input on the distal
    dendrites, E→E on the proximal dendrite and E→I on the soma with the two `delays`
    (ms; one ring for E's spikes), I→E on the soma."""
    k = jax.random.split(jax.random.key(3), 3)
    ampa, gaba = ns.Exponential(tau=2.0, e_rev=0.0), ns.Exponential(tau=6.0, e_rev=-80.0)
    proj = [
        nn.Projection(
            "E",
            "E",
            nn.fixed_probability(k[0], 20, 20, 0.3, 0.004),
            ampa,
            delays[0],
            compartment="prox",
        ),
        nn.Projection("E", "I", nn.fixed_probability(k[1], 20, 10, 0.3, 0.004), ampa, delays[1]),
        nn.Projection("I", "E", nn.fixed_probability(k[2], 10, 20, 0.3, 0.004), gaba, 0.5),
    ]
    drives = [
        nn.PoissonDrive(p, ampa, rate=40.0, weight=0.006, n_sources=100, compartment="dist")
        for p in ("E", "I")
    ]
    pops = {"E": nn.Population(cell(True), 20, dspikes=True), "I": nn.Population(cell(False), 10)}
    return nn.Network(pops, proj, drives, dt=DT)


def run(net, steps=400):
    return nj.simulate(
        net, {"E": jnp.zeros((steps, 1))}, dt=DT, key=jax.random.key(0), solver=nj.solvers.Euler()
    )


def test_compartments_without_dspikes_store_no_gates_or_timers():
    net = network()
    y, z = net.init_state(), net.init_discrete()
    e, i = y.neurons["E"], y.neurons["I"]
    assert [r is None for r in e.rises] == [True, True, False]
    assert all(r is None for r in (*i.rises, *i.falls))
    assert [k is None for k in z.neurons["E"].since_dspikes] == [True, True, False]
    # the (size, n) views are the unpruned ones: zero gates, timers at "never"
    assert e.rise.shape == (20, 3) and not np.any(np.asarray(i.fall))
    unpruned = net.populations["I"].neuron.init_discrete((10,)).since_dspike
    np.testing.assert_array_equal(z.neurons["I"].since_dspike, unpruned)


@pytest.mark.slow  # two network compilations (~8 CPU-s); the fast tier keeps the
# dendrify equivalence tests, which would see a pruned term change a spike
def test_pruned_state_gives_the_same_run_bit_for_bit(monkeypatch):
    """The same network with every compartment's gates and timers stored (as before the
    plan): the same spikes, dSpikes and voltages to the last bit (dropped terms were
    exact zeros)."""
    pruned = run(network())
    monkeypatch.setattr(ReducedCell, "dspiking", lambda self: (True,) * self.n)
    full = run(network())
    for name in ("E", "I", "E.dspikes"):
        np.testing.assert_array_equal(pruned.spikes[name], full.spikes[name])
    for name in ("E", "I"):
        np.testing.assert_array_equal(pruned.v[name], full.v[name])
    assert int(np.sum(pruned.spikes["E"])) > 0 and int(np.sum(pruned.spikes["E.dspikes"])) > 0


def test_a_dspike_threshold_set_after_the_network_is_refused():
    """A compartment stored without dSpike state must not silently ignore a finite
    threshold given later: concrete → ValueError naming it; traced → run-time error."""
    net = network()
    th = net.populations["I"].neuron.threshold
    bad = eqx.tree_at(lambda n: n.populations["I"].neuron.threshold, net, th.at[2].set(-40.0))
    with pytest.raises(ValueError, match=r"population 'I'.*\['soma', 'prox', 'dist'\]"):
        run(bad, steps=5)

    @jax.jit
    def traced(t):
        n = eqx.tree_at(lambda n: n.populations["I"].neuron.threshold, net, t)
        return run(n, steps=5).v["I"]

    traced(th)  # +inf everywhere: fine
    with pytest.raises(Exception, match="built without dSpikes"):
        jax.block_until_ready(traced(th.at[1].set(-40.0)))


def test_one_ring_serves_every_delay_of_a_population():
    """A ring of 4 steps read at delays 0..4 gives each value exactly that many steps
    later (zeros before), as separate rings would."""
    d = Delay(4)
    ring = d.init((1,))
    got = {s: [] for s in range(5)}
    for k in range(12):
        x = jnp.array([k + 1.0])
        ring = d.write(ring, x, k)
        for s in got:
            got[s].append(float(d.read(ring, x, k, s)[0]))
    for s, out in got.items():
        assert out == [0.0] * s + [k + 1.0 for k in range(12 - s)]
    with pytest.raises(ValueError, match="cannot delay by 5"):
        d.read(ring, x, 0, 5)


@pytest.mark.slow  # two more network compilations (~8 CPU-s)
def test_shared_ring_equals_separate_delays_in_a_network():
    """E→E at 1 ms and E→I at 0.5 ms (one ring) against both at 1 ms or both at 0.5 ms:
    each projection's arrivals depend on its own delay only, so each population's
    spikes follow the delay its inputs were given (I's inputs change with E→I's delay,
    and E's first spikes are those of a run with E→E at 1 ms)."""
    both = run(network((1.0, 0.5)))
    same_e = run(network((1.0, 1.0)))
    assert len(network((1.0, 0.5))._sources) == 2  # one ring per population (E, I)
    # until the first I spike the E population has the same input in both runs
    first_i = int(np.argmax(np.asarray(both.spikes["I"]).sum(1) > 0))
    first_i2 = int(np.argmax(np.asarray(same_e.spikes["I"]).sum(1) > 0))
    cut = min(first_i, first_i2) + 5  # I→E takes 5 steps to arrive
    np.testing.assert_array_equal(both.spikes["E"][:cut], same_e.spikes["E"][:cut])
    assert cut > 10 and int(np.sum(both.spikes["E"][:cut])) > 0


def test_drive_words_are_jax_threefry_bits_two_per_block():
    """The pooled Poisson draw's random words (`_random_words`): for a threefry key,
    exactly JAX's original (non-partitionable) `random.bits` — both words of each
    Threefry-2x32 block, half the hashing of the partitionable form, whose words differ —
    for even and odd counts and raw `PRNGKey`s alike; other implementations fall back to
    `jax.random.bits`."""
    from neurojax.network._projection import _random_words

    key = jax.random.key(7)
    for n in (512, 129, 1):
        with jax.threefry_partitionable(False):
            original = jax.random.bits(key, (n,), jnp.uint32)
        np.testing.assert_array_equal(_random_words(key, n), original)
    assert not np.array_equal(_random_words(key, 512), jax.random.bits(key, (512,), jnp.uint32))
    np.testing.assert_array_equal(_random_words(jax.random.PRNGKey(7), 64), _random_words(key, 64))
    rbg = jax.random.key(7, impl="rbg")
    np.testing.assert_array_equal(_random_words(rbg, 64), jax.random.bits(rbg, (64,), jnp.uint32))


def test_binary_spike_delivery_equals_the_general_one_with_its_derivatives():
    """`scatter_binary_events` (a ReducedCell population's 0/1 spikes: weights added
    without the product by x) against `scatter_events` on the same rows: the same sums
    bit for bit, and the same JVP (the dense sum's, x's surrogate tangent included)."""
    from neurojax.network._propagate import (
        post_targets,
        scatter_binary_events,
        scatter_events,
    )

    rng = np.random.default_rng(0)
    n_pre, n_post, fan = 300, 50, 12
    post = jnp.asarray(rng.integers(0, n_post + 1, (n_pre, fan)), jnp.int32)  # n_post: padding
    w = jnp.asarray(rng.uniform(0.1, 1.0, (n_pre, fan)), jnp.float32)
    x = jnp.asarray(rng.random(n_pre) < 0.1, jnp.float32)
    base = jnp.asarray(rng.normal(size=n_post), jnp.float32)

    def f(scatter, base, w, x):
        return scatter((post_targets(),), 8, (base,), (w,), x, ((post,),))[0]

    general = jax.jit(lambda *a: f(scatter_events, *a))
    binary = jax.jit(lambda *a: f(scatter_binary_events, *a))
    np.testing.assert_array_equal(binary(base, w, x), general(base, w, x))
    assert float(jnp.sum(jnp.abs(binary(base, w, x) - base))) > 0
    tangents = (jnp.ones_like(base), jnp.ones_like(w), jnp.asarray(rng.normal(size=n_pre)))
    _, d_general = jax.jvp(general, (base, w, x), tangents)
    _, d_binary = jax.jvp(binary, (base, w, x), tangents)
    np.testing.assert_array_equal(d_binary, d_general)


@pytest.mark.slow  # two network compilations (~8 CPU-s)
def test_binary_spike_delivery_gives_the_same_run_bit_for_bit(monkeypatch):
    """The network with every population's spikes delivered by the general path
    (`_propagate.BINARY = False`): the same spikes and voltages to the last bit."""
    from neurojax.network import _propagate

    fast = run(network())
    monkeypatch.setattr(_propagate, "BINARY", False)
    general = run(network())
    for name in ("E", "I", "E.dspikes"):
        np.testing.assert_array_equal(fast.spikes[name], general.spikes[name])
    for name in ("E", "I"):
        np.testing.assert_array_equal(fast.v[name], general.v[name])
    assert int(np.sum(fast.spikes["E"])) > 0 and int(np.sum(fast.spikes["I"])) > 0
