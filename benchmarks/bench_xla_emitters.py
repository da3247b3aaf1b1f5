"""XLA:CPU's fusion emitters: the default (new) ones against the legacy ones
(`--xla_cpu_use_fusion_emitters=false`), on the cases a user runs: compile time and run
time, each case in a fresh process per setting, the settings alternating (A B, B A, …)
so that a drifting machine load falls on both alike. Times are the process's CPU time
(user + system), which other jobs on a shared machine inflate less than wall time.

Cases: `hh1e4` (HH 10⁴ neurons, HH's default `Staggered`, 1000 steps, V and spike
counts every 100 steps), `lif1e5` (LIF 10⁵, 1000 steps, the same saving), `hhgrad1e3`
(`jax.grad` of mean(V²) over 10³ HH neurons, 1000 steps, every parameter), `coba` (the
COBA network of `bench_network.py`, 4000 LIF, 1 s), `hay` (Hay et al. 2011's L5 cell,
281 compartments, 100 ms of a 0.5 nA somatic step, soma V).

    python benchmarks/bench_xla_emitters.py --rounds 3
    python benchmarks/bench_xla_emitters.py --case lif1e5     # one case, this process

Why: the test suite runs with the legacy emitters (`tests/conftest.py`: small programs
compile in ~2/3 of the time), and the question was whether the library should set them
at import. Results: `results/xla_emitters.{json,md}`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

CASES = ("hh1e4", "lif1e5", "hhgrad1e3", "coba", "hay")
SMOKE = ("hh1e2",)  # HH 100 neurons, 100 steps: a test of the script (`run.py --quick`)
LEGACY = "--xla_cpu_use_fusion_emitters=false"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_case(case: str) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    repeats = 5
    if case == "hh1e2":
        m = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(100), np.float32))
        x = jnp.full((100,), C.HH_I0, jnp.float32)
        save = nj.SaveAt(every=10, vars=("v",))

        def f(m):
            sol = nj.simulate(m, x, dt=C.HH_DT, saveat=save)
            return sol.v, sol.spikes

        arg, repeats = m, 2
    elif case == "hh1e4":
        m = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(10**4), np.float32))
        x = jnp.full((1000,), C.HH_I0, jnp.float32)
        save = nj.SaveAt(every=100, vars=("v",))

        def f(m):
            sol = nj.simulate(m, x, dt=C.HH_DT, saveat=save)
            return sol.v, sol.spikes

        arg = m
    elif case == "lif1e5":
        m = nj.LIF(v_rest=np.asarray(C.lif_v_rest(10**5), np.float32))
        x = jnp.full((1000,), C.LIF_I0, jnp.float32)
        save = nj.SaveAt(every=100, vars=("v",))

        def f(m):
            sol = nj.simulate(m, x, dt=C.LIF_DT, saveat=save)
            return sol.v, sol.spikes

        arg = m
    elif case == "hhgrad1e3":
        m = nj.HodgkinHuxley(e_l=np.asarray(C.hh_e_l(10**3), np.float32))
        x = jnp.full((1000,), C.HH_I0, jnp.float32)
        save = nj.SaveAt(every=10, vars=("v",))
        f = jax.grad(lambda m: jnp.mean(nj.simulate(m, x, dt=C.HH_DT, saveat=save).v ** 2))
        arg = m
    elif case == "coba":
        from neurojax.models import coba, coba_inputs, random_initial_state

        net = coba(jax.random.key(0), 4000, p=80 / 4000)
        inputs = coba_inputs(net, 10000)
        y0 = random_initial_state(net, jax.random.key(1))
        save = nj.SaveAt(every=100, fn=_nothing, spike_dtype=jnp.uint8)

        def f(a):
            sol = nj.simulate(a[0], inputs, dt=0.1, state0=a[1], saveat=save, throw=False)
            return sum(jnp.sum(s, dtype=jnp.int32) for s in sol.spikes.values())

        arg, repeats = (net, y0), 3
    elif case == "hay":
        from neurojax.cable import hay2011_cell, hay2011_morphology

        cell = hay2011_cell(hay2011_morphology(), clamps=[(0, 0.5)])
        x = jnp.full((4000, 1), 0.5, jnp.float32)
        soma = cell.record_v([(0, 0.5)])

        def f(c):
            return nj.simulate(c, x, dt=0.025, saveat=nj.SaveAt(fn=soma)).states

        arg, repeats = cell, 3
    else:
        raise SystemExit(f"unknown case {case!r}: one of {CASES + SMOKE}")
    c0, w0 = _cpu(), time.perf_counter()
    compiled = jax.jit(f).lower(arg).compile()
    compile_cpu, compile_wall = _cpu() - c0, time.perf_counter() - w0
    jax.block_until_ready(compiled(arg))
    runs = []
    for _ in range(repeats):
        c0 = _cpu()
        jax.block_until_ready(compiled(arg))
        runs.append(_cpu() - c0)
    return {
        "case": case,
        "legacy_emitters": LEGACY in os.environ.get("XLA_FLAGS", ""),
        "compile_cpu_s": compile_cpu,
        "compile_wall_s": compile_wall,
        "run_cpu_s": statistics.median(runs),
    }


def _nothing(y):
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", default=None, help="run one case in this process (a child)")
    p.add_argument("--cases", nargs="+", default=list(CASES))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--name", default="xla_emitters")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    base = os.environ.get("XLA_FLAGS", "").replace(LEGACY, "").strip()
    rows = []
    for r in range(args.rounds):
        for case in args.cases:
            order = (False, True) if r % 2 == 0 else (True, False)
            for legacy in order:
                env = dict(os.environ, XLA_FLAGS=f"{base} {LEGACY}".strip() if legacy else base)
                out = subprocess.run(
                    [sys.executable, __file__, "--case", case],
                    env=env, capture_output=True, text=True, check=False,
                )  # fmt: skip
                if out.returncode:
                    raise SystemExit(f"{case} failed:\n{out.stderr[-3000:]}")
                row = {**json.loads(out.stdout.strip().splitlines()[-1]), "round": r}
                rows.append(row)
                print(json.dumps(row), flush=True)
    report(rows, args.cases, args.rounds, args.name, args.out_dir)


def report(rows: list[dict], cases, rounds: int, name: str, out_dir: Path | None) -> None:
    """The table (medians over the rounds) and `results/<name>.{json,md}`."""
    header = ["case", "emitters", "compile, CPU s (per round)", "run, CPU ms (per round)",
              "run: legacy ÷ default (medians)", "compile: legacy ÷ default (medians)"]  # fmt: skip
    table = []
    for case in cases:
        med = {}
        for legacy in (False, True):
            mine = [x for x in rows if x["case"] == case and x["legacy_emitters"] == legacy]
            med[legacy] = (
                statistics.median(x["run_cpu_s"] for x in mine),
                statistics.median(x["compile_cpu_s"] for x in mine),
            )
            table.append([
                case, "legacy" if legacy else "default",
                ", ".join(f"{x['compile_cpu_s']:.2f}" for x in mine),
                ", ".join(f"{x['run_cpu_s'] * 1e3:.1f}" for x in mine),
                f"{med[True][0] / med[False][0]:.2f}" if legacy else "",
                f"{med[True][1] / med[False][1]:.2f}" if legacy else "",
            ])  # fmt: skip
    md = (
        "XLA:CPU fusion emitters, default vs legacy (`--xla_cpu_use_fusion_emitters=false`), "
        f"one process per case and setting, alternating, {rounds} rounds\n\n"
        + C.markdown_table(header, table)
    )
    print("\n" + md)
    payload = {"machine": C.machine_info(), "rows": rows}
    print(f"wrote {C.write(name, payload, md, out_dir)}")


if __name__ == "__main__":
    main()
