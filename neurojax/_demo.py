"""`python -m neurojax demo`: simulate Hodgkin–Huxley and AdEx, fit the HH conductances
to a noisy synthetic recording, simulate a branched cable cell and an E/I-balanced
network, and write the figures.

The fit is the first thing a user does with neurojax, so the demo goes through the public
path: `neurojax.simulate` to make a three-sweep patch-clamp recording with 1 mV of
measurement noise, `neurojax.fitting.fit` from a guess off by up to ±40 %, and plots of
the traces and the loss curve.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from . import cable, fitting, models, network
from ._saveat import SaveAt
from ._simulate import simulate
from .neurons import AdEx, HodgkinHuxley

DT = 0.025  # ms, NEURON's default time step
NOISE_MV = 1.0  # measurement noise of the synthetic recording, mV
GUESS = (0.6, 1.4, 1.4)  # initial g_na, g_k, g_l as multiples of the truth
ADEX_PATTERNS = ("tonic", "adapting", "initial_burst", "regular_bursting")
TRANSIENT_MS = 25.0  # start-up transient of the COBA network from its random initial V


def hh_protocol(dt: float = DT, duration: float = 30.0) -> jnp.ndarray:
    """Three sweeps of a current-clamp protocol, `(n_steps, 3)` in µA/cm²: a
    hyperpolarising and a subthreshold depolarising step (−3 and +2 µA/cm², 2–28 ms),
    and a 2 ms, 20 µA/cm² pulse that fires one spike."""
    t = dt * np.arange(int(round(duration / dt)))
    step = (t >= 2.0) & (t < duration - 2.0)
    pulse = (t >= 2.0) & (t < 4.0)
    return jnp.asarray(np.stack([-3.0 * step, 2.0 * step, 20.0 * pulse], axis=1))


def run_demo(out_dir: str | pathlib.Path = "neurojax_demo", fast: bool = False) -> dict:
    """Run the demo and write `simulations.png`, `fit_traces.png` and `fit_loss.png` into
    `out_dir` (created if needed). `fast` caps the fit at 8 steps (a smoke test).
    Returns the true and fitted conductances (mS/cm²) and the figure paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(f"neurojax demo (JAX {jax.__version__} on {jax.default_backend()})", flush=True)

    # ---- 1. simulate: HH spike train and four AdEx firing patterns (Naud et al. 2008)
    print("1/5 simulating Hodgkin–Huxley (10 µA/cm², 100 ms) and AdEx patterns ...", flush=True)
    n_hh = int(round(100.0 / DT))
    i_hh = jnp.where(jnp.arange(n_hh) * DT >= 10.0, 10.0, 0.0)
    hh_sol = simulate(HodgkinHuxley(), i_hh, dt=DT)
    adex_dt, adex_n = 0.05, int(round(400.0 / 0.05))
    adex = {}
    for pattern in ADEX_PATTERNS:
        model, current = AdEx.naud2008(pattern)
        i_adex = jnp.where(jnp.arange(adex_n) * adex_dt >= 50.0, current, 0.0)
        adex[pattern] = (model, simulate(model, i_adex, dt=adex_dt))
    print(
        f"    HH: {int(hh_sol.spikes.sum())} spikes; AdEx spikes: "
        + ", ".join(f"{p} {int(s.spikes.sum())}" for p, (_, s) in adex.items()),
        flush=True,
    )
    fig, axes = plt.subplots(1 + len(adex), 1, figsize=(8, 9), sharex=False)
    axes[0].plot(hh_sol.t, hh_sol.v, color="k", lw=0.8)
    axes[0].set(title="Hodgkin–Huxley, 10 µA/cm² step at 10 ms", ylabel="V (mV)")
    for ax, (pattern, (model, sol)) in zip(axes[1:], adex.items(), strict=True):
        # the recorded V is after the reset: draw each spike up to the cut-off v_th
        ax.plot(sol.t, jnp.where(sol.spikes > 0, model.v_th, sol.v), lw=0.8)
        ax.set(title=f"AdEx, {pattern.replace('_', ' ')} (Naud et al. 2008)", ylabel="V (mV)")
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    sim_png = out / "simulations.png"
    fig.savefig(sim_png, dpi=110)
    plt.close(fig)

    # ---- 2. fit g_na, g_k, g_l to a noisy synthetic recording
    truth = np.array([120.0, 36.0, 0.3])
    inputs = hh_protocol()
    clean = simulate(HodgkinHuxley(), inputs, dt=DT).v
    noise = NOISE_MV * jax.random.normal(jax.random.key(0), clean.shape, clean.dtype)
    target = clean + noise
    g0 = truth * np.array(GUESS)
    guess = HodgkinHuxley(g_na=g0[0], g_k=g0[1], g_l=g0[2])
    print(
        f"2/5 fitting g_na, g_k, g_l from {g0[0]:.0f}, {g0[1]:.1f}, {g0[2]:.2f} mS/cm² to a "
        f"3-sweep recording with {NOISE_MV} mV noise ...",
        flush=True,
    )
    result = fitting.fit(
        guess,
        inputs,
        target,
        dt=DT,
        trainable=lambda m: (m.g_na, m.g_k, m.g_l),
        steps=8 if fast else 100,
        print_every=5,
    )
    fitted = np.array([float(p) for p in result.params])
    for name, t_, f_ in zip(("g_na", "g_k", "g_l"), truth, fitted, strict=True):
        print(f"    {name}: true {t_:g}, fitted {f_:.4g} mS/cm² ({100 * (f_ / t_ - 1):+.2f} %)")
    print(
        f"    final loss {result.loss:.3f} mV² (noise floor σ² = {NOISE_MV**2:.2f} mV²)",
        flush=True,
    )

    # ---- 3. figures: traces vs target, loss curve
    print("3/5 writing figures ...", flush=True)
    before = simulate(guess, inputs, dt=DT)
    after = simulate(result.model, inputs, dt=DT)
    t = np.asarray(after.t)
    titles = ("−3 µA/cm² step", "+2 µA/cm² step", "20 µA/cm², 2 ms pulse")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharex=True)
    for j, ax in enumerate(axes):
        ax.plot(t, target[:, j], color="0.6", lw=0.6, label="target (noisy)")
        ax.plot(t, before.v[:, j], "--", color="tab:blue", lw=1, label="initial guess")
        ax.plot(t, after.v[:, j], color="tab:red", lw=1.2, label="fitted")
        ax.set(title=titles[j], xlabel="time (ms)")
    axes[0].set_ylabel("V (mV)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    traces_png = out / "fit_traces.png"
    fig.savefig(traces_png, dpi=110)
    plt.close(fig)

    # the loss from the 40 %-off guess itself, then the fit's own history (which starts
    # where its first stage, the data-driven estimate under `Auto()`, put it)
    loss_guess = float(jnp.mean((before.v - target) ** 2))
    first = result.stages[0].name if result.stages else "start"
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.semilogy([0], [loss_guess], "s", color="tab:blue", ms=6,
                label=f"initial guess ({loss_guess:.0f} mV²)")  # fmt: skip
    steps = np.arange(1, len(result.losses) + 1)
    ax.semilogy(steps, result.losses, "o-", color="tab:red", ms=3,
                label=f"fit: {first}, then Levenberg–Marquardt")  # fmt: skip
    ax.axhline(NOISE_MV**2, color="0.5", ls=":", label="noise floor σ² = 1 mV²")
    ax.set(xlabel="step (0: the guess)", ylabel="trace MSE (mV²)",
           title="HH g_na, g_k, g_l fit from a guess 40 % off")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    loss_png = out / "fit_loss.png"
    fig.savefig(loss_png, dpi=110)
    plt.close(fig)

    cable_png = cable_part(out, plt)
    network_png = network_part(out, plt)
    paths = [sim_png, traces_png, loss_png, cable_png, network_png]
    print(f"done in {time.perf_counter() - start:.1f} s; figures in {out.resolve()}/:")
    for p in paths:
        print(f"    {p.name}")
    return {"truth": truth, "fitted": fitted, "figures": paths, "result": result}


def cable_part(out: pathlib.Path, plt) -> pathlib.Path:
    """A branched cell — soma, axon with HH channels, two passive dendrites — driven by a
    current pulse at the soma (Crank–Nicolson, tree solve): the action potential travels
    down the axon while the dendrites see an attenuated echo. Writes `cable.png`."""
    print("4/5 simulating a branched cable cell (soma, axon, 2 dendrites) ...", flush=True)
    morph = cable.Morphology(
        [
            cable.Branch(20.0, 20.0, nseg=1, type="soma"),
            cable.Branch(1000.0, 1.0, parent=0, nseg=51, type="axon"),
            cable.Branch(300.0, 2.0, parent=0, parent_x=0.0, nseg=21, type="dend"),
            cable.Branch(150.0, 1.0, parent=2, nseg=11, type="dend"),
        ]
    )
    cell = cable.Cell(
        morph,
        [(cable.HH(), [0, 1]), (cable.Passive(g=0.1, e=-65.0), "dend")],
        ra=100.0,
        clamps=[(0, 0.5)],
    )
    sites = {"soma": (0, 0.5), "axon, 500 µm": (1, 0.5), "axon end": (1, 1.0),
             "dendrite tip": (3, 1.0)}  # fmt: skip
    n = int(round(15.0 / DT))
    current = jnp.where((jnp.arange(n) * DT >= 1.0) & (jnp.arange(n) * DT < 2.0), 0.5, 0.0)
    sol = simulate(
        cell, current[:, None], dt=DT, saveat=SaveAt(fn=cell.record_v(list(sites.values())))
    )
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for k, name in enumerate(sites):
        ax.plot(np.asarray(sol.t), np.asarray(sol.states[:, k]), lw=1.2, label=name)
    ax.set(xlabel="time (ms)", ylabel="V (mV)", title="0.5 nA, 1 ms pulse at the soma")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "cable.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def network_part(out: pathlib.Path, plt) -> pathlib.Path:
    """The COBA network of Vogels & Abbott (2005) as Brette et al. (2007) benchmark it —
    4000 LIF neurons, 2 % random connectivity, conductance synapses — for 500 ms, with
    event-driven sparse propagation. Writes `network.png` (raster and rates)."""
    print("5/5 simulating the COBA E/I network (4000 LIF, 500 ms) ...", flush=True)
    key = jax.random.key(0)
    net = models.coba(key)
    n_steps = int(round(500.0 / net.dt))
    sol = simulate(
        net,
        models.coba_inputs(net, n_steps),
        dt=net.dt,
        state0=models.random_initial_state(net, jax.random.fold_in(key, 1)),
        saveat=SaveAt(fn=_nothing, spike_dtype=jnp.uint8),
    )
    rates = {k: network.mean_rate(v, net.dt) for k, v in sol.spikes.items()}
    print("    mean rates: " + ", ".join(f"{k} {r:.1f} Hz" for k, r in rates.items()))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    network.raster(sol.spikes, net.dt, ax=ax, max_neurons=250)
    # V starts from N(−55, 5) mV as in the benchmark scripts: the 16 % drawn above the
    # −50 mV threshold fire in the first step and recruit a third of the network within
    # 1 ms; the inhibition they set off keeps it nearly silent for ~20 ms before it
    # settles into its asynchronous irregular state
    ax.axvspan(0.0, TRANSIENT_MS, color="0.9", zorder=0)
    ax.text(TRANSIENT_MS / 2, 490, "start-up\ntransient", ha="center", va="top", fontsize=7)
    ax.set(xlabel="time (ms)", ylabel="neuron (250 E, then 250 I)")
    ax.set_title(f"COBA network, 4000 LIF: E {rates['E']:.1f} Hz, I {rates['I']:.1f} Hz",
                 loc="left", fontsize=10)  # fmt: skip
    fig.tight_layout()
    path = out / "network.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _nothing(y):
    """Keep no state, only the spikes (a module-level function: compiled once)."""
    return None
