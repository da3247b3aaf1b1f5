"""Reference statistics of the COBA network (Brette et al. 2007, Benchmark 1) from Brian2,
for `tests/test_models_coba.py`.

The network of the Brian2 / BrainPy benchmark scripts: 4000 LIF neurons (3200 E, 800 I),
τ_m = 20 ms, E_L = −60 mV, threshold −50 mV, reset −60 mV, refractory 5 ms, background
drive 20 mV (I_ext·R), exponential conductances τ_e = 5 ms, τ_i = 10 ms, E_e = 0 mV,
E_i = −80 mV, weights Δg_e/g_L = 0.6, Δg_i/g_L = 6.7, p = 0.02 (autapses allowed),
V(0) ~ N(−55 mV, 5 mV), no delays, dt = 0.1 ms, 1 s, `exponential_euler` (the scheme of
neurojax's default solver). Each seed draws a new connectivity and initial state.

Statistics (identical code in the test): over t in [100, 1000) ms (after the start-up
transient), the mean rate (Hz) of all neurons, of E and of I, and the mean ISI CV over
neurons with at least 3 spikes in the window.

Brian2 is not a neurojax dependency; it needs numpy < 2.3 in a separate environment:

    python3 -m venv /tmp/brian2-venv
    /tmp/brian2-venv/bin/pip install brian2 'numpy<2.3'
    /tmp/brian2-venv/bin/python validation/make_brian2_coba.py
    # → tests/data/brian2_coba.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

N_SEEDS = 8
DURATION_MS = 1000.0
WINDOW_MS = (100.0, 1000.0)
DT_MS = 0.1


def statistics(i, t_ms, n, n_e, window=WINDOW_MS):
    """Rates (Hz) and mean ISI CV of spikes (neuron indices `i`, times `t_ms`) in `window`."""
    i, t = np.asarray(i), np.asarray(t_ms)
    keep = (t >= window[0]) & (t < window[1])
    i, t = i[keep], t[keep]
    span = (window[1] - window[0]) * 1e-3
    counts = np.bincount(i, minlength=n)
    order = np.lexsort((t, i))
    i, t = i[order], t[order]
    cvs = []
    for k in np.nonzero(counts >= 3)[0]:
        isi = np.diff(t[i == k])
        cvs.append(isi.std() / isi.mean())
    return {
        "rate_hz": float(counts.sum() / n / span),
        "rate_e_hz": float(counts[:n_e].sum() / n_e / span),
        "rate_i_hz": float(counts[n_e:].sum() / (n - n_e) / span),
        "isi_cv": float(np.mean(cvs)) if cvs else float("nan"),
    }


def run(seed: int) -> dict:
    import brian2 as b2
    from brian2 import ms, mV

    b2.start_scope()
    b2.seed(seed)
    np.random.seed(seed)
    b2.defaultclock.dt = DT_MS * ms
    # Brian2 resolves the names in the equations from this namespace.
    ns = dict(
        taum=20 * ms,
        taue=5 * ms,
        taui=10 * ms,
        Vt=-50 * mV,
        Vr=-60 * mV,
        El=-60 * mV,
        Erev_exc=0 * mV,
        Erev_inh=-80 * mV,
        I=20 * mV,
    )
    eqs = """
    dv/dt  = (ge*(Erev_exc-v)+gi*(Erev_inh-v)-(v-El) + I)*(1./taum) : volt (unless refractory)
    dge/dt = -ge/taue : 1
    dgi/dt = -gi/taui : 1
    """
    n, n_e = 4000, 3200
    P = b2.NeuronGroup(  # noqa: N806
        n,
        eqs,
        threshold="v>Vt",
        reset="v = Vr",
        refractory=5 * ms,
        method="exponential_euler",
        namespace=ns,
    )
    Ce = b2.Synapses(P[:n_e], P, on_pre="ge += 0.6")  # noqa: N806
    Ci = b2.Synapses(P[n_e:], P, on_pre="gi += 6.7")  # noqa: N806
    Ce.connect(p=0.02)
    Ci.connect(p=0.02)
    P.v = (np.random.randn(n) * 5.0 - 55.0) * mV
    mon = b2.SpikeMonitor(P)
    t0 = time.time()
    b2.run(DURATION_MS * ms)
    out = statistics(np.asarray(mon.i), np.asarray(mon.t / ms), n, n_e)
    out.update(seed=seed, wall_s=time.time() - t0)
    return out


def main():
    import brian2

    results = []
    for seed in range(N_SEEDS):
        r = run(seed)
        print(r, file=sys.stderr, flush=True)
        results.append(r)
    summary = {
        k: {
            "mean": float(np.mean([r[k] for r in results])),
            "std": float(np.std([r[k] for r in results], ddof=1)),
        }
        for k in ("rate_hz", "rate_e_hz", "rate_i_hz", "isi_cv")
    }
    data = {
        "description": "COBA (Brette et al. 2007 Benchmark 1, Brian2/BrainPy benchmark variant "
        "with 20 mV background drive), 4000 LIF, 1 s, dt 0.1 ms, exponential_euler; statistics "
        f"over t in {list(WINDOW_MS)} ms; one connectivity and initial state per seed.",
        "generator": "validation/make_brian2_coba.py",
        "brian2_version": brian2.__version__,
        "window_ms": list(WINDOW_MS),
        "seeds": results,
        "summary": summary,
    }
    path = Path(__file__).resolve().parent.parent / "tests" / "data" / "brian2_coba.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
