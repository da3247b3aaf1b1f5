"""Spiking decision-making network of Wang (2002), Neuron 36:955."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..network import Network, PoissonDrive, Population, Projection, dense
from ..neurons import LIF
from ..synapses import NMDA, Exponential

# Wang (2002), Methods, in neurojax units (mV, ms, nA, µS, MΩ, Hz).
# Pyramidal cells: C_m = 0.5 nF, g_L = 25 nS (R = 40 MΩ, τ_m = 20 ms), τ_ref = 2 ms;
# interneurons: C_m = 0.2 nF, g_L = 20 nS (R = 50 MΩ, τ_m = 10 ms), τ_ref = 1 ms;
# V_L = −70 mV, V_th = −50 mV, V_reset = −55 mV for both.
_E_CELL = dict(tau=20.0, v_rest=-70.0, v_reset=-55.0, v_th=-50.0, r=40.0, t_ref=2.0)
_I_CELL = dict(tau=10.0, v_rest=-70.0, v_reset=-55.0, v_th=-50.0, r=50.0, t_ref=1.0)
# Peak conductances per synapse (µS) at N_E = 1600, N_I = 400 (Wang 2002, Methods):
#               ext AMPA  rec AMPA  NMDA      GABA
_G_E = dict(ext=2.1e-3, ampa=0.05e-3, nmda=0.165e-3, gaba=1.3e-3)
_G_I = dict(ext=1.62e-3, ampa=0.04e-3, nmda=0.13e-3, gaba=1.0e-3)
_N_E0, _N_I0 = 1600, 400
_TAU_AMPA, _TAU_GABA = 2.0, 5.0
_E_EXC, _E_INH = 0.0, -70.0
_NMDA_KINETICS = dict(tau_rise=2.0, tau_decay=100.0, alpha=0.5, mg=1.0)
_DELAY = 0.5  # ms, all recurrent synapses
_NU_EXT, _C_EXT = 3.0, 800  # 800 external Poisson trains of 3 Hz = 2.4 kHz per neuron
# Per-spike increment of the lumped NMDA rise variable (see the docstring): the exact
# jump of one saturating synapse starting closed, 1 − exp(−α·τ_rise), divided by the
# α·τ_rise the linear lumped rise would give.
_NMDA_JUMP = (1.0 - math.exp(-0.5 * 2.0)) / (0.5 * 2.0)

POPULATIONS = ("A", "B", "NS", "I")


def _sizes(n: int, f: float) -> dict[str, int]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 20:
        raise ValueError(f"n must be an int >= 20 (80 % pyramidal, 20 % interneurons), got {n!r}.")
    if not (0.0 < f < 0.5):
        raise ValueError(
            f"f (fraction of pyramidal cells per selective group) must be in (0, 0.5), got {f!r}."
        )
    n_e = int(round(0.8 * n))
    n_sel = max(int(round(f * n_e)), 1)
    return {"A": n_sel, "B": n_sel, "NS": n_e - 2 * n_sel, "I": n - n_e}


def _stimulus_rates(coherence, mu0) -> tuple[float, float]:
    c, m = np.asarray(coherence, dtype=float), np.asarray(mu0, dtype=float)
    if c.shape != () or m.shape != ():
        raise ValueError(f"coherence and mu0 must be scalars, got shapes {c.shape} and {m.shape}.")
    if not np.isfinite(c) or abs(float(c)) > 100.0:
        raise ValueError(f"coherence c' is a percentage in [-100, 100], got {float(c)!r}.")
    if not np.isfinite(m) or m < 0:
        raise ValueError(f"mu0 (stimulus rate, Hz) must be >= 0, got {float(m)!r}.")
    return float(m * (1.0 + c / 100.0)), float(m * (1.0 - c / 100.0))


def wang2002(
    coherence: float | int = 0.0,
    mu0: float | int = 0.0,
    *,
    n: int = 2000,
    f: float | int = 0.15,
    w_plus: float | int = 1.7,
    dt: float | int = 0.1,
) -> Network:
    r"""Wang (2002) Neuron 36:955, the spiking network model of perceptual decisions:
    `n` LIF neurons, 80 % pyramidal and 20 % interneurons (2000 = 1600 + 400 published),
    all-to-all connected. The pyramidal cells form two selective groups `"A"` and `"B"`
    (a fraction `f` = 0.15 of them each) and the non-selective rest `"NS"`; interneurons
    are `"I"`.

    $$C_m \frac{dV}{dt} = -g_L (V - V_L) - I_{ext,AMPA} - I_{rec,AMPA} - I_{NMDA} - I_{GABA}$$

    $$I_{AMPA} = g_{AMPA} (V - V_E) \sum_j w_j s_j^{AMPA},\quad
      I_{NMDA} = \frac{g_{NMDA} (V - V_E)}{1 + [Mg^{2+}] e^{-0.062 V}/3.57}
      \sum_j w_j s_j^{NMDA},\quad I_{GABA} = g_{GABA} (V - V_I) \sum_j s_j^{GABA}$$

    with ds/dt = −s/τ + Σδ(t − t_k) for AMPA (τ = 2 ms) and GABA_A (τ = 5 ms), and for
    NMDA ds/dt = −s/τ_d + α x (1 − s), dx/dt = −x/τ_r + Σδ(t − t_k) (τ_r = 2 ms,
    τ_d = 100 ms, α = 0.5 /ms, [Mg²⁺] = 1 mM). V_L = −70 mV, V_th = −50 mV,
    V_reset = −55 mV, V_E = 0 mV, V_I = −70 mV. Pyramidal: C_m = 0.5 nF, g_L = 25 nS,
    τ_ref = 2 ms; g_ext,AMPA = 2.1, g_rec,AMPA = 0.05, g_NMDA = 0.165, g_GABA = 1.3 nS.
    Interneurons: C_m = 0.2 nF, g_L = 20 nS, τ_ref = 1 ms; g_ext,AMPA = 1.62,
    g_rec,AMPA = 0.04, g_NMDA = 0.13, g_GABA = 1.0 nS. Every neuron receives 800
    independent 3 Hz Poisson trains (2.4 kHz) through external AMPA synapses; recurrent
    synapses have a 0.5 ms delay (a multiple of `dt` is required).

    Structured weights (Hebbian): w = w+ = `w_plus` within A and within B;
    w = w− = 1 − f (w+ − 1)/(1 − f) from A to B, B to A and NS to A and B; w = 1
    otherwise.

    **Stimulus.** `coherence` c' (%, in [−100, 100]) and `mu0` μ0 (Hz): Poisson trains
    of rates μ_A = μ0 (1 + c'/100) onto every A cell and μ_B = μ0 (1 − c'/100) onto
    every B cell, through the external AMPA synapses (Wang's ρ = μ0/100). The rates are
    constant over the run (Wang's 50 ms resampling with σ = 4 Hz is not included); to
    switch a stimulus on after a spontaneous period, run `wang2002()` and continue from
    its `Solution.final_state` with `wang2002_stimulus(network, c, mu0)` (same arrays and
    shapes: no recompilation). Simulate with a key (the Poisson inputs) and
    `wang2002_inputs(network, n_steps)`.

    **Size.** For `n` ≠ 2000 the recurrent conductances are scaled by 1600/N_E and
    400/N_I, as Wang does (conductances ∝ 1/N), so that the summed recurrent input is that
    of the published network (external input unchanged); small networks are noisier.

    **Approximations.** (1) neurojax lumps synapses per postsynaptic neuron, so the NMDA
    saturation is applied to the mean gating of each presynaptic group (A, B, NS: one
    projection per group pair, the all-to-all connectivity makes the mean the same for
    every postsynaptic cell) rather than per presynaptic neuron; (2) to keep the
    single-spike NMDA response of the saturating model, each spike increments the mean x
    by (1 − e^{−ατ_r})/(ατ_r) ≈ 0.632 (per presynaptic cell) instead of 1: the lumped model
    then gives the exact mean gating ν τ_d (1 − e^{−ατ_r}) at low rates, and for Poisson
    trains its stationary mean is within 1 % of that of Wang's per-synapse model from 2 to
    40 Hz (checked numerically: 0.112 vs 0.113 at 2 Hz, 0.558 vs 0.562 at 20 Hz, 0.717 vs
    0.724 at 40 Hz; an increment of 1 would overestimate by 48 % at 2 Hz). Integration is
    neurojax's fixed-step exponential Euler (Wang used second-order Runge–Kutta,
    dt = 0.02 ms). With all-to-all connectivity every postsynaptic cell of a group sees
    the same presynaptic gating in Wang's model too, so the lumping changes only where
    the saturation acts (on the group mean, x̄(1 − s̄), instead of the mean of x_j(1 − s_j)).

    Units: mV, ms, nA, µS, Hz.
    """
    sizes = _sizes(n, float(f))
    f = float(f)
    w_plus = float(w_plus)
    if not (1.0 <= w_plus < 1.0 / f):
        raise ValueError(f"w_plus must be in [1, 1/f) (so that w- > 0), got {w_plus!r}.")
    w_minus = 1.0 - f * (w_plus - 1.0) / (1.0 - f)
    mu_a, mu_b = _stimulus_rates(coherence, mu0)
    n_e = sizes["A"] + sizes["B"] + sizes["NS"]
    scale_e, scale_i = _N_E0 / n_e, _N_I0 / sizes["I"]
    cells = {name: LIF(**(_I_CELL if name == "I" else _E_CELL)) for name in POPULATIONS}
    projections = []
    for post in POPULATIONS:
        g = _G_I if post == "I" else _G_E
        for pre in ("A", "B", "NS"):
            if pre == post and pre in ("A", "B"):
                w = w_plus
            elif post in ("A", "B") and pre != post:
                w = w_minus
            else:
                w = 1.0
            shape = (sizes[pre], sizes[post])
            projections.append(
                Projection(
                    pre,
                    post,
                    dense(*shape, g["ampa"] * scale_e * w),
                    Exponential(tau=_TAU_AMPA, e_rev=_E_EXC),
                    delay=_DELAY,
                )
            )
            projections.append(
                Projection(
                    pre,
                    post,
                    dense(*shape, _NMDA_JUMP / sizes[pre]),
                    NMDA(
                        g_max=g["nmda"] * scale_e * w * sizes[pre], e_rev=_E_EXC, **_NMDA_KINETICS
                    ),
                    delay=_DELAY,
                )
            )
        projections.append(
            Projection(
                "I",
                post,
                dense(sizes["I"], sizes[post], g["gaba"] * scale_i),
                Exponential(tau=_TAU_GABA, e_rev=_E_INH),
                delay=_DELAY,
            )
        )
    drives = [
        PoissonDrive(
            name,
            Exponential(tau=_TAU_AMPA, e_rev=_E_EXC),
            rate=_NU_EXT,
            weight=(_G_I if name == "I" else _G_E)["ext"],
            n_sources=_C_EXT,
        )
        for name in POPULATIONS
    ]
    drives += [
        PoissonDrive(name, Exponential(tau=_TAU_AMPA, e_rev=_E_EXC), rate=mu, weight=_G_E["ext"])
        for name, mu in (("A", mu_a), ("B", mu_b))
    ]
    pops = {name: Population(cells[name], sizes[name]) for name in POPULATIONS}
    return Network(pops, tuple(projections), tuple(drives), dt=dt)


def wang2002_stimulus(network: Network, coherence: float | int, mu0: float | int) -> Network:
    """`network` (from `wang2002`) with the stimulus set to coherence c' (%) and μ0 (Hz):
    rates μ0 (1 ± c'/100) onto A and B. Only the two drive rates change, so a simulation
    compiled for one stimulus runs any other without recompiling."""
    mu_a, mu_b = _stimulus_rates(coherence, mu0)
    drives = network.drives
    if len(drives) != 6 or tuple(drives[i].target for i in (4, 5)) != ("A", "B"):
        raise ValueError("wang2002_stimulus needs a network built by wang2002.")
    return eqx.tree_at(
        lambda net: (net.drives[4].rate, net.drives[5].rate),
        network,
        (jnp.asarray(mu_a, drives[4].rate.dtype), jnp.asarray(mu_b, drives[5].rate.dtype)),
    )


def wang2002_inputs(network: Network, n_steps: int) -> dict:
    """No injected current (nA) for `n_steps` steps: the drive is the Poisson input."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}.")
    return {"A": jnp.zeros((n_steps, 1), jnp.result_type(float))}
