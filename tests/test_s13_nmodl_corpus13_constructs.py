"""Constructs found in the sixth corpus of published `.mod` files (session 13).

Every `.mod` text here is written for this test (no published file is copied). Against
NEURON compiling the published files: `validation/nmodl_corpus13_vs_neuron.py`,
`tests/test_nmodl_corpus13_neuron.py` (slow).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

# an ASSIGNED RANGE reversal potential that only hoc sets (the pattern of cnmodel's
# ihvcn.mod, `eh (mV) : must be explicitly def. in hoc`): 0 mV until set
HOCSET = """
NEURON { SUFFIX hocset NONSPECIFIC_CURRENT i RANGE g, eh, gx }
PARAMETER { g = 0.001 (S/cm2) }
ASSIGNED { i (mA/cm2) eh (mV) gx (S/cm2) }
BREAKPOINT { gx = g  i = gx*(v - eh) }
"""


@pytest.mark.slow  # ~2 s (two loads with sympy, a current evaluation)
def test_an_assigned_range_variable_no_statement_assigns_is_set_like_a_parameter():
    """NEURON: `eh_hocset = -43` from hoc; the file never assigns eh. load_mod(eh=...)
    gives the same current g (v − eh); without it eh is 0, as NEURON's."""
    with jax.enable_x64(True):
        for kw, eh in (({"eh": -43.0}, -43.0), ({}, 0.0)):
            mech = load_mod(HOCSET, file="hocset.mod", **kw)
            g, _ = mech.init_ions(jnp.array([-65.0]), 34.0, {})
            # µA/cm² (×1e3 the file's mA/cm²); rounding of one product
            np.testing.assert_allclose(float(mech.current(jnp.array([-65.0]), g)[0]),
                                       1e3 * 0.001 * (-65.0 - eh), rtol=1e-14)  # fmt: skip


@pytest.mark.parametrize(
    "name, why",
    [
        ("gx", r"the file assigns it \(line 5\)"),
        ("i", "it is a current"),
    ],
)
def test_an_assigned_variable_the_file_writes_is_refused_as_a_parameter(name, why):
    with pytest.raises(NmodlError, match=rf"^hocset\.mod:4: {name} is ASSIGNED.*{why}"):
        load_mod(HOCSET, file="hocset.mod", **{name: 1.0})


def test_a_derivative_block_called_as_a_function_is_refused_naming_the_line():
    """cnmodel's adex.mod calls `states()` from BREAKPOINT: nocmodl runs the block's
    integration step at each call (also from the slope evaluation); refused."""
    text = """
NEURON { SUFFIX blkcall NONSPECIFIC_CURRENT i }
ASSIGNED { i (mA/cm2) }
STATE { w }
BREAKPOINT {
    SOLVE states METHOD cnexp
    if (w > 1) { states() }
    i = 0
}
DERIVATIVE states { w' = -w }
"""
    with pytest.raises(NmodlError, match=r"^blkcall\.mod:7: states\(\) calls the DERIVATIVE "
                       r"block states like a function"):  # fmt: skip
        load_mod(text, file="blkcall.mod")


def test_solve_of_a_procedure_with_a_method_is_refused_as_nocmodl_does():
    """cnmodel's nacncoop.mod: `SOLVE states METHOD cnexp` of a PROCEDURE (NEURON 9:
    "Method derivimplicit can't be used with Block states")."""
    text = """
NEURON { SUFFIX procm NONSPECIFIC_CURRENT i }
ASSIGNED { i (mA/cm2) }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    i = 0
}
PROCEDURE states() { m = m + 0.1*(1 - m) }
"""
    with pytest.raises(NmodlError, match=r"^procm\.mod:6: SOLVE states METHOD cnexp: states "
                       r"is a PROCEDURE"):  # fmt: skip
        load_mod(text, file="procm.mod")


# a linear KINETIC scheme whose block ends by copying a state (cadifeb4.mod's `cai =
# ca[0]`; a PARAMETER as the other species, as its excess buffer): scopmath's `sparse`
# evaluates the block once more at the solution, so the copy is the new value, which
# BREAKPOINT's current reads
KCOPY = """
NEURON { SUFFIX kcopy NONSPECIFIC_CURRENT i RANGE y }
PARAMETER { kf = 0.5 (/ms) sinf = 2 }
ASSIGNED { i (mA/cm2) y }
STATE { s }
INITIAL { s = 0 y = s }
BREAKPOINT {
    SOLVE kin METHOD sparse
    i = 1e-3*y
}
KINETIC kin {
    ~ s <-> sinf (kf, kf)
    y = s
}
"""


@pytest.mark.slow  # ~3 s (load, first JAX compilations)
def test_a_value_a_linear_sparse_scheme_assigns_is_the_one_at_the_new_states():
    """Backward Euler of s' = kf (sinf − s) from 0: s₁ = dt·kf·sinf/(1 + dt·kf); y = s₁
    after the step (the old code left y = s₀ = 0, a step behind)."""
    with jax.enable_x64(True):
        mech = load_mod(KCOPY, file="kcopy.mod")
        g, _ = mech.init_ions(jnp.array([-65.0]), 34.0, {})
        dt, kf, sinf = 0.025, 0.5, 2.0
        s1 = dt * kf * sinf / (1 + dt * kf)
        g, _ = mech.update_ions(jnp.array([-65.0]), g, dt, 34.0, {})
        np.testing.assert_allclose(float(g.s[0]), s1, rtol=1e-14)  # one linear solve
        np.testing.assert_allclose(float(mech.current(jnp.array([-65.0]), g)[0]),
                                   1e3 * 1e-3 * s1, rtol=1e-14)  # fmt: skip


# a nonlinear KINETIC scheme (binding a + b <-> c): scopmath's `sparse` iterates Newton
# only while the sum of |Δstate| exceeds CONVERGE = 1e-6 (NEURON book's cadifpmp.mod:
# one iteration a step)
BIND = """
NEURON { SUFFIX bind NONSPECIFIC_CURRENT i RANGE a0 }
PARAMETER { kf = 2 (/ms) kb = 0.5 (/ms) a0 = 1e-4 }
ASSIGNED { i (mA/cm2) }
STATE { a b c }
INITIAL { a = a0 b = a0 c = 0 }
BREAKPOINT {
    SOLVE kin METHOD sparse
    i = 0
}
KINETIC kin { ~ a + b <-> c (kf, kb) }
"""


def _bind_newton(x0, dt, kf, kb, iterations):
    """Newton on backward Euler x = x0 + dt f(x), f = (−r, −r, r), r = kf a b − kb c."""
    x = np.array(x0, dtype=np.float64)
    for _ in range(iterations):
        a, b, c = x
        r = kf * a * b - kb * c
        res = x - x0 - dt * np.array([-r, -r, r])
        dr = np.array([kf * b, kf * a, -kb])  # ∂r/∂(a, b, c)
        jac = np.eye(3) - dt * np.outer([-1.0, -1.0, 1.0], dr)
        x = x - np.linalg.solve(jac, res)
    return x


@pytest.mark.slow  # ~4 s (two loads, first JAX compilations)
@pytest.mark.parametrize("a0, iterations", [(1e-4, 1), (5.0, 4)])
def test_a_nonlinear_sparse_scheme_stops_newton_as_scopmath_does(a0, iterations):
    """a0 = 1e-4: the first Newton step moves the states by ~1e-9 ≤ 1e-6, so NEURON
    stops after it (the linearised step, not the root); a0 = 5: steps of
    ~0.3, so NEURON iterates on (4 iterations here reach the root to rounding)."""
    dt = 0.025
    with jax.enable_x64(True):
        mech = load_mod(BIND, file="bind.mod", a0=a0)
        g, _ = mech.init_ions(jnp.array([-65.0]), 34.0, {})
        g, _ = mech.update_ions(jnp.array([-65.0]), g, dt, 34.0, {})
        got = np.array([float(g.a[0]), float(g.b[0]), float(g.c[0])])
    want = _bind_newton([a0, a0, 0.0], dt, 2.0, 0.5, iterations)
    root = _bind_newton([a0, a0, 0.0], dt, 2.0, 0.5, 8)
    # rounding of a 3×3 solve at these magnitudes
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-25)
    if iterations == 1:  # the rule matters here: one iteration is not the root
        assert abs(want[2] - root[2]) > 1e3 * abs(got[2] - want[2])


# STEADYSTATE of a linear KINETIC scheme: scopmath's `_ss_sparse` makes one backward-Euler
# step of 1e9 ms (its "iterate linear solution" branch), not two; with rates ~1e-9 /ms
# one and two steps differ visibly (the 8-state Na of corpus 12 differed by 1.1e-7 mV)
SSLIN = """
NEURON { SUFFIX sslin NONSPECIFIC_CURRENT i }
PARAMETER { a = 1e-9 (/ms) b = 2e-9 (/ms) }
ASSIGNED { i (mA/cm2) }
STATE { c o }
INITIAL {
    c = 1
    o = 0
    SOLVE kin STEADYSTATE sparse
}
BREAKPOINT {
    SOLVE kin METHOD sparse
    i = 0
}
KINETIC kin {
    ~ c <-> o (a, b)
    CONSERVE c + o = 1
}
"""


@pytest.mark.slow  # ~3 s (load, first JAX compilations)
def test_steadystate_of_a_linear_scheme_is_one_backward_euler_step():
    """o₁ = dt·a/(1 + dt·(a + b)) with dt = 1e9 ms: 0.25 (two steps would give 0.3125;
    the root a/(a + b) = 1/3)."""
    with jax.enable_x64(True):
        mech = load_mod(SSLIN, file="sslin.mod")
        g, _ = mech.init_ions(jnp.array([-65.0]), 34.0, {})
    dt, a, b = 1e9, 1e-9, 2e-9
    np.testing.assert_allclose(float(g.o[0]), dt * a / (1 + dt * (a + b)), rtol=1e-12)
    np.testing.assert_allclose(float(g.c[0]), 1 - dt * a / (1 + dt * (a + b)), rtol=1e-12)


@pytest.mark.slow  # ~6 s (two loads, gradient compilations)
@pytest.mark.parametrize("a0", [1e-4, 5.0])
def test_gradient_through_the_scopmath_sparse_rule_matches_finite_differences(a0):
    """d c₁/d kf after one step, the later Newton iterations masked (a0 = 1e-4) or not
    (a0 = 5): reverse mode against a central difference (h = 1e-6: truncation ~h²·c''' ≈
    1e-12 relative, rounding ~ε/h ≈ 1e-10; measured 3.3e-10), bound 1e-8."""
    import dataclasses

    with jax.enable_x64(True):
        mech = load_mod(BIND, file="bind.mod", a0=a0)

        def c1(kf):
            m = dataclasses.replace(mech, kf=kf)
            g, _ = m.init_ions(jnp.array([-65.0]), 34.0, {})
            g, _ = m.update_ions(jnp.array([-65.0]), g, 0.025, 34.0, {})
            return g.c[0]

        grad = float(jax.grad(c1)(2.0))
        h = 1e-6
        fd = float((c1(2.0 + h) - c1(2.0 - h)) / (2 * h))
    assert np.isfinite(grad)
    np.testing.assert_allclose(grad, fd, rtol=1e-8)
