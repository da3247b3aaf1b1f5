"""Session-11 probes of `neurojax.cable.Cell`'s arguments: a mechanism inserted in
`True` (read as branch 1; a mask `[True, False]` as branches 0 and 1), in `nan` (a bare
"cannot convert float NaN to integer"), or in `None` inside a list; a synapse reversal
given as an array (stacked into `e_syn` of shape (1, 2) and broadcast over the sites) or
None (reported as "e_syn must be finite (got [nan])"); `v_init` per node or per branch
(JAX's "Incompatible types for broadcasting" when the run started); `record_gate(True,
...)` (read as mechanism 1) and `record_gate(1.0, ...)` (a bare tuple-index error).
Nothing is compiled."""

import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.cable import Branch, Cell, Morphology, Passive

M = Morphology([Branch(20, 20, type="soma"), Branch(200, 2, parent=0, type="apical", nseg=5)])

CASES = [
    (lambda: Cell(M, [(Passive(), True)]), TypeError, ["mechanism 0", "True", "branch indices"]),
    (lambda: Cell(M, [(Passive(), np.True_)]), TypeError, ["mechanism 0"]),
    (lambda: Cell(M, [(Passive(), [True, False])]), TypeError, ["True"]),
    (lambda: Cell(M, [(Passive(), [None])]), TypeError, ["None"]),
    (lambda: Cell(M, [(Passive(), np.nan)]), ValueError, ["branch nan", "off the cell"]),
    (lambda: Cell(M, [(Passive(), None)], synapses=[(0, 0.5, np.array([0.0, 1.0]))]),
     TypeError, ["synapses[0]", "reversal potential"]),
    (lambda: Cell(M, [(Passive(), None)], synapses=[(0, 0.5, None)]), TypeError,
     ["synapses[0]", "None"]),
    (lambda: Cell(M, [(Passive(), None)], v_init=jnp.full(9, -65.0)), ValueError,
     ["v_init must be one voltage", "(9,)", "state0"]),
    (lambda: Cell(M, [(Passive(), None)], v_init=[-65.0, -70.0]), ValueError, ["v_init"]),
    (lambda: Cell(M, [(Passive(), "soma"), (Passive(), "apical")])
     .record_gate(True, "m", [(0, 0.5)]),
     ValueError, ["mechanism=True"]),
    (lambda: Cell(M, [(Passive(), "soma"), (Passive(), "apical")])
     .record_gate(1.0, "m", [(1, 0.5)]),
     ValueError, ["mechanism=1.0"]),
    (lambda: Cell(M, [(Passive(), None)]).record_point(True, "g"), ValueError, ["index=True"]),
]  # fmt: skip


@pytest.mark.parametrize("call, error, words", CASES)
def test_bad_cell_arguments_are_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_branch_indices_of_any_integer_type_are_accepted():
    soma_and_dend = (np.array([1, 3, 4, 5, 6, 7]),)
    for where in ((0, 1), jnp.array([0, 1]), np.array([0, 1]), [0.0, 1.0]):
        regions = Cell(M, [(Passive(), where)]).regions
        np.testing.assert_array_equal(regions[0], soma_and_dend[0])
    cell = Cell(M, [(Passive(), None)], synapses=[(0, 0.5, np.float32(-80.0))])
    np.testing.assert_array_equal(cell.e_syn, [-80.0])


# NeuroMorpho.org's standard three-point soma: the root and two points at ±r along y, one
# diameter; two dendrites from the root
THREE_POINT_SOMA = """\
1 1 0 0 0 10 -1
2 1 0 -10 0 10 1
3 1 0 10 0 10 1
4 3 10 0 0 1 1
5 3 50 0 0 1 4
6 3 -10 0 0 1 1
7 3 -50 0 0 1 6
"""


def test_neuromorpho_three_point_soma_is_read_as_neuron_reads_it(tmp_path):
    """NEURON's Import3d (`neuromorph_3point_soma`) reads this soma as a sphere: one soma
    section of L = 2r = 20 µm, area 4πr², every dendrite at soma(0.5) — so
    `h.distance(soma(0.5), dend(0.5))` is 20 µm. It was read as two soma branches of 10 µm
    with the dendrites at branch 0's x = 0: the soma split in two compartments, branch
    numbers shifted from NEURON's sections, distances from (0, 0.5) 5 µm (r/2) too long."""
    from neurojax.cable import read_swc

    path = tmp_path / "three_point_soma.swc"
    path.write_text(THREE_POINT_SOMA)
    m = read_swc(path)
    assert m.types == ("soma", "basal", "basal")
    assert m.branches[0].length == pytest.approx(20.0, rel=1e-12)
    assert m.branches[0].area == pytest.approx(4 * np.pi * 10.0**2, rel=1e-12)
    assert [(b.parent, b.parent_x) for b in m.branches[1:]] == [(0, 0.5), (0, 0.5)]
    # a dendrite of a one-point soma starts at its own first point (NEURON's wire to
    # soma(0.5)): 40 µm long, its middle 20 µm from the soma's centre
    np.testing.assert_allclose(m.distances("basal"), [20.0, 20.0], rtol=1e-12)


def test_other_three_soma_point_files_keep_their_shape(tmp_path):
    """Not NEURON's special case (a point of another diameter): still three soma points
    in a row (a soma contour or a cylinder), read as before."""
    from neurojax.cable import read_swc

    path = tmp_path / "cylinder.swc"
    path.write_text(THREE_POINT_SOMA.replace("2 1 0 -10 0 10 1", "2 1 0 -10 0 9 1"))
    assert read_swc(path).types[:2] == ("soma", "soma")


@pytest.mark.slow  # imports NEURON (~1-2 s)
def test_three_point_soma_sections_match_neuron(tmp_path):
    neuron = pytest.importorskip("neuron")
    from neurojax.cable import read_swc

    h = neuron.h
    h.load_file("stdlib.hoc")
    h.load_file("import3d.hoc")
    path = tmp_path / "three_point_soma.swc"
    path.write_text(THREE_POINT_SOMA)
    reader = h.Import3d_SWC_read()
    reader.input(str(path))
    h.Import3d_GUI(reader, 0).instantiate(None)
    secs = [s for s in h.allsec() if s.name().startswith(("soma", "dend"))]
    try:
        m = read_swc(path)
        assert len(m.branches) == len(secs)
        for br, sec in zip(m.branches, secs, strict=True):
            assert br.length == pytest.approx(sec.L, rel=1e-9)
            assert br.area == pytest.approx(sum(seg.area() for seg in sec), rel=1e-6)
        h.distance(0, secs[0](0.5))
        np.testing.assert_allclose(
            m.distances("basal"), [h.distance(s(0.5)) for s in secs[1:]], rtol=1e-9
        )
    finally:
        for s in secs:
            h.delete_section(sec=s)
