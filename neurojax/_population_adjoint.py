"""A hand-written gradient for populations of LIF neurons (`PopulationAdjoint`).

`simulate(..., adjoint=PopulationAdjoint())` on a `LIF` population with
`ExponentialEuler` (its default solver) is a `jax.custom_vjp` around the time loop. Its
forward pass is the library's own forward run (nothing stored per step). Its backward
pass runs the population once more carrying *forward sensitivities*: for each quantity
being differentiated (a parameter, V₀, the refractory timer's start) the derivative of
every neuron's V w.r.t. that neuron's own copy of it — exact, because the neurons do not
interact, so the Jacobian of the outputs w.r.t. a per-neuron parameter is diagonal —
and contracts them with the outputs' cotangents as it goes (`_lif_sensitivities`). The
step's derivative is written out in closed form: a LIF neuron's rate `−1/τ`, `φ₁(−dt/τ)`
and `φ₁′` are the same at every step, so each sensitivity costs one multiply-add per
neuron-step plus the masks of the reset and the refractory hold, and nothing is stored.
A sensitivity is carried only for what is differentiated and for outputs whose cotangent
is not zero (the spike counts' surrogate terms only when a loss reads the spikes; the
timer's only when it reads the final timer).

Why not the adjoint (a backward loop): for a LIF step (0.5 ns per neuron-step on
XLA:CPU) storing its state per step costs more than the step itself — a hand-written
backward loop over stored states measured slower than the shipped autodiff (LIF 10⁴:
18.1× against 16.1× the forward run; `benchmarks/README.md`, "The population gradient").

Exact: the same derivative as autodiff of the shipped step (the surrogate spike, the
detached reset, `minimum`'s and `maximum`'s tie rule, `where`'s branches), to float
rounding (`tests/test_population_adjoint.py`: float64, every parameter and the initial
state, against `CheckpointAdjoint()` and central differences).

Differentiates with respect to the model's parameters and the initial state. Forward
mode (`jax.jvp`, `jax.jacfwd`) through it raises (`jax.custom_vjp`; use
`CheckpointAdjoint()` or `ForwardMode()` there), and so does a derivative w.r.t. the
inputs, `dt` or `t0`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jax.custom_derivatives import CustomVJPPrimal, SymbolicZero

from ._adjoint import AbstractAdjoint
from ._model import ModelState, StepInfo
from ._solution import Solution


class PopulationAdjoint(AbstractAdjoint):
    """Reverse mode (`jax.grad`, `jax.vjp`, `jax.jacrev`) by hand-written forward
    sensitivities, for uncoupled populations of `neurojax.LIF` neurons integrated by
    `ExponentialEuler` (their default): the same gradient as `CheckpointAdjoint()` to
    float rounding, 2–4× faster (LIF × 1000 steps, gradient ÷ forward run: 10³ neurons
    3.9× against 7.8×, 10⁴ 4.5× against 17.6×; `benchmarks/README.md`). Nothing is stored
    per step: the backward pass runs the population again, carrying one derivative per
    neuron for each differentiated parameter (and V₀), so it costs more per parameter
    differentiated, not per step kept.

    Differentiates with respect to the model's parameters and the initial state.
    Refused, with an error naming `CheckpointAdjoint()`: other models or solvers, a
    `SaveAt(fn=...)`, a PRNG `key`, a progress meter, and derivatives w.r.t. the inputs,
    `dt` or `t0`; forward mode (`jax.jvp`) raises JAX's TypeError. A run that is not
    differentiated is the ordinary forward run."""


def _unsupported(what: str) -> ValueError:
    return ValueError(
        f"PopulationAdjoint() differentiates populations of neurojax.LIF integrated by "
        f"ExponentialEuler (their default), w.r.t. the model's parameters and the initial "
        f"state; {what}. Use adjoint=neurojax.CheckpointAdjoint() (the default) instead."
    )


def check_population_adjoint(model, solver, key, saveat, progress_meter) -> None:
    """Raise a ValueError unless `PopulationAdjoint` can differentiate this run."""
    from ._progress import NoProgress
    from .neurons.lif import LIF
    from .solvers import ExponentialEuler

    if type(model) is not LIF:
        raise _unsupported(f"got a {type(model).__name__}")
    if type(solver) is not ExponentialEuler:
        raise _unsupported(f"got the solver {type(solver).__name__}")
    if saveat.fn is not None:
        raise _unsupported("got SaveAt(fn=...)")
    if key is not None:
        raise _unsupported("got a PRNG key")
    if not isinstance(progress_meter, NoProgress):
        raise _unsupported("got a progress meter")


def population_loop(model, solver, inputs, state, dt, t0, saveat) -> Solution:
    """The time loop of `_simulate._loop` for a differentiated LIF population, its reverse
    pass by forward sensitivities (`check_population_adjoint` has accepted the run)."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    every = saveat.every
    perturbed = {}  # what `jax.grad` differentiates, found by `run_fwd` (static)

    def with_params(p):
        return eqx.combine(p, static)

    @jax.custom_vjp
    def run(p, v0, refr0, inputs, dt, t0):
        return _lif_forward(with_params(p), solver, state, inputs, v0, refr0, dt, t0, every)

    def run_fwd(p, v0, refr0, inputs, dt, t0):
        def wrapped(x):
            return isinstance(x, CustomVJPPrimal)

        for name, arg in (("the inputs", inputs), ("dt", dt), ("t0", t0)):
            if any(a.perturbed for a in jtu.tree_leaves(arg, is_leaf=wrapped)):
                raise _unsupported(f"a derivative w.r.t. {name} was asked for")
        perturbed.update(
            {name: getattr(getattr(p, name), "perturbed", False) for name in _LIF_PARAMETERS},
            v0=v0.perturbed,
            refr0=refr0.perturbed,
        )
        args = jtu.tree_map(lambda a: a.value, (p, v0, refr0, inputs, dt, t0), is_leaf=wrapped)
        return run(*args), args

    def run_bwd(res, cts):
        p, v0, refr0, inputs, dt, t0 = res
        cts = tuple(None if isinstance(c, SymbolicZero) else c for c in cts)
        grads = _lif_sensitivities(with_params(p), inputs, v0, refr0, dt, every, cts, perturbed)
        zero = jnp.zeros_like
        keys = [k for k in _LIF_PARAMETERS if getattr(p, k) is not None]  # array leaves
        g = eqx.tree_at(
            lambda m: tuple(getattr(m, k) for k in keys),
            p,
            tuple(
                zero(getattr(p, k)) if grads.get(k) is None
                else _reduce_to(grads[k], getattr(p, k))
                for k in keys
            ),
        )  # fmt: skip
        g_v0 = zero(v0) if grads.get("v0") is None else _reduce_to(grads["v0"], v0)
        g_r0 = zero(refr0) if grads.get("refr0") is None else _reduce_to(grads["refr0"], refr0)
        return g, g_v0, g_r0, None, None, None

    run.defvjp(run_fwd, run_bwd, symbolic_zeros=True)

    saved, counts, v_end, refr_end = run(params, state.y.v, state.z.refractory, inputs, dt, t0)
    y_type, z_type = type(state.y), type(state.z)
    spikes = None
    if saveat.spikes:
        spikes = counts if saveat.spike_dtype is None else counts.astype(saveat.spike_dtype)
    steps = every * jnp.arange(1, saved.shape[0] + 1, dtype=jnp.int32)
    return Solution(
        t=t0 + steps.astype(t0.dtype) * dt,
        # `SaveAt(vars=...)` as `_simulate._loop`'s `keep`: a variable not kept is None
        states=y_type(v=saved if saveat.vars is None or "v" in saveat.vars else None),
        spikes=spikes,
        final_state=ModelState(y_type(v=v_end), z_type(refr_end)),
    )


_LIF_PARAMETERS = ("tau", "v_rest", "v_reset", "v_th", "r", "t_ref")


def _lif_forward(m, solver, state, inputs, v0, refr0, dt, t0, every):
    """The forward run with the library's step (`_simulate._loop`'s arithmetic): the saved
    V, the spike counts per saved block, the final V and refractory timer."""
    y_type, z_type = type(state.y), type(state.z)
    n_blocks = inputs.shape[0] // every

    def step(carry, x):
        i, v, refr, count = carry
        t = t0 + i.astype(t0.dtype) * dt
        y = y_type(v=v)
        y_new = solver.step(m, t, y, x, dt)
        y_new, z, spike = m.event_step(StepInfo(i, t, dt, None), y, y_new, z_type(refr), x)
        return (i + 1, y_new.v, z.refractory, count + spike), None

    def block(carry, xs):
        i, v, refr = carry
        (i, v, refr, count), _ = jax.lax.scan(step, (i, v, refr, jnp.zeros_like(v)), xs)
        return (i, v, refr), (v, count)

    xs = inputs.reshape(n_blocks, every, *inputs.shape[1:])
    carry = (jnp.asarray(0, jnp.int32), v0, refr0)
    (_, v_end, refr_end), (saved, counts) = jax.lax.scan(block, carry, xs)
    return saved, counts, v_end, refr_end


def _lif_sensitivities(m, inputs, v0, refr0, dt, every, cts, perturbed):
    """The gradient of a LIF run by forward sensitivities: the run again, carrying for each
    differentiated quantity k (a parameter, V₀, the refractory timer's start) the derivative
    of every neuron's V (or timer) w.r.t. that neuron's own k — exact, the neurons being
    uncoupled — contracted with the outputs' cotangents `cts` (None: not used) as it goes.
    Returns {k: per-neuron gradient}."""
    from .solvers._exponential_euler import GROWTH_CAP, phi1, stable_part

    ct_saved, ct_counts, ct_v_end, ct_refr_end = cts
    c = 1.0 / m.tau  # the model's own factor (`LIF.vector_field`)
    lam = stable_part(-c, dt, GROWTH_CAP)  # `diagonal_jacobian`'s rate, capped as the solver
    p, dp = jax.jvp(phi1, (lam * dt,), (jnp.ones_like(lam),))  # φ₁(λ·dt), φ₁′(λ·dt)
    dtp = dt * p
    k_v = 1.0 + dtp * (-c)  # ∂raw/∂V, raw = V + dt·φ₁·f, f = (−(V − v_rest) + R·I)·c
    # ∂raw/∂τ = (dt·φ₁·g + dt·f·φ₁′·∂z/∂c)·dc/dτ, g = f/c, z = −c·dt, c = 1/τ
    q_tau = (dtp - dt * dt * dp * c) * (-(c * c))
    surrogate = m.surrogate

    def surrogate_derivative(x):
        d = surrogate.derivative(x)
        return d if surrogate.scale == 1.0 else surrogate.scale * d

    # which derivatives to carry: V's w.r.t. these, if any output of V is used
    v_used = any(ct is not None for ct in (ct_saved, ct_counts, ct_v_end))
    v_keys = [k for k in ("tau", "v_rest", "v_reset", "v_th", "r", "v0") if perturbed.get(k)]
    v_keys = v_keys if v_used else []
    # the refractory timer's w.r.t. t_ref and its start (nothing else moves it continuously)
    r_keys = [k for k in ("t_ref", "refr0") if perturbed.get(k)] if ct_refr_end is not None else []
    counts_used = ct_counts is not None
    shape = jnp.shape(v0)
    zeros = jnp.zeros(shape, jnp.result_type(v0))

    def step(carry, x):
        v, refr, tv, tr, tc = carry
        g = -(v - m.v_rest) + m.r * x  # f / c, as `LIF.vector_field`
        raw = v + dtp * (g * c)  # `_leaf_step`'s value
        held = refr > dt / 2
        v1 = jnp.where(held, m.v_reset, raw)
        spike = (v1 - m.v_th >= 0).astype(v.dtype)
        v2 = jnp.minimum(v1, m.v_th)
        v_new = v2 - spike * (v2 - m.v_reset)
        left = refr - dt
        refr_new = jnp.where(spike > 0, m.t_ref, jnp.maximum(left, 0.0))
        # derivatives: where's branches, lax.min's and lax.max's tie rule (½ each)
        keep = jnp.where(held, 0.0, 1.0)
        m1 = jnp.where(v1 < m.v_th, 1.0, jnp.where(v1 == m.v_th, 0.5, 0.0))
        source = {"tau": q_tau * g, "v_rest": dtp * c, "r": dtp * c * x}
        d_surr = surrogate_derivative(v1 - m.v_th) if counts_used else None
        tv_new, tc_new = [], []
        for k, t in zip(v_keys, tv, strict=True):
            dv1 = keep * (k_v * t + source[k]) if k in source else keep * k_v * t
            if k == "v_reset":
                dv1 = dv1 + (1.0 - keep)
            dv2 = m1 * dv1 + (1.0 - m1) if k == "v_th" else m1 * dv1
            dv_new = (1.0 - spike) * dv2 + spike if k == "v_reset" else (1.0 - spike) * dv2
            tv_new.append(dv_new)
            if counts_used:
                tc_new.append(d_surr * (dv1 - 1.0 if k == "v_th" else dv1))
        dmax = jnp.where(left > 0, 1.0, jnp.where(left == 0, 0.5, 0.0))
        tr_new = [
            (1.0 - spike) * dmax * t + (spike if k == "t_ref" else 0.0)
            for k, t in zip(r_keys, tr, strict=True)
        ]
        tc = [a + b for a, b in zip(tc, tc_new, strict=True)]
        return (v_new, refr_new, tv_new, tr_new, tc), None

    def block(carry, xs):
        v, refr, tv, tr, acc = carry
        x, ct_v, ct_n = xs
        tc = [zeros for _ in v_keys] if counts_used else []
        (v, refr, tv, tr, tc), _ = jax.lax.scan(step, (v, refr, tv, tr, tc), x)
        acc = list(acc)
        for j in range(len(v_keys)):
            if ct_v is not None:
                acc[j] = acc[j] + ct_v * tv[j]
            if counts_used:
                acc[j] = acc[j] + ct_n * tc[j]
        return (v, refr, tv, tr, acc), None

    seed = {"v0": jnp.ones(shape, zeros.dtype)}
    tv0 = [seed.get(k, zeros) for k in v_keys]
    tr0 = [jnp.ones(shape, zeros.dtype) if k == "refr0" else zeros for k in r_keys]
    n_blocks = inputs.shape[0] // every
    xs = (inputs.reshape(n_blocks, every, *inputs.shape[1:]), ct_saved, ct_counts)
    carry = (v0, refr0, tv0, tr0, [zeros for _ in v_keys])
    (_, _, tv, tr, acc), _ = jax.lax.scan(block, carry, xs)
    grads = {}
    for j, k in enumerate(v_keys):
        grads[k] = acc[j] if ct_v_end is None else acc[j] + ct_v_end * tv[j]
    for j, k in enumerate(r_keys):
        grads[k] = ct_refr_end * tr[j]
    return grads


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
