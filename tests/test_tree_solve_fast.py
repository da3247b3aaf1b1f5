"""Every schedule of the tree solve (`tree_solve(..., method=...)`) against a dense solve:
values, the transposed solve (reverse mode) and forward mode, float32 and float64, on
random trees, a single compartment and a long unbranched cable; batched and under vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_cable_tree_solve import dense, random_system, random_tree

from neurojax.cable import TreeTopology, tree_solve
from neurojax.cable._tree_solve import METHODS, default_method

# (n, branchy): one compartment, a short chain, a star, a long unbranched cable (the
# worst case of the `levels` schedule: one compartment per level), random trees
TREES = [(1, 0.0), (2, 0.0), (9, 1.0), (400, 0.0), (150, 0.3), (300, 0.05)]
EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}


def _system(n, branchy, seed):
    rng = np.random.default_rng(seed)
    parent = random_tree(rng, n, branchy)
    d, a, b, rhs = random_system(rng, parent)
    return parent, d, a, b, rhs


def _tol(m, dtype):
    # Backward-stable elimination (no pivoting needed: diagonally dominant): the relative
    # error of x is ≲ cond(M) · (a small multiple of) eps; 20 covers the growth constant
    # measured on these systems (~2–5) with room.
    return 20 * np.linalg.cond(m) * EPS[dtype]


def _rel(x, y):
    return np.linalg.norm(np.asarray(x, np.float64) - y) / np.linalg.norm(y)


# fast tier: every tree and method in float32 (the default precision) and the random
# branched tree in float64 too; slow tier: the other trees in float64
MATRIX = [
    pytest.param(
        n,
        branchy,
        method,
        dtype,
        # "branches" on these random trees: mostly its fallback to "hines" (many groups);
        # tests/test_tree_solve_branches.py exercises it on cable-like trees, fast
        marks=[]
        if (dtype == np.float32 or (n, branchy) == (150, 0.3)) and method != "branches"
        else [pytest.mark.slow],
        id=f"{n}-{branchy}-{method}-{dtype.__name__}",
    )
    for n, branchy in TREES
    for method in METHODS
    for dtype in (np.float32, np.float64)
]


# "branches" on random trees falls back to "hines" (many groups) or runs it (batches):
# slow tier here; tests/test_tree_solve_branches.py covers it on cable-like trees
_METHODS_FAST_OR_SLOW = [
    pytest.param(m, marks=[pytest.mark.slow] if m == "branches" else []) for m in METHODS
]


@pytest.mark.parametrize("n,branchy,method,dtype", MATRIX)
def test_solve_and_transpose_match_dense(n, branchy, method, dtype):
    parent, d, a, b, rhs = _system(n, branchy, n)
    m = dense(parent, d, a, b)
    topo = TreeTopology(parent)
    w = np.random.default_rng(n + 1).normal(size=n)
    with jax.enable_x64(dtype == np.float64):
        args = tuple(jnp.asarray(z, dtype) for z in (d, a, b, rhs))

        def loss(d, a, b, rhs):
            return jnp.sum(jnp.asarray(w, dtype) * tree_solve(topo, d, a, b, rhs, method=method))

        x = jax.jit(lambda *z: tree_solve(topo, *z, method=method))(*args)
        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(*args)
    assert x.dtype == dtype and all(g.dtype == dtype for g in grads)
    x_ref = np.linalg.solve(m, rhs)
    tol = _tol(m, dtype)
    assert _rel(x, x_ref) <= tol
    # reverse mode: λ = M⁻ᵀ w is the cotangent of rhs; dL/dM = −λ xᵀ on the nonzeros
    lam = np.linalg.solve(m.T, w)
    assert _rel(grads[3], lam) <= tol
    dm = -np.outer(lam, x_ref)
    i = np.arange(1, n)
    expect_d = np.diag(dm)
    expect_a = np.concatenate([[0.0], dm[parent[i], i]])  # a[i] = M[parent[i], i]
    expect_b = np.concatenate([[0.0], dm[i, parent[i]]])  # b[i] = M[i, parent[i]]
    scale = np.linalg.norm(lam) * np.linalg.norm(x_ref)  # |dM| ≤ |λ||x|: an absolute scale
    for got, want in ((grads[0], expect_d), (grads[1], expect_a), (grads[2], expect_b)):
        assert np.linalg.norm(np.asarray(got, np.float64) - want) <= 2 * tol * scale


@pytest.mark.parametrize("method", _METHODS_FAST_OR_SLOW)
def test_forward_mode_matches_dense(method, x64):
    parent, d, a, b, rhs = _system(60, 0.3, 7)
    topo = TreeTopology(parent)
    m = dense(parent, d, a, b)
    d, a, b, rhs = map(jnp.asarray, (d, a, b, rhs))
    jac = jax.jit(jax.jacfwd(lambda r: tree_solve(topo, d, a, b, r, method=method)))(rhs)
    # float64; the Jacobian w.r.t. rhs is M⁻¹
    np.testing.assert_allclose(jac, np.linalg.inv(m), atol=_tol(m, np.float64))


@pytest.mark.parametrize("method", _METHODS_FAST_OR_SLOW)
def test_batched_and_vmapped(method, x64):
    """Leading batch axes and vmap give each cell's own solve (the batch rides along as a
    trailing axis inside; vmap batches the compiled loop)."""
    rng = np.random.default_rng(4)
    parent = random_tree(rng, 80, 0.2)
    topo = TreeTopology(parent)
    systems = [random_system(rng, parent) for _ in range(3)]
    d, a, b, rhs = (jnp.asarray(np.stack(z)) for z in zip(*systems, strict=True))
    batched = tree_solve(topo, d, a, b, rhs, method=method)
    mapped = jax.vmap(lambda *z: tree_solve(topo, *z, method=method))(d, a, b, rhs)
    # a shared a, b (the cable's axial couplings) broadcast against per-cell d, rhs
    shared = tree_solve(topo, d, a[0], b[0], rhs, method=method)
    for k in range(3):
        m = dense(parent, d[k], a[k], b[k])
        want = np.linalg.solve(m, rhs[k])
        tol = _tol(m, np.float64)
        assert _rel(batched[k], want) <= tol
        assert _rel(mapped[k], want) <= tol
        want0 = np.linalg.solve(dense(parent, d[k], a[0], b[0]), rhs[k])
        assert _rel(shared[k], want0) <= tol
    # reverse mode under vmap (the transposed solve through the vmap rule), nested vmap
    grads = jax.vmap(
        jax.grad(lambda r, d: jnp.sum(tree_solve(topo, d, a[0], b[0], r, method=method) ** 2))
    )(rhs, d)
    nested = jax.vmap(jax.vmap(lambda *z: tree_solve(topo, *z, method=method)))(
        d[None], a[None], b[None], rhs[None]
    )
    for k in range(3):
        m = dense(parent, d[k], a[0], b[0])
        x = np.linalg.solve(m, rhs[k])
        assert _rel(grads[k], np.linalg.solve(m.T, 2 * x)) <= _tol(m, np.float64)
        assert _rel(nested[0, k], batched[k]) <= 1e-14  # the same solve, to round-off


def test_methods_agree_and_default():
    parent, d, a, b, rhs = _system(500, 0.1, 11)
    topo = TreeTopology(parent)
    m = dense(parent, d, a, b)
    x_ref = np.linalg.solve(m, rhs)
    d, a, b, rhs = (jnp.asarray(z, jnp.float32) for z in (d, a, b, rhs))
    xs = [tree_solve(topo, d, a, b, rhs, method=m) for m in METHODS]
    # float32 (x64 off): both within the float32 bound of the exact solution
    for x in xs:
        assert _rel(x, x_ref) <= _tol(m, np.float32)
    assert default_method() == ("branches" if jax.default_backend() == "cpu" else "levels")
    np.testing.assert_array_equal(
        tree_solve(topo, d, a, b, rhs), xs[METHODS.index(default_method())]
    )


def test_unknown_method_is_refused():
    topo = TreeTopology([-1, 0])
    with pytest.raises(ValueError, match="method must be one of"):
        tree_solve(topo, jnp.ones(2), jnp.ones(2), jnp.ones(2), jnp.ones(2), method="cyclic")
