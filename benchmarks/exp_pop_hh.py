"""HH population step: what each lever tried in session 12 does (issue 21, item 3).

One process, every variant compiled once, then `--rounds` rounds calling each in turn
(alternating, so a change of load hits every variant alike); process CPU time, medians.
The population of `bench_populations.py` (HH 10⁴, f–I sweep, dt = 0.025 ms, 1000 steps,
float32, V and spike counts every 100 steps). Variants:

- `rates`: HH's six rates from 4 exponentials (before: `e^{u/10}` shared by α_m, β_h,
  α_n; `e^{u/18}`, `e^{u/20}`, `e^{u/80}` each its own), 3 (shipped: `e^{u/10}` as
  `α_h·e^{u/20}`) or 2 (`e^{u/20}` and `e^{u/10}` as powers of β_n's `e^{u/80}`: float32
  rounds to 1.1e-6 relative after vtrap's amplification, over the 1e-6 that
  `tests/test_population_rates.py` allows), each with `ExponentialEuler`;
- `rk2`: `ExponentialRK2` as shipped against one whose declared gates take both steps
  in closed form (`gate_step`'s `x∞ + (x − x∞)·e^{λ·dt}`) with the full step's rate
  evaluated at (V_h, x₀) — the same scheme (float64 runs agree to 2e-11 mV), not shipped
  because its float32 rounding differs from a `vmap`-over-dt run of itself by 3e-3 mV
  (`tests/test_reliability.py::test_vmapped_dt_matches_direct_call` allows 1e-3; the
  shipped scheme's float32 error against float64 is 0.013 mV, this one's 0.007);
- every variant at XLA:CPU's default vector width and at `xla_cpu_prefer_vector_width=512`
  (a per-compilation option; AVX-512 machines only).

    python benchmarks/exp_pop_hh.py            # results/exp_pop_hh.{json,md}
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


def _rates_4(v):
    from neurojax.channels import hh
    from neurojax.channels._rates import vtrap

    e10 = hh.jnp.exp(-(v + 65.0) / 10.0)
    return (
        0.1 * vtrap(-(v + 40.0), 10.0, exp_z=e10 * hh._E25),
        hh.beta_m(v),
        hh.alpha_h(v),
        1.0 / (e10 * hh._E3 + 1.0),
        0.01 * vtrap(-(v + 55.0), 10.0, exp_z=e10 * hh._E1),
        hh.beta_n(v),
    )


def _rates_2(v):
    from neurojax.channels import hh
    from neurojax.channels._rates import vtrap

    e80 = hh.jnp.exp(-(v + 65.0) / 80.0)
    b_n = 0.125 * e80
    q = b_n * e80  # 0.125·e^{u/40}: a product with a multiple of an exp is not rewritten
    q2 = q * q  # 2⁻⁶·e^{u/20}
    e10 = (q2 * q2) * 4096.0
    return (
        0.1 * vtrap(-(v + 40.0), 10.0, exp_z=e10 * hh._E25),
        hh.beta_m(v),
        q2 * (0.07 * 64.0),
        1.0 / (e10 * hh._E3 + 1.0),
        0.01 * vtrap(-(v + 55.0), 10.0, exp_z=e10 * hh._E1),
        b_n,
    )


def _hh_with_rates(rates):
    import neurojax as nj
    from neurojax.channels import hh
    from neurojax.neurons.hh import HHState

    class HH(nj.HodgkinHuxley):
        def linear_part(self, t, y, current):
            phi = hh.q10(self.temperature)
            g = self.g_na * y.m**3 * y.h + self.g_k * y.n**4 + self.g_l
            a_m, b_m, a_h, b_h, a_n, b_n = rates(y.v)
            return HHState(
                v=-g / self.c_m,
                m=-phi * (a_m + b_m),
                h=-phi * (a_h + b_h),
                n=-phi * (a_n + b_n),
            )

        def vector_field(self, t, state, current):
            v, m, h, n = state
            phi = hh.q10(self.temperature)
            a_m, b_m, a_h, b_h, a_n, b_n = rates(v)
            return HHState(
                v=(current - self.membrane_current(state)) / self.c_m,
                m=phi * (a_m * (1.0 - m) - b_m * m),
                h=phi * (a_h * (1.0 - h) - b_h * h),
                n=phi * (a_n * (1.0 - n) - b_n * n),
            )

    return HH


def _rk2_shared_gates():
    """`ExponentialRK2` with the declared gates stepped in closed form, the full step's
    gate rate taken at (V_h, x₀) (= f_h + λ_h·(x₀ − x_h) for a gate linear in itself)."""
    import jax.tree_util as jtu

    import neurojax as nj
    from neurojax.solvers._exponential_euler import (
        _gate_update,
        declared_gates,
        linear_rates,
        phi1,
        stable_part,
    )

    class RK2SharedGates(nj.ExponentialRK2):
        def step(self, model, t, y, inputs, dt):
            f0, lam0 = linear_rates(model, t, y, inputs)
            gates = declared_gates(model, y)
            keys = y._replace(**{k: k for k in y._fields})

            def half_step(k, x, f, lam):
                lam = stable_part(lam, dt, 1.0)
                if k in gates:
                    return _gate_update(x, f, lam, 0.5 * dt)
                return x + 0.5 * dt * phi1(lam * 0.5 * dt) * f

            def full_step(k, x, xh, f, lam):
                lam = stable_part(lam, dt, 1.0)
                if k in gates:
                    return _gate_update(x, f, lam, dt)
                return x + dt * phi1(lam * dt) * (f + lam * (x - xh))

            half = jtu.tree_map(half_step, keys, y, f0, lam0)
            fh, lamh = linear_rates(model, t + 0.5 * dt, half, inputs)
            at_x0 = model.vector_field(
                t + 0.5 * dt, half._replace(**{g: getattr(y, g) for g in gates}), inputs
            )
            fh = fh._replace(**{g: getattr(at_x0, g) for g in gates})
            return jtu.tree_map(full_step, keys, y, half, fh, lamh)

    return RK2SharedGates()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10**4)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--widths", nargs="+", type=int, default=[0, 512], help="0: XLA's default")
    p.add_argument("--name", default="exp_pop_hh")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    e_l = np.asarray(C.hh_e_l(args.n), np.float32)
    inputs = jnp.full((args.steps,), C.HH_I0, jnp.float32)
    variants = {
        ("ExponentialEuler", "rates from 4 exp (before)"): (
            _hh_with_rates(_rates_4)(e_l=e_l),
            nj.ExponentialEuler(),
        ),
        ("ExponentialEuler", "rates from 3 exp (shipped)"): (
            nj.HodgkinHuxley(e_l=e_l),
            nj.ExponentialEuler(),
        ),
        ("ExponentialEuler", "rates from 2 exp"): (
            _hh_with_rates(_rates_2)(e_l=e_l),
            nj.ExponentialEuler(),
        ),
        ("Staggered", "rates from 3 exp (shipped)"): (nj.HodgkinHuxley(e_l=e_l), nj.Staggered()),
        ("ExponentialRK2", "shipped"): (nj.HodgkinHuxley(e_l=e_l), nj.ExponentialRK2()),
        ("ExponentialRK2", "gates closed form, rate at (V_h, x0)"): (
            nj.HodgkinHuxley(e_l=e_l),
            _rk2_shared_gates(),
        ),
    }
    fns = {}
    for (solver_name, what), (model, solver) in variants.items():

        def run(m, x, solver=solver):
            sol = nj.simulate(
                m, x, dt=C.HH_DT, solver=solver, saveat=nj.SaveAt(every=100, vars=("v",))
            )
            return sol.v, sol.spikes

        for width in args.widths:
            opts = {"xla_cpu_prefer_vector_width": width} if width else {}
            compiled = jax.jit(run).lower(model, inputs).compile(opts)
            out = jax.block_until_ready(compiled(model, inputs))
            fns[solver_name, what, width] = (compiled, model, float(out[1].sum()))
    cpu = {k: [] for k in fns}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for k, (compiled, model, _) in fns.items():
            c = time.process_time()
            jax.block_until_ready(compiled(model, inputs))
            cpu[k].append(time.process_time() - c)
    load1 = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in cpu.items()}
    rows, table = [], []
    for (solver_name, what, width), m in med.items():
        ee = med["ExponentialEuler", "rates from 3 exp (shipped)", width]
        ee_default = med["ExponentialEuler", "rates from 3 exp (shipped)", args.widths[0]]
        rows.append(
            {
                "solver": solver_name,
                "variant": what,
                "vector_width": width or "default",
                "cpu_median_s": m,
                "cpu_s": cpu[solver_name, what, width],
                "spikes": fns[solver_name, what, width][2],
                "neuron_steps_per_cpu_s": args.n * args.steps / m,
            }
        )
        table.append(
            [
                f"`{solver_name}`",
                what,
                width or "default",
                f"{m * 1e3:.1f}",
                f"{args.n * args.steps / m:.3g}",
                f"{ee / m:.2f}",
                f"{ee_default / m:.2f}",
                f"{fns[solver_name, what, width][2]:.0f}",
            ]
        )
    header = ["solver", "variant", "vector width", "CPU, median (ms)", "neuron-steps per CPU-s",
              "throughput ÷ shipped exp. Euler, same width", "÷ shipped exp. Euler, default width",
              "spikes"]  # fmt: skip
    md = (
        f"HH population, {args.n} neurons, {args.steps} steps, float32, jax {jax.__version__}; "
        f"{args.rounds} alternating rounds in one process, process CPU time; load average "
        f"{load0:.1f}–{load1:.1f} (shared 2-core VM)\n\n" + C.markdown_table(header, table)
    )
    print(md)
    payload = C.neurojax_payload(args, rows)
    payload["load_average"] = [load0, load1]
    print("wrote", C.write(args.name, payload, md, args.out_dir))


if __name__ == "__main__":
    main()
