"""An STDP synapse (WATCH + FOR_NETCONS) against NEURON compiling the same file.

`STDPSYN` is written here from published equations (not copied): Song, Miller & Abbott
(2000)'s additive spike-timing-dependent plasticity on an exponentially decaying
conductance. A presynaptic spike at `t` (an event, flag 0) adds `w + dw` to `g` (µS,
decay `tau`) and depresses the connection by `aminus·wmax·exp((tpost − t)/tau_minus)`
(post before pre); a postsynaptic spike — the membrane crossing `thresh` upwards,
watched by `WATCH (v > thresh) 2` set up by the self-event `net_send(0, 1)` of INITIAL —
potentiates every connection (`FOR_NETCONS`) by `aplus·wmax·exp((tpre − t)/tau_plus)`
(pre before post); `w + dw` stays in [0, wmax]. Song et al.'s values: τ± = 20 ms,
A₋/A₊ = 1.05 (the defaults; the comparison uses larger amplitudes so that one
pairing moves the weight visibly).

One compartment (L = diam = 10 µm) with the wheel's hh (renamed hhx, tables off) at
6.3 °C, one NetCon driven by `NetCon.event` on the dt grid, backward Euler at dt 0.025 ms
for 40 ms in both (the setting of `nmodl_events_vs_neuron.py`, whose runners are used).

    python validation/nmodl_stdp_vs_neuron.py     # max/mean |Δ| per trace

`tests/test_nmodl_stdp_neuron.py` (slow tier) runs it; `tests/test_nmodl_stdp.py` (fast)
checks the same file against its closed form.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _events():
    spec = importlib.util.spec_from_file_location(
        "nmodl_events_vs_neuron", HERE / "nmodl_events_vs_neuron.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ev = _events()
base = ev.base

STDPSYN = """
NEURON {
    POINT_PROCESS StdpSyn
    RANGE tau, e, i, thresh, aplus, aminus, tau_plus, tau_minus, wmax, g
    NONSPECIFIC_CURRENT i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER {
    tau = 2 (ms) <1e-9, 1e9>
    e = 0 (mV)
    thresh = -20 (mV)
    aplus = 0.005
    aminus = 0.00525
    tau_plus = 20 (ms) <1e-9, 1e9>
    tau_minus = 20 (ms) <1e-9, 1e9>
    wmax = 0.02 (uS)
}
ASSIGNED { v (mV) i (nA) tpost (ms) }
STATE { g (uS) }
INITIAL {
    g = 0
    tpost = -1e9
    net_send(0, 1)
}
BREAKPOINT {
    SOLVE state METHOD cnexp
    i = g*(v - e)
}
DERIVATIVE state { g' = -g/tau }
NET_RECEIVE (w (uS), dw (uS), tpre (ms)) {
    INITIAL { dw = 0  tpre = -1e9 }
    if (flag == 0) {
        g = g + w + dw
        tpre = t
        dw = dw - aminus*wmax*exp((tpost - t)/tau_minus)
        if (w + dw < 0) { dw = -w }
    } else if (flag == 2) {
        tpost = t
        FOR_NETCONS (w1, dw1, tp) {
            dw1 = dw1 + aplus*wmax*exp((tp - t)/tau_plus)
            if (w1 + dw1 > wmax) { dw1 = wmax - w1 }
        }
    } else {
        WATCH (v > thresh) 2
    }
}
"""

# name, text, parameters, presynaptic event times (ms, before the 1 ms NetCon delay),
# weight (µS), recorded RANGE variables
CASES = [
    ("StdpSyn", STDPSYN, {"aplus": 0.3, "aminus": 0.3, "wmax": 0.02},
     [4.0, 9.0, 11.0, 19.0, 25.0, 33.0], 0.01, ["g"]),  # fmt: skip
]


def compare(tmp: Path) -> dict:
    """{name: {trace: (max |Δ|, mean |Δ|)}, `_vrange`, `_range`, `_g_jumps`}: NEURON
    against neurojax (float64), and the conductance jumps at the presynaptic events in
    NEURON's run (they differ from the weight once the pairing has moved it)."""
    import jax

    texts = {"hhx.mod": base.renamed(base.mod_text("hh.mod"), "hh", "hhx")}
    texts.update({f"{c[0]}.mod": c[1] for c in CASES})
    dll = base.compile_mods(texts, tmp / "mods")
    out = {}
    for case in CASES:
        ref = ev.run_neuron(dll, case, tmp)
        with jax.enable_x64(True):
            ours = ev.run_neurojax(case)
        res = {k: (float(np.max(np.abs(ours[k] - ref[k]))),
                   float(np.mean(np.abs(ours[k] - ref[k])))) for k in ref}  # fmt: skip
        res["_vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
        res["_range"] = {k: float(np.ptp(ref[k])) for k in ref}
        # g jumps by w + dw at each delivered event: an event due at t_e = k·dt is
        # delivered at the start of step k, then g decays over the step (cnexp: exactly
        # e^(−dt/τ)); ref[k] is the value at (k + 1)·dt (t = 0 dropped)
        g = ref["g"]
        k = [int(round((t0 + ev.DELAY) / ev.DT)) for t0 in case[3]]
        decay = np.exp(-ev.DT / case[2].get("tau", 2.0))
        res["_g_jumps"] = [float(g[j] / decay - g[j - 1]) for j in k]
        out[case[0]] = res
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        res = compare(Path(d))
    for name, r in res.items():
        lo, hi = r.pop("_vrange")
        r.pop("_range")
        jumps = r.pop("_g_jumps")
        print(f"{name} + hh, NetCon events (NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
        print("    g jumps (uS):", " ".join(f"{j:.5f}" for j in jumps))
        for k, (mx, mean) in r.items():
            print(f"    {k:6s} max {mx:.3g}  mean {mean:.3g}")
