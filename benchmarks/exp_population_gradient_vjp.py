"""Experiment (issue 21, population gradients): where an HH population's reverse pass
goes, three ways, in one process, alternating, CPU time (HH 10³ neurons, 1000 steps,
`ExponentialEuler`, float32, loss `mean(V²)` over every 10th step):

- `nj-grad`: `jax.grad` of `simulate` as shipped (each step checkpointed: the state
  stored per step, the step replayed and transposed in the backward pass);
- `B-grad`: a `custom_vjp` around a plain `lax.scan` of the solver step, storing the
  state of every step as a scan output and running a reverse scan of `jax.vjp` per step
  (the "store the per-step state, vjp-per-step backward" idea);
- `plain-grad`: `jax.grad` through the plain scan, every intermediate stored by JAX
  (the "store intermediates" attempt).

Measured 2026-12-06 on the shared 2-core VM at load 14–18 (medians of 11 rounds; minima):
forward 9.4 ms; nj-grad 43.0 (39.6), B-grad 40.5 (34.6), plain-grad 283 (269) ms, i.e.
4.4×, 3.8× and 30× the forward run. Storing intermediates is slow because XLA:CPU
stacks ~100 residual arrays per step (one dynamic-update-slice each) and reads them
back; the custom VJP is ~10 % faster than the checkpointed scan, far from ≤ 2×: its
backward step is still a replay plus a transpose (~3–3.5 forward steps). The two
gradients agree to ~1 % in float32 (not investigated further).

    python benchmarks/exp_population_gradient_vjp.py
"""

import os
import resource
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C
import equinox as eqx
import jax
import jax.numpy as jnp

import neurojax as nj


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


n, steps, dt = 1000, 1000, C.HH_DT
m0 = nj.HodgkinHuxley(e_l=jnp.asarray(C.hh_e_l(n), jnp.float32))
x = jnp.full((steps,), C.HH_I0, jnp.float32)
solver = nj.ExponentialEuler()


def loss_nj(m):
    sol = nj.simulate(m, x, dt=dt, solver=solver, saveat=nj.SaveAt(every=10, vars=("v",)))
    return jnp.mean(sol.v**2)


# B: plain scan over the solver step (params broadcast), state per step stored by a custom_vjp
params0 = (m0.g_na * jnp.ones(n), m0.g_k * jnp.ones(n), m0.g_l * jnp.ones(n), m0.e_l)


def step(p, y, I):
    m = eqx.tree_at(lambda m: (m.g_na, m.g_k, m.g_l, m.e_l), m0, p)
    return solver.step(m, 0.0, y, I, dt)


y0 = m0.init_state((n,))


@jax.custom_vjp
def run(p):
    def body(y, I):
        y2 = step(p, y, I)
        return y2, y2.v

    _, vs = jax.lax.scan(body, y0, x)
    return vs


def run_fwd(p):
    def body(y, I):
        y2 = step(p, y, I)
        return y2, (y2.v, y)

    _, (vs, ys) = jax.lax.scan(body, y0, x)
    return vs, (p, ys)


def run_bwd(res, gv):
    p, ys = res

    def body(carry, inp):
        gy, gp = carry
        y, I, g = inp
        gy = gy._replace(v=gy.v + g)
        _, vjp = jax.vjp(lambda p, y: step(p, y, I), p, y)
        dp, dy = vjp(gy)
        return (dy, jax.tree.map(jnp.add, gp, dp)), None

    gy0 = jax.tree.map(jnp.zeros_like, y0)
    gp0 = jax.tree.map(jnp.zeros_like, p)
    (gy, gp), _ = jax.lax.scan(body, (gy0, gp0), (ys, x, gv), reverse=True)
    return (gp,)


run.defvjp(run_fwd, run_bwd)


def loss_B(p):
    vs = run(p)
    return jnp.mean(vs[9::10] ** 2)


def loss_plain(p):  # same without custom vjp, no checkpoint
    def body(y, I):
        y2 = step(p, y, I)
        return y2, y2.v

    _, vs = jax.lax.scan(body, y0, x)
    return jnp.mean(vs[9::10] ** 2)


calls = {}
f_nj = jax.jit(loss_nj).lower(m0).compile()
calls["nj-fwd"] = lambda: jax.block_until_ready(f_nj(m0))
g_nj = jax.jit(jax.grad(loss_nj)).lower(m0).compile()
calls["nj-grad"] = lambda: jax.block_until_ready(g_nj(m0))
fB = jax.jit(loss_B).lower(params0).compile()
calls["B-fwd"] = lambda: jax.block_until_ready(fB(params0))
gB = jax.jit(jax.grad(loss_B)).lower(params0).compile()
calls["B-grad"] = lambda: jax.block_until_ready(gB(params0))
gP = jax.jit(jax.grad(loss_plain)).lower(params0).compile()
calls["plain-grad"] = lambda: jax.block_until_ready(gP(params0))
print("B vs nj loss", float(fB(params0)), float(f_nj(m0)))
gn = g_nj(m0)
gb = gB(params0)
print("g_na grad nj sum", float(jnp.sum(gn.g_na)), "B", float(jnp.sum(gb[0])))
res = {k: [] for k in calls}
for _ in range(11):
    for k, f in calls.items():
        c0 = cpu()
        f()
        res[k].append(cpu() - c0)
for k, v in res.items():
    print(
        f"{k:10s}: CPU median {statistics.median(v) * 1e3:7.1f} ms  min {min(v) * 1e3:7.1f}",
        flush=True,
    )
print("load", os.getloadavg())
