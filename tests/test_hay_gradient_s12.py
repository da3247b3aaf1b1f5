"""Session 12, issue 18 item 9 (the Hay cell's gradient and its compilation): the Hines
solve padded with dummy leaves to a multiple of its unroll (`_tree_solve._PAD_TO_UNROLL`)
gives the same values as without padding, to the last bits, and its derivatives stay right."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.solvers import _tree_solve
from neurojax.solvers._tree_solve import TreeTopology, tree_solve


def _random_tree(n, seed):
    rng = np.random.default_rng(seed)
    parent = np.full(n, -1)
    for i in range(1, n):  # mostly chains (a cable's numbering), some branch points
        parent[i] = i - 1 if rng.random() < 0.8 else rng.integers(0, i)
    off = -rng.uniform(0.1, 1.0, n)
    # diagonally dominant, positive diagonal, non-positive couplings: a cable matrix
    d = rng.uniform(0.5, 1.5, n) + np.abs(off) + np.bincount(parent[1:], np.abs(off[1:]), n)
    return TreeTopology(parent), d, off, rng.normal(size=n)


def _dense(topo, d, a, b):
    m = np.diag(d)
    for i in range(1, topo.n):
        m[i, topo.parent[i]] = b[i]
        m[topo.parent[i], i] = a[i]
    return m


@pytest.mark.parametrize(
    "n, unroll_from",
    [
        (12, 1),  # a small tree with the unroll forced on: fast; (12 − 1) mod 8 = 3
        pytest.param(258, None, marks=pytest.mark.slow),  # as the Hay cell: 7 dummies
        pytest.param(263, None, marks=pytest.mark.slow),  # 2 dummies
    ],
)
def test_padded_hines_same_values_as_unpadded(n, unroll_from, monkeypatch):
    # the dummies send exactly 0 to the root and are never read
    if unroll_from is not None:
        monkeypatch.setattr(_tree_solve, "_UNROLL_FROM", unroll_from)
    with jax.enable_x64(True):
        topo, d, off, rhs = _random_tree(n, seed=n)
        b = off * np.linspace(0.5, 1.5, n)  # not symmetric: a and b must not be swapped
        args = [jnp.asarray(x) for x in (d, off, b, rhs)]
        jax.clear_caches()  # the module flags are read when the solve is traced
        solve = jax.jit(lambda *x: tree_solve(topo, *x, method="hines"))
        assert n >= _tree_solve._UNROLL_FROM and (n - 1) % _tree_solve._UNROLL
        padded = np.asarray(solve(*args))
        monkeypatch.setattr(_tree_solve, "_PAD_TO_UNROLL", False)
        jax.clear_caches()
        plain = np.asarray(jax.jit(lambda *x: tree_solve(topo, *x, method="hines"))(*args))
        # the same operations in the same order: equal to the last bits or nearly (XLA
        # may contract a multiply-add differently in peeled iterations than in the loop)
        # — a few ulps, 1e-15 of the largest entry
        np.testing.assert_allclose(padded, plain, rtol=0, atol=1e-15 * np.abs(plain).max())
        # and right: against a dense solve, to float64 rounding of a well-conditioned
        # system (condition number ~10 here: 1e-12 leaves three orders of slack)
        x = np.linalg.solve(_dense(topo, d, off, b), rhs)
        np.testing.assert_allclose(padded, x, rtol=0, atol=1e-12 * np.abs(x).max())


@pytest.mark.slow
def test_padded_hines_gradient_matches_finite_differences():
    # reverse mode through the padded solve (custom_linear_solve: one transposed solve),
    # w.r.t. the diagonal, the couplings and the rhs, against central differences
    with jax.enable_x64(True):
        n = 260
        topo, d, off, rhs = _random_tree(n, seed=7)
        w = np.random.default_rng(1).normal(size=n)

        def loss(d, a, b, r):
            return jnp.dot(jnp.asarray(w), tree_solve(topo, d, a, b, r, method="hines"))

        args = [jnp.asarray(x) for x in (d, off, off * 0.9, rhs)]
        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(*args)
        f = jax.jit(loss)
        rng = np.random.default_rng(2)
        h = 1e-6  # central differences: truncation O(h²) ~1e-12, rounding ~1e-16/h ~1e-10
        for k in range(4):
            for _ in range(3):
                j = int(rng.integers(1 if k in (1, 2) else 0, n))  # a[0], b[0] unused
                e = jnp.zeros(n).at[j].set(h)
                up = [x + e if q == k else x for q, x in enumerate(args)]
                dn = [x - e if q == k else x for q, x in enumerate(args)]
                fd = (f(*up) - f(*dn)) / (2 * h)
                np.testing.assert_allclose(grads[k][j], fd, rtol=1e-6, atol=1e-9)
