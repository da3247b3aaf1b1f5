from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._errors import check_choice
from .._model import NON_NEGATIVE, POSITIVE, parameter
from .._units import INTEGRATE_AND_FIRE, UnitSystem
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._integrate_and_fire import AbstractIntegrateAndFire
from .eif import exp_term


class AdExState(NamedTuple):
    v: Array  # membrane potential, mV
    w: Array  # adaptation current, nA


# Naud, Marcille, Clopath & Gerstner (2008), Table 1, in the paper's units:
# C (pF), g_L (nS), E_L (mV), V_T (mV), Δ_T (mV), a (nS), τ_w (ms), b (pA), V_r (mV), I (pA).
_NAUD2008_TABLE = {
    "tonic": (200, 10, -70, -50, 2, 2, 30, 0, -58, 500),  # Fig. 4a
    "adapting": (200, 12, -70, -50, 2, 2, 300, 60, -58, 500),  # Fig. 4b
    "initial_burst": (130, 18, -58, -50, 2, 4, 150, 120, -50, 400),  # Fig. 4c
    "regular_bursting": (200, 10, -58, -50, 2, 2, 120, 100, -46, 210),  # Fig. 4d
    "delayed_accelerating": (200, 12, -70, -50, 2, -10, 300, 0, -58, 300),  # Fig. 4e
    "delayed_regular_bursting": (100, 10, -65, -50, 2, -10, 90, 30, -47, 110),  # Fig. 4f
    "transient": (100, 10, -65, -50, 2, 10, 90, 100, -47, 180),  # Fig. 4g
    "irregular": (100, 12, -60, -50, 2, -11, 130, 30, -48, 160),  # Fig. 4h
}

# Spike cut-off used with the table (the value of Brian 2's reproduction of Naud et al.'s
# figures, and NEST's default `V_peak`).
_NAUD2008_V_TH = 0.0


def _naud2008_converted(row) -> dict:
    c, g_l, e_l, v_t, delta_t, a, tau_w, b, v_r, i = row
    return dict(
        model=dict(
            tau=c / g_l,  # pF / nS = ms
            r=1e3 / g_l,  # 1/nS = GΩ = 10³ MΩ
            v_rest=float(e_l),
            v_t=float(v_t),
            delta_t=float(delta_t),
            a=a * 1e-3,  # nS → µS
            tau_w=float(tau_w),
            b=b * 1e-3,  # pA → nA
            v_reset=float(v_r),
            v_th=_NAUD2008_V_TH,
            t_ref=0.0,
        ),
        current=i * 1e-3,  # pA → nA
    )


NAUD2008: dict[str, dict] = {k: _naud2008_converted(v) for k, v in _NAUD2008_TABLE.items()}
"""The eight firing patterns of Naud, Marcille, Clopath & Gerstner (2008), Table 1,
converted to neurojax units: `NAUD2008[pattern]["model"]` are `AdEx` keyword arguments
(τ = C/g_L in ms, R = 1/g_L in MΩ, `a` in µS, `b` in nA, no refractory period, cut-off
0 mV) and `NAUD2008[pattern]["current"]` the step current in nA that evokes the pattern
from rest (V = E_L, w = 0). Patterns: tonic, adapting, initial_burst, regular_bursting,
delayed_accelerating, delayed_regular_bursting, transient, irregular."""


class AdEx(AbstractIntegrateAndFire):
    r"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005).

    $$\tau \frac{dV}{dt} = -(V - v_{rest}) + \Delta_T \exp\left(\frac{V - v_t}{\Delta_T}
        \right) - R w + R I$$

    $$\tau_w \frac{dw}{dt} = a (V - v_{rest}) - w$$

    When V reaches the cut-off `v_th`: a spike, V → `v_reset` (held for `t_ref`) and
    w → w + b. The jump in w is part of the reset and, like the voltage reset, detached
    from the gradient (`b·stop_gradient(spike)`: `b` gets its gradient, the spike's
    surrogate slope does not enter through the jump; see `threshold_reset`). The
    exponential is evaluated with V clamped at `v_th`, so it stays finite
    whatever the solver does within a step.

    In the conductance form of the papers, `C dV/dt = −g_L(V − E_L) + g_L Δ_T exp(…) − w + I`:
    here τ = C/g_L, R = 1/g_L, `v_rest` = E_L. Units: mV, ms, `r` in MΩ, currents `I`, `w`
    and `b` in nA, `a` in µS (µS·mV = nA). The defaults are Brette & Gerstner's (2005)
    regular-spiking cell: C = 281 pF, g_L = 30 nS, E_L = −70.6 mV, V_T = −50.4 mV,
    Δ_T = 2 mV, a = 4 nS, τ_w = 144 ms, b = 80.5 pA, V_r = E_L; cut-off 0 mV (NEST's
    `V_peak`), no refractory period.

    `AdEx.naud2008(pattern)` gives the firing-pattern parameter sets of Naud et al. (2008)
    (see `NAUD2008`). Starts at V = `v_rest`, w = 0 (the protocol of both papers).

    References: Brette & Gerstner (2005) J Neurophysiol 94:3637–3642; Naud, Marcille,
    Clopath & Gerstner (2008) Biol Cybern 99:335–347.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = INTEGRATE_AND_FIRE.named(
        voltage=("v", "v_rest", "v_reset", "v_th", "v_t", "delta_t"),
        time=("tau", "t_ref", "tau_w", "refractory"),
        current=("w", "b"),
        conductance=("a",),
        r="MΩ",
    )

    tau: Array = parameter(281.0 / 30.0, POSITIVE)
    v_rest: Array = parameter(-70.6)
    v_reset: Array = parameter(-70.6)
    v_th: Array = parameter(0.0)
    r: Array = parameter(1e3 / 30.0, POSITIVE)
    t_ref: Array = parameter(0.0, NON_NEGATIVE)
    v_t: Array = parameter(-50.4)
    delta_t: Array = parameter(2.0, POSITIVE)
    a: Array = parameter(0.004)
    b: Array = parameter(0.0805)
    tau_w: Array = parameter(144.0, POSITIVE)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    @classmethod
    def naud2008(cls, pattern: str, **overrides) -> tuple[AdEx, float]:
        """`(model, current)`: the Naud et al. (2008) Table 1 parameter set for `pattern`
        and the step current (nA) that evokes it. `overrides` replace model arguments
        (e.g. `surrogate=...`). Patterns: tonic, adapting, initial_burst, regular_bursting,
        delayed_accelerating, delayed_regular_bursting, transient, irregular."""
        check_choice("Naud et al. (2008) pattern", pattern, NAUD2008)
        entry = NAUD2008[pattern]
        return cls(**{**entry["model"], **overrides}), entry["current"]

    def init_state(self, batch_shape=()):
        return AdExState(v=self.full(self.v_rest, batch_shape), w=self.full(0.0, batch_shape))

    def vector_field(self, t, state, current):
        # evaluated at V clamped to the cut-off: a solver stage (RK4) that overshoots it
        # stays finite and cannot kick w (the step is reset anyway)
        v, w = jnp.minimum(state.v, self.v_th), state.w
        dv = -(v - self.v_rest) + exp_term(v, self.v_t, self.delta_t, self.v_th)
        return AdExState(
            v=(dv - self.r * w + self.r * current) / self.tau,
            w=(self.a * (v - self.v_rest) - w) / self.tau_w,
        )

    def after_spike(self, y, spike):
        # the adaptation jump is part of the reset: detached like the voltage reset (see
        # `threshold_reset`). Through it, d(loss)/d(a, b, tau_w) of a spike-time loss had
        # the wrong sign at 5-8 of 20 points (Naud's adapting pattern); detached, 0-3.
        return y._replace(w=y.w + self.b * jax.lax.stop_gradient(spike))
