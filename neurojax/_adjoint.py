"""How to differentiate a run: typed strategies shared by `simulate` and `fit`.

The adjoint passed to `simulate` decides what `jax.grad` / `jax.jvp` through it do:
`DirectAdjoint` and `CheckpointAdjoint` are reverse mode (with and without chunked
checkpointing; `jax.jvp` works too), `ForwardMode` is forward mode only — `jax.jvp`,
`jax.jacfwd` and `jax.linearize` work and store nothing per step, while `jax.grad`,
`jax.vjp` and `jax.jacrev` raise, saying what to use instead. The same object gives
`fit` the value and gradient of its loss (`AbstractAdjoint.value_and_grad`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.tree_util as jtu
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

# A differentiated run whose states (one per step, what reverse mode stores) fit in
# `AUTO_CHECKPOINT_BYTES` is not checkpointed, however many steps it has: chunked
# checkpointing costs one more forward run in the backward pass, whatever the chunk
# length (each chunk is recomputed before its steps are replayed). Measured on Hay's L5
# cell (`bench_hay2011.py`, 40 000 steps, 12 kB of state per step, TR-BDF2, CPU time,
# one process, shared 2-core VM): chunks of √n 6.2× the forward run, 42.6 CPU-s to
# compile, 5.2 MB; unchunked 4.4×, 27.0 CPU-s, 479 MB.
# Above the budget a network of 10⁴ dendritic neurons, 1.5 MB per step, planned 13.8 GB
# through 1 s (10⁴ steps saved every 100) without checkpointing (benchmarks/README.md).
# 512 MiB: a realistic cell through 1 s fits, under issue 18's 1 GB aim with room for the
# program's other buffers.
AUTO_CHECKPOINT_BYTES = 512 * 2**20
# Where the state's size is not known (`state_bytes=0`: a direct call, or a run that is
# not differentiated), above this many saved blocks: chunks of √n, as before.
AUTO_CHECKPOINT_ABOVE = 10_000


class AbstractAdjoint(eqx.Module):
    """How gradients of a run are computed (diffrax's `adjoint=`). The forward values are
    the same whichever is chosen."""

    def prepare(self, tree):
        """Applied by `simulate` to everything entering the run (model, initial state,
        inputs, `dt`, `t0`) inside the caller's trace; the identity for reverse modes."""
        return tree

    def value_and_grad(self, fn: Callable, x) -> tuple[Any, Any]:
        """Value and gradient of the scalar `fn(x)` (a pytree `x`) in this adjoint's mode:
        `jax.value_and_grad` for reverse modes."""
        return jax.value_and_grad(fn)(x)

    def reverse_differentiable(self, fn: Callable) -> Callable:
        """`fn` (scalar-valued) in a form that `jax.grad` / `jax.linearize`+transpose
        (optax's line search) can differentiate, with the gradient computed by
        `value_and_grad`; `fn` itself for reverse modes."""
        return fn

    def checkpoint_every(
        self, n_blocks: int, steps_per_block: int = 1, state_bytes: int = 0
    ) -> int | None:
        """Chunk length (in saved blocks of `steps_per_block` steps) for
        `jax.checkpoint`, or `None` for none; `state_bytes` is what one step's state costs
        to store (0 when unknown)."""
        return None

    def recompute_steps(self) -> bool:
        """Whether reverse mode stores only the state after each step and recomputes the
        step's intermediates from it in the backward pass (`jax.checkpoint` around every
        step; default), instead of storing every intermediate of every step.

        Recomputing costs one more evaluation of the step in the backward pass and is
        nevertheless much faster: the backward step then is one fused computation (the
        replayed step and its transpose) that reads one state per step, where stacking
        the dozens of intermediates of a step (rates, exponentials, the branches of each
        `where`) cost 20–100× the forward run on CPU (HH, 4000 steps with `Euler`: 32–72
        → 0.5 ms; docs/architecture.md, "Gradient cost"). Memory per stored step: the
        state, not its intermediates (HH: 24 instead of ~170 bytes)."""
        return True


class DirectAdjoint(AbstractAdjoint):
    """Reverse mode through the time loop without chunking: the state after every step is
    stored and each step is recomputed from it in the backward pass (see
    `AbstractAdjoint.recompute_steps`). The fastest gradient for runs whose states fit in
    memory: O(n_steps) states."""


class CheckpointAdjoint(AbstractAdjoint):
    """Reverse mode with gradient checkpointing: the run is cut into chunks of `every`
    saved blocks, only each chunk's initial state is stored, and a chunk is recomputed
    during the backward pass (within it, each step from its state, as `DirectAdjoint`).
    Memory O(n/every + every) states, for one extra forward run. `every=None` checkpoints
    only where memory asks for it: a differentiated run whose stored states (one per
    step) fit in `AUTO_CHECKPOINT_BYTES` (512 MiB) is not checkpointed (then it is
    `DirectAdjoint`), whatever its length — the extra forward run cost Hay's L5 cell
    through 1 s (40 000 steps, 479 MB of states) 6.2× instead of 4.4× its forward run;
    above the budget it takes chunks of `√(n_blocks / steps per block)` blocks, which
    minimises the states kept (chunk boundaries plus one chunk's steps). Measured: 10⁴
    dendritic neurons, 1 s, saved every 100 steps: XLA plans 13.8 GB without
    checkpointing, 358 MB with chunks of one block. Called without the state's size
    (`state_bytes=0`), it chooses `√n` above 10⁴ blocks."""

    every: int | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if self.every is not None and (
            isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1
        ):
            raise ValueError(
                f"CheckpointAdjoint(every={self.every!r}): every must be an int >= 1 or None."
            )

    def checkpoint_every(
        self, n_blocks: int, steps_per_block: int = 1, state_bytes: int = 0
    ) -> int | None:
        if self.every is not None:
            return self.every
        if state_bytes <= 0:  # size unknown: by the count of blocks
            if n_blocks > AUTO_CHECKPOINT_ABOVE:
                return max(int(math.isqrt(n_blocks)), 1)
            return None
        if n_blocks * steps_per_block * state_bytes > AUTO_CHECKPOINT_BYTES:
            return max(int(math.isqrt(n_blocks // steps_per_block)), 1)
        return None


class ForwardMode(AbstractAdjoint):
    """Forward-mode differentiation (JVPs): nothing is stored per step, cost grows with the
    number of parameters.

    `simulate(..., adjoint=ForwardMode())` is differentiable in forward mode only:
    `jax.jvp`, `jax.jacfwd` and `jax.linearize` through it work (under `jit` and `vmap`
    too, and nested), while `jax.grad`, `jax.vjp` and `jax.jacrev` raise a `TypeError`
    naming `ForwardMode` and the alternatives (`jax.jacfwd`, or `CheckpointAdjoint()`).
    `fit` computes its gradient with one batched JVP (`value_and_grad`)."""

    def recompute_steps(self) -> bool:
        return False

    def prepare(self, tree):
        return jtu.tree_map(forward_only, tree)

    def value_and_grad(self, fn: Callable, x) -> tuple[Any, Any]:
        return forward_value_and_grad(fn, x)

    def reverse_differentiable(self, fn: Callable) -> Callable:
        return _ForwardGradient(fn)


def forward_value_and_grad(fn: Callable, x) -> tuple[Any, Any]:
    """Value and gradient of a scalar `fn(x)` by forward mode: one JVP per scalar in `x`,
    batched with `vmap` so the primal computation runs once. Memory does not grow with the
    number of time steps (nothing is stored for a backward pass)."""
    flat, unravel = jax.flatten_util.ravel_pytree(x)
    basis = jnp.eye(flat.size, dtype=flat.dtype)

    def push(t):
        return jax.jvp(lambda y: fn(unravel(y)), (flat,), (t,))

    value, tangents = jax.vmap(push, out_axes=(None, 0))(basis)
    return value, unravel(tangents)


class _ForwardGradient(eqx.Module):
    """`fn` whose reverse-mode derivative is computed by forward mode inside a custom VJP
    (`ForwardMode.reverse_differentiable`)."""

    fn: Callable

    def __call__(self, x):
        return _forward_gradient_call(x, self.fn)


@eqx.filter_custom_vjp
def _forward_gradient_call(x, fn):
    return fn(x)


@_forward_gradient_call.def_fwd
def _forward_gradient_fwd(perturbed, x, fn):
    return forward_value_and_grad(fn, x)


@_forward_gradient_call.def_bwd
def _forward_gradient_bwd(grad_x, g, perturbed, x, fn):
    return jtu.tree_map(lambda d: g * d, grad_x)


# --------------------------------------------------------------------------------------
# The forward-only marker: the identity, linear in its tangent, whose transpose raises.
# `ForwardMode.prepare` wraps every floating array entering a run in it, so reverse mode
# through the run fails at once with a message, instead of quietly storing every step.

_REVERSE_MESSAGE = (
    "simulate(..., adjoint=ForwardMode()) is differentiable in forward mode only: "
    "jax.grad, jax.vjp and jax.jacrev through it are not available (the run stores "
    "nothing per step for a backward pass). Use jax.jvp / jax.jacfwd (forward mode; "
    "jax.jacfwd gives the gradient of a scalar at the cost of one JVP per parameter), or "
    "pass adjoint=neurojax.CheckpointAdjoint() (or DirectAdjoint()) for reverse mode."
)

forward_only_p = Primitive("neurojax_forward_only")
forward_only_p.def_impl(lambda x: x)
forward_only_p.def_abstract_eval(lambda x: x)
mlir.register_lowering(forward_only_p, mlir.lower_fun(lambda x: x, multiple_results=False))


def _forward_only_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    if type(t) is ad.Zero:
        return forward_only_p.bind(x), t
    return forward_only_p.bind(x), forward_only_p.bind(t)


def _forward_only_transpose(ct, x):
    raise TypeError(_REVERSE_MESSAGE)


ad.primitive_jvps[forward_only_p] = _forward_only_jvp
ad.primitive_transposes[forward_only_p] = _forward_only_transpose
batching.primitive_batchers[forward_only_p] = lambda args, dims: (
    forward_only_p.bind(args[0]),
    dims[0],
)


def forward_only(x):
    """`x` marked as differentiable in forward mode only (floating arrays; anything else,
    and empty arrays, are returned as they are)."""
    if not (eqx.is_array(x) or isinstance(x, jax.core.Tracer)):
        return x
    if not jnp.issubdtype(x.dtype, jnp.inexact) or x.size == 0:
        return x
    return forward_only_p.bind(x)
