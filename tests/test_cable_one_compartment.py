"""A one-compartment `cable.Cell` is a point neuron for the analysis (issue 18 item 1):
`fixed_points`, `continuation`, `fi_curve` accept it (`analysis.OneCompartment`: scalar
state at the membrane node, current in nA as NEURON's `IClamp.amp`), and agree with the
point `HodgkinHuxley` after the unit conversion `I_nA = I_µA/cm² · area_µm² · 1e-5`;
a multi-compartment cell is refused naming its number of compartments; `neurojax.fit`
fits the cell's HH densities under current clamp.

Fast tier: the refusals (no compilation) and the resting equilibrium of `cable.HH` in
one compartment against the point HH (the module's only fast accuracy check: one
compiled analysis). Slow tier: the Hopf current (a continuation each), `hh.mod` through
`neurojax.nmodl`, the f–I curve and the fit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import analysis
from neurojax.analysis._units import unit_of
from neurojax.cable import HH, Branch, Cell, Morphology

# a 10 µm × 10 µm cylinder: area π·10·10 = 314.159 µm², so 1 µA/cm² = 3.14159e-3 nA
L, DIAM = 10.0, 10.0


def _cell(mechanism=None, **kw):
    return Cell(Morphology([Branch(L, DIAM, nseg=1)]), [(mechanism or HH(), None)], **kw)


def _per_density(cell) -> float:
    """nA per µA/cm² for this compartment (area µm² · 1e-5)."""
    return analysis.OneCompartment(cell).density_to_nA(1.0)


def _hh_mod():
    spec = importlib.util.find_spec("neuron")
    # NEURON is a dev dependency (`pip install -e ".[dev]"`): its absence fails here, as in
    # the other NMODL comparisons, rather than skipping the check
    assert spec is not None, "NEURON is not installed: hh.mod is read from its wheel"
    path = Path(spec.origin).parent / ".data" / "share" / "modfile" / "hh.mod"
    from neurojax.nmodl import load_mod

    return load_mod(path)


# --------------------------------------------------------------------------------- fast


def test_area_conversion_is_the_compartments_area():
    cell = _cell()
    # the lateral area of the cylinder, NEURON's seg.area(): π·d·L µm²
    np.testing.assert_allclose(analysis.OneCompartment(cell).area, np.pi * DIAM * L, rtol=1e-12)
    np.testing.assert_allclose(_per_density(cell), np.pi * DIAM * L * 1e-5, rtol=1e-12)
    # every analysis result labels the cell's current as NEURON's IClamp: nA
    assert unit_of(cell, "current") == "nA" and unit_of(cell, "v") == "mV"


@pytest.mark.parametrize(
    "morph, n",
    [
        (Morphology([Branch(100.0, 2.0, nseg=3)]), 3),
        (Morphology([Branch(20.0, 20.0, nseg=1), Branch(100.0, 2.0, parent=0, nseg=1)]), 2),
    ],
)
def test_multi_compartment_cell_is_refused_naming_the_count(morph, n):
    cell = Cell(morph, [(HH(), None)])
    for fn in (
        lambda: analysis.fixed_points(cell),
        lambda: analysis.continuation(cell, 0.0, 0.1),
        lambda: analysis.phase_plane(cell, 0.0, variables=("v", "n_hh")),
        lambda: analysis.fi_curve(cell, [0.1]),
    ):
        with pytest.raises(TypeError, match=f"has {n} compartments"):
            fn()


def test_voltage_clamped_cell_is_refused():
    cell = _cell(vclamps=[(0, 0.5)])
    with pytest.raises(ValueError, match="voltage-clamp"):
        analysis.fixed_points(cell)


def _hh_rest(current: float) -> tuple[float, ...]:
    """Reference: HH's resting state at `current` µA/cm² from the 1952 equations (HH's
    standard parameters, e_l = −54.3 mV, 6.3 °C), by bisection on the steady-state I–V
    curve in numpy — independent of neurojax's code. Returns (v, m, h, n)."""

    def gates(v):
        am = 0.1 * (v + 40) / (1 - np.exp(-(v + 40) / 10))
        bm = 4 * np.exp(-(v + 65) / 18)
        ah = 0.07 * np.exp(-(v + 65) / 20)
        bh = 1 / (1 + np.exp(-(v + 35) / 10))
        an = 0.01 * (v + 55) / (1 - np.exp(-(v + 55) / 10))
        bn = 0.125 * np.exp(-(v + 65) / 80)
        return am / (am + bm), ah / (ah + bh), an / (an + bn)

    def net(v):  # inward-positive net current at steady-state gates
        m, h, n = gates(v)
        return current - (120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.3))

    lo, hi = -80.0, -50.0  # net(lo) > 0 > net(hi) for currents of 0..10 µA/cm²
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if net(mid) > 0 else (lo, mid)
    v = 0.5 * (lo + hi)
    return (v, *gates(v))


def test_rest_of_cable_hh_is_the_hh_rest(x64):
    """The cell's equilibrium is HH's, at 0 and at 5 µA/cm² converted to nA. Tolerance
    1e-10 relative: Newton (fixed_points) converges to ~1e-12 and the bisection to
    float64 resolution; the two codes differ only by floating-point order. The cell is
    built in float64 (x64): built in float32, its e_l = −54.3 is stored as −54.29999924
    and the rest moves by 3.6e-8 relative (measured)."""
    cell = _cell()
    (fc,) = analysis.fixed_points(cell, current=0.0)
    assert fc.stability == "stable focus"  # HH's rest (slow test: eigenvalues = point HH's)
    g = fc.state  # the state: v, then each mechanism's states under NEURON's names
    assert g._fields == ("v", "m_hh", "h_hh", "n_hh")
    np.testing.assert_allclose([g.v, g.m_hh, g.h_hh, g.n_hh], _hh_rest(0.0), rtol=1e-10)
    # a depolarising current (nA) moves the rest as the point neuron's µA/cm² would
    (fc5,) = analysis.fixed_points(cell, current=5.0 * _per_density(cell))
    np.testing.assert_allclose(list(fc5.state), _hh_rest(5.0), rtol=1e-10)
    assert fc5.v > fc.v + 1.0


# --------------------------------------------------------------------------------- slow


# slow: one continuation per model (~10 CPU-s); the rest test above keeps the module covered
@pytest.mark.slow
@pytest.mark.parametrize("source", ["cable.HH", "hh.mod"])
def test_hopf_current_of_the_cell_is_the_point_hh_hopf(x64, source):
    """The Hopf point (onset of repetitive firing at HH's standard parameters, 9.7493
    µA/cm²) of the one-compartment cell, converted from nA, equals the point neuron's.
    Tolerance 1e-8 relative: each Hopf point is bisected along its chord to 1e-14 and
    the test function (real part of the critical pair) is exact to ~1e-13 (eigenvalues of
    a 4×4 Jacobian in float64); measured agreement 1e-15. hh.mod is built in float64
    (x64): its parameters are arrays of the precision at construction, and a float32
    gnabar = 0.12 would shift the Hopf by 8e-8 relative (measured)."""
    mech = HH() if source == "cable.HH" else _hh_mod()
    cell = _cell(mech)
    a = _per_density(cell)
    (fc,) = analysis.fixed_points(cell, current=0.0)
    (fp,) = analysis.fixed_points(nj.HodgkinHuxley(), current=0.0)
    np.testing.assert_allclose(fc.v, fp.v, rtol=1e-10)
    # the linearisation too: eigenvalues measured equal to 5e-16 (cable.HH)
    np.testing.assert_allclose(fc.eigenvalues, fp.eigenvalues, rtol=1e-9, atol=1e-12)
    (hc,) = analysis.continuation(cell, 5.0 * a, 15.0 * a, max_step=1.0).hopfs
    (hp,) = analysis.continuation(nj.HodgkinHuxley(), 5.0, 15.0, max_step=1.0).hopfs
    np.testing.assert_allclose(hc.parameter / a, hp.parameter, rtol=1e-8)
    np.testing.assert_allclose(hc.v, hp.v, rtol=1e-8)
    np.testing.assert_allclose(hc.omega, hp.omega, rtol=1e-6)
    np.testing.assert_allclose(hp.parameter, 9.7493, atol=1e-4)  # HH's onset, e_l = -54.3


# slow: two bifurcation diagrams with limit cycles (~2.5 CPU-min, measured); the rest
# test keeps the module covered
@pytest.mark.slow
def test_bifurcation_diagram_of_the_cell_is_the_point_hh_diagram(x64):
    """Hopf point and fold of limit cycles (HH's bistable range, 6.234–9.749 µA/cm² at
    e_l = −54.3) of the cell, converted from nA, equal the point neuron's. Tolerance
    1e-6 relative: the fold of cycles is located by Newton on the same periodic-orbit
    equations of the same ODE (shooting residual ~1e-10); the two differ only by the
    parameter's scale (measured: 6.2342213 both, to the 8 digits printed)."""
    cell = _cell()
    a = _per_density(cell)
    dc = analysis.bifurcation_diagram(cell, 0.0, 20.0 * a)
    dp = analysis.bifurcation_diagram(nj.HodgkinHuxley(), 0.0, 20.0)
    assert dc.units.get("current") == "nA"
    fc = [f.parameter / a for f in dc.cycle_folds]
    fp = [f.parameter for f in dp.cycle_folds]
    assert len(fc) == len(fp) >= 1
    np.testing.assert_allclose(fc, fp, rtol=1e-6)
    np.testing.assert_allclose(min(fp), 6.2342, atol=1e-4)  # HH's fold of cycles (e_l −54.3)
    bc, bp = np.array(dc.bistable) / a, np.array(dp.bistable)
    assert bc.shape == bp.shape and len(bp) >= 1
    np.testing.assert_allclose(bc, bp, rtol=1e-6)


# slow: two 300 ms population simulations (~8 CPU-s); the rest test keeps the module covered
@pytest.mark.slow
def test_fi_curve_of_the_cell_is_the_point_hh_fi_curve():
    """Same ODE, same solver (ExponentialRK2, dt 0.025 ms): the rates agree to the rate's
    resolution, one step per inter-spike window (dt/(t_k − t_1) ≤ dt/ISI relative: ISI
    ≥ 8.5 ms here, so 3e-3); below rheobase both are silent."""
    cell = _cell()
    a = _per_density(cell)
    currents = np.array([5.0, 10.0, 20.0, 50.0])  # µA/cm²
    kw = dict(duration=300.0, transient=100.0, dt=0.025, solver=nj.ExponentialRK2())
    fc = analysis.fi_curve(cell, currents * a, **kw)
    fp = analysis.fi_curve(nj.HodgkinHuxley(), currents, **kw)
    assert fc.units == {"current": "nA"}
    assert fc.rate.shape == fp.rate.shape == (4,)
    assert fc.rate[0] == fp.rate[0] == 0.0
    assert np.all(fc.rate[1:] > 60.0)
    np.testing.assert_allclose(fc.rate, fp.rate, rtol=0.025 / 8.5)


# slow: a fit through 40 ms of simulation (~20 CPU-s); the rest test keeps the module covered
@pytest.mark.slow
def test_fit_recovers_the_cells_hh_densities():
    """neurojax.fit on a one-compartment Cell under current clamp: g_na and g_k of its
    HH mechanism from +20 % / −20 % back to the truth. Tolerance 1e-3 relative: a
    noise-free target from the same model (float32 simulation: the loss floor is
    roundoff, ~1e-6 mV²)."""
    truth = _cell(clamps=[(0, 0.5)])
    a = _per_density(truth)
    n = 1600  # 40 ms at 0.025 ms: two spikes under 10 µA/cm²
    inputs = jnp.full((n, 1), 10.0 * a)
    record = nj.SaveAt(fn=truth.record_v([(0, 0.5)]))
    target = nj.simulate(truth, inputs, dt=0.025, saveat=record)  # a Solution
    start = _cell(HH(g_na=144.0, g_k=28.8), clamps=[(0, 0.5)])
    res = nj.fit(
        start,
        inputs,
        target,
        dt=0.025,
        trainable=lambda c: (c.mechanisms[0].g_na, c.mechanisms[0].g_k),
        saveat=record,
        steps=100,
        progress_meter=nj.NoProgress(),
    )
    hh = res.model.mechanisms[0]
    np.testing.assert_allclose([float(hh.g_na), float(hh.g_k)], [120.0, 36.0], rtol=1e-3)
