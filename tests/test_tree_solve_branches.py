"""The branch-parallel schedule of the tree solve (`tree_solve(..., method="branches")`)
against the Hines schedule and a dense solve, on cable-like trees (each branch's nodes
numbered consecutively, as `cable.Discretisation` numbers them): regular and irregular
branches, chains cut into pieces, chains of one and two nodes; float64 values, the
transposed solve (reverse mode) against `"hines"`'s and finite differences
(`jax.test_util.check_grads`); batches and vmap (which run `"hines"`).

Tolerances: both schedules are backward-stable eliminations of the same diagonally
dominant matrix (no pivoting), so each is within ~cond(M)·eps·(small growth constant) of
the exact solution; 20·cond(M)·eps bounds them (as `test_tree_solve_fast.py`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from test_cable_tree_solve import dense, random_system, random_tree

from neurojax.cable import TreeTopology, tree_solve
from neurojax.solvers import _tree_solve as ts

EPS64 = np.finfo(np.float64).eps


def cable_tree(nsegs, parents):
    """The parent array of branches with `nsegs[i]` nodes each, branch i hanging from the
    last node of branch `parents[i]` (the root branch starts at node 0), each branch's
    nodes numbered consecutively."""
    parent, last = [], []
    for nseg, p in zip(nsegs, parents, strict=True):
        first = len(parent)
        for k in range(nseg):
            parent.append((last[p] if p >= 0 else -1) if k == 0 else first + k - 1)
        last.append(first + nseg - 1)
    return np.array(parent)


# (nsegs, parents): a binary tree of equal branches (the benchmark's shape: 2 groups);
# an irregular one: lengths 1–23 (23 > the common 6: cut into a head of 5 and pieces of 6),
# a branch of one node and one of two, branch 3 the only child of branch 1 (its chain
# breaks: not numbered consecutively), siblings of different lengths
TREES = {
    "binary": ([7] + [6] * 6, [-1] + [(i - 1) // 2 for i in range(1, 7)]),
    "irregular": ([6, 6, 6, 6, 1, 2, 23, 6, 3], [-1, 0, 0, 1, 2, 2, 4, 6, 6]),
}


def _system(name, seed=0):
    parent = cable_tree(*TREES[name])
    rng = np.random.default_rng(seed)
    return parent, *random_system(rng, parent)


def _spy_reduced(monkeypatch):
    """Record the sizes of the trees `_solve_hines` is called on (the reduced tree's is
    smaller than the cell's: the branch-parallel path ran)."""
    sizes = []
    orig = ts._solve_hines

    def spy(topo, *args):
        sizes.append(topo.n)
        return orig(topo, *args)

    monkeypatch.setattr(ts, "_solve_hines", spy)
    ts._tree_solve.clear_cache()
    return sizes


def test_layout_tiles_the_tree():
    for name in TREES:
        parent = cable_tree(*TREES[name])
        topo = TreeTopology(parent)
        lay = topo.chain_layout
        # groups tile 0 … n − 1 in order, chains numbered in order
        at, chains = 0, 0
        for s, c0, m, length in lay.groups:
            assert (s, c0) == (at, chains)
            for q in range(m):  # each chain: consecutive nodes, each the only child
                top = s + q * length
                nodes = np.arange(top, top + length)
                assert np.all(parent[nodes[1:]] == nodes[:-1])
                kids = np.bincount(parent[1:], minlength=parent.size)
                assert np.all(kids[nodes[:-1]] == 1)
            at, chains = at + m * length, chains + m
        assert at == parent.size and chains == lay.c
        red = lay.reduced_topology.parent
        assert red[0] == -1 and np.all(red[1:] < np.arange(1, red.size))
        assert len(lay.groups) <= ts._BRANCH_MAX_GROUPS and lay.k >= ts._BRANCH_MIN_ROWS
    # the irregular tree: the 23-node chain cut at the common length 6 (head 5, then 6s)
    lengths = [L for _, _, m, L in TreeTopology(cable_tree(*TREES["irregular"])).chain_layout.groups
               for _ in range(m)]  # fmt: skip
    assert 5 in lengths and 1 in lengths and 2 in lengths


@pytest.mark.parametrize("name", list(TREES))
def test_matches_dense_float64(name, x64, monkeypatch):
    """Values and reverse mode (the transposed solve: λ = M⁻ᵀ w, dL/dM = −λ xᵀ on the
    tree's nonzeros) against the dense system, which `"hines"` matches as well
    (`test_tree_solve_fast.py`)."""
    parent, d, a, b, rhs = _system(name)
    topo = TreeTopology(parent)
    sizes = _spy_reduced(monkeypatch)
    args = tuple(jnp.asarray(z) for z in (d, a, b, rhs))
    w = np.random.default_rng(1).normal(size=parent.size)

    def loss(*z):
        return jnp.sum(jnp.asarray(w) * tree_solve(topo, *z, method="branches"))

    # one compilation: the solve and its gradient
    x, (g_d, g_a, g_b, g_r) = jax.jit(
        lambda *z: (
            tree_solve(topo, *z, method="branches"),
            jax.grad(loss, argnums=(0, 1, 2, 3))(*z),
        )  # fmt: skip
    )(*args)
    assert sizes and max(sizes) == topo.chain_layout.n_reduced < topo.n  # the reduced tree
    m = dense(parent, d, a, b)
    tol = 20 * np.linalg.cond(m) * EPS64
    x_ref = np.linalg.solve(m, rhs)
    lam = np.linalg.solve(m.T, w)
    dm = -np.outer(lam, x_ref)
    i = np.arange(1, parent.size)
    want = {
        "x": (x, x_ref),
        "rhs": (g_r, lam),
        "d": (g_d, np.diag(dm)),
        "a": (g_a[1:], dm[parent[i], i]),  # a[i] = M[parent[i], i]
        "b": (g_b[1:], dm[i, parent[i]]),  # b[i] = M[i, parent[i]]
    }
    for what, (got, ref) in want.items():
        assert np.linalg.norm(got - ref) <= 2 * tol * np.linalg.norm(ref), what


@pytest.mark.slow  # ~1–3 s on the loaded 2-core VM; reverse mode is checked fast above
def test_gradients_by_finite_differences(x64):
    """Reverse and forward mode through the branch-parallel solve (both go through
    `custom_linear_solve`: transposed solves) against central differences, on a small
    tree (chains of 5, 4 and 3 nodes: 4 groups)."""
    parent = cable_tree([5, 4, 4, 3], [-1, 0, 0, 1])
    assert TreeTopology(parent).chain_layout.k >= ts._BRANCH_MIN_ROWS
    d, a, b, rhs = random_system(np.random.default_rng(3), parent)
    topo = TreeTopology(parent)
    args = tuple(jnp.asarray(z) for z in (d, a, b, rhs))
    solve = jax.jit(lambda *z: tree_solve(topo, *z, method="branches"))  # one compilation
    check_grads(solve, args,
                order=1, modes=("rev", "fwd"))  # fmt: skip


def test_many_groups_when_forced(x64, monkeypatch):
    """A random tree whose chains fall into many groups (short chains of every length,
    the branch-parallel path forced past its group limit) still solves exactly."""
    monkeypatch.setattr(ts, "_BRANCH_MAX_GROUPS", 10**6)
    parent = random_tree(np.random.default_rng(1), 40, 0.25)  # 10 groups, lengths 1–7
    d, a, b, rhs = random_system(np.random.default_rng(6), parent)
    topo = TreeTopology(parent)
    assert len(topo.chain_layout.groups) > 8
    sizes = _spy_reduced(monkeypatch)
    x = tree_solve(topo, *map(jnp.asarray, (d, a, b, rhs)), method="branches")
    assert max(sizes) < topo.n
    m = dense(parent, d, a, b)
    x_ref = np.linalg.solve(m, rhs)
    assert np.linalg.norm(x - x_ref) <= 20 * np.linalg.cond(m) * EPS64 * np.linalg.norm(x_ref)


def test_batches_and_vmap_run_hines(x64, monkeypatch):
    """A batch (leading axes or vmap) runs the Hines loop with the batch as a vector
    (faster there), giving each cell the same solution as its own branch-parallel solve."""
    parent, d, a, b, rhs = _system("binary", seed=2)
    a, b = jnp.asarray(a), jnp.asarray(b)
    topo = TreeTopology(parent)
    ds = jnp.asarray(d) * jnp.asarray([[1.0], [1.3], [0.9]])
    rs = jnp.asarray(rhs) * jnp.asarray([[1.0], [-2.0], [0.5]])
    sizes = _spy_reduced(monkeypatch)
    batched = tree_solve(topo, ds, a, b, rs, method="branches")
    assert set(sizes) == {topo.n}  # the whole tree: Hines
    mapped = jax.vmap(lambda dd, rr: tree_solve(topo, dd, a, b, rr, method="branches"))(ds, rs)
    solve_one = jax.jit(lambda dd, rr: tree_solve(topo, dd, a, b, rr, method="branches"))
    for k in range(3):
        one = solve_one(ds[k], rs[k])
        atol = 1e-12 * float(jnp.max(abs(one)))  # float64, ~1e4 eps: two orders of one solve
        np.testing.assert_allclose(mapped[k], one, rtol=1e-12, atol=atol)
        np.testing.assert_allclose(batched[k], one, rtol=1e-12, atol=atol)
