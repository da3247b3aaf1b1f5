from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._errors import check_choice
from .._model import POSITIVE, parameter
from .._units import UnitSystem
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._base import AbstractNeuron, threshold_reset


class IzhikevichState(NamedTuple):
    v: Array  # membrane potential, mV
    u: Array  # recovery variable, mV/ms (the paper's units of I)


# Izhikevich (2003), Fig. 2: (a, b, c, d) of the cortical and thalamic cell classes.
IZHIKEVICH2003: dict[str, dict[str, float]] = {
    "regular_spiking": dict(a=0.02, b=0.2, c=-65.0, d=8.0),
    "intrinsically_bursting": dict(a=0.02, b=0.2, c=-55.0, d=4.0),
    "chattering": dict(a=0.02, b=0.2, c=-50.0, d=2.0),
    "fast_spiking": dict(a=0.1, b=0.2, c=-65.0, d=2.0),
    "low_threshold_spiking": dict(a=0.02, b=0.25, c=-65.0, d=2.0),
    "thalamo_cortical": dict(a=0.02, b=0.25, c=-65.0, d=0.05),
    "resonator": dict(a=0.1, b=0.26, c=-65.0, d=2.0),
}
"""The (a, b, c, d) of the cell classes of Izhikevich (2003), Fig. 2."""


class Izhikevich(AbstractNeuron):
    r"""Izhikevich's (2003) simple spiking model.

    $$\frac{dv}{dt} = 0.04 v^2 + 5 v + 140 - u + I, \qquad \frac{du}{dt} = a (b v - u)$$

    and when `v ≥ v_th` (30 mV, the spike peak): a spike, `v → c`, `u → u + d`. The
    emitted spike carries the surrogate gradient; the reset and the jump are detached from
    it, as for every integrate-and-fire model (see `threshold_reset`; `c` and `d` still
    get their gradients). The paper's
    names are kept: `a` (1/ms) is the recovery rate, `b` (dimensionless) the sensitivity
    of `u` to `v`, `c` (mV) the reset potential and `d` (mV/ms) the recovery jump.

    Units as in the paper: v in mV, t in ms; `I` and `u` enter dv/dt directly, so they are
    in mV/ms (a current divided by the membrane capacitance; the paper calls them
    dimensionless). `I = 10` drives a regular-spiking cell to tonic firing. The quadratic
    is evaluated with v clamped at `v_th`, so a solver stage that overshoots the peak
    stays finite.

    Defaults: regular spiking (a, b, c, d) = (0.02, 0.2, −65, 8). Other classes:
    `Izhikevich.izhikevich2003("fast_spiking")` (see `IZHIKEVICH2003`). Starts at
    v = `v_init` = −65 mV, u = b·v (the paper's code); the rest for `I = 0` is the lower root
    of `0.04v² + (5 − b)v + 140 = 0` (−70 mV for b = 0.2).

    Reference: Izhikevich (2003) IEEE Trans Neural Netw 14:1569–1572.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = UnitSystem(voltage="mV", time="ms", current="mV/ms").named(
        voltage=("v", "c", "v_th", "v_init"), current=("u", "d"), a="1/ms"
    )

    a: Array = parameter(0.02, POSITIVE)
    b: Array = parameter(0.2)
    c: Array = parameter(-65.0)
    d: Array = parameter(8.0)
    v_th: Array = parameter(30.0)
    v_init: Array = parameter(-65.0)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    def __check_init__(self):
        if _reset_not_below_peak(self) is True:
            raise ValueError(_reset_message(self))

    def check_call(self, inputs, dt):
        """`c < v_th` for concrete values set after construction (`eqx.tree_at`)."""
        if _reset_not_below_peak(self) is True:
            raise ValueError(_reset_message(self))
        return ()

    @classmethod
    def izhikevich2003(cls, cell_type: str, **overrides) -> Izhikevich:
        """The model with the (a, b, c, d) of one of the cell classes of Izhikevich (2003),
        Fig. 2: regular_spiking, intrinsically_bursting, chattering, fast_spiking,
        low_threshold_spiking, thalamo_cortical, resonator."""
        check_choice("Izhikevich (2003) cell type", cell_type, IZHIKEVICH2003)
        return cls(**{**IZHIKEVICH2003[cell_type], **overrides})

    def init_state(self, batch_shape=()):
        v = self.full(self.v_init, batch_shape)
        return IzhikevichState(v=v, u=self.b * v)

    def vector_field(self, t, state, current):
        v = jnp.minimum(state.v, self.v_th)
        return IzhikevichState(
            v=0.04 * v**2 + 5.0 * v + 140.0 - state.u + current,
            u=self.a * (self.b * v - state.u),
        )

    def event_step(self, info, y_old, y_new, z, current):
        v, spike = threshold_reset(self.surrogate, y_new.v, self.v_th, self.c)
        # the recovery jump is part of the reset: detached like it (see `threshold_reset`)
        u = y_new.u + self.d * jax.lax.stop_gradient(spike)
        return IzhikevichState(v=v, u=u), z, spike


def _reset_not_below_peak(model):
    """True when a concrete reset `c` is at or above the peak `v_th` (a spike at every
    step, whatever the input); None when traced or not comparable."""
    c, v_th = model.c, model.v_th
    if isinstance(c, jax.core.Tracer) or isinstance(v_th, jax.core.Tracer):
        return None
    try:
        c, v_th = np.asarray(c, dtype=float), np.asarray(v_th, dtype=float)
    except (TypeError, ValueError):
        return None
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(v_th))):
        return None  # NaN/inf: the parameter domain check names it
    try:
        return bool(np.any(~(c < v_th)))
    except ValueError:
        return None


def _reset_message(model) -> str:
    return (
        f"Izhikevich needs the reset c below the spike peak v_th (got c="
        f"{np.asarray(model.c).tolist()}, v_th={np.asarray(model.v_th).tolist()} mV): reset "
        "at or above it, the neuron would spike at every step whatever its input."
    )
