"""Spiking decision-making network of Wang (2002), Neuron 36:955."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..network import Network, PoissonDrive, Population, Projection, dense
from ..neurons import LIF
from ..synapses import DualExponential, Exponential, MgBlock, TsodyksMarkram

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
_TAU_NMDA_RISE, _TAU_NMDA_DECAY, _ALPHA_NMDA, _MG = 2.0, 100.0, 0.5, 1.0  # ms, ms, /ms, mM
_DELAY = 0.5  # ms, all recurrent synapses
_NU_EXT, _C_EXT = 3.0, 800  # 800 external Poisson trains of 3 Hz = 2.4 kHz per neuron


def _lower_gamma(a: float, x: float) -> float:
    """γ(a, x) = ∫₀ˣ u^{a−1} e^{−u} du by its power series (x of order 1 here)."""
    term = total = 1.0 / a
    for n in range(1, 60):
        term *= x / (a + n)
        total += term
    return x**a * math.exp(-x) * total


# NMDA saturation per presynaptic neuron (see the docstring). Wang's s_j is linear in
# itself given x_j, so a spike maps the tail amplitude (the e^{−t/τ_decay} that s_j
# follows once the ~2 ms rise is over) affinely: s → k + e^{−ατ_r}·s, exactly, with
# k = (ατ_r)^{τ_r/τ_d} γ(1 − τ_r/τ_d, ατ_r) = 0.6484 (the tail of one spike from s = 0;
# 1 − e^{−ατ_r} = 0.632 without the decay acting during the rise). With s = κ·s̃,
# κ = k/U, U = 1 − e^{−ατ_r}, this is s̃ → s̃ + U(1 − s̃): the release of a depressing
# Tsodyks–Markram synapse (x = 1 − s̃) recovering with τ_decay, each release weighted κ.
_NMDA_U = 1.0 - math.exp(-_ALPHA_NMDA * _TAU_NMDA_RISE)
_C, _BETA = _ALPHA_NMDA * _TAU_NMDA_RISE, _TAU_NMDA_RISE / _TAU_NMDA_DECAY
_NMDA_KAPPA = _C**_BETA * _lower_gamma(1.0 - _BETA, _C) / _NMDA_U  # 1.0258
# The rise: a single spike's s(t) lies below its tail k·e^{−t/τ_decay} by a total of
# k × 1.566 ms (numerical integration of Wang's equations, checked in the tests); a
# difference of exponentials with that rise time constant has the same deficit, so the
# charge of one NMDA event is exact.
_TAU_NMDA_RISE_EFF = 1.566
_TP = (_TAU_NMDA_DECAY * _TAU_NMDA_RISE_EFF / (_TAU_NMDA_DECAY - _TAU_NMDA_RISE_EFF)) * math.log(
    _TAU_NMDA_DECAY / _TAU_NMDA_RISE_EFF
)
# DualExponential is normalised to its peak; this factor makes a unit release decay as
# κ·e^{−t/τ_decay} after the rise (the tail of s_j), not peak at 1.
_NMDA_SCALE = _NMDA_KAPPA * (math.exp(-_TP / _TAU_NMDA_DECAY) - math.exp(-_TP / _TAU_NMDA_RISE_EFF))


def nmda_synapse() -> MgBlock:
    """The postsynaptic side of Wang's NMDA synapse as `wang2002` builds it: a linear
    difference of exponentials (τ_rise 1.566 ms, τ_decay 100 ms) under the Mg²⁺ block
    1/(1 + [Mg] e^{−0.062 V}/3.57), [Mg] = 1 mM. Arrivals are presynaptic releases
    (see `nmda_release`) times `g_NMDA·w·NMDA_SCALE` (µS)."""
    return MgBlock(
        DualExponential(tau_rise=_TAU_NMDA_RISE_EFF, tau_decay=_TAU_NMDA_DECAY, e_rev=_E_EXC),
        mg=_MG,
        alpha=0.062,
        beta=3.57,
    )


def nmda_release() -> TsodyksMarkram:
    """The presynaptic saturation of Wang's NMDA gating, per presynaptic neuron: the
    available fraction loses U = 1 − e^{−ατ_r} = 0.632 of itself at each spike and
    recovers with τ_decay = 100 ms (a depressing Tsodyks–Markram synapse)."""
    return TsodyksMarkram(u0=_NMDA_U, tau_d=_TAU_NMDA_DECAY, tau_f=None)


NMDA_SCALE = _NMDA_SCALE

POPULATIONS = ("A", "B", "NS", "I")


def _sizes(n: int, f: float) -> dict[str, int]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 20:
        raise ValueError(f"n must be an int >= 20 (80 % pyramidal, 20 % interneurons), got {n!r}.")
    if not (0.0 < f < 0.5):
        raise ValueError(
            f"f (fraction of pyramidal cells per selective group) must be in (0, 0.5), got {f!r}."
        )
    n = int(n)  # a NumPy integer would be a static field of the populations
    n_e = int(round(0.8 * n))
    n_sel = max(int(round(f * n_e)), 1)
    if n_e - 2 * n_sel < 1:
        # (a Population of size 0 was refused without naming n or f)
        raise ValueError(
            f"n={n} and f={f!r} leave no non-selective pyramidal cell (2 groups of {n_sel} "
            f"of the {n_e} pyramidal cells); use a larger n or a smaller f."
        )
    return {"A": n_sel, "B": n_sel, "NS": n_e - 2 * n_sel, "I": n - n_e}


def _real(name: str, value, unit: str):
    """A real number (or array, or a traced value) for `name`; a `TypeError` for a bool,
    a string, a complex number: `float()` read `True` as 1 and `"50"` as 50, and dropped
    nothing it could convert (probe: tests/test_bad_inputs_s9_models.py)."""
    if isinstance(value, jax.core.Tracer):
        return value
    if (
        isinstance(value, (bool, np.bool_, str, bytes))
        or value is None
        or not (
            np.issubdtype(np.asarray(value).dtype, np.integer)
            or np.issubdtype(np.asarray(value).dtype, np.floating)
        )
    ):
        raise TypeError(f"wang2002: {name} must be a real number ({unit}), got {value!r}.")
    return value


def _stimulus_rates(coherence, mu0):
    _real("coherence c'", coherence, "%")
    _real("mu0", mu0, "Hz")
    if isinstance(coherence, jax.core.Tracer) or isinstance(mu0, jax.core.Tracer):
        # traced (a psychometric curve under jax.vmap/jit): the same range, at run time
        c, m = jnp.asarray(coherence, float), jnp.asarray(mu0, float)
        if c.shape != () or m.shape != ():
            raise ValueError(
                f"coherence and mu0 must be scalars, got shapes {c.shape} and {m.shape}."
            )
        bad = ~(jnp.isfinite(c) & (jnp.abs(c) <= 100.0) & jnp.isfinite(m) & (m >= 0.0))
        mu_a = eqx.error_if(
            m * (1.0 + c / 100.0),
            bad,
            "wang2002: coherence c' must be a percentage in [-100, 100] and mu0 (stimulus "
            "rate, Hz) finite and >= 0.",
        )
        return mu_a, m * (1.0 - c / 100.0)
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
    constant over the run (Wang's 50 ms resampling with σ = 4 Hz is not included: in
    Brian2 it moved the winner rate by < 1 Hz, 32.0 against 32.3 Hz for seed 1); to
    switch a stimulus on after a spontaneous period, run `wang2002()` and continue from
    its `Solution.final_state` with `wang2002_stimulus(network, c, mu0)` (same arrays and
    shapes: no recompilation). Simulate with a key (the Poisson inputs) and
    `wang2002_inputs(network, n_steps)`.

    **Size.** For `n` ≠ 2000 the recurrent conductances are scaled by 1600/N_E and
    400/N_I, as Wang does (conductances ∝ 1/N), so that the summed recurrent input is that
    of the published network (external input unchanged); small networks are noisier.

    **NMDA saturation per presynaptic neuron**, as Wang's equations have it. neurojax
    lumps synapses per postsynaptic neuron, so the saturating part is moved to the
    presynaptic side: s_j is linear in itself given x_j, so a spike maps the tail
    amplitude of s_j (what it decays from once the ~2 ms rise is over) as
    s → k + e^{−ατ_r} s exactly, k = (ατ_r)^{τ_r/τ_d} γ(1 − τ_r/τ_d, ατ_r) = 0.6484. That
    is the release of a depressing Tsodyks–Markram synapse per presynaptic neuron
    (U = 1 − e^{−ατ_r} = 0.632, recovery τ_d; `nmda_release`), each release weighted
    κ = k/U = 1.026, into a linear Mg²⁺-blocked difference of exponentials (τ_rise
    1.566 ms, which gives one spike's charge exactly, τ_decay 100 ms; `nmda_synapse`). What
    stays approximate is the ~2 ms rise itself (its shape, and how the rises of spikes
    < 5 ms apart overlap): on regular, Poisson, doublet and 200 Hz trains the mean gating
    is within 0.6 % of Wang's ODE, the RMS difference ≤ 0.006
    (tests/test_models_wang2002.py).

    This matters: the previous version saturated the *mean* gating of each presynaptic
    group, which equals the per-neuron mean only for Poisson trains; pyramidal cells of
    the winning group fire more regularly (ISI CV 0.63), and per neuron a regular 40 Hz train gives
    9 % more NMDA gating (0.790 against 0.717). In Brian2 runs of Wang's network
    (validation/wang2002_brian2.py, N = 2000, c′ = 51.2 %, μ0 = 40 Hz constant, 3 seeds)
    A fires 32.5 Hz (mean over 0.5–2 s after onset) with per-neuron saturation and
    22.9 Hz with the per-group shortcut, the rate neurojax gave before; `wang2002` now
    gives 31.5 Hz (seeds 1–3), in Wang's 30–40 Hz (docs/wang2002.md).

    Integration is neurojax's fixed-step exponential Euler (Wang used second-order
    Runge–Kutta, dt = 0.02 ms).

    Units: mV, ms, nA, µS, Hz.
    """
    for name, value in (("f", f), ("w_plus", w_plus)):
        _real(name, value, "dimensionless")
        if isinstance(value, jax.core.Tracer) or np.ndim(value) != 0:
            raise TypeError(
                f"wang2002: {name} must be a concrete number (it sets the group sizes and "
                f"weights), got {value!r}."
            )
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
                    dense(*shape, g["nmda"] * scale_e * w * _NMDA_SCALE),
                    nmda_synapse(),
                    delay=_DELAY,
                    stp=nmda_release(),
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
