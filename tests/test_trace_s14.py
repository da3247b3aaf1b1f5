"""Session 14 (helper A): what makes a gradient's tracing shorter, checked for values.

- `_simulate._with_tangents` gives the time loop's initial carry tangents that JAX cannot
  prove zero, so that `lax.scan` differentiates the step once (its carry fixpoint is met
  by the first pass): values unchanged, tangents of the tied leaves exactly zero, and no
  NaN from an infinite cotangent (a select, not `0·ȧ`);
- `simulate` traces the model's `init_state` once (`state_template` goes through the
  same cached jit as the run);
- `_gather`'s gather plans are made once per map and direction and give the same values
  with tables cut or whole (`_WIDE_ROWS`), through the dense matrix check of
  `test_gather.py` for the rest.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import _gather
from neurojax._gather import StaticMap, apply
from neurojax._simulate import _with_tangents


def test_with_tangents_keeps_values_and_zero_tangents():
    y = {"v": jnp.array([-65.0, -64.0]), "n": jnp.array([3], jnp.int32), "none": None}

    def f(p):
        out = _with_tangents(y, (p,))
        assert out["n"] is y["n"] and out["none"] is None  # integers and None untouched
        return out["v"]

    v, dv = jax.jvp(f, (jnp.asarray(2.0),), (jnp.asarray(1.0),))
    np.testing.assert_array_equal(v, y["v"])  # the same bits
    np.testing.assert_array_equal(dv, 0.0)  # its tangent exactly zero, but a tangent
    # an infinite cotangent gives a zero gradient (0·inf would give NaN)
    g = jax.grad(lambda p: jnp.sum(f(p) * jnp.inf))(jnp.asarray(2.0))
    assert g == 0.0
    # not differentiated: returned as it is
    assert _with_tangents(y, (jnp.asarray(2.0),)) is y


@pytest.mark.slow  # ~5 s idle (three compilations), 24 s at load 15
def test_gradient_with_state_independent_of_parameters_matches_differences():
    """A point neuron's initial state (its rest) does not depend on the injected
    current's scale, so the loop's carry starts without tangents: the gradient (now one
    pass of the step's derivative) against central differences. Float64: the difference
    quotient's error at h = 1e-4 is ~h²·f''' ≈ 1e-8 relative, well inside 1e-6."""
    with jax.enable_x64(True):
        model = nj.HodgkinHuxley()
        state0 = model.init_state(())
        i = jnp.full((400,), 1.0)

        def loss(scale):
            sol = nj.simulate(model, i * scale, dt=0.025, state0=state0)
            return jnp.mean(sol.states.v)

        g = jax.grad(loss)(jnp.asarray(5.0))
        h = 1e-4
        fd = (loss(5.0 + h) - loss(5.0 - h)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_init_state_traced_once_per_run(monkeypatch):
    model = nj.HodgkinHuxley()
    calls = []
    original = type(model).init_state

    def counted(self, *a, **k):
        calls.append(1)
        return original(self, *a, **k)

    monkeypatch.setattr(type(model), "init_state", counted)
    i = jnp.zeros((20,))
    jax.jit(lambda m: nj.simulate(m, i, dt=0.025).states.v).trace(model)
    assert len(calls) == 1


def test_gather_plans_made_once_and_tables_cut_or_whole_agree(monkeypatch):
    # a sum over children with one wide row (the soma's 8 children): cut by _split
    parent = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
    m = StaticMap(parent, np.arange(parent.size), 5, parent.size)
    x = jnp.arange(parent.size, dtype=jnp.float32) + 0.5
    f = jax.jit(lambda x: apply(m, x))
    want = np.zeros(5, np.float32)
    np.add.at(want, parent, np.asarray(x))
    got_cut = f(x)
    plans = dict(m._plans)
    assert set(plans) == {("forward", True), ("backward", True)}
    jax.jit(lambda x: apply(m, x) * 2.0)(x)  # another trace: the same plan objects
    assert all(m._plans[k] is plans[k] for k in plans)
    monkeypatch.setattr(_gather, "_WIDE_ROWS", False)
    got_whole = jax.jit(lambda x: apply(m, x) + 0.0)(x)
    assert ("forward", False) in m._plans
    # integers and halves: every sum exact in float32, whichever the order
    np.testing.assert_array_equal(got_cut, want)
    np.testing.assert_array_equal(got_whole, want)


def test_with_tangents_anchor_skips_empty_leaves():
    y = {"v": jnp.array([-65.0])}

    def f(empty, p):
        return _with_tangents(y, (empty, p))["v"]

    # the empty differentiated leaf cannot give a value: the next one is used
    out, dv = jax.jvp(f, (jnp.zeros((0,)), jnp.asarray(1.0)), (jnp.zeros((0,)), jnp.asarray(1.0)))
    np.testing.assert_array_equal(out, y["v"])
    np.testing.assert_array_equal(dv, 0.0)
