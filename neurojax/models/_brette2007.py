"""The COBA and CUBA benchmark networks of Brette et al. (2007), after Vogels & Abbott (2005)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..network import Network, NetworkState, Population, Projection, fixed_probability
from ..neurons import LIF
from ..synapses import Exponential
from ._checks import check_int, check_number

# Brette et al. (2007) J Comput Neurosci 23:349, Benchmarks 1 and 2, in neurojax units.
# The membrane: τ_m = 20 ms, g_L = 10 nS (R = 100 MΩ, C = 200 pF), threshold −50 mV,
# reset −60 mV, refractory 5 ms. 80 % excitatory, 20 % inhibitory; p = 2 %.
_R = 100.0  # MΩ (1/g_L, g_L = 10 nS = 0.01 µS)
_TAU_M, _V_TH, _V_RESET, _T_REF = 20.0, -50.0, -60.0, 5.0


def _split(n: int) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 5:
        raise ValueError(f"n must be an int >= 5 (80 % excitatory, 20 % inhibitory), got {n!r}.")
    n = int(n)
    n_e = int(round(0.8 * n))
    return n_e, n - n_e


def coba(
    key: PRNGKeyArray,
    n: int = 4000,
    *,
    p: float | int = 0.02,
    dt: float | int = 0.1,
    chunk: int | None = None,
) -> Network:
    r"""Benchmark 1 (COBA): LIF neurons with exponential conductance synapses.

    $$\tau_m \frac{dV}{dt} = -(V - E_L) + R\,g_e (E_e - V) + R\,g_i (E_i - V) + R\,I_{ext}$$

    E_L = −60 mV, E_e = 0 mV, E_i = −80 mV, τ_e = 5 ms, τ_i = 10 ms, Δg_e = 6 nS,
    Δg_i = 67 nS (Brette et al. 2007, Benchmark 1, Table 2; Vogels & Abbott 2005).
    The background current is an input, `coba_inputs(network, n_steps, i_ext)`: 0.2 nA =
    20 mV × g_L is the drive of the Brian2 and BrainPy benchmark scripts, which keeps the
    network active without the initial kick of the original; `i_ext=0.0` with a kicked
    `state0` gives the self-sustained original. Weights are the published ones at every
    `n` (no rescaling): the in-degree is `p·n` (80 at n = 4000, p = 0.02).

    Populations `"E"` (80 %) and `"I"` (20 %); projections E→E, E→I, I→E, I→I with
    fixed connection probability `p` (autapses allowed, as Brian2's `connect(p=...)`), no
    delay. Inputs: `{"E": I_E, "I": I_I}`, nA; use `coba_inputs(network, n_steps)`.
    """
    n_e, n_i = _split(n)
    lif = LIF(tau=_TAU_M, v_rest=-60.0, v_reset=_V_RESET, v_th=_V_TH, r=_R, t_ref=_T_REF)
    exc, inh = Exponential(tau=5.0, e_rev=0.0), Exponential(tau=10.0, e_rev=-80.0)
    we, wi = 0.006, 0.067  # µS
    k = jax.random.split(key, 4)
    kw = dict(chunk=chunk)
    projections = (
        Projection("E", "E", fixed_probability(k[0], n_e, n_e, p, we, **kw), exc),
        Projection("E", "I", fixed_probability(k[1], n_e, n_i, p, we, **kw), exc),
        Projection("I", "E", fixed_probability(k[2], n_i, n_e, p, wi, **kw), inh),
        Projection("I", "I", fixed_probability(k[3], n_i, n_i, p, wi, **kw), inh),
    )
    net = Network({"E": Population(lif, n_e), "I": Population(lif, n_i)}, projections, dt=dt)
    return net


def cuba(
    key: PRNGKeyArray,
    n: int = 4000,
    *,
    p: float | int = 0.02,
    dt: float | int = 0.1,
    chunk: int | None = None,
) -> Network:
    r"""Benchmark 2 (CUBA): LIF neurons with exponential current synapses.

    $$\tau_m \frac{dV}{dt} = -(V - E_L) + R\,(I_e + I_i)$$

    E_L = −49 mV (the resting potential above threshold of Brette et al.'s Brian script,
    which drives the network), τ_e = 5 ms, τ_i = 10 ms; jumps R·ΔI_e = 1.62 mV and
    R·ΔI_i = −9 mV (Brette et al. 2007, Benchmark 2). Populations `"E"`, `"I"` as `coba`.
    """
    n_e, n_i = _split(n)
    lif = LIF(tau=_TAU_M, v_rest=-49.0, v_reset=_V_RESET, v_th=_V_TH, r=_R, t_ref=_T_REF)
    exc, inh = Exponential(tau=5.0), Exponential(tau=10.0)
    we, wi = 1.62 / _R, -9.0 / _R  # nA
    k = jax.random.split(key, 4)
    kw = dict(chunk=chunk)
    projections = (
        Projection("E", "E", fixed_probability(k[0], n_e, n_e, p, we, **kw), exc),
        Projection("E", "I", fixed_probability(k[1], n_e, n_i, p, we, **kw), exc),
        Projection("I", "E", fixed_probability(k[2], n_i, n_e, p, wi, **kw), inh),
        Projection("I", "I", fixed_probability(k[3], n_i, n_i, p, wi, **kw), inh),
    )
    return Network({"E": Population(lif, n_e), "I": Population(lif, n_i)}, projections, dt=dt)


def coba_inputs(network: Network, n_steps: int, i_ext: float | int = 0.2) -> dict:
    """The constant background current (nA) for `n_steps` steps of `coba`/`cuba`."""
    check_int("coba_inputs", "n_steps", n_steps, 1)
    check_number("coba_inputs", "i_ext", i_ext, meaning="nA")
    return {
        name: jnp.full((n_steps, 1), i_ext, jnp.result_type(float)) for name in network.populations
    }


def random_initial_state(
    network: Network, key: PRNGKeyArray, *, mean: float | int = -55.0, std: float | int = 5.0
) -> NetworkState:
    """Rest with membrane potentials drawn from N(`mean`, `std`²) mV, as the benchmark
    scripts (`P.v = randn·5 − 55 mV`), so that the network does not start synchronised."""
    check_number("random_initial_state", "mean", mean, meaning="mV")
    check_number("random_initial_state", "std", std, 0.0, meaning="mV")
    y = network.init_state()
    neurons = {}
    for k, (name, state) in enumerate(y.neurons.items()):
        v = mean + std * jax.random.normal(jax.random.fold_in(key, k), state.v.shape, state.v.dtype)
        neurons[name] = state._replace(v=v)
    return y._replace(neurons=neurons)
