"""Session-13 probes (round 6) of `fit`/`make_objective` with pytree inputs and
`SaveAt(fn=...)` targets: the one unreadable error found (`docs/numerics.md`, "Probes of
the API (session 13)"). The objective checks shapes by tracing, not running."""

import equinox as eqx
import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax.fitting import make_objective


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_initial_value_is_named(value):
    # was "the initial value of trainable item 0 (nan) is on the boundary of its
    # constraint Unconstrained": NaN is no boundary
    model = eqx.tree_at(lambda m: m.v_rest, nj.LIF(), value)
    with pytest.raises(ValueError, match=r"trainable item 0 \(\.v_rest of LIF\) is (nan|inf)"):
        make_objective(model, jnp.zeros(20), jnp.zeros(20), dt=0.1, trainable=lambda m: m.v_rest)
