"""What `simulate` keeps: `SaveAt`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np


def _as_count(x):
    """A numpy integer (`np.int64(4)`, e.g. from a computed step count) as a Python int,
    so the static field hashes and compares like one; anything else is left for the
    check to refuse."""
    if isinstance(x, np.integer) and not isinstance(x, np.bool_):
        return int(x)
    return x


def _as_flag(x):
    """A NumPy bool (`np.bool_(False)`, e.g. from a comparison) as a Python bool: stored
    as is, it was a static field holding an array (equinox warned "A JAX array is being
    set as static!"); anything else is left for the check to refuse."""
    return bool(x) if isinstance(x, np.bool_) else x


class SaveAt(eqx.Module):
    """What to keep of a run, passed as `simulate(..., saveat=SaveAt(...))` (and `fit`).

    - `every`: keep the state at the end of every `every`-th step (must divide `n_steps`);
      events (spikes) are summed over the `every` steps, so none is lost.
    - `vars`: names of the state variables to keep (e.g. `("v",)`); default all.
    - `fn`: instead of `vars`, any function `fn(y) -> pytree` of the continuous state
      (a population mean, the voltage at a few compartments, one output per population).
    - `spikes`: keep the events (spike counts) at all; `False` keeps none.
    - `spike_dtype`: dtype of the kept spike counts. `None` keeps the model's floating dtype,
      through which surrogate gradients flow; a small integer type (`jnp.uint8` for
      `every < 256`, `jnp.uint16` above) keeps them 4× smaller, without gradients.

    Each quantity is kept once: `Solution.v` reads the kept state, it is not a copy.
    """

    every: int = eqx.field(default=1, static=True, converter=_as_count)
    vars: tuple[str, ...] | None = eqx.field(default=None, static=True)
    fn: Callable[[Any], Any] | None = eqx.field(default=None, static=True)
    spikes: bool = eqx.field(default=True, static=True, converter=_as_flag)
    spike_dtype: Any = eqx.field(default=None, static=True)

    def __check_init__(self):
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(
                f"SaveAt(every={self.every!r}): every must be an int >= 1 (steps between "
                "saved states)."
            )
        if not isinstance(self.spikes, (bool, np.bool_)):
            # a string such as "no" would be truthy and keep the spikes
            raise TypeError(f"SaveAt(spikes={self.spikes!r}): spikes must be True or False.")
        if not self.spikes and self.spike_dtype is not None:
            # options that contradict each other: the dtype would be silently ignored
            raise ValueError(
                f"SaveAt(spikes=False, spike_dtype={self.spike_dtype!r}): no spikes are kept, "
                "so there is nothing to store in that dtype; drop one of the two."
            )
        if self.vars is not None and self.fn is not None:
            raise ValueError("SaveAt takes either vars= or fn=, not both.")
        if self.vars is not None:
            if isinstance(self.vars, str) or not all(isinstance(v, str) for v in self.vars):
                raise TypeError(
                    f"SaveAt(vars={self.vars!r}): vars must be a tuple of state variable "
                    "names, e.g. vars=('v',)."
                )
        if self.fn is not None and not callable(self.fn):
            raise TypeError(f"SaveAt(fn={self.fn!r}): fn must be a function of the state.")
        if self.spike_dtype is not None:
            try:
                dt = jnp.dtype(self.spike_dtype)
            except TypeError:
                raise TypeError(
                    f"SaveAt(spike_dtype={self.spike_dtype!r}) is not a dtype; use None, "
                    "jnp.uint8, jnp.uint16 or a floating type."
                ) from None
            if not (jnp.issubdtype(dt, jnp.integer) or jnp.issubdtype(dt, jnp.floating)):
                raise TypeError(f"SaveAt(spike_dtype={self.spike_dtype!r}) must be numeric.")
            if jnp.issubdtype(dt, jnp.integer) and jnp.iinfo(dt).max < self.every:
                raise ValueError(
                    f"SaveAt(spike_dtype={dt.name}) cannot hold counts of up to every="
                    f"{self.every} spikes; use a wider type (jnp.uint16, jnp.int32)."
                )
            if jnp.issubdtype(dt, jnp.floating) and 2 ** (jnp.finfo(dt).nmant + 1) < self.every:
                # float16 counts exactly only up to 2048 (bfloat16: 256): a count summed
                # over more steps than that was rounded without a word
                raise ValueError(
                    f"SaveAt(spike_dtype={dt.name}) holds whole counts exactly only up to "
                    f"{2 ** (jnp.finfo(dt).nmant + 1)}, fewer than every={self.every} steps; "
                    "use jnp.uint16/jnp.int32, float32, or a smaller every."
                )
