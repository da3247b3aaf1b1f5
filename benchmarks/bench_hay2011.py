"""Hay et al. (2011)'s L5b cell (`cable.hay2011_cell`, the simplified L5 morphology: 281
compartments, 23 mechanism instances of 12 kinds): neurojax against NEURON on the same
`.mod` files, one run side by side.

- forward: `T` ms (default 1000) at dt 0.025 ms under a 0.5 nA somatic step, the
  compiled run alone (best of `--repeats`), neurojax float32 with its default TR-BDF2
  and with backward Euler (NEURON's scheme), NEURON 9 backward Euler (float64, one
  thread, `continuerun` alone, in a subprocess: `validation/hay2011_cell_vs_neuron.py`);
- compile: neurojax's first call minus its compiled run (trace + XLA), wall clock; and in
  CPU seconds of the process, split into tracing (`jit(...).lower`) and XLA
  (`.compile()`) — XLA compiles on one thread, so CPU seconds are what an idle machine
  takes, and the load of a shared machine does not inflate them;
- gradient: `jax.grad` of the mean somatic voltage with respect to every inexact leaf of
  every mechanism (all channel densities — one per compartment where they vary — and
  the kinetic parameters), default `CheckpointAdjoint()` (through 1 s the 40 000 stored
  states, 479 MB, fit its 512 MiB budget: no chunks, no extra forward run), the
  compiled run ÷ the forward run (same scheme), wall clock and CPU time (`_cpu`: the
  forward and gradient runs alternated, min of `--repeats` each);
- gradient memory: XLA's plan for the compiled gradient (`memory_analysis`: temporaries
  + outputs), bytes.

    python benchmarks/bench_hay2011.py              # T = 1000 ms
    python benchmarks/bench_hay2011.py --T 100      # quick
    python benchmarks/bench_hay2011.py --compare-merge   # grouped vs instance by instance
    python benchmarks/bench_hay2011.py --compare-prepare # merged once vs in every step

`--compare-merge` (no NEURON): the cell with its mechanism instances grouped per kind
(`cable._cell._groups`, the default) against the same cell evaluated instance by instance
(`cable._cell.MERGE_INSTANCES = False`), TR-BDF2, in one process: compilation of the
forward run and the gradient in CPU seconds (tracing and XLA apart, each variant
compiled after `jax.clear_caches()`), then the four compiled programs run alternately
`--repeats` times (CPU time, minima), XLA's memory plan of each gradient, and the largest
difference of the somatic traces and of the gradients between the two (float32).
Results: benchmarks/results/hay2011_merge.json.

`--compare-prepare` (no NEURON): the same, grouped cell with its merged mechanism
parameters built once per `simulate` call, before the loop (`Cell.prepare_loop`,
`cable._cell.PREPARE_LOOP = "all"`, the default) against built in every step (`"none"`);
the flag is read when the run is traced. Results: benchmarks/results/hay2011_prepare.json
(the last run; a run with a third variant, "per_compartment", since removed, holds its
columns too).

Results: benchmarks/results/hay2011.json and a line in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as C  # noqa: E402


def _validation():
    path = HERE.parent / "validation" / "hay2011_cell_vs_neuron.py"
    spec = importlib.util.spec_from_file_location("hay2011_cell_vs_neuron", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=1000.0, help="simulated ms")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--compare-merge",
        action="store_true",
        help="grouped mechanism instances vs instance by instance (no NEURON)",
    )
    p.add_argument(
        "--compare-prepare",
        action="store_true",
        help="merged parameters built once per call vs in every step (no NEURON)",
    )
    args = p.parse_args(argv)
    if args.compare_merge:
        return compare_merge(args.T, args.repeats)
    if args.compare_prepare:
        return compare_merge(args.T, args.repeats, prepare=True)

    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.solvers import TRBDF2, BackwardEuler

    val = _validation()
    val.T = args.T
    morph = hay2011_morphology()
    row = {"T_ms": args.T, "dt_ms": val.DT, "compartments": morph.n_segments,
           "machine": C.machine_info()}  # fmt: skip

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        dll = val.compile_mods(tmp / "mods")
        row["nrnivmodl_s"] = time.perf_counter() - t0
        row["neuron_s"] = min(
            val.run_neuron(dll, morph, "step", tmp)["_seconds"] for _ in range(args.repeats)
        )

    cell = val.neurojax_cell(morph)
    row["mechanism_instances"] = len(cell.mechanisms)
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    soma = cell.record_v([(0, 0.5)])

    def timed(fn):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        first = time.perf_counter() - t0
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            best = min(best, time.perf_counter() - t0)
        return first - best, best

    def cpu_compile(fn, *a):
        """(compiled, tracing CPU s, XLA CPU s)"""
        t0 = time.process_time()
        lowered = fn.lower(*a)
        t1 = time.process_time()
        compiled = lowered.compile()
        return compiled, t1 - t0, time.process_time() - t1

    def cpu_alternating(fns):
        """min CPU seconds of each of `fns`, run alternately `--repeats` times"""
        best = [float("inf")] * len(fns)
        for _ in range(args.repeats):
            for j, f in enumerate(fns):
                t0 = time.process_time()
                jax.block_until_ready(f())
                best[j] = min(best[j], time.process_time() - t0)
        return best

    for name, solver in (("trbdf2", TRBDF2()), ("backward_euler", BackwardEuler())):
        fwd = jax.jit(
            lambda c, s=solver: (
                nj.simulate(c, inputs, dt=val.DT, solver=s, saveat=nj.SaveAt(fn=soma)).states
            )
        )
        compile_s, run_s = timed(lambda f=fwd: f(cell))
        row[f"neurojax_{name}_s"] = run_s
        row[f"neurojax_{name}_compile_s"] = compile_s

        def loss(mechs, s=solver):
            c = eqx.tree_at(lambda c: c.mechanisms, cell, mechs)
            return nj.simulate(c, inputs, dt=val.DT, solver=s,
                               saveat=nj.SaveAt(fn=soma)).states.mean()  # fmt: skip

        params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)
        grad = jax.jit(jax.grad(lambda p, s=static: loss(eqx.combine(p, s))))
        row["n_parameters"] = int(sum(x.size for x in jax.tree_util.tree_leaves(params)))
        t0 = time.perf_counter()
        compiled = grad.lower(params).compile()
        row[f"gradient_{name}_compile_s"] = time.perf_counter() - t0  # trace + XLA
        mem = compiled.memory_analysis()
        row[f"gradient_{name}_bytes"] = int(mem.temp_size_in_bytes + mem.output_size_in_bytes)
        _, g_run = timed(lambda g=compiled, p=params: g(p))
        row[f"gradient_{name}_s"] = g_run
        row[f"gradient_over_forward_{name}"] = g_run / run_s
        row[f"forward_over_neuron_{name}"] = run_s / row["neuron_s"]
        # CPU time: fresh compilations (tracing and XLA apart), then the two compiled
        # programs alternated
        jax.clear_caches()
        f_c, f_trace, f_xla = cpu_compile(
            jax.jit(lambda p, s=static: loss(eqx.combine(p, s))), params
        )
        g_c, g_trace, g_xla = cpu_compile(
            jax.jit(jax.grad(lambda p, s=static: loss(eqx.combine(p, s)))), params
        )
        row[f"neurojax_{name}_trace_cpu_s"], row[f"neurojax_{name}_xla_cpu_s"] = f_trace, f_xla
        row[f"gradient_{name}_trace_cpu_s"], row[f"gradient_{name}_xla_cpu_s"] = g_trace, g_xla
        f_cpu, g_cpu = cpu_alternating([lambda f=f_c, p=params: f(p), lambda g=g_c, p=params: g(p)])
        row[f"neurojax_{name}_cpu_s"] = f_cpu
        row[f"gradient_{name}_cpu_s"] = g_cpu
        row[f"gradient_over_forward_{name}_cpu"] = g_cpu / f_cpu

    out = C.RESULTS / "hay2011.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine":
            print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")


def compare_merge(T: float, repeats: int, prepare: bool = False):
    """Grouped mechanism instances vs instance by instance; with `prepare`, the grouped
    cell's merged parameters built once per call vs in every step (module docstring)."""
    import os

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import _cell, hay2011_morphology
    from neurojax.solvers import TRBDF2

    val = _validation()
    val.T = T
    morph = hay2011_morphology()
    inputs = jnp.asarray(val.inputs("step"), jnp.float32)
    row = {"T_ms": T, "dt_ms": val.DT, "machine": C.machine_info(),
           "load_before": os.getloadavg()[0]}  # fmt: skip
    variants = {}
    if prepare:  # (name, MERGE_INSTANCES, PREPARE_LOOP)
        cases = (("prepared", True, "all"), ("per_step", True, "none"))
    else:
        cases = (("grouped", True, "all"), ("instances", False, "all"))
    for name, merge, prep in cases:
        _cell.MERGE_INSTANCES = merge
        try:
            cell = val.neurojax_cell(morph)
        finally:
            _cell.MERGE_INSTANCES = True
        row[f"{name}_evaluations"] = len(cell.geometry.groups)
        soma = cell.record_v([(0, 0.5)])
        params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

        def loss(p, cell=cell, static=static, soma=soma):
            c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
            return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                               saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

        progs = {}
        for what, fn in (("forward", loss),
                         ("gradient", jax.grad(lambda p, f=loss: f(p).mean()))):  # fmt: skip
            jax.clear_caches()
            _cell.PREPARE_LOOP = prep  # read when the run is traced
            try:
                t0 = time.process_time()
                lowered = jax.jit(fn).lower(params)
                t1 = time.process_time()
                compiled = lowered.compile()
                t2 = time.process_time()
            finally:
                _cell.PREPARE_LOOP = "all"
            row[f"{name}_{what}_trace_cpu_s"] = t1 - t0
            row[f"{name}_{what}_xla_cpu_s"] = t2 - t1
            row[f"{name}_{what}_compile_cpu_s"] = t2 - t0
            mem = compiled.memory_analysis()
            row[f"{name}_{what}_bytes"] = int(mem.temp_size_in_bytes + mem.output_size_in_bytes)
            progs[what] = compiled
        variants[name] = (progs, params)
    best = {}
    for _ in range(repeats):
        for name, (progs, params) in variants.items():
            for what, prog in progs.items():
                t0 = time.process_time()
                out = jax.block_until_ready(prog(params))
                dt_cpu = time.process_time() - t0
                key = f"{name}_{what}_cpu_s"
                best[key] = min(best.get(key, float("inf")), dt_cpu)
                row[f"_{name}_{what}"] = out
    row.update(best)
    for name in variants:
        row[f"{name}_gradient_over_forward_cpu"] = (
            best[f"{name}_gradient_cpu_s"] / best[f"{name}_forward_cpu_s"]
        )
    # each variant against the last one (the reference: instance by instance, per step)
    names = list(variants)
    vb = np.asarray(row.pop(f"_{names[-1]}_forward"))
    gb = [np.asarray(x) for x in jax.tree_util.tree_leaves(row.pop(f"_{names[-1]}_gradient"))]
    for n in names[:-1]:
        va = np.asarray(row.pop(f"_{n}_forward"))
        ga = [np.asarray(x) for x in jax.tree_util.tree_leaves(row.pop(f"_{n}_gradient"))]
        tag = "" if len(names) == 2 else f"_{n}"
        row[f"max_v_difference{tag}_mV"] = float(np.abs(va - vb).max())
        row[f"max_gradient_difference{tag}"] = max(
            float(np.abs(x - y).max()) for x, y in zip(ga, gb, strict=True)
        )
    row["largest_gradient_entry"] = max(float(np.abs(y).max()) for y in gb)
    row["load_after"] = os.getloadavg()[0]
    out = C.RESULTS / ("hay2011_prepare.json" if prepare else "hay2011_merge.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine":
            print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")


if __name__ == "__main__":
    main()
