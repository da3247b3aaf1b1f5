"""Session 15's review of the merged library changes: what it found, fixed.

- `error_if_outside` (the traced parameter checks, one test per dtype since session 15)
  cast infinite domain bounds to an integer parameter's dtype (INT_MIN): valid traced
  integer values were refused;
- a `Cell` already prepared for the time loop (`prepare_loop()`: nodes in chain-block
  order) simulated again had its state converted twice (recordings of other nodes): now
  refused by name;
- the inverse-CDF Poisson draw of an empty shape raised a reduction error.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax._model import error_if_outside
from neurojax.cable import HH as CableHH
from neurojax.cable import Branch, Cell, Morphology
from neurojax.network._projection import poisson_counts


def test_integer_parameter_values_are_checked_as_numbers():
    m = nj.LIF()
    for name, value in (("tau", 10), ("v_rest", -65), ("t_ref", 0)):  # each in its domain
        mi = eqx.tree_at(lambda m, n=name: getattr(m, n), m, jnp.asarray(value, jnp.int32))
        out = jax.jit(lambda m, n=name: error_if_outside(m, jnp.zeros(()), (n,)))(mi)
        assert float(out) == 0.0
    bad = eqx.tree_at(lambda m: m.tau, m, jnp.asarray(-1, jnp.int32))
    with pytest.raises(Exception, match="tau"):  # outside (0, inf): still refused
        jax.block_until_ready(jax.jit(lambda m: error_if_outside(m, jnp.zeros(()), ("tau",)))(bad))


def test_a_prepared_cell_is_refused_by_simulate():
    spec = [Branch(20.0, 20.0, nseg=3)]
    spec += [Branch(100.0, 1.0, parent=(i - 1) // 2, nseg=3) for i in range(1, 7)]
    cell = Cell(Morphology(spec), [(CableHH(), None)], clamps=[(0, 0.5)])
    assert cell.geometry.loop is not None  # this tree runs its loop in block order
    prepared = cell.prepare_loop()
    with pytest.raises(ValueError, match="simulate the Cell you built"):
        nj.simulate(prepared, jnp.zeros((4, 1)), dt=0.025)


def test_poisson_counts_of_an_empty_shape():
    out = poisson_counts(jax.random.PRNGKey(0), 0.5, (0,))
    assert out.shape == (0,)
    np.testing.assert_array_equal(out, np.zeros((0,), out.dtype))
