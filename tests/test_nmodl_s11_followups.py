"""NMODL importer follow-ups found on published cells (session 11, issue 18).

Every `.mod` text here is written for this test (the issue's reproducers and the
published constructs' equations; no published file is copied). Against NEURON compiling
the same texts and the published files: `validation/nmodl_s11_followups_vs_neuron.py`,
`tests/test_nmodl_s11_followups_neuron.py` (slow).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.cable._ions import IonLayout, Pool
from neurojax.channels import nernst
from neurojax.channels._ions import FARADAY, R_GAS
from neurojax.nmodl import NmodlError, load_mod

# the reproducer: a pool writing ncai and the reversal potential enca
EPOOL = """
NEURON { SUFFIX epool USEION nca READ ncai, inca WRITE ncai, enca VALENCE 2 }
STATE { ncai }
ASSIGNED { inca enca }
INITIAL { ncai = 1e-4 enca = 12*log(2/ncai) }
BREAKPOINT { SOLVE s METHOD derivimplicit enca = 12*log(2/ncai) }
DERIVATIVE s { ncai' = -inca - (ncai-1e-4)/10 }
"""
NCALEAK = """
NEURON { SUFFIX ncaleak USEION nca READ enca WRITE inca VALENCE 2 RANGE g }
PARAMETER { g = 0.0005 (S/cm2) }
ASSIGNED { v (mV) enca (mV) inca (mA/cm2) }
BREAKPOINT { inca = g*(v - enca) }
"""


# -- 1. a density mechanism writing a reversal potential


def test_reversal_written_by_initial_and_update():
    """INITIAL's and the step's `enca = 12*log(2/ncai)` go back to the pool with ncai:
    the values are the file's formula at the concentration it wrote (to rounding)."""
    with jax.enable_x64(True):
        mech = load_mod(EPOOL, file="epool.mod")
        v = jnp.asarray(-65.0)
        ions = {"ncai": jnp.asarray(1.0), "inca": jnp.asarray(0.0), "enca": jnp.asarray(0.0)}
        g, written = mech.init_ions(v, 34.0, ions)
        assert set(written) == {"ncai", "enca"}
        assert float(written["enca"]) == pytest.approx(12 * np.log(2 / 1e-4), rel=1e-15)
        ions = {"ncai": written["ncai"], "inca": jnp.asarray(1e-3), "enca": written["enca"]}
        g, w1 = mech.update_ions(v, g, 0.025, 34.0, ions)
        # backward Euler of ncai' = -inca - (ncai - 1e-4)/10 from 1e-4: linear, exact
        ncai = 1e-4 - 0.025 * 1e-3 / (1 + 0.025 / 10)
        assert float(w1["ncai"]) == pytest.approx(ncai, rel=1e-12)
        assert float(w1["enca"]) == pytest.approx(12 * np.log(2 / ncai), rel=1e-14)


def test_layout_reversal_written_is_a_state_never_nernst():
    """NEURON's nrn_promote(…, 3): where a mechanism writes e, e is neither initialised
    nor advanced by Nernst (einit, eadvance off) and is carried as a state; elsewhere
    the ion's rules are unchanged."""
    ep, lk = load_mod(EPOOL, file="epool.mod"), load_mod(NCALEAK, file="ncaleak.mod")
    # epool at node 1 only, ncaleak at nodes 0-2
    layout = IonLayout([ep, lk], [np.array([1]), np.array([0, 1, 2])], 3)
    assert list(layout.nernst_mask["nca"]) == [False, False, False]
    assert set(layout.state_names) == {"ncai", "ncao", "enca"}
    assert "enca" in layout.inputs[0]  # the writer gets the pool's value (NEURON loads it)
    with jax.enable_x64(True):
        vals = {"enca": np.array([5.0, 5.0, 5.0]), "ncai": np.ones(3), "ncao": np.ones(3)}
        states = {"enca": jnp.array([1.0, 2.0, 3.0]), "ncai": jnp.ones(3), "ncao": jnp.ones(3)}
        pool = Pool(layout, vals, states, 34.0, (3,), jnp.float64)
        np.testing.assert_array_equal(pool.x["enca"], [1.0, 2.0, 3.0])  # carried, not reset
        pool.wrote({"ncai", "enca"})  # nrn_wrote_conc: einit is off, e stays
        np.testing.assert_array_equal(pool.x["enca"], [1.0, 2.0, 3.0])


def test_layout_reads_conc_without_writer_of_e_still_nernst():
    """A concentration read where no mechanism writes e: Nernst as before."""
    rd = load_mod(EPOOL.replace("SUFFIX epool", "SUFFIX rdpool"), file="rdpool.mod")
    lk = load_mod(NCALEAK, file="ncaleak.mod")
    layout = IonLayout([rd, lk], [np.array([1]), np.array([0, 1, 2])], 3)
    assert list(layout.nernst_mask["nca"]) == [False, False, False]  # rdpool writes e too
    reader = load_mod("""
NEURON { SUFFIX rd USEION nca READ ncai VALENCE 2 NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) ncai (mM) }
BREAKPOINT { i = 0 }
""", file="rd.mod")  # fmt: skip
    layout = IonLayout([reader, lk], [np.array([1]), np.array([0, 1, 2])], 3)
    assert list(layout.nernst_mask["nca"]) == [False, True, False]
    assert "enca" not in layout.state_names


def test_reversal_written_with_a_current_refused_naming_line():
    text = EPOOL.replace("VALENCE 2 }", "VALENCE 2 NONSPECIFIC_CURRENT il }").replace(
        "ASSIGNED { inca enca }", "ASSIGNED { inca enca il }"
    )
    with pytest.raises(NmodlError, match=r"epoolc\.mod:2: WRITE enca .* also writes a current"):
        load_mod(text, file="epoolc.mod")


def test_reversal_written_by_point_process_still_refused():
    text = """
NEURON { POINT_PROCESS ppe USEION nca READ ncai WRITE enca VALENCE 2 }
ASSIGNED { ncai enca }
INITIAL { enca = 1 }
BREAKPOINT { enca = 2 }
"""
    with pytest.raises(NmodlError, match=r"ppe\.mod:2: USEION nca WRITE enca in a POINT_PROCESS"):
        load_mod(text, file="ppe.mod")


# -- 2. dt read in NET_RECEIVE

# Destexhe's AMPA_S reads `exp(-Beta*(t-dt-t0))` in NET_RECEIVE: NEURON's fixed step
DT_RECEIVE = """
NEURON { POINT_PROCESS dtsyn NONSPECIFIC_CURRENT i RANGE x }
PARAMETER { dt (ms) Beta = 0.18 (/ms) }
ASSIGNED { v (mV) i (nA) x }
INITIAL { x = 0 }
BREAKPOINT { i = 0 }
NET_RECEIVE(w) { x = x + w*exp(-Beta*(t - dt)) }
"""


def test_dt_in_net_receive_is_the_step():
    with jax.enable_x64(True):
        pp = load_mod(DT_RECEIVE, file="dtsyn.mod")
        assert type(pp).receive_time  # the cell passes t and dt
        v = jnp.asarray([-65.0])
        g = pp.init(v, 34.0)
        g1 = pp.receive(v, g, jnp.asarray([2.0]), t=jnp.asarray(1.0), dt=0.025)
        assert float(g1.x[0]) == pytest.approx(2.0 * np.exp(-0.18 * (1.0 - 0.025)), rel=1e-15)
        msg = r"dtsyn\.mod: dtsyn's NET_RECEIVE reads dt \(line 7\)"
        with pytest.raises(ValueError, match=msg):
            pp.receive(v, g, jnp.asarray([2.0]), t=jnp.asarray(1.0))


def test_dt_in_breakpoint_current_still_refused():
    text = DT_RECEIVE.replace("BREAKPOINT { i = 0 }", "BREAKPOINT { i = dt }")
    with pytest.raises(NmodlError, match=r"dtsyn\.mod:6: dt read outside the SOLVEd block"):
        load_mod(text, file="dtsyn.mod")


# -- 3. VERBATIM copying an ion variable into itself

VCOPY = """
NEURON { SUFFIX vcopy USEION ca READ cai, cao VALENCE 2 NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) cai (mM) cao (mM) }
STATE { m }
INITIAL {
    %s
    VERBATIM
    cai  =_ion_cai ;
    cao = _ion_cao;
    ENDVERBATIM
    m = cai + cao
}
BREAKPOINT { i = 0 }
"""


@pytest.mark.parametrize("before", ["", "cai = 7"])
def test_verbatim_ion_self_copy_is_nrn_init_value(before):
    """A no-op after nrn_init's load (Santhakumar's tca.mod, LcaMig.mod, gskch.mod,
    ccanl.mod); after INITIAL assigned the copy, the copy is the ion's value again."""
    with jax.enable_x64(True):
        mech = load_mod(VCOPY % before, file="vcopy.mod")
        ions = {"cai": jnp.asarray(5e-5), "cao": jnp.asarray(2.0)}
        g, _ = mech.init_ions(jnp.asarray(-65.0), 34.0, ions)
        assert float(g.m) == 2.0 + 5e-5


@pytest.mark.parametrize(
    "code",
    ["cai = _ion_cao;", "cai = _ion_cai; cao = 1;", 'printf("x");', "cai = _ion_cai"],
)
def test_other_verbatim_still_refused(code):
    text = VCOPY.replace("cai  =_ion_cai ;\n    cao = _ion_cao;", code) % ""
    with pytest.raises(NmodlError, match=r"vcopy\.mod:7: a VERBATIM block \(C code\)"):
        load_mod(text, file="vcopy.mod").init_ions(
            jnp.asarray(-65.0), 34.0, {"cai": jnp.asarray(5e-5), "cao": jnp.asarray(2.0)}
        )


def test_verbatim_self_copy_outside_initial_refused():
    text = """
NEURON { SUFFIX vb USEION ca READ cai VALENCE 2 NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) cai (mM) }
BREAKPOINT {
    VERBATIM
    cai = _ion_cai;
    ENDVERBATIM
    i = 0
}
"""
    mech = load_mod(text, file="vb.mod")
    with pytest.raises(NmodlError, match=r"vb\.mod:5: .*supported in INITIAL only"):
        mech.init_ions(jnp.asarray(-65.0), 34.0, {"cai": jnp.asarray(5e-5)})


# -- 4. Nernst at valence 0


def test_nernst_valence_zero_is_zero_as_neuron():
    """NEURON's nrn_nernst returns 0 mV for z = 0 (eion.cpp); other valences as before."""
    assert float(nernst(0.5, 3.0, 0, 34.0)) == 0.0
    assert float(nernst(0.0, 3.0, 0.0, 34.0)) == 0.0  # before the ci <= 0 rule, as NEURON
    with jax.enable_x64(True):
        ktf = 1000.0 * R_GAS * (34.0 + 273.15) / FARADAY
        assert float(nernst(0.5, 3.0, 2, 34.0)) == pytest.approx(ktf / 2 * np.log(6.0), rel=1e-15)
        z = jnp.asarray([0.0, 1.0])  # traced-friendly: an array of valences
        np.testing.assert_allclose(nernst(0.5, 3.0, z, 34.0), [0.0, ktf * np.log(6.0)], rtol=1e-15)
        g = jax.grad(lambda c: nernst(c, 3.0, 0.0, 34.0))(0.5)
        assert float(g) == 0.0  # finite: no 1/z in the gradient


def test_verbatim_self_copy_in_a_traced_branch_of_initial():
    """Inside an `if` on a traced value (both branches run, then selected): the copy
    still restores nrn_init's value."""
    text = (
        VCOPY.replace(
            "    VERBATIM\n    cai  =_ion_cai ;\n    cao = _ion_cao;\n    ENDVERBATIM\n",
            "    if (v > -70) {\n    VERBATIM\n    cai = _ion_cai;\n    ENDVERBATIM\n    }\n",
        )
        % "cai = 7"
    )
    with jax.enable_x64(True):
        mech = load_mod(text, file="vcopy.mod")
        ions = {"cai": jnp.asarray([5e-5, 5e-5]), "cao": jnp.asarray([2.0, 2.0])}
        g, _ = mech.init_ions(jnp.asarray([-65.0, -80.0]), 34.0, ions)
        np.testing.assert_array_equal(g.m, [2.0 + 5e-5, 2.0 + 7.0])
