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


def test_swc_one_point_branch_names_file_and_line(tmp_path):
    path = tmp_path / "one_point.swc"
    path.write_text("1 1 0 0 0 5 -1\n2 3 0 10 0 1 1\n")
    # was "SWC point at [0 10 0] makes a branch of one point ...", no file, no line
    with pytest.raises(ValueError, match=r"one_point.swc, line 2: SWC point at .* one point"):
        read_swc(path)
