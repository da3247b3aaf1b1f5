"""Session-10 probes of the morphology readers: a branch whose `length` disagrees with
its 3-d points (distances read one, areas the other), and an SWC shape defect reported
without its file and line. Numpy only."""

import numpy as np
import pytest

from neurojax.cable import Branch, branch_from_points, read_swc


def test_branch_length_must_match_its_points():
    pts = np.array([[0.0, 0.0, 0.0, 1.0], [10.0, 0.0, 0.0, 1.0]])
    # was accepted: total_length 100 µm, area that of 10 µm (31.4 µm²)
    with pytest.raises(ValueError, match=r"length=100.0 µm but its points span 10 µm"):
        Branch(100.0, 1.0, points=pts)
    b = branch_from_points(pts)
    assert b.length == pytest.approx(10.0, rel=1e-12) and b.area == pytest.approx(10 * np.pi)


def test_swc_shape_defect_names_file_and_line(tmp_path):
    """A shape read_swc refuses names the file and the line. (This test used a one-point
    dendrite on a soma point, which NEURON's Import3d loads, joining the point to its
    parent, and read_swc now does the same: tests/test_bad_inputs_s11_swc_root.py. The
    refusal kept: a non-soma root read by NEURON as one section with the soma point.)"""
    path = tmp_path / "lost_soma.swc"
    path.write_text("1 3 0 0 0 1 -1\n2 1 10 0 0 10 1\n3 3 50 0 0 1 2\n4 3 -40 0 0 1 1\n")
    with pytest.raises(ValueError, match=r"lost_soma.swc, line 2: the root point"):
        read_swc(path)
