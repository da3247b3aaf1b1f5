"""The Hines tree solve: exact against a dense solve, gradient against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.cable import TreeTopology, tree_solve


def random_tree(rng, n, branchy=0.3):
    """A random tree numbered from the root: each compartment's parent is either the
    previous one (a cable) or a random earlier one (a branch point)."""
    parent = np.full(n, -1)
    for i in range(1, n):
        parent[i] = i - 1 if rng.random() > branchy else rng.integers(0, i)
    return parent


def random_system(rng, parent):
    n = parent.size
    a = -rng.uniform(0.1, 2.0, n)
    b = -rng.uniform(0.1, 2.0, n)
    d = np.zeros(n)
    for i in range(1, n):  # diagonally dominant, like a cable matrix
        d[i] += -b[i]
        d[parent[i]] += -a[i]
    d += rng.uniform(0.1, 1.0, n)
    rhs = rng.normal(size=n)
    return d, a, b, rhs


def dense(parent, d, a, b):
    m = np.diag(d)
    for i in range(1, parent.size):
        m[i, parent[i]] = b[i]
        m[parent[i], i] = a[i]
    return m


@pytest.mark.parametrize(
    "n,branchy", [(1, 0.0), (2, 0.0), (7, 1.0), (40, 0.0), (60, 0.3), (200, 0.1)]
)
def test_solve_matches_dense(n, branchy):
    rng = np.random.default_rng(n)
    with jax.enable_x64(True):
        parent = random_tree(rng, n, branchy)
        d, a, b, rhs = random_system(rng, parent)
        x = tree_solve(TreeTopology(parent), *map(jnp.asarray, (d, a, b, rhs)))
        expected = np.linalg.solve(dense(parent, d, a, b), rhs)
        # float64 elimination of a well-conditioned system: round-off ~1e-15 · cond.
        np.testing.assert_allclose(x, expected, rtol=1e-11, atol=1e-12)


def test_solve_batched_and_jit():
    rng = np.random.default_rng(0)
    parent = random_tree(rng, 30)
    topo = TreeTopology(parent)
    systems = [random_system(rng, parent) for _ in range(3)]
    d, a, b, rhs = (np.stack(z) for z in zip(*systems, strict=True))
    with jax.enable_x64(True):
        x = jax.jit(tree_solve, static_argnums=0)(topo, d, a, b, rhs)
        for k in range(3):
            np.testing.assert_allclose(
                x[k], np.linalg.solve(dense(parent, d[k], a[k], b[k]), rhs[k]), rtol=1e-11
            )


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    parent = random_tree(rng, 25, 0.4)
    topo = TreeTopology(parent)
    w = rng.normal(size=25)
    with jax.enable_x64(True):
        args = tuple(map(jnp.asarray, random_system(rng, parent)))

        @jax.jit
        def loss(d, a, b, rhs):
            return jnp.sum(w * tree_solve(topo, d, a, b, rhs) ** 2)

        grads = jax.grad(loss, argnums=(0, 1, 2, 3))(*args)
        eps = 1e-6
        for k, g in enumerate(grads):
            for i in [0, 1, 5, 24]:
                plus = list(args)
                minus = list(args)
                plus[k] = plus[k].at[i].add(eps)
                minus[k] = minus[k].at[i].add(-eps)
                fd = (loss(*plus) - loss(*minus)) / (2 * eps)
                # central differences: truncation O(eps²) ≈ 1e-12, round-off ≈ 1e-16/eps ≈ 1e-10.
                assert abs(g[i] - fd) <= 1e-7 * max(1.0, abs(fd)), (k, i, g[i], fd)
        # the root has no parent: its couplings do not enter the matrix
        assert grads[1][0] == 0 and grads[2][0] == 0


def test_gradient_is_a_transposed_solve_not_a_trace_of_the_loop():
    """The gradient is one forward and one transposed solve (each two level scans),
    whatever the tree size: the rule of `custom_linear_solve`, not autodiff of the
    elimination loop (which would add the loop's own transposed scans)."""
    parent = random_tree(np.random.default_rng(2), 50)
    topo = TreeTopology(parent)

    def f(d):
        return jnp.sum(tree_solve(topo, d, -jnp.ones(50), -jnp.ones(50), jnp.ones(50)))

    closed = jax.make_jaxpr(jax.grad(f))(jnp.full(50, 3.0))

    def primitives(jaxpr):  # top level, looking inside nested jit only
        out = []
        for eqn in jaxpr.eqns:
            out.append(eqn.primitive.name)
            if eqn.primitive.name in ("jit", "pjit"):
                out += primitives(eqn.params["jaxpr"].jaxpr)
        return out

    prims = primitives(closed.jaxpr)
    assert prims.count("custom_linear_solve") == 2  # the solve and its transpose
    assert "scan" not in prims and "while" not in prims  # no loop differentiated


def test_forward_mode_matches_reverse_mode(x64):
    rng = np.random.default_rng(3)
    parent = random_tree(rng, 12, 0.3)
    topo = TreeTopology(parent)
    d, a, b, rhs = map(jnp.asarray, random_system(rng, parent))

    def f(d):
        return tree_solve(topo, d, a, b, rhs)

    np.testing.assert_allclose(
        jax.jit(jax.jacfwd(f))(d), jax.jit(jax.jacrev(f))(d), rtol=1e-10, atol=1e-12
    )


def test_bad_topology():
    with pytest.raises(ValueError, match="parent\\[0\\] must be -1"):
        TreeTopology([0, 0])
    with pytest.raises(ValueError, match="parent\\[2\\] = 2"):
        TreeTopology([-1, 0, 2])
    topo = TreeTopology([-1, 0, 1])
    with pytest.raises(ValueError, match="3 compartments"):
        tree_solve(topo, jnp.ones(4), jnp.ones(4), jnp.ones(4), jnp.ones(4))


@pytest.mark.parametrize("method", ["hines", "levels"])
def test_gradient_under_vmap_of_cond(method):
    # `fit(..., starts=...)` differentiates a cell inside a vmap of a `cond` (one descent
    # step per start, skipped for finished ones): batching the cond broadcast the solve's
    # closed-over index arrays, which JAX's custom_vmap refused (an AssertionError);
    # they are arguments now. The gradient is checked against the dense system's.
    rng = np.random.default_rng(3)
    parent = random_tree(rng, 9, 0.5)
    d, a, b, rhs = map(jnp.asarray, random_system(rng, parent))
    topo = TreeTopology(parent)

    def loss(dd):
        return jnp.sum(tree_solve(topo, dd, a, b, rhs, method=method) ** 2)

    def step(dd, active):
        return jax.lax.cond(active, jax.grad(jax.checkpoint(loss)), jnp.zeros_like, dd)

    ds = jnp.stack([d, 1.1 * d])
    got = jax.vmap(step)(ds, jnp.array([True, False]))
    m = jnp.asarray(dense(parent, np.asarray(d), np.asarray(a), np.asarray(b)))
    want = jax.grad(lambda dd: jnp.sum(jnp.linalg.solve(m + jnp.diag(dd - d), rhs) ** 2))(d)
    np.testing.assert_allclose(got[0], want, rtol=1e-4)  # float32 solves of a 9-node tree
    np.testing.assert_array_equal(got[1], 0.0)
