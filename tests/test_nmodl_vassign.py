"""`v` assigned inside a density mechanism (fast tier): NEURON's per-entry-point copy.

nocmodl's C gives a density mechanism its own copy of v, set from the node's voltage at
the start of nrn_init, of each of nrn_cur's `_nrn_current` runs and of nrn_state; an
assignment changes that copy for the rest of the entry point, never the membrane
voltage (Hay et al. 2011's K_Pst.mod `v = v + 10 … v = v - 10`, NaTa_t.mod's
`if (v == -38) { v = v + 0.0001 }`). The self-written files are
validation/nmodl_vassign_vs_neuron.py's; the closed forms below are their equations at
the shifted voltage. The slow tier compares them (and the published files where
fetched) with NEURON (tests/test_nmodl_vassign_neuron.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

_spec = importlib.util.spec_from_file_location(
    "nmodl_vassign_vs_neuron",
    Path(__file__).parent.parent / "validation" / "nmodl_vassign_vs_neuron.py",
)
val = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(val)

DT, CELSIUS = 0.025, 34.0
# the closed forms and the interpreter evaluate the same float64 expressions in a
# different order: agreement to a few ulps of O(1) values
TOL = 1e-13


def test_shift_and_restore_in_rates():
    """kshift: rates() at v + 10, then v restored: the gates start (INITIAL) and step
    (cnexp) with the rates at v + 10; the current is at v itself."""
    with jax.enable_x64(True):
        ch = load_mod(val.KSHIFT, file="kshift.mod", gbar=0.03)
        v = jnp.asarray([-75.0, -52.5, -20.0])  # both branches of ntau (v + 10 < -40 or not)
        vs = np.asarray(v) + 10
        qt = 3 ** ((CELSIUS - 22) / 10)
        ninf = 1 / (1 + np.exp(-(vs + 5) / 10))
        ntau = np.where(vs < -40, 1 + 20 * np.exp((vs + 40) / 20),
                        1 + 20 * np.exp(-(vs + 40) / 25)) / qt  # fmt: skip
        hinf = 1 / (1 + np.exp((vs + 60) / 8))
        htau = (50 + 100 * np.exp(-(((vs + 70) / 30) ** 2))) / qt
        g0 = ch.init(v, CELSIUS)
        np.testing.assert_allclose(g0.n, ninf, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(g0.h, hinf, rtol=TOL, atol=TOL)
        ek = np.asarray(ch.default_ions(v)["ek"])
        i = ch.current(v, g0)  # µA/cm²: at v, not v + 10 (the copy was restored)
        np.testing.assert_allclose(i, 1e3 * 0.03 * ninf**2 * hinf * (np.asarray(v) - ek),
                                   rtol=1e-12)  # fmt: skip
        # one step from off-equilibrium gates: x∞ + (x − x∞)·e^{−dt/τ} at v + 10
        g = type(g0)(n=jnp.full(3, 0.5), h=jnp.full(3, 0.5))
        g1 = ch.update(v, g, DT, CELSIUS)
        np.testing.assert_allclose(g1.n, ninf + (0.5 - ninf) * np.exp(-DT / ntau), atol=TOL)
        np.testing.assert_allclose(g1.h, hinf + (0.5 - hinf) * np.exp(-DT / htau), atol=TOL)


def test_guard_fires_only_at_its_voltage():
    """naguard: `if (v == -65) { v = v + 0.5 }` makes the gates at exactly −65 mV those at
    −64.5; `if (v == -38) { v = v + 1e-4 }` gives the 0/0 rate's value at −37.9999."""
    with jax.enable_x64(True):
        ch = load_mod(val.NAGUARD, file="naguard.mod")

        def minf(x):
            a = 0.18 * (x + 38) / (1 - np.exp(-(x + 38) / 6))
            b = 0.12 * (-x - 38) / (1 - np.exp((x + 38) / 6))
            return a / (a + b)

        def hinf(x):
            a = -0.015 * (x + 66) / (1 - np.exp((x + 66) / 6))
            b = -0.015 * (-x - 66) / (1 - np.exp(-(x + 66) / 6))
            return a / (a + b)

        v = jnp.asarray([-65.0, -65.0 + 1e-9, -38.0, -30.0])
        seen = np.asarray([-64.5, -65.0 + 1e-9, -37.9999, -30.0])  # the copy of v the rates use
        g0 = ch.init(v, CELSIUS)
        assert np.all(np.isfinite(np.asarray(g0.m)))
        np.testing.assert_allclose(g0.m, minf(seen), rtol=1e-9)
        np.testing.assert_allclose(g0.h, hinf(seen), rtol=1e-9)
        assert abs(float(g0.m[0]) - minf(-65.0)) > 1e-4  # the guard's effect is visible
        # the current is at the node's voltage, not the guard's copy
        ena = np.asarray(ch.default_ions(v)["ena"])
        i = ch.current(v, g0)
        np.testing.assert_allclose(i, 1e3 * 0.2 * np.asarray(g0.m) ** 3 * np.asarray(g0.h)
                                   * (np.asarray(v) - ena), rtol=1e-12)  # fmt: skip


def test_copy_is_fresh_at_each_entry_point():
    """vshadow: v − shift in BREAKPOINT, v + 20 in the rates, never restored. INITIAL's
    gates are at v + 20, the current at v − shift (not v + 20 − shift: nothing leaks from
    INITIAL or the state update into nrn_cur), the DERIVATIVE reads v + 20; the
    current's slope dI/dV is g·a (the copy follows v)."""
    with jax.enable_x64(True):
        ch = load_mod(val.VSHADOW, file="vshadow.mod", g=0.002, e=-70.0, shift=3.0)
        v = jnp.asarray([-80.0, -60.0, -40.0])
        vs = np.asarray(v) + 20
        ainf = 1 / (1 + np.exp(-(vs + 40) / 8))
        atau = 2 + 3 * np.exp(-(((vs + 50) / 20) ** 2))
        g0 = ch.init(v, CELSIUS)
        np.testing.assert_allclose(g0.a, ainf, rtol=TOL, atol=TOL)
        # finitialize's current evaluation after INITIAL: at v (not INITIAL's v + 20)
        np.testing.assert_allclose(g0.vseen, np.asarray(v) - 3.0, rtol=TOL)
        i = ch.current(v, g0)
        np.testing.assert_allclose(i, 1e3 * 0.002 * ainf * (np.asarray(v) - 3.0 + 70.0),
                                   rtol=1e-12)  # fmt: skip
        didv = jax.grad(lambda x: ch.current(x, g0).sum())(v)
        np.testing.assert_allclose(didv, 1e3 * 0.002 * ainf, rtol=1e-12)
        g = g0._replace(a=jnp.full(3, 0.3))
        g1 = ch.update(v, g, DT, CELSIUS)
        # vseen: the step's current evaluation (at v, the previous update's voltage)
        tau = atau + 0.02 * (vs + 120) + 0.01 * (np.asarray(v) - 3.0 + 100)
        np.testing.assert_allclose(g1.a, ainf + (0.3 - ainf) * np.exp(-DT / tau), atol=TOL)
        # stepping again from the result: the copy does not accumulate +20 per call
        g2 = ch.update(v, g1, DT, CELSIUS)
        np.testing.assert_allclose(g2.a, ainf + (0.3 - ainf) * np.exp(-2 * DT / tau), atol=1e-12)


def test_neuron_slope_runs_start_from_the_node_voltage():
    """`with_neuron_slope` (NEURON's nrn_cur): the runs at v + 0.001 and at v each start
    their own copy from the node's voltage — the value is i(v) = g·a·(v − shift − e), not
    shifted twice, and the slope is the finite difference g·a (the current is linear)."""
    from neurojax.nmodl._compile import with_neuron_slope

    with jax.enable_x64(True):
        ch = with_neuron_slope(load_mod(val.VSHADOW, file="vshadow.mod", shift=3.0))
        v = jnp.asarray([-80.0, -60.0, -40.0])
        g0 = ch.init(v, CELSIUS)
        i, di = jax.jvp(lambda u: ch.current(u, g0), (v,), (jnp.ones_like(v),))
    a = np.asarray(g0.a)
    np.testing.assert_allclose(i, 1e3 * 0.002 * a * (np.asarray(v) - 3.0 + 70.0), rtol=1e-12)
    # (i(v + 0.001) − i(v))/0.001 in float64: relative rounding ~1e-16·|i|/(g·a·0.001)
    np.testing.assert_allclose(di, 1e3 * 0.002 * a, rtol=1e-9)


_IMPLICIT = val.KSHIFT.replace("METHOD cnexp", "METHOD derivimplicit")
_EULER = val.KSHIFT.replace("METHOD cnexp", "METHOD euler")
_STEADY = val.KSHIFT.replace("INITIAL { rates()  n = ninf  h = hinf }",
                             "INITIAL { SOLVE states STEADYSTATE derivimplicit }")  # fmt: skip


@pytest.mark.parametrize(
    "text, match",
    [
        # NEURON's Newton iterations carry the changed copy from one evaluation to the next
        (_IMPLICIT, r"SOLVE states \(METHOD derivimplicit.*v assigned"),
        # euler: neurojax evaluates the block on a copy (a later SOLVE would not see v)
        (_EULER, r"SOLVE states \(METHOD euler.*v assigned"),
        (_STEADY, r"SOLVE states \(METHOD steadystate, in INITIAL\).*v assigned"),
        # a point process's v outside NET_RECEIVE: refused as before
        (val.VSHADOW.replace("SUFFIX vshadow  NONSPECIFIC_CURRENT i",
                             "POINT_PROCESS vshadowpp  NONSPECIFIC_CURRENT i")
         .replace("(S/cm2)", "(uS)").replace("(mA/cm2)", "(nA)"),
         "assigning v in INITIAL is not supported in a point process"),
    ],
)  # fmt: skip
def test_refused_where_neuron_would_differ(text, match):
    with pytest.raises(NmodlError, match=match):
        load_mod(text, file="x.mod")
