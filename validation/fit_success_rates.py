"""Success rates of `fit`'s default on single HH current-clamp sweeps (issue: fitting).

For each step amplitude (µA/cm², 5–55 ms of a 60 ms sweep at dt = 0.025 ms, float32, the
recording simulated by neurojax itself) and each noise level (0 and 1 mV white measurement
noise), `fit` is called with its defaults from 20 starts drawn uniformly in ±50 % of the
true `g_na, g_k, g_l` = (120, 36, 0.3) mS/cm². One `fit` call per start, exactly as a user
would call it (`fit(model_at_start, current, target, dt=0.025, trainable=...)`).

Success: noise-free — every conductance within 1 % of the truth; with noise — every
conductance within 2 standard errors of the noise-limited (Cramér–Rao / Fisher) estimate
`result.identifiability(sigma_v=1.0)` at the fit, or within 1 % if that is wider.

    python validation/fit_success_rates.py [--amplitudes 6 8 10 12 15] [--starts 20]
        [--noise 0 1] [--out docs/fit_success_rates.json]
"""

from __future__ import annotations

import argparse
import json
import time

import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax.fitting import fit

DT = 0.025
TRUTH = np.array([120.0, 36.0, 0.3])


def conductances(m):
    return (m.g_na, m.g_k, m.g_l)


def sweep(amplitude):
    t = DT * np.arange(2400)
    return jnp.asarray(np.where((t >= 5.0) & (t < 55.0), amplitude, 0.0)[:, None])


def study(amplitude, noise, n_starts, seed=0):
    current = sweep(amplitude)
    clean = nj.simulate(nj.HodgkinHuxley(), current, dt=DT)
    n_spikes = int(clean.spikes.sum())
    rng = np.random.default_rng(seed)
    target = clean.v
    if noise:
        target = target + noise * jnp.asarray(rng.standard_normal(target.shape), target.dtype)
    starts = TRUTH * np.random.default_rng(100 + seed).uniform(0.5, 1.5, size=(n_starts, 3))
    rows = []
    for s in starts:
        t0 = time.perf_counter()
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
        rows.append(
            dict(
                start=s.tolist(), fitted=g.tolist(), rel_error=rel.tolist(), sd=sd.tolist(),
                ok=ok, loss=float(r.loss), converged=bool(r.converged),
                stop_reason=str(r.stop_reason), n_simulations=int(r.n_simulations),
                seconds=seconds,
            )
        )
        print(
            f"I={amplitude:5.1f} noise={noise} start={np.round(s, 2)} -> {np.round(g, 4)} "
            f"max|rel|={np.abs(rel).max():.2e} ok={ok} conv={r.converged} "
            f"sims={r.n_simulations} {seconds:.1f}s",
            flush=True,
        )
    return dict(
        amplitude=amplitude, noise=noise, n_spikes=n_spikes,
        successes=sum(r["ok"] for r in rows), n_starts=n_starts,
        median_simulations=float(np.median([r["n_simulations"] for r in rows])),
        median_seconds=float(np.median([r["seconds"] for r in rows])), rows=rows,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--amplitudes", type=float, nargs="+", default=[6, 8, 10, 12, 15])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--out", default="docs/fit_success_rates.json")
    a = ap.parse_args()
    out = []
    for noise in a.noise:
        for amp in a.amplitudes:
            res = study(amp, noise, a.starts)
            out.append(res)
            print(
                f"== I={amp} noise={noise}: {res['n_spikes']} spikes, "
                f"{res['successes']}/{res['n_starts']} within tolerance, "
                f"median {res['median_simulations']:.0f} simulations, "
                f"{res['median_seconds']:.1f} s per fit",
                flush=True,
            )
            with open(a.out, "w") as f:
                json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
