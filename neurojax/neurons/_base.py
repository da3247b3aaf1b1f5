"""Shared machinery of point-neuron models."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jaxtyping import Array

from .._errors import check_instance
from .._model import AbstractModel, Elementwise
from .._newton import root
from ..surrogate import AbstractSurrogate


class AbstractNeuron(AbstractModel):
    """A point neuron (or a population of identical-form neurons).

    Parameters may be scalars or arrays; the population shape is the broadcast of the
    input batch shape with every parameter's shape. The input is one array, the injected
    current. Neurons are `Elementwise`: each neuron's variables depend only on that
    neuron, so every solver applies. Subclasses define `init_state`, `vector_field` and,
    if they spike, `event_step` (with `upward_crossing`), or derive from
    `AbstractIntegrateAndFire`.
    """

    structure = Elementwise()

    def __check_init__(self):
        surrogate = getattr(self, "surrogate", None)
        if surrogate is not None:
            check_instance(
                f"{type(self).__name__}(surrogate=...)",
                surrogate,
                AbstractSurrogate,
                "neurojax.surrogate.Sigmoid()",
            )

    def population_shape(self, batch_shape: tuple[int, ...] = ()) -> tuple[int, ...]:
        """Broadcast of the input batch shape and all parameter shapes, or a clear error."""
        shapes = {
            jtu.keystr(path): jnp.shape(leaf)
            for path, leaf in jtu.tree_flatten_with_path(self)[0]
            if jnp.ndim(leaf) > 0
        }
        try:
            return tuple(jnp.broadcast_shapes(tuple(batch_shape), *shapes.values()))
        except ValueError:
            detail = ", ".join(f"{k}: {v}" for k, v in shapes.items())
            raise ValueError(
                f"{type(self).__name__}: inputs with batch shape {tuple(batch_shape)} do not "
                f"broadcast with the parameter shapes ({detail}). Pass inputs shaped "
                "(n_steps, *population_shape), e.g. (n_steps, N) for N neurons with "
                "parameters of shape (N,)."
            ) from None

    @property
    def dtype(self):
        """The floating dtype of the parameters: the state takes it, so float32 parameters
        give a float32 run even with `jax_enable_x64` on."""
        leaves = [x for x in jtu.tree_leaves(self) if eqx.is_inexact_array(x)]
        return jnp.result_type(*leaves) if leaves else jnp.result_type(float)

    def full(self, value, batch_shape: tuple[int, ...]) -> Array:
        """`value` broadcast to the population shape, in the parameters' dtype."""
        shape = self.population_shape(batch_shape)
        return jnp.broadcast_to(jnp.asarray(value, dtype=self.dtype), shape) + 0.0


def upward_crossing(surrogate, v_old: Array, v_new: Array, v_th) -> Array:
    """Spike (exactly 0/1 forward) when V crosses `v_th` upwards during the step; the
    gradient flows through the surrogate of the new voltage."""
    return surrogate(v_new - v_th) * (1.0 - surrogate(jnp.asarray(v_old - v_th)))


def threshold_reset(surrogate, v: Array, v_th, v_reset) -> tuple[Array, Array]:
    """Integrate-and-fire spike and reset: `spike = H(v − v_th)`, then `v → v_reset` where it
    spiked, written `v − spike·(v − v_reset)` with the spike detached from the gradient
    there. `v` is capped at `v_th` first so a run-away upswing (exponential IF) never
    leaves an inf behind.

    Why detached: through the reset, each step near threshold multiplies ∂v/∂v by
    `1 − (v − v_reset)·H′(v − v_th)`, of size ~15 mV × 2.5/mV for a LIF, so gradients
    over a slow approach to threshold blow up to inf/NaN. Detaching the reset is the usual
    cure (Zenke & Vogels 2021, Neural Comput 33:899; snnTorch's default); gradients still
    flow through the `spike` output itself."""
    spike = surrogate(v - v_th)
    v = jnp.minimum(v, v_th)
    return v - jax.lax.stop_gradient(spike) * (v - v_reset), spike


def newton(f, x0: Array, args, n_iter: int = 25) -> Array:
    """Root of `f(x, args) = 0` by elementwise Newton iterations from `x0`, for an `f` that
    acts elementwise in `x` (each output depends only on the same element of `x`; then
    `f′` is one forward-mode JVP with a unit tangent). Used to start models exactly at
    rest.

    The iterations are `neurojax._newton.root` (elementwise), stopped at convergence to a
    few ulps or after `n_iter`; it traces once and runs under `jit`/`vmap`. The
    iterations see `args` through `stop_gradient`; two last Newton steps outside the loop
    carry the derivatives, without differentiating the loop (much cheaper to compile).
    From the detached root the first step's error is O(δargs²), so its first derivative
    is exactly the implicit-function derivative `dx/d args = −(∂f/∂args)/(∂f/∂x)`; Newton
    squares that error, so after the second step the second and third derivatives are
    exact too (with one step, Hessians through a model's rest state were silently wrong:
    FitzHugh–Nagumo's d²v_rest/da² came out 0 instead of 0.78). Where `f′(x) = 0` the
    iterate stays put instead of becoming inf.
    """

    def step(x, a):
        fx, dfx = jax.jvp(lambda x: f(x, a), (x,), (jnp.ones_like(x),))
        ok = dfx != 0
        return x - jnp.where(ok, fx / jnp.where(ok, dfx, 1.0), 0.0)

    frozen = jax.lax.stop_gradient(args)
    x0 = jax.lax.stop_gradient(jnp.asarray(x0))
    rtol = float(4 * jnp.finfo(jnp.result_type(x0)).eps)
    x = _detached_root(f, x0, frozen, rtol, n_iter)
    return step(step(x, args), args)


@eqx.filter_jit
def _detached_root(f, x0, args, rtol, n_iter):
    """`newton`'s iterations, compiled once per `f`, shapes and static fields: called
    eagerly (a model's `init_state` outside `jit`, e.g. under an eager `jax.grad`), an
    inline while loop captured the parameters as constants and compiled again for every
    new parameter value."""
    x, _, _ = root(lambda x: f(x, args), x0, rtol=rtol, max_steps=n_iter, elementwise=True)
    return x
