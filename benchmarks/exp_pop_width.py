"""XLA:CPU's vector width (`xla_cpu_prefer_vector_width`, default 256 bits) at 512 bits,
on the benchmark cases beyond the populations: does setting it for the whole process
(XLA_FLAGS, as neurojax sets its loop threshold at import) slow anything down?

Each case compiled twice in one process — XLA's default and the per-compilation option
`{"xla_cpu_prefer_vector_width": 512}` — then `--rounds` rounds calling each in turn
(alternating), process CPU time, medians; and whether the two give the same values bit for
bit. Cases: HH 10⁴ forward (`Staggered`, `ExponentialEuler`, `ExponentialRK2`), LIF 10⁵
forward (as `bench_populations.py`), HH 10³ gradient (`Staggered`, as
`bench_hh_solvers.py`), COBA 4000 neurons 1 s (`bench_network.py`), and an HH cable of
200 branches × 10 compartments, 100 ms, forward and gradient (`bench_cable.py`).

    python benchmarks/exp_pop_width.py       # results/exp_pop_width.{json,md}
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def _cases(jax, jnp, np, nj, which):
    cases = {}
    if "pop" in which:
        hh = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(10**4), np.float32))
        x_hh = jnp.full((1000,), C.HH_I0, jnp.float32)
        for name, solver in [
            ("Staggered", nj.Staggered()),
            ("ExponentialEuler", nj.ExponentialEuler()),
            ("ExponentialRK2", nj.ExponentialRK2()),
        ]:

            def run(m, x, solver=solver):
                sol = nj.simulate(
                    m, x, dt=C.HH_DT, solver=solver, saveat=nj.SaveAt(every=100, vars=("v",))
                )
                return sol.v, sol.spikes

            cases[f"HH 10⁴ forward, {name}"] = (run, (hh, x_hh))
        lif = nj.LIF(v_rest=np.asarray(C.lif_v_rest(10**5), np.float32))
        x_lif = jnp.full((1000,), C.LIF_I0, jnp.float32)

        def run_lif(m, x):
            sol = nj.simulate(m, x, dt=C.LIF_DT, saveat=nj.SaveAt(every=100, vars=("v",)))
            return sol.v, sol.spikes

        cases["LIF 10⁵ forward"] = (run_lif, (lif, x_lif))
        import equinox as eqx

        hh3 = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(1000), np.float32))

        def loss(m, x):
            sol = nj.simulate(m, x, dt=C.HH_DT, saveat=nj.SaveAt(every=10, vars=("v",)))
            return jnp.mean(sol.v**2)

        grad = eqx.filter_grad(loss)
        params, static = eqx.partition(hh3, eqx.is_inexact_array)
        cases["HH 10³ gradient, Staggered"] = (
            lambda p, x: grad(eqx.combine(p, static), x),
            (params, x_hh),
        )
    if "coba" in which:
        import bench_network as N
        from neurojax.models import coba, coba_inputs, random_initial_state

        net = coba(jax.random.key(0), 4000, p=N.IN_DEGREE / 4000)
        inputs = coba_inputs(net, int(round(N.T_MS / N.DT)))
        y0 = random_initial_state(net, jax.random.key(1))
        save = nj.SaveAt(every=100, fn=lambda y: None, spike_dtype=jnp.uint8)

        def count(net, y0):
            sol = nj.simulate(net, inputs, dt=N.DT, state0=y0, saveat=save, throw=False)
            return sum(jnp.sum(s, dtype=jnp.int32) for s in sol.spikes.values())

        cases["COBA 4000, 1 s"] = (count, (net, y0))
    if "cable" in which:
        import bench_cable as B
        from neurojax.cable import HH, Branch, Cell, Morphology

        nb = 200
        morph = Morphology([Branch(L, d, parent=p, nseg=B.NSEG) for L, d, p in B.tree_spec(nb)])
        cell0 = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
        of_branch = cell0.discretisation.branch[cell0.regions[0]]
        stim = jnp.asarray(B.stimulus(int(round(B.T_STOP / B.DT))))[:, None]
        rec = nj.SaveAt(fn=cell0.record_v([(0, 0.5)]))

        def forward(g):
            cell = Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)])
            return nj.simulate(cell, stim, dt=B.DT, saveat=rec).states[:, 0]

        g = jnp.full((nb,), 120.0)
        cases["HH cable 2000 compartments, forward"] = (forward, (g,))
        cases["HH cable 2000 compartments, gradient"] = (
            jax.grad(lambda g: jnp.mean(forward(g))),
            (g,),
        )
    return cases


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--cases", nargs="+", default=["pop", "coba", "cable"])
    p.add_argument("--name", default="exp_pop_width")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    fns, same, compile_s = {}, {}, {}
    for name, (fn, fn_args) in _cases(jax, jnp, np, nj, args.cases).items():
        lowered = jax.jit(fn).lower(*fn_args)
        outs = []
        for width in (0, 512):
            c = time.process_time()
            compiled = lowered.compile({"xla_cpu_prefer_vector_width": width} if width else {})
            compile_s[name, width] = time.process_time() - c
            outs.append(jax.block_until_ready(compiled(*fn_args)))
            fns[name, width] = (compiled, fn_args)
        same[name] = all(
            np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
            for a, b in zip(jax.tree.leaves(outs[0]), jax.tree.leaves(outs[1]), strict=True)
        )
        print(name, "identical" if same[name] else "DIFFERENT", flush=True)
    cpu = {k: [] for k in fns}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for k, (compiled, fn_args) in fns.items():
            c = time.process_time()
            jax.block_until_ready(compiled(*fn_args))
            cpu[k].append(time.process_time() - c)
    load1 = os.getloadavg()[0]
    rows, table = [], []
    for name in same:
        d, w = statistics.median(cpu[name, 0]), statistics.median(cpu[name, 512])
        rows.append({"case": name, "cpu_default_s": cpu[name, 0], "cpu_512_s": cpu[name, 512],
                     "compile_cpu_s": [compile_s[name, 0], compile_s[name, 512]],
                     "identical": same[name]})  # fmt: skip
        table.append([name, f"{d * 1e3:.1f}", f"{w * 1e3:.1f}", f"{d / w:.2f}",
                      f"{compile_s[name, 0]:.2f} / {compile_s[name, 512]:.2f}",
                      "yes" if same[name] else "**no**"])  # fmt: skip
    header = ["case", "CPU, default width (ms)", "CPU, 512-bit (ms)", "speed-up",
              "compile CPU s (default / 512)", "same values bit for bit"]  # fmt: skip
    md = (
        f"XLA:CPU vector width, default against `xla_cpu_prefer_vector_width=512` (jax "
        f"{jax.__version__}, {C.machine_info()['cpu']}, AVX-512); {args.rounds} alternating "
        f"rounds in one process, process CPU time, medians; load average {load0:.1f}–"
        f"{load1:.1f} (shared 2-core VM)\n\n" + C.markdown_table(header, table)
    )
    print(md)
    payload = C.neurojax_payload(args, rows)
    payload["load_average"] = [load0, load1]
    print("wrote", C.write(args.name, payload, md, args.out_dir))


if __name__ == "__main__":
    main()
