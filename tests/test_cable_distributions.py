"""Distributions and morphology edits as published models use them: path distances from
the soma (against NEURON's `h.distance` on an SWC cell, live: ~0.2 s), linear /
exponential / sigmoid / step profiles as per-compartment parameters, regions by type,
NEURON's `1 + 2·int(L/40)` rule, the axon replaced by stubs, cm per region."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.cable import (
    Branch,
    Cell,
    Ih,
    Morphology,
    Passive,
    exponential,
    linear,
    read_swc,
    sigmoid,
    step,
)

DATA = Path(__file__).parent / "data" / "cable"


def _tree():
    return Morphology([
        Branch(20.0, 20.0, type="soma"),
        Branch(100.0, 2.0, parent=0, parent_x=1.0, nseg=4, type="apical"),
        Branch(50.0, 1.0, parent=0, parent_x=0.0, nseg=2, type="basal"),
        Branch(30.0, 1.0, parent=1, parent_x=0.5, nseg=1, type="apical"),
        Branch(40.0, 1.5, parent=0, parent_x=0.5, nseg=1, type="axon"),
        Branch(200.0, 0.8, parent=4, nseg=3, type="axon"),
    ])  # fmt: skip


def test_path_distances_by_hand():
    m = _tree()
    # compartments of "apical", in the Cell's order: branch 1's four centres (soma(0.5) →
    # its 1 end is 10 µm), then branch 3 (attached at branch 1's middle: 10 + 50, + 15)
    np.testing.assert_allclose(m.distances("apical"), [22.5, 47.5, 72.5, 97.5, 75.0])
    np.testing.assert_allclose(m.distances("basal"), [22.5, 47.5])  # from soma(0) side
    # another origin: branch 3's end; the way back to the soma passes branch 1's middle
    d = m.distances("soma", origin=(3, 1.0))
    np.testing.assert_allclose(d, [30.0 + 50.0 + 10.0])
    cell = Cell(m, [(Passive(), ["basal", "apical"])])
    assert len(cell.regions[0]) == m.distances(["basal", "apical"]).size == 7


def test_path_distances_match_neuron_on_an_swc_cell():
    neuron = pytest.importorskip("neuron")  # a dev dependency (the morphology tests too)
    h = neuron.h
    h.load_file("stdlib.hoc")
    h.load_file("import3d.hoc")
    for sec in list(h.allsec()):
        h.delete_section(sec=sec)
    path = DATA / "morph_ca1_n120.swc"
    r = h.Import3d_SWC_read()
    r.quiet = 1
    r.input(str(path))
    h.Import3d_GUI(r, 0).instantiate(None)
    secs = list(h.allsec())
    soma = next(s for s in secs if "soma" in s.name())
    theirs = sorted(h.distance(soma(0.5), seg) for s in secs for seg in s)
    for sec in secs:
        h.delete_section(sec=sec)
    m = read_swc(path)
    assert m.types[0] == "soma"
    ours = sorted(m.distances(None))
    # the same tree and the same section lengths (test_cable_morphology: 1e-5): µm-level
    # agreement of sums of lengths along paths
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3)


def test_profiles_are_the_formulas():
    d = np.array([0.0, 100.0, 685.0, 800.0, 885.0, 900.0])
    np.testing.assert_allclose(linear(d, 1.0, -0.001), 1.0 - 0.001 * d, rtol=1e-6)  # float32
    np.testing.assert_allclose(
        exponential(d, -0.8696 * 2e-4, 2.087 * 2e-4, 323.0),
        2e-4 * (-0.8696 + 2.087 * np.exp(d / 323.0)), rtol=1e-6,
    )  # fmt: skip
    s = np.asarray(sigmoid(d, 1.0, 3.0, 500.0, 50.0))
    np.testing.assert_allclose(s, 1.0 + 2.0 / (1.0 + np.exp((500.0 - d) / 50.0)), rtol=1e-6)
    np.testing.assert_allclose(step(d, 100.0, 1.0, 685.0, 885.0), [1, 1, 100, 100, 100, 1])


def test_a_distance_profile_is_a_trainable_mechanism_parameter():
    """Hay et al.'s Ih profile on the apical tree: one density per compartment, and the
    profile's parameters reached by gradients."""
    m = _tree()
    d = m.distances("apical")

    def total_ih(b):
        g = exponential(d, -0.8696 * 0.2, b, 323.0)  # mS/cm²
        cell = Cell(m, [(Ih(g=g), "apical")])
        y = cell.init_state()
        return cell._currents(y, jnp.zeros((0,)))[0].sum()

    cell = Cell(m, [(Ih(g=exponential(d, -0.8696 * 0.2, 2.087 * 0.2, 323.0)), "apical")])
    assert cell.mechanisms[0].g.shape == (5,)
    grad = jax.grad(total_ih)(2.087 * 0.2)
    eps = 1e-3
    fd = (total_ih(2.087 * 0.2 + eps) - total_ih(2.087 * 0.2 - eps)) / (2 * eps)
    # the current is linear in b: central differences exact up to float32 round-off
    np.testing.assert_allclose(grad, fd, rtol=1e-3)


def test_nseg_rule_and_values_by_type():
    m = Morphology([Branch(39.9, 1.0), Branch(40.0, 1.0, parent=0), Branch(100.0, 1.0, parent=0)])
    assert [br.nseg for br in m.with_nseg_by_length().branches] == [1, 3, 5]
    assert [br.nseg for br in m.with_nseg_by_length(20.0).branches] == [3, 5, 11]
    with pytest.raises(ValueError, match="max_length"):
        m.with_nseg_by_length(0.0)
    t = _tree()
    cm = t.values_by_type({"soma": 1.0, "axon": 1.0}, default=2.0)
    np.testing.assert_array_equal(cm, [1, 2, 2, 2, 1, 1])
    Cell(t, [(Passive(), None)], cm=cm)  # one per branch, as Cell takes it
    with pytest.raises(ValueError, match="no value"):
        t.values_by_type({"soma": 1.0})
    with pytest.raises(ValueError, match="dend"):
        t.values_by_type({"dend": 1.0})


def test_replace_axon_by_stubs():
    t = _tree()
    out = t.replace_axon()  # Hay et al.: two 30 µm cylinders
    assert len(out) == 4 + 2 and out.types == ("soma", "apical", "basal", "apical",
                                                    "axon", "axon")  # fmt: skip
    a0, a1 = out.branches[4], out.branches[5]
    assert (a0.parent, a0.parent_x, a1.parent, a1.parent_x) == (0, 0.5, 4, 1.0)
    assert (a0.length, a1.length, a0.nseg) == (30.0, 30.0, 1)
    assert (a0.diameter, a1.diameter) == (1.5, 0.8)  # the original axon's first two
    assert out.branches[3].parent == 1  # parents re-indexed
    three = t.replace_axon(n=3, length=50.0)
    assert [br.diameter for br in three.branches[4:]] == [1.5, 0.8, 0.8]
    assert three.branches[4].nseg == 3  # 1 + 2·int(50/40)
    with pytest.raises(ValueError, match="no branch has type 'myelin'"):
        out.replace_axon(type="myelin")
    bad = Morphology([*t.branches, Branch(10.0, 1.0, parent=5, type="basal")])
    with pytest.raises(ValueError, match="cut off"):
        bad.replace_axon()


def test_regions_by_type_lists():
    t = _tree()
    assert t.branches_where(["basal", "axon"]) == (2, 4, 5)
    assert t.branches_where([0, "basal"]) == (0, 2)
    with pytest.raises(ValueError, match="no branch has type 'tuft'"):
        t.branches_where(["tuft"])
    with pytest.raises(ValueError, match="mechanism 0 .*'tuft'"):
        Cell(t, [(Passive(), ["apical", "tuft"])])
