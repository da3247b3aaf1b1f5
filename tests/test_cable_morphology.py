"""Morphology and SWC: the discretisation node for node as NEURON's, and every file in
tests/data/cable against NEURON's Import3d (run live: ~0.1 s per file)."""

from pathlib import Path

import numpy as np
import pytest

from neurojax.cable import Branch, Morphology, branch_from_points, read_swc

neuron = pytest.importorskip("neuron")
h = neuron.h
h.load_file("stdlib.hoc")
h.load_file("import3d.hoc")

DATA = Path(__file__).parent / "data" / "cable"


def _clear():
    for sec in list(h.allsec()):
        h.delete_section(sec=sec)


def _neuron_nodes(secs):
    """NEURON's node areas (µm²) and ri (MΩ) in our node order: root 0 end, then per
    section its centres and its 1 end."""
    area, ri = [0.0], [np.inf]
    for s in secs:
        for seg in s:
            area.append(seg.area())
            ri.append(seg.ri())
        area.append(0.0)
        ri.append(s(1).ri())
    return np.array(area), np.array(ri)


def test_cylinder_tree_matches_neuron_node_for_node():
    spec = [
        (20.0, 20.0, 1, -1, 1.0),
        (200.0, 2.0, 7, 0, 1.0),
        (150.0, 1.0, 5, 0, 1.0),
        (100.0, 0.8, 4, 1, 1.0),
        (300.0, 1.0, 9, 0, 0.0),
        (50.0, 0.5, 3, 1, 0.5),
    ]
    _clear()
    secs = []
    for i, (L, d, n, p, px) in enumerate(spec):
        s = h.Section(name=f"b{i}")
        s.L, s.diam, s.nseg, s.Ra = L, d, n, 123.0
        if p >= 0:
            s.connect(secs[p](px), 0)
        secs.append(s)
    morph = Morphology([Branch(L, d, parent=p, parent_x=px, nseg=n) for L, d, n, p, px in spec])
    disc = morph.discretise()
    area, ri = _neuron_nodes(secs)
    # both compute the same closed forms in float64: agreement to round-off
    np.testing.assert_allclose(disc.area, area, rtol=1e-12)
    np.testing.assert_allclose(disc.r_per_ra * 123.0, ri, rtol=1e-12)
    # the tree: NEURON's parent node of each section's first node
    for b in range(1, len(secs)):
        first = disc.centres[b][0]
        p, px = spec[b][3], spec[b][4]
        assert disc.parent[first] == disc.node(p, px)
    assert morph.total_length == pytest.approx(sum(s.L for s in secs))
    assert morph.area == pytest.approx(sum(seg.area() for s in secs for seg in s))
    _clear()


def test_frustums_match_neuron_node_for_node():
    """3-d points with varying diameter: areas and resistances by NEURON's piecewise
    integration (`diam_from_list`), segment boundaries falling between points."""
    pts = np.array(
        [[0, 0, 0, 6.0], [3, 4, 0, 2.0], [3, 4, 10, 2.0], [3, 4, 10, 3.0], [10, 4, 10, 1.0]]
    )
    _clear()
    s = h.Section(name="f")
    for x, y, z, d in pts:
        h.pt3dadd(x, y, z, d, sec=s)
    s.nseg, s.Ra = 5, 80.0
    morph = Morphology([branch_from_points(pts, nseg=5)])
    disc = morph.discretise()
    area, ri = _neuron_nodes([s])
    # NEURON stores 3-d points in float32: 1e-6 relative
    np.testing.assert_allclose(disc.area, area, rtol=1e-6)
    np.testing.assert_allclose(disc.r_per_ra * 80.0, ri, rtol=1e-6)
    _clear()


def test_d_lambda_rule_matches_neuron():
    _clear()
    s = h.Section(name="s")
    morph = Morphology(
        [Branch(523.0, 1.3), Branch(80.0, 4.0, parent=0), Branch(2000.0, 0.4, parent=1)]
    )
    got = morph.with_d_lambda(0.1, ra=150.0, cm=0.9)
    for br, got_br in zip(morph.branches, got.branches, strict=True):
        s.L, s.diam, s.Ra, s.cm = br.length, br.diameter, 150.0, 0.9
        want = int((s.L / (0.1 * h.lambda_f(100, sec=s)) + 0.9) / 2) * 2 + 1
        assert got_br.nseg == want
    _clear()


def _import3d(path):
    _clear()
    r = h.Import3d_SWC_read()
    r.quiet = 1
    r.input(str(path))
    h.Import3d_GUI(r, 0).instantiate(None)
    secs = list(h.allsec())
    out = len(secs), sum(s.L for s in secs), sum(seg.area() for s in secs for seg in s)
    _import3d.lengths = sorted(s.L for s in secs)  # for the section-by-section check
    _clear()
    return out


# file → read_swc options it needs (the defects it has are tested below)
FILES = {
    "morph_3_types.swc": {},
    "morph_ca1_n120.swc": {},
    "morph_ca1_n120_single_point_soma.swc": {},
    "morph_interrupted_soma.swc": {},
    "morph_minimal.swc": {},
    "morph_non_somatic_branchpoint.swc": {},
    "morph_single_branch.swc": {"merge_zero_length": True},
    "morph_soma_both_ends.swc": {},
    "morph_somatic_branchpoint.swc": {},
    "morph_variable_radiuses_within_branch.swc": {},
    "morph_retina_20161028_1.swc": {"merge_zero_length": True, "min_radius": 0.1},
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_swc_length_and_area_match_import3d(name):
    opts = FILES[name]
    m = read_swc(DATA / name, **opts)
    n_sec, length, area = _import3d(DATA / name)
    # The issue asks for 1 %; we get NEURON's own numbers to float32 round-off (1e-6),
    # except where a repair option changes the cell.
    assert m.total_length == pytest.approx(length, rel=1e-6 if not opts else 1e-2)
    if "min_radius" not in opts:  # NEURON keeps the zero radii: area 0
        assert m.area == pytest.approx(area, rel=1e-6)
        assert len(m) == n_sec  # the same sections, of the same lengths
        if not opts:
            ours = sorted(br.length for br in m.branches)
            np.testing.assert_allclose(ours, _import3d.lengths, rtol=1e-5, atol=1e-4)


def test_every_shared_file_is_covered():
    assert {p.name for p in DATA.glob("*.swc")} == set(FILES) | {"morph_multiple_roots.swc"}


def test_swc_types_and_soma_conventions():
    m = read_swc(DATA / "morph_3_types.swc")
    assert set(m.types) == {"soma", "axon", "basal"}
    m = read_swc(DATA / "morph_ca1_n120_single_point_soma.swc")
    soma = m.branches[0]
    r = 10.327666283
    # one-point soma → cylinder of length and diameter 2r: the sphere's area 4πr²
    assert soma.type == "soma" and soma.length == pytest.approx(2 * r)
    assert soma.area == pytest.approx(4 * np.pi * r**2)
    assert all(br.parent_x == 0.5 for br in m.branches if br.parent == 0)
    assert {"soma", "basal", "apical"} == set(m.types)


@pytest.mark.parametrize(
    "lines,match",
    [
        (["1 1 0 0 0 5 -1", "2 3 0 0"], "line 2.*expected 7 fields"),
        (["1 1 0 0 0 5 -1", "2 3 0 x 0 1 1"], "line 2.*not a number"),
        (["1 1 0 0 0 5 -1", "2 3 0 10 0 1 7"], "line 2.*parent id 7 is not defined"),
        (["1 1 0 0 0 5 -1", "1 3 0 10 0 1 1"], "line 2.*id 1 is repeated"),
        (["1 1 0 0 0 5 -1", "2 3 0 10 0 1 1", "3 1 5 5 5 5 -1"], "line 3.*second root"),
        (["1 1 0 0 0 5 -1", "2 3 0 10 0 -1 1"], "line 2.*radius -1.0.*min_radius"),
        (["1 1 0 0 0 5 -1", "2 3 0 10 0 0 1"], "line 2.*radius 0.0"),
        (["2 3 0 10 0 1 1"], "line 1.*parent id 1 is not defined"),
    ],
)
def test_swc_defects_name_the_line(tmp_path, lines, match):
    path = tmp_path / "bad.swc"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=match):
        read_swc(path)


def test_swc_zero_length_point_is_an_error_only_when_asked(tmp_path):
    """A point repeated at its parent's position (as MorphIO writes branch starts) is
    merged by default, as NEURON, MorphIO and Jaxley load it; `merge_zero_length=False`
    refuses it, naming the line."""
    path = tmp_path / "repeat.swc"
    path.write_text("1 1 0 0 0 5 -1\n2 1 10 0 0 5 1\n3 3 10 0 0 1 2\n4 3 20 0 0 1 3\n")
    m = read_swc(path)
    assert len(m) == 2 and m.total_length == pytest.approx(10.0 + 10.0)  # soma + dendrite
    with pytest.raises(ValueError, match="line 3.*zero-length.*merge_zero_length"):
        read_swc(path, merge_zero_length=False)


def test_swc_shared_defect_files():
    with pytest.raises(ValueError, match="line 7.*second root"):
        read_swc(DATA / "morph_multiple_roots.swc")
    with pytest.raises(ValueError, match="zero-length"):
        read_swc(DATA / "morph_single_branch.swc", merge_zero_length=False)
    with pytest.raises(ValueError, match="radius 0.0"):
        read_swc(DATA / "morph_retina_20161028_1.swc")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(length=-1.0, diameter=1.0), "length -1.0"),
        (dict(length=0.0, diameter=1.0), "length 0.0"),
        (dict(length=10.0, diameter=0.0), "diameter"),
        (dict(length=10.0, diameter=-2.0), "diameter"),
        (dict(length=10.0, diameter=1.0, nseg=0), "nseg"),
        (dict(length=10.0, diameter=1.0, parent=5), "parent 5"),
        (dict(length=10.0, diameter=1.0, parent_x=1.5), "parent_x"),
    ],
)
def test_bad_branches(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Morphology([Branch(10.0, 1.0), Branch(**{"parent": 0, **kwargs})])


def test_sites_off_the_cell():
    disc = Morphology([Branch(10.0, 1.0, nseg=3), Branch(5.0, 1.0, parent=0)]).discretise()
    assert disc.node(0, 0.5) == 2 and disc.node(0, 0.0) == 0 and disc.node(0, 1.0) == 4
    with pytest.raises(ValueError, match="branch=2 is off the cell"):
        disc.node(2, 0.5)
    with pytest.raises(ValueError, match="x=1.5"):
        disc.node(0, 1.5)


def test_contour_soma_matches_import3d(tmp_path):
    """A soma traced as a closed outline (a ring of soma points) with a dendrite and an
    axon leaving from points on the ring: the same sections, length and area as NEURON."""
    n = 12
    lines = []
    for k in range(n):
        a = 2 * np.pi * k / n
        lines.append(f"{k + 1} 1 {8 * np.cos(a):.4f} {8 * np.sin(a):.4f} 0 0.5 {k if k else -1}")
    lines += [
        f"{n + 1} 1 8.0 0.01 0 0.5 {n}",  # back next to the first point
        f"{n + 2} 3 0 20 0 1.0 4",
        f"{n + 3} 3 0 40 0 0.8 {n + 2}",
        f"{n + 4} 2 0 -20 0 0.6 10",
        f"{n + 5} 2 0 -60 0 0.5 {n + 4}",
    ]
    path = tmp_path / "contour.swc"
    path.write_text("\n".join(lines) + "\n")
    m = read_swc(path)
    n_sec, length, area = _import3d(path)
    assert len(m) == n_sec == 3  # the ring is one soma section, children at its middle
    assert m.total_length == pytest.approx(length, rel=1e-6)
    assert m.area == pytest.approx(area, rel=1e-6)
