"""Constructs of published `.mod` files (fast tier), on files written from published
equations (validation/nmodl_constructs_vs_neuron.py): a linear KINETIC scheme whose rate
reads one of its states (Destexhe et al. 1996's Ca-regulated Ih) steps as NEURON's
`sparse` — one linear solve with the rates at the old states — and `dt` read by the
procedure a cnexp DERIVATIVE calls (Destexhe's HH2.mod). The slow tier compares both
with NEURON (tests/test_nmodl_constructs_neuron.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import load_mod

_spec = importlib.util.spec_from_file_location(
    "nmodl_constructs_vs_neuron",
    Path(__file__).parent.parent / "validation" / "nmodl_constructs_vs_neuron.py",
)
val = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(val)

DT = 0.025
NAMES = ("c1", "o1", "o2", "p0", "p1")


def _iar_matrix(v, x, p):
    """The scheme's rate matrix A (x' = A·x) with the rates at the states `x`."""
    h_inf = 1 / (1 + np.exp((v + 75) / 5.5))
    tau_s = p["taum"] + 1000 / (np.exp((v + 71.5) / 14.2) + np.exp(-(v + 89) / 11.6))
    a, b = h_inf / tau_s, (1 - h_inf) / tau_s
    k1 = p["k2"] * (p["cai"] / p["cac"]) ** p["nca"]
    k3 = p["k4"] * (x[4] / p["Pc"]) ** p["nexp"]
    k2, k4 = p["k2"], p["k4"]
    return np.array([
        [-a, b, 0, 0, 0],
        [a, -b - k3, k4, 0, 0],
        [0, k3, -k4, 0, 0],
        [0, 0, 0, -k1, k2],
        [0, 0, 0, k1, -k2],
    ])  # fmt: skip


def _be(v, x0, p, rates_at):
    """Backward Euler with the CONSERVE rows (p0 + p1 = 1 replaces p1's equation,
    c1 + o1 + o2 = 1 replaces o2's: each CONSERVE's last state), rates at `rates_at`."""
    m = np.eye(5) - DT * _iar_matrix(v, rates_at, p)
    rhs = np.array(x0, dtype=float)
    m[4], rhs[4] = [0, 0, 0, 1, 1], 1.0
    m[2], rhs[2] = [1, 1, 1, 0, 0], 1.0
    return np.linalg.solve(m, rhs)


def test_linear_kinetic_scheme_is_one_solve_with_rates_at_the_old_states():
    p = {"taum": 20.0, "k2": 0.0004, "cai": 0.01, "cac": 0.002, "nca": 4.0, "k4": 0.001,
         "Pc": 0.01, "nexp": 1.0}  # fmt: skip
    x0 = np.array([0.6, 0.3, 0.1, 0.7, 0.3])
    v = -80.0
    with jax.enable_x64(True):
        mech = load_mod(val.IARX, file="iarx.mod")
        g0 = mech.init(jnp.array([v]), 34.0)._replace(**{n: jnp.array([x]) for n, x in zip(NAMES, x0, strict=True)})
        # jitted: one compile is cheaper than the Newton step's eager op-by-op dispatch
        g1 = jax.jit(lambda g: mech.update(jnp.array([v]), g, DT, 34.0))(g0)
    ours = np.array([float(getattr(g1, n)[0]) for n in NAMES])
    frozen = _be(v, x0, p, x0)  # NEURON: nocmodl marks the scheme linear (_linmat = 1)
    # one 5×5 solve in float64 either way: agreement to rounding (1e-14 absolute)
    np.testing.assert_allclose(ours, frozen, rtol=0, atol=1e-14)
    # the converged backward Euler (rates at the new states) is measurably different:
    # what the importer computed before (0.3 % of the range over a 40 ms run)
    x = x0.copy()
    for _ in range(50):
        x = _be(v, x0, p, x)
    assert np.max(np.abs(x - frozen)) > 1e-7


# slow: ~3 CPU-s of eager tracing for a one-line fix; the fast tier keeps the module
# covered (the other tests here), the slow tier compares this file with NEURON too
@pytest.mark.slow
def test_dt_read_in_the_derivative_procedure():
    # HH2.mod's pattern: the rate procedure of a cnexp DERIVATIVE also computes
    # 1 − exp(−dt/τ) (previously refused: "dt is only available in the SOLVEd block")
    with jax.enable_x64(True):
        mech = load_mod(val.TRAUBX, file="traubx.mod")
        v = jnp.array([-60.0])
        g0 = mech.init(v, 34.0)._replace(m=jnp.array([0.2]))
        g1 = mech.update(v, g0, DT, 34.0)
    # cnexp: m relaxes exactly towards m_inf with τm at −60 mV, 34 °C (the dt factors
    # the procedure also computes are unused here, as in NEURON)
    v2 = -60.0 + 55.0
    a = 0.32 * (13 - v2) / (np.exp((13 - v2) / 4) - 1)
    b = 0.28 * (v2 - 40) / (np.exp((v2 - 40) / 5) - 1)
    tau_m = 1 / (a + b) / 3.0 ** ((34.0 - 36) / 10)
    m_inf = a / (a + b)
    # float64, a few operations: 1e-13 relative
    np.testing.assert_allclose(float(g1.m[0]), m_inf + (0.2 - m_inf) * np.exp(-DT / tau_m),
                               rtol=1e-13)  # fmt: skip


def test_initial_state_depending_on_dt():
    """Poirazi's somacar.mod pattern: INITIAL runs the step procedure once from m = 0,
    h = 1, so the initial state depends on dt — INITIAL sees `dt_init` (NEURON's h.dt,
    0.025 ms by default; `load_mod(..., dt=)`), a step with another dt is refused."""
    import pytest

    v = -50.0
    m_inf = 1 / (1 + np.exp(-(v + 60) / 3))
    h_inf = 1 / (1 + np.exp(v + 62))
    with jax.enable_x64(True):
        mech = load_mod(val.CARX, file="carx.mod")
        assert type(mech).init_depends_dt and mech.dt_init == 0.025
        for dt in (0.025, 0.1):
            m = mech if dt == 0.025 else type(mech)(dt_init=dt)  # load_mod(..., dt=dt)
            g = m.init(jnp.array([v]), 34.0)
            # one step of the procedure from (0, 1), exactly: float64 rounding
            np.testing.assert_allclose(float(g.m[0]), (1 - np.exp(-dt / 100)) * m_inf,
                                       rtol=1e-13)  # fmt: skip
            np.testing.assert_allclose(float(g.h[0]), 1 + (1 - np.exp(-dt / 5)) * (h_inf - 1),
                                       rtol=1e-13)  # fmt: skip
        g = mech.init(jnp.array([v]), 34.0)
        # a step with another dt is refused before anything is traced (stepping with
        # dt_init: the slow tier's NEURON comparison)
        with pytest.raises(ValueError, match=r"carx\.mod: carx's initial state depends on dt"):
            mech.update(jnp.array([v]), g, 0.05, 34.0)
        assert load_mod(val.CARX, file="carx.mod", dt=0.1).dt_init == 0.1
        plain = "NEURON { SUFFIX plain }\nASSIGNED { v (mV) }\nBREAKPOINT { }\n"
        with pytest.raises(ValueError, match="only for a mechanism whose initial state"):
            load_mod(plain, file="plain.mod", dt=0.05)


def test_parameter_defaults_have_six_significant_digits_as_in_neuron():
    """nocmodl writes PARAMETER defaults with printf's %g (D'Angelo's GrC_KA.mod:
    Kalpha_a = -23.32708 runs as -23.3271 in NEURON); a default passed by the user and
    numbers in expressions keep every digit, in NEURON and here."""
    text = """
NEURON { SUFFIX sig RANGE a, b }
PARAMETER { a = -23.32708 (mV) b = 0.018000001 }
ASSIGNED { v (mV) }
BREAKPOINT { }
"""
    with jax.enable_x64(True):
        mech = load_mod(text, file="sig.mod")
        assert float(mech.a) == -23.3271 and float(mech.b) == 0.018
        assert float(load_mod(text, file="sig.mod", a=-23.32708).a) == -23.32708


def test_linear_block_solves_the_initial_equilibrium():
    """`SOLVE equilibrium` of a LINEAR block in INITIAL (Allen's NaV.mod): its equations,
    linear in the STATEs they name, solved exactly; the 3-state scheme starts at the
    equilibrium of its rate matrix (its null vector with c + o + i = 1)."""
    import pytest

    from neurojax.nmodl import NmodlError

    v = -50.0
    a = 4 * np.exp((v + 35) / 18)
    b = 0.3 * np.exp(-(v + 35) / 18)
    kin, kout, kci, kic = 1.5, 0.02, 0.01, 0.05
    q = np.array([[-(a + kci), b, kic], [a, -(b + kin), kout], [kci, kin, -(kout + kic)]])
    m = q.copy()
    m[2] = 1.0  # c + o + i = 1 replaces the last row
    eq = np.linalg.solve(m, [0.0, 0.0, 1.0])
    with jax.enable_x64(True):
        mech = load_mod(val.NAV3, file="nav3x.mod")
        g = mech.init(jnp.array([v]), 34.0)
    ours = np.array([float(g.c[0]), float(g.o[0]), float(g.i[0])])
    # a 3×3 float64 solve either way: rounding (1e-14)
    np.testing.assert_allclose(ours, eq, rtol=0, atol=1e-14)
    np.testing.assert_allclose(q @ ours, 0.0, atol=1e-13)  # an equilibrium of the scheme
    bad = val.NAV3.replace("    ~ c + o + i = 1\n}", "}")
    with pytest.raises(NmodlError, match=r"nav\.mod:\d+: LINEAR equilibrium: 2 equations for the 3"):
        load_mod(bad, file="nav.mod")
    bad = val.NAV3.replace("SOLVE scheme METHOD sparse", "SOLVE equilibrium")
    with pytest.raises(NmodlError, match=r"nav\.mod:\d+: SOLVE equilibrium \(a LINEAR block\) in BREAKPOINT"):
        load_mod(bad, file="nav.mod")


def test_vecstim_refusal_says_what_to_do():
    from neurojax.nmodl import NmodlError

    text = """
NEURON { ARTIFICIAL_CELL VecStim }
ASSIGNED { index etime (ms) space }
INITIAL { index = 0 }
VERBATIM
extern double* vector_vec();
ENDVERBATIM
"""
    with pytest.raises(NmodlError, match=r"vs\.mod:5: VERBATIM .* give the times to Cell\.event_input"):
        load_mod(text, file="vs.mod")
