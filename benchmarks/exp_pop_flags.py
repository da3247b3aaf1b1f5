"""XLA:CPU compile options on the HH 10⁴ population (`ExponentialEuler`, as
`bench_populations.py`), each a per-compilation option, all compiled in one process and
called in turn (`--rounds` alternating rounds, process CPU time, medians); the largest
|ΔV| against the default compilation says whether an option changes results.

    python benchmarks/exp_pop_flags.py       # results/exp_pop_flags.{json,md}
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

OPTIONS = {
    "default": {},
    "512-bit vectors": {"xla_cpu_prefer_vector_width": 512},
    "one thread per loop (parallel_codegen_split_count=1)": {"xla_cpu_parallel_codegen_split_count": 1},
    "platform-dependent math": {"xla_cpu_enable_platform_dependent_math": True},
    "fast math": {"xla_cpu_enable_fast_math": True},
    "legacy fusion emitters": {"xla_cpu_use_fusion_emitters": False},
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--name", default="exp_pop_flags")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    n = 10**4
    model = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(n), np.float32))
    inputs = jnp.full((1000,), C.HH_I0, jnp.float32)

    def run(m, x):
        sol = nj.simulate(
            m, x, dt=C.HH_DT, solver=nj.ExponentialEuler(), saveat=nj.SaveAt(every=100, vars=("v",))
        )
        return sol.v, sol.spikes

    lowered = jax.jit(run).lower(model, inputs)
    fns, dv, ref = {}, {}, None
    for name, opts in OPTIONS.items():
        compiled = lowered.compile(opts)
        v, s = jax.block_until_ready(compiled(model, inputs))
        ref = ref if ref is not None else np.asarray(v)
        dv[name] = float(np.max(np.abs(np.asarray(v) - ref)))
        fns[name] = compiled
    cpu = {k: [] for k in fns}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for k, c in fns.items():
            t = time.process_time()
            jax.block_until_ready(c(model, inputs))
            cpu[k].append(time.process_time() - t)
    load1 = os.getloadavg()[0]
    d = statistics.median(cpu["default"])
    rows = [{"option": k, "xla": OPTIONS[k], "cpu_s": c, "max_abs_dv_mV": dv[k]} for k, c in cpu.items()]
    table = [[k, f"{statistics.median(c) * 1e3:.1f}", f"{d / statistics.median(c):.2f}", f"{dv[k]:.2g}"]
             for k, c in cpu.items()]  # fmt: skip
    md = (f"HH 10⁴, `ExponentialEuler`, 1000 steps, float32; {args.rounds} alternating rounds, "
          f"process CPU time; load average {load0:.1f}–{load1:.1f} (shared 2-core VM)\n\n"
          + C.markdown_table(["XLA:CPU option", "CPU, median (ms)", "speed-up", "max |ΔV| vs default (mV)"], table))  # fmt: skip
    print(md)
    payload = C.neurojax_payload(args, rows)
    payload["load_average"] = [load0, load1]
    print("wrote", C.write(args.name, payload, md, args.out_dir))


if __name__ == "__main__":
    main()
