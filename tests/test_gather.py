"""`neurojax._gather.StaticMap`: a static linear index map (gather, spread, sum over
children) whose transpose is a gather too — checked against its dense matrix in every
mode of differentiation — and the property it exists for: a cable cell's compiled step,
forward and gradient, contains no scatter (which would keep XLA:CPU from compiling the
time loop into one function)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax._gather import StaticMap, apply, spread_map, take_map
from neurojax.cable import HH, Branch, Cell, Morphology

# The maps only move and add values: float64 results agree with the dense matrix to
# rounding of a few additions (1e-12 relative is ~10⁴ ulps of slack).
TOL = 1e-12


def _dense(out, inp, n_out, n_in):
    m = np.zeros((n_out, n_in))
    np.add.at(m, (out, inp), 1.0)
    return m


def _check_against_matrix(n_in, n_out, n_pairs):
    with jax.enable_x64(True):
        rng = np.random.default_rng(n_in * 100 + n_out)
        out, inp = rng.integers(0, n_out, n_pairs), rng.integers(0, n_in, n_pairs)
        m, dense = StaticMap(out, inp, n_out, n_in), _dense(out, inp, n_out, n_in)
        x, t = rng.normal(size=(3, n_in)), rng.normal(size=(3, n_in))
        c = rng.normal(size=(3, n_out))
        f = lambda x: apply(m, x)  # noqa: E731

        @jax.jit  # one compilation for every mode
        def modes(x, t, c):
            return (f(x), jax.jvp(f, (x,), (t,))[1], jax.vjp(f, x)[1](c)[0], jax.vmap(f)(x),
                    jax.jacrev(f)(x[0]), jax.jacfwd(f)(x[0]),
                    jax.hessian(lambda x: jnp.sum(f(x) ** 3))(x[0]))  # fmt: skip

        y, jvp, vjp, vmapped, jrev, jfwd, hess = modes(x, t, c)
        for got, want in ((y, x @ dense.T), (jvp, t @ dense.T), (vjp, c @ dense),
                          (vmapped, x @ dense.T), (jrev, dense), (jfwd, dense)):  # fmt: skip
            np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
        # second order: d²/dx² Σ (Mx)³ = Mᵀ diag(6 M x) M
        want = dense.T @ np.diag(6 * dense @ x[0]) @ dense
        np.testing.assert_allclose(hess, want, rtol=1e-10, atol=1e-10)


def test_static_map_matches_its_matrix_in_every_mode():
    """Fast: one map with repeated outputs, repeated inputs and untouched entries."""
    _check_against_matrix(10, 4, 9)


# slow: more shapes of the same check (test_static_map_matches_its_matrix_in_every_mode
# keeps the module covered in the fast tier)
@pytest.mark.slow
@pytest.mark.parametrize(
    "n_in, n_out, n_pairs",
    [(5, 12, 9), (7, 7, 0), (8, 8, 8), (1, 3, 3)],
    ids=["widening", "empty", "square", "one-input"],
)
def test_static_map_shapes(n_in, n_out, n_pairs):
    _check_against_matrix(n_in, n_out, n_pairs)


def test_take_spread_and_cached_maps():
    x = jnp.arange(5.0)
    np.testing.assert_array_equal(apply(StaticMap.take([3, 1, 1], 5), x), [3.0, 1.0, 1.0])
    np.testing.assert_array_equal(
        apply(StaticMap.spread([3, 1], 5), jnp.array([1.0, 2.0])), [0, 2, 0, 1, 0]
    )
    # spread_map: positions equal to n_in read zero (the padding slot of a region)
    np.testing.assert_array_equal(
        apply(spread_map(np.array([1, 2, 0, 2]), 2), jnp.array([7.0, 8.0])), [8, 0, 7, 0]
    )
    assert take_map(np.array([0, 2]), 3) is take_map(np.array([0, 2]), 3)


def test_static_map_refusals():
    with pytest.raises(ValueError, match="off the arrays"):
        StaticMap([0], [5], 2, 5)
    with pytest.raises(ValueError, match="differ in size"):
        StaticMap([0, 1], [0], 2, 2)
    with pytest.raises(ValueError, match="last axis"):
        apply(StaticMap.take([0], 4), jnp.zeros(3))


# slow: compiles a cell's run and its gradient (~5 CPU-s); the speed it guards is
# measured in benchmarks/bench_hay2011.py, and test_static_map_matches_its_matrix_in_every_mode
# keeps the module covered in the fast tier
@pytest.mark.slow
def test_cell_step_has_no_scatter_forward_or_backward():
    """A branched cell with a clamp, a synapse and a recorded site: neither the compiled
    run nor its gradient holds a scatter, and every loop is compiled as one function
    (XLA:CPU's `xla_cpu_small_call`). The step's speed rests on this (`_gather.py`);
    the values are the cable tests' business."""
    morph = Morphology([Branch(20.0, 20.0), Branch(100.0, 1.0, parent=0),
                        Branch(80.0, 1.0, parent=0)])  # fmt: skip
    cell = Cell(morph, [(HH(), None)], clamps=[(0, 0.5)], synapses=[(1, 0.5, 0.0)])
    inputs = {"i_clamp": jnp.ones((4, 1)), "g_syn": jnp.full((4, 1), 1e-3)}
    rec = nj.SaveAt(fn=cell.record_v([(2, 0.5)]))

    def run(c):
        return nj.simulate(c, inputs, dt=0.025, saveat=rec).states.sum()

    for fn in (run, jax.grad(run)):
        hlo = jax.jit(fn).lower(cell).compile().as_text()
        assert " scatter(" not in hlo
        assert hlo.count(" while(") == hlo.count("xla_cpu_small_call")


def test_sums_keep_a_loop_one_function():
    """A sum over children (a table two or more wide) inside a time loop: XLA:CPU made a
    row reduction of 2201 nodes a YNNPACK fusion (`kind=kCustom`), which kept the whole
    `while` loop from being compiled into one function — the 2201-node HH tree's step ran
    as thunks at 2.2× the time (`_gather._SUM_BY_ADDS`, benchmarks/README.md). Summed by
    additions of the columns, the loop is one function; tables wider than the cut-off
    still sum with `jnp.sum`, both to rounding of the dense matrix (float32: the values
    are small integers, so exactly)."""
    n = 2201
    parent = np.maximum((np.arange(n) - 1) // 2, 0)  # a binary tree: 2 children each
    children = StaticMap(parent[1:], np.arange(1, n), n, n)
    assert children.forward.shape[1] == 2

    def loop(x):
        return jax.lax.fori_loop(0, 10, lambda i, y: 0.5 * apply(children, y) + x, x)

    x = jnp.asarray(np.random.default_rng(0).integers(0, 4, n), jnp.float32)
    hlo = jax.jit(loop).lower(x).compile().as_text()
    assert "kind=kCustom" not in hlo
    assert hlo.count(" while(") == hlo.count("xla_cpu_small_call") == 1
    wide = StaticMap(np.zeros(100, int), np.arange(100), 1, 100)  # 100 wide: jnp.sum
    dense = _dense(parent[1:], np.arange(1, n), n, n)
    np.testing.assert_array_equal(apply(children, x), dense @ np.asarray(x))
    np.testing.assert_array_equal(apply(wide, x[:100]), [np.asarray(x[:100]).sum()])
