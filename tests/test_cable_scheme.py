"""The default cable scheme, `TRBDF2`: no ringing after a jump of the inputs (a
voltage-clamp step, a one-step synaptic event), second order on smooth inputs — also for
an input on a membrane-less branch end —, and exact gradients. Crank–Nicolson (NEURON's
`secondorder = 2`) is the contrast: it rings after the same jumps. docs/numerics.md
("Cables") has the measured errors of every candidate scheme."""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import neurojax as nj
from neurojax._model import parameter
from neurojax.cable import HH, Branch, Cell, Morphology, Passive

GAMMA = 2 - math.sqrt(2)
BETA = (1 - GAMMA) ** 2 / (GAMMA * (2 - GAMMA))  # = (√2 − 1)/2 ≈ 0.207


def r_trbdf2(z):
    """TR-BDF2's amplification factor on `y' = λy`, `z = λ·dt`: the trapezoid to γ·dt,
    then BDF2. Over z < 0 it lies in [−β, 1): L-stable (→ 0 as z → −∞), and a stiff
    mode overshoots by at most β ≈ 0.207 of its amplitude, once, then decays ≥ 4.8× per
    step — against Crank–Nicolson's factor → −1."""
    r_tr = (1 + GAMMA * z / 2) / (1 - GAMMA * z / 2)
    return ((1 + BETA) * r_tr - BETA) / (1 - GAMMA * z / 2)


R = {
    "TRBDF2": r_trbdf2,
    "CrankNicolson": lambda z: (1 + z / 2) / (1 - z / 2),
    "BackwardEuler": lambda z: 1 / (1 - z),
}
SOLVERS = {
    "TRBDF2": nj.TRBDF2,
    "CrankNicolson": nj.CrankNicolson,
    "BackwardEuler": nj.BackwardEuler,
}


def test_trbdf2_amplification_factor_is_bounded_below_by_minus_beta():
    z = -np.logspace(-4, 8, 200001)
    r = r_trbdf2(z)
    assert r.min() == pytest.approx(-BETA, rel=1e-6)  # reached at z ≈ −8.24
    assert np.all(r < 1) and abs(r[-1]) < 1e-7  # L-stable
    # second order: R(z) − eᶻ = C·z³ + …, C = 0.0404 (Crank–Nicolson: 1/12)
    zs = np.array([1e-2, 5e-3])
    c = (r_trbdf2(-zs) - np.exp(-zs)) / (-zs) ** 3
    assert c == pytest.approx([0.0404, 0.0404], rel=0.02)


def test_is_the_default_for_cells():
    cell = Cell(Morphology([Branch(20.0, 20.0)]), [(Passive(), None)])
    assert isinstance(nj.solvers.default_solver(cell), nj.TRBDF2)


@pytest.mark.parametrize("scheme", list(SOLVERS))
def test_clamped_compartment_follows_the_schemes_amplification_factor(x64, scheme):
    """One passive compartment clamped through rs: `C V' = −(g_L + g_s)(V − V∞)`, so after
    the command steps, `V_k − V∞ = R(z)^k (V_0 − V∞)` with `z = −dt (g_L + g_s)/C` — exactly
    (the membrane-less end nodes follow the centre). TR-BDF2 integrates a clamped node's
    own mode exactly, `R = eᶻ` (without that it overshot by R(−200) = 2.3 % once:
    tests/test_cable_vclamp_gates.py); Crank–Nicolson flips sign every step with factor
    −0.98."""
    cell = Cell(
        Morphology([Branch(20.0, 20.0)]),
        [(Passive(g=0.1, e=-65.0), None)],
        vclamps=[(0, 0.5)],
        rs_clamp=0.01,
    )
    dt, k0, n = 0.025, 8, 16
    cmd = np.where(np.arange(n) >= k0, 0.0, -65.0)[:, None]
    sol = nj.simulate(cell, {"v_clamp": jnp.asarray(cmd)}, dt=dt, solver=SOLVERS[scheme]())
    v = np.asarray(sol.v[:, cell.node(0, 0.5)])
    area = np.pi * 20.0 * 20.0  # µm²
    c, g_l, g_s = area * 1e-5, 0.1 * area * 1e-5, 100.0  # nF, µS, µS
    v_inf = g_s * 0.0 / (g_l + g_s) + g_l * -65.0 / (g_l + g_s)
    z = -dt * (g_l + g_s) / c
    r = math.exp(z) if scheme == "TRBDF2" else R[scheme](z)  # TRBDF2: solvers._clamped_modes
    expected = v_inf + r ** np.arange(1, n - k0 + 1) * (-65.0 - v_inf)
    np.testing.assert_allclose(v[k0:], expected, rtol=1e-9, atol=1e-9)
    if scheme == "CrankNicolson":
        assert v[k0] > 60.0 and v[k0 + 1] < -60.0  # the documented ringing
    else:
        assert v[k0] < 2.0 and abs(v[k0 + 1] - v_inf) < 0.05


def _ball_and_stick(**sites):
    morph = Morphology([Branch(20.0, 20.0, type="soma"), Branch(200.0, 1.0, parent=0, nseg=9)])
    return Cell(morph, [(Passive(g=0.1, e=-65.0), None)], **sites)


@pytest.mark.parametrize("dt", [0.1, 0.025, 0.01])
def test_no_ringing_after_a_somatic_voltage_clamp_step(x64, dt):
    """The SEClamp-like clamp (rs = 0.01 MΩ) steps −65 → 0 mV at 1 ms. The soma's clamp
    mode has z = −dt/(rs·C_soma) (−800 … −80): TR-BDF2 may overshoot by |R(z)|·65 mV once
    (0.39 / 1.5 / 3.5 mV measured, 10 % margin; never more than β·65 = 13.5 mV at any dt),
    the next step is within a quarter of that, and the dendrite tip charges monotonically.
    Crank–Nicolson reads +63.6, −62.4, +61.1, … mV at dt = 0.025 (docs/numerics.md)."""
    cell = _ball_and_stick(vclamps=[(0, 0.5)])
    n, k0 = int(round(4.0 / dt)), int(round(1.0 / dt))
    cmd = np.where(np.arange(n) >= k0, 0.0, -65.0)[:, None]
    sites = [(0, 0.5), (1, 1.0)]
    rec = nj.SaveAt(fn=cell.record_v(sites))

    def run(solver):
        sol = nj.simulate(cell, {"v_clamp": jnp.asarray(cmd)}, dt=dt, solver=solver, saveat=rec)
        return np.asarray(sol.states)

    v = run(nj.TRBDF2())
    soma, tip = v[k0:, 0], v[k0:, 1]
    c_soma = np.pi * 20.0 * 20.0 * 1e-5  # nF
    bound = 1.1 * abs(r_trbdf2(-dt / (0.01 * c_soma))) * 65.0
    assert soma.max() <= min(bound, BETA * 65.0), (soma[:4], bound)
    assert np.all(np.abs(soma[1:]) <= 0.25 * abs(soma[0]) + 0.02), soma[:6]
    assert np.all(np.diff(tip) >= 0.0)  # monotone charging of the far end
    assert abs(soma[-1]) < 0.01  # settled (the clamp's own error through rs: 1.2 µV)
    if dt == 0.025:
        cn = run(nj.CrankNicolson())[k0:, 0]
        assert cn[0] > 60.0 and cn[1] < -60.0 and cn[2] > 60.0


@pytest.mark.parametrize("x", [0.5, 1.0])  # a segment centre; the membrane-less tip
@pytest.mark.parametrize("dt", [0.1, 0.025])
def test_no_ringing_after_a_synaptic_event(x64, x, dt):
    """A conductance pulse of one step (an event arriving at an instant-rise synapse) on
    the thin dendrite: after it, the voltage there must decay monotonically, as the
    cable's does. Crank–Nicolson zig-zags by 8 mV at the segment centre (measured 1.0,
    9.2, 1.3, 6.5 mV above rest at dt = 0.1)."""
    cell = _ball_and_stick(synapses=[(1, x, 0.0)])
    n, k0 = int(round(4.0 / dt)), int(round(1.0 / dt))
    g = np.zeros((n, 1))
    g[k0] = 0.05 * 0.025 / dt  # µS: the same charge at both steps
    rec = nj.SaveAt(fn=cell.record_v([(1, x)]))

    def run(solver):
        sol = nj.simulate(cell, {"g_syn": jnp.asarray(g)}, dt=dt, solver=solver, saveat=rec)
        return np.asarray(sol.states[:, 0])

    v = run(nj.TRBDF2())
    assert v[k0] > -60.0  # the event depolarised the site by > 5 mV
    assert np.all(np.diff(v[k0:]) <= 0.0), np.round(v[k0 : k0 + 5], 3)
    if x == 0.5:
        assert np.diff(run(nj.CrankNicolson())[k0:]).max() > 5.0


def _smooth_cell():
    morph = Morphology([Branch(20.0, 20.0, type="soma"), Branch(200.0, 1.0, parent=0, nseg=9)])
    return Cell(
        morph,
        [(HH(), "soma"), (Passive(g=0.1, e=-65.0), [1])],
        clamps=[(0, 0.5)],
        synapses=[(1, 1.0, 0.0)],  # on the membrane-less tip
    )


def _smooth_inputs(dt, t_end=10.0, hold=0.1):
    """A sinusoidal somatic current and an alpha-shaped conductance at the dendrite tip,
    sampled every `hold` = 0.1 ms (at mid-interval) and held: the same input function for
    every dt (a multiple of it divides `hold`), so the runs converge to one solution.
    (A smooth input sampled afresh at each dt would add the hold's own first-order error
    at the tip, which has no capacitance and follows its input within the step: a
    quadrature error of the input, whatever the scheme.)"""
    t = (np.arange(int(round(t_end / hold))) + 0.5) * hold
    i = 0.01 * np.sin(2 * np.pi * t / 5.0)  # nA: subthreshold
    g = 0.0005 * (t / 2.0) * np.exp(1 - t / 2.0)  # µS, peak at 2 ms
    k = int(round(hold / dt))
    return {
        "i_clamp": jnp.asarray(np.repeat(i, k)[:, None]),
        "g_syn": jnp.asarray(np.repeat(g, k)[:, None]),
    }


def _run_smooth(solver, dt):
    cell = _smooth_cell()
    every = int(round(0.1 / dt))
    sol = nj.simulate(
        cell,
        _smooth_inputs(dt),
        dt=dt,
        solver=solver,
        saveat=nj.SaveAt(every=every, fn=cell.record_v([(0, 0.5), (1, 1.0)])),
    )
    return np.asarray(sol.states)


@pytest.mark.slow  # a convergence study over three dt (the slow reliability matrix too)
def test_second_order_on_smooth_inputs_also_at_a_branch_end(x64):
    """HH soma and passive dendrite, a smooth current at the soma and a smooth conductance
    at the membrane-less tip (held on a 0.1 ms grid): halving dt quarters the error
    (measured 8.6e-3, 1.0e-3, 2.5e-4 mV at dt = 0.1, 0.05, 0.025 ms; observed order
    ≥ 1.9). The tip's Kirchhoff row is put on each step's input before the stages;
    Crank–Nicolson, which does not, is first order there (0.045, 0.023 mV at 0.05,
    0.025 ms; checked as the contrast: order < 1.3)."""
    ref = _run_smooth(nj.TRBDF2(), 0.1 / 32)  # its own error: ~4e-6 mV
    dts = (0.1, 0.05, 0.025)
    err = [np.abs(_run_smooth(nj.TRBDF2(), dt) - ref).max() for dt in dts]
    orders = np.log2(np.array(err[:-1]) / np.array(err[1:]))
    assert np.all(orders > 1.9), (err, orders)
    cn = [np.abs(_run_smooth(nj.CrankNicolson(), dt) - ref).max() for dt in dts[1:]]
    assert np.log2(cn[0] / cn[1]) < 1.3, cn


# slow tier: finite-difference validation; tests/test_cable_cell.py keeps a cell gradient check fast
@pytest.mark.slow
def test_gradient_matches_central_differences(x64):
    """Through both tree solves per step (each differentiated by one transposed solve),
    the Kirchhoff projection at the tip, a voltage clamp stepping mid-run and a
    conductance input on the membrane-less tip: reverse mode against central differences
    and forward mode, in float64."""
    morph = Morphology([Branch(20.0, 20.0, type="soma"), Branch(200.0, 1.0, parent=0, nseg=5)])
    n, dt = 200, 0.025
    cmd = jnp.asarray(np.where(np.arange(n) >= 40, -40.0, -65.0)[:, None])
    g = jnp.asarray(np.where((np.arange(n) >= 80) & (np.arange(n) < 120), 0.003, 0.0)[:, None])

    def loss(p):
        cell = Cell(
            morph,
            [(HH(g_na=p[0], g_k=p[1]), "soma"), (Passive(g=p[2], e=-65.0), [1])],
            cm=p[3],
            vclamps=[(0, 0.5)],
            synapses=[(1, 1.0, 0.0)],
            rs_clamp=p[4],
        )
        sol = nj.simulate(
            cell,
            {"v_clamp": cmd, "g_syn": g},
            dt=dt,
            solver=nj.TRBDF2(),
            saveat=nj.SaveAt(fn=cell.record_v([(0, 0.5), (1, 1.0)])),
        )
        return jnp.mean((sol.states + 60.0) ** 2)

    p0 = jnp.array([120.0, 36.0, 0.1, 1.0, 5.0])  # rs = 5 MΩ: the soma follows the command
    grad = jax.jit(jax.grad(loss))(p0)
    loss = jax.jit(loss)
    for k in range(p0.size):
        eps = 1e-5 * float(p0[k])
        fd = (loss(p0.at[k].add(eps)) - loss(p0.at[k].add(-eps))) / (2 * eps)
        assert float(grad[k]) == pytest.approx(float(fd), rel=1e-6, abs=1e-10), (k, grad[k], fd)
    direction = jnp.array([1.0, -2.0, 0.5, 0.3, -1.0])
    _, jvp = jax.jvp(loss, (p0,), (direction,))
    assert float(jvp) == pytest.approx(float(grad @ direction), rel=1e-9)


# ------------------------------------------------------------------ Coupled models


class _State(NamedTuple):
    v: jax.Array


class _TwoCompartments(nj.AbstractModel):
    """`dv/dt = A v`, A = [[−g_l − g_c, g_c], [g_c, −g_l − g_c]]: a stiff coupled pair
    (fast mode 1000.1/ms, slow 0.1/ms)."""

    g_l: jax.Array = parameter(0.1)
    g_c: jax.Array = parameter(500.0)

    def init_state(self, batch_shape=()):
        return _State(v=jnp.array([1.0, 0.0]))

    def vector_field(self, t, y, current):
        g, c = self.g_l, self.g_c
        return _State(v=jnp.array([[-g - c, c], [c, -g - c]]) @ y.v + current)

    def batch_shape(self, inputs):
        return ()


def _coupled(dt, t_end=2.0):
    sol = nj.simulate(_TwoCompartments(), jnp.zeros(round(t_end / dt)), dt=dt, solver=nj.TRBDF2())
    a = np.array([[-500.1, 500.0], [500.0, -500.1]])
    return np.asarray(sol.v[-1]), scipy.linalg.expm(a * t_end) @ np.array([1.0, 0.0])


def test_coupled_models_second_order_and_stiffly_damped(x64):
    """On a `Coupled` model TR-BDF2 takes dense solves with the exact Jacobian: second
    order once dt resolves the fast mode, and at |λ|·dt = 100 the fast mode is damped to
    R(−100)^20 ≈ 1e-29 (Crank–Nicolson keeps 0.5·0.96^20 = 0.22 of it)."""
    errors = []
    for dt in (2e-4, 1e-4):
        got, exact = _coupled(dt)
        errors.append(np.abs(got - exact).max())
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)
    assert errors[1] < 1e-6
    got, exact = _coupled(0.1)
    np.testing.assert_allclose(got, exact, atol=1e-4)
