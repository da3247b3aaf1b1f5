"""Constructs found in the seventh corpus of published `.mod` files (session 14).

Every `.mod` text here is written for this test (no published file is copied). Against
NEURON compiling the published files: `validation/nmodl_corpus14_vs_neuron.py`,
`tests/test_nmodl_corpus14_neuron.py` (slow).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

# a pool whose rate reads a value the DERIVATIVE block computes above the equation,
# nonlinear in the state (the pattern of a Michaelis-Menten pump term computed into an
# ASSIGNED, then `x' = ... + pump*p + (1 - x)/tau`): linear in x as written
HELD = """
NEURON { SUFFIX held RANGE p }
PARAMETER { tau = 10 (ms)  k = 0.5  x0 = 0.4 }
ASSIGNED { p }
STATE { x }
INITIAL { x = x0 }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s {
    p = -k*x*x/(x + 0.2)
    x' = p + (1 - x)/tau
}
"""


def test_cnexp_reading_a_value_computed_above_the_equation_loads():
    """The build-time check now sees the equation as nocmodl steps it (p held): the file
    loads (it was refused as "METHOD cnexp needs x' linear in x")."""
    assert load_mod(HELD, file="held.mod")._spec.suffix == "held"


@pytest.mark.slow  # ~3-10 s on the loaded VM (a load with sympy, one step compiled)
def test_cnexp_holds_what_the_block_computed_above_the_equation():
    """nocmodl's cnexp reads `x' = p + (1 - x)/tau` as a + b·x with b = −1/tau and p (an
    ASSIGNED computed above it) a value of the step's start: x₁ = x₀ + (1 − e^{b·dt})·
    (−a/b − x₀), a = p(x₀) + 1/tau (the generated C of such a file, NEURON 9). It was
    refused as "not linear in x" (the check ran the whole block). One step against that
    closed form: float64 rounding of a few operations."""
    with jax.enable_x64(True):
        mech = load_mod(HELD, file="held.mod")
        v = jnp.array([-65.0])
        g, _ = mech.init_ions(v, 34.0, {})
        dt, tau, k, x0 = 0.025, 10.0, 0.5, 0.4
        g1 = mech.update(v, g, dt, 34.0)
        p = -k * x0 * x0 / (x0 + 0.2)
        b, a = -1.0 / tau, p + 1.0 / tau
        want = x0 + (1.0 - np.exp(b * dt)) * (-a / b - x0)
        np.testing.assert_allclose(float(g1.x[0]), want, rtol=1e-14)


def test_cnexp_of_an_equation_nonlinear_in_its_state_is_refused_naming_the_line():
    """`x' = -x*x` under cnexp: nocmodl compiles it with the linearised formula (a =
    f(0), b = ∂f/∂x at x), which neurojax does not reproduce: a ValueError naming file,
    line and what to do (it said "NEURON refuses it too": it does not)."""
    text = """
NEURON { SUFFIX quad }
STATE { x }
INITIAL { x = 1 }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { x' = -x*x }
"""
    with pytest.raises(NmodlError, match=r"^quad\.mod:6: METHOD cnexp needs x' linear in x "
                       r"\(nocmodl compiles it.*use METHOD derivimplicit"):  # fmt: skip
        load_mod(text, file="quad.mod")
