"""Sparsely connected networks of excitatory and inhibitory LIF neurons (Brunel 2000)."""

from __future__ import annotations

import jax
from jaxtyping import PRNGKeyArray

from ..network import Network, PoissonDrive, Population, Projection, fixed_in_degree
from ..neurons import LIF
from ..synapses import Delta
from ._checks import check_int, check_number


def brunel2000(
    key: PRNGKeyArray,
    g: float | int = 5.0,
    eta: float | int = 2.0,
    *,
    n_e: int = 10_000,
    epsilon: float | int = 0.1,
    j: float | int = 0.1,
    delay: float | int = 1.5,
    dt: float | int = 0.1,
    chunk: int | None = None,
) -> Network:
    r"""Brunel (2000) J Comput Neurosci 8:183, model A: `n_e` excitatory and `n_e/4`
    inhibitory LIF neurons (τ = 20 ms, θ = 20 mV, V_r = 10 mV, τ_rp = 2 ms, rest 0 mV),
    each receiving exactly C_E = ε·N_E excitatory and C_I = ε·N_I inhibitory synapses
    (delta synapses: jumps of J and −gJ mV after a delay D = 1.5 ms), and C_E external
    Poisson inputs of rate ν_ext = η·ν_thr with ν_thr = θ/(J·C_E·τ) (the rate that brings
    the mean input to threshold).

    Regimes (Brunel 2000, Fig. 8): g = 3, η = 2 synchronous regular (SR); g = 5, η = 2
    asynchronous irregular (AI); g = 6, η = 4 synchronous irregular, fast (SI); g = 4.5,
    η = 0.9 synchronous irregular, slow. Populations `"E"`, `"I"`; simulate with a key
    (the Poisson inputs) and inputs `{"E": jnp.zeros((n_steps, 1))}`. Units: ms, mV, Hz.
    """
    name = "brunel2000"
    n_e = check_int(name, "n_e", n_e, 4, "number of excitatory neurons; n_i = n_e // 4")
    g = check_number(name, "g", g, 0.0, meaning="relative strength of inhibition")
    eta = check_number(name, "eta", eta, 0.0, meaning="external rate / threshold rate")
    epsilon = check_number(
        name, "epsilon", epsilon, 0.0, 1.0, lower_closed=False, meaning="connection probability"
    )
    j = check_number(name, "j", j, 0.0, lower_closed=False, meaning="EPSP amplitude, mV")
    delay = check_number(name, "delay", delay, 0.0, meaning="ms")
    dt = check_number(name, "dt", dt, 0.0, lower_closed=False, meaning="ms")
    n_i = n_e // 4
    if max(int(round(epsilon * n_e)), 1) > n_e - 1 or max(int(round(epsilon * n_i)), 1) > max(
        n_i - 1, 1
    ):
        raise ValueError(
            f"brunel2000: epsilon = {epsilon} asks for more synapses per neuron than there are "
            f"other neurons (n_e = {n_e}, n_i = {n_i}); use a smaller epsilon or a larger n_e."
        )
    c_e, c_i = max(int(round(epsilon * n_e)), 1), max(int(round(epsilon * n_i)), 1)
    tau, theta = 20.0, 20.0
    nu_thr = theta / (j * c_e * tau) * 1e3  # Hz
    lif = LIF(tau=tau, v_rest=0.0, v_reset=10.0, v_th=theta, r=1.0, t_ref=2.0)
    k = jax.random.split(key, 4)
    kw = dict(chunk=chunk)
    projections = (
        Projection(
            "E",
            "E",
            fixed_in_degree(k[0], n_e, n_e, c_e, j, autapses=False, **kw),
            Delta(),
            delay=delay,
        ),
        Projection("E", "I", fixed_in_degree(k[1], n_e, n_i, c_e, j, **kw), Delta(), delay=delay),
        Projection(
            "I", "E", fixed_in_degree(k[2], n_i, n_e, c_i, -g * j, **kw), Delta(), delay=delay
        ),
        Projection(
            "I",
            "I",
            fixed_in_degree(k[3], n_i, n_i, c_i, -g * j, autapses=False, **kw),
            Delta(),
            delay=delay,
        ),
    )
    drives = tuple(
        PoissonDrive(name, Delta(), rate=eta * nu_thr, weight=j, n_sources=c_e)
        for name in ("E", "I")
    )
    return Network(
        {"E": Population(lif, n_e), "I": Population(lif, n_i)}, projections, drives, dt=dt
    )
