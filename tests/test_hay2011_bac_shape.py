"""The shipped BAC-capable shape, `hay2011_morphology(shape="bac")` (`L5_BAC_SWC`): the
file is the generator's output for `SHAPES["bac"]`'s keywords, it differs from the
default shape only in the tuft, and bad `shape` arguments are refused — fast, numpy
only (no simulation). Its BAC firing and the whole-cell comparison with NEURON are in
the slow tier (tests/test_hay2011_bac_morphology.py, tests/test_hay2011_bac_neuron.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurojax.cable import L5_SIMPLIFIED_SWC, hay2011_morphology
from neurojax.cable._hay2011 import L5_BAC_SWC, SHAPES, _simplified_l5_points

VALIDATION = Path(__file__).parent.parent / "validation" / "hay2011_bac_morphology.py"


def _rows(path):
    return [ln.split() for ln in Path(path).read_text().splitlines() if not ln.startswith("#")]


def _terminals(rows, kind):
    parents = {r[6] for r in rows}
    return [r[0] for r in rows if r[1] == kind and r[0] not in parents]


def test_shipped_files_are_the_generators_output_bit_for_bit():
    assert SHAPES["simplified"][0] == L5_SIMPLIFIED_SWC and SHAPES["bac"][0] == L5_BAC_SWC
    for name, (path, keywords) in SHAPES.items():
        gen = _simplified_l5_points(**keywords)
        text = [f"{i} {t} {x:g} {y:g} {z:g} {r:g} {p}" for i, t, x, y, z, r, p in gen]
        assert text == [" ".join(r) for r in _rows(path)], name


def test_bac_shape_differs_from_the_default_only_in_the_tuft():
    base, bac = _simplified_l5_points(), _simplified_l5_points(**SHAPES["bac"][1])
    # the soma, axon, basal tree, trunk and obliques come first and are identical: the
    # tuft is generated last, from the main bifurcation
    n_tuft_base = sum(1 for r in base if r[1] == 4 and r[3] > 760.0)
    shared = len(base) - n_tuft_base
    assert bac[:shared] == base[:shared]
    assert all(r[1] == 4 and r[3] > 760.0 for r in bac[shared:])  # only apical, past 760 µm
    levels, length = SHAPES["bac"][1]["tuft_levels"], SHAPES["bac"][1]["tuft_length"]
    # 2^levels tuft tips (plus the six obliques' tips)
    assert len(_terminals(bac, 4)) == 6 + 2**levels
    # each tuft branch `tuft_length` µm along a straight line: 2 + 4 + … + 2^levels of them
    n_branches = sum(2**k for k in range(1, levels + 1))
    seg = [np.linalg.norm(np.subtract(r[2:5], bac[r[6] - 1][2:5])) for r in bac[shared:]]
    # coordinates rounded to 1e-3 µm: a relative 1e-4 on the total
    assert sum(seg) == pytest.approx(n_branches * length, rel=1e-4)


def test_hay2011_morphology_by_shape_name():
    morph = hay2011_morphology(shape="bac")
    default = hay2011_morphology()
    assert morph.n_segments != default.n_segments
    assert hay2011_morphology(shape="simplified").n_segments == default.n_segments
    assert hay2011_morphology(L5_BAC_SWC).n_segments == morph.n_segments
    for br in morph.branches:  # NEURON's rule 1 + 2·int(L/40), Hay's two axon stubs
        assert br.nseg == 1 + 2 * int(br.length / 40.0)
    assert [morph.branches[b].length for b in morph.branches_where("axon")] == [30.0, 30.0]


@pytest.mark.parametrize("shape", ["BAC", "dense4_70", "", 3, ("bac",)])
def test_unknown_shape_is_refused(shape):
    with pytest.raises(ValueError, match="unknown shape"):
        hay2011_morphology(shape=shape)


def test_path_and_shape_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        hay2011_morphology(L5_SIMPLIFIED_SWC, shape="bac")


def test_validation_sweep_names_the_shipped_shape():
    """`validation/hay2011_bac_morphology.py`'s `BAC_SHAPE` (the slow BAC test's case)
    is the shipped "bac" shape, keyword for keyword."""
    spec = importlib.util.spec_from_file_location("hay2011_bac_morphology", VALIDATION)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.CASES[mod.BAC_SHAPE] == SHAPES["bac"][1]
