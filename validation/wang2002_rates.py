"""Winner rates of `neurojax.models.wang2002` against Brian2 runs of Wang (2002).

Protocol (the same in both simulators): 500 ms without stimulus, then 2000 ms of a
constant stimulus at coherence c′ = 51.2 %, μ0 = 40 Hz (μ_A = 60.5 Hz, μ_B = 19.5 Hz per
selective cell); population rates in 100 ms bins; the decision-state rate is the mean
over 500–2000 ms after stimulus onset.

    .venv/bin/python validation/wang2002_rates.py --n 2000 --seeds 1 2 3 \
        --brian2 /tmp/w2/b2_exact_2000_s*.npz

Brian2 files come from `validation/wang2002_brian2.py` (run in its own environment).
"""

import argparse
import glob
import json
import time

import numpy as np

T_SPONT, T_STIM, BIN = 500.0, 2000.0, 100.0
GROUPS = ("A", "B", "NS", "I")


def binned_neurojax(n, seed, dt=0.1):
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.models import wang2002, wang2002_inputs, wang2002_stimulus

    save = nj.SaveAt(fn=lambda y: None, spike_dtype=jnp.uint8)
    net = wang2002(n=n, dt=dt)
    k0, k1 = jax.random.split(jax.random.key(seed))
    n0, n1 = int(round(T_SPONT / dt)), int(round(T_STIM / dt))
    sol0 = nj.simulate(net, wang2002_inputs(net, n0), dt=dt, key=k0, saveat=save)
    stim = wang2002_stimulus(net, 51.2, 40.0)
    sol1 = nj.simulate(
        stim, wang2002_inputs(net, n1), dt=dt, key=k1, state0=sol0.final_state, saveat=save
    )
    per_bin = int(round(BIN / dt))
    out = {}
    for g in GROUPS:
        s = np.concatenate([np.asarray(sol0.spikes[g]), np.asarray(sol1.spikes[g])]).astype(float)
        counts = s.sum(1)
        out[g] = counts.reshape(-1, per_bin).sum(1) / s.shape[1] / (BIN * 1e-3)
    return out


def binned_brian2(path):
    d = np.load(path)
    ne, ni, k = int(d["n_e"]), int(d["n_i"]), int(d["n_sel"])
    bins = np.arange(0.0, float(d["t_spont"] + d["t_stim"]) + 1e-9, BIN)
    spans = {"A": (0, k), "B": (k, 2 * k), "NS": (2 * k, ne)}
    out = {}
    for g, (lo, hi) in spans.items():
        m = (d["e_i"] >= lo) & (d["e_i"] < hi)
        out[g] = np.histogram(d["e_t"][m], bins)[0] / (hi - lo) / (BIN * 1e-3)
    out["I"] = np.histogram(d["i_t"], bins)[0] / ni / (BIN * 1e-3)
    return out


def summary(r):
    on = int(T_SPONT / BIN)
    dec = slice(on + int(500 / BIN), on + int(T_STIM / BIN))
    spont = slice(1, on)
    above = np.nonzero(r["A"][on:] > 20.0)[0]
    return {
        "A_decision": r["A"][dec].mean(),
        "B_decision": r["B"][dec].mean(),
        "NS_decision": r["NS"][dec].mean(),
        "I_decision": r["I"][dec].mean(),
        "A_spont": r["A"][spont].mean(),
        "t_A_20Hz": float(above[0] * BIN + BIN) if above.size else np.nan,
    }


def show(label, rs):
    keys = list(summary(rs[0]))
    rows = np.array([[summary(r)[k] for k in keys] for r in rs])
    print(label)
    for r, row in zip(rs, rows, strict=True):
        print("   ", "  ".join(f"{k} {v:6.1f}" for k, v in zip(keys, row, strict=True)))
        print("    A per 100 ms:", " ".join(f"{x:.0f}" for x in r["A"]))
    m = np.nanmean(rows, 0)
    print("  mean", "  ".join(f"{k} {v:6.1f}" for k, v in zip(keys, m, strict=True)))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    p.add_argument("--brian2", nargs="*", default=[])
    p.add_argument("--save", help="write the Brian2 files' binned rates to this JSON")
    a = p.parse_args()
    files = sorted(f for pat in a.brian2 for f in glob.glob(pat))
    if files:
        show("Brian2: " + ", ".join(files), [binned_brian2(f) for f in files])
    if a.save:
        runs = []
        for f in files:
            d = np.load(f)
            meta = {k: d[k].item() for k in ("nmda", "seed", "dt", "method", "sigma")}
            meta["n"] = int(d["n_e"] + d["n_i"])
            rates = {g: np.round(r, 3).tolist() for g, r in binned_brian2(f).items()}
            runs.append({**meta, "rates_hz": rates})
        doc = {
            "what": "Wang (2002) decision network in Brian2 (validation/wang2002_brian2.py): "
            "population rates (Hz) in 100 ms bins; 500 ms without stimulus, then 2000 ms at "
            "c' = 51.2 %, mu0 = 40 Hz. nmda 'exact': Wang's per-neuron saturation; 'group': "
            "saturation of each presynaptic group's mean (neurojax's earlier shortcut).",
            "bin_ms": BIN,
            "t_spont_ms": T_SPONT,
            "t_stim_ms": T_STIM,
            "runs": runs,
        }
        with open(a.save, "w") as fh:
            json.dump(doc, fh, indent=1)
    if a.seeds:
        rs = []
        for s in a.seeds:
            t0 = time.time()
            rs.append(binned_neurojax(a.n, s))
            print(f"neurojax n={a.n} seed {s}: {time.time() - t0:.0f} s")
        show(f"neurojax n = {a.n}, seeds {a.seeds}", rs)
