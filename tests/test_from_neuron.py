"""`cable.from_neuron`: a cell built in NEURON (the `neuron` dev dependency, in this
process), imported as it stands.

Fast tier: the structure carried over (tree, nseg, 3-d points, per-segment parameters,
ions, clamps) on cells using NEURON's built-in `hh`/`pas` only (no nrnivmodl), and the
refusals. Slow tier: `validation/from_neuron_vs_neuron.py` — a 4-section cell with the
wheel's `.mod` files and a calcium pool, both simulators at dt 0.025 ms backward Euler,
float64.
"""

import sys
from pathlib import Path

import jax.numpy as jnp
import neuron  # (a dev dependency: its absence is a broken install, not a skip)
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Passive, from_neuron

h = neuron.h
h.load_file("stdrun.hoc")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))


def _neuron_run(recs, t_end: float, v_init: float, dt: float = 0.025) -> np.ndarray:
    """NEURON's run to `t_end` (backward Euler at `dt`): the recorded vectors at
    `(k + 1)·dt`, `(n_steps, len(recs))`."""
    n = round(t_end / dt)
    h.dt = dt
    h.finitialize(v_init)
    h.continuerun(t_end)
    return np.stack([np.asarray(r)[1 : n + 1] for r in recs], axis=1)


def _neurojax_run(imp, sites, n_steps: int, dt: float = 0.025) -> np.ndarray:
    """neurojax's backward-Euler run of an imported cell with its own inputs (IClamps,
    NetStim events): V at `sites` (`(section, x)` pairs), `(n_steps, len(sites))`."""
    import jax

    save = nj.SaveAt(fn=imp.cell.record_v([imp.site(name, x) for name, x in sites]))
    u = jax.tree.map(jnp.asarray, imp.inputs(n_steps, dt))
    sol = nj.simulate(imp.cell, u, dt=dt, solver=nj.solvers.BackwardEuler(), saveat=save)
    return np.asarray(sol.states)


def _ball_and_stick():
    h.celsius = 6.3  # NEURON's globals persist between tests: set what the test relies on
    soma = h.Section(name="soma_fn")
    soma.L = soma.diam = 20.0
    dend = h.Section(name="dend_fn")
    dend.connect(soma(1), 0)
    dend.L, dend.diam, dend.nseg = 300.0, 2.0, 5
    dend.Ra, dend.cm = 120.0, 1.5
    soma.insert("hh")
    dend.insert("pas")
    for seg in dend:
        seg.pas.g = 1e-4 * (1 + seg.x)  # one value per segment
    dend.e_pas = -68.0
    stim = h.IClamp(soma(0.5))
    stim.delay, stim.dur, stim.amp = 1.0, 2.0, 0.5
    return soma, dend, stim


def test_structure_parameters_and_clamps_are_carried_over():
    soma, dend, stim = _ball_and_stick()
    imp = from_neuron([soma, dend])
    cell = imp.cell
    assert imp.branches == {"soma_fn": (0,), "dend_fn": (1,)}
    assert imp.site("dend_fn", 0.3) == (1, 0.3)
    br = cell.morphology.branches
    assert (br[1].parent, br[1].parent_x, br[1].nseg, br[1].length) == (0, 1.0, 5, 300.0)
    np.testing.assert_allclose(np.asarray(cell.ra), [35.4, 120.0])
    np.testing.assert_allclose(np.asarray(cell.cm), [1.0, 1.5])
    # in NEURON's order (memb_order_: pas is registered before hh)
    (pas, w_pas), (hh, w_hh) = [
        (m, list(r)) for m, r in zip(cell.mechanisms, cell.regions, strict=True)
    ]
    assert type(hh).__name__.lower().endswith("hh") and len(w_hh) == 1
    assert len(w_pas) == 5
    g = np.asarray(pas.g)  # NEURON's S/cm² (the wheel's passive.mod) or mS/cm² (Passive)
    g = g * 1e3 if not isinstance(pas, Passive) else g
    np.testing.assert_allclose(g, 0.1 * (1 + (np.arange(5) + 0.5) / 5), rtol=2e-7)  # float32
    assert float(pas.e) == -68.0
    assert imp.iclamps == ((1.0, 2.0, 0.5),)
    u = imp.inputs(200, 0.025)
    # mid-step times (k + ½)·dt in [1, 3) ms: steps 40..119
    np.testing.assert_array_equal(np.nonzero(u[:, 0])[0], np.arange(40, 120))


@pytest.mark.slow  # a compiled run of an imported hh.mod cell (~4 CPU-s)
def test_imported_ball_and_stick_fires():
    soma, dend, stim = _ball_and_stick()
    imp = from_neuron([soma, dend])
    sol = nj.simulate(imp.cell, jnp.asarray(imp.inputs(200, 0.025)), dt=0.025)
    assert float(sol.v[:, imp.cell.node(0, 0.5)].max()) > 20.0  # the soma fires


def test_three_d_points_and_attachment_inside_the_parent():
    soma = h.Section(name="soma3d")
    for x, d in ((0, 10), (10, 16), (20, 10)):
        h.pt3dadd(x, 0, 0, d, sec=soma)
    dend = h.Section(name="dend3d")
    dend.connect(soma(0.5), 0)
    dend.L, dend.diam = 50.0, 1.0
    for s in (soma, dend):
        s.insert("pas")
    imp = from_neuron([soma, dend])
    br = imp.cell.morphology.branches
    assert br[0].points is not None and br[0].points.shape == (3, 4)
    assert (br[1].parent, br[1].parent_x) == (0, 0.5)
    # the same membrane area as NEURON's, segment by segment
    area = imp.cell.geometry.area
    np.testing.assert_allclose(area[imp.cell.node(0, 0.5)], soma(0.5).area(), rtol=1e-12)
    np.testing.assert_allclose(area[imp.cell.node(1, 0.5)], dend(0.5).area(), rtol=1e-12)


def test_refusals_name_the_section():
    a = h.Section(name="ra_a")
    c = h.Section(name="ra_c")
    with pytest.raises(ValueError, match="form 2 trees"):
        from_neuron([a, c])
    c.nseg = 2
    c.insert("pas")
    c.insert("hh")
    c(0.25).ena = 40.0  # ions differ inside a section
    with pytest.raises(ValueError, match="section ra_c: ena differs between its segments"):
        from_neuron([c])
    d = h.Section(name="ra_d")
    d.insert("pas")
    f = h.Section(name="ra_f")
    f.insert("hh")  # reads ena only: NEURON's default keeps ena fixed
    h.ion_style("na_ion", 1, 2, 1, 1, 0, sec=f)  # ena by Nernst, every step
    with pytest.raises(ValueError, match="section ra_f: ion_style of na_ion has einit=1"):
        from_neuron([f])
    with pytest.raises(TypeError, match="sections must be NEURON sections"):
        from_neuron([1, 2])
    with pytest.raises(TypeError, match="not a name"):
        from_neuron("ra_d")
    with pytest.raises(TypeError, match="mods must be a .mod file"):
        from_neuron([d], mods=5)
    stim = h.IClamp(d(0.5))
    stim.amp = float("nan")
    with pytest.raises(ValueError, match=r"IClamp\[\d+\] in section ra_d.*must be finite"):
        from_neuron([d])
    stim.amp = 0.1
    syn, ns = h.ExpSyn(d(0.5)), h.NetStim()
    nc = h.NetCon(ns, syn)
    nc.delay = -1.0
    with pytest.raises(ValueError, match="must be finite, with delay >= 0"):
        from_neuron([d])
    nc.delay = 1.0
    with pytest.raises(ValueError, match="n_steps"):
        from_neuron([d]).inputs(0, 0.025)


def test_tapered_section_without_3d_points_matches_neuron(x64):
    """A dendrite whose segments have their own diameters and cm (no 3-d points): one
    branch per segment, chained, which is NEURON's discretisation of it. A passive
    cell, backward Euler in both, float64: the difference is round-off (measured
    ~1e-12 mV; 1e-9 leaves 1000×). A child attached inside it (x = 0.4: the centre of
    segment 1 of 4) and a clamp at x = 0.9 are placed where NEURON puts them."""
    soma = h.Section(name="tp_soma")
    soma.L = soma.diam = 15.0
    dend = h.Section(name="tp_dend")
    dend.connect(soma(1), 0)
    dend.L, dend.nseg, dend.Ra = 400.0, 4, 90.0
    for k, seg in enumerate(dend):
        seg.diam, seg.cm = 4.0 - 0.8 * k, 1.0 + 0.5 * k
    side = h.Section(name="tp_side")
    side.connect(dend(0.4), 0)
    side.L, side.diam, side.nseg = 100.0, 0.8, 3
    for sec in (soma, dend, side):
        sec.insert("pas")
        sec.g_pas, sec.e_pas = 2e-4, -70.0
    stim = h.IClamp(dend(0.9))
    stim.delay, stim.dur, stim.amp = 0.5, 3.0, 0.2
    h.v_init, h.dt = -70.0, 0.025
    recs = [h.Vector().record(sec(x)._ref_v) for sec, x in ((soma, 0.5), (dend, 0.9), (side, 0.5))]
    imp = from_neuron([soma, dend, side])
    assert imp.branches["tp_dend"] == (1, 2, 3, 4) and imp.site("tp_dend", 0.4) == (2, 0.5)
    ref = _neuron_run(recs, 6.0, h.v_init)
    got = _neurojax_run(imp, [("tp_soma", 0.5), ("tp_dend", 0.9), ("tp_side", 0.5)], 240)
    assert float(ref[:, 1].max()) > -60.0  # the clamp moved it
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_cm_per_segment_in_a_section_with_3d_points_matches_neuron(x64):
    """cm set per segment (a spine factor beyond some distance, as published models do)
    in a section with 3-d points, one of them a step in diameter and one a bend: one
    branch per segment, the points clipped at the segments' ends. Passive, backward
    Euler, float64: round-off from NEURON (measured ~1e-12 mV; 1e-9 leaves 1000×)."""
    soma = h.Section(name="c3_soma")
    soma.L = soma.diam = 15.0
    dend = h.Section(name="c3_dend")
    dend.connect(soma(1), 0)
    for x, y, d in ((0, 0, 3.0), (40, 0, 2.5), (40, 0, 1.5), (90, 30, 1.2), (160, 30, 0.8)):
        h.pt3dadd(x, y, 0, d, sec=dend)
    dend.nseg, dend.Ra = 5, 110.0
    for k, seg in enumerate(dend):
        seg.cm = 1.0 if k < 2 else 2.0
    for sec in (soma, dend):
        sec.insert("pas")
        sec.g_pas, sec.e_pas = 3e-4, -70.0
    stim = h.IClamp(dend(0.7))
    stim.delay, stim.dur, stim.amp = 0.5, 3.0, 0.1
    h.v_init, h.dt = -70.0, 0.025
    recs = [h.Vector().record(sec(x)._ref_v) for sec, x in ((soma, 0.5), (dend, 0.7), (dend, 1))]
    imp = from_neuron([soma, dend])
    assert len(imp.branches["c3_dend"]) == 5
    node_area = imp.cell.geometry.area
    for k, seg in enumerate(dend):  # each segment's area as NEURON's
        b = imp.branches["c3_dend"][k]
        np.testing.assert_allclose(node_area[imp.cell.node(b, 0.5)], seg.area(), rtol=1e-6)
    ref = _neuron_run(recs, 6.0, h.v_init)
    got = _neurojax_run(imp, [("c3_soma", 0.5), ("c3_dend", 0.7), ("c3_dend", 1.0)], 240)
    assert float(ref[:, 1].max()) > -65.0  # the clamp moved it
    np.testing.assert_allclose(got, ref, atol=1e-9)


@pytest.fixture
def no_builtin_mods(monkeypatch):
    from neurojax.cable import _from_neuron

    monkeypatch.setattr(_from_neuron, "_neuron_builtin_mods", dict)


def test_missing_mod_is_named(no_builtin_mods):
    d = h.Section(name="mm_d")
    d.insert("hh")
    with pytest.raises(ValueError, match=r"mechanism 'hh' \(in sections \['mm_d'\]\) has no .mod"):
        from_neuron([d])
    e = h.Section(name="mm_e")
    syn = h.ExpSyn(e(0.5))  # noqa: F841  (kept alive: NEURON deletes it with its last reference)
    with pytest.raises(ValueError, match="section mm_e: point process ExpSyn has no .mod file"):
        from_neuron([e])


@pytest.mark.slow  # nrnivmodl compiles five .mod files (~15 s) and both simulators run 60 ms
def test_whole_cell_matches_neuron(tmp_path, x64):
    """Backward Euler in both, float64, the same equations: the difference is round-off
    (NEURON's and neurojax's tree solves order their operations differently) — measured
    ≤ 1e-7 mV over 60 ms with somatic spikes; 1e-5 mV leaves 100× for platform rounding."""
    import from_neuron_vs_neuron as V

    err = V.compare(tmp_path)
    assert err["soma_peak_mV"] > 0.0 and err["cai_peak_mM"] > 1e-4  # spikes, Ca²⁺ entry
    for site in ("soma", "d0", "d1"):
        assert err[site] < 1e-5, err
    assert err["cai"] < 1e-9, err


@pytest.mark.slow  # nrnivmodl on Hay's eleven .mod files, 100 ms of a 281-compartment cell in both
def test_hay2011_cell_built_in_neuron_matches_neuron(tmp_path, x64):
    """Hay et al.'s L5b cell built section by section in NEURON, imported as it stands:
    the same four somatic spikes, V within round-off. Measured 4.4e-9 mV at the soma
    (on a spike upstroke, ~500 mV/ms), 6e-11 mV on the trunk; 1e-6 mV leaves 200×. The
    hand-built `hay2011_cell` differs from NEURON by 8.6e-5 mV there, because NEURON
    stores 3-d points in single precision (docs/hay2011.md); the import reads them as
    NEURON holds them."""
    import from_neuron_hay2011 as V

    err = V.compare(tmp_path)
    assert len(err["spikes_neuron_ms"]) == 4
    np.testing.assert_allclose(err["spikes_neurojax_ms"], err["spikes_neuron_ms"], atol=1e-8)
    for site in ("soma", "dend", "hot"):
        assert err[f"max_dv_{site}"] < 1e-6, err
    assert err["max_dcai_hot"] < 1e-12, err


def test_synapses_driven_by_netstims_match_neuron(x64):
    """ExpSyn and Exp2Syn (the wheel's .mod files) on a passive cell, driven by NetStims
    (noise 0) through NetCons with delays and weights — two NetCons onto one synapse —,
    imported with their events: the same V as NEURON (backward Euler, float64; the
    difference is round-off, measured ~1e-13 mV; 1e-9 leaves 10⁴×). Events whose times
    fall between steps are delivered by NEURON's fixed-step rule in both."""
    soma = h.Section(name="sy_soma")
    soma.L = soma.diam = 20.0
    soma.insert("pas")
    soma.g_pas, soma.e_pas = 5e-4, -65.0
    e1 = h.ExpSyn(soma(0.5))
    e1.tau, e1.e = 3.0, 0.0
    e2 = h.Exp2Syn(soma(0.5))
    e2.tau1, e2.tau2, e2.e = 0.5, 8.0, -75.0
    s1 = h.NetStim()
    s1.start, s1.interval, s1.number, s1.noise = 1.013, 4.0, 3, 0
    s2 = h.NetStim()
    s2.start, s2.interval, s2.number, s2.noise = 6.0, 2.5, 2.5, 0  # 3 spikes (ceil)
    ncs = [h.NetCon(s1, e1), h.NetCon(s2, e1), h.NetCon(s2, e2)]
    for nc, (d, w) in zip(ncs, ((1.0, 0.004), (0.3, 0.002), (2.0, 0.006)), strict=True):
        nc.delay, nc.weight[0] = d, w
    h.v_init, h.dt = -65.0, 0.025
    rec = h.Vector().record(soma(0.5)._ref_v)
    imp = from_neuron([soma])
    assert sorted(len(n) for n in imp.netstims) == [1, 2]  # two NetCons onto e1
    ref = _neuron_run([rec], 20.0, h.v_init)
    u = imp.inputs(800, 0.025)
    assert float(u["events"].sum()) == pytest.approx(3 * 0.004 + 3 * 0.002 + 3 * 0.006)
    got = _neurojax_run(imp, [("sy_soma", 0.5)], 800)
    assert ref.max() - ref.min() > 3.0  # the synapses moved it
    np.testing.assert_allclose(got, ref, atol=1e-9)
    s1.noise = 0.5
    with pytest.raises(ValueError, match=r"NetCon onto ExpSyn\[\d+\] comes from NetStim.*noise"):
        from_neuron([soma])


@pytest.mark.slow  # 156 sections read by NEURON's Import3d, 30 ms of a 606-compartment cell in both
def test_swc_read_by_neurons_import3d_matches_neuron(x64):
    """The CA1 cell shipped with neurojax, read by NEURON's own Import3d (3-d points, a
    soma of two sections, nseg by the 40 µm rule), pas everywhere and hh at the soma,
    imported as NEURON holds it: V at the soma and at the farthest dendrite within
    round-off of NEURON (measured 4.5e-8 mV over 30 ms with spikes; 1e-6 leaves 20×)."""
    from neurojax.cable import EXAMPLE_SWC

    h.load_file("import3d.hoc")
    h.celsius = 6.3  # NEURON's globals persist between tests (another sets 16 °C)
    before = {s.name() for s in h.allsec()}
    reader = h.Import3d_SWC_read()
    reader.input(str(EXAMPLE_SWC))
    h.Import3d_GUI(reader, False).instantiate(None)
    secs = [s for s in h.allsec() if s.name() not in before]
    for s in secs:
        s.nseg = 1 + 2 * int(s.L / 40)
        s.insert("pas")
        s.g_pas, s.e_pas, s.Ra = 1e-4, -65.0, 100.0
    soma = next(s for s in secs if "soma" in s.name())
    soma.insert("hh")
    h.usetable_hh = 0
    stim = h.IClamp(soma(0.5))
    stim.delay, stim.dur, stim.amp = 1.0, 20.0, 1.0
    far = max(secs, key=lambda s: h.distance(soma(0.5), s(1)))
    recs = [h.Vector().record(sec(0.5)._ref_v) for sec in (soma, far)]
    imp = from_neuron(secs, v_init=-65.0)
    ref = _neuron_run(recs, 30.0, -65.0)
    got = _neurojax_run(imp, [(soma.name(), 0.5), (far.name(), 0.5)], 1200)
    assert len(secs) > 100 and float(ref[:, 0].max()) > 0.0  # a whole cell; the soma fires
    np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.slow  # hh, SEClamp and AlphaSynapse imported and compiled (~5 CPU-s)
def test_seclamp_alphasynapse_and_apcount_match_neuron(x64):
    """NEURON's built-in SEClamp (the wheel's svclmp.mod) at the soma, its AlphaSynapse
    (no .mod in the wheel: neurojax's own text from its equations) on a dendrite, and an
    APCount (records only: skipped with a warning). V within round-off of NEURON
    (backward Euler, float64; measured 1.5e-10 mV, 1e-8 leaves ~100×)."""
    soma = h.Section(name="se_soma")
    soma.L = soma.diam = 20.0
    soma.insert("hh")
    h.usetable_hh = 0
    d = h.Section(name="se_d")
    d.connect(soma(1), 0)
    d.L, d.diam, d.nseg = 200.0, 2.0, 5
    d.insert("pas")
    se = h.SEClamp(soma(0.5))
    se.dur1, se.amp1, se.dur2, se.amp2, se.dur3, se.amp3, se.rs = 2, -65, 3, -20, 4, -70, 0.5
    al = h.AlphaSynapse(d(0.8))
    al.onset, al.tau, al.gmax, al.e = 10.0, 1.5, 0.01, 0.0
    apc = h.APCount(soma(0.5))  # noqa: F841  (kept alive)
    h.v_init, h.dt = -65.0, 0.025
    recs = [h.Vector().record(sec(x)._ref_v) for sec, x in ((soma, 0.5), (d, 0.8))]
    with pytest.warns(UserWarning, match=r"\['APCount'\] only record"):
        imp = from_neuron([soma, d])
    ref = _neuron_run(recs, 20.0, -65.0)
    got = _neurojax_run(imp, [("se_soma", 0.5), ("se_d", 0.8)], 800)
    assert float(ref[:, 1].max()) > -10.0  # the clamp's step and the synapse acted
    np.testing.assert_allclose(got, ref, atol=1e-8)


def test_a_section_attached_but_not_passed_is_refused():
    """NEURON simulates every section connected to the cell: leaving one out of
    `sections` (a template's myelin outside its `all` list, as Hay et al. 2013's
    delete_axon2 builds it; or a parent) would import a different cell."""
    soma = h.Section(name="ap_soma")
    axon = h.Section(name="ap_axon")
    axon.connect(soma(0.5), 0)
    myelin = h.Section(name="ap_myelin")
    myelin.connect(axon(1), 0)
    for s in (soma, axon, myelin):
        s.insert("pas")
    with pytest.raises(ValueError, match="section ap_myelin is attached to ap_axon but is not"):
        from_neuron([soma, axon])
    with pytest.raises(ValueError, match="section ap_axon is attached to ap_soma, which is not"):
        from_neuron([axon, myelin])
    imp = from_neuron([soma, axon, myelin])  # the whole cell
    assert set(imp.branches) == {"ap_soma", "ap_axon", "ap_myelin"}


def test_mechanism_regions_after_a_section_split_per_segment():
    """A section whose diameter differs per segment (no 3-d points: Mainen & Sejnowski's
    hillock, `diam(0:1) = a:b`) is several branches, so section and branch numbers
    differ after it: a mechanism in some sections only must land on its own sections'
    nodes (it raised a KeyError on the published MS96 cell)."""
    soma = h.Section(name="rg_soma")
    soma.L = soma.diam = 20.0
    hill = h.Section(name="rg_hill")
    hill.connect(soma(0.5), 0)
    hill.L, hill.nseg = 10.0, 5
    for k, seg in enumerate(hill):
        seg.diam = 4.0 - 0.6 * k
    dend = h.Section(name="rg_dend")
    dend.connect(soma(1), 0)
    dend.L, dend.diam, dend.nseg = 100.0, 2.0, 3
    for s in (soma, hill, dend):
        s.insert("pas")
    dend.insert("hh")
    for k, seg in enumerate(dend):
        seg.hh.gnabar = 0.1 + 0.01 * k
    imp = from_neuron([soma, hill, dend])
    assert imp.branches["rg_hill"] == (1, 2, 3, 4, 5) and imp.branches["rg_dend"] == (6,)
    cell = imp.cell
    (hh, where), *_ = [(m, list(r)) for m, r in zip(cell.mechanisms, cell.regions, strict=True)
                       if type(m).__name__.lower().endswith("hh")]  # fmt: skip
    dend_nodes = [cell.node(6, (k + 0.5) / 3) for k in range(3)]  # Cell.regions: nodes
    np.testing.assert_array_equal(np.sort(where), np.sort(dend_nodes))
    np.testing.assert_allclose(np.asarray(hh.gnabar), [0.1, 0.11, 0.12], rtol=1e-7)


def test_three_d_points_rescaled_by_a_new_length_use_neurons_arcs():
    """Setting L on a section with 3-d points (Mainen & Sejnowski fold spines into L and
    diam) makes NEURON rescale its arc lengths (double precision) while the stored
    coordinates stay single precision: the import takes NEURON's `arc3d`, so every
    segment's area is NEURON's to round-off (it was ~1e-7 off from the coordinates)."""
    soma = h.Section(name="rs_soma")
    soma.L = soma.diam = 15.0
    dend = h.Section(name="rs_dend")
    dend.connect(soma(1), 0)
    for x, y, d in ((0.1, 0.3, 2.1), (33.3, 7.7, 1.9), (71.9, 21.1, 1.3), (130.7, 2.9, 1.1)):
        h.pt3dadd(x, y, 0.7, d, sec=dend)
    dend.nseg = 5
    dend.L = dend.L * 1.2345
    for seg in dend:
        seg.diam = seg.diam * 1.07
    for s in (soma, dend):
        s.insert("pas")
    xyz = np.array([[h.x3d(k, sec=dend), h.y3d(k, sec=dend), h.z3d(k, sec=dend)]
                    for k in range(int(h.n3d(sec=dend)))])  # fmt: skip
    span = np.sum(np.linalg.norm(np.diff(xyz, axis=0), axis=1))
    assert abs(span - dend.L) > 1e-9 * dend.L  # the coordinates disagree with the arcs
    imp = from_neuron([soma, dend])
    area = imp.cell.geometry.area
    for k, seg in enumerate(dend):
        np.testing.assert_allclose(area[imp.cell.node(1, (k + 0.5) / 5)], seg.area(), rtol=1e-12)


_PUBCELLS = Path(__import__("os").environ.get("NEUROJAX_PUBCELLS", "/tmp/pubcells"))


@pytest.mark.slow  # nrnivmodl and 120-150 ms of a 190-312 compartment cell in both, per model
@pytest.mark.parametrize("model", ["hay2011", "hay2013", "ms96_no_ion_style", "ms96", "rtcl"])
def test_published_cells_match_neuron(model):
    """Held-out check: published models run by their own hoc (fetched outside the
    repository, docs/from_neuron.md says how; skipped without them), imported as NEURON
    holds them. Backward Euler, float64: measured ≤ 2.8e-8 mV at the soma (on spike
    upstrokes; 6e-8 mV for RTCl's RE cell, imported with NEURON's slope for its GHK T
    current) and ≤ 6e-8 mV at the distal site; 1e-6 mV leaves ≥ 16×. MS96 as
    published (ion_style fixing eca while cad writes cai: `Cell(fixed_reversal=("ca",))`)
    1.0e-9 mV.
    One NEURON per model (their .mod files share names): a subprocess each."""
    import ast
    import subprocess

    folder = {"hay2011": "hay", "hay2013": "hay2013", "rtcl": "rtcl"}.get(model, "ms96")
    if not (_PUBCELLS / folder).is_dir():
        pytest.skip(f"published model files not fetched into {_PUBCELLS / folder}")
    script = Path(__file__).resolve().parents[1] / "validation" / "from_neuron_published.py"
    out = subprocess.run([sys.executable, str(script), model], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    res = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert "refused" not in res, res
    assert res["n_spikes"][0] >= 4 and res["n_spikes"][0] == res["n_spikes"][1]
    assert res["max_dspike_ms"] < 1e-8, res
    assert res["max_dv_soma_mV"] < 1e-6 and res["max_dv_distal_mV"] < 1e-6, res


# a Cl⁻ shell written here from its equation, and a Cl⁻ leak (both named for this test)
_CLPOOL_MOD = """NEURON { SUFFIX fn_clpool USEION cl READ icl WRITE cli VALENCE -1 RANGE tau }
UNITS { (mM) = (milli/liter) (mA) = (milliamp) FARADAY = (faraday) (coulomb) }
PARAMETER { tau = 50 (ms) depth = 0.1 (um) clinf = 8 (mM) }
ASSIGNED { icl (mA/cm2) }
STATE { cli (mM) }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { cli' = (10000) * icl / (FARADAY * depth) - (cli - clinf) / tau }
"""
_CLLEAK_MOD = """NEURON { SUFFIX fn_clleak USEION cl READ ecl WRITE icl VALENCE -1 RANGE g }
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { g = 1e-3 (S/cm2) }
ASSIGNED { v (mV) ecl (mV) icl (mA/cm2) }
BREAKPOINT { icl = g * (v - ecl) }
"""


# a leak with a cubic term: a current nonlinear in v (as GHK's or a Mg²⁺ block's)
_CUBIC_MOD = """NEURON { SUFFIX fn_cubic NONSPECIFIC_CURRENT i RANGE g, c, e }
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { g = 2e-4 (S/cm2) c = 2e-6 e = -65 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g * (v - e) + c * (v - e) * (v - e) * (v - e) }
"""


@pytest.fixture(scope="module")
def fn_mods(tmp_path_factory):
    """The three small .mod files above, compiled once (nrnivmodl, ~10 s) and loaded."""
    import subprocess

    where = tmp_path_factory.mktemp("fn_mods")
    for name, text in (("fn_clpool.mod", _CLPOOL_MOD), ("fn_clleak.mod", _CLLEAK_MOD),
                       ("fn_cubic.mod", _CUBIC_MOD)):  # fmt: skip
        (where / name).write_text(text)
    if not hasattr(h, "g_fn_cubic"):
        nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
        subprocess.run([str(nrnivmodl)], cwd=where, check=True, capture_output=True)
        h.nrn_load_dll(str(where / "x86_64" / "libnrnmech.so"))
    return where


@pytest.mark.slow  # nrnivmodl on small .mod files (~10 s), 20 ms of one compartment
def test_neuron_slope_matches_neuron_for_a_current_nonlinear_in_v(fn_mods, x64):
    """NEURON linearises each current by `(i(v + 0.001) − i(v))/0.001`; neurojax takes
    the exact dI/dV. For a current nonlinear in v the two backward-Euler solutions
    differ by that rule alone; `neuron_slope=True` imports NEURON's (measured 8.5e-14
    mV: round-off; 1e-9 mV leaves 10⁴×), the default differs by more (measured 5.4e-6
    mV here)."""
    s = h.Section(name="cu_soma")
    s.L = s.diam = 20.0
    s.insert("fn_cubic")
    stim = h.IClamp(s(0.5))
    stim.delay, stim.dur, stim.amp = 1.0, 10.0, 0.1
    rec = h.Vector().record(s(0.5)._ref_v)
    imps = [from_neuron([s], mods=fn_mods, v_init=-65.0, neuron_slope=b) for b in (True, False)]
    ref = _neuron_run([rec], 20.0, -65.0)
    assert ref.max() - ref.min() > 10.0  # well into the cubic term
    err = [float(np.max(np.abs(_neurojax_run(imp, [("cu_soma", 0.5)], 800) - ref)))
           for imp in imps]  # fmt: skip
    assert err[0] < 1e-9, err
    assert err[1] > 100 * err[0], err  # the slope rule is what differed
    with pytest.raises(TypeError, match="neuron_slope must be True or False"):
        from_neuron([s], mods=fn_mods, neuron_slope=1)


@pytest.mark.slow  # nrnivmodl on small .mod files (~10 s), 20 ms of one compartment
def test_both_concentrations_of_a_written_ion_start_from_neurons_globals(fn_mods, x64):
    """When a mechanism writes one concentration of an ion, NEURON's finitialize sets both
    `<ion>i` and `<ion>o` from `<ion>i0_<ion>_ion` and `<ion>o0_<ion>_ion` (RTCl's RE cell:
    cld writes cli, clo0_cl_ion = 132.5). The import took clo as the section held it
    before finitialize (1 mM: ecl ≈ +60 mV instead of −68 mV; RTCl's V was 105 mV off).
    Backward Euler, float64: round-off (1e-9 mV leaves ~1000×)."""
    s = h.Section(name="cl_soma")
    s.L = s.diam = 20.0
    s.insert("pas")
    s.insert("fn_clpool")
    s.insert("fn_clleak")
    h.celsius = 31.0
    h.cli0_cl_ion, h.clo0_cl_ion = 8.0, 132.5
    stim = h.IClamp(s(0.5))
    stim.delay, stim.dur, stim.amp = 2.0, 10.0, 0.05
    rec = h.Vector().record(s(0.5)._ref_v)
    imp = from_neuron([s], mods=fn_mods, v_init=-65.0)
    assert float(imp.cell.ions["clo"]) == 132.5 and float(imp.cell.ions["cli"]) == 8.0
    ref = _neuron_run([rec], 20.0, -65.0)
    got = _neurojax_run(imp, [("cl_soma", 0.5)], 800)
    assert ref.max() - ref.min() > 5.0  # the clamp moved it
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_fixed_reversal_keeps_e_where_a_concentration_is_written():
    """`Cell(fixed_reversal=("ca",))` (NEURON's ion_style einit = eadvance = 0, Mainen &
    Sejnowski 1996's fixed eca beside a calcium pool): eca is the value given although a
    mechanism writes cai; without it eca is Nernst's there and giving it is refused."""
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod

    pool = load_mod(_CAPOOL_FIXED, file="capool_fx.mod")
    leak = load_mod(_CALEAK_FIXED, file="caleak_fx.mod")
    morph = Morphology([Branch(20.0, 20.0, nseg=1)])
    mechs = [(pool, None), (leak, None)]
    with pytest.raises(ValueError, match="computed from cai and cao by the Nernst"):
        Cell(morph, mechs, ions={"eca": 140.0})
    cell = Cell(morph, mechs, ions={"eca": 140.0}, fixed_reversal=("ca",))
    assert not cell.geometry.ions.nernst_mask["ca"].any()
    # a membrane with only the Ca²⁺ leak (τ = 10 ms) relaxes to eca: 140 mV, though the
    # pool's cai rises (Nernst's eca would fall below ~128 mV)
    v = nj.simulate(cell, jnp.zeros((4000, 0)), dt=0.05).v
    assert abs(float(v[-1, cell.node(0, 0.5)]) - 140.0) < 0.01
    with pytest.raises(ValueError, match="fixed_reversal names 'na'"):
        Cell(morph, mechs, fixed_reversal=("na",))
    with pytest.raises(TypeError, match="tuple of ion names"):
        Cell(morph, mechs, fixed_reversal="ca")


_CAPOOL_FIXED = """NEURON { SUFFIX capool_fx USEION ca READ ica WRITE cai RANGE tau }
PARAMETER { tau = 20 (ms) }
ASSIGNED { ica (mA/cm2) }
STATE { cai (mM) }
INITIAL { cai = 5e-5 }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { cai' = -ica - (cai - 5e-5) / tau }
"""
_CALEAK_FIXED = """NEURON { SUFFIX caleak_fx USEION ca READ eca WRITE ica RANGE g }
PARAMETER { g = 1e-4 (S/cm2) }
ASSIGNED { v (mV) eca (mV) ica (mA/cm2) }
BREAKPOINT { ica = g * (v - eca) }
"""
