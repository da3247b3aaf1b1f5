"""The ordered writes of a network step's carried arrays (`network._network.ORDER`,
docs/dendritic.md "Performance"): the synapse and drive states are made to depend on the
new neuron states through a scalar that is always False (`_never`, `_after`), so that
XLA:CPU need not copy them at the start of every step. Nothing may change but the order:
the same values and tangents to the last bit, fewer copies in the compiled step."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_network_step import network, run

import neurojax as nj
from neurojax.network import _network
from neurojax.network._network import _after, _never


def test_never_is_false_for_every_number_and_after_changes_nothing():
    """`x > inf` is False for inf, NaN, the largest float64 and int32, so `_after` keeps
    its operands bit for bit (negative zero and NaN payloads included), tangents too."""
    leaves = (
        jnp.array([jnp.inf, 1.0]),
        jnp.array([jnp.nan]),
        jnp.array([-jnp.inf]),
        jnp.array([np.iinfo(np.int32).max], jnp.int32),
        jnp.array([True]),
        jnp.zeros((0,)),  # empty: skipped
    )
    assert not bool(_never(*leaves))
    with jax.enable_x64(True):
        assert not bool(_never(jnp.array([np.finfo(np.float64).max])))
    x = jnp.array([-0.0, jnp.nan, 1e-45, -3.5], jnp.float32)
    y = _after(_never(x), (x, jnp.arange(3), None))
    np.testing.assert_array_equal(np.asarray(y[0]).view(np.uint32), np.asarray(x).view(np.uint32))
    np.testing.assert_array_equal(y[1], jnp.arange(3))
    assert y[2] is None

    def f(a):
        return _after(_never(a), a * a)

    a = jnp.array([1.0, -2.0, 3.0])
    _, tangent = jax.jvp(f, (a,), (jnp.ones(3),))
    np.testing.assert_array_equal(tangent, 2 * a)


def _step_copies(net, steps=100):
    """Copies of arrays of ≥ 10 elements in the compiled time loop's largest body."""
    fn = jax.jit(
        lambda net: (
            nj.simulate(
                net,
                {"E": jnp.zeros((steps, 1))},
                dt=0.1,
                key=jax.random.key(0),
                solver=nj.solvers.Euler(),
                saveat=nj.SaveAt(every=steps, vars=()),
            ).spikes
        )
    )
    text = fn.lower(net).compile().as_text()
    bodies = re.split(r"\n(?=\S)", text)
    body = max(bodies, key=lambda b: b.count("\n") if "region" in b.split("\n")[0] else 0)
    return len(re.findall(r"= [fsu]\d+\[\d{2,}\]\S* copy\(", body))


@pytest.mark.slow  # four network compilations (~15 CPU-s)
def test_ordered_writes_give_the_same_run_bit_for_bit_with_fewer_copies(monkeypatch):
    """`ORDER = False` (the former step): the same spikes, dSpikes and voltages to the last
    bit, and the ordered step's compiled loop body copies fewer carried arrays (14 → 11 in
    bench_dendritic.py's network; here the same kind of network, smaller)."""
    ordered, n_ordered = run(network()), _step_copies(network())
    monkeypatch.setattr(_network, "ORDER", False)
    former, n_former = run(network()), _step_copies(network())
    for name in ("E", "I", "E.dspikes"):
        np.testing.assert_array_equal(ordered.spikes[name], former.spikes[name])
    for name in ("E", "I"):
        np.testing.assert_array_equal(ordered.v[name], former.v[name])
    assert int(np.sum(ordered.spikes["E"])) > 0 and int(np.sum(ordered.spikes["I"])) > 0
    assert n_ordered < n_former, (n_ordered, n_former)
