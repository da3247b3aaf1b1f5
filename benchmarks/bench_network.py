"""COBA network benchmark (Brette et al. 2007, Benchmark 1): neurojax against Brian2
(Cython runtime and C++ standalone) and BrainPy on the same machine.

The network of the Brian2 / BrainPy benchmark scripts (and `neurojax.models.coba`):
N LIF neurons (80 % E, 20 % I), exponential conductances, 20 mV background drive,
V(0) ~ N(−55, 5) mV, dt = 0.1 ms, 1 s of biological time. Connection probability
p = 80/N (expected in-degree 80 as at N = 4000, p = 0.02; weights as published), so the
work per spike is the same at every size. Spikes are counted (as a check that the
simulators agree: rates should be ~20 Hz), nothing else is recorded.

Timings:
- neurojax: `compile_s` = trace + XLA compilation (`jax.jit(...).lower().compile()`);
  `run_s` = median of calls of the compiled run (`run_cpu_s`: their process CPU time).
- Brian2 Cython: `first_s` (code generation + compilation + run), `run_s` = a second
  `run()` of the same network (restored), which reuses the compiled code.
- Brian2 C++ standalone: `build_s` (code generation + compilation), `run_s` = the C++
  main loop's own time (`device._last_run_time`); one child process per size.
- BrainPy: `compile_s` = first call − later call; `run_s` = median of later calls.
Memory: peak resident set size of the process (MB).

Each simulator runs in its own environment (Brian2 needs numpy < 2.3):

    python benchmarks/bench_network.py --sim neurojax --sizes 4000 100000
    /tmp/brian2-venv/bin/python benchmarks/bench_network.py --sim brian2 --sizes 4000
    /tmp/bp-venv/bin/python benchmarks/bench_network.py --sim brainpy --sizes 4000

`--paired DIR` alternates neurojax's COBA with Brian2's standalone COBA program already
built in DIR (`run_paired`), one ratio per round under the same load.

`--part index` runs the micro-benchmark of ways to find the spiking neurons of a step
(`nonzero`, `top_k`, and the network's own searches of neurojax.network._propagate: the
former `top_k` rounds and two-level block search against the bitset tree, the default).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

DT, T_MS, IN_DEGREE = 0.1, 1000.0, 80
EVERY = int(__import__("os").environ.get("BENCH_EVERY", 100))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------- neurojax


def run_neurojax(n: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.models import coba, coba_inputs, random_initial_state

    t0 = time.perf_counter()
    net = coba(jax.random.key(0), n, p=IN_DEGREE / n)
    build_s = time.perf_counter() - t0
    n_steps = int(round(T_MS / DT))
    inputs = coba_inputs(net, n_steps)
    y0 = random_initial_state(net, jax.random.key(1))
    # Spike counts summed over 100 steps (uint8: a neuron fires at most 20 times in 10 ms),
    # so the output is 100x smaller than the per-step raster.
    save = nj.SaveAt(every=EVERY, fn=lambda y: None, spike_dtype=jnp.uint8)

    def count(net, y0):
        sol = nj.simulate(net, inputs, dt=DT, state0=y0, saveat=save, throw=False)
        return sum(jnp.sum(s, dtype=jnp.int32) for s in sol.spikes.values())

    # The compiled run alone, as Brian2 standalone's `run_s` is its C++ main loop alone:
    # called eagerly, `simulate` also checks its (10⁴ × 4000) inputs on the host first.
    t0 = time.perf_counter()
    compiled = jax.jit(count).lower(net, y0).compile()
    compile_s = time.perf_counter() - t0
    spikes = int(compiled(net, y0))
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), C.cpu_s()
        spikes = int(jax.block_until_ready(compiled(net, y0)))
        times.append(time.perf_counter() - t0)
        cpu.append(C.cpu_s() - c0)
    run = statistics.median(times)
    return dict(
        sim="neurojax",
        n=n,
        t_ms=T_MS,
        build_s=build_s,
        compile_s=compile_s,
        run_s=run,
        runs_s=times,
        run_cpu_s=statistics.median(cpu),
        rate_hz=spikes / n / (T_MS * 1e-3),
        peak_rss_mb=peak_rss_mb(),
        backend=jax.default_backend(),
    )


# --------------------------------------------------------------------------- Brian2

BRIAN2_EQS = """
dv/dt  = (ge*(Erev_exc-v)+gi*(Erev_inh-v)-(v-El) + I)*(1./taum) : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
"""


def _brian2_network(n: int):
    import brian2 as b2
    import numpy as np
    from brian2 import ms, mV

    b2.defaultclock.dt = DT * ms
    ns = dict(
        taum=20 * ms,
        taue=5 * ms,
        taui=10 * ms,
        Vt=-50 * mV,
        Vr=-60 * mV,
        El=-60 * mV,
        Erev_exc=0 * mV,
        Erev_inh=-80 * mV,
        I=20 * mV,
    )
    n_e = int(round(0.8 * n))
    P = b2.NeuronGroup(
        n,
        BRIAN2_EQS,
        threshold="v>Vt",
        reset="v = Vr",
        refractory=5 * ms,  # noqa: N806
        method="exponential_euler",
        namespace=ns,
    )
    Ce = b2.Synapses(P[:n_e], P, on_pre="ge += 0.6")  # noqa: N806
    Ci = b2.Synapses(P[n_e:], P, on_pre="gi += 6.7")  # noqa: N806
    Ce.connect(p=IN_DEGREE / n)
    Ci.connect(p=IN_DEGREE / n)
    P.v = (np.random.randn(n) * 5.0 - 55.0) * mV
    mon = b2.SpikeMonitor(P, record=False)
    return b2.Network(P, Ce, Ci, mon), mon


def run_brian2_cython(n: int) -> dict:
    import brian2 as b2
    from brian2 import ms

    b2.prefs.codegen.target = "cython"
    b2.seed(0)
    t0 = time.perf_counter()
    net, mon = _brian2_network(n)
    build_s = time.perf_counter() - t0
    net.store()
    t0 = time.perf_counter()
    net.run(T_MS * ms)
    first = time.perf_counter() - t0
    net.restore()
    t0 = time.perf_counter()
    net.run(T_MS * ms)
    run = time.perf_counter() - t0
    return dict(
        sim="brian2_cython",
        n=n,
        t_ms=T_MS,
        build_s=build_s,
        first_s=first,
        run_s=run,
        rate_hz=mon.num_spikes / n / (T_MS * 1e-3),
        peak_rss_mb=peak_rss_mb(),
    )


def run_brian2_standalone(n: int) -> dict:
    import brian2 as b2
    from brian2 import ms

    with tempfile.TemporaryDirectory() as d:
        b2.set_device("cpp_standalone", directory=d, build_on_run=False)
        b2.seed(0)
        net, mon = _brian2_network(n)
        net.run(T_MS * ms)
        t0 = time.perf_counter()
        b2.device.build(directory=d, compile=True, run=True)
        total = time.perf_counter() - t0
        run = float(b2.device._last_run_time)
        return dict(
            sim="brian2_cpp_standalone",
            n=n,
            t_ms=T_MS,
            build_s=total - run,
            run_s=run,
            rate_hz=int(mon.num_spikes) / n / (T_MS * 1e-3),
            peak_rss_mb=peak_rss_mb(),
            # the largest child: the compiler or the simulation binary, whichever is larger
            child_peak_rss_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        )


# --------------------------------------------------------------------------- BrainPy


def run_brainpy(n: int, repeats: int) -> dict:
    import brainpy as bp
    import brainpy.math as bm
    import numpy as np

    bm.set_dt(DT)
    n_e = int(round(0.8 * n))

    n_i = n - n_e

    def lif(size):
        # BrainPy's LIF has R = 1: the input is the 20 mV drive, conductances in units of g_L.
        return bp.dyn.LifRef(
            size,
            V_rest=-60.0,
            V_th=-50.0,
            V_reset=-60.0,
            tau=20.0,
            tau_ref=5.0,
            V_initializer=bp.init.Normal(-55.0, 5.0),
        )

    def proj(pre, post, n_pre, n_post, w, tau, e):
        return bp.dyn.ProjAlignPostMg2(
            pre=pre,
            delay=None,
            comm=bp.dnn.EventCSRLinear(bp.conn.FixedProb(IN_DEGREE / n, pre=n_pre, post=n_post), w),
            syn=bp.dyn.Expon.desc(n_post, tau=tau),
            out=bp.dyn.COBA.desc(E=e),
            post=post,
        )

    class COBA(bp.DynSysGroup):
        def __init__(self):
            super().__init__()
            self.E, self.I = lif(n_e), lif(n_i)
            self.E2E = proj(self.E, self.E, n_e, n_e, 0.6, 5.0, 0.0)
            self.E2I = proj(self.E, self.I, n_e, n_i, 0.6, 5.0, 0.0)
            self.I2E = proj(self.I, self.E, n_i, n_e, 6.7, 10.0, -80.0)
            self.I2I = proj(self.I, self.I, n_i, n_i, 6.7, 10.0, -80.0)

        def update(self, inp):
            self.E2E()
            self.E2I()
            self.I2E()
            self.I2I()
            self.E(inp)
            self.I(inp)
            return self.E.spike.value.sum() + self.I.spike.value.sum()

    t0 = time.perf_counter()
    net = COBA()
    build_s = time.perf_counter() - t0
    n_steps = int(round(T_MS / DT))
    runner = bp.DSRunner(net, monitors={}, progress_bar=False, jit=True)
    inputs = np.full(n_steps, 20.0, dtype=np.float32)  # the 20 mV drive (R = 1 in BrainPy's LIF)

    def once():
        net.reset_state()
        out = runner.run(inputs=inputs)
        return int(np.asarray(out).sum())

    t0 = time.perf_counter()
    spikes = once()
    first = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), C.cpu_s()
        spikes = once()
        times.append(time.perf_counter() - t0)
        cpu.append(C.cpu_s() - c0)
    run = statistics.median(times)
    return dict(
        sim="brainpy",
        run_cpu_s=statistics.median(cpu),
        n=n,
        t_ms=T_MS,
        version=bp.__version__,
        build_s=build_s,
        compile_s=first - run,
        run_s=run,
        runs_s=times,
        rate_hz=spikes / n / (T_MS * 1e-3),
        peak_rss_mb=peak_rss_mb(),
    )


# ------------------------------------------------------------------ index micro-bench


def run_index_bench() -> list[dict]:
    import jax
    import jax.numpy as jnp

    n, steps = 3200, 2000
    x = (jax.random.uniform(jax.random.key(1), (steps, n)) < 8 / 3200).astype(jnp.float32)
    out = []
    cands = {
        "nonzero(size=n)": lambda x: jnp.nonzero(x != 0, size=n, fill_value=0)[0],
        "nonzero(size=64)": lambda x: jnp.nonzero(x != 0, size=64, fill_value=0)[0],
        "top_k(16)": lambda x: jax.lax.top_k((x != 0).astype(jnp.float32), 16)[1],
        "cumsum": lambda x: jnp.cumsum((x != 0).astype(jnp.int32)),
        "sum (floor)": lambda x: (x != 0).sum(),
    }
    # The whole search as the network runs it (neurojax.network._propagate), delivering
    # one synapse per spiking row: the former top_k rounds against the two-level search.
    from neurojax.network import _propagate as P

    post = (jnp.arange(n, dtype=jnp.int32) % 16)[:, None]
    weight = jnp.ones((n, 1), jnp.float32)

    def search(kind):
        def f(x):
            old, P.SEARCH = P.SEARCH, kind
            try:
                return P.scatter_events(
                    (P.post_targets(),), 16, (jnp.zeros(16),), (weight,), x, ((post,),)
                )[0].astype(jnp.int32)
            finally:
                P.SEARCH = old

        return f

    cands["network search: top_k rounds"] = search("topk")
    cands["network search: block flags + argmax"] = search("blocks")
    cands["network search: bitset tree (default)"] = search("bits")
    for name, f in cands.items():
        g = jax.jit(lambda xs, f=f: jax.lax.scan(lambda c, x: (c + f(x).sum(), None), 0, xs)[0])
        jax.block_until_ready(g(x))
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            jax.block_until_ready(g(x))
            ts.append(time.perf_counter() - t0)
        out.append(dict(method=name, us_per_step=min(ts) / steps * 1e6))
    return out


def run_paired(n: int, build_dir: str, rounds: int) -> dict:
    """neurojax's compiled COBA run (as `run_neurojax`) and Brian2's C++ standalone COBA
    program already built in `build_dir`, alternating in one process for `rounds`
    rounds: neurojax by its process CPU time, the standalone program by its main loop
    (`results/last_run_info.txt`, wall clock) and its whole program's CPU time
    (`RUSAGE_CHILDREN`). Build the program with the Brian2 environment:
    `b2.set_device("cpp_standalone", directory=DIR, build_on_run=False)`, `b2.seed(0)`,
    `_brian2_network(n)`, `net.run(1 s)`, `b2.device.build(directory=DIR)`."""
    import os

    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.models import coba, coba_inputs, random_initial_state

    net = coba(jax.random.key(0), n, p=IN_DEGREE / n)
    inputs = coba_inputs(net, int(round(T_MS / DT)))
    y0 = random_initial_state(net, jax.random.key(1))
    save = nj.SaveAt(every=EVERY, fn=lambda y: None, spike_dtype=jnp.uint8)

    def count(net, y0):
        sol = nj.simulate(net, inputs, dt=DT, state0=y0, saveat=save, throw=False)
        return sum(jnp.sum(s, dtype=jnp.int32) for s in sol.spikes.values())

    compiled = jax.jit(count).lower(net, y0).compile()
    spikes = int(compiled(net, y0))

    rows = []
    for _ in range(rounds):
        c = C.cpu_s()
        spikes = int(jax.block_until_ready(compiled(net, y0)))
        nj_cpu = C.cpu_s() - c
        loop, sa_cpu = C.run_standalone(build_dir)
        rows.append(
            dict(
                neurojax_cpu_s=nj_cpu,
                neurojax_rate_hz=spikes / n / (T_MS * 1e-3),
                standalone_loop_s=loop,
                standalone_program_cpu_s=sa_cpu,
                ratio=loop / nj_cpu,
            )
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return dict(sim="paired", n=n, build_dir=build_dir, rows=rows, load=os.getloadavg())


def main():
    global T_MS
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sim",
        choices=["neurojax", "brian2", "brian2_cython", "brian2_standalone", "brainpy"],
        default="neurojax",
    )
    ap.add_argument("--part", choices=["coba", "index"], default="coba")
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument(
        "--t-ms", type=float, default=T_MS, help="biological time simulated (ms; 1000 = 1 s)"
    )
    ap.add_argument(
        "--paired",
        metavar="BUILD_DIR",
        help="neurojax alternating with the standalone COBA program built in BUILD_DIR",
    )
    args = ap.parse_args()
    T_MS = args.t_ms
    if args.paired:
        res = run_paired(args.sizes[0], args.paired, args.repeats)
        res["machine"] = C.machine_info()
        if args.out:
            args.out.write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps(res))
        return
    results = dict(machine=C.machine_info(), rows=[])
    if args.part == "index":
        results["rows"] = run_index_bench()
    else:
        for n in args.sizes:
            if args.sim == "neurojax":
                row = run_neurojax(n, args.repeats)
            elif args.sim == "brainpy":
                row = run_brainpy(n, args.repeats)
            elif args.sim == "brian2_cython":
                row = run_brian2_cython(n)
            elif args.sim == "brian2_standalone":
                row = run_brian2_standalone(n)
            else:  # both Brian2 modes, each in a fresh child (the device is global)
                for mode in ("brian2_cython", "brian2_standalone"):
                    out = subprocess.run(
                        [sys.executable, __file__, "--sim", mode, "--sizes", str(n)]
                        + ["--t-ms", str(T_MS)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    row = json.loads(out.stdout.strip().splitlines()[-1])["rows"][0]
                    results["rows"].append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                continue
            results["rows"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
