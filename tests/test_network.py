"""The Network model on the simulate contract: sparse == dense, Poisson drives, gradients
through spikes and delays, and errors for bad networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nw
from neurojax import synapses as syn

DT = 0.1


def _recurrent(conn_ee, conn_ei, delay=0.0):
    lif = nj.LIF(tau=10.0, v_rest=-65.0, v_reset=-65.0, v_th=-50.0, r=10.0, t_ref=2.0)
    return nw.Network(
        {"E": nw.Population(lif, 40), "I": nw.Population(lif, 10)},
        (
            nw.Projection("E", "E", conn_ee, syn.Exponential(tau=5.0, e_rev=0.0), delay=delay),
            nw.Projection("E", "I", conn_ei, syn.Exponential(tau=5.0, e_rev=0.0)),
            nw.Projection("I", "E", nw.dense(10, 40, 0.02), syn.Exponential(tau=10.0, e_rev=-80.0)),
        ),
        dt=DT,
    )


def _v_e(y):
    return y.neurons["E"].v


# slow tier: tests/test_network_connectivity.py checks event propagation against dense in the fast
# tier
@pytest.mark.slow
def test_sparse_equals_dense_network(x64):
    # The same random connectivity as event-driven Sparse and as a Dense matrix: identical
    # spike rasters and voltages (float64; sums in a different order: 1e-9 mV).
    k = jax.random.split(jax.random.key(0), 3)
    ee = nw.fixed_probability(k[0], 40, 40, 0.2, 0.004, chunk=4)
    ei = nw.fixed_probability(k[1], 40, 10, 0.3, 0.004, chunk=4)
    current = 1.6 + 0.4 * jax.random.uniform(k[2], (1000, 40))
    inputs = {"E": current}
    rec = nj.SaveAt(fn=_v_e)
    for delay in (0.0, 0.5):
        a = nj.simulate(_recurrent(ee, ei, delay), inputs, dt=DT, saveat=rec)
        b = nj.simulate(
            _recurrent(nw.Dense(ee.to_dense()), nw.Dense(ei.to_dense()), delay),
            inputs,
            dt=DT,
            saveat=rec,
        )
        assert float(a.spikes["E"].sum()) > 30  # the comparison is not vacuous
        np.testing.assert_array_equal(np.asarray(a.spikes["E"]), np.asarray(b.spikes["E"]))
        np.testing.assert_array_equal(np.asarray(a.spikes["I"]), np.asarray(b.spikes["I"]))
        np.testing.assert_allclose(np.asarray(a.states), np.asarray(b.states), atol=1e-9)


def test_poisson_drive_rate_and_reproducibility():
    # 200 neurons, 10 sources × 100 Hz each through a non-decaying current synapse of unit
    # weight: after 100 ms the count per neuron is Poisson with mean 10·100·0.1 = 100; the
    # population mean has sd √(100/200) = 0.7: ±3 allowed (> 4 sd).
    lif = nj.LIF(v_th=1e9)
    drive = nw.PoissonDrive("P", syn.Exponential(tau=1e12), rate=100.0, weight=1.0, n_sources=10)
    net = nw.Network({"P": nw.Population(lif, 200)}, (), (drive,), dt=DT)
    saveat = nj.SaveAt(every=1000, fn=lambda y: y.drives[0].g)
    run = lambda key: nj.simulate(  # noqa: E731
        net,
        {"P": jnp.zeros((1000, 1))},
        dt=DT,
        key=key,  # noqa: E731
        saveat=saveat,
    )
    g = np.asarray(run(jax.random.key(1)).states[-1])
    assert abs(g.mean() - 100) < 3
    assert abs(g.var() / 100 - 1) < 0.3  # Poisson: variance = mean (sd of var/mean ≈ 0.1)
    np.testing.assert_array_equal(g, np.asarray(run(jax.random.key(1)).states[-1]))
    assert np.any(g != np.asarray(run(jax.random.key(2)).states[-1]))
    with pytest.raises(ValueError, match="key"):
        nj.simulate(net, {"P": jnp.zeros((10, 1))}, dt=DT)


def _grad_net(w_ee, tau_syn, tau_m):
    src = nw.Population(nw.SpikeSource(), 3)
    lif = nj.LIF(tau=tau_m, v_th=1e3)  # subthreshold: the loss is smooth in the parameters
    conn = nw.from_pairs([0, 1, 2, 0], [0, 1, 1, 2], 3, 3, w_ee)
    return nw.Network(
        {"src": src, "dst": nw.Population(lif, 3)},
        (nw.Projection("src", "dst", conn, syn.Exponential(tau=tau_syn, e_rev=0.0), delay=0.3),),
        dt=DT,
    )


# slow tier: finite-difference validation; test_surrogate_gradient_reaches_presynaptic_neurons keeps network gradients in the fast tier
@pytest.mark.slow
def test_gradients_match_finite_differences(x64):
    # d(mean V of the targets)/d(weights, synaptic τ, membrane τ) through event-driven
    # propagation and a ring-buffer delay vs central differences (h = 1e-6, float64):
    # the loss is smooth (no postsynaptic spike), so they agree to 1e-6 relative.
    spikes = np.zeros((400, 3))
    spikes[[20, 50, 120], 0] = spikes[[30, 200], 1] = spikes[[60], 2] = 1.0
    spikes = jnp.asarray(spikes)

    # One SaveAt for all calls: a new lambda per call would recompile every simulate.
    saveat = nj.SaveAt(fn=lambda y: y.neurons["dst"].v)

    def loss(params):
        w, tau_syn, tau_m = params
        sol = nj.simulate(_grad_net(w, tau_syn, tau_m), {"src": spikes}, dt=DT, saveat=saveat)
        return jnp.mean(sol.states)

    # Strongly typed float64 leaves, like the perturbed ones below: one compilation.
    params = tuple(jnp.array(v, jnp.float64) for v in ([0.01, 0.02, 0.005, 0.015], 5.0, 15.0))
    grads = jax.grad(loss)(params)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    gflat = jax.flatten_util.ravel_pytree(grads)[0]
    h = 1e-6
    for i in range(flat.size):
        e = jnp.zeros_like(flat).at[i].set(h)
        fd = (loss(unravel(flat + e)) - loss(unravel(flat - e))) / (2 * h)
        assert float(gflat[i]) == pytest.approx(float(fd), rel=1e-6, abs=1e-12), i
    assert np.all(np.asarray(gflat[:4]) > 0)  # more excitation, higher mean V


def test_surrogate_gradient_reaches_presynaptic_neurons():
    # A spiking presynaptic LIF: d(postsynaptic V)/d(presynaptic input) flows through the
    # surrogate spike, the event-driven propagation and the synapse; it is finite and
    # positive (more drive, earlier/more spikes, more depolarisation downstream).
    lif = nj.LIF(tau=10.0, v_th=-50.0, t_ref=2.0)
    net = nw.Network(
        {"A": nw.Population(lif, 5), "B": nw.Population(nj.LIF(v_th=1e3), 5)},
        (
            nw.Projection(
                "A",
                "B",
                nw.fixed_probability(jax.random.key(0), 5, 5, 0.6, 0.05, chunk=2),
                syn.Exponential(tau=5.0, e_rev=0.0),
                delay=0.2,
            ),
        ),
        dt=DT,
    )

    def loss(i_a):
        sol = nj.simulate(
            net,
            {"A": jnp.full((300, 5), i_a)},
            dt=DT,
            saveat=nj.SaveAt(fn=lambda y: y.neurons["B"].v),
        )
        return jnp.mean(sol.states)

    g = jax.grad(loss)(2.0)
    assert np.isfinite(float(g)) and float(g) > 0


def test_network_errors():
    lif = nj.LIF()
    pop = nw.Population(lif, 10)
    with pytest.raises(ValueError, match="populations have 10 → 10"):
        nw.Network(
            {"A": pop}, (nw.Projection("A", "A", nw.dense(10, 5), syn.Exponential()),), dt=DT
        )
    with pytest.raises(ValueError, match="unknown post population 'B'"):
        nw.Network(
            {"A": pop}, (nw.Projection("A", "B", nw.dense(10, 10), syn.Exponential()),), dt=DT
        )
    with pytest.raises(ValueError, match="rate must be >= 0"):
        nw.PoissonDrive("A", syn.Exponential(), rate=-5.0)
    with pytest.raises(ValueError, match="positive int"):
        nw.Population(lif, 0)
    with pytest.raises(ValueError, match="dt must be"):
        nw.Network({"A": pop}, dt=-0.1)
    net = nw.Network(
        {"A": pop}, (nw.Projection("A", "A", nw.dense(10, 10), syn.Exponential()),), dt=DT
    )
    with pytest.raises(ValueError, match="shaped"):
        nj.simulate(net, {"A": jnp.zeros((5, 7))}, dt=DT)
    with pytest.raises(ValueError, match="no such population"):
        nj.simulate(net, {"Z": jnp.zeros((5, 10))}, dt=DT)
    # dt reaches the network traced (simulate compiles once for all dt): a run-time error.
    with pytest.raises(Exception, match="built for dt = 0.1"):
        nj.simulate(net, {"A": jnp.zeros((5, 10))}, dt=0.2)
    with pytest.raises(TypeError, match="dict"):
        nj.simulate(net, jnp.zeros((5, 10)), dt=DT)
