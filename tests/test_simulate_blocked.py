"""`simulate`'s blocked forward run of large point-neuron populations (loop tiling,
`neurojax._simulate._population_block`): the same results bit for bit as one loop, and
used only where it cannot change a result."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import _simulate as S

N, STEPS, DT = 101, 40, 0.1  # 101: not a multiple of 16, so the last block overlaps


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 neurons from a 101-neuron population (the defaults block only
    populations of ~10⁵ bytes and more, too costly for a fast test)."""
    # LIF with a per-neuron input: 24 B per neuron (v, refractory twice; v_rest; input)
    monkeypatch.setattr(S, "BLOCK_BYTES", 16 * 24)
    monkeypatch.setattr(S, "BLOCK_MIN", 4)
    monkeypatch.setattr(S, "BLOCK_ABOVE", 0)
    monkeypatch.setattr(S, "BLOCK_MIN_EVERY", 1)


def _lif():
    return nj.LIF(v_rest=jnp.linspace(-65.0, -50.0, N), t_ref=1.0)


def _inputs():
    # a per-neuron input (n_steps, N) besides the per-neuron v_rest: both are sliced
    ramp = jnp.linspace(2.0, 8.0, N)[None, :] * jnp.ones((STEPS, 1))
    return ramp + 0.5 * jnp.sin(jnp.arange(STEPS))[:, None]


def _block(model, inputs, saveat=nj.SaveAt(), key=None, progress=nj.NoProgress(), diff=False):
    state = S._model_state(model, model.batch_shape(S._one_step(inputs)))
    return S._population_block(
        model, nj.ExponentialEuler(), inputs, state, key, saveat, progress, diff
    )


def test_blocked_run_equals_one_loop(small_blocks, monkeypatch):
    model, inputs = _lif(), _inputs()
    saveat = nj.SaveAt(every=4, spike_dtype=jnp.int8)
    assert _block(model, inputs, saveat) == 16  # the fixture's blocks are used
    blocked = nj.simulate(model, inputs, dt=DT, saveat=saveat)
    monkeypatch.setattr(S, "BLOCK_ABOVE", 1 << 60)  # now one loop
    assert _block(model, inputs, saveat) is None
    one = nj.simulate(model, inputs, dt=DT, saveat=saveat)
    assert int(one.spikes.sum()) > N  # the comparison covers spikes and resets
    # bit for bit: each neuron's arithmetic is the same in a block as in the whole loop
    for a, b in zip(jax.tree.leaves(blocked), jax.tree.leaves(one), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_blocked_only_where_it_cannot_change_a_result(small_blocks, monkeypatch):
    model, inputs = _lif(), _inputs()
    assert _block(model, inputs) == 16
    # ... and only where it pays: not when most steps are kept
    monkeypatch.setattr(S, "BLOCK_MIN_EVERY", 10)
    assert _block(model, inputs, saveat=nj.SaveAt(every=5)) is None
    assert _block(model, inputs, saveat=nj.SaveAt(every=10)) == 16
    monkeypatch.setattr(S, "BLOCK_MIN_EVERY", 1)
    # random drives (a block would draw other numbers), a reducing SaveAt.fn, a
    # derivative being taken, a progress meter: one loop
    assert _block(model, inputs, key=jax.random.key(0)) is None
    assert _block(model, inputs, saveat=nj.SaveAt(fn=jnp.mean)) is None
    assert _block(model, inputs, diff=True) is None
    assert _block(model, inputs, progress=nj.TextProgress()) is None
    # a 2-D population, and a parameter that is neither shared nor per neuron
    assert _block(nj.LIF(v_rest=jnp.zeros((N, 2)) - 65.0), jnp.ones((STEPS, N, 2))) is None
    assert _block(nj.LIF(tau=jnp.full((1,), 10.0)), jnp.ones((STEPS, N))) is None
    # networks (Elementwise, but coupled through their events) and cells declare no
    # population_shape, which the blocked run requires
    assert not hasattr(nj.network.Network, "population_shape")
    assert not hasattr(nj.cable.Cell, "population_shape")


def test_blocked_run_under_jit_and_shared_inputs(small_blocks):
    # inputs shared by every neuron (n_steps,), the benchmark's layout; inside jit
    model = _lif()
    inputs = jnp.full((STEPS,), 1.8)
    run = jax.jit(lambda m, x: nj.simulate(m, x, dt=DT, saveat=nj.SaveAt(every=10)).v)
    v = run(model, inputs)
    assert v.shape == (STEPS // 10, N)
    assert np.isfinite(np.asarray(v)).all()
    # a neuron simulated alone is the same neuron in the blocked population
    k = 57
    alone = nj.simulate(nj.LIF(v_rest=model.v_rest[k], t_ref=1.0), inputs, dt=DT)
    np.testing.assert_array_equal(np.asarray(v[:, k]), np.asarray(alone.v[9::10]))


# slow: two compilations of a 3·10⁴-neuron run; the fast tier covers the blocked path
# (overlapping last block included) in test_blocked_run_equals_one_loop
@pytest.mark.slow
def test_default_blocks_on_a_large_population(monkeypatch):
    # the library's own settings: 3·10⁴ LIF neurons (600 kB of per-neuron arrays, above
    # BLOCK_ABOVE) in blocks of 1638, the last one overlapping; bit for bit as one loop
    n = 30_000
    model = nj.LIF(v_rest=jnp.linspace(-65.0, -45.0, n))
    inputs = jnp.full((20,), 1.6)
    saveat = nj.SaveAt(every=10)
    assert _block(model, inputs, saveat) == S.BLOCK_BYTES // 20
    blocked = nj.simulate(model, inputs, dt=DT, saveat=saveat)
    monkeypatch.setattr(S, "BLOCK_ABOVE", 1 << 60)
    one = nj.simulate(model, inputs, dt=DT, saveat=saveat)
    assert int(one.spikes.sum()) > 0
    for a, b in zip(jax.tree.leaves(blocked), jax.tree.leaves(one), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# slow: a compilation pair per model; the fast tier covers the blocked path with the LIF
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["HodgkinHuxley", "ReducedHH", "EIF", "AdEx", "Izhikevich", "QIF", "MorrisLecar",
     "INaPIK", "FitzHughNagumo"],
)  # fmt: skip
def test_every_point_neuron_blocked_equals_one_loop(name, small_blocks, monkeypatch):
    model = getattr(nj, name)()
    n = 50  # several blocks of 8 (below), the last one overlapping
    monkeypatch.setattr(S, "BLOCK_BYTES", 1)
    monkeypatch.setattr(S, "BLOCK_MIN", 8)
    inputs = jnp.linspace(0.0, 1.0, n)[None, :] * jnp.linspace(0.5, 15.0, 40)[:, None]
    saveat = nj.SaveAt(every=10)
    assert _block(model, inputs, saveat) == 8
    blocked = nj.simulate(model, inputs, dt=0.05, saveat=saveat)
    monkeypatch.setattr(S, "BLOCK_ABOVE", 1 << 60)
    one = nj.simulate(model, inputs, dt=0.05, saveat=saveat)
    for a, b in zip(jax.tree.leaves(blocked), jax.tree.leaves(one), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
