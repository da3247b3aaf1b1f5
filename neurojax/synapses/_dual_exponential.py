"""Dual-exponential and alpha synapses."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._model import POSITIVE, parameter
from ._base import AbstractSynapse, _short, check_tau_resolved, drive, optional_parameter, zeros


class DualExponentialState(NamedTuple):
    decay: Array  # slowly decaying component, µS (or nA)
    rise: Array  # fast component subtracted from it, µS (or nA); g = decay − rise


class DualExponential(AbstractSynapse):
    r"""Difference of exponentials, normalised to peak `w` for a single spike of weight `w`:

    $$g = a - b,\qquad \frac{da}{dt} = -\frac{a}{\tau_d},\qquad
      \frac{db}{dt} = -\frac{b}{\tau_r},\qquad a, b \to a + w/\eta,\ b + w/\eta$$

    so that after one spike at 0, `g(t) = (w/η)·(e^{−t/τ_d} − e^{−t/τ_r})`, peaking at `w`
    at `t_p = τ_dτ_r/(τ_d − τ_r)·ln(τ_d/τ_r)` (η is the peak of the bracket). Written as
    two independent decays (not the usual rise variable feeding the decay) because then
    each state variable is linear in itself alone and exponential Euler integrates it
    exactly; the coupled form lost 1 % of the peak at dt = 0.01 ms with τ_r = 0.5 ms.
    Needs `tau_decay > tau_rise`; use `Alpha` for equal time constants.

    Units: `tau_rise`, `tau_decay` in ms; `e_rev` in mV (conductance-based, g in µS) or
    `None` (current-based, g in nA). Reference: Roth & van Rossum (2009), *Modeling
    synapses*, in Computational Modeling Methods for Neuroscientists, MIT Press, ch. 6.
    """

    tau_rise: Array = parameter(0.5, POSITIVE)
    tau_decay: Array = parameter(5.0, POSITIVE)
    e_rev: Array | None = optional_parameter(None)

    def __check_init__(self):
        super().__check_init__()
        self._check_order()

    def _check_order(self):
        """Concrete `tau_decay > tau_rise`, apart by more than the float type resolves
        (`_close`): raise naming both."""
        td, tr = self.tau_decay, self.tau_rise
        if isinstance(td, jax.core.Tracer) or isinstance(tr, jax.core.Tracer):
            return
        try:
            ok = bool(jnp.all(td > tr))
        except Exception:
            return
        if not ok:
            raise ValueError(
                f"DualExponential needs tau_decay > tau_rise, got tau_rise={self.tau_rise}, "
                f"tau_decay={self.tau_decay}; use neurojax.synapses.Alpha for equal ones. The "
                "normalised conductance is symmetric in the two constants, so for "
                "tau_rise > tau_decay (as dendrify allows) swap them: the same synapse."
            )
        if bool(jnp.any(_close(td, tr))):
            raise ValueError(_close_message(td, tr))

    def _peak(self):
        td, tr = self.tau_decay, self.tau_rise
        tp = td * tr / (td - tr) * jnp.log(td / tr)
        return jnp.exp(-tp / td) - jnp.exp(-tp / tr)

    def check_call(self, dt):
        """`tau_decay > tau_rise`, resolvably apart, for traced time constants and for
        concrete ones edited after construction (`eqx.tree_at`); `tau_decay >= dt`."""
        td, tr = self.tau_decay, self.tau_rise
        if any(isinstance(x, jax.core.Tracer) for x in (td, tr, dt)):
            # one flag for the three conditions (one run-time check per synapse)
            message = (
                "DualExponential needs tau_decay > tau_rise, apart by more than the float "
                "type resolves, and tau_decay >= dt (a traced value broke one of them); use "
                "neurojax.synapses.Alpha for equal or close time constants, and dt <= "
                "tau_decay."
            )
            return ((jnp.any((td <= tr) | _close(td, tr) | (td < dt)), message),)
        out = check_tau_resolved("DualExponential", "tau_decay", td, dt)
        self._check_order()
        return out

    def init(self, shape=()):
        return DualExponentialState(decay=zeros(shape), rise=zeros(shape))

    def vector_field(self, state, v):
        return DualExponentialState(
            decay=-state.decay / self.tau_decay, rise=-state.rise / self.tau_rise
        )

    def on_arrival(self, state, x, dt):
        c = x / self._peak()
        return DualExponentialState(decay=state.decay + c, rise=state.rise + c)

    def conductance(self, state):
        return state.decay - state.rise

    def current(self, state, v):
        return drive(state.decay - state.rise, self.e_rev, v)


def _close(td, tr):
    """Whether `tau_decay` and `tau_rise` are closer (relative) than `10⁴·eps` of their
    float type: there the normalisation `η = e^{−t_p/τ_d} − e^{−t_p/τ_r}` and the state
    difference `a − b` cancel to the last digits (float32, τ = 5 ms: peak off by 0.3 % at
    τ_d/τ_r − 1 = 2·10⁻⁴, 3 % at 2·10⁻⁵, 28 % at 2·10⁻⁶), while the alpha function is that
    limit within about the same relative difference."""
    eps = jnp.finfo(jnp.result_type(td, tr)).eps
    return (td - tr) < 1e4 * eps * td


def _close_message(td=None, tr=None) -> str:
    got = "" if td is None else f" (tau_rise={_short(tr)}, tau_decay={_short(td)})"
    return (
        f"DualExponential: tau_decay and tau_rise are too close{got} for the float type: "
        "the difference of exponentials loses its digits (its peak would be off by "
        "percents). Use neurojax.synapses.Alpha(tau=tau_decay), which is their limit "
        "within their relative difference, or float64 (jax_enable_x64)."
    )


class AlphaState(NamedTuple):
    g: Array  # conductance (µS) or current (nA)
    h: Array  # rising auxiliary variable, µS/ms (or nA/ms)


class Alpha(AbstractSynapse):
    r"""Alpha function, `g(t) = w·(t/τ)·e^{1 − t/τ}` for one spike of weight `w` at 0
    (peak `w` at `t = τ`). The equal time constants couple `g` to `h`, so exponential Euler
    is first order here (relative error ≈ dt/2τ); prefer `DualExponential` when speed
    matters:

    $$\frac{dg}{dt} = -\frac{g}{\tau} + h,\qquad \frac{dh}{dt} = -\frac{h}{\tau},
      \qquad h \to h + w\,e/\tau$$

    Units: `tau` in ms; `e_rev` mV (g in µS) or `None` (current-based, nA).
    Reference: Rall (1967) J Neurophysiol 30:1138.
    """

    tau: Array = parameter(2.0, POSITIVE)
    e_rev: Array | None = optional_parameter(None)

    def check_call(self, dt):
        """`tau >= dt` (`check_tau_resolved`; the stated error dt/2τ is already 50 % there)."""
        return check_tau_resolved("Alpha", "tau", self.tau, dt)

    def init(self, shape=()):
        return AlphaState(g=zeros(shape), h=zeros(shape))

    def vector_field(self, state, v):
        return AlphaState(g=-state.g / self.tau + state.h, h=-state.h / self.tau)

    def on_arrival(self, state, x, dt):
        return state._replace(h=state.h + x * jnp.e / self.tau)

    def current(self, state, v):
        return drive(state.g, self.e_rev, v)
