"""Success rates of `fit`'s default on single HH current-clamp sweeps (issue: fitting).

For each step amplitude (µA/cm², 5–55 ms of a 60 ms sweep at dt = 0.025 ms, float32, the
recording simulated by neurojax itself) and each noise level (0 and 1 mV white measurement
noise), `fit` is called with its defaults from starts drawn uniformly in ±50 % of the
true `g_na, g_k, g_l` = (120, 36, 0.3) mS/cm²: noise-free, `--starts` (20) starts; with
noise, `--draws` (20) noise draws (`jax.random.normal(jax.random.key(d), ...)`,
d = 0, 1, …) × `--draw-starts` (1) start each — the default replaces the start by the
data-driven estimate, so what varies its outcome is the noise draw. One `fit` call per
start, exactly as a user would call it (`fit(model_at_start, current, target, dt=0.025,
trainable=...)`).

Success: noise-free — every conductance within 1 % of the truth; with noise — every
conductance within 2 standard errors of the noise-limited (Cramér–Rao / Fisher) estimate
`result.identifiability(sigma_v=1.0)` at the fit, or within 1 % if that is wider.

    python validation/fit_success_rates.py [--amplitudes 6 8 10 12 15] [--starts 20]
        [--draws 20] [--draw-starts 1] [--noise 0 1] [--out docs/fit_success_rates.json]

Each setting's result replaces that setting's entry in `--out` (others are kept), so
settings can be measured one at a time. The stored noisy settings use 20 draws × 1 start
(the start does not change the outcome: the default starts from the data-driven estimate).

Integrate-and-fire models (`--models lif adex izhikevich`, results in
`docs/fit_if_success_rates.json`): each model fitted with `fit`'s defaults to spiking
sweeps it produced itself (dt = 0.1 ms, float32; `IF_CASES`), noise-free and with 1 mV
white noise, from `--starts` (20) starts drawn uniformly in ±`--spread` (50 %) of every
true parameter (relative, voltages included; a start the model refuses, e.g. a LIF
reset above its threshold, is drawn again: `starts_redrawn`); with noise each start gets
its own draw.
Success: every parameter within `--tol` (2 %) of the truth; with noise also where the
fit is statistically as good as the truth (the likelihood-ratio test: `|n·(L(truth) −
L(fit))/σ²| <= χ²(k, 0.99)`, n rows, k parameters, σ the noise added; each row also
records the Wald form `(p̂ − p)ᵀF(p̂ − p)` with F the Fisher matrix of
`result.identifiability(sigma_v=noise)` at the fit, and the per-parameter errors in
standard errors; the summary counts within the tolerance, within 2 s.e. each, and
consistent). `failed_silently`: not a
success and `converged`. For AdEx each row also records the data-driven estimate's errors
(`adex_from_voltage`). The default for these models is `SpikeClampedInit`
(`neurojax.fitting._spike_clamp`).

    python validation/fit_success_rates.py --models lif izhikevich adex [--starts 20]
        [--noise 0 1] [--spread 0.5] [--tol 0.02] [--out docs/fit_if_success_rates.json]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax.fitting import fit
from neurojax.fitting._adex_estimate import adex_from_voltage

CHI2_99 = {4: 13.277, 8: 20.090}
"""The 99 % quantiles of χ² with 4 and 8 degrees of freedom (the joint test)."""

DT = 0.025
TRUTH = np.array([120.0, 36.0, 0.3])


def conductances(m):
    return (m.g_na, m.g_k, m.g_l)


def sweep(amplitude):
    t = DT * np.arange(2400)
    return jnp.asarray(np.where((t >= 5.0) & (t < 55.0), amplitude, 0.0)[:, None])


def study(amplitude, noise, n_starts, n_draws, draw_starts, seed=0):
    current = sweep(amplitude)
    clean = nj.simulate(nj.HodgkinHuxley(), current, dt=DT)
    n_spikes = int(clean.spikes.sum())
    draws = range(n_draws) if noise else [None]
    per_draw = draw_starts if noise else n_starts
    rng = np.random.default_rng(100 + seed)
    rows = []
    for draw in draws:
        target = clean.v
        if noise:
            target = target + noise * jax.random.normal(jax.random.key(draw), target.shape)
        starts = TRUTH * rng.uniform(0.5, 1.5, size=(per_draw, 3))
        for s in starts:
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = fit(
                    nj.HodgkinHuxley(g_na=s[0], g_k=s[1], g_l=s[2]),
                    current,
                    target,
                    dt=DT,
                    trainable=conductances,
                    progress_meter=nj.NoProgress(),
                )
            seconds = time.perf_counter() - t0
            g = np.array([float(p) for p in r.params])
            rel = g / TRUTH - 1
            if noise:
                ident = r.identifiability(sigma_v=noise)
                sd = np.asarray(ident.rel_std, dtype=float) * g
                ok = bool(np.all(np.abs(g - TRUTH) <= np.maximum(2 * sd, 0.01 * TRUTH)))
            else:
                sd = np.zeros(3)
                ok = bool(np.all(np.abs(rel) < 0.01))
            warned = any("far above the recording's noise" in str(w.message) for w in caught)
            polished = any(st.name == "Float64Polish" for st in r.stages)
            rows.append(
                dict(
                    draw=draw,
                    start=s.tolist(),
                    fitted=g.tolist(),
                    rel_error=rel.tolist(),
                    sd=sd.tolist(),
                    ok=ok,
                    loss=float(r.loss),
                    converged=bool(r.converged),
                    warned=warned,
                    stop_reason=r.stop_reason.value,
                    restart_rounds=int(r.restart_rounds),
                    polished=polished,
                    n_simulations=int(r.n_simulations),
                    seconds=seconds,
                )
            )
            print(
                f"I={amplitude:5.1f} noise={noise} draw={draw} start={np.round(s, 2)} -> "
                f"{np.round(g, 4)} max|rel|={np.abs(rel).max():.2e} ok={ok} "
                f"conv={r.converged} restarts={r.restart_rounds} polished={polished} "
                f"sims={r.n_simulations} "
                f"{seconds:.1f}s",
                flush=True,
            )
    return dict(
        amplitude=amplitude,
        noise=noise,
        n_spikes=n_spikes,
        n_draws=len(draws) if noise else 0,
        successes=sum(r["ok"] for r in rows),
        n_fits=len(rows),
        draws_failed=sorted({r["draw"] for r in rows if not r["ok"]} - {None}),
        failed_and_said_so=sum((not r["ok"]) and (not r["converged"]) for r in rows),
        failed_silently=sum((not r["ok"]) and r["converged"] for r in rows),
        restarted=sum(r["restart_rounds"] > 0 for r in rows),
        polished=sum(r["polished"] for r in rows),
        median_simulations=float(np.median([r["n_simulations"] for r in rows])),
        median_seconds=float(np.median([r["seconds"] for r in rows])),
        rows=rows,
    )


def _steps(dt, n, on, off, amplitudes):
    t = dt * np.arange(n)
    step = ((t >= on) & (t < off)).astype(np.float32)
    return jnp.asarray(np.stack([a * step for a in amplitudes], 1))


IF_CASES = {
    # LIF (10 ms, 10 MΩ, rest and reset -65 mV, threshold -50 mV, 2 ms refractory):
    # 100 ms, steps 5-95 ms of 1.8, 2.6 nA (4 and 8 spikes) and -1 nA
    "lif": dict(
        model=nj.LIF,
        fields=("tau", "r", "v_rest", "v_reset"),
        inputs=lambda: _steps(0.1, 1000, 5.0, 95.0, [1.8, 2.6, -1.0]),
    ),
    # AdEx with Brette & Gerstner's (2005) parameters (the neurojax default): 400 ms,
    # steps 20-380 ms of 0.8 and 1.2 nA (7 and 18 spikes)
    "adex": dict(
        model=nj.AdEx,
        fields=("tau", "r", "a", "b", "tau_w", "delta_t", "v_t", "v_rest"),
        inputs=lambda: _steps(0.1, 4000, 20.0, 380.0, [0.8, 1.2]),
    ),
    # Izhikevich (2003) regular spiking: 300 ms, steps 10-290 ms of 6 and 10 (4 and 7
    # spikes)
    "izhikevich": dict(
        model=nj.Izhikevich,
        fields=("a", "b", "c", "d"),
        inputs=lambda: _steps(0.1, 3000, 10.0, 290.0, [6.0, 10.0]),
    ),
}


VOLTAGES = ("v_rest", "v_reset", "v_t", "c")
"""The voltage parameters (mV) `--voltage-spread` applies to."""


def if_study(name, noise, n_starts, spread, tol, seed=0, voltage_spread=None):
    """One integrate-and-fire setting: `n_starts` default fits from starts uniform in
    ±`spread` of every true parameter (±`voltage_spread` for the voltages, `VOLTAGES`,
    where given), each with its own noise draw where `noise`."""
    case = IF_CASES[name]
    truth_model = case["model"]()
    fields = case["fields"]
    truth = np.array([float(getattr(truth_model, f)) for f in fields])
    current = case["inputs"]()
    clean = nj.simulate(truth_model, current, dt=0.1)
    rng = np.random.default_rng(200 + seed)
    rows = []
    redrawn = 0
    for i in range(n_starts):
        target = clean.v
        if noise:
            target = target + noise * jax.random.normal(jax.random.key(i), target.shape)
        width = np.array([voltage_spread if (voltage_spread is not None and f in VOLTAGES)
                          else spread for f in fields])  # fmt: skip
        # a start the model refuses (LIF with v_reset >= v_th, refused since session 10)
        # is drawn again: the starts are uniform in the box, given a valid model
        for _ in range(1000):
            s = truth * (1 + width * rng.uniform(-1, 1, size=truth.size))
            try:
                start = case["model"](**{f: float(x) for f, x in zip(fields, s, strict=True)})
                break
            except ValueError:
                redrawn += 1
        t0 = time.process_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                r = fit(start, current, target, dt=0.1,
                        trainable=lambda m: tuple(getattr(m, f) for f in fields),
                        progress_meter=nj.NoProgress())  # fmt: skip
            except FloatingPointError as e:  # counted as a failure, said
                r = e
        seconds = time.process_time() - t0
        if isinstance(r, Exception):
            rows.append(dict(start=s.tolist(), ok=False, error=str(r)[:200], cpu_seconds=seconds))
            print(f"{name} noise={noise} start {i}: error {str(r)[:100]}", flush=True)
            continue
        p = np.array([float(x) for x in r.params])
        rel = p / truth - 1
        within_tol = bool(np.all(np.abs(rel) <= tol))
        extra = {}
        ok = within_tol
        truth_loss = float(np.mean((np.asarray(clean.v) - np.asarray(target)) ** 2))
        if noise:
            # is the fit the noise-limited estimate? The likelihood-ratio statistic
            # n·(L(truth) − L(fit))/σ² is ~χ²(k) when the fit is the least-squares
            # estimate (n rows, k parameters, σ the noise added): |LR| <= χ²(k, 0.99) says
            # the fit explains the recording as well as the truth within the noise (a
            # fit stuck above the truth's loss has LR < −χ²). Also recorded: the Wald form
            # θᵀFθ (θ = (p̂ − p)/p̂, F the Fisher matrix of `identifiability` at the fit),
            # its linearisation, and each parameter's error in standard errors
            ident = r.identifiability(sigma_v=noise)
            theta = (p - truth) / p
            se = np.asarray(ident.rel_std, dtype=float)
            lr = float(np.size(target) * (truth_loss - float(r.loss)) / noise**2)
            extra = dict(
                rel_std=se.tolist(),
                err_over_se=(theta / se).tolist(),
                likelihood_ratio=lr,
                wald=float(theta @ ident.fisher @ theta),
                within_2se_each=bool(np.all(np.abs(theta) <= 2 * se)),
                consistent=bool(abs(lr) <= CHI2_99[len(fields)]),
            )
            ok = within_tol or extra["consistent"]
        if name == "adex":
            try:
                est, _ = adex_from_voltage(target, current, 0.1)
                extra["estimate_rel_error"] = [
                    est[f] / t - 1 for f, t in zip(fields, truth, strict=True)
                ]
            except ValueError as e:
                extra["estimate_rel_error"] = str(e)
        warned = any("far above the recording's noise" in str(w.message) for w in caught)
        rows.append(
            dict(
                start=s.tolist(),
                fitted=p.tolist(),
                rel_error=rel.tolist(),
                ok=ok,
                within_tol=within_tol,
                **extra,
                loss=float(r.loss),
                truth_loss=truth_loss,
                converged=bool(r.converged),
                warned=warned,
                stop_reason=r.stop_reason.value,
                n_simulations=int(r.n_simulations),
                cpu_seconds=seconds,
            )
        )
        if noise:
            lr, wald = extra["likelihood_ratio"], extra["wald"]
            print(f"   err/se {np.round(extra['err_over_se'], 2)}, LR {lr:.3g}, Wald {wald:.3g}")
        print(
            f"{name} noise={noise} start {i} {np.round(s / truth - 1, 2)} -> max|rel| "
            f"{np.abs(rel).max():.2e} ({fields[int(np.argmax(np.abs(rel)))]}) ok={ok} "
            f"loss={r.loss:.4g} conv={r.converged} {r.stop_reason.value} "
            f"sims={r.n_simulations} {seconds:.1f} CPU-s",
            flush=True,
        )
    fitted = [r for r in rows if "fitted" in r]
    return dict(
        model=name,
        fields=list(fields),
        truth=truth.tolist(),
        noise=noise,
        spread=spread,
        voltage_spread=voltage_spread,
        tol=tol,
        n_spikes=np.asarray(clean.spikes).sum(0).astype(int).tolist(),
        starts_redrawn=redrawn,
        success_rule=(
            f"every parameter within {tol:.0%}"
            + (
                f", or the fit statistically as good as the truth: |n·(L(truth) − L(fit))/σ²| "
                f"<= χ²({len(fields)}, 0.99) = {CHI2_99[len(fields)]:.2f} (likelihood ratio; "
                "n rows, σ the noise added)"
                if noise
                else ""
            )
        ),
        successes=sum(r["ok"] for r in rows),
        within_tol=sum(r.get("within_tol", False) for r in rows),
        within_2se_each=sum(r.get("within_2se_each", False) for r in rows) if noise else None,
        consistent=sum(r.get("consistent", False) for r in rows) if noise else None,
        n_fits=len(rows),
        failed_and_said_so=sum((not r["ok"]) and not r.get("converged", False) for r in rows),
        failed_silently=sum((not r["ok"]) and r.get("converged", False) for r in rows),
        converged_outside_tol=sum(
            (not r.get("within_tol", False)) and r.get("converged", False) for r in rows
        ),
        succeeded_but_not_converged=sum(r["ok"] and not r["converged"] for r in fitted),
        max_rel_error_of_successes=(
            np.max(np.abs([r["rel_error"] for r in fitted if r["ok"]]), axis=0).tolist()
            if any(r["ok"] for r in fitted)
            else None
        ),
        median_simulations=float(np.median([r["n_simulations"] for r in fitted]))
        if fitted
        else None,
        median_cpu_seconds=float(np.median([r["cpu_seconds"] for r in rows])),
        estimate_rel_error=_estimate_spread(rows),
        rows=rows,
    )


def _estimate_spread(rows):
    """Mean and s.d. over the rows of the data-driven estimate's relative errors."""
    e = [r["estimate_rel_error"] for r in rows if isinstance(r.get("estimate_rel_error"), list)]
    if not e:
        return None
    e = np.array(e)
    return dict(mean=e.mean(0).tolist(), sd=e.std(0, ddof=1).tolist() if len(e) > 1 else None)


def if_main(a):
    out = []
    for name in a.models:
        for noise in a.noise:
            res = if_study(name, noise, a.starts, a.spread, a.tol, voltage_spread=a.voltage_spread)
            out.append(res)
            print(
                f"== {name} noise={noise}: {res['successes']}/{res['n_fits']} within "
                f"{a.tol:.0%} or consistent ({res['within_tol']} within {a.tol:.0%}, "
                f"{res['consistent']} consistent, {res['within_2se_each']} within 2 s.e. "
                f"each; {res['failed_silently']} failed silently, "
                f"{res['succeeded_but_not_converged']} recovered but not converged); "
                f"worst successful errors {res['max_rel_error_of_successes']}",
                flush=True,
            )
            try:
                with open(a.out) as f:
                    old = json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                old = []

            def key(r):
                return (r["model"], r["noise"], r["spread"], r.get("voltage_spread"))

            done = {key(r) for r in out}
            merged = [r for r in old if key(r) not in done] + out
            with open(a.out, "w") as f:
                json.dump(merged, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", choices=sorted(IF_CASES), default=None)
    ap.add_argument("--spread", type=float, default=0.5)
    ap.add_argument(
        "--voltage-spread",
        type=float,
        default=None,
        help="relative spread of the voltage parameters (default: --spread)",
    )
    ap.add_argument("--tol", type=float, default=0.02)
    ap.add_argument("--amplitudes", type=float, nargs="+", default=[6, 8, 10, 12, 15])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--starts", type=int, default=20, help="starts per noise-free setting")
    ap.add_argument("--draws", type=int, default=20, help="noise draws per noisy setting")
    ap.add_argument("--draw-starts", type=int, default=1, help="starts per noise draw")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.models:
        a.out = a.out or "docs/fit_if_success_rates.json"
        return if_main(a)
    a.out = a.out or "docs/fit_success_rates.json"
    out = []
    for noise in a.noise:
        for amp in a.amplitudes:
            res = study(amp, noise, a.starts, a.draws, a.draw_starts)
            out.append(res)
            print(
                f"== I={amp} noise={noise}: {res['n_spikes']} spikes, "
                f"{res['successes']}/{res['n_fits']} within tolerance "
                f"(failed draws {res['draws_failed']}, {res['failed_silently']} silently), "
                f"{res['restarted']} restarted, "
                f"median {res['median_simulations']:.0f} simulations, "
                f"{res['median_seconds']:.1f} s per fit",
                flush=True,
            )
            # merged into --out: a setting measured again replaces its old entry
            try:
                with open(a.out) as f:
                    old = json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                old = []
            done = {(r["amplitude"], r["noise"]) for r in out}
            merged = [r for r in old if (r["amplitude"], r["noise"]) not in done] + out
            with open(a.out, "w") as f:
                json.dump(merged, f, indent=1)


if __name__ == "__main__":
    main()
