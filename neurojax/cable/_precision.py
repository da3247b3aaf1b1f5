"""One refusal of half precision for every model (point neurons, cells, networks)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu


def check_precision(model, what: str | None = None) -> None:
    """Raise `TypeError` if any floating array of `model` (its parameters, at any depth)
    is in a precision below float32 (float16, bfloat16).

    Why refused rather than run: a membrane potential of −65 mV in float16 is resolved to
    0.03 mV, a step's update `dt·dV/dt` at dt = 0.025 ms is mostly below that resolution
    (silently lost), and the solvers' carries and linear solves mix the half-precision
    parameters with float32 times and fail deep inside JAX. Inputs may be any float: the
    models cast them to their own precision.

    The fix is in the message: cast the model to float32 (or float64 under x64)."""
    name = what or type(model).__name__
    for path, leaf in jtu.tree_flatten_with_path(model)[0]:
        if not eqx.is_inexact_array(leaf):
            continue
        dtype = jnp.dtype(leaf.dtype)
        if jnp.issubdtype(dtype, jnp.floating) and dtype.itemsize < 4:
            raise TypeError(
                f"{name}{jtu.keystr(path)} is {dtype}: neurojax simulates in float32 or "
                f"float64 only ({dtype} cannot resolve a step's voltage change). Cast the "
                "model: jax.tree.map(lambda x: x.astype(jnp.float32) if "
                "eqx.is_inexact_array(x) else x, model)."
            )
