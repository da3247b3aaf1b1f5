"""Cable cells: analytic passive cable, NEURON on a branched HH/passive tree, the squid
axon's conduction velocity, gradients against finite differences, and bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import HH, Branch, Cell, Morphology, Passive
from neurojax.solvers import BackwardEuler


def test_passive_sealed_end_cable_steady_state_is_the_cosh_solution(x64):
    """Current I into the 0 end of a sealed cable: V(x) − E = I·R_in·cosh((L−x)/λ)/cosh(L/λ)
    with λ = sqrt(d·R_m/(4·R_a)) and R_in = (4·R_a·λ/(π d²))·coth(L/λ)."""
    L, d, ra, g = 1000.0, 2.0, 100.0, 0.1  # µm, µm, Ω·cm, mS/cm² (R_m = 1e4 Ω·cm²)
    e, amp, nseg = -70.0, 0.05, 201  # mV, nA
    cell = Cell(
        Morphology([Branch(L, d, nseg=nseg)]),
        [(Passive(g=g, e=e), None)],
        ra=ra,
        v_init=e,
        clamps=[(0, 0.0)],
    )
    # 30 membrane time constants (τ = 10 ms): the transient has decayed to e^-30
    sol = nj.simulate(
        cell, jnp.full((600, 1), amp), dt=0.5, solver=BackwardEuler(), saveat=nj.SaveAt(every=600)
    )
    v = np.asarray(sol.v[-1])
    rm = 1e3 / g  # Ω·cm²
    lam = np.sqrt(d * 1e-4 * rm / (4 * ra)) * 1e4  # µm
    r_in = 4 * ra * lam * 1e-4 / (np.pi * (d * 1e-4) ** 2) / np.tanh(L / lam) * 1e-6  # MΩ
    x = cell.discretisation.x * L
    expected = e + amp * r_in * np.cosh((L - x) / lam) / np.cosh(L / lam)
    # second-order finite volumes: relative error ~ (dx/λ)²/12 ≈ 2e-6 at dx = 5 µm, λ = 707 µm
    np.testing.assert_allclose(v - e, expected - e, rtol=2e-5)
    assert lam == pytest.approx(707.1, abs=0.1)


# A branched tree: HH soma, an HH dendrite with a passive child, a passive dendrite, an
# HH axon: lengths, diameters and nseg all differ.
SPEC = [  # length µm, diameter µm, nseg, parent
    (20.0, 20.0, 1, -1),
    (200.0, 2.0, 7, 0),
    (150.0, 1.0, 5, 0),
    (100.0, 0.8, 4, 1),
    (300.0, 1.0, 9, 0),
]
HH_BRANCHES, PAS_BRANCHES = [0, 1, 4], [2, 3]
RA = [100.0, 150.0, 80.0, 120.0, 60.0]  # Ω·cm per branch
CM = [1.0, 0.9, 1.2, 1.0, 0.8]  # µF/cm² per branch
SITES = [(0, 0.5), (2, 1.0), (3, 1.0), (4, 0.95)]  # soma and the dendrite / axon ends
DT, T, AMP, DELAY, DUR = 0.025, 40.0, 0.3, 5.0, 20.0


def _tree_cell():
    morph = Morphology([Branch(L, d, parent=p, nseg=n) for L, d, n, p in SPEC])
    return Cell(
        morph,
        [(HH(), HH_BRANCHES), (Passive(g=0.2, e=-65.0), PAS_BRANCHES)],
        ra=jnp.asarray(RA),
        cm=jnp.asarray(CM),
        clamps=[(0, 0.5)],
    )


def _steps(dt):
    t = np.arange(int(round(T / dt))) * dt
    # NEURON's IClamp is evaluated at mid-step: on for the steps starting in [delay, delay+dur)
    return np.where((t >= DELAY - 1e-9) & (t < DELAY + DUR - 1e-9), AMP, 0.0)[:, None]


def _neuron_tree(secondorder):
    neuron = pytest.importorskip("neuron")
    h = neuron.h
    h.load_file("stdrun.hoc")
    secs = []
    for i, (L, d, n, p) in enumerate(SPEC):
        s = h.Section(name=f"b{i}")
        s.L, s.diam, s.nseg, s.Ra, s.cm = L, d, n, RA[i], CM[i]
        if i in HH_BRANCHES:
            s.insert("hh")
        else:
            s.insert("pas")
            for seg in s:
                seg.pas.g, seg.pas.e = 0.0002, -65.0
        if p >= 0:
            s.connect(secs[p](1), 0)
        secs.append(s)
    h.usetable_hh = 0  # exact rates, not NEURON's lookup tables
    h.celsius = 6.3
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = DELAY, DUR, AMP
    recs = [h.Vector().record(secs[b](x)._ref_v) for b, x in SITES]
    h.dt, h.secondorder = DT, secondorder
    h.finitialize(-65.0)
    h.continuerun(T)
    out = np.array([np.array(r)[1:] for r in recs]).T
    del stim, recs, secs
    return out


def test_branched_tree_matches_neuron_backward_euler(x64):
    ref = _neuron_tree(secondorder=0)
    cell = _tree_cell()
    sol = nj.simulate(
        cell, _steps(DT), dt=DT, solver=BackwardEuler(), saveat=nj.SaveAt(fn=cell.record_v(SITES))
    )
    v = np.asarray(sol.states)
    assert ref.max() > 30  # the soma and axon fire
    err = np.abs(v - ref)
    # The issue asks for 0.05 mV mean; the same scheme on the same matrix agrees to
    # round-off (measured 3e-12 mV mean, 2e-10 max through several spikes).
    assert err.mean() < 1e-6 and err.max() < 1e-5, (err.mean(), err.max())


# slow tier: an accuracy comparison against a 20x finer run and NEURON (2 CPU-s); the
# fast tier keeps the cell against NEURON (test_branched_tree_matches_neuron_backward_euler,
# the SEClamp and squid-axon tests)
@pytest.mark.slow
def test_default_scheme_is_closer_to_converged_than_neurons_default(x64):
    cell = _tree_cell()
    rec = nj.SaveAt(fn=cell.record_v(SITES))
    fine = np.asarray(
        nj.simulate(cell, np.repeat(_steps(DT), 20, 0), dt=DT / 20, saveat=rec).states
    )[19::20]
    neuron_default = _neuron_tree(secondorder=0)
    ours = np.asarray(nj.simulate(cell, _steps(DT), dt=DT, saveat=rec).states)
    err_ours = np.abs(ours - fine).mean()
    err_neuron = np.abs(neuron_default - fine).mean()
    # measured: 0.035 mV (TR-BDF2, the default; Crank–Nicolson 0.025) vs 0.66 mV
    # (NEURON's backward Euler); the issue asks for 0.05 mV
    assert err_ours < 0.05 and err_ours < err_neuron / 10, (err_ours, err_neuron)


def test_squid_axon_conducts_at_hodgkin_huxleys_velocity(x64):
    """HH (1952) computed 18.8 m/s at 18.5 °C for d = 476 µm, R_a = 35.4 Ω·cm, c_m = 1;
    converged NEURON gives 18.74. A 60 mm axon (λ ≈ 10 mm), velocity between 35 % and
    65 % of its length, far from the stimulus and the sealed end."""
    L, dt = 60000.0, 0.01
    cell = Cell(
        Morphology([Branch(L, 476.0, nseg=600, type="axon")]),
        [(HH(), None)],
        ra=35.4,
        cm=1.0,
        temperature=18.5,
        clamps=[(0, 0.0)],
    )
    n = int(round(5.0 / dt))
    amp = np.zeros((n, 1))
    amp[: int(0.2 / dt)] = 1e5  # 100 µA for 0.2 ms into a 0.476 mm thick axon
    sites = [(0, 0.35), (0, 0.65)]
    sol = nj.simulate(cell, amp, dt=dt, saveat=nj.SaveAt(fn=cell.record_v(sites)))
    v, t = np.asarray(sol.states), np.asarray(sol.t)

    def crossing(trace):  # first upward crossing of 0 mV, linearly interpolated
        k = int(np.argmax(trace > 0.0))
        assert k > 0
        return t[k - 1] + (0.0 - trace[k - 1]) / (trace[k] - trace[k - 1]) * dt

    x = cell.discretisation.x[[cell.node(*s) for s in sites]] * L
    velocity = (x[1] - x[0]) / (crossing(v[:, 1]) - crossing(v[:, 0])) / 1000  # m/s
    # measured 18.71 at nseg=600, dt=0.01 (18.736 converged, NEURON 18.74)
    assert velocity == pytest.approx(18.8, rel=0.015)
    assert velocity == pytest.approx(18.74, rel=0.005)


# slow tier: finite-difference validation of a branched cell; cable gradients stay in the fast tier through tests/test_cable_distributions.py and tests/test_nmodl_ions.py (a density profile, an ion pool)
@pytest.mark.slow
def test_gradients_wrt_per_branch_conductances_match_finite_differences(x64):
    morph = Morphology(
        [
            Branch(20.0, 15.0, nseg=1),
            Branch(150.0, 1.5, parent=0, nseg=5),
            Branch(100.0, 1.0, parent=0, nseg=4),
            Branch(80.0, 0.8, parent=1, nseg=3),
        ]
    )
    sites = [(0, 0.5), (3, 1.0)]
    ref = Cell(morph, [(HH(), [0]), (Passive(), [1, 2, 3])])
    of_branch = ref.discretisation.branch[ref.regions[1]]  # branch of each passive compartment

    def make(p):
        # per-branch leak conductances as one per-compartment array (the fast way to give
        # every branch its own value), plus the soma's HH conductances
        return Cell(
            morph,
            [(HH(g_na=p[0], g_k=p[1]), [0]), (Passive(g=p[2:][of_branch - 1], e=-65.0), [1, 2, 3])],
            ra=120.0,
            clamps=[(0, 0.5)],
        )

    amp = np.zeros((320, 1))
    amp[40:240] = 0.15
    rec = nj.SaveAt(fn=ref.record_v(sites))

    @jax.jit
    def loss(p):
        sol = nj.simulate(make(p), amp, dt=0.025, saveat=rec)
        return jnp.mean((sol.states + 65.0) ** 2)

    p0 = jnp.array([120.0, 36.0, 0.3, 0.1, 0.05])
    assert float(loss(p0)) > 10  # a spike happens in the window
    g = jax.jit(jax.grad(loss))(p0)
    for k in range(p0.size):
        eps = 1e-5 * float(p0[k])
        fd = (loss(p0.at[k].add(eps)) - loss(p0.at[k].add(-eps))) / (2 * eps)
        # central differences: truncation ~eps^2 f''' and round-off ~1e-16 f/eps: 1e-6
        # relative is far above both and far below any real mismatch.
        assert float(g[k]) == pytest.approx(float(fd), rel=1e-6, abs=1e-9), (k, g[k], fd)


def test_vmap_over_cells_and_batched_inputs():
    cell = _tree_cell()
    rec = nj.SaveAt(fn=cell.record_v(SITES[:2]))
    amps = jnp.stack([jnp.asarray(_steps(DT)[:400]) * s for s in (0.5, 1.0, 1.5)], axis=1)
    batched = nj.simulate(cell, amps, dt=DT, saveat=rec).states
    assert batched.shape == (400, 3, 2)

    def run(g_pas):  # a population of cells differing in a parameter, under vmap
        c = eqx.tree_at(lambda c: c.mechanisms[1].g, cell, g_pas)
        return nj.simulate(c, amps[:, 1], dt=DT, saveat=rec).states

    vs = jax.jit(jax.vmap(run))(jnp.array([0.1, 0.2, 0.4]))
    assert vs.shape == (3, 400, 2)
    # the same cell and input, once in an input batch and once in a vmapped population
    np.testing.assert_allclose(vs[1], batched[:, 1], rtol=1e-5, atol=1e-4)
    # more leak: a less depolarised passive dendrite end
    assert float(vs[0, :, 1].max()) > float(vs[2, :, 1].max())
    # a bigger current: a more depolarised soma
    assert float(batched[:, 2, 0].max()) > float(batched[:, 0, 0].max())


def test_bad_input_is_refused_with_the_fix():
    cell = _tree_cell()
    with pytest.raises(ValueError, match="branch=7 is off the cell"):
        Cell(cell.morphology, clamps=[(7, 0.5)])
    with pytest.raises(ValueError, match="x=-0.1"):
        cell.node(1, -0.1)
    with pytest.raises(ValueError, match="branch 9, which is off the cell"):
        Cell(cell.morphology, [(HH(), [9])])
    with pytest.raises(ValueError, match="no branch has that type"):
        Cell(cell.morphology, [(HH(), "apical")])
    with pytest.raises(TypeError, match="cannot integrate Cell.*CrankNicolson"):
        nj.simulate(cell, jnp.zeros((10, 1)), dt=DT, solver=nj.ExponentialEuler())
    with pytest.raises(TypeError, match="cannot integrate Cell"):
        nj.simulate(cell, jnp.zeros((10, 1)), dt=DT, solver=nj.RK4())
    with pytest.raises(ValueError, match=r"shaped \(n_steps, \*batch, 1\)"):
        nj.simulate(cell, jnp.zeros((10, 2)), dt=DT)
    with pytest.raises(ValueError, match="g_na has shape"):
        Cell(cell.morphology, [(HH(g_na=jnp.ones(3)), [0])])
    with pytest.raises(ValueError, match="must be >= 0|must be > 0|g"):
        Cell(cell.morphology, [(Passive(g=-1.0), [0])])
    with pytest.raises(ValueError, match="ra"):
        Cell(cell.morphology, ra=-1.0)


def _neuron_vclamp_tree(site):
    neuron = pytest.importorskip("neuron")
    h = neuron.h
    h.load_file("stdrun.hoc")
    secs = []
    for i, (L, d, n, p) in enumerate(SPEC):
        s = h.Section(name=f"v{i}")
        s.L, s.diam, s.nseg, s.Ra, s.cm = L, d, n, RA[i], CM[i]
        if i in HH_BRANCHES:
            s.insert("hh")
        else:
            s.insert("pas")
            for seg in s:
                seg.pas.g, seg.pas.e = 0.0002, -65.0
        if p >= 0:
            s.connect(secs[p](1), 0)
        secs.append(s)
    h.usetable_hh = 0
    h.celsius = 6.3
    vc = h.SEClamp(secs[site[0]](site[1]))
    vc.rs, vc.dur1, vc.amp1 = 0.01, 1e9, -20.0
    recs = [h.Vector().record(secs[b](x)._ref_v) for b, x in SITES]
    h.dt, h.secondorder = DT, 0
    h.finitialize(-65.0)
    h.continuerun(10.0)
    out = np.array([np.array(r)[1:] for r in recs]).T
    del vc, recs, secs
    return out


@pytest.mark.parametrize("site", [(2, 0.5), (2, 1.0)])  # a segment centre; a branch end
def test_voltage_clamp_matches_neurons_seclamp(x64, site):
    ref = _neuron_vclamp_tree(site)
    morph = _tree_cell().morphology
    cell = Cell(
        morph,
        [(HH(), HH_BRANCHES), (Passive(g=0.2, e=-65.0), PAS_BRANCHES)],
        ra=jnp.asarray(RA),
        cm=jnp.asarray(CM),
        vclamps=[site],
        rs_clamp=0.01,
    )
    n = ref.shape[0]
    sol = nj.simulate(
        cell,
        {"v_clamp": jnp.full((n, 1), -20.0)},
        dt=DT,
        solver=BackwardEuler(),
        saveat=nj.SaveAt(fn=cell.record_v(SITES)),
    )
    # the same linear clamp term in the same implicit step: round-off
    np.testing.assert_allclose(np.asarray(sol.states), ref, atol=1e-7)
    assert abs(float(sol.final_state.y.v[cell.node(*site)]) + 20.0) < 0.5


def test_conductance_input_steady_state(x64):
    """One passive compartment with a constant synaptic conductance g_s:
    V∞ = (g_L·E_L + g_s·E_s)/(g_L + g_s)."""
    cell = Cell(
        Morphology([Branch(20.0, 20.0)]),
        [(Passive(g=0.1, e=-70.0), None)],
        v_init=-70.0,
        synapses=[(0, 0.5, 0.0)],
    )
    g_s = 0.002  # µS
    sol = nj.simulate(cell, {"g_syn": jnp.full((400, 1), g_s)}, dt=0.5)
    g_l = 0.1 * np.pi * 20 * 20 * 1e-5  # µS
    assert float(sol.v[-1, 1]) == pytest.approx((g_l * -70.0 + g_s * 0.0) / (g_l + g_s), rel=1e-9)
    with pytest.raises(ValueError, match="pass inputs as a dict"):
        nj.simulate(cell, jnp.zeros((10, 1)), dt=0.5)
    with pytest.raises(ValueError, match="unknown input keys"):
        nj.simulate(cell, {"g_syn": jnp.zeros((10, 1)), "i": jnp.zeros((10, 1))}, dt=0.5)


def test_record_gates_anywhere():
    cell = _tree_cell()
    rec = cell.record_gate(0, "m", [(0, 0.5), (4, 0.95)])
    sol = nj.simulate(cell, _steps(DT)[:400], dt=DT, saveat=nj.SaveAt(fn=rec))
    assert sol.states.shape == (400, 2)
    assert float(sol.states[:, 0].max()) > 0.9  # the soma's Na activation during a spike
    with pytest.raises(ValueError, match="not inserted at branch 2"):
        cell.record_gate(0, "m", [(2, 0.5)])
    with pytest.raises(ValueError, match="has gates"):
        cell.record_gate(0, "q", [(0, 0.5)])
