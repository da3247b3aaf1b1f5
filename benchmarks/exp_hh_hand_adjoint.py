"""Experiment (issue 21 item 3, population gradients ≤ 2× their forward run): a
hand-written adjoint for an HH population stepped by exponential Euler.

`exp_population_gradient_vjp.py` found the shipped design's floor: one forward run, one
replay of every step, one transpose (≥ ~3× the forward run), and that letting XLA store
intermediates instead (checkpoint policies) is slower still. This asks whether a backward
step *cheaper than the forward step* is possible at all on XLA:CPU: the forward pass of
the gradient computes, next to each step, the step's partial derivatives in closed form
(the rates' derivatives come from the same exponentials) and writes them as one stacked
array per step; the backward pass is then a reverse scan of multiply-adds, with no
exponential and no replay.

The model is written out here (Hodgkin & Huxley 1952, V in mV, squid-axon parameters at
6.3 °C, exponential Euler on the gates and on V from the same old state), independent of
the library, so all three programs step exactly the same equations:

- `forward`: the plain scan (the reference time);
- `autodiff`: `jax.grad` of that scan with each step `jax.checkpoint`ed (the shipped
  design: the state stored per step, the step replayed and transposed);
- `hand`: `jax.custom_vjp` around the scan: forward writes 12 floats per neuron and step
  (the gates' e^{-dt(α+β)} and ∂x'/∂V, V's e^{-dt G/C}, ∂V'/∂G, ∂V'/∂J, and m, h, n),
  backward is the transposed recurrence.

Loss: mean V² over every 10th step; gradient w.r.t. per-neuron g_Na, g_K, g_L, E_L.
`--check` compares `hand` with `autodiff` in float64 (and with central differences).

Measured 2026-12-07 02:00 UTC (shared 2-core VM, load 3.6–6.2; CPU time, median of 7 / 5
rounds, each round forward, autodiff, hand in turn; 1000 steps, float32;
`results/hh_hand_adjoint_{1000,10000}.json`):

| N | forward | autodiff ÷ forward | hand ÷ forward |
|---|---|---|---|
| 10³ | 12.1 ms | 4.39× | 4.39× |
| 10⁴ | 181 ms | 2.54× | 3.28× |

The hand-written adjoint is exact (float64, `--check`: within 1.2e-11 of autodiff's
largest entry per parameter; g_Na of one neuron against a central difference to 4e-6
relative), but no faster: at 10³ it ties, at 10⁴ it loses. Its backward step has no
exponential, yet writing 12 floats per neuron and step and reading them back costs what
the replay's arithmetic saved (at 10⁴ the stored partials, 480 MB, leave the caches). So
a backward step cheaper than the forward's by storing instead of recomputing does not pay
on XLA:CPU, whoever writes it — the second measured route to ≤ 2× (after the checkpoint
policies of `exp_population_gradient_vjp.py`) that fails. Also seen: in float32 the two
exact adjoints differ by 3–65 % of the largest entry over these 25 ms (neurons near their
firing threshold amplify rounding), while in float64 they agree to 1e-11: float32
gradients of spiking populations over many spikes carry that rounding sensitivity.

    python benchmarks/exp_hh_hand_adjoint.py --n 1000 --steps 1000 --rounds 5
    python benchmarks/exp_hh_hand_adjoint.py --check
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

C_M, E_NA, E_K, DT, I0 = 1.0, 50.0, -77.0, 0.025, 10.0


def make(jnp, jax):
    def vtrap(u, c):
        """c·u/(1 − e^{−u/10}) and its derivative; the series near u = 0."""
        small = jnp.abs(u) < 1e-3
        us = jnp.where(small, 1.0, u)
        e = jnp.exp(-us / 10.0)
        f = c * us / (1.0 - e)
        df = c / (1.0 - e) - c * us * (e / 10.0) / (1.0 - e) ** 2
        f = jnp.where(small, c * 10.0 * (1.0 + u / 20.0), f)
        df = jnp.where(small, c * 0.5, df)
        return f, df

    def rates(v):
        am, dam = vtrap(v + 40.0, 0.1)
        bm = 4.0 * jnp.exp(-(v + 65.0) / 18.0)
        ah = 0.07 * jnp.exp(-(v + 65.0) / 20.0)
        bh = 1.0 / (1.0 + jnp.exp(-(v + 35.0) / 10.0))
        an, dan = vtrap(v + 55.0, 0.01)
        bn = 0.125 * jnp.exp(-(v + 65.0) / 80.0)
        d = ((dam, -bm / 18.0), (-ah / 20.0, bh * (1.0 - bh) / 10.0), (dan, -bn / 80.0))
        return ((am, bm), (ah, bh), (an, bn)), d

    def step(p, y, want_partials=False):
        v, m, h, n = y
        gna, gk, gl, el = p
        (ab_m, ab_h, ab_n), dd = rates(v)
        new_g, res_g = [], []
        for x, (a, b), (da, db) in zip((m, h, n), (ab_m, ab_h, ab_n), dd):
            s = a + b
            xinf = a / s
            e = jnp.exp(-DT * s)
            new_g.append(xinf + (x - xinf) * e)
            if want_partials:
                ds = da + db
                dxinf = (da - xinf * ds) / s
                res_g += [e, dxinf * (1.0 - e) - (x - xinf) * e * DT * ds]
        m3h, n4 = m * m * m * h, (n * n) * (n * n)
        G = gna * m3h + gk * n4 + gl
        J = gna * m3h * E_NA + gk * n4 * E_K + gl * el + I0
        vinf = J / G
        ev = jnp.exp(-DT * G / C_M)
        v_new = vinf + (v - vinf) * ev
        y_new = (v_new, *new_g)
        if not want_partials:
            return y_new
        pG = -(vinf / G) * (1.0 - ev) - (v - vinf) * (DT / C_M) * ev
        pJ = (1.0 - ev) / G
        return y_new, jnp.stack([*res_g, ev, pG, pJ, m, h, n])

    def y0(n):
        v = jnp.full((n,), -65.0)
        (ab_m, ab_h, ab_n), _ = rates(v)
        return (v, *(a / (a + b) for a, b in (ab_m, ab_h, ab_n)))

    def forward(p, n, steps):
        def body(y, _):
            y = step(p, y)
            return y, y[0]

        _, vs = jax.lax.scan(body, y0(n), None, length=steps)
        return vs

    def loss_of(vs):
        return jnp.mean(vs[9::10] ** 2)

    def grad_autodiff(p, n, steps):
        def loss(p):
            def body(y, _):
                y = jax.checkpoint(lambda y: step(p, y))(y)
                return y, y[0]

            _, vs = jax.lax.scan(body, y0(n), None, length=steps)
            return loss_of(vs)

        return jax.grad(loss)(p)

    def grad_hand(p, n, steps):
        def fwd(p):
            def body(y, _):
                y_new, r = step(p, y, True)
                return y_new, (y_new[0], r)

            _, (vs, res) = jax.lax.scan(body, y0(n), None, length=steps)
            return vs, res

        vs, res = fwd(p)
        gv = jax.grad(loss_of)(vs)  # dL/dV at each step (cheap: a scaled copy)
        gna, gk, gl, el = p

        def back(carry, xs):
            lv, lm, lh, ln, cgna, cgk, cgl, cel = carry
            g_v, r = xs
            lv = lv + g_v  # cotangent of V at step k+1 (the output of this step)
            em, dm, eh, dh, en, dn, ev, pG, pJ, m, h, n = r
            m2h = m * m * h
            m3h, n3 = m2h * m, n * n * n
            n4 = n3 * n
            pv_na = lv * (pG + E_NA * pJ)  # λ_V ∂V'/∂(g_Na m³h) per unit
            pv_k = lv * (pG + E_K * pJ)
            new_lv = lv * ev + lm * dm + lh * dh + ln * dn
            new_lm = lm * em + pv_na * gna * 3.0 * m2h
            new_lh = lh * eh + pv_na * gna * m * m * m
            new_ln = ln * en + pv_k * gk * 4.0 * n3
            cgna = cgna + pv_na * m3h
            cgk = cgk + pv_k * n4
            cgl = cgl + lv * (pG + el * pJ)
            cel = cel + lv * gl * pJ
            return (new_lv, new_lm, new_lh, new_ln, cgna, cgk, cgl, cel), None

        z = jnp.zeros_like(vs[0])
        (_, _, _, _, cgna, cgk, cgl, cel), _ = jax.lax.scan(
            back, (z,) * 8, (gv, res), reverse=True
        )
        return (cgna, cgk, cgl, cel)

    return forward, loss_of, grad_autodiff, grad_hand


def params(jnp, n, dtype):
    el = jnp.linspace(-60.0, -45.0, n, dtype=dtype)  # an f–I-like sweep through E_L
    return (jnp.full((n,), 120.0, dtype), jnp.full((n,), 36.0, dtype),
            jnp.full((n,), 0.3, dtype), el)  # fmt: skip


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    import jax

    if args.check:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    forward, loss_of, grad_autodiff, grad_hand = make(jnp, jax)
    dtype = jnp.float64 if args.check else jnp.float32
    n, steps = (50, 400) if args.check else (args.n, args.steps)
    p = params(jnp, n, dtype)
    f = jax.jit(lambda p: forward(p, n, steps))
    ga = jax.jit(lambda p: grad_autodiff(p, n, steps))
    gh = jax.jit(lambda p: grad_hand(p, n, steps))
    if args.check:
        a, h = ga(p), gh(p)
        rel = [float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y))) for x, y in zip(h, a)]
        print("hand vs autodiff, largest difference / largest entry per parameter:", rel)
        k, eps = 7, 1e-6  # one neuron's g_Na by central differences
        lo = jax.jit(lambda p: loss_of(forward(p, n, steps)))
        bump = lambda s: (p[0].at[k].add(s * eps), *p[1:])  # noqa: E731
        fd = (lo(bump(1)) - lo(bump(-1))) / (2 * eps)
        print(f"g_Na[{k}]: hand {float(h[0][k]):.10e}, central difference {float(fd):.10e}")
        return
    for fn in (f, ga, gh):
        jax.block_until_ready(fn(p))
    times = {"forward": [], "autodiff": [], "hand": []}
    for _ in range(args.rounds):
        for name, fn in (("forward", f), ("autodiff", ga), ("hand", gh)):
            t0 = time.process_time()
            jax.block_until_ready(fn(p))
            times[name].append(time.process_time() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    a32, h32 = ga(p), gh(p)
    row = {
        "n": n, "steps": steps, "rounds": args.rounds, "load": os.getloadavg(),
        "cpu_s_median": med,
        "autodiff_over_forward": med["autodiff"] / med["forward"],
        "hand_over_forward": med["hand"] / med["forward"],
        "float32_hand_vs_autodiff_rel": [
            float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y))) for x, y in zip(h32, a32)
        ],
    }
    print(json.dumps(row, indent=1))
    from _common import RESULTS

    (RESULTS / f"hh_hand_adjoint_{n}.json").write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
