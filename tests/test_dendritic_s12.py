"""Session 12: the ReducedCell populations' events computed once per step and stored
(`network._network.MATERIALISE`, `_materialised`): the taken branch of a `lax.cond`
whose predicate is always true, so that XLA cannot fuse (and recompute) the soma's
update into each kernel reading the new voltages, timers, spike counts or the delay
ring's row. Nothing may change but the compiled program: the same values to the last
bit, the same derivatives, fewer copies of carried arrays per step."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_dendritic_network_order import _step_copies
from test_network_step import DT, network, run

import neurojax as nj
from neurojax._model import StepInfo
from neurojax.network import _network
from neurojax.network._network import _materialised


def _fn(info, v, m):
    """A stand-in for `events_columns`: new values, a timer and a 0/1 event."""
    spike = (v > info.t).astype(v.dtype)
    return v * (1 - spike) - 60.0 * spike, jnp.where(spike > 0, 0.0, m + 1.0), {"s": spike}


def _info(index):
    return StepInfo(index, jnp.float32(-50.0), jnp.float32(0.1), None)


@pytest.mark.slow  # three small compilations (~1.5 CPU-s, over the fast tier's 1 s)
def test_materialised_is_the_function_bit_for_bit_with_its_derivatives():
    """Values (negative zero, NaN, inf included), structure, dtypes and derivatives are
    `fn`'s; the index may be a Python int or traced."""
    v = jnp.array([-0.0, jnp.nan, jnp.inf, -49.0, -51.0], jnp.float32)
    m = jnp.array([0.0, 1.0, 2.0, 1e7, 3.0], jnp.float32)
    want = _fn(_info(0), v, m)
    for got in (
        _materialised(_fn, _info(0), v, m),
        jax.jit(lambda i, v, m: _materialised(_fn, _info(i), v, m))(jnp.int32(7), v, m),
    ):
        assert jax.tree.structure(got) == jax.tree.structure(want)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            assert a.dtype == b.dtype
            bits = [np.asarray(x).view(np.uint32) for x in (a, b)]
            np.testing.assert_array_equal(*bits)
    # derivatives: exactly fn's (the cond's taken branch is fn itself)
    vv = jnp.array([-49.0, -51.0, -40.0])
    mm = jnp.zeros(3)

    def loss(f, v):
        a, b, c = f(_info(jnp.int32(3)), v, mm)
        return jnp.sum(a * a) + jnp.sum(b) + jnp.sum(c["s"] * v)

    g_want = jax.grad(lambda v: loss(_fn, v))(vv)
    g_got = jax.grad(lambda v: loss(lambda *a: _materialised(_fn, *a), v))(vv)
    np.testing.assert_array_equal(g_got, g_want)


@pytest.mark.slow  # four network compilations (~15 CPU-s)
def test_materialised_events_give_the_same_run_bit_for_bit_with_fewer_copies(monkeypatch):
    """`MATERIALISE = False` (the former step): the same spikes, dSpikes and voltages to the
    last bit, and fewer copies of carried arrays in the compiled loop body (11 → 3 in
    bench_dendritic.py's network; here the same kind of network, smaller)."""
    stored, n_stored = run(network()), _step_copies(network())
    monkeypatch.setattr(_network, "MATERIALISE", False)
    former, n_former = run(network()), _step_copies(network())
    for name in ("E", "I", "E.dspikes"):
        np.testing.assert_array_equal(stored.spikes[name], former.spikes[name])
    for name in ("E", "I"):
        np.testing.assert_array_equal(stored.v[name], former.v[name])
    assert int(np.sum(stored.spikes["E"])) > 0 and int(np.sum(stored.spikes["I"])) > 0
    assert n_stored < n_former, (n_stored, n_former)


@pytest.mark.slow  # two gradient compilations (~20 CPU-s)
def test_materialised_events_give_the_same_gradient(monkeypatch):
    """The gradient of a loss of 400 steps (mean distal voltage + spike count) w.r.t. the
    E→E weights, with and without the stored events. Both programs compute the same
    operations; XLA may fuse them differently, so the comparison allows float32 rounding:
    relative 1e-4 of the largest entry (~400 steps × a few roundings of 6e-8 each, with
    margin), and at least one nonzero entry."""
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
    g_stored = jax.jit(jax.grad(loss))(w, net)
    monkeypatch.setattr(_network, "MATERIALISE", False)
    g_former = jax.jit(jax.grad(loss))(w, network())
    scale = float(jnp.max(jnp.abs(g_former)))
    assert scale > 0 and np.all(np.isfinite(np.asarray(g_stored)))
    np.testing.assert_allclose(g_stored, g_former, rtol=0, atol=1e-4 * scale)


def eqx_tree_at_weight(net, w):
    return eqx.tree_at(lambda m: m.projections[0].connectivity.weight, net, w)
