"""Brian2 reference runs of the Wang (2002) decision network, written from the paper's
Methods (Neuron 36:955, 2002) for the fidelity study of `neurojax.models.wang2002`.

Run in a Brian2 environment of its own (Brian2 needs numpy < 2.3), e.g.::

    python3 -m venv /tmp/brian2-venv && /tmp/brian2-venv/bin/pip install brian2 "numpy<2.3"
    /tmp/brian2-venv/bin/python validation/wang2002_brian2.py --nmda exact --seed 1 \
        --out /tmp/wang_b2_exact_1.npz

Network (all as Wang 2002, Methods): N = 2000 LIF neurons (1600 pyramidal, 400
interneurons), all-to-all; selective groups A, B (f = 0.15 of the pyramidal cells
each), non-selective NS, interneurons I. C_m 0.5/0.2 nF, g_L 25/20 nS, V_L −70,
V_th −50, V_reset −55 mV, τ_ref 2/1 ms (E/I). AMPA (τ 2 ms), NMDA (τ_rise 2 ms,
τ_decay 100 ms, α 0.5 /ms, Mg block 1/(1 + [Mg] e^{−0.062 V}/3.57), [Mg] = 1 mM),
GABA_A (τ 5 ms); V_E = 0, V_I = −70 mV; recurrent delay 0.5 ms. Conductances (nS) on
E / I: ext AMPA 2.1 / 1.62, rec AMPA 0.05 / 0.04, NMDA 0.165 / 0.13, GABA 1.3 / 1.0,
scaled by 1600/N_E (excitatory) and 400/N_I (inhibitory) for other sizes. Weights
w+ within A and within B, w− = 1 − f(w+ − 1)/(1 − f) from A to B, B to A and NS to A
and B, 1 otherwise (AMPA and NMDA). Background 2.4 kHz Poisson (800 × 3 Hz) per
neuron; stimulus Poisson μ_A = μ0(1 + c′/100) per A cell, μ_B = μ0(1 − c′/100) per B
cell, through the external AMPA synapses; with --sigma > 0 the group's rate is
redrawn every 50 ms from a Gaussian of that s.d. (one value per group), otherwise
constant.

NMDA gating:
  --nmda exact:  per presynaptic neuron j, ds_j/dt = −s_j/τ_d + α x_j (1 − s_j),
                 dx_j/dt = −x_j/τ_r + Σ δ(t − t_j − delay); the postsynaptic conductance
                 is g_NMDA B(V) Σ_j w_j s_j (Wang 2002).
  --nmda group:  the saturation applied to each presynaptic group's mean, the
                 approximation neurojax used before (x̄ jumps (1 − e^{−ατ_r})/(ατ_r)/N_g
                 per spike of the group, s̄ saturates on x̄), to measure its effect.

Writes an .npz with the spike times and indices of every population.
"""

import argparse
import math
import os

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=2000)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--nmda", choices=("exact", "group"), default="exact")
p.add_argument("--coherence", type=float, default=51.2)
p.add_argument("--mu0", type=float, default=40.0)
p.add_argument("--sigma", type=float, default=0.0)
p.add_argument("--t-spont", type=float, default=500.0, help="ms before stimulus onset")
p.add_argument("--t-stim", type=float, default=2000.0, help="ms of stimulus")
p.add_argument("--dt", type=float, default=0.1)
p.add_argument("--method", default="euler")
p.add_argument("--build", default=None)
p.add_argument("--out", required=True)
a = p.parse_args()

import brian2 as b2  # noqa: E402
from brian2 import Hz, ms, mV, nF, nS  # noqa: E402

build = a.build or f"/tmp/w2/b2build_{a.nmda}_{a.n}_{a.seed}_{os.getpid()}"
b2.set_device("cpp_standalone", directory=build)
b2.prefs.devices.cpp_standalone.openmp_threads = 0
b2.defaultclock.dt = a.dt * ms
b2.seed(a.seed)

n_e = int(round(0.8 * a.n))
n_i = a.n - n_e
f, w_plus = 0.15, 1.7
n_sel = int(round(f * n_e))
w_minus = 1.0 - f * (w_plus - 1.0) / (1.0 - f)
se, si = 1600.0 / n_e, 400.0 / n_i

ns = {
    "V_L": -70 * mV,
    "V_th": -50 * mV,
    "V_reset": -55 * mV,
    "V_E": 0 * mV,
    "V_I": -70 * mV,
    "tau_ampa": 2 * ms,
    "tau_gaba": 5 * ms,
    "tau_r": 2 * ms,
    "tau_d": 100 * ms,
    "alpha": 0.5 / ms,
    "mg": 1.0,
}
model = """
dV/dt = (-g_L*(V - V_L) - I_syn) / C_m : volt (unless refractory)
I_syn = (g_ext_s + g_ampa_s)*(V - V_E) + g_gaba_s*(V - V_I)
        + g_nmda*S_nmda*(V - V_E)/(1 + mg*exp(-0.062*V/mV)/3.57) : amp
dg_ext_s/dt = -g_ext_s/tau_ampa : siemens
dg_ampa_s/dt = -g_ampa_s/tau_ampa : siemens
dg_gaba_s/dt = -g_gaba_s/tau_gaba : siemens
S_nmda : 1
g_L : siemens (constant)
C_m : farad (constant)
g_nmda : siemens (constant)
"""
exc_model = (
    model
    + """
ds_n/dt = -s_n/tau_d + alpha*x_n*(1 - s_n) : 1
dx_n/dt = -x_n/tau_r : 1
grp : integer (constant)
"""
)
E = b2.NeuronGroup(
    n_e,
    exc_model,
    threshold="V > V_th",
    reset="V = V_reset",
    refractory=2 * ms,
    method=a.method,
    namespace=ns,
    name="E",
)
I = b2.NeuronGroup(
    n_i,
    model,
    threshold="V > V_th",
    reset="V = V_reset",
    refractory=1 * ms,
    method=a.method,
    namespace=ns,
    name="I",
)
E.C_m, E.g_L, E.g_nmda = 0.5 * nF, 25 * nS, 0.165 * nS * se
I.C_m, I.g_L, I.g_nmda = 0.2 * nF, 20 * nS, 0.13 * nS * se
grp = np.full(n_e, 2)
grp[:n_sel], grp[n_sel : 2 * n_sel] = 0, 1
E.grp = grp
E.V = -70 * mV + 20 * mV * np.random.default_rng(a.seed).random(n_e)
I.V = -70 * mV + 20 * mV * np.random.default_rng(a.seed + 1000).random(n_i)


# Wang's weight from E group pre to group post (0 = A, 1 = B, 2 = NS): w+ within A and
# within B, w− from the other E groups onto A and B, 1 otherwise
W_EXPR = (
    f"(1 + ({w_plus} - 1)*int({{pre}} == {{post}} and {{post}} < 2)"
    f" + ({w_minus} - 1)*int({{pre}} != {{post}} and {{post}} < 2))"
)
# recurrent AMPA (event-driven, per synapse) and GABA
ee = b2.Synapses(
    E,
    E,
    "w : siemens (constant)",
    on_pre="g_ampa_s_post += w",
    delay=0.5 * ms,
    namespace={"g_ee": 0.05 * nS * se},
)
ee.connect()
ee.w = "g_ee * " + W_EXPR.format(pre="grp_pre", post="grp_post")
ei = b2.Synapses(
    E, I, on_pre="g_ampa_s_post += g_ei", delay=0.5 * ms, namespace={"g_ei": 0.04 * nS * se}
)
ei.connect()
ie = b2.Synapses(
    I, E, on_pre="g_gaba_s_post += g_ie", delay=0.5 * ms, namespace={"g_ie": 1.3 * nS * si}
)
ie.connect()
ii = b2.Synapses(
    I, I, on_pre="g_gaba_s_post += g_ii", delay=0.5 * ms, namespace={"g_ii": 1.0 * nS * si}
)
ii.connect()

# NMDA: group sums of the presynaptic gating, then weighted onto every neuron
agg = b2.NeuronGroup(
    3,
    """S : 1
dxg/dt = -xg/tau_r : 1
dsg/dt = -sg/tau_d + alpha*xg*(1 - sg) : 1
size : 1 (constant)""",
    method="euler",
    namespace=ns,
    name="agg",
)
agg.size = [n_sel, n_sel, n_e - 2 * n_sel]
if a.nmda == "exact":
    kick = b2.Synapses(E, E, on_pre="x_n_post += 1", delay=0.5 * ms)  # delayed x of j itself
    kick.connect(j="i")
    tosum = b2.Synapses(E, agg, "S_post = s_n_pre : 1 (summed)")
    tosum.connect(j="grp_pre")
else:
    jump = (1 - math.exp(-0.5 * 2.0)) / (0.5 * 2.0)
    kick = b2.Synapses(
        E, agg, on_pre="xg_post += jump/size_post", delay=0.5 * ms, namespace={"jump": jump}
    )
    kick.connect(j="grp_pre")
    agg.run_regularly("S = size*sg", when="before_groups")
to_e_nmda = b2.Synapses(agg, E, "wn : 1 (constant)\nS_nmda_post = wn*S_pre : 1 (summed)")
to_e_nmda.connect()
to_e_nmda.wn = W_EXPR.format(pre="i", post="grp_post")
to_i_nmda = b2.Synapses(agg, I, "S_nmda_post = S_pre : 1 (summed)")
to_i_nmda.connect()

# background and stimulus
bg_e = b2.PoissonInput(E, "g_ext_s", 800, 3 * Hz, weight=2.1 * nS)
bg_i = b2.PoissonInput(I, "g_ext_s", 800, 3 * Hz, weight=1.62 * nS)
stim = b2.NeuronGroup(
    2 * n_sel,
    """rate : Hz
side : integer (constant)""",
    threshold="rand() < rate*dt",
    name="stim",
)
stim.side = np.repeat([0, 1], n_sel)
mu = {0: a.mu0 * (1 + a.coherence / 100), 1: a.mu0 * (1 - a.coherence / 100)}
on, off = a.t_spont * ms, (a.t_spont + a.t_stim) * ms
# one Gaussian draw per group and 50 ms window, held by a 2-neuron helper group
draw = b2.NeuronGroup(
    2,
    "r : Hz\nmu_i : Hz (constant)",
    name="draw",
    namespace={"on": on, "off": off, "sigma": a.sigma * Hz},
)
draw.mu_i = [mu[0] * Hz, mu[1] * Hz]
draw.run_regularly(
    "r = int(t >= on - 0.5*dt and t < off) * clip(mu_i + sigma*randn(), 0*Hz, 1000*Hz)",
    dt=50 * ms,
    when="start",
)
stim_mu = b2.Synapses(draw, stim, "rate_post = r_pre : Hz (summed)")
stim_mu.connect(j=f"i*{n_sel} + k for k in range({n_sel})")
to_e = b2.Synapses(stim, E, on_pre="g_ext_s_post += 2.1*nS")
to_e.connect(j="i")

mon_e = b2.SpikeMonitor(E)
mon_i = b2.SpikeMonitor(I)
b2.run((a.t_spont + a.t_stim) * ms)
np.savez(
    a.out,
    e_t=np.asarray(mon_e.t / ms),
    e_i=np.asarray(mon_e.i),
    i_t=np.asarray(mon_i.t / ms),
    i_i=np.asarray(mon_i.i),
    n_e=n_e,
    n_i=n_i,
    n_sel=n_sel,
    dt=a.dt,
    seed=a.seed,
    t_spont=a.t_spont,
    t_stim=a.t_stim,
    nmda=a.nmda,
    coherence=a.coherence,
    mu0=a.mu0,
    sigma=a.sigma,
    method=a.method,
)
print("wrote", a.out)
