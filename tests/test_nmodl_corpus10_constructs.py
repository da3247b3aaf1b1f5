"""Constructs met in the third corpus of published .mod files (docs/nmodl.md, corpus 10):
FUNCTION_TABLE, SOLVE of a NONLINEAR block in BREAKPOINT, and two bad inputs refused
as nocmodl does or with the reason (a name declared twice, reversed PARAMETER limits).
Fast tier: closed forms; the same files against NEURON are in
tests/test_nmodl_corpus10_neuron.py (slow)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy  # noqa: F401  (a dev dependency: its absence is a broken install)

from neurojax.nmodl import NmodlError, load_mod

# written here: a gate relaxing to ninf_t(v) with time constant taun(v), both tables
FTAB = """
NEURON { SUFFIX ftk USEION k READ ek WRITE ik RANGE gbar }
PARAMETER { gbar = 0.01 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) }
STATE { n }
FUNCTION_TABLE taun(v (mV)) (ms)
FUNCTION_TABLE ninf_t(v (mV))
INITIAL { n = ninf_t(v) }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar*n*(v - ek)
}
DERIVATIVE states { n' = (ninf_t(v) - n)/taun(v) }
"""

# b solves b*K + b^2 = c(v) at every step (closed form below): the validation's file
from validation.nmodl_corpus10_vs_neuron import NONLINEAR_MOD as NLBP  # noqa: E402

X = np.array([-100.0, -60.0, -45.0, -20.0, 30.0])
Y_TAU = np.array([8.0, 4.0, 2.5, 1.0, 0.5])
V = np.array([-130.0, -100.0, -70.0, -52.5, -45.0, -10.0, 30.0, 55.0])  # ends, nodes, between


def _tau_of(mech, v):
    """taun(v) recovered from one cnexp step from n = 0 with ninf_t = 1 (a constant
    table): n1 = 1 − exp(−dt/τ), so τ = −dt/log(1 − n1)."""
    g0 = type(mech.init(jnp.asarray(v), 6.3))(n=jnp.zeros(len(v)))
    n1 = np.asarray(mech.update(jnp.asarray(v), g0, 0.025, 6.3).n)
    return -0.025 / np.log1p(-n1)


def test_function_table_interpolates_as_neuron():
    """NEURON's hoc_func_table for one argument: linear between the samples, the end
    sample's value outside them (np.interp is the same rule); the equally spaced form
    (`xmin`, `xmax`) is the same table; a scalar is a constant. float64: rounding of
    the log recovering τ (1e-12 relative)."""
    with jax.enable_x64(True):
        mech = load_mod(FTAB, file="ftk.mod").bind_table("ninf_t", 1.0)
        tau = _tau_of(mech.bind_table("taun", Y_TAU, X), V)
        np.testing.assert_allclose(tau, np.interp(V, X, Y_TAU), rtol=1e-12)
        xs = np.linspace(-100.0, 30.0, 5)
        tau_u = _tau_of(mech.bind_table("taun", Y_TAU, xmin=-100.0, xmax=30.0), V)
        np.testing.assert_allclose(tau_u, np.interp(V, xs, Y_TAU), rtol=1e-12)
        np.testing.assert_allclose(_tau_of(mech.bind_table("taun", 3.0), V), 3.0, rtol=1e-12)
        # INITIAL reads the table too: n = ninf_t(v)
        m2 = mech.bind_table("taun", 1.0).bind_table("ninf_t", Y_TAU / 10, X)
        np.testing.assert_allclose(m2.init(jnp.asarray(V), 6.3).n, np.interp(V, X, Y_TAU / 10),
                                   rtol=1e-14)  # fmt: skip


@pytest.mark.slow
def test_function_tables_in_a_cell_are_per_instance():
    """Two instances of one imported class with other tables in one Cell are evaluated
    apart (the tables are static: other tables, another kind for the Cell), with the
    same tables they are merged: each equals the run with the second instance loaded as
    its own class (never merged), to rounding. Slow: four small compiles (~20 CPU-s)."""
    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.solvers import BackwardEuler

    with jax.enable_x64(True):
        base = load_mod(FTAB, file="ftk.mod").bind_table("ninf_t", Y_TAU / 10, X)
        a = base.bind_table("taun", Y_TAU, X)
        b = base.bind_table("taun", 3 * Y_TAU, X)
        other = load_mod(FTAB, file="ftk.mod").bind_table("ninf_t", Y_TAU / 10, X)
        morph = Morphology([Branch(20.0, 2.0, nseg=1), Branch(20.0, 2.0, nseg=1, parent=0)])

        def run(m0, m1):
            cell = Cell(morph, [(m0, 0), (m1, 1)], temperature=6.3, v_init=-65.0,
                        clamps=[(0, 0.5)])  # fmt: skip
            save = nj.SaveAt(fn=cell.record_gate(1, "n", [(1, 0.5)]))
            sol = nj.simulate(cell, jnp.full((20, 1), 0.05), dt=0.025, solver=BackwardEuler(),
                              saveat=save)  # fmt: skip
            return np.asarray(sol.states)

        np.testing.assert_allclose(run(a, b), run(a, other.bind_table("taun", 3 * Y_TAU, X)),
                                   rtol=0, atol=1e-15)  # fmt: skip
        np.testing.assert_allclose(run(a, a), run(a, other.bind_table("taun", Y_TAU, X)),
                                   rtol=0, atol=1e-15)  # fmt: skip
        assert np.max(np.abs(run(a, a) - run(a, b))) > 1e-4  # the tables matter


def test_function_table_refusals():
    mech = load_mod(FTAB, file="ftk.mod")
    # unbound: NEURON's "table not specified in hoc_func_table", here naming what to do
    with pytest.raises(ValueError, match=r"ftk\.mod: FUNCTION_TABLE ninf_t of ftk \(line 7\) "
                                         r"is not bound: mech = mech\.bind_table"):  # fmt: skip
        mech.init(jnp.zeros(1), 6.3)
    with pytest.raises(ValueError, match="strictly increasing"):
        mech.bind_table("taun", [1.0, 2.0, 3.0], [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="differ in shape"):
        mech.bind_table("taun", [1.0, 2.0, 3.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="xmin"):
        mech.bind_table("taun", [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite xmin < xmax"):
        mech.bind_table("taun", [1.0, 2.0], xmin=5.0, xmax=1.0)
    with pytest.raises(ValueError, match="has no FUNCTION_TABLE 'tau'"):
        mech.bind_table("tau", 1.0)
    with pytest.raises(NmodlError, match=r"t\.mod:6: FUNCTION_TABLE taun with 2 arguments"):
        load_mod(FTAB.replace("taun(v (mV)) (ms)", "taun(v (mV), x) (ms)"), file="t.mod")


def test_nonlinear_in_breakpoint_is_solved_each_step_at_the_new_v():
    """SOLVE of a NONLINEAR block in BREAKPOINT: NEURON's nrn_state runs Newton at the
    new v (measured with NEURON 9: the state at step k solves the equations at v(t_k)).
    b = (−K + √(K² + 4c(v)))/2 after init and after an update to another v, per
    compartment (Newton converged to float64 rounding, 1e-14)."""
    K = 0.3

    def b_exact(v):
        c = 1.0 / (1.0 + np.exp(-(np.asarray(v) + 40.0) / 8.0))
        return (-K + np.sqrt(K * K + 4.0 * c)) / 2.0

    with jax.enable_x64(True):
        mech = load_mod(NLBP, file="nlbp.mod")
        v0 = jnp.array([-65.0, -40.0, 0.0])
        g = mech.init(v0, 6.3)
        np.testing.assert_allclose(g.b, b_exact(v0), rtol=1e-14)
        v1 = jnp.array([-30.0, -80.0, 20.0])
        g1 = mech.update(v1, g, 0.025, 6.3)
        np.testing.assert_allclose(g1.b, b_exact(v1), rtol=1e-14)
        # the current uses the carried b (BREAKPOINT's SOLVE is not run in the current)
        i = mech.current(v1, g1)
        np.testing.assert_allclose(i, 1000 * 0.002 * b_exact(v1) * (np.asarray(v1) + 80.0),
                                   rtol=1e-13)  # fmt: skip


def test_a_name_declared_twice_is_refused_as_nocmodl_does():
    """nocmodl (NEURON 9): "Multiple declaration of gbar at line 6" — the file does not
    compile; a silent last-wins would run a value its author may not have meant."""
    base = """
NEURON { SUFFIX dup NONSPECIFIC_CURRENT i RANGE gbar }
PARAMETER {
    gbar = 0.001 (S/cm2)
    e = -70 (mV)
}
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = gbar*(v - e) }
"""
    twice = base.replace("    e = -70 (mV)\n", "    e = -70 (mV)\n    gbar = 0.002 (S/cm2)\n")
    with pytest.raises(NmodlError, match=r"d\.mod:6: PARAMETER gbar: declared twice \(first in "
                                         r"PARAMETER at line 4\)"):  # fmt: skip
        load_mod(twice, file="d.mod")
    across = base.replace("ASSIGNED { v (mV)", "ASSIGNED { e (mV) v (mV)")
    with pytest.raises(NmodlError, match=r"d\.mod:7: ASSIGNED e: declared twice \(first in "
                                         r"PARAMETER at line 5\)"):  # fmt: skip
        load_mod(across, file="d.mod")
    assert float(load_mod(base, file="d.mod").gbar) == pytest.approx(0.001)


def test_reversed_parameter_limits_are_refused():
    """`<5, 2>`: NEURON ignores limits (GUI hints) and compiles it; neurojax uses limits
    as the parameter's domain (values passed, fitting), where reversed ones have no
    meaning: refused naming the line and the fix."""
    text = """
NEURON { SUFFIX rl NONSPECIFIC_CURRENT i RANGE gbar }
PARAMETER {
    gbar = 0.001 (S/cm2) <5, 2>
}
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = gbar*(v + 70) }
"""
    with pytest.raises(NmodlError, match=r"r\.mod:4: PARAMETER gbar: the limits <5, 2> are "
                                         r"reversed .*write <2, 5>"):  # fmt: skip
        load_mod(text, file="r.mod")
    ok = load_mod(text.replace("<5, 2>", "<0, 5>"), file="r.mod")
    with pytest.raises(ValueError, match="gbar"):
        type(ok)(gbar=-1.0)


# written here: x relaxes towards a modulator level read through a POINTER (Snudda's
# `damod` pattern in a density mechanism); the STATE is named `is` (a Python keyword, as
# Snudda's kv4_ch), its gate is the field `is_`
PTR = """
NEURON { SUFFIX ptrx NONSPECIFIC_CURRENT i POINTER mod }
PARAMETER { tau = 1 (ms) }
ASSIGNED { v (mV) i (mA/cm2) mod }
STATE { is }
INITIAL { is = mod }
BREAKPOINT {
    SOLVE s METHOD cnexp
    i = 0
}
DERIVATIVE s { is' = (mod - is)/tau }
"""


def test_pointer_in_a_density_mechanism_reads_the_played_series():
    """`bind_pointer(name, values=, dt=Dt)` on a density mechanism: NEURON's
    Vector.play(&var, Dt) sets sample k at k·Dt, an event delivered at the start of the
    step from t_s when k·Dt ≤ t_s + dt/2, so the step reads sample floor((t_s + dt/2)/Dt)
    — here Dt = 4 dt: cnexp's `x ← x·a + C_k·(1 − a)` with that k (float64 rounding).
    A constant (`value=`) is the series of one value."""
    dt, Dt = 0.025, 0.1
    vals = np.array([0.0, 1.0, 3.0, 2.0, 5.0])
    with jax.enable_x64(True):
        base = load_mod(PTR, file="ptrx.mod")
        mech = base.bind_pointer("mod", values=vals, dt=Dt)
        v = jnp.array([-65.0])
        g = mech.init(v, 6.3)
        assert type(g)._fields == ("is_",)
        a = np.exp(-dt / 1.0)
        x, ours, ref = vals[0], [], []
        for k in range(28):
            g = mech.update(v, g, dt, 6.3, t=(k + 1) * dt)
            c = vals[min(int(np.floor((k * dt + dt / 2) / Dt + 1e-9)), len(vals) - 1)]
            x = x * a + c * (1 - a)
            ours.append(float(g.is_[0]))
            ref.append(x)
        np.testing.assert_allclose(ours, ref, rtol=1e-13)
        g = base.bind_pointer("mod", value=2.5).init(v, 6.3)
        assert float(g.is_[0]) == 2.5


def test_pointer_in_a_density_mechanism_refusals():
    mech = load_mod(PTR, file="ptrx.mod")
    with pytest.raises(ValueError, match=r"ptrx\.mod: POINTER mod of ptrx is not bound: "
                                         r"mech = mech\.bind_pointer\('mod', value="):  # fmt: skip
        mech.init(jnp.zeros(1), 6.3)
    with pytest.raises(ValueError, match="give value= .* or values="):
        mech.bind_pointer("mod")
    with pytest.raises(ValueError, match="needs dt > 0"):
        mech.bind_pointer("mod", values=[1.0, 2.0])
    with pytest.raises(ValueError, match="one finite number"):
        mech.bind_pointer("mod", value=[1.0, 2.0])
    with pytest.raises(ValueError, match="has no POINTER 'x'"):
        mech.bind_pointer("x", value=1.0)
