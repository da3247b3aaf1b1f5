"""Session 13: a ReducedCell population's event timers computed after the stored
(`_materialised`) events rather than inside their `lax.cond`
(`network._network.TIMERS_AFTER`), so that XLA writes them in place instead of copying
the conditional's outputs back into the time loop's carry. Nothing may change but the
compiled program: the same values to the last bit, the same derivatives, fewer copies
of carried arrays per step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_dendritic_network_order import _step_copies
from test_dendritic_s12 import eqx_tree_at_weight
from test_network_step import DT, network, run

import neurojax as nj
from neurojax.network import _network


@pytest.mark.slow  # four network compilations (~15 CPU-s)
def test_timers_after_the_events_give_the_same_run_bit_for_bit_with_fewer_copies(monkeypatch):
    """`TIMERS_AFTER = False` (the former step): the same spikes, dSpikes, voltages and
    final timers to the last bit, and fewer copies of carried arrays in the compiled loop
    body (3 → 0 in bench_dendritic.py's network; here the same kind of network)."""
    after, n_after = run(network()), _step_copies(network())
    monkeypatch.setattr(_network, "TIMERS_AFTER", False)
    former, n_former = run(network()), _step_copies(network())
    for name in ("E", "I", "E.dspikes"):
        np.testing.assert_array_equal(after.spikes[name], former.spikes[name])
    for name in ("E", "I"):
        np.testing.assert_array_equal(after.v[name], former.v[name])
    for a, b in zip(
        jax.tree.leaves(after.final_state), jax.tree.leaves(former.final_state), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(np.sum(after.spikes["E"])) > 0 and int(np.sum(after.spikes["E.dspikes"])) > 0
    assert n_after < n_former, (n_after, n_former)


@pytest.mark.slow  # two gradient compilations (~20 CPU-s)
def test_timers_after_the_events_give_the_same_gradient(monkeypatch):
    """The gradient of a loss of 400 steps (mean distal voltage + spike count) w.r.t. the
    E→E weights, both ways. The same operations, which XLA may fuse differently: relative
    1e-4 of the largest entry (~400 steps × a few roundings of 6e-8 each, with margin),
    as test_dendritic_s12's gradient check, and at least one nonzero entry."""
    steps = 400

    def loss(w, net):
        net = eqx_tree_at_weight(net, w)
        sol = nj.simulate(
            net,
            {"E": jnp.zeros((steps, 1))},
            dt=DT,
            key=jax.random.key(0),
            solver=nj.solvers.Euler(),
            saveat=nj.SaveAt(every=1, fn=lambda y: y.neurons["E"].vs[2].mean()),
        )
        return sol.states.mean() + 1e-3 * sum(s.sum() for s in jax.tree.leaves(sol.spikes))

    net = network()
    w = net.projections[0].connectivity.weight
    g_after = jax.jit(jax.grad(loss))(w, net)
    monkeypatch.setattr(_network, "TIMERS_AFTER", False)
    g_former = jax.jit(jax.grad(loss))(w, network())
    scale = float(jnp.max(jnp.abs(g_former)))
    assert scale > 0 and np.all(np.isfinite(np.asarray(g_after)))
    np.testing.assert_allclose(g_after, g_former, rtol=0, atol=1e-4 * scale)
