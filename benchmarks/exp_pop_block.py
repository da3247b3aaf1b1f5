"""HH 10⁴ population in `simulate`'s blocked loop (each block of neurons runs the whole
time loop in turn, `neurojax/_simulate.py` `_population_block`; by default only above
`BLOCK_ABOVE` = 512 kB of per-neuron arrays, i.e. not at 10⁴ HH neurons), forced here by
setting `BLOCK_ABOVE = 0` with block sizes `BLOCK_BYTES` of 8–64 kB, at XLA's default
vector width and at 512 bits: does tiling pay once the arithmetic is 512 bits wide?
One process, alternating rounds, process CPU time; `ExponentialEuler` and `Staggered`.

    python benchmarks/exp_pop_block.py       # results/exp_pop_block.{json,md}
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--blocks", nargs="+", type=int, default=[0, 1 << 13, 1 << 15, 1 << 16])
    p.add_argument("--name", default="exp_pop_block")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax import _simulate as S

    n = 10**4
    model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), np.float32))
    inputs = jnp.full((1000,), C.HH_I0, jnp.float32)
    above, size = S.BLOCK_ABOVE, S.BLOCK_BYTES
    fns, ref = {}, {}
    for sname, solver in [("ExponentialEuler", nj.ExponentialEuler()), ("Staggered", nj.Staggered())]:
        for block in args.blocks:
            S.BLOCK_ABOVE, S.BLOCK_BYTES = (above, size) if not block else (0, block)

            def run(m, x, solver=solver):
                sol = nj.simulate(m, x, dt=C.HH_DT, solver=solver, saveat=nj.SaveAt(every=100, vars=("v",)))
                return sol.v, sol.spikes

            lowered = jax.jit(run).lower(model, inputs)  # traced (and blocked) here
            for width in (0, 512):
                c = lowered.compile({"xla_cpu_prefer_vector_width": width} if width else {})
                out = jax.block_until_ready(c(model, inputs))
                ref.setdefault(sname, out)
                same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(out, ref[sname]))
                fns[sname, block, width] = (c, same)
    S.BLOCK_ABOVE, S.BLOCK_BYTES = above, size
    cpu = {k: [] for k in fns}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for k, (c, _) in fns.items():
            t = time.process_time()
            jax.block_until_ready(c(model, inputs))
            cpu[k].append(time.process_time() - t)
    load1 = os.getloadavg()[0]
    rows, table = [], []
    for (sname, block, width), c in cpu.items():
        m = statistics.median(c)
        one = statistics.median(cpu[sname, 0, width])
        rows.append({"solver": sname, "block_bytes": block, "width": width, "cpu_s": c,
                     "identical": fns[sname, block, width][1]})  # fmt: skip
        table.append([f"`{sname}`", f"{block // 1024} kB" if block else "one loop (shipped)",
                      width or "default", f"{m * 1e3:.1f}", f"{one / m:.2f}",
                      "yes" if fns[sname, block, width][1] else "**no**"])  # fmt: skip
    header = ["solver", "blocks", "vector width", "CPU, median (ms)",
              "speed-up vs one loop, same width", "same values as shipped"]  # fmt: skip
    md = (f"HH 10⁴, 1000 steps, float32; {args.rounds} alternating rounds, process CPU time; "
          f"load average {load0:.1f}–{load1:.1f} (shared 2-core VM)\n\n"
          + C.markdown_table(header, table))  # fmt: skip
    print(md)
    payload = C.neurojax_payload(args, rows)
    payload["load_average"] = [load0, load1]
    print("wrote", C.write(args.name, payload, md, args.out_dir))


if __name__ == "__main__":
    main()
