"""Experiment (session 15, not kept): a hand-written *adjoint* for LIF populations — the
state before every step stored in the forward pass (V and the refractory timer, as
`DirectAdjoint`), and a backward loop applying the step's derivative in closed form
(`_lif_backward`), no autodiff replay. Exact (float64: ≤ 2.5e-14 of `CheckpointAdjoint`'s
gradient, every parameter), but no faster than the shipped autodiff: LIF 10⁴ × 1000
steps 18.1× the forward run against 16.1×, 10³ 8.0× against 6.2× (one process, 7
alternating rounds, load 6–7, parameters widened to the population); with glibc's mmap
threshold raised (`GLIBC_TUNABLES`, see `exp_scan_store_s15.py`) 12.2× against 10.4×;
with the parameters as given 16.0× against 17.5× and 5.0× against 6.2× (load 18).
Storing a state per neuron-step costs more than a LIF step; the kept
`neurojax.PopulationAdjoint` uses forward sensitivities instead
(`neurojax/_population_adjoint.py`). Timed by `exp_pop_adjoint_s15.py --store-adjoint`,
which swaps this `population_loop` in for the library's.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jax.custom_derivatives import CustomVJPPrimal, SymbolicZero

from neurojax._adjoint import AbstractAdjoint
from neurojax._model import StepInfo
from neurojax._population_adjoint import _unsupported
from neurojax._solution import Solution


class PopulationAdjoint(AbstractAdjoint):
    """Reverse mode with a hand-written derivative of the step, for uncoupled populations
    of `neurojax.LIF` neurons integrated by `ExponentialEuler` (their default).

    The state before every step is stored (8 bytes per neuron-step, as `DirectAdjoint`),
    and the backward loop applies the step's derivative in closed form rather than
    replaying the step under autodiff: the same gradient to float rounding, for a fraction
    of the cost (LIF 10⁴ neurons × 1000 steps: `benchmarks/README.md`).

    Differentiates with respect to the model's parameters and the initial state
    (`jax.grad`, `jax.vjp`, `jax.jacrev`). Refused, with an error naming
    `CheckpointAdjoint()`: other models or solvers, a `SaveAt(fn=...)`, a PRNG `key`,
    derivatives w.r.t. the inputs, `dt` or `t0`, and forward mode (`jax.jvp`). A run that
    is not differentiated is the ordinary forward run."""


def population_loop(model, solver, inputs, state, dt, t0, saveat) -> Solution:
    """The time loop of `_simulate._loop` for a differentiated LIF population, with the
    hand-written reverse pass (`check_population_adjoint` has accepted the run; `model`
    has its parameters widened to the population)."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    n_steps = jtu.tree_leaves(inputs)[0].shape[0]
    every = saveat.every
    n_blocks = n_steps // every

    def with_params(p):
        return eqx.combine(p, static)

    def forward(p, v0, refr0, inputs, dt, t0, store):
        m = with_params(p)

        def step(carry, x):
            i, v, refr = carry
            t = t0 + i.astype(t0.dtype) * dt
            y = type(state.y)(v=v)
            y_new = solver.step(m, t, y, x, dt)
            y_new, z, spike = m.event_step(
                StepInfo(i, t, dt, None), y, y_new, type(state.z)(refr), x
            )
            out = (v, refr) if store else None
            return (i + 1, y_new.v, z.refractory), (spike, out)

        def block(carry, xs):
            carry, (spikes, stored) = jax.lax.scan(step, carry, xs)
            return carry, (carry[1], spikes.sum(0), stored)

        xs = inputs.reshape(n_blocks, every, *inputs.shape[1:])
        carry = (jnp.asarray(0, jnp.int32), v0, refr0)
        (_, v_end, refr_end), (saved, counts, stored) = jax.lax.scan(block, carry, xs)
        return (saved, counts, v_end, refr_end), stored

    @jax.custom_vjp
    def run(p, v0, refr0, inputs, dt, t0):
        return forward(p, v0, refr0, inputs, dt, t0, store=False)[0]

    def run_fwd(p, v0, refr0, inputs, dt, t0):
        def wrapped(x):
            return isinstance(x, CustomVJPPrimal)

        for name, arg in (("the inputs", inputs), ("dt", dt), ("t0", t0)):
            if any(a.perturbed for a in jtu.tree_leaves(arg, is_leaf=wrapped)):
                raise _unsupported(f"a derivative w.r.t. {name} was asked for")
        p, v0, refr0, inputs, dt, t0 = jtu.tree_map(
            lambda a: a.value, (p, v0, refr0, inputs, dt, t0), is_leaf=wrapped
        )
        out, stored = forward(p, v0, refr0, inputs, dt, t0, store=True)
        return out, (p, inputs, dt, t0, stored)

    def run_bwd(res, cts):
        p, inputs, dt, t0, (v_st, refr_st) = res
        ct_saved, ct_counts, ct_v_end, ct_refr_end = (
            _instantiate(c, like)
            for c, like in zip(cts, _out_shapes(p, v_st, refr_st), strict=True)
        )
        grads, a0, r0 = _lif_backward(
            with_params(p), inputs, dt, t0, v_st, refr_st, ct_saved, ct_counts, ct_v_end,
            ct_refr_end, every,
        )  # fmt: skip
        g = eqx.filter(grads, eqx.is_inexact_array)
        return g, a0, r0, None, None, None

    def _out_shapes(p, v_st, refr_st):
        saved = jnp.zeros(v_st.shape[:1] + v_st.shape[2:], v_st.dtype)
        last = jnp.zeros(v_st.shape[2:], v_st.dtype)
        return saved, saved, last, jnp.zeros(refr_st.shape[2:], refr_st.dtype)

    run.defvjp(run_fwd, run_bwd, symbolic_zeros=True)

    saved, counts, v_end, refr_end = run(params, state.y.v, state.z.refractory, inputs, dt, t0)
    y_type, z_type = type(state.y), type(state.z)
    spikes = None
    if saveat.spikes:
        spikes = counts if saveat.spike_dtype is None else counts.astype(saveat.spike_dtype)
    steps = every * jnp.arange(1, n_blocks + 1, dtype=jnp.int32)
    from neurojax._model import ModelState

    return Solution(
        t=t0 + steps.astype(t0.dtype) * dt,
        states=y_type(v=saved),
        spikes=spikes,
        final_state=ModelState(y_type(v=v_end), z_type(refr_end)),
    )


def _instantiate(ct, like):
    """A cotangent that JAX passed as a symbolic zero, as zeros (`symbolic_zeros=True`)."""
    if ct is None or isinstance(ct, SymbolicZero):
        return jnp.zeros_like(like)
    return ct


def _lif_backward(m, inputs, dt, t0, v_st, refr_st, ct_saved, ct_counts, ct_v_end, ct_refr_end,
                  every):  # fmt: skip
    """The reverse pass of a LIF run: the cotangents of the parameters (a LIF), of V₀ and of
    the refractory timer's initial value."""
    from neurojax.solvers._exponential_euler import GROWTH_CAP, phi1, stable_part

    c = 1.0 / m.tau  # the model's own factor (`LIF.vector_field`)
    lam = stable_part(-c, dt, GROWTH_CAP)  # `diagonal_jacobian`'s rate, capped as the solver
    z = lam * dt
    p, dp = jax.jvp(phi1, (z,), (jnp.ones_like(z),))  # φ₁(λ·dt), φ₁′(λ·dt): per neuron
    dtp = dt * p
    k_v = 1.0 + dtp * (-c)  # ∂raw/∂V: raw = V + dt·φ₁·f, f = (−(V − v_rest) + R·I)·c
    surrogate = m.surrogate
    half = dt / 2

    def surrogate_derivative(x):
        d = surrogate.derivative(x)
        return d if surrogate.scale == 1.0 else surrogate.scale * d

    def step(carry, xs):
        a, rho, acc0, acc1, acc2, g_reset, g_th, g_ref = carry
        v, refr, x, s_bar = xs
        g = -(v - m.v_rest) + m.r * x  # f / c, as `LIF.vector_field` computes it
        raw = v + dtp * (g * c)  # the same value as the forward step's (`_leaf_step`)
        held = refr > half
        v1 = jnp.where(held, m.v_reset, raw)
        spike = (v1 - m.v_th >= 0).astype(v.dtype)
        # V → min(V₁, v_th) − sg(spike)·(min(V₁, v_th) − v_reset)  (`threshold_reset`)
        v2_bar = a * (1.0 - spike)
        g_reset = g_reset + a * spike
        m1 = jnp.where(v1 < m.v_th, 1.0, jnp.where(v1 == m.v_th, 0.5, 0.0))  # lax.min's rule
        d = surrogate_derivative(v1 - m.v_th) * s_bar
        v1_bar = v2_bar * m1 + d
        g_th = g_th + v2_bar * (1.0 - m1) - d
        # refractory' = where(spike, t_ref, max(refr − dt, 0))
        g_ref = g_ref + rho * spike
        left = refr - dt
        dmax = jnp.where(left > 0, 1.0, jnp.where(left == 0, 0.5, 0.0))  # lax.max's rule
        rho = rho * (1.0 - spike) * dmax
        g_reset = g_reset + jnp.where(held, v1_bar, 0.0)
        raw_bar = jnp.where(held, 0.0, v1_bar)
        a = raw_bar * k_v
        return (a, rho, acc0 + raw_bar, acc1 + raw_bar * x, acc2 + raw_bar * g, g_reset, g_th,
                g_ref), None  # fmt: skip

    def block(carry, xs):
        ct_v, ct_count, v_blk, refr_blk, x_blk = xs
        a = carry[0] + ct_v  # the state saved after this block
        n = v_blk.shape[0]
        s_bar = jnp.broadcast_to(ct_count, (n, *ct_count.shape))
        carry, _ = jax.lax.scan(step, (a, *carry[1:]), (v_blk, refr_blk, x_blk, s_bar),
                                reverse=True)  # fmt: skip
        return carry, None

    n_blocks = v_st.shape[0]
    xs_in = inputs.reshape(n_blocks, every, *inputs.shape[1:])
    zero = jnp.zeros_like(ct_v_end)
    carry = (ct_v_end, ct_refr_end.astype(zero.dtype), zero, zero, zero, zero, zero, zero)
    carry, _ = jax.lax.scan(block, carry, (ct_saved, ct_counts, v_st, refr_st, xs_in),
                            reverse=True)  # fmt: skip
    a, rho, acc0, acc1, acc2, g_reset, g_th, g_ref = carry
    # raw's partials, summed over the steps: ∂/∂v_rest = dt·φ₁·c, ∂/∂R = dt·φ₁·c·I,
    # ∂/∂c = dt·φ₁·g + dt·f·φ₁′·∂z/∂c with z = −c·dt (the cap inactive: λ < 0 < cap)
    g_c = dtp * acc2 - dt * dt * dp * c * acc2
    grads = eqx.tree_at(
        lambda mm: (mm.tau, mm.v_rest, mm.v_reset, mm.v_th, mm.r, mm.t_ref),
        m,
        (
            _reduce_to(g_c * (-(c * c)), m.tau),  # d(1/τ)/dτ = −1/τ²
            _reduce_to(dtp * c * acc0, m.v_rest),
            _reduce_to(g_reset, m.v_reset),
            _reduce_to(g_th, m.v_th),
            _reduce_to(dtp * c * acc1, m.r),
            _reduce_to(g_ref, m.t_ref),
        ),
    )
    return grads, a, rho.astype(refr_st.dtype)


def _reduce_to(g, like):
    """`g` (per neuron) summed to the shape of the parameter `like` (a broadcast's
    transpose)."""
    like = jnp.asarray(like)
    if g.shape == like.shape:
        return g.astype(like.dtype)
    extra = g.ndim - like.ndim
    g = g.sum(tuple(range(extra))) if extra > 0 else g
    axes = tuple(
        i for i, (a, b) in enumerate(zip(g.shape, like.shape, strict=True)) if b == 1 and a != 1
    )
    if axes:
        g = g.sum(axes, keepdims=True)
    return g.astype(like.dtype)
