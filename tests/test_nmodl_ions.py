"""Ion pools of the cable Cell with NMODL mechanisms (fast tier): NEURON's rules for
reversal potentials and concentrations, the total ion current read by a Ca pool, a
Ca-activated K channel reading the shared cai, against analytic solutions and a stored
NEURON run (`validation/nmodl_ions_vs_neuron.py`; the live comparison is
`tests/test_nmodl_ions_neuron.py`, slow tier)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Branch, Cell, Morphology
from neurojax.channels import FARADAY, R_GAS, nernst
from neurojax.nmodl import load_mod
from neurojax.solvers import BackwardEuler

HAY = Path(nj.__file__).parent / "cable" / "data" / "hay2011"
REF = Path(__file__).parent / "data" / "nmodl" / "ions_hay_ca_sk_hh_iclamp.npz"
DT = 0.025

# A constant Ca2+ current (written for this test): ica = amp, whatever V.
CONST_CA = """
NEURON { SUFFIX %s  USEION ca WRITE ica  RANGE amp }
PARAMETER { amp = -1e-4 (mA/cm2) }
ASSIGNED { ica (mA/cm2) }
BREAKPOINT { ica = amp }
"""

# Reads cai and eca, writes nothing: to look at the pool.
PROBE = """
NEURON { SUFFIX probe  USEION ca READ cai, eca  RANGE x, e }
ASSIGNED { cai (mM) eca (mV) x e }
BREAKPOINT { x = cai  e = eca }
"""

HH_TEXT = (Path(__file__).parent / "test_nmodl.py").read_text().split('HH_TEXT = """')[1]
HH_TEXT = HH_TEXT.split('"""')[0]


def _one(mechs, **kw):
    return Cell(Morphology([Branch(10.0, 10.0, nseg=1)]), [(m, None) for m in mechs], **kw)


def test_nernst_matches_the_formula_and_neurons_constants(x64):
    # NEURON's eca at its defaults (cai 5e-5, cao 2 mM, 16 degC), as NEURON printed it
    np.testing.assert_allclose(nernst(5e-5, 2.0, 2.0, 16.0), 132.0182751658046, rtol=1e-14)
    ktf = 1000 * R_GAS * (6.3 + 273.15) / FARADAY
    np.testing.assert_allclose(nernst(10.0, 140.0, 1.0, 6.3), ktf * np.log(14.0), rtol=1e-15)
    assert float(nernst(0.0, 2.0, 2.0, 6.3)) == 1e6  # NEURON's guard


def test_reversal_fixed_or_from_nernst_by_neurons_rules(x64):
    cad = load_mod(HAY / "CaDynamics_E2.mod")
    hva = load_mod(HAY / "Ca_HVA.mod")
    probe = load_mod(PROBE)
    # eca read, no concentration used: the fixed value (NEURON's default or the one given)
    cell = _one([hva], temperature=34.0)
    assert float(cell.ions["eca"]) == 132.4579341637009
    cell = _one([hva], ions={"eca": 120.0})
    assert float(cell._ion_pool(jnp.zeros(cell.n_nodes), None).x["eca"][1]) == 120.0
    # a concentration read: eca from Nernst (at init: NEURON's einit), the given eca refused
    cell = _one([probe], temperature=16.0, ions={"cai": 1e-4})
    y = cell.init_state()
    np.testing.assert_allclose(
        cell._ion_pool(y.v, y.ions).x["eca"][1], nernst(1e-4, 2.0, 2.0, 16.0), rtol=1e-14
    )
    with pytest.raises(ValueError, match="eca.*Nernst.*'cai'/'cao'"):
        _one([probe], ions={"eca": 120.0})
    # a concentration written: a state of the cell, eca follows it
    cell = _one([hva, cad], temperature=16.0)
    assert cell.geometry.ions.state_names == ("cai", "cao")
    assert set(cell.init_state().ions) == {"cai", "cao"}


def test_ca_pool_integrates_the_summed_current_exactly(x64):
    """Two constant Ca currents into CaDynamics_E2: its equation is linear with a constant
    source, which cnexp integrates exactly — cai(t) in closed form, to rounding."""
    cad = load_mod(HAY / "CaDynamics_E2.mod", gamma=0.05, decay=80.0, depth=0.1)
    a = load_mod(CONST_CA % "ca_a", amp=-2e-4)
    b = load_mod(CONST_CA % "ca_b", amp=-1e-4)
    cai0 = 5e-5
    cell = _one([a, b, cad], ions={"cai": cai0})
    n = 400
    sol = nj.simulate(cell, jnp.zeros((n, 0)), dt=DT, solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=cell.record_ion("cai", [(0, 0.5)])))  # fmt: skip
    ica = -3e-4  # mA/cm2: the sum the pool reads
    src = -10000 * ica * 0.05 / (2 * FARADAY * 0.1)  # mM/ms
    t = DT * np.arange(1, n + 1)
    exact = 1e-4 + src * 80 + (cai0 - 1e-4 - src * 80) * np.exp(-t / 80)
    np.testing.assert_allclose(np.asarray(sol.states)[:, 0], exact, rtol=1e-12)


def test_sk_reads_the_pools_cai(x64):
    """SK_E2 at init: z = 1/(1 + (0.43 µM/cai)^4.8) with the cell's cai (a parameter:
    nothing writes it), and its current uses the cell's ek."""
    sk = load_mod(HAY / "SK_E2.mod", gSK_E2bar=1e-3)
    for cai in (2e-4, 5e-4, 2e-3):
        cell = _one([sk], ions={"cai": cai, "ek": -90.0})
        z = cell.init_state().gates[0].z[1]
        np.testing.assert_allclose(z, 1 / (1 + (0.00043 / cai) ** 4.8), rtol=1e-13)
        i, _ = cell._currents(cell.init_state(), jnp.zeros(1))
        area = np.pi * 10.0 * 10.0 * 1e-5  # µm² → the cell's nA per µA/cm² unit
        np.testing.assert_allclose(i[1] / area, 1.0 * z * (-65.0 + 90.0), rtol=1e-12)


@pytest.fixture(scope="module")
def hay_run():
    """The stored NEURON case run by the Cell (float64): Ca_HVA + CaDynamics_E2 + SK_E2 +
    hh, 0.05 nA from 5 to 30 ms, NEURON's registration order."""
    with jax.enable_x64(True):
        ref = np.load(REF)
        mechs = {
            "Ca_HVA": load_mod(HAY / "Ca_HVA.mod", gCa_HVAbar=0.002),
            "CaDynamics_E2": load_mod(HAY / "CaDynamics_E2.mod"),
            "SK_E2": load_mod(HAY / "SK_E2.mod", gSK_E2bar=0.003),
            "hhx": load_mod(HH_TEXT),
        }
        cell = _one([mechs[str(k)] for k in ref["order"]], temperature=16.0,
                    clamps=[(0, 0.5)], ions={"ek": -80.0})  # fmt: skip
        t = np.arange(1600) * DT + DT / 2
        amps = jnp.asarray(np.where((t >= 5.0) & (t < 30.0), 0.05, 0.0))[:, None]
        k_sk = [str(k) for k in ref["order"]].index("SK_E2")
        fns = {"v": cell.record_v([(0, 0.5)]), "cai": cell.record_ion("cai", [(0, 0.5)]),
               "z": cell.record_gate(k_sk, "z", [(0, 0.5)])}  # fmt: skip
        sol = nj.simulate(cell, amps, dt=DT, solver=BackwardEuler(),
                          saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # noqa: E501  # fmt: skip
        out = {k: np.asarray(v)[19::20, 0] for k, v in sol.states.items()}
        return ref, out, cell


def test_ca_sk_cell_matches_stored_neuron(hay_run):
    ref, out, cell = hay_run
    assert ref["v"].max() > 0 and ref["cai"].max() > 1e-3  # it fires, Ca accumulates
    # the same equations in the same scheme: measured 7e-11 mV (V), 3e-14 mM (cai); the
    # bounds leave room for another BLAS's rounding, amplified through the spikes
    np.testing.assert_allclose(out["v"], ref["v"], atol=1e-7)
    np.testing.assert_allclose(out["cai"], ref["cai"], atol=1e-12)
    np.testing.assert_allclose(out["z"], ref["z"], atol=1e-9)
    with jax.enable_x64(True):
        y = cell.init_state()
        np.testing.assert_allclose(cell._ion_pool(y.v, y.ions).x["eca"][1], ref["eca_init"],
                                   rtol=1e-14)  # fmt: skip


def test_gradient_through_the_pool(x64):
    """d cai(T)/d gamma of CaDynamics_E2 under a constant current: the closed form's
    derivative (cai − cainf is linear in gamma when cai0 = minCai)."""
    a = load_mod(CONST_CA % "ca_a", amp=-2e-4)

    def cai_end(gamma):
        cad = load_mod(HAY / "CaDynamics_E2.mod", gamma=gamma)
        cell = _one([a, cad], ions={"cai": 1e-4})
        sol = nj.simulate(cell, jnp.zeros((200, 0)), dt=DT, solver=BackwardEuler(),
                          saveat=nj.SaveAt(fn=cell.record_ion("cai", [(0, 0.5)])))  # fmt: skip
        return sol.states[-1, 0]

    g = jax.grad(cai_end)(0.05)
    src_per_gamma = -10000 * -2e-4 / (2 * FARADAY * 0.1)
    exact = src_per_gamma * 80 * (1 - np.exp(-200 * DT / 80))
    np.testing.assert_allclose(g, exact, rtol=1e-10)


def test_refusals_name_the_culprit():
    sk = load_mod(HAY / "SK_E2.mod")
    cad = load_mod(HAY / "CaDynamics_E2.mod")
    with pytest.raises(ValueError, match=r"ions=\['ena'\]: no mechanism"):
        _one([sk], ions={"ena": 50.0})
    with pytest.raises(ValueError, match="concentrations are mM > 0"):
        _one([sk], ions={"cai": 0.0})
    with pytest.raises(ValueError, match="one value per branch"):
        _one([sk], ions={"cai": np.ones(3)})
    with pytest.raises(ValueError, match="'cai' is not an ion state"):
        _one([sk]).record_ion("cai", [(0, 0.5)])
    with pytest.raises(ValueError, match="writes cai.*ion pool"):
        cad.init(jnp.zeros(1), 6.3)
    with pytest.raises(TypeError, match="Cell\\(..., ions="):
        load_mod(HAY / "SK_E2.mod", ions={"ek": -80.0})
    h_text = HH_TEXT.replace("USEION na READ ena WRITE ina", "USEION h READ eh WRITE ih VALENCE 1")
    h_chan = load_mod(h_text.replace("ena", "eh").replace("ina", "ih"))
    with pytest.raises(ValueError, match="no default eh"):
        _one([h_chan])
    _one([h_chan], ions={"eh": -45.0})  # given: accepted
    # a new ion's value is demanded only where a mechanism sees it (NMDA_DynSyn-style
    # `USEION mg READ mgo VALENCE 2`: mgo is needed, mgi and emg are not)
    mg_probe = load_mod(
        "NEURON { SUFFIX mgprobe  USEION mg READ mgo VALENCE 2  RANGE x }\n"
        "ASSIGNED { mgo (mM) x }\nBREAKPOINT { x = mgo }\n"
    )
    with pytest.raises(ValueError, match="no default mgo"):
        _one([mg_probe])
    _one([mg_probe], ions={"mgo": 1.0})  # mgi not demanded: nothing reads it or emg
    no_valence = load_mod(PROBE.replace("USEION ca", "USEION x").replace("cai", "xi")
                          .replace("eca", "ex"))  # fmt: skip
    with pytest.raises(ValueError, match="'x' has no valence"):
        _one([no_valence])


def test_hay2011_ih_and_im_files_are_the_builtin_channels(x64):
    """Ih.mod and Im.mod (written from Hay et al.'s equations) against the hand-written
    `cable.Ih`/`cable.Im`, which implement the same kinetics: equal to rounding (units:
    S/cm² × 1000 = mS/cm²)."""
    from neurojax.cable import Ih, Im

    v = np.array([-154.9, -120.0, -80.0, -45.0, -35.0, 0.0, 30.0])
    for mod, ref in (
        (load_mod(HAY / "Ih.mod", gIhbar=2e-4, ehcn=-45.0), Ih(g=0.2, e=-45.0)),
        (load_mod(HAY / "Im.mod", gImbar=2e-4), Im(g=0.2, e=-77.0)),  # ek: NEURON's default
    ):
        g, gr = mod.init(v, 34.0), ref.init(v, 34.0)
        np.testing.assert_allclose(g.m, gr.m, rtol=1e-12)
        np.testing.assert_allclose(mod.current(v, g), ref.current(v, gr), rtol=1e-12, atol=1e-12)
        g1, gr1 = mod.update(v + 5, g, 0.1, 34.0), ref.update(v + 5, gr, 0.1, 34.0)
        np.testing.assert_allclose(g1.m, gr1.m, rtol=1e-12)


def test_every_hay2011_file_loads_and_rests_finite(x64):
    names = sorted(p.stem for p in HAY.glob("*.mod"))
    assert names == ["CaDynamics_E2", "Ca_HVA", "Ca_LVAst", "Ih", "Im", "K_Pst", "K_Tst",
                     "NaTa_t", "Nap_Et2", "SK_E2", "SKv3_1"]  # fmt: skip
    mechs = [load_mod(HAY / f"{n}.mod") for n in names]
    cell = _one(mechs, temperature=34.0, ions={"ek": -85.0, "ena": 50.0})
    y = cell.init_state()
    i, g = cell._currents(y, jnp.zeros(0))
    assert np.all(np.isfinite(np.asarray(i))) and np.all(np.isfinite(np.asarray(g)))
    for gates in y.gates:
        for x in gates:
            assert np.all((np.asarray(x) >= 0) & (np.asarray(x) <= 1))  # gates are fractions


SHELL = """
NEURON { SUFFIX shell  USEION ca READ ica WRITE cai  RANGE tau, depth }
UNITS { (mM) = (milli/liter) (mA) = (milliamp) (um) = (micron) FARADAY = (faraday) (coulomb) }
PARAMETER { tau = 50 (ms) depth = 0.5 (um) }
ASSIGNED { ica (mA/cm2) diam (um) area (um2) x }
STATE { cai (mM) }
BREAKPOINT { SOLVE st METHOD cnexp  x = area }
DERIVATIVE st { cai' = -(1e4)*ica*diam/(2*FARADAY*depth*(diam - depth)) - cai/tau }
"""


def test_diam_and_area_reach_the_mechanism(x64):
    """A Ca shell whose volume/area ratio depends on diam: under a constant current each
    branch's cai follows its own closed form; diam is the segment's mean diameter (a
    frustum's mean), area its membrane area."""
    from neurojax.cable import branch_from_points

    frustum = branch_from_points(np.array([[0, 0, 0, 4.0], [20, 0, 0, 2.0]]), parent=0, nseg=2)
    morph = Morphology([Branch(10.0, 6.0, nseg=1), frustum])
    disc = morph.discretise()
    np.testing.assert_allclose(disc.diameters()[disc.membrane], [6.0, 3.5, 2.5], rtol=1e-14)
    a = load_mod(CONST_CA % "ca_a", amp=-2e-4)
    shell = load_mod(SHELL)
    cell = Cell(morph, [(a, None), (shell, None)], ions={"cai": 1e-9})
    n = 200
    sol = nj.simulate(cell, jnp.zeros((n, 0)), dt=DT, solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: y.ions["cai"][..., disc.membrane]))  # fmt: skip
    d = np.array([6.0, 3.5, 2.5])
    src = 1e4 * 2e-4 * d / (2 * FARADAY * 0.5 * (d - 0.5))  # mM/ms
    t = DT * n
    exact = src * 50 + (1e-9 - src * 50) * np.exp(-t / 50)
    np.testing.assert_allclose(np.asarray(sol.states)[-1], exact, rtol=1e-12)
    with pytest.raises(ValueError, match="reads area, diam: insert it in a cable.Cell"):
        shell.init(jnp.zeros(1), 6.3)  # alone it has no segment


@pytest.mark.slow  # four compiled runs (a batch, a gradient, two differences)
def test_ion_values_are_trainable_and_batches_work(x64):
    """d V(T)/d ek through SK_E2's current (the cell's `ions` are leaves), against central
    differences; a batch of two clamps runs with the pools batched."""
    import equinox as eqx

    sk = load_mod(HAY / "SK_E2.mod", gSK_E2bar=0.003)
    cell = _one([load_mod(HAY / "CaDynamics_E2.mod"), load_mod(HAY / "Ca_HVA.mod",
                 gCa_HVAbar=0.002), sk], clamps=[(0, 0.5)], ions={"ek": -80.0})  # fmt: skip
    n = 120
    amps = jnp.stack([jnp.zeros(n), jnp.full(n, 0.02)], 1)[..., None]  # (n, 2, 1)
    sol = nj.simulate(cell, amps, dt=DT, solver=BackwardEuler(),
                      saveat=nj.SaveAt(fn=cell.record_ion("cai", [(0, 0.5)])))  # fmt: skip
    assert sol.states.shape == (n, 2, 1)
    assert float(sol.states[-1, 1, 0]) != float(sol.states[-1, 0, 0])

    def v_end(c):
        s = nj.simulate(c, amps[:, 1], dt=DT, solver=BackwardEuler(),
                        saveat=nj.SaveAt(fn=c.record_v([(0, 0.5)])))  # fmt: skip
        return s.states[-1, 0]

    g = eqx.filter_grad(v_end)(cell).ions["ek"]
    eps = 1e-5
    shift = [eqx.tree_at(lambda c: c.ions["ek"], cell, cell.ions["ek"] + s) for s in (eps, -eps)]
    fd = (v_end(shift[0]) - v_end(shift[1])) / (2 * eps)
    # central differences in float64: truncation ~eps², round-off ~1e-16·|V|/eps ≈ 1e-9 mV/mV
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)
    assert float(g) > 0  # a higher ek depolarises
