"""The integrate-and-fire family's shared event step: threshold, reset, refractoriness."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..surrogate import AbstractSurrogate
from ._base import AbstractNeuron, threshold_reset


class RefractoryState(NamedTuple):
    """Discrete state of an integrate-and-fire neuron."""

    refractory: Array  # refractory time left, ms (V is held at v_reset while > 0)


class AbstractIntegrateAndFire(AbstractNeuron):
    """An integrate-and-fire neuron: a smooth subthreshold ODE for `y` (with `y.v` in mV)
    and, written once here, the discrete part — when V reaches `v_th` a spike, V →
    `v_reset`, held there for `t_ref` ms (`round(t_ref/dt)` steps; the `dt/2` margin makes
    the count robust to rounding). The refractory timer is discrete state: solvers never
    integrate it. `after_spike(y, spike)` adds model-specific jumps (AdEx's `w += b`).
    """

    v_th: eqx.AbstractVar[Array]
    v_reset: eqx.AbstractVar[Array]
    t_ref: eqx.AbstractVar[Array]
    surrogate: eqx.AbstractVar[AbstractSurrogate]

    def __check_init__(self):
        # concrete values now; a reset edited in afterwards (`eqx.tree_at`, a fit's step)
        # or traced is checked by `check_call` when `simulate` is called
        bad = _reset_not_below_threshold(self)
        if bad is not None and not isinstance(bad, jax.core.Tracer) and bool(bad):
            raise ValueError(_reset_message(self))

    def check_call(self, inputs, dt):
        """`v_reset < v_th` for concrete values set after construction (`eqx.tree_at`).
        Traced values (a fit's step) are left alone: a fit that wanders there sees a
        neuron firing at every step, a bad loss, and moves away, where an error would end
        it."""
        bad = _reset_not_below_threshold(self)
        if bad is None or isinstance(bad, jax.core.Tracer):
            return ()
        if bool(bad):
            raise ValueError(_reset_message(self))
        return ()

    def init_discrete(self, batch_shape=()):
        return RefractoryState(refractory=self.full(0.0, batch_shape))

    def after_spike(self, y, spike):
        """Jumps other than the voltage reset, applied where `spike` is 1 (none here)."""
        return y

    def event_step(self, info, y_old, y_new, z, inputs):
        held = z.refractory > info.dt / 2
        v = jnp.where(held, self.v_reset, y_new.v)
        v, spike = threshold_reset(self.surrogate, v, self.v_th, self.v_reset)
        refractory = jnp.where(spike > 0, self.t_ref, jnp.maximum(z.refractory - info.dt, 0.0))
        y = self.after_spike(y_new._replace(v=v), spike)
        return y, RefractoryState(refractory.astype(z.refractory.dtype)), spike


def _reset_not_below_threshold(model):
    """Whether any `v_reset >= v_th` (a traced boolean when either is traced), or None if
    they are not both arrays (a malformed model: the parameter checks name it)."""
    v_reset, v_th = getattr(model, "v_reset", None), getattr(model, "v_th", None)
    if not (eqx.is_array(v_reset) or isinstance(v_reset, jax.core.Tracer)):
        return None
    if not (eqx.is_array(v_th) or isinstance(v_th, jax.core.Tracer)):
        return None
    if isinstance(v_reset, jax.core.Tracer) or isinstance(v_th, jax.core.Tracer):
        return jnp.any(~(v_reset < v_th))
    a, b = np.asarray(v_reset), np.asarray(v_th)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return None  # NaN/inf: the parameter domain check names it
    try:
        return np.any(~(a < b))
    except ValueError:  # shapes that do not broadcast: `simulate` names them
        return None


def _reset_message(model) -> str:
    name = type(model).__name__
    got = (
        f"got v_reset={np.asarray(model.v_reset).tolist()}, v_th={np.asarray(model.v_th).tolist()}"
    )
    return (
        f"{name} needs v_reset < v_th ({got}): reset at or above the threshold, the neuron "
        "would spike again at every step after its refractory period whatever its input. "
        "Pass a reset below the threshold, both in mV (a reset in V, e.g. -0.065, is above "
        "a threshold of -50 mV)."
    )
