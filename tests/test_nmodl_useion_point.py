"""USEION in an NMODL POINT_PROCESS (fast tier): a point process's ion current (nA)
enters the node's membrane current and the ion's density (`i·100/area` mA/cm², NEURON's
rule) that a concentration mechanism integrates; a point process reads cai/eca from the
cell's pool; refusals. Against NEURON compiling the same files:
`tests/test_nmodl_useion_point_neuron.py` (slow)."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Branch, Cell, Morphology, Passive
from neurojax.channels._ions import FARADAY
from neurojax.nmodl import NmodlError, load_mod
from neurojax.solvers import BackwardEuler

DT, N = 0.025, 200
L = DIAM = 10.0
AMP = -0.002  # nA, the point process's constant Ca current (inward: negative)
CAD_TEXT = (Path(__file__).parents[1] / "neurojax" / "cable" / "data" / "hay2011"
            / "CaDynamics_E2.mod").read_text()  # fmt: skip
CAD = {"gamma": 0.5, "decay": 80.0, "depth": 0.1, "minCai": 1e-4}

CA_INJ = """
NEURON { POINT_PROCESS CaInj  USEION ca WRITE ica  RANGE amp }
UNITS { (nA) = (nanoamp) }
PARAMETER { amp = 0 (nA) }
ASSIGNED { ica (nA) }
BREAKPOINT { ica = amp }
"""

CA_SENS = """
NEURON { POINT_PROCESS CaSens  USEION ca READ cai, eca  NONSPECIFIC_CURRENT i
         RANGE gmax, kd, tauw }
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) (mM) = (milli/liter) }
PARAMETER { gmax = 0.002 (uS) kd = 2e-4 (mM) tauw = 5 (ms) }
ASSIGNED { v (mV) i (nA) cai (mM) eca (mV) }
STATE { w }
INITIAL { w = cai/(cai + kd) }
BREAKPOINT {
    SOLVE state METHOD cnexp
    i = gmax*w*(v - eca)
}
DERIVATIVE state { w' = (cai/(cai + kd) - w)/tauw }
"""


@pytest.fixture(scope="module")
def classes():
    """The imported classes, loaded once (the importer's checks cost ~1 CPU-s a file)."""
    return {"inj": type(load_mod(CA_INJ, file="cainj.mod")),
            "sens": type(load_mod(CA_SENS, file="casens.mod"))}  # fmt: skip


@pytest.fixture(scope="module")
def run(classes):
    """One compiled run shared by the checks: passive + CaDynamics_E2, a constant point
    Ca current and a cai reader (gmax = 0: it only watches) at the middle, BE, float64."""
    import jax

    with jax.enable_x64(True):
        inj = classes["inj"](amp=AMP)
        sens = classes["sens"](gmax=0.0)
        cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]),
                    [(load_mod(CAD_TEXT, **CAD), None), (Passive(g=0.1, e=-65.0), None)],
                    v_init=-65.0, point_processes=[(inj, (0, 0.5)), (sens, (0, 0.5))])  # fmt: skip
        site = [(0, 0.5)]
        fns = {"v": cell.record_v(site), "cai": cell.record_ion("cai", site),
               "w": cell.record_point(1, "w")}  # fmt: skip
        save = nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()})
        sol = nj.simulate(cell, jnp.zeros((N, 0)), dt=DT, solver=BackwardEuler(), saveat=save)
        out = {k: np.asarray(x)[:, 0] for k, x in sol.states.items()}
        out["area"] = float(cell.geometry.area[cell.discretisation.node(0, 0.5)])
    return out


def test_point_ica_enters_the_pool_with_neurons_area_rule(run):
    """cai under CaDynamics_E2 with the point current AMP nA at a node of area A: the
    density is ica = AMP·100/A mA/cm², so cai' = −1e4·ica·γ/(2F·depth) − (cai − minCai)/τ,
    which cnexp integrates exactly (linear, constant input): the closed form to rounding
    (float64: ~1e-16 relative per step, 200 steps → 1e-12 of cai's ~1e-4 mM scale)."""
    area = run["area"]
    assert area == pytest.approx(np.pi * L * DIAM, rel=1e-12)  # one compartment: π·L·d
    ica = AMP * 100.0 / area  # mA/cm²
    drive = -1e4 * ica * CAD["gamma"] / (2 * FARADAY * CAD["depth"])  # mM/ms
    c_inf = CAD["minCai"] + drive * CAD["decay"]
    t = DT * np.arange(1, N + 1)
    cai = c_inf + (5e-5 - c_inf) * np.exp(-t / CAD["decay"])  # cai₀ = NEURON's 5e-5 mM
    np.testing.assert_allclose(run["cai"], cai, rtol=0, atol=1e-15)
    assert drive > 0 and run["cai"][-1] > 2 * run["cai"][0]  # inward Ca current: cai rises


def test_point_ica_is_a_membrane_current(run):
    """V: backward Euler of C dV/dt = −g·A(V − E) − AMP (nA; C = cm·A, A in cm²), the
    recursion to rounding (1e-10 mV: float64 over 200 steps of ~65 mV)."""
    a_cm2 = run["area"] * 1e-8
    c = 1.0 * a_cm2 * 1e3  # µF/cm² · cm² → nF
    g = 0.1 * a_cm2 * 1e3  # mS/cm² · cm² → µS
    v, vs = -65.0, []
    for _ in range(N):
        v = (c / DT * v + g * -65.0 - AMP) / (c / DT + g)
        vs.append(v)
    np.testing.assert_allclose(run["v"], vs, rtol=0, atol=1e-10)
    # depolarised toward E − AMP/g (+6.4 mV) with τ = C/g = 10 ms: 1 − e^(−0.5) of it at 5 ms
    assert run["v"][-1] - -65.0 == pytest.approx(-AMP / g * (1 - np.exp(-0.5)), rel=1e-2)


def test_point_reads_cai_from_the_pool(run):
    """CaSens's w starts at cai₀/(cai₀ + kd) (its INITIAL, with the pool's cai₀ = 5e-5 mM)
    and follows cnexp with the cai of the same step's end (the concentration mechanism
    updates first: NEURON's memb_order_), the recursion from the recorded cai to rounding
    (1e-14: w ≤ 1)."""
    kd, tauw = 2e-4, 5.0
    w, ws = 5e-5 / (5e-5 + kd), []
    for c in run["cai"]:
        inf = c / (c + kd)
        w = inf + (w - inf) * np.exp(-DT / tauw)
        ws.append(w)
    np.testing.assert_allclose(run["w"], ws, rtol=0, atol=1e-14)


def test_standalone_contract_reads_the_given_ions(classes):
    """Outside a cell: init/current use NEURON's default ion values; current_ions the
    given ones (eca), and returns the ion current written (nA for a point process)."""
    sens = classes["sens"]()
    inj = classes["inj"](amp=0.3)
    v = jnp.array([-60.0])
    g = sens.init(v, 6.3)
    assert float(g.w[0]) == pytest.approx(5e-5 / (5e-5 + 2e-4), rel=1e-6)  # float32
    i, written = sens.current_ions(v, g, 6.3, {"cai": jnp.array([5e-5]),
                                               "eca": jnp.array([120.0])})  # fmt: skip
    assert written == {}
    assert float(i[0]) == pytest.approx(0.002 * float(g.w[0]) * (-60.0 - 120.0), rel=1e-6)
    gi = inj.init(v, 6.3)
    i, written = inj.current_ions(v, gi, 6.3, inj.default_ions(v))
    assert float(i[0]) == pytest.approx(0.3) and float(written["ica"][0]) == pytest.approx(0.3)
    assert [u.ion for u in type(inj).ion_use] == ["ca"]


def test_refusals_name_file_line_and_construct(classes):
    with pytest.raises(NmodlError, match=r"cainj\.mod:2.*READ ica in a POINT_PROCESS"):
        load_mod(CA_INJ.replace("WRITE ica", "READ ica WRITE ica"), file="cainj.mod")
    with pytest.raises(NmodlError, match=r"WRITE eca in a POINT_PROCESS"):
        load_mod(CA_INJ.replace("WRITE ica", "WRITE ica, eca"), file="cainj.mod")
    inj = classes["inj"](amp=0.1)
    with pytest.raises(ValueError, match=r"point_processes\[0\].*writes ica.*without membrane"):
        Cell(Morphology([Branch(L, DIAM, nseg=1)]), [(Passive(), None)],
             point_processes=[(inj, (0, 0.0))])  # fmt: skip


# slow: 2.5 CPU-s of eager tracing; the fast tests above cover the same wiring in the step
@pytest.mark.slow
def test_vector_field_sees_the_point_ion_current(x64):
    """`Cell.vector_field` at the initial state: dcai/dt = −1e4·ica·γ/(2F·depth) −
    (cai − minCai)/τ with ica = AMP·100/A, dV/dt = −AMP/C, w' = 0 (w starts at its
    steady state): float64 rounding (1e-12 relative)."""
    inj = load_mod(CA_INJ, file="cainj.mod", amp=AMP)
    sens = load_mod(CA_SENS, file="casens.mod", gmax=0.0)
    cell = Cell(Morphology([Branch(L, DIAM, nseg=1)]),
                [(load_mod(CAD_TEXT, **CAD), None), (Passive(g=0.1, e=-65.0), None)],
                v_init=-65.0, point_processes=[(inj, (0, 0.5)), (sens, (0, 0.5))])  # fmt: skip
    node = cell.discretisation.node(0, 0.5)
    area = float(cell.geometry.area[node])
    f = cell.vector_field(0.0, cell.init_state(), jnp.zeros((0,)))
    ica = AMP * 100.0 / area
    dcai = -1e4 * ica * CAD["gamma"] / (2 * FARADAY * CAD["depth"]) - (5e-5 - 1e-4) / 80.0
    assert float(f.ions["cai"][node]) == pytest.approx(dcai, rel=1e-12)
    assert float(f.v[node]) == pytest.approx(-AMP / (area * 1e-5), rel=1e-12)  # C: nF
    assert float(f.points[1].w[0]) == pytest.approx(0.0, abs=1e-15)
