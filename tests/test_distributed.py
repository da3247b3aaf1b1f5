"""`neurojax.sharding` on JAX's own distributed runtime (issue 21, item 5): a population
and a parameter sweep run as two processes on this machine — `jax.distributed` with a
coordinator on localhost, each process owning 2 forced CPU devices, Gloo collectives —
give exactly the results of one process.

Slow tier: three fresh Python processes each trace and compile the cases (~30 CPU-s in
all). The fast tier covers `neurojax.sharding` through
`tests/test_sharding.py::test_single_device_and_argument_errors`; the single-process,
4-device equality is `tests/test_sharding.py`'s (slow) tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

# The same script runs in every process. With `nproc > 1` it joins the coordinator first,
# as a user's script would on a cluster; `process_allgather` brings the global outputs
# to every process (the outputs are small), and process 0 writes them.
_WORKER = textwrap.dedent(
    """
    import sys
    import jax

    jax.config.update("jax_enable_x64", True)
    pid, nproc, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if nproc > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=f"localhost:{port}", num_processes=nproc, process_id=pid
        )
    import jax.numpy as jnp
    import numpy as np
    from jax.experimental import multihost_utils

    import neurojax as nj
    from neurojax.sharding import shard_population, sweep

    assert len(jax.devices()) == 2 * nproc and len(jax.local_devices()) == 2

    # a population of 8 HH neurons with their own leak reversal, one common drive
    drive = jnp.full((800,), 8.0)  # µA/cm², 20 ms at dt 0.025
    model, inputs = shard_population(nj.HodgkinHuxley(e_l=jnp.linspace(-60.0, -50.0, 8)), drive)
    run = jax.jit(
        lambda m, x: nj.simulate(m, x, dt=0.025, saveat=nj.SaveAt(every=40), throw=False).v
    )
    v = multihost_utils.process_allgather(run(model, inputs), tiled=True)

    # a sweep of g_Na over the devices: the peak voltage of each run
    peak = sweep(
        lambda g: nj.simulate(nj.HodgkinHuxley(g_na=g), drive, dt=0.025, throw=False).v.max(),
        jnp.linspace(60.0, 160.0, 8),
    )
    peak = multihost_utils.process_allgather(peak, tiled=True)
    if pid == 0:
        np.savez(out, v=np.asarray(v), peak=np.asarray(peak), devices=len(jax.devices()))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cpu"
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow  # three fresh processes, each compiling both cases
def test_two_processes_equal_one(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    port = str(_free_port())
    two, one = tmp_path / "two.npz", tmp_path / "one.npz"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(pid), "2", port, str(two)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pid in (0, 1)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-4000:]
    single = subprocess.run(
        [sys.executable, str(script), "0", "1", "0", str(one)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-4000:]

    a, b = np.load(two), np.load(one)
    assert int(a["devices"]) == 4 and int(b["devices"]) == 2
    assert a["v"].shape == (20, 8) and a["peak"].shape == (8,)
    # the runs are elementwise in the neuron axis, so each device computes its neurons
    # with the same operations as one process does: equal bit for bit, not to a tolerance
    np.testing.assert_array_equal(a["v"], b["v"])
    np.testing.assert_array_equal(a["peak"], b["peak"])
    # and the cases are not trivial: the neurons differ, and the peak rises with g_Na
    assert np.ptp(a["v"][-1]) > 1.0
    assert np.all(np.diff(a["peak"]) > 0.5)
