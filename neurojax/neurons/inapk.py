from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._errors import check_choice
from .._model import NON_NEGATIVE, POSITIVE, parameter
from .._units import CONDUCTANCE_BASED, UnitSystem
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._base import AbstractNeuron, newton, upward_crossing


class INaPIKState(NamedTuple):
    v: Array  # membrane potential, mV
    n: Array  # K⁺ activation (fraction of open channels)


# Izhikevich (2007), Dynamical Systems in Neuroscience, §4.1.2 and Fig. 4.1 (high-threshold
# K⁺: n∞ half-activation −25 mV) and §6.1.2/Fig. 6.16 (low-threshold K⁺: −45 mV, E_L = −78).
IZHIKEVICH2007: dict[str, dict[str, float]] = {
    "high-threshold": dict(e_l=-80.0, v_half_n=-25.0),
    "low-threshold": dict(e_l=-78.0, v_half_n=-45.0),
}
"""The two parameter sets of the INa,p+IK model in Izhikevich (2007): `high-threshold`
(K⁺ activates above −25 mV: rest disappears in a saddle-node on an invariant circle at
I ≈ 4.51 µA/cm², class 1) and `low-threshold` (K⁺ activates near rest, −45 mV: rest loses
stability in an Andronov–Hopf bifurcation, class 2)."""


class INaPIK(AbstractNeuron):
    r"""The persistent-sodium plus potassium model `INa,p + IK` of Izhikevich (2007),
    *Dynamical Systems in Neuroscience*, §4.1.2: the minimal spiking model, two variables.

    $$c_m \frac{dV}{dt} = I - g_l (V - e_l) - g_{Na} m_\infty(V)(V - e_{Na})
        - g_K n (V - e_K)$$

    $$\frac{dn}{dt} = \frac{n_\infty(V) - n}{\tau}$$

    with instantaneous Na⁺ activation and Boltzmann steady states
    `m∞(V) = 1/(1 + exp((v_half_m − V)/k_m))`, `n∞(V) = 1/(1 + exp((v_half_n − V)/k_n))`.

    Units: V in mV, t in ms, `I` in µA/cm², conductances mS/cm², `c_m` µF/cm², `tau`
    ms, half-activations and slopes mV. A spike is an upward crossing of `v_th`
    (−20 mV; detection only).

    Defaults: Izhikevich's Fig. 4.1 (`c_m` 1, `e_l` −80, `g_l` 8, `g_na` 20, `e_na` 60,
    `g_k` 10, `e_k` −90, m∞: −20/15 mV, n∞: −25/5 mV, `tau` 1 ms), the *high-threshold*
    set: its N-shaped steady-state I–V curve makes rest disappear in a saddle-node on
    an invariant circle at I ≈ 4.51 µA/cm². `INaPIK.izhikevich2007("low-threshold")`
    (n∞ half-activation −45 mV, `e_l` −78) loses rest in an Andronov–Hopf bifurcation.

    Starts at rest for `I = 0`: the root of the steady-state current (`n = n∞(V)`) found
    by Newton's method from −65 mV (−63.8 mV for the defaults).

    Reference: Izhikevich (2007) *Dynamical Systems in Neuroscience*, MIT Press, ch. 4–6.
    """

    # the units the analysis labels axes with (see `neurojax._units.UnitSystem`)
    units: ClassVar[UnitSystem] = CONDUCTANCE_BASED.named(
        voltage=("v", "e_l", "e_na", "e_k", "v_half_m", "k_m", "v_half_n", "k_n", "v_th"),
        conductance=("g_l", "g_na", "g_k"),
        time=("tau",),
        c_m="µF/cm²",
    )

    c_m: Array = parameter(1.0, POSITIVE)
    g_l: Array = parameter(8.0, NON_NEGATIVE)
    e_l: Array = parameter(-80.0)
    g_na: Array = parameter(20.0, NON_NEGATIVE)
    e_na: Array = parameter(60.0)
    g_k: Array = parameter(10.0, NON_NEGATIVE)
    e_k: Array = parameter(-90.0)
    v_half_m: Array = parameter(-20.0)
    k_m: Array = parameter(15.0, POSITIVE)
    v_half_n: Array = parameter(-25.0)
    k_n: Array = parameter(5.0, POSITIVE)
    tau: Array = parameter(1.0, POSITIVE)
    v_th: Array = parameter(-20.0)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)

    @classmethod
    def izhikevich2007(cls, variant: str, **overrides) -> INaPIK:
        """The set `variant` ∈ {"high-threshold", "low-threshold"} of Izhikevich (2007);
        `overrides` replace any argument."""
        check_choice("Izhikevich (2007) INa,p+IK parameter set", variant, IZHIKEVICH2007)
        return cls(**{**IZHIKEVICH2007[variant], **overrides})

    def m_inf(self, v: Array) -> Array:
        return 1.0 / (1.0 + jnp.exp((self.v_half_m - v) / self.k_m))

    def n_inf(self, v: Array) -> Array:
        return 1.0 / (1.0 + jnp.exp((self.v_half_n - v) / self.k_n))

    def membrane_current(self, state: INaPIKState) -> Array:
        """Total ionic current density, µA/cm² (outward positive)."""
        v, n = state
        return (
            self.g_l * (v - self.e_l)
            + self.g_na * self.m_inf(v) * (v - self.e_na)
            + self.g_k * n * (v - self.e_k)
        )

    def init_state(self, batch_shape=()):
        v = newton(_steady_state_current, self.full(-65.0, batch_shape), self)
        return INaPIKState(v=v, n=self.n_inf(v))

    @property
    def default_solver(self):
        """`RK4`: this smooth, non-stiff model (τ = 1 ms, no gating time constant below it)
        keeps RK4's order at every dt tested (spike times within 0.005 ms of a converged
        reference at dt = 0.1 ms over 35 ms), while the exponential schemes, which treat the
        instantaneous regenerative Na⁺ current explicitly, err by 0.16–2.1 ms at
        dt = 0.025 ms (docs/numerics.md)."""
        from ..solvers import RK4

        return RK4()

    def linear_part(self, t, y, current):
        """Linear rates for the exponential solvers (1/ms): the total conductance
        `−(g_l + g_na m∞ + g_k n)/c_m` for V and `−1/tau` for n."""
        g = self.g_l + self.g_na * self.m_inf(y.v) + self.g_k * y.n
        return INaPIKState(v=-g / self.c_m, n=jnp.broadcast_to(-1.0 / self.tau, jnp.shape(y.n)))

    def vector_field(self, t, state, current):
        v, n = state
        return INaPIKState(
            v=(current - self.membrane_current(state)) / self.c_m,
            n=(self.n_inf(v) - n) / self.tau,
        )

    def event_step(self, info, y_old, y_new, z, current):
        return y_new, z, upward_crossing(self.surrogate, y_old.v, y_new.v, self.v_th)


def _steady_state_current(v, model: INaPIK):
    """The ionic current with n at steady state: zero at rest."""
    return model.membrane_current(INaPIKState(v, model.n_inf(v)))
