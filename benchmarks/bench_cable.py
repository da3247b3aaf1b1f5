"""Branched HH cells: neurojax against NEURON and Jaxley on the same machine.

The cell: a binary tree of `n_branches` cylinders (branch i's parent is (i − 1)//2), each
with `nseg = 10` compartments, lengths 50–200 µm and diameters 0.5–2 µm drawn from a
fixed seed (branch 0, the "soma", 20 × 20 µm), HH everywhere (NEURON's `hh`, 6.3 °C),
Ra = 35.4 Ω·cm, cm = 1 µF/cm²; a 1 nA current step into the soma from 10 to 50 ms;
100 ms at dt = 0.025 ms (4000 steps); V recorded at the soma. 50 branches → 500
compartments, 200 → 2000.

Measured per tool (each in its own process):

- neurojax (float32): `compile_s` (first call minus a later one), `forward_s` (median),
  `grad_s` (median of `jax.grad` of the mean soma voltage w.r.t. every branch's g_na, a
  `(n_branches,)` array), backward Euler (NEURON's scheme) and Crank–Nicolson; and
  `vmap_cells_per_s`: a batch of 100 cells with different g_na under `jax.vmap`. Column
  `tree_solve`: the schedule of the voltage solve (`neurojax.cable.tree_solve`'s
  `method`; the backend's default unless `--tree-methods` names others, which adds a
  backward-Euler row — forward, gradient and the vmap batch — per other method).
- NEURON (`h.usetable_hh = 0`, `secondorder = 0`): `forward_s` of `h.continuerun`.
- Jaxley (`jx.integrate`, its default backward Euler): `compile_s`, `forward_s`,
  `grad_s` (w.r.t. per-branch HH_gNa). Needs a Python with Jaxley, never neurojax's
  environment:

      python -m venv /tmp/jaxley-venv && /tmp/jaxley-venv/bin/pip install jaxley
      python benchmarks/bench_cable.py --jaxley-python /tmp/jaxley-venv/bin/python

  (or set `JAXLEY_PYTHON`, as for `run.py`).

`--tool paired --rounds 7`: the forward runs of neurojax (BE, CN; and their gradients),
NEURON and Jaxley interleaved round by round, each in CPU seconds of its own process,
with the per-round ratios to neurojax BE (`results/cable_paired_<name>.json`): the
comparison to quote on a shared, loaded machine. `--tree-methods hines` adds a
backward-Euler row (and its gradient) with that tree-solve schedule.

`--tool solve`: the voltage solve alone, per schedule (`--tree-methods`, default `hines`,
`levels`, `branches`), one cell and `vmap` batches (`--solve-batches`), the schedules
alternating round by round in CPU time; `--hay` adds Hay et al.'s simplified L5b tree
(`results/cable_tree_solve_<name>.*`).

Writes `benchmarks/results/cable_<name>.json` and `.md`. Spike counts at the soma are
reported as a check that the tools simulate the same cell.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DT, T_STOP, NSEG = 0.025, 100.0, 10
AMP, DELAY, DUR = 1.0, 10.0, 40.0  # nA, ms, ms


def tree_spec(n_branches: int, seed: int = 0):
    """[(length µm, diameter µm, parent)] of the benchmark tree."""
    rng = np.random.default_rng(seed)
    spec = [(20.0, 20.0, -1)]
    for i in range(1, n_branches):
        spec.append((float(rng.uniform(50, 200)), float(rng.uniform(0.5, 2.0)), (i - 1) // 2))
    return spec


def stimulus(n_steps):
    t = np.arange(n_steps) * DT
    return np.where((t >= DELAY - 1e-9) & (t < DELAY + DUR - 1e-9), AMP, 0.0)


def spikes(v):
    v = np.asarray(v)
    return int(np.sum((v[1:] > 0) & (v[:-1] <= 0)))


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# ------------------------------------------------------------------ neurojax


def run_neurojax(sizes, repeats, batch, tree_methods=None):
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology, _tree_solve

    default = _tree_solve.default_method()
    others = [m for m in (tree_methods or []) if m != default]

    rows = []
    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps))[:, None]
    for nb in sizes:
        spec = tree_spec(nb)
        morph = Morphology([Branch(L, d, parent=p, nseg=NSEG) for L, d, p in spec])
        g_na = jnp.full((nb,), 120.0)

        cell0 = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
        # branch of each HH compartment: per-branch g_na → per-compartment array
        of_branch = cell0.discretisation.branch[cell0.regions[0]]

        def make(g):
            return Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)])  # noqa: B023 (used at once)

        rec = nj.SaveAt(fn=cell0.record_v([(0, 0.5)]))
        cases = [
            ("BackwardEuler", nj.solvers.BackwardEuler(), default),
            ("CrankNicolson", nj.solvers.CrankNicolson(), default),
        ] + [("BackwardEuler", nj.solvers.BackwardEuler(), m) for m in others]
        for solver_name, solver, method in cases:
            # the schedule is read when the step is traced (each jit below traces afresh)
            _tree_solve.default_method = lambda method=method: method

            @jax.jit
            def forward(g, solver=solver):
                return nj.simulate(make(g), stim, dt=DT, solver=solver, saveat=rec).states[:, 0]  # noqa: B023 (used at once)

            @jax.jit
            def grad(g, solver=solver):
                return jax.grad(lambda g: jnp.mean(forward(g)))(g)

            t = time.perf_counter()
            v = jax.block_until_ready(forward(g_na))
            first = time.perf_counter() - t
            fwd = median_time(lambda: jax.block_until_ready(forward(g_na)), repeats)  # noqa: B023 (used at once)
            t = time.perf_counter()
            jax.block_until_ready(grad(g_na))
            gfirst = time.perf_counter() - t
            gs = median_time(lambda: jax.block_until_ready(grad(g_na)), max(1, repeats // 2))  # noqa: B023 (used at once)
            row = dict(
                tool="neurojax",
                solver=solver_name,
                tree_solve=method,
                dtype=str(v.dtype),
                n_compartments=nb * NSEG,
                n_nodes=cell0.n_nodes,
                compile_s=first - fwd,
                forward_s=fwd,
                grad_compile_s=gfirst - gs,
                grad_s=gs,
                grad_over_forward=gs / fwd,
                soma_spikes=spikes(v),
            )
            # the batch: `batch` cells up to 2000 compartments, a tenth beyond and for
            # the non-default schedules (`levels` on a CPU: ~1 s per cell at 2000)
            nbatch = batch if nb * NSEG <= 2000 and method == default else max(1, batch // 10)
            if batch and (solver_name == "CrankNicolson" or method != default):
                gb = jnp.linspace(100.0, 140.0, nbatch)[:, None] * jnp.ones((1, nb))
                vf = jax.jit(jax.vmap(forward))
                jax.block_until_ready(vf(gb))
                tb = median_time(lambda: jax.block_until_ready(vf(gb)), max(1, repeats // 2))  # noqa: B023 (used at once)
                row.update(vmap_batch=nbatch, vmap_s=tb, vmap_cells_per_s=nbatch / tb)
            rows.append(row)
            print(row, flush=True)
    _tree_solve.default_method = lambda: default
    return rows


def _solve_topologies(sizes, hay=False):
    """[(label, TreeTopology)]: the benchmark tree at each size (branches), and Hay et
    al. (2011)'s simplified L5b morphology (irregular branches) with `hay`."""
    from neurojax.cable import Branch, Morphology

    out = []
    for nb in sizes:
        morph = Morphology([Branch(L, d, parent=p, nseg=NSEG) for L, d, p in tree_spec(nb)])
        out.append((f"{nb * NSEG} compartments", morph.discretise().topology))
    if hay:
        from neurojax.cable import hay2011_morphology

        out.append(("Hay 2011 (simplified)", hay2011_morphology().discretise().topology))
    return out


def run_tree_solve(sizes, repeats, steps=400, methods=None, batches=(0, 10, 100), hay=False):
    """The voltage solve alone, per schedule: `steps` solves of the benchmark tree's
    matrix (a diagonally dominant system with random couplings, float32) in one
    `lax.scan`, one cell and `vmap` batches; µs per solve per cell, the median of
    `repeats` rounds in which the schedules alternate (CPU time of this process)."""
    import jax
    import jax.numpy as jnp

    from neurojax.cable import tree_solve

    methods = methods or ["hines", "levels", "branches"]
    rows = []
    for label, topo in _solve_topologies(sizes, hay):
        n, parent = topo.n, topo.parent
        rng = np.random.default_rng(0)
        a = -rng.uniform(0.1, 2.0, n).astype(np.float32)
        d = np.ones(n, np.float32)
        np.add.at(d, parent[1:], -a[1:])
        d[1:] -= a[1:]
        a, d = jnp.asarray(a), jnp.asarray(d)

        def make(method, batch, topo=topo, n=n, a=a, d=d):
            def run(dd):
                def step(x, _):
                    # the diagonal moves with the state, as the membrane's does
                    m = dd * (1 + 1e-3 * jnp.tanh(x))
                    return tree_solve(topo, m, a, a, x + 1.0, method=method), None

                return jax.lax.scan(step, jnp.zeros(n, jnp.float32), None, length=steps)[0]

            if not batch:
                return jax.jit(run), d
            return jax.jit(jax.vmap(run)), d * jnp.linspace(1.0, 1.1, batch)[:, None]

        cases = [(m, b) for b in batches for m in methods]
        if n > 2000 and ("levels", 100) in cases:
            cases.remove(("levels", 100))  # ~1 s per cell-run at 2000 compartments
        fns, ref = {}, None
        for case in cases:
            fn, arg = make(*case)
            got = np.asarray(fn(arg))
            if case[1] == 0:  # same values as the first schedule, to float32 round-off
                ref = got if ref is None else ref
                dev = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
            fns[case] = (fn, arg, dev if case[1] == 0 else None)
        times = {case: [] for case in cases}
        for _ in range(repeats):
            for case, (fn, arg, _dev) in fns.items():
                c = _cpu()
                jax.block_until_ready(fn(arg))
                times[case].append(_cpu() - c)
        for (method, batch), ts in times.items():
            row = dict(
                tool="neurojax tree_solve",
                tree_solve=method,
                tree=label,
                n_nodes=n,
                batch=batch,
                us_per_solve_per_cell=statistics.median(ts) / steps / max(batch, 1) * 1e6,
                rel_dev_from_first=fns[(method, batch)][2],
                load_average=os.getloadavg(),
            )
            if method == "branches":
                lay = topo.chain_layout
                row.update(chains=lay.c, interior_rows=lay.k, reduced_nodes=lay.n_reduced)
            rows.append(row)
            print(row, flush=True)
    return rows


# ------------------------------------------------------------------ NEURON


def _neuron_tree(nb):
    """The benchmark tree in NEURON (replacing any sections): `(run, rec, keep)`; `run()`
    simulates `T_STOP` ms, `rec` the soma's voltage vector, `keep` objects to hold."""
    from neuron import h

    h.load_file("stdrun.hoc")
    for s in list(h.allsec()):
        h.delete_section(sec=s)
    secs = []
    for i, (L, d, p) in enumerate(tree_spec(nb)):
        s = h.Section(name=f"b{i}")
        s.L, s.diam, s.nseg, s.Ra, s.cm = L, d, NSEG, 35.4, 1.0
        s.insert("hh")
        if p >= 0:
            s.connect(secs[p](1), 0)
        secs.append(s)
    h.usetable_hh = 0
    h.celsius = 6.3
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = DELAY, DUR, AMP
    rec = h.Vector().record(secs[0](0.5)._ref_v)
    h.dt, h.secondorder = DT, 0

    def run():
        h.finitialize(-65.0)
        h.continuerun(T_STOP)

    return run, rec, (secs, stim)


def run_neuron(sizes, repeats):
    rows = []
    for nb in sizes:
        run, rec, keep = _neuron_tree(nb)
        fwd = median_time(run, repeats)
        row = dict(
            tool="NEURON",
            solver="secondorder=0",
            n_compartments=nb * NSEG,
            forward_s=fwd,
            soma_spikes=spikes(np.array(rec)),
        )
        rows.append(row)
        print(row, flush=True)
        del keep, rec
    return rows


# ------------------------------------------------------------------ Jaxley


def _jaxley_tree(nb):
    """The benchmark tree in Jaxley: jitted `forward(params)` (the soma's V), `grad`
    (of its mean w.r.t. every branch's HH_gNa) and `params`."""
    import jax
    import jax.numpy as jnp
    import jaxley as jx
    from jaxley.channels import HH

    n_steps = int(round(T_STOP / DT))
    spec = tree_spec(nb)
    comp = jx.Compartment()
    branch = jx.Branch(comp, ncomp=NSEG)
    cell = jx.Cell([branch] * nb, parents=[p for _, _, p in spec])
    cell.insert(HH())
    for i, (L, d, _) in enumerate(spec):
        cell.branch(i).set("length", L / NSEG)
        cell.branch(i).set("radius", d / 2)
    cell.set("axial_resistivity", 35.4)
    cell.set("capacitance", 1.0)
    cell.set("v", -65.0)
    cell.init_states()
    cell.delete_stimuli()
    cell.delete_recordings()
    cell.branch(0).loc(0.5).stimulate(jnp.asarray(stimulus(n_steps)))
    cell.branch(0).loc(0.5).record()
    cell.branch("all").make_trainable("HH_gNa")
    params = cell.get_parameters()

    @jax.jit
    def forward(params):
        return jx.integrate(cell, params=params, delta_t=DT, t_max=T_STOP - DT)[0]

    @jax.jit
    def grad(params):
        return jax.grad(lambda p: jnp.mean(forward(p)))(params)

    return forward, grad, params


def run_jaxley(sizes, repeats):
    import jax
    import jaxley as jx

    rows = []
    for nb in sizes:
        forward, grad, params = _jaxley_tree(nb)
        t = time.perf_counter()
        v = jax.block_until_ready(forward(params))
        first = time.perf_counter() - t
        fwd = median_time(lambda: jax.block_until_ready(forward(params)), repeats)  # noqa: B023 (used at once)
        t = time.perf_counter()
        jax.block_until_ready(grad(params))
        gfirst = time.perf_counter() - t
        gs = median_time(lambda: jax.block_until_ready(grad(params)), max(1, repeats // 2))  # noqa: B023 (used at once)
        row = dict(
            tool="Jaxley",
            solver="bwd_euler",
            version=jx.__version__,
            n_compartments=nb * NSEG,
            compile_s=first - fwd,
            forward_s=fwd,
            grad_compile_s=gfirst - gs,
            grad_s=gs,
            grad_over_forward=gs / fwd,
            soma_spikes=spikes(v),
        )
        rows.append(row)
        print(row, flush=True)
    return rows


# ------------------------------------------------------------------ paired (interleaved)


def serve_jaxley(nb):
    """For `run_paired`: compile Jaxley's forward, then on every line of stdin run it once
    and print the CPU seconds of this process it took (user + system, all threads)."""
    import jax

    forward, _, params = _jaxley_tree(nb)
    v = jax.block_until_ready(forward(params))
    print(json.dumps({"ready": True, "soma_spikes": spikes(v)}), flush=True)
    for _ in sys.stdin:
        c = _cpu()
        jax.block_until_ready(forward(params))
        print(json.dumps({"cpu_s": _cpu() - c}), flush=True)


def _cpu():
    """CPU seconds of this process, all threads (`CLOCK_PROCESS_CPUTIME_ID`: ns resolution;
    `os.times` counts 10 ms ticks)."""
    return time.process_time()


def run_paired(nb, rounds, jaxley_python=None, tree_methods=None, gates_at_nodes=False,
               tree_loop=False):
    """The forward runs of neurojax (backward Euler and Crank–Nicolson, float32), NEURON
    and Jaxley interleaved, `rounds` times, each timed in CPU seconds of its own process
    (neurojax and NEURON in this one, Jaxley in a server subprocess in its own virtual
    environment, compiled before the first round): on a shared, loaded machine, the
    ratios of neighbouring runs are the steadier figure. neurojax's gradients (of the
    mean soma V w.r.t. every branch's g_Na) run in the same rounds, ÷ the same scheme's
    forward. `gates_at_nodes`: one more backward-Euler forward row, the cell built with
    `cable._cell.GATES_AT_NODES` (its HH gates at node layout; no gradient row: the
    gradient's per-branch g_Na is a per-compartment parameter, which keeps the region
    layout). `tree_loop`: one more backward-Euler row (forward and gradient), traced with
    `cable._cell.LOOP_ORDER = "tree"` (the time loop in the cell's root-outwards numbering,
    the default before session 15; the other rows run the default, chain-block order).
    Returns one row
    per tool (median CPU seconds) plus the per-round ratios."""
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology

    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    morph = Morphology([Branch(L, d, parent=p, nseg=NSEG) for L, d, p in tree_spec(nb)])
    cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    of_branch = cell.discretisation.branch[cell.regions[0]]
    g_na = jnp.full((nb,), 120.0, jnp.float32)
    runs, spikes_of = {}, {}
    from neurojax.cable import _tree_solve

    solvers = [("neurojax BackwardEuler", nj.solvers.BackwardEuler()),
               ("neurojax CrankNicolson", nj.solvers.CrankNicolson())]  # fmt: skip
    for m in tree_methods or []:  # backward Euler with another tree-solve schedule
        if m != _tree_solve.default_method():
            be = nj.solvers.BackwardEuler(linear_solver=nj.solvers.TreeSolve(m))
            solvers.append((f"neurojax BackwardEuler {m}", be))
    for name, solver in solvers:
        fn = jax.jit(lambda c, s=solver: nj.simulate(c, stim, dt=DT, solver=s, saveat=rec).states)
        spikes_of[name] = spikes(np.asarray(fn(cell)).ravel())
        runs[name] = lambda fn=fn: jax.block_until_ready(fn(cell))

        def loss(g, s=solver):  # mean soma V; gradient w.r.t. every branch's g_na
            c = Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)])
            return nj.simulate(c, stim, dt=DT, solver=s, saveat=rec).states.mean()

        grad = jax.jit(jax.grad(loss))
        jax.block_until_ready(grad(g_na))
        spikes_of[name + " gradient"] = spikes_of[name]
        runs[name + " gradient"] = lambda grad=grad: jax.block_until_ready(grad(g_na))
    if gates_at_nodes:
        from neurojax.cable import _cell

        _cell.GATES_AT_NODES = True
        try:
            cell_n = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
        finally:
            _cell.GATES_AT_NODES = False
        assert cell_n.geometry.at_nodes == {0}
        name = "neurojax BackwardEuler gates at nodes"
        fn = jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=nj.solvers.BackwardEuler(),
                                           saveat=rec).states)  # fmt: skip
        spikes_of[name] = spikes(np.asarray(fn(cell_n)).ravel())
        runs[name] = lambda fn=fn: jax.block_until_ready(fn(cell_n))
    if tree_loop:
        from neurojax.cable import _cell

        def in_tree_order(f):  # traced (first call) with the loop in the "tree" numbering
            def g(*a):
                _cell.LOOP_ORDER = "tree"
                try:
                    return f(*a)
                finally:
                    _cell.LOOP_ORDER = "chain_blocks"

            return g

        cell_t = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])  # its own traces
        assert cell_t.geometry.loop is not None  # (the default rows: chain-block order)
        name = "neurojax BackwardEuler tree loop"
        be = nj.solvers.BackwardEuler()
        fn = jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=be, saveat=rec).states)
        spikes_of[name] = spikes(np.asarray(in_tree_order(fn)(cell_t)).ravel())
        runs[name] = lambda fn=fn: jax.block_until_ready(fn(cell_t))

        def loss_t(g):
            c = Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)])
            return nj.simulate(c, stim, dt=DT, solver=be, saveat=rec).states.mean()

        grad_t = jax.jit(jax.grad(loss_t))
        jax.block_until_ready(in_tree_order(grad_t)(g_na))
        spikes_of[name + " gradient"] = spikes_of[name]
        runs[name + " gradient"] = lambda grad=grad_t: jax.block_until_ready(grad(g_na))
    nrn_run, nrn_rec, keep = _neuron_tree(nb)
    nrn_run()
    spikes_of["NEURON"] = spikes(np.array(nrn_rec))
    runs["NEURON"] = nrn_run
    server = None
    if jaxley_python:
        server = subprocess.Popen(
            [jaxley_python, str(Path(__file__)), "--tool", "jaxley-serve", "--branches", str(nb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        while True:  # skip anything Jaxley prints before it is ready
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("the Jaxley server exited before it was ready")
            if line.startswith("{"):
                spikes_of["Jaxley"] = json.loads(line)["soma_spikes"]
                break

        def jaxley_once():
            server.stdin.write("run\n")
            server.stdin.flush()
            return json.loads(server.stdout.readline())["cpu_s"]

    times = {k: [] for k in [*runs, *(["Jaxley"] if server else [])]}
    for _ in range(rounds):
        for name, run in runs.items():
            c = _cpu()
            run()
            times[name].append(_cpu() - c)
        if server:
            times["Jaxley"].append(jaxley_once())
    if server:
        server.stdin.close()
        server.wait()
    del keep
    be = times["neurojax BackwardEuler"]
    rows = []
    for name, ts in times.items():
        row = dict(tool=name, n_compartments=nb * NSEG, rounds=rounds, cpu_s=ts,
                   median_cpu_s=statistics.median(ts), soma_spikes=spikes_of[name])  # fmt: skip
        if name.endswith(" gradient"):  # ÷ the same scheme's forward, per round
            per_round = [t / f for t, f in zip(ts, times[name[: -len(" gradient")]], strict=True)]
            row.update(over_forward=per_round, median_over_forward=statistics.median(per_round))
        elif name != "neurojax BackwardEuler":
            per_round = [t / b for t, b in zip(ts, be, strict=True)]
            row.update(over_neurojax_be=per_round,
                       median_over_neurojax_be=statistics.median(per_round))  # fmt: skip
        rows.append(row)
        print(row, flush=True)
    return rows


# ------------------------------------------------------------------ driver


def table(rows):
    cols = [
        "tool",
        "solver",
        "tree_solve",
        "n_compartments",
        "compile_s",
        "forward_s",
        "grad_s",
        "grad_over_forward",
        "vmap_batch",
        "vmap_cells_per_s",
        "soma_spikes",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            x = r.get(c, "")
            cells.append(f"{x:.3g}" if isinstance(x, float) else str(x))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def solve_table(rows):
    sizes = sorted({r["n_nodes"] for r in rows})
    label = {r["n_nodes"]: r.get("tree", str(r["n_nodes"])) for r in rows}
    cases = sorted({(r["tree_solve"], r["batch"]) for r in rows}, key=lambda c: (c[1], c[0]))
    head = "| nodes | " + " | ".join(
        f"{m}, {'1 cell' if b == 0 else f'vmap {b}'}" for m, b in cases
    )
    lines = [head + " |", "|" + "---|" * (len(cases) + 1)]
    for n in sizes:
        got = {
            (r["tree_solve"], r["batch"]): r["us_per_solve_per_cell"]
            for r in rows
            if r["n_nodes"] == n
        }
        cells = [f"{got[c]:.3g}" if c in got else "–" for c in cases]
        lines.append(f"| {n} ({label[n]}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _tree_solve_default():
    from neurojax.cable import _tree_solve

    return _tree_solve.default_method()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--tool",
        choices=["all", "neurojax", "neuron", "jaxley", "solve", "paired", "jaxley-serve"],
        default="all",
    )
    p.add_argument("--rounds", type=int, default=7, help="--tool paired: interleaved rounds")
    p.add_argument("--branches", type=int, nargs="+", default=[50, 200])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument(
        "--jaxley-python",
        default=os.environ.get("JAXLEY_PYTHON"),
        help="a Python with Jaxley (default: $JAXLEY_PYTHON; none: no Jaxley rows)",
    )
    p.add_argument(
        "--tree-methods",
        nargs="+",
        default=None,
        help="neurojax tree-solve schedules to compare (hines, levels, branches): one "
        "backward-Euler row (forward, gradient, vmap batch) per schedule other than the "
        "backend's default; --tool solve: the schedules timed (default all three)",
    )
    p.add_argument(
        "--solve-batches",
        type=int,
        nargs="+",
        default=[0, 10, 100],
        help="--tool solve: vmap batch sizes (0: one cell, no vmap)",
    )
    p.add_argument(
        "--gates-at-nodes",
        action="store_true",
        help="--tool paired: add a backward-Euler row with the HH gates at node layout "
        "(cable._cell.GATES_AT_NODES)",
    )
    p.add_argument(
        "--tree-loop",
        action="store_true",
        help="--tool paired: add backward-Euler rows (forward, gradient) with the time loop "
        "in the cell's root-outwards numbering (cable._cell.LOOP_ORDER = 'tree', the "
        "default before session 15; the other rows: chain-block order)",
    )
    p.add_argument("--hay", action="store_true", help="--tool solve: add the Hay cell's tree")
    p.add_argument("--name", default="cpu")
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    load0 = os.getloadavg()  # machine_info() runs after the measurements
    if args.tool == "jaxley-serve":
        return serve_jaxley(args.branches[0])
    if args.tool == "paired":
        RESULTS.mkdir(exist_ok=True)
        sys.path.insert(0, str(HERE))
        import _common as C

        rows = [r for nb in args.branches
                for r in run_paired(nb, args.rounds, args.jaxley_python,
                                    args.tree_methods, args.gates_at_nodes,
                                    args.tree_loop)]  # fmt: skip
        result = dict(
            machine={**C.machine_info(), "load_average_at_start": load0},
            dt=DT,
            t_stop=T_STOP,
            rows=rows,
            tree_solve_default=_tree_solve_default(),
            load_average_at_end=os.getloadavg(),
        )
        (RESULTS / f"cable_paired_{args.name}.json").write_text(json.dumps(result, indent=1))
        return rows
    if args.tool != "all":
        fn = {
            "neurojax": lambda: run_neurojax(
                args.branches, args.repeats, args.batch, args.tree_methods
            ),
            "neuron": lambda: run_neuron(args.branches, args.repeats),
            "jaxley": lambda: run_jaxley(args.branches, args.repeats),
            "solve": lambda: run_tree_solve(
                args.branches,
                args.repeats,
                methods=args.tree_methods,
                batches=args.solve_batches,
                hay=args.hay,
            ),
        }[args.tool]
        rows = fn()
        if args.tool == "solve":
            RESULTS.mkdir(exist_ok=True)
            sys.path.insert(0, str(HERE))
            import _common as C

            result = dict(
                machine={**C.machine_info(), "load_average_at_start": load0},
                steps=400,
                rows=rows,
                load_average_at_end=os.getloadavg(),
            )
            out = RESULTS / f"cable_tree_solve_{args.name}.json"
            out.write_text(json.dumps(result, indent=1))
            (RESULTS / f"cable_tree_solve_{args.name}.md").write_text(
                "# The voltage solve alone (µs per solve per cell, float32)\n\n"
                + solve_table(rows)
                + "\n"
            )
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(rows))
        return rows
    rows = []
    jobs = [("neurojax", sys.executable), ("neuron", sys.executable)]
    if args.jaxley_python:
        jobs.append(("jaxley", args.jaxley_python))
    RESULTS.mkdir(exist_ok=True)
    for tool, python in jobs:
        out = RESULTS / f".cable_{tool}.json"
        cmd = [
            python,
            str(Path(__file__)),
            "--tool",
            tool,
            "--repeats",
            str(args.repeats),
            "--batch",
            str(args.batch),
            "--json-out",
            str(out),
            "--branches",
            *map(str, args.branches),
        ]
        if tool == "neurojax" and args.tree_methods:
            cmd += ["--tree-methods", *args.tree_methods]
        subprocess.run(cmd, check=True)
        rows += json.loads(out.read_text())
        out.unlink()
    sys.path.insert(0, str(HERE))
    import _common as C

    result = dict(machine=C.machine_info(), dt=DT, t_stop=T_STOP, rows=rows)
    (RESULTS / f"cable_{args.name}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"cable_{args.name}.md").write_text(
        f"# Branched HH cells, {T_STOP:g} ms at dt = {DT} ms\n\n{table(rows)}\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
