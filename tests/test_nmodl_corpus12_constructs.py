"""Constructs found in the fifth corpus of published `.mod` files (session 12).

Every `.mod` text here is written for this test (no published file is copied). Against
NEURON compiling the published files: `validation/nmodl_corpus12_vs_neuron.py`,
`tests/test_nmodl_corpus12_neuron.py` (slow).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

# BEFORE STEP (the pattern of Migliore's tDCS CA1 channels, ModelDB 266900: a running
# average of v kept in range variables, updated once a step): NEURON runs the block once
# at the end of finitialize, after INITIAL, and once at the end of every step, after the
# state updates, at the new v. `xb` copies the state, so the current shows which x the
# block saw; `count` counts the runs.
BSTEP = """
NEURON { SUFFIX bstep NONSPECIFIC_CURRENT i RANGE count, vlast, xb, g }
PARAMETER { g = 0.001 (S/cm2) count = 0 tau = 2 (ms) }
ASSIGNED { i (mA/cm2) vlast (mV) xb }
STATE { x }
INITIAL { x = 0.25 count = 0 }
BREAKPOINT {
    SOLVE s METHOD cnexp
    i = g*(v - vlast) + 1e-3*xb
}
DERIVATIVE s { x' = (1 - x)/tau }
BEFORE STEP { LOCAL k
    k = 1
    count = count + k
    vlast = v
    xb = x
}
"""


@pytest.mark.slow  # ~8 s alone (load-time checks, first JAX compilations)
def test_before_step_runs_after_initial_and_after_each_state_update():
    """count = 1 after INITIAL, n + 1 after n updates; vlast is the v of the last update
    (or of INITIAL); xb is x after that update (cnexp: x = 1 − 0.75 e^(−t/τ)), so the
    current reads the values the block left."""
    with jax.enable_x64(True):
        mech = load_mod(BSTEP, file="bstep.mod")
        g, _ = mech.init_ions(jnp.array([-65.0]), 34.0, {})
        assert float(g.count[0]) == 1.0 and float(g.vlast[0]) == -65.0
        # the current at INITIAL's values: g (v − vlast) + 1e-3 xb with xb = x(0), in
        # µA/cm² (×1e3 the file's mA/cm²); 1e-15: float64 rounding of one sum
        np.testing.assert_allclose(mech.current(jnp.array([-64.0]), g),
                                   1e3 * (0.001 + 1e-3 * 0.25), rtol=1e-15)  # fmt: skip
        dt = 0.025
        for k, vk in enumerate([-60.0, -50.0, -40.0], start=1):
            g, _ = mech.update_ions(jnp.array([vk]), g, dt, 34.0, {})
            assert float(g.count[0]) == k + 1
            assert float(g.vlast[0]) == vk
            x = 1 - 0.75 * np.exp(-k * dt / 2.0)  # exact: cnexp of a linear equation
            np.testing.assert_allclose(float(g.x[0]), x, rtol=1e-14)  # float64 rounding
            np.testing.assert_allclose(float(mech.current(jnp.array([vk]), g)[0]),
                                       1e3 * 1e-3 * x, rtol=1e-13)  # fmt: skip


@pytest.mark.parametrize(
    "block, expected",
    [
        ("BEFORE BREAKPOINT { k = 1 }", "BEFORE BREAKPOINT blocks (only BEFORE STEP"),
        ("AFTER SOLVE { k = 1 }", "AFTER SOLVE blocks (only BEFORE STEP"),
        ("BEFORE STEP { k = 1 }\nBEFORE STEP { k = 2 }", "a second BEFORE STEP block"),
        ("BEFORE STEP { k = cai }", "BEFORE STEP reads cai"),
    ],
)
def test_other_before_after_blocks_are_refused_naming_file_and_line(block, expected):
    text = ("NEURON { SUFFIX ba USEION ca READ cai NONSPECIFIC_CURRENT i RANGE k }\n"
            "PARAMETER { k = 0 }\nASSIGNED { i (mA/cm2) cai (mM) }\n"
            "BREAKPOINT { i = 0 }\n" + block + "\n")  # fmt: skip
    with pytest.raises(NmodlError, match=r"^ba\.mod:\d+: ") as e:
        load_mod(text, file="ba.mod")
    assert expected in str(e.value), str(e.value)


# Destexhe's GABAb.mod (ModelDB 18198) stores `lastrelease = t` in the PROCEDURE its
# DERIVATIVE block calls (cnexp): the load-time check of cnexp's linearity ran the block
# without t and refused the file ("the time t is not available here")
T_IN_DERIVATIVE = """
NEURON { SUFFIX tderiv NONSPECIFIC_CURRENT i RANGE last }
PARAMETER { g = 1e-3 (mA/cm2-ms) }
ASSIGNED { i (mA/cm2) last (ms) }
STATE { x }
INITIAL { x = 1 last = -1 }
BREAKPOINT {
    SOLVE s METHOD cnexp
    i = g*last
}
DERIVATIVE s {
    mark()
    x' = -x
}
PROCEDURE mark() { last = t }
"""


@pytest.mark.slow  # ~1.4 s alone
def test_t_read_in_a_derivative_blocks_procedure():
    with jax.enable_x64(True):
        mech = load_mod(T_IN_DERIVATIVE, file="tderiv.mod")
        assert mech.uses_time
        g, _ = mech.init_ions(jnp.array([-65.0]), 34.0, {}, dt=0.025)
        assert float(g.last[0]) == -1.0
        g, _ = mech.update_ions(jnp.array([-65.0]), g, 0.025, 34.0, {}, t=0.75)
        assert float(g.last[0]) == 0.75  # the t the update was given
        np.testing.assert_allclose(float(g.x[0]), np.exp(-0.025), rtol=1e-14)  # rounding
        # the current reads it: 1e-3 mA/cm² per ms of `last`, in µA/cm²
        assert float(mech.current(jnp.array([-65.0]), g)[0]) == pytest.approx(0.75, rel=1e-15)


# Bush & Sejnowski's kca.mod (ModelDB 52034) pattern: `rates(cai)` in BREAKPOINT before
# the SOLVE, its DERIVATIVE (METHOD euler) reading the rate. NEURON computes the rate in
# nrn_cur, at the step's start, from the cai the pools left at the end of the last step;
# the cell passes this mechanism's update the cai the pools (updated first) wrote in this
# step. The update's re-run of BREAKPOINT now reads the cai of the current evaluation.
RATES_BEFORE_SOLVE = """
NEURON { SUFFIX kcabp USEION ca READ cai USEION k WRITE ik RANGE o, r }
PARAMETER { gmax = 0.01 (mho/cm2) erev = -90 (mV) }
ASSIGNED { ik (mA/cm2) cai (mM) o r (/ms) }
STATE { c }
INITIAL {
    rates(cai)
    c = 0.5
}
BREAKPOINT {
    rates(cai)
    SOLVE state METHOD euler
    o = 1 - c
    ik = gmax*o*(v - erev)
}
DERIVATIVE state { c' = -r*c }
PROCEDURE rates(x (mM)) { r = 1000*x }
"""


@pytest.mark.slow  # ~1 s alone
def test_breakpoint_before_solve_reads_the_step_start_concentration():
    """Two updates with the pool's cai going 1e-4 → 3e-4 → 5e-4 mM: each euler step uses
    the rate of the cai before it (r = 1000·cai): c₁ = c₀(1 − 0.1 dt), c₂ = c₁(1 − 0.3 dt);
    with the cai passed to the update (the former behaviour) c₁ would be c₀(1 − 0.3 dt)."""
    with jax.enable_x64(True):
        mech = load_mod(RATES_BEFORE_SOLVE, file="kcabp.mod")
        v = jnp.array([-65.0])
        ions = {k: jnp.broadcast_to(x, v.shape) for k, x in mech.default_ions(v).items()}
        ions["cai"] = jnp.array([1e-4])
        g, _ = mech.init_ions(v, 34.0, ions)
        dt = 0.025
        c = 0.5
        for cai, r in [(3e-4, 0.1), (5e-4, 0.3)]:
            ions["cai"] = jnp.array([cai])
            g, _ = mech.update_ions(v, g, dt, 34.0, ions)
            c = c * (1 - r * dt)
            np.testing.assert_allclose(float(g.c[0]), c, rtol=1e-14)  # float64 rounding


def test_verbatim_in_breakpoint_is_refused_at_load():
    """C code written in BREAKPOINT (ModelDB 267355's undernai.mod pattern) runs every
    step: refused at load naming its line (before, the file loaded and failed at the first
    step). A VERBATIM in a PROCEDURE nothing calls still loads (hoc-only helpers)."""
    text = ("NEURON { SUFFIX vb USEION na READ nai RANGE s }\nASSIGNED { nai (mM) s }\n"
            "INITIAL { s = 0 }\nBREAKPOINT {\nVERBATIM\ns = s + nai;\nENDVERBATIM\n}\n")  # fmt: skip
    with pytest.raises(NmodlError, match=r"^vb\.mod:5: a VERBATIM block \(C code\) in BREAKPOINT"):
        load_mod(text, file="vb.mod")
    helper = ("NEURON { SUFFIX vb2 NONSPECIFIC_CURRENT i }\nASSIGNED { i (mA/cm2) }\n"
              "BREAKPOINT { i = 0 }\nPROCEDURE fromhoc() {\nVERBATIM\nreturn 0;\nENDVERBATIM\n}\n"
              "PROCEDURE other() {\nVERBATIM\nprintf(\"x\");\nENDVERBATIM\n}\n")  # fmt: skip
    load_mod(helper, file="vb2.mod")
