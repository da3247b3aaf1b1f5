"""Held-out probe of `fit` (issue #19, session 11): fits a user would try that the test
suite and `validation/fit_success_rates.py` do not, each on a recording the model itself
produced (white noise added where stated), from starts drawn uniformly in ±`spread` of
the truth (one `numpy` generator per case, seeded by the case's index).

For every fit: does it recover the truth, and does `result.converged` / `stop_reason`
tell the truth about it?

- *recovered*: every parameter within `tol` of the truth (noise-free: 1 %), or — with
  noise — the fit is statistically as good as the truth: the likelihood-ratio test
  `|n·(L(truth) − L(fit))/σ²| <= χ²(k, 0.99)` (n residuals, k parameters, σ the noise
  added; `scipy.stats.chi2`), the rule of `validation/fit_success_rates.py`;
- *honest*: not (`converged` and not recovered); `converged=False` on a recovered fit
  is counted apart ("recovered, not converged");
- also checked: `result.loss` is the returned model's own loss (re-evaluated).

    python validation/fit_heldout_probe.py [--cases hh_dt reduced izh adex batch cell
        network lif64 hh64] [--draws 2] [--out docs/fit_heldout_probe.json]

`--float64` runs the whole probe under `jax_enable_x64` with float64 models and data.
Results (per case and fit) are merged into `--out` by case name and precision.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from scipy.stats import chi2

import neurojax as nj

QUIET = nj.NoProgress()


def _dtype():
    return jnp.result_type(float)


def _cast(tree):
    """Every float array of `tree` in the default float dtype (float64 under x64)."""
    dt = _dtype()
    return jtu.tree_map(lambda x: x.astype(dt) if eqx.is_inexact_array(x) else x, tree)


def _steps(dt, n, windows, amplitudes):
    """`(n, len(amplitudes))`: column j is `amplitudes[j]` inside its window(s)."""
    t = dt * np.arange(n)
    cols = []
    for amp in amplitudes:
        c = np.zeros(n)
        for (on, off), a in zip(windows, np.atleast_1d(amp), strict=False):
            c[(t >= on) & (t < off)] = a
        cols.append(c)
    return jnp.asarray(np.stack(cols, 1), _dtype())


def _ramp(dt, n, on, off, top):
    t = dt * np.arange(n)
    c = np.where((t >= on) & (t < off), top * (t - on) / (off - on), 0.0)
    return jnp.asarray(c[:, None], _dtype())


def _point(model_cls, fields, truth_kw=None):
    truth = _cast(model_cls(**(truth_kw or {})))
    values = np.array([float(getattr(truth, f)) for f in fields])

    def make(p):
        return _cast(model_cls(**{**(truth_kw or {}), **{f: float(x) for f, x in zip(fields, p, strict=True)}}))

    return truth, values, make, (lambda m: tuple(getattr(m, f) for f in fields))


def case_hh_dt(dt, amplitude):
    """HH `g_na, g_k, g_l`, one step of `amplitude` µA/cm² from 5 to 55 ms of 60 ms, at
    `dt` (the study's sweep at another dt)."""
    n = int(round(60.0 / dt))
    truth, values, make, where = _point(nj.HodgkinHuxley, ("g_na", "g_k", "g_l"))
    return dict(truth=truth, values=values, make=make, where=where, dt=dt,
                inputs=_steps(dt, n, [(5.0, 55.0)], [amplitude]))  # fmt: skip


def case_reduced_ramp():
    """ReducedHH `g_na, g_k, g_l`, a ramp 0 → 12 µA/cm² over 10–90 ms of 100 ms."""
    truth, values, make, where = _point(nj.ReducedHH, ("g_na", "g_k", "g_l"))
    return dict(truth=truth, values=values, make=make, where=where, dt=0.025,
                inputs=_ramp(0.025, 4000, 10.0, 90.0, 12.0))  # fmt: skip


def case_izh_ramp():
    """Izhikevich RS `a, b, c, d`, a ramp 0 → 14 over 10–290 ms of 300 ms, dt 0.1."""
    truth, values, make, where = _point(nj.Izhikevich, ("a", "b", "c", "d"))
    return dict(truth=truth, values=values, make=make, where=where, dt=0.1,
                inputs=_ramp(0.1, 3000, 10.0, 290.0, 14.0))  # fmt: skip


def case_adex_two_step():
    """AdEx (Brette & Gerstner 2005) all eight, one sweep of two steps: 0.7 nA 20–200 ms,
    then 1.3 nA 200–380 ms, 400 ms at dt 0.1."""
    fields = ("tau", "r", "a", "b", "tau_w", "delta_t", "v_t", "v_rest")
    truth, values, make, where = _point(nj.AdEx, fields)
    return dict(truth=truth, values=values, make=make, where=where, dt=0.1,
                inputs=_steps(0.1, 4000, [(20.0, 200.0), (200.0, 380.0)], [[0.7, 1.3]]))  # fmt: skip


def case_batch():
    """HH `g_na, g_k, g_l`, four sweeps at once: steps of 3, 6, 9, 12 µA/cm², 5–35 ms of
    40 ms, dt 0.025."""
    truth, values, make, where = _point(nj.HodgkinHuxley, ("g_na", "g_k", "g_l"))
    return dict(truth=truth, values=values, make=make, where=where, dt=0.025,
                inputs=_steps(0.025, 1600, [(5.0, 35.0)], [3.0, 6.0, 9.0, 12.0]))  # fmt: skip


def case_lif():
    """LIF `tau, r, v_rest, v_reset`, steps of 1.5, 2.2, 3.0 nA 5–75 ms of 80 ms (not the
    study's amplitudes), dt 0.1."""
    truth, values, make, where = _point(nj.LIF, ("tau", "r", "v_rest", "v_reset"))
    return dict(truth=truth, values=values, make=make, where=where, dt=0.1,
                inputs=_steps(0.1, 800, [(5.0, 75.0)], [1.5, 2.2, 3.0]))  # fmt: skip


def case_cell():
    """A soma with HH channels on a 5-segment passive dendrite: the dendrite's leak `g`,
    the axial resistivity `ra` and the soma's `g_na`, `g_k`, from the voltage at the soma
    and the distal dendrite, with a somatic current clamp (0.1 nA, 2–12 ms) and a
    distal conductance input (0.004 µS, 8–20 ms; reversal 0 mV); 25 ms at dt 0.025."""
    from neurojax.cable import Branch, Cell, Morphology, Passive
    from neurojax.channels import HH

    morph = Morphology(
        [Branch(20.0, 20.0, type="soma"), Branch(300.0, 2.0, parent=0, nseg=5, type="dend")]
    )

    def build(p):
        g_dend, ra, g_na, g_k = p
        return _cast(Cell(morph, [(HH(g_na=float(g_na), g_k=float(g_k)), "soma"),
                                  (Passive(g=float(g_dend), e=-65.0), "dend")],
                          ra=float(ra), clamps=[(0, 0.5)], synapses=[(1, 0.9, 0.0)]))  # fmt: skip

    values = np.array([0.1, 150.0, 120.0, 36.0])
    truth = build(values)
    dt, n = 0.025, 1000
    t = dt * np.arange(n)
    i = np.where((t >= 2.0) & (t < 12.0), 0.1, 0.0)[:, None]
    g = np.where((t >= 8.0) & (t < 20.0), 0.004, 0.0)[:, None]
    inputs = {"i_clamp": jnp.asarray(i, _dtype()), "g_syn": jnp.asarray(g, _dtype())}
    saveat = nj.SaveAt(fn=truth.record_v([(0, 0.5), (1, 0.9)]))
    where = lambda c: (c.mechanisms[1].g, c.ra, c.mechanisms[0].g_na, c.mechanisms[0].g_k)  # noqa: E731
    return dict(truth=truth, values=values, make=build, where=where, dt=dt, inputs=inputs,
                saveat=saveat)  # fmt: skip


def case_network():
    """Spike sources → 3 LIF held below threshold (one to one), exponential current
    synapse: the weight and time constant from the postsynaptic voltage of all three,
    dt 0.05, 60 ms, irregular spike times."""
    from neurojax.network import Network, OneToOne, Population, Projection, SpikeSource
    from neurojax.synapses import Exponential

    n, dt, n_steps = 3, 0.05, 1200

    def build(p):
        w, tau = p
        net = Network(
            {"src": Population(SpikeSource(), n), "dst": Population(nj.LIF(v_th=1e3), n)},
            (Projection("src", "dst", OneToOne(n, 1.0), Exponential(tau=5.0)),),
            dt=dt,
        )
        # one shared weight and time constant (Python floats, as a user's eqx.tree_at
        # leaves them; fit makes them trainable arrays)
        return _cast(eqx.tree_at(
            lambda m: (m.projections[0].connectivity.weight, m.projections[0].synapse.tau),
            net, (float(w), float(tau))))  # fmt: skip

    values = np.array([1.5, 3.0])
    truth = build(values)
    s = np.zeros((n_steps, n))
    for j, steps in enumerate([[100, 130, 700], [250, 600, 610, 900], [400, 1000]]):
        s[steps, j] = 1.0
    inputs = {"src": jnp.asarray(s, _dtype())}
    saveat = nj.SaveAt(fn=truth.record(v={"dst": slice(None)}))
    where = lambda m: (m.projections[0].connectivity.weight, m.projections[0].synapse.tau)  # noqa: E731
    return dict(truth=truth, values=values, make=build, where=where, dt=dt, inputs=inputs,
                saveat=saveat)  # fmt: skip


CASES = {
    "hh_dt0.01_6": (lambda: case_hh_dt(0.01, 6.0), 1.0),
    "hh_dt0.01_15": (lambda: case_hh_dt(0.01, 15.0), 1.0),
    "hh_dt0.05_6": (lambda: case_hh_dt(0.05, 6.0), 1.0),
    "hh_dt0.05_15": (lambda: case_hh_dt(0.05, 15.0), 1.0),
    "reduced_ramp": (case_reduced_ramp, 1.0),
    "izh_ramp": (case_izh_ramp, 1.0),
    "adex_two_step": (case_adex_two_step, 1.0),
    "hh_batch4": (case_batch, 1.0),
    "lif_3steps": (case_lif, 1.0),
    "cell_hh_dend": (case_cell, 0.5),
    "network_relay": (case_network, 0.5),
}
"""name → (case builder, noise s.d. in mV)."""


def _recorded(sol, saveat):
    return sol.states if saveat is not None and saveat.fn is not None else sol.v


def run_case(name, draws, spread, tol):
    build, noise = CASES[name]
    c = build()
    saveat = c.get("saveat")
    kw = {} if saveat is None else dict(saveat=saveat)
    clean = _recorded(nj.simulate(c["truth"], c["inputs"], dt=c["dt"], **kw), saveat)
    rows = []
    rng = np.random.default_rng(1000 + sorted(CASES).index(name))
    k = len(c["values"])
    bound = chi2.ppf(0.99, k)
    for d in range(draws):
        leaves, treedef = jtu.tree_flatten(clean)
        noisy = [x + noise * jax.random.normal(jax.random.key(d), x.shape, x.dtype) for x in leaves]
        target = jtu.tree_unflatten(treedef, noisy)
        n_res = sum(int(np.size(x)) for x in leaves)
        truth_loss = float(sum(float(jnp.sum((a - b) ** 2)) for a, b in zip(leaves, noisy, strict=True)) / n_res)
        for _ in range(1000):
            s = c["values"] * (1 + spread * rng.uniform(-1, 1, size=k))
            try:
                start = c["make"](s)
                break
            except ValueError:
                continue
        t0 = time.process_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                r = nj.fit(start, c["inputs"], target, dt=c["dt"], trainable=c["where"],
                           progress_meter=QUIET, **kw)  # fmt: skip
                err = None
            except Exception as e:  # a crash is a finding: recorded, not hidden
                r, err = None, f"{type(e).__name__}: {str(e)[:300]}"
        cpu = time.process_time() - t0
        if r is None:
            rows.append(dict(draw=d, start=s.tolist(), error=err, cpu_seconds=cpu))
            print(f"{name} draw {d}: ERROR {err}", flush=True)
            continue
        p = np.array([float(x) for x in jtu.tree_leaves(r.params)])
        rel = p / c["values"] - 1
        within = bool(np.all(np.abs(rel) <= tol))
        lr = float(n_res * (truth_loss - r.loss) / noise**2) if noise else None
        consistent = bool(abs(lr) <= bound) if noise else None
        ok = within or bool(consistent)
        reloss = float(r.objective(r.params))
        rows.append(dict(
            draw=d, start=s.tolist(), fitted=p.tolist(), rel_error=rel.tolist(),
            within_tol=within, likelihood_ratio=lr, consistent=consistent, ok=ok,
            loss=float(r.loss), loss_reevaluated=reloss, truth_loss=truth_loss,
            converged=bool(r.converged), stop_reason=r.stop_reason.value,
            honest=not (r.converged and not ok),
            warned=[str(w.message)[:120] for w in caught][:3],
            stages=[f"{st.name}: {st.note[:300]}" for st in r.stages],
            n_simulations=int(r.n_simulations), cpu_seconds=cpu,
        ))  # fmt: skip
        print(
            f"{name} draw {d}: start {np.round(s / c['values'] - 1, 2)} -> max|rel| "
            f"{np.abs(rel).max():.2e} loss {r.loss:.5g} (truth {truth_loss:.5g}, re-eval "
            f"{reloss:.5g}) LR {lr if lr is None else round(lr, 2)} ok={ok} "
            f"converged={r.converged} {r.stop_reason.value} sims={r.n_simulations} "
            f"{cpu:.1f} CPU-s",
            flush=True,
        )
    done = [r for r in rows if "fitted" in r]
    return dict(
        case=name, doc=" ".join((build.__doc__ or case_hh_dt.__doc__).split()),
        noise=noise, spread=spread, tol=tol, float64=_dtype() == jnp.float64,
        n_fits=len(rows), recovered=sum(r["ok"] for r in done),
        within_tol=sum(r["within_tol"] for r in done),
        converged=sum(r["converged"] for r in done),
        failed_said_converged=sum((not r["ok"]) and r["converged"] for r in done),
        recovered_not_converged=sum(r["ok"] and not r["converged"] for r in done),
        errors=sum("error" in r for r in rows),
        median_cpu_seconds=float(np.median([r["cpu_seconds"] for r in rows])),
        rows=rows,
    )  # fmt: skip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="+", default=sorted(CASES))
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--spread", type=float, default=0.5)
    ap.add_argument("--tol", type=float, default=0.02)
    ap.add_argument("--float64", action="store_true")
    ap.add_argument("--out", default="docs/fit_heldout_probe.json")
    a = ap.parse_args()
    if a.float64:
        jax.config.update("jax_enable_x64", True)
    for name in a.cases:
        res = run_case(name, a.draws, a.spread, a.tol)
        print(
            f"== {name} ({'float64' if res['float64'] else 'float32'}): {res['recovered']}/"
            f"{res['n_fits']} recovered, {res['converged']} converged, "
            f"{res['failed_said_converged']} failed but converged, {res['errors']} errors, "
            f"median {res['median_cpu_seconds']:.1f} CPU-s",
            flush=True,
        )
        try:
            with open(a.out) as f:
                old = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            old = []
        old = [r for r in old if (r["case"], r["float64"]) != (name, res["float64"])]
        with open(a.out, "w") as f:
            json.dump(old + [res], f, indent=1)


if __name__ == "__main__":
    main()
