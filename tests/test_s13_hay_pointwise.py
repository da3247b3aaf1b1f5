"""`cable._cell._pointwise`: a derivative rule for per-element functions (a mechanism's
state update, or its current and slope, at each compartment), a Jacobian column per
differentiated input taken by forward mode with the primal (session 13, issue 18 item 9:
an experiment behind `_cell.POINTWISE_DERIVATIVE` / `POINTWISE_CURRENTS`, off by default:
on the Hay cell it changed the gradient by −5 % to +1 % and lengthened its compilation,
benchmarks/README.md).

- fast: a toy per-element function with a per-element input, a scalar parameter, a
  parameter that does not broadcast (its own JVP) and an unperturbed input: values, JVP
  and gradient against JAX's own rule, float64;
- slow: the small cell of tests/test_cable_step_vjp.py (HH, NMODL NaTa_t, Ca_HVA, SK_E2,
  CaDynamics_E2, clamps) with the rule on against off: every parameter's gradient and the
  densities' alone (the kinetic parameters unperturbed: no columns for them), float64.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.cable import _cell


def _toy(x, y, a, w, fixed):
    """Per element of x (n,): a scalar `a`, a table `w` (2,) read as a whole, `fixed`
    not differentiated."""
    e = jnp.exp(-x / a)
    return {"p": x * e + w[0] * y, "q": (y / (1.0 + e)) * w[1] + fixed}


def test_pointwise_matches_jax_rule_in_every_mode():
    """Values, JVP (all inputs perturbed) and reverse mode (per-element, scalar, table and
    an unperturbed input): the same products in another order, float64 to 1e-13
    relative (a few ulps of sums of ≤ 4 terms)."""
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        x, y, fixed = (jnp.asarray(rng.normal(size=5)) for _ in range(3))
        a, w = jnp.asarray(1.7), jnp.asarray([0.3, -1.2])

        def plain(x, y, a, w):
            return _toy(x, y, a, w, fixed)

        def pw(x, y, a, w):
            return _cell._pointwise(_toy, (x, y, a, w, fixed))

        def loss(f):
            return lambda *p: sum(jnp.sum(jnp.sin(v)) for v in jax.tree_util.tree_leaves(f(*p)))

        args = (x, y, a, w)
        tans = tuple(jnp.asarray(rng.normal(size=jnp.shape(t))) for t in args)

        def modes(f):
            return (f(*args), jax.jvp(f, args, tans)[1],
                    jax.grad(loss(f), argnums=(0, 1, 2, 3))(*args),
                    jax.grad(loss(f), argnums=(0, 2))(*args))  # y and w unperturbed

        for got, want in zip(jax.jit(lambda: modes(pw))(), jax.jit(lambda: modes(plain))(),
                             strict=True):  # fmt: skip
            for g, h in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want),
                            strict=True):  # fmt: skip
                np.testing.assert_allclose(g, h, rtol=1e-13, atol=1e-13)


@pytest.mark.slow
def test_cell_gradient_same_with_pointwise_rule(monkeypatch):
    """The small cell of tests/test_cable_step_vjp.py, TR-BDF2, float64, 80 steps: the
    gradient w.r.t. every mechanism leaf, and w.r.t. the densities alone, with the
    pointwise rule on the state updates and the currents against JAX's own rule: 1e-10
    relative (the same products in another order: a few ulps per step of a dissipative
    run, as that file's bound)."""
    from test_cable_step_vjp import _loss_fn, cell_and_inputs  # noqa: F401

    cell, inputs = cell_and_inputs.__wrapped__()
    with jax.enable_x64(True):
        cell64 = jax.tree_util.tree_map(
            lambda x: jnp.asarray(x, jnp.float64) if eqx.is_inexact_array(x) else x, cell
        )
        inputs64 = {k: jnp.asarray(v, jnp.float64) for k, v in inputs.items()}
        loss, params = _loss_fn(cell64, inputs64)
        dens = jax.tree_util.tree_map_with_path(
            lambda path, x: eqx.is_inexact_array(x)
            and getattr(path[-1], "name", "") in ("g_na", "gNaTa_tbar", "gCa_HVAbar",
                                                   "gSK_E2bar"), params)  # fmt: skip
        d_params, d_static = eqx.partition(params, dens)
        grads = {}
        for on in (False, True):
            monkeypatch.setattr(_cell, "POINTWISE_DERIVATIVE", on)
            monkeypatch.setattr(_cell, "POINTWISE_CURRENTS", on)
            jax.clear_caches()
            grads[on] = jax.jit(jax.grad(loss))(params)
        # the densities alone (kinetic parameters unperturbed), rule on, against the same
        # entries of JAX's full gradient
        g_dens = jax.jit(jax.grad(lambda d: loss(eqx.combine(d, d_static))))(d_params)
        ref_dens, _ = eqx.partition(grads[False], dens)

        def flat(g):
            return np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(g)])

        for a, b in ((flat(grads[True]), flat(grads[False])), (flat(g_dens), flat(ref_dens))):
            assert np.all(np.isfinite(a)) and np.any(a != 0)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.max(np.abs(b)))
