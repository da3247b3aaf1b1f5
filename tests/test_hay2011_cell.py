"""Hay et al. (2011)'s L5b pyramidal cell (`neurojax.cable.hay2011_cell`): its structure
(regions, mechanisms, densities at chosen distances, cm/Ra per region) — fast, one
module-scoped build (~10 s: parsing eleven .mod files) — and, slow tier, step and BAC
firing against NEURON compiling the same .mod files on the same morphology and
distributions (`validation/hay2011_cell_vs_neuron.py`)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurojax.cable import (
    HAY2011_DIR,
    L5_SIMPLIFIED_SWC,
    Branch,
    Morphology,
    Passive,
    epsp_current,
    hay2011_cell,
    hay2011_mechanisms,
    hay2011_morphology,
    site_at_distance,
)
from neurojax.cable._hay2011 import _simplified_l5_points, apical_max_distance

HAY_SOMATIC = {"pas", "CaDynamics_E2", "Ca_HVA", "Ca_LVAst", "Ih", "K_Pst", "K_Tst", "NaTa_t",
               "Nap_Et2", "SK_E2", "SKv3_1"}  # fmt: skip
HAY_APICAL = {"pas", "CaDynamics_E2", "Ca_HVA", "Ca_LVAst", "Ih", "Im", "NaTa_t", "SK_E2",
              "SKv3_1"}  # fmt: skip


@pytest.fixture(scope="module")
def morph():
    return hay2011_morphology()


@pytest.fixture(scope="module")
def cell(morph):
    return hay2011_cell(morph, clamps=[(0, 0.5)])


def _by_region(mechs):
    out = {}
    for suffix, where, params in mechs:
        out.setdefault(where, {})[suffix] = params
    return out


def test_morphology_is_the_simplified_l5_cell_with_stubs(morph):
    assert set(morph.types) == {"soma", "basal", "apical", "axon"}
    axon = [morph.branches[b] for b in morph.branches_where("axon")]
    assert [(br.length, br.nseg) for br in axon] == [(30.0, 1), (30.0, 1)]  # Hay's stubs
    for br in morph.branches:  # NEURON's rule 1 + 2·int(L/40)
        assert br.nseg == 1 + 2 * int(br.length / 40.0)
    # the trunk reaches past the hot zone and the tuft beyond it (µm from soma(0))
    assert 1100.0 < apical_max_distance(morph) < 1300.0
    # the shipped SWC is the generator's output, row for row
    rows = [ln.split() for ln in L5_SIMPLIFIED_SWC.read_text().splitlines()
            if not ln.startswith("#")]  # fmt: skip
    gen = _simplified_l5_points()
    assert len(rows) == len(gen)
    # written with %g: 6 significant digits, a relative 5e-6 at most
    np.testing.assert_allclose(np.array(rows, float), np.array(gen, float), rtol=1e-5)


def test_mechanisms_per_region_are_hays(morph):
    regions = _by_region(hay2011_mechanisms(morph))
    assert set(regions["soma"]) == HAY_SOMATIC
    assert set(regions["apical"]) == HAY_APICAL
    assert set(regions["basal"]) == {"pas", "Ih"}
    assert set(regions["axon"]) == {"pas"}
    # NEURON's order: the mechanism writing cai before those reading it (SK_E2)
    mechs = hay2011_mechanisms(morph)
    for where in ("soma", "apical"):
        order = [s for s, w, _ in mechs if w == where]
        assert order[0] == "CaDynamics_E2" and order.index("SK_E2") > 0
    s = regions["soma"]
    assert s["NaTa_t"]["gNaTa_tbar"] == 2.04 and s["SKv3_1"]["gSKv3_1bar"] == 0.693
    assert s["CaDynamics_E2"] == {"gamma": 0.000501, "decay": 460.0}
    assert regions["apical"]["CaDynamics_E2"] == {"gamma": 0.000509, "decay": 122.0}
    assert all(p["e"] == -90.0 for suffix, _, p in mechs if suffix == "pas")


def test_apical_densities_at_chosen_distances(morph):
    apical = _by_region(hay2011_mechanisms(morph))["apical"]
    d = morph.distances("apical", origin=(0, 0.0))
    d_max = apical_max_distance(morph)
    # the trunk site 620 µm away: its distance by hand, walking up the parents (soma(0)
    # to its middle, where the trunk attaches: 10 µm; then whole branches; then x·L)
    b, x = site_at_distance(morph, 620.0)
    walk, p = x * morph.branches[b].length, morph.branches[b].parent
    while p > 0:
        walk, p = walk + morph.branches[p].length, morph.branches[p].parent
    walk += 10.0
    disc = morph.discretise()
    nodes = disc.membrane[np.isin(disc.branch[disc.membrane], morph.branches_where("apical"))]
    k = list(nodes).index(disc.node(b, x))  # the site's place in the region's order
    assert morph.branches[b].diameter > 2.0  # on the trunk, not an oblique (≤ 1.2 µm)
    np.testing.assert_allclose(d[k], walk, rtol=1e-9)
    assert abs(d[k] - 620.0) < 15.0  # segments are ≤ 40 µm long: a centre within 20 µm
    ih = np.asarray(apical["Ih"]["gIhbar"])
    # Hay et al.: 0.0002·(−0.8696 + 2.087·exp(3.6161·d/d_max)) S/cm², here at 620 µm
    np.testing.assert_allclose(ih[k], 2e-4 * (-0.8696 + 2.087 * np.exp(3.6161 * d[k] / d_max)),
                               rtol=1e-12)  # fmt: skip
    assert np.all(np.diff(ih[np.argsort(d)]) >= 0) and ih.min() > 0  # increasing, positive
    lva, hva = (
        np.asarray(apical["Ca_LVAst"]["gCa_LVAstbar"]),
        np.asarray(apical["Ca_HVA"]["gCa_HVAbar"]),
    )  # noqa: E501
    inside = (d > 685.0) & (d < 885.0)
    assert 5 <= inside.sum() < d.size  # the hot zone holds compartments; others lie outside
    np.testing.assert_array_equal(lva[inside], 0.0187)
    np.testing.assert_allclose(lva[~inside], 0.000187, rtol=1e-12)
    np.testing.assert_array_equal(hva[inside], 0.000555)
    np.testing.assert_allclose(hva[~inside], 0.0000555, rtol=1e-12)


def test_cell_structure(cell, morph):
    mechs = hay2011_mechanisms(morph)
    assert len(cell.mechanisms) == len(mechs)
    n = {w: morph.distances(w).size for w in ("soma", "basal", "apical", "axon")}
    for (suffix, where, params), ch, nodes in zip(mechs, cell.mechanisms, cell.regions,
                                                  strict=True):  # fmt: skip
        assert nodes.size == n[where]
        if suffix == "pas":
            assert isinstance(ch, Passive)
            np.testing.assert_allclose(ch.g, params["g"] * 1000.0)  # S/cm² → mS/cm²
        else:
            assert type(ch)._spec.suffix == suffix  # the .mod file's SUFFIX
            for name, value in params.items():
                np.testing.assert_allclose(np.asarray(getattr(ch, name)), value, rtol=1e-6)
    cm = np.asarray(cell.cm)
    for b, t in enumerate(morph.types):
        assert cm[b] == (2.0 if t in ("basal", "apical") else 1.0)
    assert float(cell.ra) == 100.0 and float(cell.temperature) == 34.0
    assert float(cell.v_init) == -80.0
    assert cell.morphology.n_segments == morph.n_segments > 200
    assert sorted(p.name for p in HAY2011_DIR.glob("*.mod")) == sorted(
        f"{s}.mod" for s in HAY_SOMATIC | HAY_APICAL if s != "pas")  # fmt: skip


def test_bad_input_is_refused(morph):
    no_apical = Morphology([Branch(20.0, 20.0, type="soma"),
                            Branch(100.0, 1.0, parent=0, type="basal")])  # fmt: skip
    with pytest.raises(ValueError, match="no 'apical' branch"):
        hay2011_mechanisms(no_apical)
    with pytest.raises(TypeError, match="sets 'cm'"):
        hay2011_cell(morph, cm=1.0)
    with pytest.raises(TypeError, match="Morphology"):
        hay2011_cell("cell.swc")


def test_epsp_current_shape():
    t = np.linspace(0.0, 40.0, 40001)
    i = epsp_current(t, 10.0, imax=0.5, tau_rise=0.5, tau_decay=5.0)
    assert np.all(i[t < 10.0] == 0.0) and np.all(i >= 0.0)
    # peak imax at tp = τr·τd/(τd − τr)·ln(τd/τr) after onset (grid 1 µs: 1e-6 relative)
    tp = 0.5 * 5.0 / 4.5 * np.log(10.0)
    np.testing.assert_allclose(i.max(), 0.5, rtol=1e-6)
    np.testing.assert_allclose(t[np.argmax(i)] - 10.0, tp, atol=1e-3)


# ------------------------------------------------------------------ against NEURON


@pytest.mark.slow
def test_step_and_bac_firing_match_neuron(tmp_path):
    """Backward Euler in both at dt 0.025 ms, float64, the same compartments and
    per-compartment parameters, 100 ms. Measured: spike times within 1.4e-7 ms, max
    |ΔV| 8.6e-5 mV at the soma (on a spike's upstroke: ~500 mV/ms × 1.4e-7 ms), mean
    ≤ 1e-6 mV, cai within 1.3e-12 mM. NEURON keeps 3-d points in single precision
    (relative 6e-8: areas and resistances differ at that level, hence not 1e-12 as in
    one compartment), amplified through the spikes. Bounds: 1e-5 ms, 1e-2 mV max, 1e-4
    mV mean, 1e-9 mM (×100 the measured)."""
    import neuron  # noqa: F401  (a dev dependency: missing fails, not skips)

    path = Path(__file__).parents[1] / "validation" / "hay2011_cell_vs_neuron.py"
    spec = importlib.util.spec_from_file_location("hay2011_cell_vs_neuron", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = mod.compare_all(tmp_path)
    for protocol, r in results.items():
        ref, ours = r.pop("_traces")
        s_ref, s_ours = r.pop("spikes_neuron"), r.pop("spikes_neurojax")
        assert len(s_ref) == len(s_ours) >= 3, (protocol, s_ref, s_ours)
        np.testing.assert_allclose(s_ours, s_ref, atol=1e-5)
        for trace, (mx, mean) in r.items():
            if trace.startswith("cai"):
                assert mx < 1e-9, (protocol, trace, mx)
            else:
                assert mx < 1e-2 and mean < 1e-4, (protocol, trace, mx, mean)
        if protocol == "bac":
            # a dendritic Ca²⁺ spike: the hot zone above −20 mV for > 5 ms, cai over 3×
            # CaDynamics_E2's floor minCai (1e-4 mM; measured 4.8e-4), and a somatic burst
            # (≥ 3 spikes within 25 ms of the pulse)
            hot = ref["v_hot"]
            assert (hot > -20.0).sum() * mod.DT > 5.0
            assert ref["cai_hot"].max() > 3e-4
            assert np.sum((s_ref > 20.0) & (s_ref < 45.0)) >= 3
