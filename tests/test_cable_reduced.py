"""Dendrify-style reduced neurons: the validation cases of Pagkalos et al. (2023) —
input resistance, membrane time constant, somato-dendritic attenuation (all against the
closed forms of the RC circuit) and the dendritic input–output curve (linear when
passive, supralinear with dSpikes)."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Compartment, DSpikes, ReducedCell


def two_compartments(dspikes=None, gl=0.04):
    soma = Compartment("soma", length=25.0, diameter=25.0, gl=gl, e_l=-70.0)
    dend = Compartment("dend", length=150.0, diameter=1.0, gl=gl, e_l=-70.0, dspikes=dspikes)
    return ReducedCell.build([soma, dend], [("soma", "dend")], v_th=1e3)  # no somatic spikes


def test_areas_and_half_cylinder_coupling():
    cell = two_compartments()
    area = np.array([np.pi * 25 * 25, np.pi * 150 * 1.0])  # µm², open cylinders
    np.testing.assert_allclose(cell.c, 1.0 * area * 1e-5, rtol=1e-6)  # nF
    np.testing.assert_allclose(cell.g_l, 0.04 * area * 1e-5, rtol=1e-6)  # µS
    r = [4 * 150.0 * L * 1e-4 / (np.pi * (d * 1e-4) ** 2) * 1e-6 for L, d in ((25, 25), (150, 1))]
    assert float(cell.g_couple[0]) == pytest.approx(1 / ((r[0] + r[1]) / 2), rel=1e-6)


def test_input_resistance_time_constant_and_attenuation(x64):
    cell = two_compartments()
    gs, gd = (float(x) for x in cell.g_l)
    gc = float(cell.g_couple[0])
    amp, dt, n = 0.01, 0.05, 8000  # 10 pA for 400 ms ≫ τ = 25 ms
    # soma injection: R_in = (gc + gd) / (gs·gd + gc·(gs + gd))
    sol = nj.simulate(
        cell, jnp.zeros((n, 2)).at[:, 0].set(amp), dt=dt, solver=nj.solvers.BackwardEuler()
    )
    r_in = (gc + gd) / (gs * gd + gc * (gs + gd))  # MΩ
    assert float(sol.v[-1, 0] + 70.0) / amp == pytest.approx(r_in, rel=1e-6)
    np.testing.assert_allclose(np.linalg.inv(cell.conductance_matrix())[0, 0], r_in, rtol=1e-10)
    # dendritic injection: steady-state attenuation V_s/V_d = gc / (gc + gs)
    sol = nj.simulate(
        cell, jnp.zeros((n, 2)).at[:, 1].set(amp), dt=dt, solver=nj.solvers.BackwardEuler()
    )
    dv = np.asarray(sol.v[-1]) + 70.0
    assert dv[0] / dv[1] == pytest.approx(gc / (gc + gs), rel=1e-6)
    # time constant: the late decay after a pulse follows the slowest mode of C⁻¹G
    sol = nj.simulate(
        cell, jnp.zeros((n, 2)).at[:20, 0].set(amp), dt=dt / 10, solver=nj.solvers.CrankNicolson()
    )
    lam = np.sort(
        np.linalg.eigvals(
            np.diag(1 / np.asarray(cell.c)) @ np.asarray(cell.conductance_matrix())
        ).real
    )
    v = np.asarray(sol.v[:, 0]) + 70.0
    k1, k2 = 3000, 6000  # 60 ms and 120 ms: the fast mode (τ ≈ 1/λ₂ < 3 ms) is gone
    tau = (k2 - k1) * dt / 10 / np.log(v[k1] / v[k2])
    assert tau == pytest.approx(1 / lam[0], rel=1e-4)
    # both compartments have cm/gl = 25 ms, so the uniform mode has exactly τ = cm/gl
    assert 1 / lam[0] == pytest.approx(25.0, rel=1e-9)


def test_dendritic_input_output_curve_linear_then_supralinear():
    """Peak dendritic depolarisation for k simultaneous unitary EPSC-like inputs
    (0.5 ms pulses into the dendrite) against k × the unitary response."""
    ks = np.arange(1, 13)
    dt, n = 0.025, 1200
    pulse = jnp.zeros((n, 2)).at[200:220, 1].set(0.05)  # 50 pA, 0.5 ms: ~3.8 mV each
    amps = jnp.stack([pulse * k for k in ks], axis=1)  # (n, 12, 2)
    out = {}
    for name, ds in (("passive", None), ("active", DSpikes(g_rise=0.02, g_fall=0.014))):
        cell = two_compartments(ds)
        sol = nj.simulate(cell, amps, dt=dt)
        out[name] = np.asarray(sol.v[:, :, 1].max(axis=0)) + 70.0
        if name == "active":
            n_dspikes = np.asarray(sol.spikes["dspikes"][:, :, 1].sum(axis=0))
    expected = ks * out["passive"][0]
    # passive: linear to round-off (float32)
    np.testing.assert_allclose(out["passive"], expected, rtol=1e-4)
    # active: identical below threshold, then a dendritic spike: a jump far above linear
    below = n_dspikes == 0
    assert below[0] and not below[-1]
    np.testing.assert_allclose(out["active"][below], expected[below], rtol=1e-4)
    assert np.all(out["active"][~below] > 1.5 * expected[~below])
    assert np.all(n_dspikes <= 1)  # refractory: one dSpike per input


def test_dspike_pulses_have_dendrifys_timing():
    ds = DSpikes(g_rise=0.02, g_fall=0.014, duration_rise=0.5, offset_fall=0.5, duration_fall=1.0)
    cell = two_compartments(ds)
    dt = 0.025
    sol = nj.simulate(cell, jnp.zeros((800, 2)).at[200:220, 1].set(0.6), dt=dt)
    rise, fall = np.asarray(sol.states.rise[:, 1]), np.asarray(sol.states.fall[:, 1])
    # Dendrify (Brian2) keeps g_fall on while `spiketime + offset <= t <= spiketime +
    # offset + duration`, both ends inclusive: duration/dt + 1 = 41 steps, from the
    # update of step s + 20 (state row s + 19); the rise, which starts after s, 20 steps
    # (checked against dendrify 2.2 itself in tests/test_dendritic_network_dendrify.py)
    assert rise.sum() * dt == pytest.approx(0.5) and fall.sum() == 41
    t_spike = int(np.argmax(np.asarray(sol.spikes["dspikes"][:, 1])))
    assert int(np.argmax(rise)) == t_spike and int(np.argmax(fall)) == t_spike + 19


def test_soma_fires_and_resets():
    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-65.0)
    dend = Compartment("dend", c_abs=0.05, gl_abs=0.0025, e_l=-65.0)
    cell = ReducedCell.build(
        [soma, dend], [("soma", "dend", 0.015)], v_th=-50.0, v_reset=-65.0, t_ref=2.0
    )
    sol = nj.simulate(cell, jnp.zeros((4000, 2)).at[:, 0].set(0.3), dt=0.05)
    n = int(sol.spikes["soma"].sum())
    assert n > 3 and float(sol.v[:, 0].max()) < -50.0


def test_bad_reduced_cells():
    with pytest.raises(ValueError, match="either length and diameter"):
        Compartment("x", length=10.0, diameter=1.0, c_abs=0.1, gl_abs=0.01)
    with pytest.raises(ValueError, match="must be > 0"):
        Compartment("x", length=-10.0, diameter=1.0)
    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01)
    with pytest.raises(ValueError, match="not a compartment"):
        ReducedCell.build([soma], [("soma", "dend")])
    with pytest.raises(ValueError, match="dimensionless"):
        ReducedCell.build([soma, Compartment("d", c_abs=0.1, gl_abs=0.01)], [("soma", "d")])
    cell = ReducedCell.build(
        [soma, Compartment("d", c_abs=0.1, gl_abs=0.01)], [("soma", "d", 0.01)]
    )
    with pytest.raises(ValueError, match=r"shaped \(n_steps, \*batch, 2\)"):
        nj.simulate(cell, jnp.zeros((10, 3)), dt=0.1)
    with pytest.raises(TypeError, match="cannot integrate"):
        nj.simulate(cell, jnp.zeros((10, 2)), dt=0.1, solver=nj.ExponentialEuler())
