"""Ring-buffer delays: a spike of step k arrives exactly delay/dt steps later, under jit,
vmap and grad; per-synapse delays; rounding rules and errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _network_helpers import DT, relay, run_relay, spike_train

import neurojax as nj
from neurojax import network as nw
from neurojax import synapses as syn


def _arrival_steps(g):
    """Steps at which the (non-decaying) synaptic variable jumps."""
    return np.nonzero(np.diff(np.concatenate([[0.0], np.asarray(g)])) > 1e-6)[0]


@pytest.mark.parametrize("delay,steps", [(0.0, 0), (0.1, 1), (1.5, 15), (0.3, 3)])
def test_homogeneous_delay_is_exact(delay, steps):
    # τ = 1e9 ms: g only jumps. A spike emitted at step 7 jumps g at step 7 + delay/dt
    # (0.3/0.1 = 2.9999999999999996 counts as 3 steps).
    net = relay(syn.Exponential(tau=1e9), delay=delay)
    sol = run_relay(net, spike_train(60, [7, 20]), lambda y: y.synapses[0].g[0])
    np.testing.assert_array_equal(_arrival_steps(sol.states), [7 + steps, 20 + steps])


def test_delay_under_jit_vmap_grad():
    # The spike step is an input value (traced under jit/vmap); arrivals follow it exactly.
    # d g(end)/d w = number of arrived spikes: gradients pass the ring buffer.
    net = relay(syn.Exponential(tau=1e9), delay=1.2, n=1)

    @eqx.filter_jit
    def final_g(net, spikes):
        sol = nj.simulate(
            net, {"src": spikes}, dt=DT, saveat=nj.SaveAt(fn=lambda y: y.synapses[0].g[0])
        )
        return sol.states

    trains = jnp.stack([spike_train(50, [k]) for k in (3, 10, 30, 40)])
    g = jax.vmap(lambda s: final_g(net, s))(trains)
    for row, k in zip(np.asarray(g), (3, 10, 30, 40), strict=True):
        want = [k + 12] if k + 12 < 50 else []
        np.testing.assert_array_equal(_arrival_steps(row), want)

    def loss(w):
        n = eqx.tree_at(lambda m: m.projections[0].connectivity.weight, net, w)
        return final_g(n, spike_train(50, [5, 30, 45]))[-1]

    # spikes at 5 and 30 arrive (at 17 and 42), the one at 45 would arrive at 57 > 49
    assert float(jax.grad(loss)(jnp.ones(1))[0]) == pytest.approx(2.0)


def test_heterogeneous_delays_per_synapse():
    # Three synapses from one source neuron with delays 0.1, 0.55 (→ 6 steps, rounded to
    # the nearest step) and 2.0 ms onto three targets.
    conn = nw.from_pairs([0, 0, 0], [0, 1, 2], 1, 3, 1.0)
    delays = np.zeros(conn.post.shape)
    delays[0, :] = [0.1, 0.55, 2.0]
    net = nw.Network(
        {"src": nw.Population(nw.SpikeSource(), 1), "dst": nw.Population(nj.LIF(v_th=1e3), 3)},
        (nw.Projection("src", "dst", conn, syn.Exponential(tau=1e9), delay=delays),),
        dt=DT,
    )
    sol = nj.simulate(
        net, {"src": spike_train(60, [4, 9])}, dt=DT, saveat=nj.SaveAt(fn=lambda y: y.synapses[0].g)
    )
    g = np.asarray(sol.states)
    for j, d in enumerate((1, 6, 20)):
        np.testing.assert_array_equal(_arrival_steps(g[:, j]), [4 + d, 9 + d])


# slow tier: a random network against a Python reference loop; test_heterogeneous_delays_per_synapse checks the same rule exactly in the fast tier
@pytest.mark.slow
def test_heterogeneous_delays_in_a_random_network_equal_reference():
    # A random sparse projection with random per-synapse delays: the synaptic input over
    # time equals a direct numpy convolution of the source spikes with each synapse's
    # delayed weight (float32: 1e-5).
    key = jax.random.key(0)
    n_pre, n_post, n_steps = 30, 20, 80
    conn = nw.fixed_probability(key, n_pre, n_post, 0.3, 1.0, chunk=4)
    w = np.asarray(jax.random.uniform(jax.random.key(1), conn.weight.shape))
    conn = nw.Sparse(conn.post, w, n_post, 4)
    d_steps = np.asarray(jax.random.randint(jax.random.key(2), conn.post.shape, 1, 9))
    spikes = np.asarray(jax.random.uniform(jax.random.key(3), (n_steps, n_pre)) < 0.08, float)
    net = nw.Network(
        {
            "src": nw.Population(nw.SpikeSource(), n_pre),
            "dst": nw.Population(nj.LIF(v_th=1e3), n_post),
        },
        (nw.Projection("src", "dst", conn, syn.Exponential(tau=1e9), delay=d_steps * DT),),
        dt=DT,
    )
    sol = nj.simulate(
        net, {"src": jnp.asarray(spikes)}, dt=DT, saveat=nj.SaveAt(fn=lambda y: y.synapses[0].g)
    )
    want = np.zeros((n_steps, n_post))
    post = np.asarray(conn.post)
    for i, j in zip(*np.nonzero(post < n_post), strict=True):
        for k in np.nonzero(spikes[:, i])[0]:
            if k + d_steps[i, j] < n_steps:
                want[k + d_steps[i, j], post[i, j]] += w[i, j]
    np.testing.assert_allclose(
        np.asarray(sol.states), np.cumsum(want, axis=0), rtol=1e-5, atol=1e-5
    )


def test_delay_rounding_and_errors():
    assert nw.delay_steps(0.0, 0.1) == 0
    assert nw.delay_steps(1.5, 0.1) == 15
    np.testing.assert_array_equal(
        nw.heterogeneous_delay_steps([0.1, 0.14, 0.15, 0.26], 0.1), [1, 1, 2, 3]
    )
    with pytest.raises(ValueError, match="shorter than the time step"):
        relay(syn.Exponential(), delay=0.05)
    with pytest.raises(ValueError, match="not a multiple of dt"):
        relay(syn.Exponential(), delay=0.25)
    with pytest.raises(ValueError, match=">= 0"):
        relay(syn.Exponential(), delay=-1.0)
    with pytest.raises(ValueError, match="shorter than dt/2"):
        nw.heterogeneous_delay_steps([0.5, 0.04], 0.1)
    with pytest.raises(ValueError, match="per-synapse delays need a Sparse"):
        relay(syn.Exponential(), delay=np.ones((1, 1)))
