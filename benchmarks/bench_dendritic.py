"""A network of Dendrify-style three-compartment neurons: neurojax against dendrify on
Brian2 (Cython runtime and C++ standalone), side by side in one run.

The network (issue 20): N = 10⁴ neurons (80 % E, 20 % I), each a soma, a proximal and a
distal dendrite (Dendrify's dimensionless compartments: 200/50/30 pF, 10/2.5/1.5 nS,
couplings 40 and 30 nS; E cells have Na-like dSpikes in the distal dendrite), a leaky-IF
soma (threshold −50 mV, reset −60 mV, refractory 3 ms, not clamped, as Dendrify's);
recurrent connections with p = 0.02 (autapses allowed, ~200 inputs per neuron): E→E
AMPA onto the proximal dendrite (1.5 ms delay), E→I AMPA onto the soma (1 ms), I→E and
I→I GABA onto the soma (0.5 ms); each neuron's distal dendrite receives 100 Poisson
sources at 5 Hz (AMPA, 6 nS, 2 ms). 1 s at dt = 0.1 ms (10⁴ steps). Spikes are recorded (counts
per 10 ms in neurojax, a SpikeMonitor in Brian2); voltages are not.

Schemes: Brian2 `euler` (Dendrify's default) against neurojax's `Euler()` (the same
scheme) and its default `ExponentialEuler` for dendritic networks.

Timings (wall clock, run time without build):
- neurojax: `compile_s` is trace + XLA compilation (`jax.jit(...).lower().compile()`,
  the network an argument); `median_s` the median of calls of the compiled run with new
  keys.
- Brian2 Cython: `first_run_s` includes code generation and Cython compilation (a fresh
  cache directory); `median_s` later runs after `restore()`.
- Brian2 C++ standalone: `median_s` is the main-loop time the C++ program reports
  (`device._last_run_time`, wall clock), compilation excluded; `program_cpu_s` the
  program's CPU time per run (main loop and its start: building the synapses, loading and
  writing arrays; an upper bound of the main loop's CPU time), repeats after the first.
- `cpu_s` (neurojax, Brian2 Cython): the process CPU time of the same runs, steadier than
  the wall clock on a shared machine (the standalone program reports wall clock only).

Memory: neurojax's `state_bytes_per_neuron` is the state carried through the time loop
(continuous + discrete: voltages, dSpike gates, timers, synapse states, delay ring
buffers) and `model_bytes_per_neuron` the connectivity and parameters, both divided by
N; `peak_rss_mb` is each process's peak resident memory (`ru_maxrss`).

    python benchmarks/bench_dendritic.py --dendrify-python /tmp/dendrify-venv/bin/python
    python benchmarks/bench_dendritic.py --n 2000 --ms 200      # a quick look
    python benchmarks/bench_dendritic.py --paired /tmp/dendritic-standalone-XXXX --repeats 5

`--paired BUILD_DIR` (`run_paired`): neurojax (`--solvers`' first) and the standalone
program already built in BUILD_DIR, alternating in one process: a ratio per round under
the same load (`results/dendritic_paired_standalone.json`).

Gradient (`--grad`, neurojax alone, one process): `jax.grad` of the mean somatic V (E and
I, saved every 100 steps) plus 10⁻³ × the spike count, w.r.t. every inexact leaf of the
network (weights, Poisson rates and weights, synapse and cell parameters), default
`ExponentialEuler` and `CheckpointAdjoint()`. `--surrogate-scale γ` sets the cells'
surrogate `FastSigmoid(scale=γ)`: at γ = 1 (the default surrogate) this network's
surrogate gradient grows exponentially (8e34 after 100 ms) and overflows float32 (NaN)
in longer runs; γ = 0 holds the spike pattern fixed (finite; `--fd` checks one weight
against a central difference in float64). Reports compile and run time, XLA's memory
plan, peak RSS, the largest gradient entry and whether all are finite; run it under
`/usr/bin/time -v` for the peak RSS as the OS sees it.

    python benchmarks/bench_dendritic.py --grad --surrogate-scale 0
    python benchmarks/bench_dendritic.py --grad --n 500 --ms 50 --fd   # FD check
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

DT = 0.1
P_CONNECT = 0.02
N_POISSON, RATE_POISSON = 100, 5.0
CELL = dict(
    c=(0.2, 0.05, 0.03),  # nF
    g_l=(0.01, 0.0025, 0.0015),  # µS
    e_l=-70.0,
    g_couple=(0.04, 0.03),  # µS: soma–proximal, proximal–distal
    v_th=-50.0,
    v_reset=-60.0,
    t_ref=3.0,
    dspikes=dict(
        g_rise=0.03,
        g_fall=0.015,
        threshold=-40.0,
        duration_rise=1.2,
        duration_fall=2.4,
        offset_fall=0.5,
        refractory=5.0,
    ),
)
# (pre, post, channel, compartment, g µS, tau ms, delay ms)
PROJECTIONS = [
    ("E", "E", "AMPA", "prox", 0.002, 2.0, 1.5),
    ("E", "I", "AMPA", "soma", 0.002, 2.0, 1.0),
    ("I", "E", "GABA", "soma", 0.006, 6.0, 0.5),
    ("I", "I", "GABA", "soma", 0.006, 6.0, 0.5),
]
G_POISSON, TAU_AMPA = 0.006, 2.0
E_REV = {"AMPA": 0.0, "GABA": -80.0}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------ neurojax


def neurojax_network(n: int, seed: int = 0, surrogate_scale: float = 1.0):
    import jax

    from neurojax import network as nn
    from neurojax import synapses as ns
    from neurojax.cable import Compartment, DSpikes, ReducedCell
    from neurojax.surrogate import FastSigmoid

    def cell(dspikes):
        names = ("soma", "prox", "dist")
        comps = [
            Compartment(
                names[i],
                c_abs=CELL["c"][i],
                gl_abs=CELL["g_l"][i],
                e_l=CELL["e_l"],
                dspikes=DSpikes(**CELL["dspikes"]) if (dspikes and i == 2) else None,
            )
            for i in range(3)
        ]
        return ReducedCell.build(
            comps,
            [("soma", "prox", CELL["g_couple"][0]), ("prox", "dist", CELL["g_couple"][1])],
            v_th=CELL["v_th"],
            v_reset=CELL["v_reset"],
            t_ref=CELL["t_ref"],
            clamp=False,
            surrogate=FastSigmoid(scale=surrogate_scale),
        )

    n_e = int(0.8 * n)
    sizes = {"E": n_e, "I": n - n_e}
    keys = jax.random.split(jax.random.key(seed), len(PROJECTIONS))
    projections = [
        nn.Projection(
            pre,
            post,
            nn.fixed_probability(k, sizes[pre], sizes[post], P_CONNECT, g),
            ns.Exponential(tau=tau, e_rev=E_REV[ch]),
            delay=d,
            compartment=comp,
        )
        for k, (pre, post, ch, comp, g, tau, d) in zip(keys, PROJECTIONS, strict=True)
    ]
    drives = [
        nn.PoissonDrive(
            p,
            ns.Exponential(tau=TAU_AMPA, e_rev=0.0),
            rate=RATE_POISSON,
            weight=G_POISSON,
            n_sources=N_POISSON,
            compartment="dist",
        )
        for p in ("E", "I")
    ]
    pops = {"E": nn.Population(cell(True), n_e), "I": nn.Population(cell(False), n - n_e)}
    return nn.Network(pops, projections, drives, dt=DT)


def _nbytes(tree) -> int:
    import jax

    return sum(
        int(x.size) * x.dtype.itemsize
        for x in jax.tree_util.tree_leaves(tree)
        if hasattr(x, "dtype")
    )


def run_neurojax(n: int, ms: float, solver: str, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    net = neurojax_network(n)
    steps = int(round(ms / DT))
    every = 100 if steps % 100 == 0 else 1
    saveat = nj.SaveAt(every=every, vars=(), spike_dtype=jnp.int16)
    sv = {"euler": nj.solvers.Euler(), "expeuler": None}[solver]
    inputs = {"E": jnp.zeros((steps, 1))}

    # The compiled run alone (the network an argument, as bench_network.py does), as
    # Brian2 standalone's time is its C++ main loop alone. Called eagerly, `simulate`
    # bakes the connectivity into the program as constants, which measured 1.5–1.7x slower.
    def sim(net, key):
        return nj.simulate(net, inputs, dt=DT, key=key, solver=sv, saveat=saveat).spikes

    t = time.perf_counter()
    compiled = jax.jit(sim).lower(net, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t

    def run(seed):
        return jax.block_until_ready(compiled(net, jax.random.key(seed)))

    spikes = run(1)
    times, cpu = [], []
    for r in range(repeats):
        t, c = time.perf_counter(), C.cpu_s()
        spikes = run(2 + r)
        times.append(time.perf_counter() - t)
        cpu.append(C.cpu_s() - c)
    med = float(np.median(times))
    rates = {
        p: float(np.asarray(spikes[p], float).sum()) / (net.populations[p].size * ms * 1e-3)
        for p in ("E", "I")
    }
    state = _nbytes(net.init_state()) + _nbytes(net.init_discrete())
    return {
        "tool": "neurojax",
        "solver": solver,
        "n": n,
        "ms": ms,
        "compile_s": compile_s,
        "median_s": med,
        "all_s": times,
        "cpu_s": float(np.median(cpu)),
        "rate_hz": rates,
        "state_bytes_per_neuron": state / n,
        "model_bytes_per_neuron": _nbytes(net) / n,
        "peak_rss_mb": peak_rss_mb(),
        "device": str(jax.devices()[0]),
    }


def run_neurojax_grad(n: int, ms: float, scale: float, fd: bool) -> dict:
    """The gradient of the module docstring; with `fd`, also a central difference of the
    same loss w.r.t. one scalar (the E→E weights all scaled by 1 + ε; float64)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    net = neurojax_network(n, surrogate_scale=scale)
    steps = int(round(ms / DT))
    every = 100 if steps % 100 == 0 else 1
    saveat = nj.SaveAt(every=every, fn=lambda y: {p: y.neurons[p].v[:, 0].mean() for p in "EI"})
    inputs = {"E": jnp.zeros((steps, 1))}

    def loss(net, key):
        sol = nj.simulate(net, inputs, dt=DT, key=key, saveat=saveat)
        count = sum(sol.spikes[p].sum() for p in "EI")
        return sum(sol.states[p].mean() for p in "EI") + 1e-3 * count, count

    grad = eqx.filter_jit(eqx.filter_value_and_grad(loss, has_aux=True))
    t = time.perf_counter()
    compiled = grad.lower(net, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t
    mem = compiled.compiled.memory_analysis() if hasattr(compiled, "compiled") else None
    t, c = time.perf_counter(), C.cpu_s()
    (value, count), g = compiled(net, jax.random.key(1))
    g = jax.block_until_ready(g)
    run_s, run_cpu = time.perf_counter() - t, C.cpu_s() - c
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(g) if hasattr(x, "dtype")]
    leaves = [x for x in leaves if x.dtype.kind == "f"]
    finite = all(np.isfinite(x).all() for x in leaves)
    absmax = max(
        float(np.nanmax(np.abs(np.where(np.isinf(x), np.nan, x)), initial=0.0)) for x in leaves
    )
    out = {
        "tool": "neurojax",
        "mode": "grad",
        "n": n,
        "ms": ms,
        "surrogate_scale": scale,
        "dtype": str(net.populations["E"].neuron.c.dtype),
        "compile_s": compile_s,
        "run_s": run_s,
        "run_cpu_s": run_cpu,
        "loss": float(value),
        "spikes": float(count),
        "finite": bool(finite),
        "nonfinite_entries": int(sum((~np.isfinite(x)).sum() for x in leaves)),
        "grad_absmax_finite": absmax,
        "xla_temp_mb": None if mem is None else mem.temp_size_in_bytes / 2**20,
        "xla_args_out_mb": None
        if mem is None
        else (mem.argument_size_in_bytes + mem.output_size_in_bytes) / 2**20,
        "peak_rss_mb": peak_rss_mb(),
        "device": str(jax.devices()[0]),
    }
    if fd:
        w = net.projections[0].connectivity.weight
        f = eqx.filter_jit(loss)  # one program for both evaluations

        def at(s):
            m = eqx.tree_at(lambda m: m.projections[0].connectivity.weight, net, w * s)
            return [float(x) for x in f(m, jax.random.key(1))]

        eps = 1e-6
        (lp, cp), (lm, cm) = at(1 + eps), at(1 - eps)
        out["fd"] = (lp - lm) / (2 * eps)
        gw = np.asarray(g.projections[0].connectivity.weight)
        out["grad_dot"] = float((gw * np.asarray(w)).sum())  # d loss / d(1 + ε)
        out["spikes_fd"] = [cm, cp]  # equal to `spikes`: no spike moved
    return out


# ------------------------------------------------------------------------------ Brian2


def brian2_network(b2, n: int):
    from brian2.units import Hz, ms, mV, nF, uS
    from dendrify import Dendrite, NeuronModel, Soma

    n_e = int(0.8 * n)
    sizes = {"E": n_e, "I": n - n_e}
    groups = {}
    for pop in ("E", "I"):
        comps = []
        for i, (kind, name) in enumerate(((Soma, "soma"), (Dendrite, "prox"), (Dendrite, "dist"))):
            comps.append(
                kind(
                    name,
                    cm_abs=CELL["c"][i] * nF,
                    gl_abs=CELL["g_l"][i] * uS,
                    v_rest=CELL["e_l"] * mV,
                )
            )
        soma, prox, dist = comps
        if pop == "E":
            d = CELL["dspikes"]
            dist.dspikes(
                "Na",
                threshold=d["threshold"] * mV,
                g_rise=d["g_rise"] * uS,
                g_fall=d["g_fall"] * uS,
                duration_rise=d["duration_rise"] * ms,
                duration_fall=d["duration_fall"] * ms,
                reversal_rise="E_Na",
                reversal_fall="E_K",
                offset_fall=d["offset_fall"] * ms,
                refractory=d["refractory"] * ms,
            )
        dist.synapse("AMPA", tag="ext", g=G_POISSON * uS, t_decay=TAU_AMPA * ms)
        for pre, post, ch, comp, g, tau, _ in PROJECTIONS:
            if post == pop:
                {"soma": soma, "prox": prox, "dist": dist}[comp].synapse(
                    ch, tag=pre, g=g * uS, t_decay=tau * ms
                )
        model = NeuronModel(
            [(soma, prox, CELL["g_couple"][0] * uS), (prox, dist, CELL["g_couple"][1] * uS)]
        )
        groups[pop] = model.make_neurongroup(
            sizes[pop],
            method="euler",
            threshold=f"V_soma > {CELL['v_th']}*mV",
            reset=f"V_soma = {CELL['v_reset']}*mV",
            refractory=CELL["t_ref"] * ms,
        )
    objs = list(groups.values())
    for pre, post, ch, comp, _g, _tau, delay in PROJECTIONS:
        s = b2.Synapses(
            groups[pre], groups[post], on_pre=f"s_{ch}_{pre}_{comp} += 1.0", delay=delay * ms
        )
        s.connect(p=P_CONNECT)
        objs.append(s)
    for pop in ("E", "I"):
        objs.append(
            b2.PoissonInput(
                groups[pop], "s_AMPA_ext_dist", N_POISSON, RATE_POISSON * Hz, weight=1.0
            )
        )
    mons = {p: b2.SpikeMonitor(groups[p]) for p in groups}
    objs += list(mons.values())
    return b2.Network(*objs), mons, sizes


def run_brian2(n: int, ms: float, target: str, repeats: int, build_dir: str) -> dict:
    import brian2 as b2

    b2.defaultclock.dt = DT * b2.ms
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", build_on_run=False)
    else:
        b2.prefs.codegen.target = target
        b2.prefs.codegen.runtime.cython.cache_dir = tempfile.mkdtemp(prefix="cython-dendritic-")
    net, mons, sizes = brian2_network(b2, n)
    if target == "cpp_standalone":
        net.run(ms * b2.ms)
        t = time.perf_counter()
        b2.device.build(directory=build_dir, compile=True, run=True, with_output=False)
        first = time.perf_counter() - t
        compile_s = sum(v for v in b2.device.timers["compile"].values() if v is not None)
        times, cpu = [b2.device._last_run_time], []
        for _ in range(repeats - 1):
            c = C.children_cpu_s()
            b2.device.run(with_output=False)
            # the program's CPU time: its main loop and its start (building the synapses,
            # loading and writing arrays) — an upper bound of the main loop's CPU time
            cpu.append(C.children_cpu_s() - c)
            times.append(b2.device._last_run_time)
    else:
        net.store()
        t = time.perf_counter()
        net.run(ms * b2.ms)
        first = time.perf_counter() - t
        compile_s = None
        times, cpu = [], []
        for _ in range(repeats):
            net.restore()
            t, c = time.perf_counter(), C.cpu_s()
            net.run(ms * b2.ms)
            times.append(time.perf_counter() - t)
            cpu.append(C.cpu_s() - c)
    import numpy as np

    rates = {p: mons[p].num_spikes / (sizes[p] * ms * 1e-3) for p in mons}
    return {
        "tool": "brian2",
        "target": target,
        "n": n,
        "ms": ms,
        "first_run_s": first,
        "compile_s": compile_s,
        "median_s": float(np.median(times)),
        "all_s": times,
        # The C++ main loop's own time is wall clock (the program reports no CPU time);
        # `program_cpu_s`: the whole program's CPU time (main loop + its start).
        "cpu_s": float(np.median(cpu)) if target != "cpp_standalone" else None,
        "program_cpu_s": float(np.median(cpu)) if target == "cpp_standalone" and cpu else None,
        "rate_hz": rates,
        "peak_rss_mb": peak_rss_mb(),
        "brian2": b2.__version__,
    }


# ------------------------------------------------------------------------------ driver


def child(argv) -> dict:
    kind, *rest = argv
    if kind == "neurojax-grad":
        n, ms, scale, fd = rest
        return run_neurojax_grad(int(n), float(ms), float(scale), fd == "1")
    if kind == "neurojax":
        n, ms, solver, repeats = rest
        return run_neurojax(int(n), float(ms), solver, int(repeats))
    n, ms, target, repeats, build_dir = rest
    return run_brian2(int(n), float(ms), target, int(repeats), build_dir)


def spawn(python: str, args: list[str], timeout: float) -> dict | None:
    cmd = [python, __file__, "--child", *args]
    print("running", " ".join(args), flush=True)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print("  timed out", flush=True)
        return None
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            res = json.loads(line[len("RESULT ") :])
            print("  ", {k: res[k] for k in ("median_s", "rate_hz", "peak_rss_mb")}, flush=True)
            return res
    print(out.stdout[-2000:], out.stderr[-4000:], flush=True)
    return None


# The step before session 14's changes, reproduced by the library's own switches:
# `--paired ... --former` runs it in the same rounds as the current code. The pooled
# Poisson draw's one event per random word (`neurojax.network._projection.HALVES`; other
# random numbers, the same distribution) at trace time, and the projections' targets
# stored as int32 (`neurojax.network._connectivity.SMALL_INDEX`, set while the network is
# built: `former_network`; the same spikes bit for bit). (Before, session 13's: the
# ReducedCell timers computed inside the events' conditional
# (`neurojax.network._network.TIMERS_AFTER`; the same spikes bit for bit), the delivery
# loop not unrolled (`neurojax.network._propagate.UNROLL`; bit for bit) and the exponential
# synapses' decay divided per element (`_divided_vector_field`; at most one rounding of
# the rate). (Before: the events fused into their consumers, `_network.MATERIALISE =
# False`; the unordered writes of the carried arrays, `_network.ORDER = False`; the drives'
# threefry pairs and the binary spike delivery, `_projection.WORDS = "bits"` and
# `_propagate.BINARY = False`.)
def _divided_vector_field(self, state, v):
    """`synapses.Exponential.vector_field` before session 13: `-g/tau`."""
    return type(state)(g=-state.g / self.tau)


FORMER = (("neurojax.network._projection", "HALVES", False),)
# session 13's former step (its --former), kept for reference
FORMER_S13 = (
    ("neurojax.network._network", "TIMERS_AFTER", False),
    ("neurojax.network._propagate", "UNROLL", 1),
    ("neurojax.synapses._exponential:Exponential", "vector_field", _divided_vector_field),
)


def former_network(n: int):
    """`neurojax_network(n)` with the projections' targets stored as int32 (before
    session 14; `neurojax.network._connectivity.SMALL_INDEX`)."""
    from neurojax.network import _connectivity as CN

    CN.SMALL_INDEX = False
    try:
        return neurojax_network(n)
    finally:
        CN.SMALL_INDEX = True


def traced_with_former(fn):
    """`fn` traced with the former step (`FORMER`'s switches; `module:Class` sets a class
    attribute)."""
    import importlib

    def resolve(path):
        module, _, cls = path.partition(":")
        obj = importlib.import_module(module)
        return getattr(obj, cls) if cls else obj

    def f(*a):
        mods = [(resolve(m), k, v) for m, k, v in FORMER]
        old = [(m, k, getattr(m, k)) for m, k, _ in mods]
        for m, k, v in mods:
            setattr(m, k, v)
        try:
            return fn(*a)
        finally:
            for m, k, v in old:
                setattr(m, k, v)

    return f


def run_paired(
    build_dir: str, rounds: int, solver: str, former: bool = False, former_commit=None
) -> dict:
    """neurojax's compiled run and Brian2's C++ standalone program of the same network,
    already built in `build_dir` (by a `cpp_standalone` run of this script, whose build
    directory it prints), alternating in one process for `rounds` rounds: neurojax by
    its process CPU time, the standalone program by its main loop (its
    `results/last_run_info.txt`, wall clock) and its whole program's CPU time
    (`RUSAGE_CHILDREN`). Paired rounds: on a loaded machine both see the same load."""
    import os

    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    net = neurojax_network(10_000)
    steps = 10_000
    saveat = nj.SaveAt(every=100, vars=(), spike_dtype=jnp.int16)
    sv = {"euler": nj.solvers.Euler(), "expeuler": None}[solver]
    inputs = {"E": jnp.zeros((steps, 1))}

    def sim(net, key):
        return nj.simulate(net, inputs, dt=DT, key=key, solver=sv, saveat=saveat).spikes

    compiled = jax.jit(sim).lower(net, jax.random.key(1)).compile()
    jax.block_until_ready(compiled(net, jax.random.key(1)))
    if former_commit:  # the library at that commit, imported beside this one
        import importlib

        import exp_dendritic_s15 as X

        mod = X.former_package(former_commit)
        nj_former = importlib.import_module(mod)
        sv_former = {"euler": nj_former.solvers.Euler(), "expeuler": None}[solver]
        save_former = nj_former.SaveAt(every=100, vars=(), spike_dtype=jnp.int16)

        def sim_former(net, key):
            return nj_former.simulate(
                net, inputs, dt=DT, key=key, solver=sv_former, saveat=save_former
            ).spikes

        net_before = X.network(mod, 10_000)
        before = jax.jit(sim_former).lower(net_before, jax.random.key(1)).compile()
        jax.block_until_ready(before(net_before, jax.random.key(1)))
        former = True
    elif former:
        net_before = former_network(10_000)
        before = jax.jit(traced_with_former(sim)).lower(net_before, jax.random.key(1)).compile()
        jax.block_until_ready(before(net_before, jax.random.key(1)))
    rows = []
    for r in range(rounds):
        extra = {}
        if former:  # the former step first, in the same round
            c = C.cpu_s()
            sp = jax.block_until_ready(before(net_before, jax.random.key(2 + r)))
            extra = dict(
                former_cpu_s=C.cpu_s() - c,
                former_spikes=int(sum(float(np.asarray(v, float).sum()) for v in sp.values())),
            )
        c, t = C.cpu_s(), time.perf_counter()
        sp = jax.block_until_ready(compiled(net, jax.random.key(2 + r)))
        nj_cpu, nj_wall = C.cpu_s() - c, time.perf_counter() - t
        loop, sa_cpu = C.run_standalone(build_dir)
        rows.append(
            dict(
                neurojax_cpu_s=nj_cpu,
                neurojax_wall_s=nj_wall,
                neurojax_spikes=int(sum(float(np.asarray(v, float).sum()) for v in sp.values())),
                standalone_loop_s=loop,
                standalone_program_cpu_s=sa_cpu,
                ratio=loop / nj_cpu,
                **extra,
            )
        )
        if former:
            rows[-1]["former_ratio"] = loop / rows[-1]["former_cpu_s"]
        print(json.dumps(rows[-1]), flush=True)
    return dict(
        solver=solver,
        build_dir=build_dir,
        former_commit=former_commit,
        rows=rows,
        load=os.getloadavg(),
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--ms", type=float, default=1000.0)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--dendrify-python", default="/tmp/dendrify-venv/bin/python")
    p.add_argument("--targets", nargs="*", default=["cython", "cpp_standalone"])
    p.add_argument("--solvers", nargs="*", default=["euler", "expeuler"])
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--grad", action="store_true", help="the gradient run (module docstring)")
    p.add_argument("--surrogate-scale", type=float, default=1.0)
    p.add_argument("--fd", action="store_true", help="with --grad: a float64 FD check")
    p.add_argument(
        "--paired",
        metavar="BUILD_DIR",
        help="alternate neurojax with the standalone program built in BUILD_DIR (run_paired)",
    )
    p.add_argument(
        "--former",
        action="store_true",
        help="with --paired: also the former step (FORMER), in the same rounds",
    )
    p.add_argument(
        "--former-commit",
        metavar="COMMIT",
        help="with --paired: also the library at COMMIT (imported beside this one by "
        "exp_dendritic_s15.former_package), in the same rounds",
    )
    p.add_argument("--child", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.paired:
        res = run_paired(
            args.paired, args.repeats, args.solvers[0], args.former, args.former_commit
        )
        args.former = args.former or bool(args.former_commit)
        res["machine"] = C.machine_info()
        former = ["former CPU s", "former ratio"] if args.former else []
        md = C.markdown_table(
            [
                "round",
                "neurojax CPU s",
                "standalone main loop s",
                "standalone program CPU s",
                "ratio",
                *former,
            ],
            [
                [
                    str(k),
                    f"{r['neurojax_cpu_s']:.3f}",
                    f"{r['standalone_loop_s']:.3f}",
                    f"{r['standalone_program_cpu_s']:.3f}",
                    f"{r['ratio']:.2f}",
                    *(
                        [f"{r['former_cpu_s']:.3f}", f"{r['former_ratio']:.2f}"]
                        if args.former
                        else []
                    ),
                ]
                for k, r in enumerate(res["rows"])
            ],
        )
        C.write("dendritic_paired_standalone", res, md)
        print(json.dumps(res, indent=1))
        return
    if args.child:
        print("RESULT " + json.dumps(child(args.child)), flush=True)
        return
    if args.grad:
        if args.fd:
            import jax

            jax.config.update("jax_enable_x64", True)
        res = child(
            ["neurojax-grad", args.n, args.ms, args.surrogate_scale, "1" if args.fd else "0"]
        )
        print(json.dumps(res, indent=1))
        return
    rows = []
    for solver in args.solvers:
        rows.append(
            spawn(
                sys.executable,
                ["neurojax", str(args.n), str(args.ms), solver, str(args.repeats)],
                args.timeout,
            )
        )
    for target in args.targets:
        build_dir = tempfile.mkdtemp(prefix="dendritic-standalone-")
        rows.append(
            spawn(
                args.dendrify_python,
                ["brian2", str(args.n), str(args.ms), target, str(args.repeats), build_dir],
                args.timeout,
            )
        )
    rows = [r for r in rows if r]
    nj_rows = [r for r in rows if r["tool"] == "neurojax"]
    b2_rows = [r for r in rows if r["tool"] == "brian2"]
    table = []
    for r in rows:
        name = (
            f"neurojax {r['solver']}"
            if r["tool"] == "neurojax"
            else f"Brian2 {r['target']} (euler)"
        )
        ratios = (
            " / ".join(f"{b['median_s'] / r['median_s']:.2f}" for b in b2_rows)
            if r in nj_rows
            else "–"
        )
        table.append(
            [
                name,
                f"{r['median_s']:.2f}",
                "–" if r.get("cpu_s") is None else f"{r['cpu_s']:.2f}",
                "–" if r.get("compile_s") is None else f"{r['compile_s']:.1f}",
                f"{r['rate_hz']['E']:.1f} / {r['rate_hz']['I']:.1f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['state_bytes_per_neuron']:.0f} + {r['model_bytes_per_neuron']:.0f}"
                if r["tool"] == "neurojax"
                else "–",
                ratios,
            ]
        )
    md = (
        f"# Dendritic network: {args.n} three-compartment neurons, {args.ms:g} ms at "
        f"dt = {DT} ms\n\n"
        + C.markdown_table(
            [
                "run",
                "median s",
                "CPU s",
                "compile s",
                "rate E / I Hz",
                "peak RSS MB",
                "bytes/neuron state + model",
                "speed-up vs " + " / ".join(b["target"] for b in b2_rows),
            ],
            table,
        )
    )
    payload = {
        "machine": C.machine_info(),
        "args": {k: v for k, v in vars(args).items() if k != "child"},
        "rows": rows,
    }
    path = C.write("dendritic" if args.n == 10_000 else f"dendritic_{args.n}", payload, md)
    print(md)
    print("wrote", path)


if __name__ == "__main__":
    main()
