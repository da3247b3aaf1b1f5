"""NMODL importer (fast tier): hh.mod/passive.mod text against the built-in channels,
gradients at removable singularities, parameters as leaves, refused constructs.

The .mod files are read from the installed `neuron` wheel when present; hh.mod's text
is also embedded below (its equations, for the fast test without NEURON)."""

import importlib.util
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import HH, Branch, Cell, Morphology, Passive
from neurojax.nmodl import NmodlError, load_mod, mod_class
from neurojax.solvers import BackwardEuler


def _wheel_mod(name):
    spec = importlib.util.find_spec("neuron")
    # neuron is a dev dependency: its absence is a broken install, not a reason to skip
    assert spec is not None, "neuron is not installed: pip install -e '.[dev]'"
    share = Path(spec.origin).parent / ".data" / "share"
    for p in (share / "modfile" / name, share / "nrn" / "demo" / "release" / name):
        if p.is_file():
            return p
    raise AssertionError(f"{name} is not in the installed neuron wheel under {share}")


# hh.mod's equations (NEURON's squid-axon channels), as an NMODL text.
HH_TEXT = """
NEURON {
    SUFFIX hh
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    NONSPECIFIC_CURRENT il
    RANGE gnabar, gkbar, gl, el, gna, gk
    RANGE minf, hinf, ninf, mtau, htau, ntau
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER {
    gnabar = .12 (S/cm2) <0,1e9>
    gkbar = .036 (S/cm2) <0,1e9>
    gl = .0003 (S/cm2) <0,1e9>
    el = -54.3 (mV)
}
STATE { m h n }
ASSIGNED {
    v (mV) celsius (degC) ena (mV) ek (mV)
    gna (S/cm2) gk (S/cm2) ina (mA/cm2) ik (mA/cm2) il (mA/cm2)
    minf hinf ninf mtau (ms) htau (ms) ntau (ms)
}
BREAKPOINT {
    SOLVE states METHOD cnexp
    gna = gnabar*m*m*m*h
    ina = gna*(v - ena)
    gk = gkbar*n*n*n*n
    ik = gk*(v - ek)
    il = gl*(v - el)
}
INITIAL { rates(v) m = minf h = hinf n = ninf }
DERIVATIVE states {
    rates(v)
    m' = (minf-m)/mtau
    h' = (hinf-h)/htau
    n' = (ninf-n)/ntau
}
PROCEDURE rates(v(mV)) {
    LOCAL alpha, beta, sum, q10
    TABLE minf, mtau, hinf, htau, ninf, ntau DEPEND celsius FROM -100 TO 100 WITH 200
UNITSOFF
    q10 = 3^((celsius - 6.3)/10)
    alpha = .1 * vtrap(-(v+40),10)
    beta = 4 * exp(-(v+65)/18)
    sum = alpha + beta
    mtau = 1/(q10*sum)
    minf = alpha/sum
    alpha = .07 * exp(-(v+65)/20)
    beta = 1 / (exp(-(v+35)/10) + 1)
    sum = alpha + beta
    htau = 1/(q10*sum)
    hinf = alpha/sum
    alpha = .01*vtrap(-(v+55),10)
    beta = .125*exp(-(v+65)/80)
    sum = alpha + beta
    ntau = 1/(q10*sum)
    ninf = alpha/sum
}
FUNCTION vtrap(x,y) {
    if (fabs(x/y) < 1e-6) {
        vtrap = y*(1 - x/y/2)
    } else {
        vtrap = x/(exp(x/y) - 1)
    }
}
UNITSON
"""

V = np.array([-100.0, -65.0, -55.0, -40.0, -20.0, 0.0, 30.0])  # incl. the singular -55, -40


@pytest.mark.parametrize("source", ["text", "wheel"])
def test_hh_mod_is_the_builtin_hh(x64, source):
    mech = load_mod(HH_TEXT if source == "text" else _wheel_mod("hh.mod"))
    ref = HH()
    for temp in (6.3, 20.0):
        g, gr = mech.init(V, temp), ref.init(V, temp)
        for a, b in zip(g, gr, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(mech.current(V, g), ref.current(V, gr), rtol=1e-13, atol=1e-12)
        # one step from off-steady-state gates: the same exponential-Euler update
        g1, gr1 = mech.update(V + 7.0, g, 0.025, temp), ref.update(V + 7.0, gr, 0.025, temp)
        for a, b in zip(g1, gr1, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert type(g)._fields == ("m", "h", "n")
    assert mech.gnabar == 0.12  # NMODL names and units (S/cm2)
    # ena/ek are the cell's ion pools' (NEURON's defaults when used alone), not fields
    assert not hasattr(mech, "ena") and [u.ion for u in type(mech).ion_use] == ["na", "k"]


def test_rates_have_finite_gradients_at_the_removable_singularities(x64):
    mech = load_mod(HH_TEXT)
    vs = np.array([-55.0, -40.0])  # vtrap(0, 10) for n and m

    def m_n(v):
        g = mech.update(v, mech.init(v - 1.0, 6.3), 0.1, 6.3)
        return jnp.stack([g.m, g.n])

    jac = jax.jacfwd(lambda v: m_n(v).sum(0))(vs)
    grad = jax.grad(lambda v: m_n(v).sum())(vs)
    assert np.all(np.isfinite(jac)) and np.all(np.isfinite(grad))
    # the derivative is continuous through the singular point: central differences
    eps = 1e-5
    fd = (m_n(vs + eps).sum(0) - m_n(vs - eps).sum(0)) / (2 * eps)
    np.testing.assert_allclose(np.diag(jac), fd, rtol=1e-7)


def test_singularity_rewrite_without_a_guard(x64):
    """A rate written plainly as (v+40)/(1 - exp(-(v+40)/10)) (no IF) is rewritten."""
    text = HH_TEXT.replace(
        "alpha = .1 * vtrap(-(v+40),10)", "alpha = .1*(v+40)/(1 - exp(-(v+40)/10))"
    )
    mech = load_mod(text)
    v = np.array([-40.0])
    g = mech.init(v, 6.3)
    assert np.all(np.isfinite(np.asarray(g.m)))
    d = jax.grad(lambda v: mech.init(v, 6.3).m.sum())(v)
    fd = (mech.init(v + 1e-5, 6.3).m - mech.init(v - 1e-5, 6.3).m) / 2e-5
    np.testing.assert_allclose(d, fd, rtol=1e-7)
    np.testing.assert_allclose(g.m, HH().init(v, 6.3).m, rtol=1e-13)


def test_passive_mod_is_passive(x64):
    mech = load_mod(_wheel_mod("passive.mod"), g=0.002, e=-60.0)
    ref = Passive(g=2.0, e=-60.0)  # mS/cm2
    np.testing.assert_allclose(mech.current(V, mech.init(V, 6.3)), ref.current(V, ()), rtol=1e-14)


@pytest.mark.slow  # a cell run and its gradient; the rate tests stay fast
def test_cell_with_imported_hh_matches_builtin_and_gradients_reach_parameters(x64):
    morph = Morphology([Branch(20.0, 20.0, nseg=1), Branch(100.0, 2.0, parent=0, nseg=3)])
    amps = jnp.where(jnp.arange(400) * 0.025 > 1.0, 0.3, 0.0)[:, None]

    def run(mech):
        cell = Cell(morph, [(mech, None)], clamps=[(0, 0.5)])
        return nj.simulate(cell, amps, dt=0.025, solver=BackwardEuler(),
                           saveat=nj.SaveAt(fn=cell.record_v([(0, 0.5), (1, 1.0)]))).states  # fmt: skip  # noqa: E501

    mech = load_mod(HH_TEXT)
    v = run(mech)
    assert float(v.max()) > 20  # it fires
    np.testing.assert_allclose(v, run(HH()), atol=1e-9)
    # per-compartment parameters and gradients under their NMODL names
    grad = jax.grad(lambda m: run(m)[-1, 0])(mech)
    assert np.isfinite(float(grad.gnabar)) and float(grad.gnabar) != 0.0
    per = eqx.tree_at(lambda m: m.gkbar, mech, jnp.full(4, 0.036))
    np.testing.assert_allclose(run(per), v, atol=1e-12)


def test_mechanism_class_and_domains():
    cls = mod_class(HH_TEXT)
    assert issubclass(cls, nj.cable.AbstractChannel)
    with pytest.raises(ValueError, match="gnabar"):
        cls(gnabar=-1.0)  # NMODL's <0,1e9>
    with pytest.raises(ValueError, match="not parameters"):
        load_mod(HH_TEXT, gbar=1.0)


@pytest.mark.parametrize(
    ("snippet", "where", "match"),
    [
        ("VERBATIM\n x = 1;\nENDVERBATIM", "top", "VERBATIM"),
        # one argument is supported (tests/test_nmodl_corpus10_constructs.py); two not
        ("FUNCTION_TABLE tab(v, x)", "top", "FUNCTION_TABLE tab with 2 arguments"),
        ("WATCH (v > 0) 2", "initial", "WATCH"),
        ("FROM i = 0 TO gnabar { m = m }", "initial", "FROM loop's upper bound must be a constant"),
        ("VERBATIM\n m = 1;\nENDVERBATIM", "initial", "VERBATIM"),
        ("ca[1] = 1", "initial", "ca is not declared as an array"),
        ("net_send(1, 1)", "initial", "net_send"),
        ("DISCRETE lin { m = 1 }", "top", "DISCRETE"),  # NONLINEAR: test_nmodl_nonlinear.py
        ('printf("x")', "initial", "printf"),
        ("while (m < 1) { m = 1 }", "initial", "while"),
    ],
)
def test_unsupported_constructs_name_file_line_and_construct(snippet, where, match):
    text = HH_TEXT
    if where == "top":
        text = text + "\n" + snippet + "\n"
    else:
        text = text.replace("INITIAL { rates(v)", "INITIAL {\n" + snippet + "\n rates(v)")
    line = text[: text.index(snippet.split("\n")[0])].count("\n") + 1
    with pytest.raises(NmodlError, match=rf"mine\.mod:{line}: .*{match}"):
        load_mod(text, file="mine.mod")


def test_other_refusals():
    # hh's text as a POINT_PROCESS (USEION in a point process) loads now; what a point
    # process may not do with ions is refused in tests/test_nmodl_useion_point.py
    from neurojax.channels import AbstractPointProcess

    hh_point = load_mod(HH_TEXT.replace("SUFFIX hh", "POINT_PROCESS HHsyn"), file="p.mod")
    assert isinstance(hh_point, AbstractPointProcess)
    with pytest.raises(NmodlError, match="METHOD runge"):
        load_mod(HH_TEXT.replace("METHOD cnexp", "METHOD runge"))
    with pytest.raises(NmodlError, match="USEION na: nai2 is not one of its variables"):
        load_mod(HH_TEXT.replace("USEION na READ ena", "USEION na READ ena, nai2"))
    with pytest.raises(NmodlError, match="undefined name 'q11'"):
        load_mod(HH_TEXT.replace("q10 = 3^", "q10 = q11*3^")).init(V, 6.3)


def test_kinetic_scheme_with_conserve_and_steady_state(x64):
    """~ c <-> o (a, b): backward Euler conserves c + o; STEADYSTATE is NEURON's (scopmath's
    `_ss_sparse` for a linear scheme): one backward-Euler step of 1e9 ms from c = o = 0,
    CONSERVE replacing o's equation, o = (1 + dt·a)/(1 + dt·(a + b)) — a/(a+b) to
    ~1/(dt·(a + b)), 2e-7 relative here."""
    text = """
    NEURON { SUFFIX kin2  USEION k READ ek WRITE ik  RANGE gbar }
    PARAMETER { gbar = 0.036 (S/cm2) <0,1e9> }
    ASSIGNED { v (mV) ek (mV) ik (mA/cm2) a (/ms) b (/ms) }
    STATE { c o }
    INITIAL { SOLVE kin STEADYSTATE sparse }
    BREAKPOINT { SOLVE kin METHOD sparse  ik = gbar*o*(v - ek) }
    KINETIC kin { rates(v)  ~ c <-> o (a, b)  CONSERVE c + o = 1 }
    PROCEDURE rates(v (mV)) {
        a = 0.01*(v + 55)/(1 - exp(-(v + 55)/10))
        b = 0.125*exp(-(v + 65)/80)
    }
    """
    mech = load_mod(text)
    g = mech.init(V, 6.3)
    ref = HH().init(V, 6.3).n  # the same rates as hh's n: a/(a + b)
    np.testing.assert_allclose(g.o, ref, rtol=1e-6)
    x = V + 55.0
    a = np.where(x == 0, 0.1, 0.01 * x / -np.expm1(-np.where(x == 0, 1.0, x) / 10))
    b = 0.125 * np.exp(-(V + 65) / 80)
    dt = 1e9
    np.testing.assert_allclose(g.o, (1 + dt * a) / (1 + dt * (a + b)), rtol=1e-12)
    np.testing.assert_allclose(g.c + g.o, 1.0, rtol=1e-14)
    g1 = mech.update(V + 20.0, g, 0.1, 6.3)
    np.testing.assert_allclose(g1.c + g1.o, 1.0, rtol=1e-13)
    # backward Euler of do/dt = a(1 - o) - b o
    a = 0.01 * (V + 75) / (1 - jnp.exp(-(V + 75) / 10))
    b = 0.125 * jnp.exp(-(V + 85) / 80)
    np.testing.assert_allclose(g1.o, (g.o + 0.1 * a) / (1 + 0.1 * (a + b)), rtol=1e-12)


def test_cnexp_on_a_nonlinear_equation_is_refused_naming_its_line():
    text = HH_TEXT.replace("h' = (hinf-h)/htau", "h' = (hinf-h*h)/htau")
    line = text[: text.index("h' = (hinf-h*h)")].count("\n") + 1
    with pytest.raises(NmodlError, match=rf"x\.mod:{line}: METHOD cnexp needs h' linear"):
        load_mod(text, file="x.mod")
    load_mod(text.replace("METHOD cnexp", "METHOD derivimplicit"))  # accepted
