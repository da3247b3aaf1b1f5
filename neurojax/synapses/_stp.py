"""Short-term plasticity (Tsodyks & Markram 1997; Tsodyks, Pawelzik & Markram 1998)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._model import POSITIVE, Domain, check_domains, parameter
from ._base import optional_parameter


class STPState(NamedTuple):
    u: Array  # facilitation variable just before the next spike, 0..1 (u⁺ = u + U(1 − u))
    x: Array  # fraction of available resources, 0..1


class TsodyksMarkram(eqx.Module):
    r"""Short-term depression and facilitation of a presynaptic neuron's release:

    $$\frac{dx}{dt} = \frac{1 - x}{\tau_d},\qquad \frac{du}{dt} = -\frac{u}{\tau_f}$$

    At a presynaptic spike: `u⁺ = u + U(1 − u)`, the released fraction is `r = u⁺·x`
    (the synaptic efficacy multiplying the weight), then `x → x − r`, `u → u⁺`.
    `u` starts at 0, so the first spike of a train releases `U·x` (Tsodyks, Pawelzik &
    Markram 1998, eqs. 3–4; the form of the Brian2 and BrainPy examples). With
    `tau_f=None` there is no facilitation: `u⁺ ≡ U` and `r = U·x` (the depressing synapse
    of Tsodyks & Markram 1997).

    State is per *presynaptic* neuron (it depends only on its spike train). Units: ms.
    References: Tsodyks & Markram (1997) PNAS 94:719; Tsodyks, Pawelzik & Markram (1998)
    Neural Comput 10:821 (facilitation). Defaults: U = 0.5, τ_d = 800 ms (the recovery time
    constant of the 1997 paper), no facilitation.
    """

    u0: Array = parameter(
        0.5, Domain(0.0, 1.0, False, True, "a release probability")
    )  # U, the baseline utilisation
    tau_d: Array = parameter(800.0, POSITIVE)
    tau_f: Array | None = optional_parameter(None, POSITIVE)

    def __check_init__(self):
        check_domains(self)

    def init(self, shape=()):
        dtype = jnp.result_type(float)
        # Without facilitation u stays 0, so that u⁺ = 0 + U(1 − 0) = U at every spike.
        return STPState(u=jnp.zeros(shape, dtype), x=jnp.ones(shape, dtype))

    def vector_field(self, state):
        du = jnp.zeros_like(state.u) if self.tau_f is None else -state.u / self.tau_f
        return STPState(u=du, x=(1.0 - state.x) / self.tau_d)

    def on_spike(self, state, spikes):
        """`(released, new_state)`: `released = spikes·u⁺·x` per presynaptic neuron for 0
        or 1 spike in the step. `n > 1` spikes of one neuron in one step (a `SpikeSource`
        count) are n spikes at one instant, applied one after the other: with
        `a = 1 − U`, `x → x·(1 − u)ⁿ·a^(n(n+1)/2)` and `u → 1 − (1 − u)·aⁿ` (facilitating;
        without facilitation, u fixed, `x → x·((1 − u)·a)ⁿ`), the release being what `x`
        lost. Read as n times one spike's, two spikes at U = 0.6 released 1.2 of the
        resources (x went to −0.2)."""
        u_plus = state.u + self.u0 * (1.0 - state.u)
        release = u_plus * state.x
        if self.tau_f is None:
            u_new = state.u
        else:
            u_new = state.u + spikes * (u_plus - state.u)
        one = (spikes * release, STPState(u=u_new, x=state.x - spikes * release))
        # n > 1: closed form of n single-spike updates (`where` keeps the 0/1 branch, and
        # its surrogate gradients, exactly as before; the other branch sees n >= 2 only)
        several = spikes > 1.0
        n = jnp.where(several, spikes, 2.0)
        a = 1.0 - self.u0
        if self.tau_f is None:
            x_n = state.x * ((1.0 - state.u) * a) ** n  # u⁺ = 1 − (1 − u)·a at every spike
            u_n = state.u
        else:
            x_n = state.x * (1.0 - state.u) ** n * a ** (n * (n + 1.0) / 2.0)
            u_n = 1.0 - (1.0 - state.u) * a**n
        many = (state.x - x_n, STPState(u=u_n, x=x_n))
        return (
            jnp.where(several, many[0], one[0]),
            STPState(
                u=jnp.where(several, many[1].u, one[1].u),
                x=jnp.where(several, many[1].x, one[1].x),
            ),
        )
