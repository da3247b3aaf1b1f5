"""The HH population's time loop written by hand around neurojax's own step, to see what
the loop's structure costs (issue 21, item 3): `simulate`'s loop against a plain
`lax.scan` of `solver.step` + spike count with the NamedTuple state as carry, the same
with the state stacked into one (4, N) array, and unrolled by 2 and 4. Every variant
computes the same values (checked: V and spike counts equal bit for bit or to float32
rounding, printed).

One process, alternating rounds, process CPU time, medians; HH 10⁴, 1000 steps, dt =
0.025 ms, f–I sweep, float32, V and spike counts kept every 100 steps (as
`bench_populations.py`); `ExponentialEuler` and `Staggered`.

    python benchmarks/exp_pop_scan.py        # results/exp_pop_scan.{json,md}
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10**4)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--width", type=int, default=0, help="xla_cpu_prefer_vector_width (0: default)")
    p.add_argument("--name", default="exp_pop_scan")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax

    import neurojax as nj
    from neurojax.neurons.hh import HHState

    steps, every = 1000, 100
    model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(args.n), np.float32))
    inputs = jnp.full((steps,), C.HH_I0, jnp.float32)
    dt = C.HH_DT

    def nj_run(solver):
        def run(m, x):
            sol = nj.simulate(m, x, dt=dt, solver=solver, saveat=nj.SaveAt(every=every, vars=("v",)))
            return sol.v, sol.spikes

        return run

    def scan_run(solver, stacked, unroll):
        def step(m, y, current, t):
            y1 = solver.step(m, t, y, current, dt)
            return y1, (y.v < m.v_th) & (y1.v >= m.v_th)

        def run(m, x):
            y0 = m.init_state((args.n,))
            pack = (lambda y: jnp.stack(y)) if stacked else (lambda y: y)
            unpack = (lambda a: HHState(*a)) if stacked else (lambda y: y)

            def inner(carry, xs):
                y, count = carry
                current, t = xs
                y1, spike = step(m, unpack(y), current, t)
                return (pack(y1), count + spike.astype(jnp.float32)), None

            def outer(y, xs):
                (y, count), _ = lax.scan(
                    inner, (y, jnp.zeros(args.n, jnp.float32)), xs, unroll=unroll
                )
                return y, (unpack(y).v, count)

            ts = jnp.arange(steps, dtype=jnp.float32) * dt
            xs = (x.reshape(-1, every), ts.reshape(-1, every))
            _, (v, counts) = lax.scan(outer, pack(y0), xs)
            return v, counts

        return run

    variants = {}
    for sname, solver in [("ExponentialEuler", nj.ExponentialEuler()), ("Staggered", nj.Staggered())]:
        variants[sname, "simulate"] = nj_run(solver)
        variants[sname, "lax.scan, NamedTuple carry"] = scan_run(solver, False, 1)
        variants[sname, "lax.scan, stacked (4, N) carry"] = scan_run(solver, True, 1)
        variants[sname, "lax.scan, NamedTuple carry, unroll 2"] = scan_run(solver, False, 2)
        variants[sname, "lax.scan, NamedTuple carry, unroll 4"] = scan_run(solver, False, 4)
    opts = {"xla_cpu_prefer_vector_width": args.width} if args.width else {}
    fns, info = {}, {}
    for key, fn in variants.items():
        compiled = jax.jit(fn).lower(model, inputs).compile(opts)
        v, s = jax.block_until_ready(compiled(model, inputs))
        ref_v, ref_s = (
            (v, s) if key[1] == "simulate" else [np.asarray(a) for a in fns[key[0], "simulate"][1]]
        )
        txt = compiled.as_text()
        info[key] = {
            "max_abs_dv_mV": float(np.max(np.abs(np.asarray(v) - np.asarray(ref_v)))),
            "spikes": float(np.asarray(s).sum()),
            "spikes_ref": float(np.asarray(ref_s).sum()),
            "copies": len(re.findall(r" copy\(", txt)),
            "fusions": len(re.findall(r" fusion\(", txt)),
        }
        fns[key] = (compiled, (v, s))
        print(key, info[key], flush=True)
    cpu = {k: [] for k in fns}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for k, (compiled, _) in fns.items():
            c = time.process_time()
            jax.block_until_ready(compiled(model, inputs))
            cpu[k].append(time.process_time() - c)
    load1 = os.getloadavg()[0]
    rows, table = [], []
    for (sname, what), c in cpu.items():
        m = statistics.median(c)
        ref = statistics.median(cpu[sname, "simulate"])
        rows.append({"solver": sname, "variant": what, "cpu_s": c, **info[sname, what]})
        i = info[sname, what]
        table.append([f"`{sname}`", what, f"{m * 1e3:.1f}", f"{ref / m:.2f}",
                      f"{i['max_abs_dv_mV']:.2g}", f"{i['spikes']:.0f} / {i['spikes_ref']:.0f}",
                      i["copies"], i["fusions"]])  # fmt: skip
    header = ["solver", "loop", "CPU, median (ms)", "speed-up vs simulate", "max |ΔV| (mV)",
              "spikes / simulate's", "copies in HLO", "fusions in HLO"]  # fmt: skip
    md = (
        f"HH population {args.n}, 1000 steps, float32, vector width "
        f"{args.width or 'default'}; {args.rounds} alternating rounds, process CPU time; "
        f"load average {load0:.1f}–{load1:.1f} (shared 2-core VM)\n\n"
        + C.markdown_table(header, table)
    )
    print(md)
    payload = C.neurojax_payload(args, rows)
    payload["load_average"] = [load0, load1]
    print("wrote", C.write(args.name, payload, md, args.out_dir))


if __name__ == "__main__":
    main()
