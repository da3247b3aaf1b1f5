"""Synaptic theory of working memory capacity of Mi, Katkov & Tsodyks (2017)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._model import NON_NEGATIVE, POSITIVE, REAL, AbstractModel, Coupled, Domain, parameter
from ._checks import check_int, check_number


class WorkingMemoryState(NamedTuple):
    h: Array  # synaptic current of each excitatory cluster, (..., n); dimensionless
    u: Array  # facilitation (release probability) of each cluster's synapses, U..1
    x: Array  # fraction of available resources of each cluster's synapses, 0..1
    h_inh: Array  # synaptic current of the global inhibitory pool, (...)


class WorkingMemory(AbstractModel):
    r"""Synaptic theory of working memory (Mongillo, Barak & Tsodyks 2008) in the rate form
    of Mi, Katkov & Tsodyks (2017) Neuron 93:323, "Synaptic correlates of working memory
    capacity": `n` excitatory clusters (one per item) and a global inhibitory pool,

    $$\tau \frac{dh_a}{dt} = -h_a + J_{EE}\,u_a x_a R_a - J_{EI} R_I + I_b + I^{ext}_a(t)$$

    $$\frac{du_a}{dt} = \frac{U - u_a}{\tau_f} + U(1 - u_a)\,R_a,\qquad
      \frac{dx_a}{dt} = \frac{1 - x_a}{\tau_d} - u_a x_a R_a$$

    $$\tau_I \frac{dh_I}{dt} = -h_I + J_{IE}\sum_b R_b + I_I,\qquad
      R = \alpha \ln\!\left(1 + e^{h/\alpha}\right)$$

    `u`, `x` are the Tsodyks–Markram variables of `neurojax.synapses.TsodyksMarkram`
    averaged over the cluster's spike train (the mean-field form of Tsodyks, Pawelzik &
    Markram 1998; here `u` relaxes to U, not 0, as in the paper). A brief strong input
    loads an item: its synapses facilitate (u → 1). Afterwards the cluster is silent, but
    while u stays high the background I_b periodically ignites a *population spike*: a
    burst of ~15 ms (peak ≈ 160 Hz) that depletes x and refreshes u; with one item the
    period is ≈ τ_d (the recovery time of x). Several items take turns, their spikes
    separated by the global inhibition (≈ 80–90 ms apart); the number held is limited by
    how many spikes fit into one cycle, whose length is bounded by the STP time constants
    (the capacity grows with τ_d/τ; Mi et al. 2017). Measured with the published values:
    at most 6 items held (5 at τ_d = 200 ms, 7 at 400 ms); see
    tests/test_models_working_memory.py.

    Published values (Mi et al. 2017, STAR Methods, as in the BrainPy reproduction):
    τ = τ_I = 8 ms, τ_f = 1500 ms, τ_d = 300 ms, U = 0.3, J_EE = 8, J_EI = 1.1,
    J_IE = 1.75, I_b = 8, I_I = 0, α = 1.5, 16 clusters; items are loaded by I_ext = 225
    for 30 ms.

    Units: time ms; rates `R` in Hz (so `u x R` enters du/dt and dx/dt scaled by 10⁻³
    per ms); currents `h` dimensionless as in the paper. Inputs: `(n_steps, *batch, n)`
    external currents I_ext (`load` builds the item-loading protocol). The inhibitory
    pool couples the clusters inside the vector field: `Coupled`, explicit `RK4` (the
    default; dt ≤ 0.5 ms).
    """

    tau: Array = parameter(8.0, POSITIVE)  # ms, excitatory
    tau_inh: Array = parameter(8.0, POSITIVE)  # ms, inhibitory
    tau_f: Array = parameter(1500.0, POSITIVE)  # ms, facilitation
    tau_d: Array = parameter(300.0, POSITIVE)  # ms, depression
    u_base: Array = parameter(0.3, Domain(0.0, 1.0, False, True, "a release probability"))  # U
    j_ee: Array = parameter(8.0, NON_NEGATIVE)
    j_ei: Array = parameter(1.1, NON_NEGATIVE)  # inhibition onto the clusters
    j_ie: Array = parameter(1.75, NON_NEGATIVE)  # clusters onto inhibition
    i_b: Array = parameter(8.0, REAL)  # background input to the clusters
    i_inh: Array = parameter(0.0, REAL)  # background input to the inhibitory pool
    alpha: Array = parameter(1.5, POSITIVE)  # softness of the rate function
    n: int = eqx.field(static=True, default=16)

    structure = Coupled()

    def __check_init__(self):
        # (equinox runs AbstractModel.__check_init__, the domain check, as well)
        if (
            isinstance(self.n, (bool, np.bool_))
            or not isinstance(self.n, (int, np.integer))
            or self.n < 1
        ):
            raise ValueError(
                f"WorkingMemory.n must be an int >= 1 (the number of clusters), got {self.n!r}."
            )

    def rate(self, h: Array) -> Array:
        """`R = α ln(1 + e^{h/α})`, Hz."""
        return self.alpha * jax.nn.softplus(h / self.alpha)

    def batch_shape(self, inputs):
        shape = tuple(jnp.shape(inputs))
        if not shape or shape[-1] != self.n:
            raise ValueError(
                f"WorkingMemory inputs must be the external currents shaped (n_steps, *batch, "
                f"n={self.n}), e.g. model.load(items=[0, 1], n_steps=..., dt=...); got a step "
                f"of shape {shape}."
            )
        return shape[:-1]

    def init_state(self, batch_shape=()):
        dtype = jnp.result_type(float)
        z = jnp.zeros((*batch_shape, self.n), dtype)
        return WorkingMemoryState(
            h=z, u=z + self.u_base, x=z + 1.0, h_inh=jnp.zeros(batch_shape, dtype)
        )

    def vector_field(self, t, y, inputs):
        r = self.rate(y.h)
        r_inh = self.rate(y.h_inh)
        r_ms = r * 1e-3  # Hz → per ms
        dh = (
            -y.h + self.j_ee * y.u * y.x * r - self.j_ei * r_inh[..., None] + self.i_b + inputs
        ) / self.tau
        du = (self.u_base - y.u) / self.tau_f + self.u_base * (1.0 - y.u) * r_ms
        dx = (1.0 - y.x) / self.tau_d - y.u * y.x * r_ms
        dh_inh = (-y.h_inh + self.j_ie * jnp.sum(r, axis=-1) + self.i_inh) / self.tau_inh
        return WorkingMemoryState(h=dh, u=du, x=dx, h_inh=dh_inh)

    def voltage(self, y):
        raise AttributeError(
            "WorkingMemory is a rate model: it has no membrane potential; read states.h "
            "(or model.rate(states.h) for the rates in Hz)."
        )

    @property
    def default_solver(self):
        from ..solvers import RK4

        return RK4()

    def load(
        self,
        items,
        n_steps: int,
        dt: float,
        *,
        start: float = 70.0,
        duration: float = 30.0,
        interval: float = 70.0,
        amplitude: float = 225.0,
    ) -> Array:
        """External currents `(n_steps, n)` loading `items` (cluster indices) one after the
        other: item k gets `amplitude` during `[start + k(duration + interval),
        … + duration)` ms (the protocol of Mi et al. 2017, Fig. 1: 30 ms pulses of 225 every
        100 ms)."""
        what = "WorkingMemory.load"
        check_int(what, "n_steps", n_steps, 1)
        dt = check_number(what, "dt", dt, 0.0, lower_closed=False, meaning="ms")
        duration = check_number(what, "duration", duration, 0.0, lower_closed=False, meaning="ms")
        interval = check_number(what, "interval", interval, 0.0, meaning="ms")
        start = check_number(what, "start", start, meaning="ms")
        amplitude = check_number(what, "amplitude", amplitude)
        t = (np.arange(n_steps) + 0.5) * dt
        out = np.zeros((n_steps, self.n))
        for k, item in enumerate(items):
            if not 0 <= int(item) < self.n:
                raise ValueError(f"load: item {item} is not a cluster index in [0, {self.n}).")
            t0 = start + k * (duration + interval)
            out[(t >= t0) & (t < t0 + duration), int(item)] = amplitude
        return jnp.asarray(out, jnp.result_type(float))
