"""Constructs found in the fourth corpus of published `.mod` files (session 11).

Every `.mod` text here is written for this test from the published equations it names
(no published file is copied). Against NEURON compiling the published files:
`validation/nmodl_corpus11_vs_neuron.py`, `tests/test_nmodl_corpus11_neuron.py` (slow).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

F = 9.6485e4  # C/mol, the files' own CONSTANT

# Nicoletti et al. (2024)'s C. elegans Ca pool (after Khaliq et al. 2003's cadiff): an
# explicit Euler step written in a BREAKPOINT that writes no current, reading dt,
# clamped at 100 nM, copied to cai. nocmodl runs such statements once per step in
# nrn_state (read in its generated C), not in nrn_cur.
EULER_POOL = """
NEURON { SUFFIX eulerpool USEION ca READ ica WRITE cai RANGE ca }
UNITS { (mA) = (milliamp) (mM) = (milli/liter) (um) = (micron) }
CONSTANT { F = 9.6485e4 (coul) }
PARAMETER { dt (ms) depth = 0.1 (um) beta = 1 (/ms) }
ASSIGNED { ica (mA/cm2) cai (mM) }
STATE { ca (mM) }
INITIAL { ca = 1e-4 }
BREAKPOINT {
    ca = ca + 10000*dt*(-ica/(2*F*depth) - 1e-4*beta*ca)
    if (ca < 1e-4) { ca = 1e-4 }
    cai = ca
}
"""

# Traub et al. (2003)'s Ca pool: cai' = -phi*ica - beta*cai (cnexp), then clamped to
# [0, ceiling] by BREAKPOINT statements after the SOLVE (no current written: they run in
# nrn_state after the SOLVE, as nocmodl's generated C does)
CLAMPED_POOL = """
NEURON { SUFFIX clamppool USEION ca READ ica WRITE cai RANGE phi, beta GLOBAL ceiling }
UNITS { (mA) = (milliamp) (mM) = (milli/liter) }
PARAMETER { phi = 2000 beta = 0.05 (/ms) ceiling = 0.0003 (mM) }
STATE { cai (mM) }
ASSIGNED { ica (mA/cm2) }
INITIAL { cai = 5e-5 }
BREAKPOINT {
    SOLVE state METHOD cnexp
    if (cai < 0) { cai = 0 }
    if (cai > ceiling) { cai = ceiling }
}
DERIVATIVE state { cai' = -phi*ica - beta*cai }
"""


def _steps(mech, ica, n, dt=0.025):
    """`(initial gates, initial cai, cai after each of n state updates)` with constant
    total currents `ica` (mA/cm², one compartment each)."""
    ica = jnp.asarray(ica)
    v = jnp.full(ica.shape, -65.0)
    ions = {k: jnp.broadcast_to(x, ica.shape) for k, x in mech.default_ions(v).items()}
    ions["ica"] = ica
    g0, conc = mech.init_ions(v, 34.0, ions)
    cai0 = np.asarray(conc["cai"])
    g, out = g0, []
    for _ in range(n):
        ions["cai"] = conc["cai"]
        g, conc = mech.update_ions(v, g, dt, 34.0, ions)
        out.append(np.asarray(conc["cai"]))
    return g0, cai0, np.array(out)


def test_breakpoint_without_current_is_the_state_update():
    """The Euler pool's statements run once per update (reading dt), not at INITIAL:
    its recursion, the 100 nM floor (an outward current) and cai = ca."""
    with jax.enable_x64(True):
        mech = load_mod(EULER_POOL, file="eulerpool.mod")
        dt = 0.025
        g0, cai0, cai = _steps(mech, [-0.001, 0.01], 2, dt)
        ca, expect = 1e-4, []
        for _ in range(2):
            ca = max(ca + 1e4 * dt * (0.001 / (2 * F * 0.1) - 1e-4 * ca), 1e-4)
            expect.append(ca)
        np.testing.assert_allclose(cai[:, 0], expect, rtol=1e-14)  # float64 rounding
        assert np.all(cai[:, 1] == 1e-4)
        # INITIAL only (NEURON's nrn_init): ca = 1e-4, cai left at the pool's value
        assert np.all(np.asarray(g0.ca) == 1e-4) and np.all(cai0 == 5e-5)


def test_breakpoint_without_current_writes_no_current():
    with jax.enable_x64(True):
        mech = load_mod(EULER_POOL, file="eulerpool.mod")
        v = jnp.asarray(-65.0)
        ions = dict(mech.default_ions(v), ica=jnp.asarray(-0.001))
        g0, _ = mech.init_ions(v, 34.0, ions)
        i, written = mech.current_ions(v, g0, 34.0, ions)
        assert float(i) == 0.0 and written == {}


def test_statements_after_solve_clamp_the_solved_state():
    """The Traub pool: cnexp's exact step while below the ceiling; held at the ceiling
    exactly once a step would pass it (+5e-3 mM per step from 5e-5)."""
    with jax.enable_x64(True):
        mech = load_mod(CLAMPED_POOL, file="clamppool.mod")
        ica, dt, beta, phi = -2e-9, 0.025, 0.05, 2000.0
        _, _, cai = _steps(mech, [ica, -1e-4], 2, dt)
        x, expect = 5e-5, []
        for _ in range(2):
            x = x * np.exp(-beta * dt) + (-phi * ica / beta) * (1 - np.exp(-beta * dt))
            expect.append(x)
        np.testing.assert_allclose(cai[:, 0], expect, rtol=1e-13)  # expm1 vs exp rounding
        assert np.all(cai[:, 1] == 3e-4)


def test_uppercase_if_else_as_lowercase():
    """nocmodl accepts `IF`/`ELSE` in capitals (Kager et al.'s accum.mod); before, `IF`
    was an unknown function and `ELSE` a parse error."""
    text = """
NEURON { SUFFIX ifcase NONSPECIFIC_CURRENT i }
PARAMETER { g = 0.001 (S/cm2) }
ASSIGNED { v (mV) i (mA/cm2) x }
BREAKPOINT {
    %s (v > -60) { x = 1 } %s %s (v > -70) { x = 2 } %s { x = 3 }
    i = g*x*(v + 80)
}
"""
    with jax.enable_x64(True):
        up = load_mod(text % ("IF", "ELSE", "IF", "ELSE"), file="up.mod")
        low = load_mod(text % ("if", "else", "if", "else"), file="low.mod")
        for v, x in ((-50.0, 1), (-65.0, 2), (-75.0, 3)):
            vv = jnp.asarray(v)
            i_up = up.current(vv, up.init(vv, 6.3))
            assert float(i_up) == float(low.current(vv, low.init(vv, 6.3)))
            assert float(i_up) == pytest.approx(1e3 * 0.001 * x * (v + 80), rel=1e-14)


def test_dt_in_a_breakpoint_with_a_current_still_refused():
    """The rewrite is only for mechanisms writing no current: where nocmodl runs
    BREAKPOINT in nrn_cur, dt there is still refused, naming the line."""
    text = EULER_POOL.replace("WRITE cai RANGE ca", "WRITE cai, ica RANGE ca").replace(
        "cai = ca\n", "cai = ca\n    ica = 0\n"
    )
    with pytest.raises(NmodlError, match=r"eulerpool\.mod:10: dt read outside"):
        load_mod(text, file="eulerpool.mod")


def test_longitudinal_diffusion_refused_naming_file_and_line():
    text = """
NEURON { SUFFIX diffca USEION ca READ ica WRITE cai }
PARAMETER { D = 0.6 (um2/ms) }
ASSIGNED { ica (mA/cm2) diam (um) }
STATE { cai (mM) }
BREAKPOINT { SOLVE st METHOD sparse }
KINETIC st {
    COMPARTMENT diam*diam { cai }
    LONGITUDINAL_DIFFUSION D*diam*diam { cai }
    ~ cai << (-ica*diam)
}
"""
    with pytest.raises(NmodlError, match=r"diffca\.mod:9: LONGITUDINAL_DIFFUSION .*not supported"):
        load_mod(text, file="diffca.mod")


# Kager et al. (2000)'s Na/K pump as a density mechanism: its currents are assigned
# only in the KINETIC block and INITIAL (as in the published nakpump.mod), so NEURON's
# nrn_cur adds the value the last state update (or INITIAL) left
PUMP = """
NEURON {
    SUFFIX kpump
    USEION k READ ko WRITE ik
    USEION na READ nai WRITE ina
}
UNITS { (mA) = (milliamp) (mM) = (milli/liter) }
PARAMETER { imax = 0.02 (mA/cm2) km_k = 2 (mM) km_na = 10 (mM) }
ASSIGNED { ik (mA/cm2) ina (mA/cm2) ko (mM) nai (mM) }
STATE { qna }
INITIAL { qna = 0 ik = -2*imax*pump(nai, ko) ina = -1.5*ik }
BREAKPOINT { SOLVE integrate METHOD sparse }
KINETIC integrate {
    ik = -2*imax*pump(nai, ko)
    ina = -1.5*ik
    ~ qna << (-ina)
}
FUNCTION pump(na (mM), k (mM)) {
    pump = 1/((1 + km_k/k)*(1 + km_k/k)) / ((1 + km_na/na)*(1 + km_na/na)*(1 + km_na/na))
}
"""


def test_current_assigned_only_in_the_solved_block_is_kept():
    """Before: 0 (silently). Now INITIAL's value, then the last update's, at the
    update's nai (the current evaluation does not recompute it)."""

    def ik_of(nai, ko=2.5):
        return -2 * 0.02 / (1 + 2 / ko) ** 2 / (1 + 10 / nai) ** 3

    with jax.enable_x64(True):
        mech = load_mod(PUMP, file="kpump.mod")
        v = jnp.asarray(-65.0)
        ions = {"ko": jnp.asarray(2.5), "nai": jnp.asarray(10.0)}
        g, _ = mech.init_ions(v, 34.0, ions)
        i0, w0 = mech.current_ions(v, g, 34.0, ions)
        assert float(w0["ik"]) == pytest.approx(ik_of(10.0), rel=1e-14)
        assert float(i0) == pytest.approx(1e3 * -0.5 * ik_of(10.0), rel=1e-14)  # ik + ina
        g, _ = mech.update_ions(v, g, 0.025, 34.0, {"ko": jnp.asarray(2.5),
                                                     "nai": jnp.asarray(20.0)})  # fmt: skip
        _, w1 = mech.current_ions(v, g, 34.0, ions)  # nai back at 10: the kept value
        assert float(w1["ina"]) == pytest.approx(-1.5 * ik_of(20.0), rel=1e-14)


def test_charge_is_valence():
    """`USEION x READ xi CHARGE 0` (Mergenthal et al.'s kmb_inh.mod) as VALENCE 0."""
    text = """
NEURON { SUFFIX chg USEION kcnq READ kcnqi %s 0 NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) kcnqi (mM) }
PARAMETER { g = 0.001 (S/cm2) }
BREAKPOINT { i = g*kcnqi*(v + 70) }
"""
    a = load_mod(text % "CHARGE", file="chg.mod")
    b = load_mod(text % "VALENCE", file="chg.mod")
    assert a._spec.ion_use == b._spec.ion_use


def test_read_only_ion_variable_assigned_is_a_local_copy():
    """`ica = 0` in INITIAL with ica READ only (Ait Ouares et al.'s cdp5.mod): nocmodl's
    local copy, loaded from the ion at each entry point and never stored back. Before,
    the file loaded and the cell's initialisation failed ('assignment to ica')."""
    text = """
NEURON { SUFFIX icacopy USEION ca READ ica WRITE cai }
UNITS { (mA) = (milliamp) (mM) = (milli/liter) }
PARAMETER { k = 1e-3 (mM cm2/mA-ms) }
ASSIGNED { ica (mA/cm2) }
STATE { cai (mM) }
INITIAL { ica = 0 cai = 1e-4 + ica }
BREAKPOINT { SOLVE st METHOD cnexp }
DERIVATIVE st { cai' = -k*ica }
"""
    with jax.enable_x64(True):
        mech = load_mod(text, file="icacopy.mod")
        v = jnp.asarray(-65.0)
        ions = {"ica": jnp.asarray(-0.5), "cai": jnp.asarray(5e-5)}
        g, conc = mech.init_ions(v, 34.0, ions)
        assert float(conc["cai"]) == 1e-4  # INITIAL saw its own assignment
        g, conc = mech.update_ions(v, g, 0.025, 34.0, {"ica": jnp.asarray(-0.5),
                                                        "cai": conc["cai"]})  # fmt: skip
        # the update loads ica from the ion again: -k*ica*dt = +1.25e-5 mM
        assert float(conc["cai"]) == pytest.approx(1e-4 + 1e-3 * 0.5 * 0.025, rel=1e-13)


def test_state_that_is_a_read_ion_variable_is_the_ions_value():
    """`USEION ACh READ AChi` with AChi declared in STATE and no equation for it
    (Mergenthal et al.'s m1.mod): NEURON loads it from the ion at every entry point.
    Before, it was a gate started at 0 (the receptor never saw acetylcholine)."""
    text = """
NEURON { SUFFIX achread USEION ca READ cai VALENCE 2 }
PARAMETER { k = 2 (/mM) tau = 5 (ms) }
STATE { cai (mM) b }
INITIAL { b = k*cai }
BREAKPOINT { SOLVE st METHOD cnexp }
DERIVATIVE st { b' = (k*cai - b)/tau }
"""
    with jax.enable_x64(True):
        mech = load_mod(text, file="achread.mod")
        assert type(mech)._spec.gate_names == ("b",)
        v = jnp.asarray(-65.0)
        g, _ = mech.init_ions(v, 34.0, {"cai": jnp.asarray(0.5)})
        assert float(g.b) == 1.0
        g, _ = mech.update_ions(v, g, 0.025, 34.0, {"cai": jnp.asarray(1.0)})
        # cnexp: b → 2 with tau 5 ms over 0.025 ms
        assert float(g.b) == pytest.approx(2 - np.exp(-0.025 / 5), rel=1e-14)
    bad = text.replace(
        "DERIVATIVE st { b' = (k*cai - b)/tau }",
        "DERIVATIVE st { b' = (k*cai - b)/tau cai' = -cai }",
    )
    with pytest.raises(NmodlError, match=r"achread\.mod:7: cai is a STATE integrated in st"):
        load_mod(bad, file="achread.mod")


def test_pointer_never_read_needs_no_binding():
    """Mergenthal et al.'s kmb_inh.mod declares `POINTER kppt, kcpt` and never reads
    them: NEURON runs it with the pointers unset. Before, the mechanism refused to
    initialise without bind_pointer. A POINTER that is read still must be bound."""
    text = """
NEURON { SUFFIX ptrunused NONSPECIFIC_CURRENT i POINTER kppt %s }
PARAMETER { g = 0.001 (S/cm2) }
ASSIGNED { v (mV) i (mA/cm2) kppt %s }
BREAKPOINT { i = g*(v + 70)%s }
"""
    with jax.enable_x64(True):
        mech = load_mod(text % ("", "", ""), file="ptrunused.mod")
        v = jnp.asarray(-60.0)
        assert float(mech.current(v, mech.init(v, 6.3))) == pytest.approx(10.0, rel=1e-14)
        used = load_mod(text % (", kr", "kr", "*kr"), file="ptrunused.mod")
        with pytest.raises(ValueError, match="POINTER kr of ptrunused is not bound"):
            used.init(v, 6.3)


def test_diam_in_a_point_process_refused_saying_what_to_do():
    """Kager et al.'s nakpump.mod (a POINT_PROCESS) reads diam: refused at load, naming
    the line and what to do (NEURON's value is the node's segment diameter)."""
    text = """
NEURON { POINT_PROCESS dpp NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (nA) diam (um) }
BREAKPOINT { i = 1e-3*diam*(v + 65) }
"""
    with pytest.raises(NmodlError, match=r"dpp\.mod:4: diam in a POINT_PROCESS .*PARAMETER"):
        load_mod(text, file="dpp.mod")
