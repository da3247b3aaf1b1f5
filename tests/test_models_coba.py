"""COBA (Brette et al. 2007, Benchmark 1) against Brian2: mean rate and ISI CV within the
seed-to-seed spread of Brian2 running the same network (tests/data/brian2_coba.json,
written by validation/make_brian2_coba.py)."""

import importlib.util
import json
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.models import coba, coba_inputs, cuba, random_initial_state

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = json.loads((ROOT / "tests" / "data" / "brian2_coba.json").read_text())


def _statistics():
    # The very code that computed the Brian2 statistics, so both sides count alike.
    spec = importlib.util.spec_from_file_location("mk", ROOT / "validation" / "make_brian2_coba.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    return mk.statistics


def _run_coba(seed):
    net = coba(jax.random.key(seed))
    # Brian2 counts the step of the spike as the first refractory step (V is integrated
    # again once t − t_spike ≥ 5 ms, i.e. held for 49 steps); neurojax holds V for
    # round(t_ref/dt) steps *after* the spike step. t_ref = 5 ms − dt reproduces Brian2's
    # count exactly (with 5 ms the mean ISI CV came out 0.03 lower, ~2 of Brian2's sd).
    t_ref = jnp.asarray(5.0 - net.dt)
    net = eqx.tree_at(
        lambda n: (n.populations["E"].neuron.t_ref, n.populations["I"].neuron.t_ref),
        net,
        (t_ref, t_ref),
    )
    # Common padding: both seeds share array shapes and compile once.
    conns = [
        p.connectivity.padded(m) for p, m in zip(net.projections, (128, 48, 128, 48), strict=True)
    ]
    net = eqx.tree_at(lambda n: [p.connectivity for p in n.projections], net, conns)
    y0 = random_initial_state(net, jax.random.fold_in(jax.random.key(seed), 99))
    sol = nj.simulate(
        net,
        coba_inputs(net, 10_000),
        dt=net.dt,
        state0=y0,
        saveat=nj.SaveAt(fn=lambda y: None, spike_dtype=jnp.uint8),
    )
    s = np.concatenate([np.asarray(sol.spikes["E"]), np.asarray(sol.spikes["I"])], axis=1)
    k, i = np.nonzero(s)
    return _statistics()(i, k * net.dt, 4000, 3200)  # Brian2 stamps a spike at its step's start


# slow tier: a comparison with a stored Brian2 run of the 4000-neuron network (1 s); test_cuba_runs_active keeps the model in the fast tier
@pytest.mark.slow
def test_coba_matches_brian2():
    # Brian2 over 8 seeds (new connectivity and initial state each): rate 21.7 ± 0.9 Hz,
    # ISI CV 1.563 ± 0.014 (mean ± sd). Each neurojax seed must fall within 3 sd of
    # Brian2's seed distribution — the spread any single Brian2 run shows; measured:
    # seeds 0, 1 → rate 22.1, 22.05 Hz; CV 1.540, 1.552.
    ref = REFERENCE["summary"]
    for seed in (0, 1):
        got = _run_coba(seed)
        for name in ("rate_hz", "rate_e_hz", "rate_i_hz", "isi_cv"):
            mean, sd = ref[name]["mean"], ref[name]["std"]
            assert abs(got[name] - mean) < 3 * sd, (seed, name, got[name], mean, sd)
        # Asynchronous irregular: CV above 1 (bursty-irregular, as Brian2's 1.56).
        assert got["isi_cv"] > 1.0


def test_cuba_runs_active():
    # CUBA, 1000 neurons at p = 0.08 (the 4000-neuron in-degree) for 300 ms: the network
    # stays active at a moderate rate (no Brian2 reference here yet: a smoke test).
    net = cuba(jax.random.key(3), 1000, p=0.08)
    y0 = random_initial_state(net, jax.random.key(4), mean=-55.0, std=5.0)
    sol = nj.simulate(
        net, {"E": jnp.zeros((3000, 1))}, dt=net.dt, state0=y0, saveat=nj.SaveAt(fn=lambda y: None)
    )
    s = np.concatenate([np.asarray(sol.spikes["E"]), np.asarray(sol.spikes["I"])], axis=1)[500:]
    rate = s.sum() / s.shape[1] / (s.shape[0] * net.dt * 1e-3)
    assert 1.0 < rate < 100.0, rate
