"""Session 15's arrival rings (benchmarks/README.md "Dendritic networks"): a `Sparse`
projection with a homogeneous delay delivers a spike at its own step into the slot of
its target step, `(step + delay) % (delay + 1)`, of a ring of arrived input per
postsynaptic neuron; the projections of one presynaptic vector share one buffer and one
search for the spiking rows, whatever their delays. The sums are the former ones bit for
bit (the same additions in the same order); here against `scatter_events` into the same
slot and, in a network, against the per-synapse-delay path (a separate code path: its own
search and ring per projection)."""

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
from neurojax.network import _propagate as PG

# two projections of one presynaptic vector: (n_post, delay in steps)
PROJ = ((30, 3), (20, 0))


def _case(seed=0, n_pre=40, fan=9):
    rng = np.random.default_rng(seed)
    posts = [jnp.asarray(rng.integers(0, n + 1, (n_pre, fan)), jnp.int16) for n, _ in PROJ]
    ws = [jnp.asarray(rng.uniform(0.1, 1.0, (n_pre, fan)), jnp.float32) for _ in PROJ]
    ws = [jnp.where(p < n, w, 0.0) for p, w, (n, _) in zip(posts, ws, PROJ, strict=True)]
    x = jnp.asarray(rng.random(n_pre) < 0.3, jnp.float32)
    plan, off = [], 0
    for n, d in PROJ:
        plan.append((off, n, d + 1))
        off += (d + 1) * n
    buf = jnp.asarray(rng.normal(size=off + 1), jnp.float32)  # earlier arrivals + padding
    return posts, ws, x, plan, buf


def _ring(posts, ws, x, plan, buf, clock, binary):
    auxs = tuple(
        (p, *map(jnp.int32, (o, d, m)), clock, jnp.int32(buf.shape[0] - 1))
        for p, (o, n, m), (_, d) in zip(posts, plan, PROJ, strict=True)
    )
    fns = tuple(PG.RingTargets(n) for n, _ in PROJ)
    out = PG.scatter_events_into(fns, binary, buf, tuple(ws), x, auxs)
    return out[:-1]  # the padding's slot holds nothing meaningful


def _reference(posts, ws, x, plan, buf, clock):
    """Each projection's arrivals added by `scatter_events` onto its target slot."""
    for p, w, (o, n, m), (_, d) in zip(posts, ws, plan, PROJ, strict=True):
        start = o + ((clock + d) % m) * n
        base = jax.lax.dynamic_slice_in_dim(buf, start, n)
        new = PG.scatter_events((PG.post_targets(),), 16, (base,), (w,), x, ((p,),))[0]
        buf = jax.lax.dynamic_update_slice_in_dim(buf, new, start, 0)
    return buf[:-1]


# two of the four cases in the fast tier (each compiles the search and its JVP, ~1.5 s)
@pytest.mark.parametrize(
    ("delivery", "binary"),
    [
        ("loop", True),
        ("scatter", False),
        pytest.param("loop", False, marks=pytest.mark.slow),
        pytest.param("scatter", True, marks=pytest.mark.slow),
    ],
)
def test_ring_delivery_equals_scatter_events_into_the_slot(delivery, binary, monkeypatch):
    monkeypatch.setattr(PG, "DELIVERY", delivery)
    posts, ws, x, plan, buf = _case()
    ring = jax.jit(lambda b, w, x, c: _ring(posts, w, x, plan, b, c, binary))
    ref = jax.jit(lambda b, w, x, c: _reference(posts, w, x, plan, b, c))
    for clock in (0, 5, 6):  # slots wrap at 4 (delay 3) and 1 (delay 0)
        c = jnp.int32(clock)
        got = ring(buf, ws, x, c)
        np.testing.assert_array_equal(got, ref(buf, ws, x, c))
        assert float(jnp.sum(jnp.abs(got - buf[:-1]))) > 1  # something was delivered
    # derivatives: the dense sum's, as `scatter_events` (tangents of the earlier
    # arrivals, of every weight and of every presynaptic value, spiking or not); the
    # same terms summed in another order (one scatter per projection into the whole
    # buffer against one into its slot): float32 rounding of sums of <= 9 terms ~ 1 µ
    rng = np.random.default_rng(1)
    tangents = (
        jnp.asarray(rng.normal(size=buf.shape), jnp.float32),
        [jnp.asarray(rng.normal(size=w.shape), jnp.float32) for w in ws],
        jnp.asarray(rng.normal(size=x.shape), jnp.float32),
    )
    c = jnp.int32(6)
    _, d_ring = jax.jvp(lambda b, w, x: ring(b, w, x, c), (buf, ws, x), tangents)
    _, d_ref = jax.jvp(lambda b, w, x: ref(b, w, x, c), (buf, ws, x), tangents)
    np.testing.assert_allclose(d_ring, d_ref, rtol=1e-5, atol=1e-5)


def _cell(dspikes):
    ds = DSpikes(g_rise=0.03, g_fall=0.015, duration_rise=1.2, duration_fall=2.4)
    comps = [
        Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        Compartment("prox", c_abs=0.05, gl_abs=0.0025, e_l=-70.0),
        Compartment("dist", c_abs=0.03, gl_abs=0.0015, e_l=-70.0, dspikes=ds if dspikes else None),
    ]
    conns = [("soma", "prox", 0.04), ("prox", "dist", 0.03)]
    return ReducedCell.build(comps, conns, v_th=-50.0, v_reset=-60.0, t_ref=3.0)


def _network(per_synapse=False):
    """40 E and 15 I dendritic cells: E→E at 1.5 ms and E→I at 1 ms (one ring for E),
    I→E at 0.5 ms and I→I at 0 (one ring for I), and E→I again through STP (its own
    ring). `per_synapse`: the same delays given per synapse (arrays of equal values)."""
    k = jax.random.split(jax.random.key(3), 5)
    ampa, gaba = ns.Exponential(tau=2.0, e_rev=0.0), ns.Exponential(tau=6.0, e_rev=-80.0)
    specs = [
        ("E", "E", 40, 40, ampa, 1.5, "prox", None),
        ("E", "I", 40, 15, ampa, 1.0, None, None),
        ("I", "E", 15, 40, gaba, 0.5, None, None),
        ("I", "I", 15, 15, gaba, 0.0, None, None),
        ("E", "I", 40, 15, ampa, 0.3, None, ns.TsodyksMarkram(u0=0.3, tau_d=100.0, tau_f=50.0)),
    ]
    proj = []
    for key, (pre, post, a, b, syn, d, comp, stp) in zip(k, specs, strict=True):
        conn = nn.fixed_probability(key, a, b, 0.3, 0.004)
        delay = jnp.full(conn.post.shape, d) if per_synapse else d
        proj.append(nn.Projection(pre, post, conn, syn, delay, stp, compartment=comp))
    drives = [
        nn.PoissonDrive(p, ampa, rate=40.0, weight=0.006, n_sources=100, compartment="dist")
        for p in ("E", "I")
    ]
    pops = {"E": nn.Population(_cell(True), 40), "I": nn.Population(_cell(False), 15)}
    return nn.Network(pops, proj, drives, dt=0.1)


def test_projections_of_one_presynaptic_vector_share_one_ring():
    net = _network()
    assert net._fused == ((0, 1), (2, 3), (4,))  # E, I, E through its own STP
    z = net.init_discrete()
    # (delay + 1) slots of n_post per projection, one padding slot
    sizes = [16 * 40 + 11 * 15 + 1, 6 * 40 + 1 * 15 + 1, 4 * 15 + 1]
    assert [d.shape for d in z.delays] == [(s,) for s in sizes]
    assert int(z.step) == 0


@pytest.mark.slow  # two network compilations and their gradients (~15 CPU-s)
def test_arrival_rings_equal_the_per_synapse_delay_path():
    """The same network with its delays given per synapse (one search and one ring per
    projection, the path of heterogeneous delays): the same spikes and voltages to the
    last bit, and the same gradient with respect to the weights (the dense sum's
    derivative both ways, terms summed in another order: float32, rtol 1e-4)."""

    def run(net, steps=600):
        return nj.simulate(
            net,
            {"E": jnp.zeros((steps, 1))},
            dt=0.1,
            key=jax.random.key(0),
            solver=nj.solvers.Euler(),
        )

    ring, het = run(_network()), run(_network(per_synapse=True))
    for name in ring.spikes:
        np.testing.assert_array_equal(ring.spikes[name], het.spikes[name])
        assert int(np.sum(ring.spikes[name])) > 10
    for name in ring.v:
        np.testing.assert_array_equal(ring.v[name], het.v[name])

    def loss(ws, per_synapse):
        net = _network(per_synapse)
        for k, w in enumerate(ws):
            net = eqx.tree_at(lambda n, k=k: n.projections[k].connectivity.weight, net, w)
        return jnp.mean(run(net, 200).v["E"])

    ws = [p.connectivity.weight for p in _network().projections]
    g_ring = jax.grad(loss)(ws, False)
    g_het = jax.grad(loss)(ws, True)
    for a, b in zip(g_ring, g_het, strict=True):
        assert float(jnp.max(jnp.abs(a))) > 0
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(b))))
