"""NONLINEAR blocks solved in INITIAL (`SOLVE name`): Newton's method from the states'
INITIAL values on the block's `~ lhs = rhs` equations (fast tier, no simulation; the
comparison with NEURON is the `nonlinear` case of
validation/nmodl_pointer_events_vs_neuron.py, slow)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

BUFFER = """
NEURON { SUFFIX bufnl  RANGE K, T }
PARAMETER { K = 0.3  T = 2 }
STATE { b  c }
INITIAL {
    b = T  c = 1
    SOLVE eq
}
NONLINEAR eq {
    ~ b*(b + K) = T
    ~ c*c*c = b
}
BREAKPOINT { }
"""


def test_nonlinear_initial_is_the_root():
    """`b (b + K) = T`, `c³ = b`: b = (−K + √(K² + 4T))/2 and c = b^(1/3), per
    compartment with per-compartment parameters (float64 rounding, 1e-14)."""
    with jax.enable_x64(True):
        T = jnp.array([2.0, 0.5, 10.0])
        ch = load_mod(BUFFER, file="bufnl.mod", T=T)
        g = ch.init(jnp.full(3, -65.0), 6.3)
    b = (-0.3 + np.sqrt(0.09 + 4 * np.asarray(T))) / 2
    np.testing.assert_allclose(g.b, b, rtol=1e-14)
    np.testing.assert_allclose(g.c, np.cbrt(b), rtol=1e-14)


def test_nonlinear_refusals():
    # SOLVE of a NONLINEAR block in BREAKPOINT is supported (tests/test_nmodl_corpus10_*),
    # with no METHOD or METHOD newton only
    with pytest.raises(NmodlError, match=r"n\.mod:\d+: SOLVE eq METHOD cnexp is not supported "
                                         "for a NONLINEAR block"):  # fmt: skip
        load_mod(BUFFER.replace("BREAKPOINT { }", "BREAKPOINT { SOLVE eq METHOD cnexp }"),
                 file="n.mod")
    with pytest.raises(NmodlError, match="NONLINEAR eq: 3 equations for the 2 STATEs"):
        load_mod(BUFFER.replace("~ c*c*c = b", "~ c*c*c = b\n ~ b = c"), file="n.mod")
