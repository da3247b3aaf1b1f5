"""Brunel (2000) sparse E/I network: the synchronous-regular and asynchronous-irregular
states at the published (g, η), scaled down to 2500 neurons."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.models import brunel2000
from neurojax.network import isi_cv

SAVE = nj.SaveAt(fn=lambda y: None)  # one SaveAt: both regimes share one compilation


def _run(g, eta):
    # N_E = 2000, C_E = 200 (ε = 0.1 as published) with J = 0.5 mV, so that J·C_E = 100 mV
    # — the mean recurrent and external input of Brunel's N_E = 10000, J = 0.1 mV network.
    net = brunel2000(jax.random.key(0), g, eta, n_e=2000, j=0.5)
    y0 = net.init_state()
    y0 = y0._replace(
        neurons={
            n: s._replace(v=20.0 * jax.random.uniform(jax.random.key(i), s.v.shape))
            for i, (n, s) in enumerate(y0.neurons.items())
        }
    )
    sol = nj.simulate(
        net, {"E": jnp.zeros((2000, 1))}, dt=net.dt, key=jax.random.key(1), state0=y0, saveat=SAVE
    )
    s = np.asarray(sol.spikes["E"])[500:]  # after 50 ms
    return s.mean() / (net.dt * 1e-3), isi_cv(s, net.dt)


@pytest.mark.slow  # ~10 s on 2 free cores: 2500 neurons, 2 × 200 ms, high SR rates
def test_synchronous_regular_and_asynchronous_irregular():
    # Brunel (2000), Fig. 8. Measured: SR (g = 3, η = 2) 311 Hz, CV 0.03 — neurons fire
    # near saturation (1/τ_rp = 500 Hz), clock-like; AI (g = 5, η = 2) 46 Hz, CV 0.78 —
    # inhibition-dominated, irregular (the diffusion theory gives ~40 Hz there). Bounds
    # leave room for seeds: SR CV < 0.15 and rate > 200 Hz; AI CV > 0.5, 20–80 Hz.
    rate, cv = _run(3.0, 2.0)
    assert rate > 200 and cv < 0.15, (rate, cv)
    rate, cv = _run(5.0, 2.0)
    assert 20 < rate < 80 and cv > 0.5, (rate, cv)
