"""Experiment (issue 18 item 9, session 12, helper A2): hand-written derivatives
(`jax.custom_jvp`) for the NMODL importer's gate update and rate forms, patched in for
this experiment only (`nmodl/_compile.py` is not changed; `/tmp/p12/A2_patch_*.diff` has
each as a patch of it), to cut the weight of the Hay cell's backward loop.

Variants (`--variants`, comma-separated; each compiled after `jax.clear_caches()`, its
forward run and gradient then run alternately with the others', CPU time):

- `jax`: as now. The cnexp step is `x ← x + f·dt·φ(b·dt)`, `φ(z) = expm1(z)/z`
  (`1 + z/2` for |z| < 1e-6), `b = ∂f/∂x` by `jax.jvp`; JAX differentiates `expm1`
  (`exp` again in the backward) and the division (`a/b`: three divisions).
- `phi`: `φ` with its own derivative `φ'(z) = (1 + (z − 1)·φ)/z` (from `eᶻ = 1 + z·φ`,
  no second `exp`; rounding ~ε·max(20, |z|), as JAX's own), below |z| = 0.1 its Taylor
  series `Σ (k+1) zᵏ/(k+2)!` (10 terms in float64, 6 in float32: truncation < ε).
- `cnexp`: the whole update `u(x, f, b, dt) = x + f·dt·φ(b·dt)` with its derivative
  written out: `u̇ = ẋ + dt·φ·ḟ + f·dt²·φ'·ḃ + f·(φ + z·φ')·dṫ` (φ' as in `phi`).
- `vtrap`: the importer's `x/(exp(x/y) − 1)` forms and `exprelr` (`channels.vtrap`,
  as `_compile.vtrap`) with their derivative `v' = v·(1 − v)/z − v` (`v = z/(eᶻ − 1)`)
  for |z| ≥ 0.5 (the closed form's branch), the series' own derivative below.
- `cnexp_vtrap`: both.
- `vtrap2`, `cnexp_vtrap2`: as `vtrap`, but the series branch's derivative written out
  too (`−1/2 + z·Σ (2k+2)·c_k·z^(2k)`, Horner in z²) instead of `jax.jvp` of the whole
  `vtrap` (whose closed-form branch, an `exp`, it carried along).
- `cnexp_vtrap3`: `cnexp_vtrap2` with the forward program kept closer to `jax`'s: `dt`
  a scalar (not broadcast to the states' shape) and `vtrap(z, 1)` without the extra
  `/ 1`, `1 ·` around the custom rule.

Also counted while tracing (`jax` variant): how often each mechanism's SOLVE and
current are evaluated per traced step — whether anything runs twice per step.

    python benchmarks/exp_hay_a2_levers.py --T 1000 --repeats 5
    python benchmarks/exp_hay_a2_levers.py --T 100 --repeats 1 --x64
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as C  # noqa: E402
from bench_hay2011 import _validation  # noqa: E402
from exp_hay_compile_size import fusions  # noqa: E402


def make_patches():
    """`{variant: {(module, attribute): replacement}}`."""
    import jax
    import jax.numpy as jnp

    from neurojax.channels import _rates
    from neurojax.nmodl import _compile

    def phi_prime(z, phi):
        """`φ'(z)`, given `φ(z)`: series below |z| = 0.1, else `(1 + (z − 1)·φ)/z`."""
        n = 10 if z.dtype == jnp.float64 else 6
        coef = [(k + 1) / math.factorial(k + 2) for k in range(n)]
        series = jnp.zeros_like(z)
        for c in reversed(coef):
            series = series * z + c
        small = jnp.abs(z) < 0.1
        zs = jnp.where(small, 1.0, z)
        return jnp.where(small, series, (1.0 + (z - 1.0) * phi) / zs)

    def phi_plain(z):
        small = jnp.abs(z) < 1e-6
        zs = jnp.where(small, 1.0, z)
        return jnp.where(small, 1.0 + z / 2, jnp.expm1(zs) / zs)

    @jax.custom_jvp
    def phi(z):
        return phi_plain(z)

    @phi.defjvp
    def _phi_jvp(primals, tangents):
        (z,), (dz,) = primals, tangents
        p = phi_plain(z)
        return p, phi_prime(z, p) * dz

    @jax.custom_jvp
    def cnexp_update(x, fx, b, dt):
        return x + fx * dt * phi_plain(b * dt)

    @cnexp_update.defjvp
    def _cnexp_jvp(primals, tangents):
        x, fx, b, dt = primals
        dx, dfx, db, ddt = tangents
        z = b * dt
        p = phi_plain(z)
        pp = phi_prime(z, p)
        out = x + fx * dt * p
        return out, dx + dt * p * dfx + fx * dt * dt * pp * db + fx * (p + z * pp) * ddt

    def make_cnexp(kind):
        def _cnexp_in_place(s, frame, ctx):  # as _compile._cnexp_in_place, the step replaced
            spec, glob = ctx.spec, ctx.glob
            x = jnp.asarray(_compile._weak(glob[s.state]), spec.dtype(glob))

            def f(xx):
                g2 = dict(glob)
                g2[s.state] = xx
                return jnp.asarray(
                    _compile._weak(
                        _compile.ev(s.expr, dict(frame), _compile._Ctx(spec, g2, "derivative"))
                    )
                )

            fx, b = jax.jvp(f, (x,), (jnp.ones_like(x),))
            dt = glob["dt"]
            if kind == "cnexp3":  # dt a scalar: no broadcast arrays in the forward program
                glob[s.state] = cnexp_update(x, fx, b, jnp.asarray(dt, x.dtype))
                return
            if kind == "phi":
                glob[s.state] = x + fx * dt * phi(b * dt)
            else:
                dt = jnp.asarray(dt, x.dtype)
                x, fx, b = jnp.broadcast_arrays(x, fx, b)
                glob[s.state] = cnexp_update(x, fx, b, jnp.broadcast_to(dt, x.shape))

        return _cnexp_in_place

    plain_vtrap = _rates.vtrap

    @jax.custom_jvp
    def _vtrap1(z):
        return plain_vtrap(z, 1.0)

    @_vtrap1.defjvp
    def _vtrap1_jvp(primals, tangents):
        (z,), (dz,) = primals, tangents
        v = plain_vtrap(z, 1.0)
        small = jnp.abs(z) < _rates._SERIES
        # the series branch: its own derivative (a polynomial); the closed form's:
        # v' = v(1 − v)/z − v, from v = z/(eᶻ − 1)
        _, d_series = jax.jvp(lambda u: plain_vtrap(jnp.where(small, u, 0.0), 1.0), (z,),
                              (jnp.ones_like(z),))  # fmt: skip
        zs = jnp.where(small, 1.0, z)
        return v, jnp.where(small, d_series, v * (1.0 - v) / zs - v) * dz

    @jax.custom_jvp
    def _vtrap2(z):
        return plain_vtrap(z, 1.0)

    @_vtrap2.defjvp
    def _vtrap2_jvp(primals, tangents):
        (z,), (dz,) = primals, tangents
        v = plain_vtrap(z, 1.0)
        small = jnp.abs(z) < _rates._SERIES
        # the series 1 − z/2 + Σ c_k z^(2k+2) differentiated term by term (Horner in z²)
        z2 = z * z
        odd = jnp.zeros_like(z)
        for k, c in reversed(list(enumerate(_rates._even_coeffs(jnp.result_type(z))))):
            odd = odd * z2 + (2 * k + 2) * c
        zs = jnp.where(small, 1.0, z)
        return v, jnp.where(small, -0.5 + z * odd, v * (1.0 - v) / zs - v) * dz

    def vtrap(x, y, exp_z=None, _f=_vtrap1):
        if exp_z is not None or not isinstance(x, jax.Array):
            return plain_vtrap(x, y, exp_z)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return plain_vtrap(x, y)
        return y * _f(x / y)

    def vtrap2(x, y, exp_z=None):
        return vtrap(x, y, exp_z, _f=_vtrap2)

    def vtrap3(x, y, exp_z=None):  # y = 1 (the importer's case): no `/ y`, `y *` around it
        if isinstance(y, float) and y == 1.0 and exp_z is None and isinstance(x, jax.Array):
            if jnp.issubdtype(x.dtype, jnp.inexact):
                return _vtrap2(x)
        return vtrap2(x, y, exp_z)

    cnexp = {(_compile, "_cnexp_in_place"): make_cnexp("cnexp")}
    vt = {(_compile, "vtrap"): vtrap}
    vt2 = {(_compile, "vtrap"): vtrap2}
    return {
        "jax": {},
        "phi": {(_compile, "_cnexp_in_place"): make_cnexp("phi")},
        "cnexp": cnexp,
        "vtrap": vt,
        "cnexp_vtrap": {**cnexp, **vt},
        "vtrap2": vt2,
        "cnexp_vtrap2": {**cnexp, **vt2},
        "cnexp_vtrap3": {
            (_compile, "_cnexp_in_place"): make_cnexp("cnexp3"),
            (_compile, "vtrap"): vtrap3,
        },
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=float, default=100.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", default="jax,phi,cnexp,vtrap,cnexp_vtrap")
    p.add_argument("--x64", action="store_true")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import equinox as eqx
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import hay2011_morphology
    from neurojax.nmodl import _compile
    from neurojax.solvers import TRBDF2

    patches = make_patches()
    val = _validation()
    val.T = args.T
    cell = val.neurojax_cell(hay2011_morphology())
    dtype = jnp.float64 if args.x64 else jnp.float32
    inputs = jnp.asarray(val.inputs("step"), dtype)
    soma = cell.record_v([(0, 0.5)])
    params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), params)

    def run(p):
        c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
        return nj.simulate(c, inputs, dt=val.DT, solver=TRBDF2(),
                           saveat=nj.SaveAt(fn=soma)).states  # fmt: skip

    row = {"T_ms": args.T, "x64": args.x64, "machine": str(C.machine_info()),
           "load_before": os.getloadavg()}  # fmt: skip

    # how often each mechanism's SOLVE / cnexp statements are traced for one forward
    counts = {"_solve": 0, "_cnexp_in_place": 0}
    saved = {k: getattr(_compile, k) for k in counts}

    def counting(name):
        def wrapped(*a, **k):
            counts[name] += 1
            return saved[name](*a, **k)

        return wrapped

    for k in counts:
        setattr(_compile, k, counting(k))
    try:
        jax.clear_caches()
        jax.make_jaxpr(run)(params)
    finally:
        for k, v in saved.items():
            setattr(_compile, k, v)
    row["traced_solve_calls"] = counts["_solve"]
    row["traced_cnexp_statements"] = counts["_cnexp_in_place"]
    row["mechanisms"] = [type(m).__name__ for m in cell.mechanisms] if isinstance(
        cell.mechanisms, (list, tuple)) else str(type(cell.mechanisms))  # fmt: skip
    print("traced:", counts, flush=True)

    progs = {}
    names = args.variants.split(",")
    for name in names:
        old = {k: getattr(*k) for k in patches[name]}
        for (mod, attr), v in patches[name].items():
            setattr(mod, attr, v)
        try:
            for what, fn in (("forward", run), ("gradient", jax.grad(lambda p: run(p).mean()))):
                jax.clear_caches()
                t0 = time.process_time()
                lowered = jax.jit(fn).lower(params)
                t1 = time.process_time()
                compiled = lowered.compile()
                t2 = time.process_time()
                key = f"{name}_{what}"
                row[f"{key}_trace_cpu_s"] = t1 - t0
                row[f"{key}_xla_cpu_s"] = t2 - t1
                row[f"{key}_fusions"], row[f"{key}_fusions_largest_body"] = fusions(
                    compiled.as_text()
                )
                progs[key] = compiled
                print(key, {k: v for k, v in row.items() if k.startswith(key)}, flush=True)
        finally:
            for (mod, attr), v in old.items():
                setattr(mod, attr, v)
    times = {k: [] for k in progs}
    outs = {}
    for _ in range(args.repeats):
        for k, f in progs.items():
            t0 = time.process_time()
            outs[k] = jax.block_until_ready(f(params))
            times[k].append(time.process_time() - t0)
    for k, ts in times.items():
        row[f"{k}_cpu_s"] = ts
        row[f"{k}_cpu_s_median"] = statistics.median(ts)
    for name in names:
        row[f"{name}_gradient_over_forward"] = (
            row[f"{name}_gradient_cpu_s_median"] / row[f"{name}_forward_cpu_s_median"]
        )
        row[f"{name}_gradient_over_jax_gradient"] = (
            row[f"{name}_gradient_cpu_s_median"] / row[f"{names[0]}_gradient_cpu_s_median"]
        )
        row[f"{name}_forward_over_jax_forward"] = (
            row[f"{name}_forward_cpu_s_median"] / row[f"{names[0]}_forward_cpu_s_median"]
        )
    ref_v = np.asarray(outs[f"{names[0]}_forward"])
    ref_g = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[f"{names[0]}_gradient"])]
    big = max(float(np.abs(x).max()) for x in ref_g)
    for name in names[1:]:
        v = np.asarray(outs[f"{name}_forward"])
        g = [np.asarray(x) for x in jax.tree_util.tree_leaves(outs[f"{name}_gradient"])]
        row[f"{name}_max_v_diff_mV"] = float(np.abs(v - ref_v).max())
        row[f"{name}_max_grad_rel_diff"] = (
            max(float(np.abs(a - b).max()) for a, b in zip(g, ref_g, strict=True)) / big
        )
    row["load_after"] = os.getloadavg()
    out = args.out or ("hay2011_s12_a2_levers_x64" if args.x64 else "hay2011_s12_a2_levers")
    (C.RESULTS / f"{out}.json").write_text(json.dumps(row, indent=1, default=str))
    for k, v in row.items():
        if k != "machine" and not k.endswith("_cpu_s"):
            print(f"{k:44s} {v}")


if __name__ == "__main__":
    main()
