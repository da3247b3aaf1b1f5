"""`neurojax.sharding`: populations and sweeps split over several devices give exactly the
unsharded results, and are actually split.

Several devices on a CPU need `--xla_force_host_platform_device_count`, which must be set
before JAX initialises, so the multi-device checks run in a fresh Python process
(`_SCRIPT`), which prints its measurements as JSON; the assertions are made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.sharding import device_mesh, population_sharding, shard_population, sweep

DEVICES = 4

_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import jax, jax.numpy as jnp, numpy as np
    import neurojax as nj
    from neurojax.sharding import shard_population, sweep

    out = {"devices": jax.device_count()}

    def split(a):
        # (number of devices holding a part, shapes of the parts, fully replicated?)
        return {"n_devices": len(a.sharding.device_set),
                "shards": sorted({tuple(s.data.shape) for s in a.addressable_shards}),
                "replicated": bool(a.sharding.is_fully_replicated)}

    def diff(a, b):
        a, b = np.asarray(a), np.asarray(b)
        return {"shape_equal": a.shape == b.shape, "equal": bool(np.array_equal(a, b)),
                "max_abs": float(np.max(np.abs(a - b))) if a.shape == b.shape else None}

    # HH population: common input (n_steps,), per-neuron leak reversal (an f-I sweep, mV)
    n = 32
    hh = nj.HodgkinHuxley(e_l=jnp.asarray(-54.3 + 10.0 * np.linspace(0, 1, n) / 0.3, jnp.float32))
    i_hh = jnp.full((400,), 5.0, jnp.float32)                         # uA/cm^2, 10 ms
    save = nj.SaveAt(every=10)
    ref = nj.simulate(hh, i_hh, dt=0.025, saveat=save)
    m, x = shard_population(hh, i_hh)
    out["hh_param_split"] = split(m.e_l)
    out["hh_input_split"] = split(x)
    eager = nj.simulate(m, x, dt=0.025, saveat=save)                   # eager: compiled once
    out["hh_eager_v"] = diff(eager.v, ref.v)
    out["hh_eager_spikes"] = diff(eager.spikes, ref.spikes)
    out["hh_eager_split"] = split(eager.v)
    out["hh_spikes"] = float(ref.spikes.sum())
    run = jax.jit(lambda m, x: nj.simulate(m, x, dt=0.025, saveat=save, throw=False))
    jitted = run(m, x)
    # against the same jitted function unsharded (another program than the eager one:
    # XLA fuses it differently, which changes float32 roundings, sharded or not)
    ref_jit = run(hh, i_hh)
    out["hh_jit_v"] = diff(jitted.v, ref_jit.v)
    out["hh_jit_final_n"] = diff(jitted.final_state.y.n, ref_jit.final_state.y.n)
    out["hh_jit_split"] = split(jitted.v)

    # LIF population with a per-neuron input (n_steps, N) in nA: the input is split too
    n_lif = 32
    lif = nj.LIF(v_rest=jnp.asarray(-65.0 + 10.0 * np.linspace(0, 1, n_lif), jnp.float32))
    i_lif = jnp.asarray(1.5 + np.linspace(0, 1, n_lif)[None, :] * np.ones((500, 1)), jnp.float32)
    ref = nj.simulate(lif, i_lif, dt=0.1)
    m, x = shard_population(lif, i_lif)
    out["lif_input_split"] = split(x)
    got = nj.simulate(m, x, dt=0.1)
    out["lif_v"] = diff(got.v, ref.v)
    out["lif_spikes"] = diff(got.spikes, ref.spikes)
    out["lif_spike_total"] = float(ref.spikes.sum())
    out["lif_split"] = split(got.v)

    # a population not divisible by the device count: an error, or padding with a warning
    try:
        shard_population(nj.LIF(v_rest=jnp.zeros(30) - 65.0), jnp.full((10,), 1.5))
        out["indivisible_error"] = None
    except ValueError as e:
        out["indivisible_error"] = str(e)
    lif30 = nj.LIF(v_rest=jnp.asarray(-65.0 + 10.0 * np.linspace(0, 1, 30), jnp.float32))
    i30 = jnp.full((500,), 1.8, jnp.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m, x = shard_population(lif30, i30, pad=True)
    out["pad_warning"] = [str(w.message) for w in caught]
    got = nj.simulate(m, x, dt=0.1)
    ref = nj.simulate(lif30, i30, dt=0.1)
    out["pad_shape"] = list(got.v.shape)
    out["pad_v"] = diff(got.v[:, :30], ref.v)

    # a parameter sweep: HH spike count and final V against g_Na (mS/cm^2)
    def measure(g_na):
        sol = nj.simulate(nj.HodgkinHuxley(g_na=g_na), jnp.full((800,), 10.0), dt=0.025)
        return {"count": sol.spikes.sum(), "v_end": sol.final_state.y.v}

    g = jnp.linspace(60.0, 180.0, 8)
    ref = jax.vmap(measure)(g)
    got = sweep(measure, g)
    out["sweep_count"] = diff(got["count"], ref["count"])
    out["sweep_v"] = diff(got["v_end"], ref["v_end"])
    out["sweep_split"] = split(got["v_end"])
    out["sweep_counts"] = np.asarray(ref["count"]).tolist()
    got6 = sweep(measure, g[:6], pad=True)
    out["sweep_pad_v"] = diff(got6["v_end"], ref["v_end"][:6])
    try:
        sweep(measure, g[:6])
        out["sweep_error"] = None
    except ValueError as e:
        out["sweep_error"] = str(e)
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def multi_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={DEVICES}"
    )
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = (
        str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    )
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT ") :])


def _is_split(s):
    """Split over all devices, in parts of one shape (checked by the callers)."""
    return s["n_devices"] == DEVICES and not s["replicated"] and len(s["shards"]) == 1


@pytest.mark.slow  # a subprocess with 4 forced CPU devices compiles every case afresh
def test_sharded_hh_population_equals_unsharded(multi_device):
    r = multi_device
    assert r["devices"] == DEVICES
    assert r["hh_spikes"] > 0  # the comparison covers spiking, not only subthreshold runs
    # exact: each device runs the same elementwise program on its own neurons
    for key in ("hh_eager_v", "hh_eager_spikes", "hh_jit_v", "hh_jit_final_n"):
        assert r[key]["shape_equal"] and r[key]["equal"], (key, r[key])
    # the parameter is split, the common input (n_steps,) replicated, the output split
    assert _is_split(r["hh_param_split"]) and r["hh_param_split"]["shards"] == [[8]]
    assert r["hh_input_split"]["replicated"]
    for key in ("hh_eager_split", "hh_jit_split"):
        assert _is_split(r[key]) and r[key]["shards"] == [[40, 8]], (key, r[key])


@pytest.mark.slow  # a subprocess with 4 forced CPU devices compiles every case afresh
def test_sharded_lif_population_equals_unsharded(multi_device):
    r = multi_device
    assert r["lif_spike_total"] > 0
    for key in ("lif_v", "lif_spikes"):
        assert r[key]["shape_equal"] and r[key]["equal"], (key, r[key])
    assert r["lif_input_split"]["shards"] == [[500, 8]] and not r["lif_input_split"]["replicated"]
    assert _is_split(r["lif_split"]) and r["lif_split"]["shards"] == [[500, 8]]


@pytest.mark.slow  # a subprocess with 4 forced CPU devices compiles every case afresh
def test_indivisible_population_errors_or_pads(multi_device):
    r = multi_device
    msg = r["indivisible_error"]
    assert msg is not None and "30" in msg and "multiple of 4" in msg and "pad=True" in msg
    assert len(r["pad_warning"]) == 1 and "padded to 32" in r["pad_warning"][0]
    assert r["pad_shape"] == [500, 32]
    # the 30 real neurons are unaffected by the 2 copies appended
    assert r["pad_v"]["equal"], r["pad_v"]


@pytest.mark.slow  # a subprocess with 4 forced CPU devices compiles every case afresh
def test_sharded_sweep_equals_vmap(multi_device):
    r = multi_device
    # g_Na from 60 to 180 mS/cm² crosses from few to many spikes: different results per set
    assert len(set(r["sweep_counts"])) > 1
    assert r["sweep_count"]["shape_equal"] and r["sweep_count"]["equal"], r["sweep_count"]
    # V to float32 rounding, not bit for bit: each device holds 2 of the 8 parameter sets,
    # fewer than a 512-bit vector's 16 lanes (neurojax's default on AVX-512 CPUs), and XLA
    # steps such a remainder with other instructions than the full vector of the vmapped
    # reference: 1 ulp in an `exp` (7.6e-6 mV at 60 mV was seen). Over these 10 ms a
    # perturbation grows at most by the upstroke's e-folding over a few steps, ~10² per
    # spike: 1e-3 mV bounds a few ulp amplified, far below a shifted spike (tens of mV).
    for key in ("sweep_v", "sweep_pad_v"):
        assert r[key]["shape_equal"] and r[key]["max_abs"] <= 1e-3, (key, r[key])
    assert _is_split(r["sweep_split"]) and r["sweep_split"]["shards"] == [[2]]
    assert r["sweep_error"] is not None and "multiple of 4" in r["sweep_error"]


def test_single_device_and_argument_errors():
    # in this process JAX has its usual device(s): the API works unchanged on one device
    hh = nj.HodgkinHuxley(e_l=jnp.linspace(-60.0, -50.0, 4))
    m, x = shard_population(hh, jnp.full((40,), 5.0), mesh=device_mesh(jax.devices()[:1]))
    a = nj.simulate(m, x, dt=0.025).v
    b = nj.simulate(hh, jnp.full((40,), 5.0), dt=0.025).v
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # same program, same device
    assert population_sharding(None, 2).spec == jax.sharding.PartitionSpec(None, "neurons")
    with pytest.raises(TypeError, match="AbstractNeuron"):
        shard_population(object(), jnp.ones(3))
    with pytest.raises(ValueError, match="single neuron"):
        shard_population(nj.HodgkinHuxley(), jnp.ones(3))
    with pytest.raises(TypeError, match="Mesh"):
        shard_population(hh, jnp.ones(3), mesh="gpu")
    with pytest.raises(ValueError, match="leading axis"):
        sweep(lambda p: p, {"a": jnp.ones(3), "b": jnp.ones(4)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one device divides everything: no padding
        out = sweep(lambda g: g * 2.0, jnp.arange(3.0), mesh=device_mesh(jax.devices()[:1]))
    np.testing.assert_array_equal(np.asarray(out), [0.0, 2.0, 4.0])
    # a model as the parameter sets: (S,) arrays are swept, 0-d parameters shared
    models = nj.LIF(v_rest=jnp.asarray([-65.0, -60.0, -55.0]), tau=20.0)
    drive = jnp.full((100,), 1.0)  # nA
    final_v = sweep(lambda m: nj.simulate(m, drive, dt=0.1).final_state.y.v, models)
    each = [nj.simulate(nj.LIF(v_rest=v, tau=20.0), drive, dt=0.1).final_state.y.v for v in
            (-65.0, -60.0, -55.0)]  # fmt: skip
    # vmap vs one run per set: the same elementwise operations, float32 roundings aside
    np.testing.assert_allclose(np.asarray(final_v), np.asarray(each), rtol=0, atol=1e-4)
