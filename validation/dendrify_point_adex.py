"""dendrify's `PointNeuronModel('adex')` against `neurojax.neurons.AdEx`.

Dendrify's adaptive soma models (`'adex'`, `'adaptiveIF'`, `'cadIF'`) have no counterpart
in `cable.ReducedCell` (a leaky integrate-and-fire soma only; docs/dendritic.md). For a
*point* neuron a Dendrify user's `PointNeuronModel('adex', cm_abs, gl_abs, v_rest)` with
`add_params(DeltaT, Vth, a, tauw, b, Vr)`, `threshold='V > Vcut'`, `reset='V = Vr; w += b'`
is neurojax's `AdEx(tau=C/g_L, r=1/g_L, v_rest, v_t=Vth, delta_t, a, tau_w, b, v_reset=Vr,
v_th=Vcut, t_ref)`. This script checks it under Brian2's `euler` / neurojax's `Euler()`
(dt = 0.1 ms, float64, both from V = E_L, w = 0; the Naud et al. 2008 "adapting"
parameters, 0.5 nA for 300 ms), with and without a refractory period.

Usage: `/tmp/brian2-venv/bin/python validation/dendrify_point_adex.py --reference` writes
`tests/data/dendrify_random/point_adex.npz`; `.venv/bin/python validation/dendrify_point_adex.py`
compares (`tests/test_dendrify_random.py`, slow tier).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "dendrify_random" / "point_adex.npz"
# C (nF), g_L (µS), E_L, V_T, Δ_T (mV), a (µS), τ_w (ms), b (nA), V_r, cut-off (mV), I (nA)
P = dict(c=0.2, g_l=0.012, e_l=-70.0, v_t=-50.0, delta_t=2.0, a=0.002, tau_w=300.0, b=0.06)
P.update(v_r=-58.0, v_cut=0.0, current=0.5)
DT, N_STEPS, T_REFS = 0.1, 3000, (0.0, 2.0)


def reference() -> None:
    import brian2 as b
    from brian2.units import ms, mV, nA, nF, uS
    from dendrify import PointNeuronModel

    b.prefs.codegen.target = "numpy"
    out = {}
    for t_ref in T_REFS:
        b.start_scope()
        b.defaultclock.dt = DT * ms
        m = PointNeuronModel("adex", cm_abs=P["c"] * nF, gl_abs=P["g_l"] * uS, v_rest=P["e_l"] * mV)
        m.add_params(
            {
                "DeltaT": P["delta_t"] * mV,
                "Vth": P["v_t"] * mV,
                "a": P["a"] * uS,
                "tauw": P["tau_w"] * ms,
                "b": P["b"] * nA,
                "Vr": P["v_r"] * mV,
            }
        )
        g = m.make_neurongroup(
            1,
            method="euler",
            threshold=f"V > {P['v_cut']!r}*mV",
            reset="V = Vr; w += b",
            refractory=t_ref * ms,
        )
        g.I_ext = P["current"] * nA
        mon = b.StateMonitor(g, ["V", "w"], record=True, when="end")
        spikes = b.SpikeMonitor(g)
        b.run(N_STEPS * DT * ms)
        out[f"v_{t_ref}"] = np.asarray(mon.V[0] / mV)
        out[f"w_{t_ref}"] = np.asarray(mon.w[0] / nA)
        out[f"spikes_{t_ref}"] = np.round(np.asarray(spikes.t / (DT * ms))).astype(np.int32)
    REF.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        REF, **{k: v.astype(np.float32) if k[0] in "vw" else v for k, v in out.items()}
    )


def run_neurojax(t_ref: float):
    """(spike steps, V (mV) after each step, w (nA)) of neurojax's AdEx, float64 if on."""
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax._model import ModelState
    from neurojax.neurons import AdEx
    from neurojax.neurons.adex import AdExState

    m = AdEx(
        tau=P["c"] / P["g_l"],
        r=1.0 / P["g_l"],
        v_rest=P["e_l"],
        v_t=P["v_t"],
        delta_t=P["delta_t"],
        a=P["a"],
        tau_w=P["tau_w"],
        b=P["b"],
        v_reset=P["v_r"],
        v_th=P["v_cut"],
        t_ref=t_ref,
    )
    y0 = AdExState(v=jnp.asarray(P["e_l"]), w=jnp.asarray(0.0))  # Brian2's start (not rest)
    sol = nj.simulate(
        m,
        jnp.full((N_STEPS,), P["current"]),
        dt=DT,
        solver=nj.solvers.Euler(),
        state0=ModelState(y0, m.init_discrete(())),
    )
    return np.flatnonzero(np.asarray(sol.spikes)), np.asarray(sol.v), np.asarray(sol.states.w)


def compare() -> dict:
    ref = np.load(REF)
    rows = {}
    for t_ref in T_REFS:
        steps, v, w = run_neurojax(t_ref)
        rs = ref[f"spikes_{t_ref}"]
        rows[t_ref] = dict(
            n_ref=int(rs.size),
            n_got=int(steps.size),
            same=bool(np.array_equal(steps, rs)),
            mean_dv=float(np.abs(v - ref[f"v_{t_ref}"]).mean()),
            max_dv=float(np.abs(v - ref[f"v_{t_ref}"]).max()),
            max_dw=float(np.abs(w - ref[f"w_{t_ref}"]).max()),
        )
    return rows


if __name__ == "__main__":
    if "--reference" in sys.argv:
        reference()
    else:
        import jax

        jax.config.update("jax_enable_x64", True)
        for t_ref, r in compare().items():
            print(f"t_ref = {t_ref} ms: {r}")
