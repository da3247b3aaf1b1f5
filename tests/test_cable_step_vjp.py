"""The reverse-mode derivative of a cable step with the index maps' tables cut where a few
rows are much longer than the rest (`neurojax._gather._split`, `_WIDE_ROWS`): a node with
many children (a soma with its dendrites) no longer pads every node's sum over children to
its width. The values are the same sums associated differently, so:

- fast: a skewed `StaticMap` (one row of 12 entries among rows of 0–2) is cut, and
  agrees with its dense matrix in every mode (values, JVP, VJP, vmap);
- slow: the gradient of a small cell with every kind of mechanism — HH (a built-in
  channel), Hay et al.'s NaTa_t, Ca_HVA and SK_E2 (NMODL), the CaDynamics_E2 calcium pool
  that SK_E2 reads, a current clamp and a voltage clamp (TR-BDF2's clamp correction) — on
  a soma with five children, with the cut tables against the full ones (float64, 1e-10)
  and against central finite differences.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
import neurojax._gather as G
from neurojax._gather import StaticMap, apply


def _dense(out, inp, n_out, n_in):
    m = np.zeros((n_out, n_in))
    np.add.at(m, (out, inp), 1.0)
    return m


def test_skewed_map_is_cut_and_matches_its_matrix():
    """A tree whose root has 12 children and whose other nodes have 0–2: the sum over
    children gathers 41 + 11 values instead of 41 × 12 (cut after one column), and
    forward values, JVP, VJP (its transpose, also cut) and vmap agree with the dense
    matrix. The maps only move and add values: float64 to 1e-12 (~10⁴ ulps of slack for
    a different association of at most 12 additions)."""
    rng = np.random.default_rng(0)
    # nodes 1–12 on the root, 13–40 one on each of 1–28
    parent = np.concatenate([[-1], np.zeros(12, int), np.arange(1, 29)])
    n = parent.size
    kids = np.arange(1, n)
    m = StaticMap(parent[1:], kids, n, n)  # Σ over children
    t = StaticMap(kids, parent[1:], n, n)  # x[parent]: its transpose is the sum
    assert m.forward.shape[1] == 12
    assert m._forward.main.shape[1] < m.forward.shape[1] and m._forward.rows.size >= 1
    assert t._backward.main.shape[1] < t.backward.shape[1]
    assert m._forward.main.size + m._forward.over.size == 41 + 11  # not 41 × 12
    dense = _dense(parent[1:], kids, n, n)
    with jax.enable_x64(True):
        x, tan = rng.normal(size=(3, n)), rng.normal(size=(3, n))
        c = rng.normal(size=(3, n))

        @jax.jit
        def modes(x, tan, c):
            f = lambda x: apply(m, x)  # noqa: E731
            g = lambda x: apply(t, x)  # noqa: E731
            return (f(x), jax.jvp(f, (x,), (tan,))[1], jax.vjp(f, x)[1](c)[0],
                    jax.vmap(f)(x), jax.vjp(g, x)[1](c)[0])  # fmt: skip

        y, jvp, vjp, vm, vjp_t = modes(x, tan, c)
        for got, want in ((y, x @ dense.T), (jvp, tan @ dense.T), (vjp, c @ dense),
                          (vm, x @ dense.T), (vjp_t, c @ dense.T)):  # fmt: skip
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ---- slow: a whole cell's gradient ------------------------------------------------------
# Slow: loading four NMODL files (sympy) and compiling float64 gradients of a cell costs
# ~20 CPU-s; `test_skewed_map_is_cut_and_matches_its_matrix` keeps `_gather`'s cut in the
# fast tier, and tests/test_gather.py the maps themselves.

N_STEPS = 80
DT = 0.025


@pytest.fixture(scope="module")
def cell_and_inputs():
    from neurojax.cable import HAY2011_DIR, HH, Branch, Cell, Morphology, Passive
    from neurojax.nmodl import mod_class

    kinds = {s: mod_class(HAY2011_DIR / f"{s}.mod")
             for s in ("NaTa_t", "Ca_HVA", "SK_E2", "CaDynamics_E2")}  # fmt: skip
    # a soma with five dendrites at its 1 end: that node's sum over children is 5 wide
    morph = Morphology([Branch(20.0, 20.0, nseg=1)]
                       + [Branch(100.0, 2.0, parent=0, nseg=3) for _ in range(5)])  # fmt: skip
    dend = [1, 2, 3, 4, 5]
    mechanisms = [
        (HH(), [0]),
        (kinds["CaDynamics_E2"](gamma=0.0005, decay=80.0), dend),
        (Passive(g=0.05, e=-70.0), dend),
        (kinds["Ca_HVA"](gCa_HVAbar=0.002), dend),
        (kinds["NaTa_t"](gNaTa_tbar=0.02), dend),
        (kinds["SK_E2"](gSK_E2bar=0.01), dend),
    ]
    cell = Cell(morph, mechanisms, clamps=[(0, 0.5)], vclamps=[(3, 0.5)],
                ions={"ek": -85.0, "ena": 50.0}, v_init=-65.0)  # fmt: skip
    t = np.arange(N_STEPS) * DT
    inputs = {
        "i_clamp": np.where(t > 0.2, 0.8, 0.0)[:, None],  # nA: a step at the soma
        "v_clamp": np.where(t > 0.5, -20.0, -65.0)[:, None],  # mV: a command step
    }
    return cell, inputs


def _loss_fn(cell, inputs):
    soma = cell.record_v([(0, 0.5)])
    cai = cell.record_ion("cai", [(2, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

    def loss(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        rec = nj.SaveAt(fn=lambda y: (soma(y), cai(y)))
        v, ca = nj.simulate(c, inputs, dt=DT, saveat=rec).states
        return jnp.mean(v) + 1e3 * jnp.mean(ca)  # mV + 1e3·mM

    return loss, params


@pytest.mark.slow
def test_cell_gradient_same_with_cut_and_full_tables(cell_and_inputs):
    """Every mechanism parameter's derivative, TR-BDF2, float64: the cut tables against
    the full ones to 1e-10 relative (sums of at most five terms associated differently:
    a few ulps per step, and the run is 80 steps of a dissipative system)."""
    cell, inputs = cell_and_inputs
    with jax.enable_x64(True):
        cell64 = jax.tree_util.tree_map(
            lambda x: jnp.asarray(x, jnp.float64) if eqx.is_inexact_array(x) else x, cell
        )
        inputs64 = {k: jnp.asarray(v, jnp.float64) for k, v in inputs.items()}
        loss, params = _loss_fn(cell64, inputs64)
        grads = {}
        for cut in (True, False):
            G._WIDE_ROWS = cut
            try:
                jax.clear_caches()
                grads[cut] = jax.jit(jax.grad(loss))(params)
            finally:
                G._WIDE_ROWS = True
        a = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(grads[True])])
        b = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(grads[False])])
        assert np.all(np.isfinite(a)) and np.any(a != 0)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.max(np.abs(b)))


@pytest.mark.slow
def test_cell_gradient_against_central_differences(cell_and_inputs):
    """Three parameters of different kinds (HH's g_na at the soma, NaTa_t's density and
    the calcium pool's gamma in the dendrites): reverse mode against central differences
    of relative step 1e-5, float64. Truncation ~(1e-5)² relative and rounding ~1e-16/1e-5
    of the loss: 1e-6 relative leaves room for both."""
    cell, inputs = cell_and_inputs
    with jax.enable_x64(True):
        cell64 = jax.tree_util.tree_map(
            lambda x: jnp.asarray(x, jnp.float64) if eqx.is_inexact_array(x) else x, cell
        )
        inputs64 = {k: jnp.asarray(v, jnp.float64) for k, v in inputs.items()}
        loss, params = _loss_fn(cell64, inputs64)
        grad = jax.jit(jax.grad(loss))(params)
        f = jax.jit(loss)
        picks = [(0, "g_na"), (4, "gNaTa_tbar"), (1, "gamma")]
        for k, name in picks:
            x0 = float(getattr(params[k], name))
            h = 1e-5 * abs(x0)

            def at(x, k=k, name=name):
                return f(eqx.tree_at(lambda p: getattr(p[k], name), params, jnp.asarray(x)))

            fd = (float(at(x0 + h)) - float(at(x0 - h))) / (2 * h)
            got = float(getattr(grad[k], name))
            assert abs(fd) > 0, name
            np.testing.assert_allclose(got, fd, rtol=1e-6, err_msg=name)
