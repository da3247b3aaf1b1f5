"""Reference traces for `tests/test_hh_neuron.py`: NEURON's `hh` soma and a converged
solution of the same Hodgkin–Huxley ODE.

    pip install neuron scipy    # or: pip install -e ".[dev]"
    python validation/make_neuron_reference.py

writes `tests/data/hh_neuron_reference.npz` (about 0.3 MB):

- NEURON 9 (`pip install neuron`), a single-compartment soma with `hh` (rate tables off,
  `h.usetable_hh = 0`, so it evaluates the exact rate functions), 6.3 °C, `v_init` = −65 mV,
  driven by an IClamp step; V recorded every step at dt = 0.05, 0.025, 0.0125 ms, with its
  default fixed step (`secondorder = 0`: backward Euler for V, gates staggered by dt/2) and
  with `secondorder = 2` (Crank–Nicolson).
- The converged reference: the same ODE written out again from `hh.mod` in NumPy (not
  neurojax's code), integrated by SciPy's DOP853 at rtol = 1e-12 (checked against rtol =
  1e-10), split at the current step so that the discontinuity is hit exactly. Spike times
  (upward crossings of 0 mV) are located by the integrator's event root finding.

Geometry: L = diam = 100/√π µm, so the membrane area is π·diam·L = 10⁴ µm² = 10⁻⁴ cm² and a
current density J (µA/cm²) is the IClamp amplitude J·area = J·10⁻⁴ µA = 0.1·J nA.
With nseg = 1 the axial resistance plays no part.

Timing: NEURON evaluates the IClamp at the step midpoint t + dt/2, so its current is on in
the steps that start at t ≥ delay; neurojax holds `inputs[i]` over the step starting at
`i·dt`, so the same stimulus is `inputs[i] = amplitude` for `i·dt ≥ delay`
(`neurojax.stimuli.Step` samples it this way). NEURON records V at t = 0, dt, …, tstop;
`Solution.v[i]` is V at `(i + 1)·dt`, so it lines up with NEURON's samples from index 1.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

AMPLITUDE = 10.0  # µA/cm²: tonic firing, 7 spikes in 100 ms
DELAY = 5.0  # ms, a multiple of every dt below
TSTOP = 100.0  # ms
NEURON_DTS = (0.05, 0.025, 0.0125)  # ms
REFERENCE_DT = 0.0125  # ms, the grid the reference V is stored on
DIAMETER = 100.0 / math.sqrt(math.pi)  # µm, = L: area 1e4 µm²
OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "hh_neuron_reference.npz"


def neuron_soma_trace(
    dt: float,
    secondorder: int = 0,
    *,
    amplitude: float = AMPLITUDE,
    delay: float = DELAY,
    tstop: float = TSTOP,
) -> tuple[np.ndarray, np.ndarray]:
    """NEURON's `hh` soma driven by `amplitude` µA/cm² from `delay` ms on, at fixed step
    `dt` (ms). Returns `(t, v)` at t = 0, dt, …, tstop (ms, mV)."""
    from neuron import h

    soma = h.Section(name="soma")
    soma.L = soma.diam = DIAMETER
    soma.nseg = 1
    soma.cm = 1.0  # µF/cm²
    soma.insert("hh")
    for seg in soma:  # hh.mod's defaults, spelled out (S/cm², mV)
        seg.hh.gnabar, seg.hh.gkbar, seg.hh.gl, seg.hh.el = 0.12, 0.036, 0.0003, -54.3
        seg.ena, seg.ek = 50.0, -77.0
    h.usetable_hh = 0  # exact rates, not 1-mV lookup tables
    h.celsius = 6.3
    area_cm2 = h.area(0.5, sec=soma) * 1e-8  # µm² → cm²
    if not math.isclose(area_cm2, 1e-4, rel_tol=1e-12):
        raise RuntimeError(f"unexpected soma area {area_cm2} cm²")

    stim = h.IClamp(soma(0.5))
    stim.delay = delay
    stim.dur = tstop  # on until the end
    stim.amp = amplitude * area_cm2 * 1e3  # µA/cm² · cm² = µA → nA

    h.secondorder = secondorder
    h.dt = dt
    t_rec = h.Vector().record(h._ref_t)
    v_rec = h.Vector().record(soma(0.5)._ref_v)
    h.finitialize(-65.0)
    for _ in range(round(tstop / dt)):
        h.fadvance()
    t, v = np.array(t_rec), np.array(v_rec)
    del stim, soma
    return t, v


# --- the converged reference: hh.mod's equations, independently of neurojax -------------


def _vtrap(x, y):
    """x/(exp(x/y) − 1), as in hh.mod."""
    z = x / y
    return np.where(np.abs(z) < 1e-6, y * (1 - z / 2), x / np.expm1(np.where(z == 0, 1, z)))


def _rates(v):
    am = 0.1 * _vtrap(-(v + 40), 10)
    bm = 4 * np.exp(-(v + 65) / 18)
    ah = 0.07 * np.exp(-(v + 65) / 20)
    bh = 1 / (np.exp(-(v + 35) / 10) + 1)
    an = 0.01 * _vtrap(-(v + 55), 10)
    bn = 0.125 * np.exp(-(v + 65) / 80)
    return am, bm, ah, bh, an, bn


def _hh_rhs(current):
    def rhs(t, y):
        v, m, h, n = y
        am, bm, ah, bh, an, bn = _rates(v)
        i_ion = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.3)
        return [
            current - i_ion,  # c_m = 1 µF/cm²
            am * (1 - m) - bm * m,
            ah * (1 - h) - bh * h,
            an * (1 - n) - bn * n,
        ]

    return rhs


def converged_reference(
    rtol: float = 1e-12,
    *,
    amplitude: float = AMPLITUDE,
    delay: float = DELAY,
    tstop: float = TSTOP,
    grid_dt: float = REFERENCE_DT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(t, v, spike_times)`: V (mV) on the grid 0, grid_dt, …, tstop and the upward 0-mV
    crossings (ms), from DOP853 at `rtol` (atol = rtol/100)."""
    from scipy.integrate import solve_ivp

    am, bm, ah, bh, an, bn = _rates(-65.0)
    y = [-65.0, am / (am + bm), ah / (ah + bh), an / (an + bn)]
    t_grid = grid_dt * np.arange(round(tstop / grid_dt) + 1)
    v = np.empty_like(t_grid)

    def spike(t, y):
        return y[0]

    spike.direction = 1.0
    spikes = []
    for t_a, t_b, current in ((0.0, delay, 0.0), (delay, tstop, amplitude)):
        sol = solve_ivp(
            _hh_rhs(current),
            (t_a, t_b),
            y,
            method="DOP853",
            rtol=rtol,
            atol=rtol / 100,
            dense_output=True,
            events=spike,
        )
        if not sol.success:
            raise RuntimeError(sol.message)
        inside = (t_grid >= t_a - grid_dt / 2) & (t_grid <= t_b + grid_dt / 2)
        v[inside] = sol.sol(np.clip(t_grid[inside], t_a, t_b))[0]
        spikes.extend(sol.t_events[0])
        y = sol.y[:, -1]
    return t_grid, v, np.array(spikes)


def main():
    import neuron

    data = {
        "amplitude": AMPLITUDE,
        "delay": DELAY,
        "tstop": TSTOP,
        "neuron_version": np.array(neuron.__version__),
        "neuron_dts": np.array(NEURON_DTS),
    }
    for so in (0, 2):
        for dt in NEURON_DTS:
            t, v = neuron_soma_trace(dt, so)
            if len(t) != round(TSTOP / dt) + 1 or abs(t[-1] - TSTOP) > 1e-6:
                raise RuntimeError(f"NEURON ran to t={t[-1]} in {len(t)} samples")
            data[f"neuron_so{so}_dt{dt}"] = v

    t_ref, v_ref, s_ref = converged_reference(1e-12)
    _, v_loose, s_loose = converged_reference(1e-10)
    data.update(
        reference_dt=REFERENCE_DT,
        reference_v=v_ref,
        reference_spikes=s_ref,
        # how far rtol 1e-10 is from rtol 1e-12: a bound on the reference's own error
        reference_v_change=np.max(np.abs(v_ref - v_loose)),
        reference_spike_change=np.max(np.abs(s_ref - s_loose)),
    )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUTPUT, **data)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e3:.0f} kB), NEURON {neuron.__version__}")
    print(f"reference spikes (ms): {np.round(s_ref, 6)}")
    print(
        f"rtol 1e-10 vs 1e-12: max |ΔV| = {data['reference_v_change']:.1e} mV, "
        f"max |Δt_spike| = {data['reference_spike_change']:.1e} ms"
    )


if __name__ == "__main__":
    main()
