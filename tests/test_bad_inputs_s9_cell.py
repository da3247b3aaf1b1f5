"""Session-9 probes of `cable.Cell`'s construction arguments (nothing compiled). Both
findings were in `cable/_cell.py` (fixed there: `_resolve_where`, `_sites`).

- a mechanism inserted in an empty list of branches (`[(HH(), [])]`, e.g. a filter that
  matched no branch) builds a cell without it, without a word (`Morphology.branches_where
  ([])` already says "region is empty");
- `cell.record_v((0, 0.5))` (one site, not a list of sites) fails with "cannot unpack
  non-iterable int object".
"""

import pytest

from neurojax import cable

MORPH = cable.Morphology(
    [cable.Branch(20.0, 20.0, type="soma"), cable.Branch(100.0, 2.0, nseg=3, parent=0)]
)


def test_mechanism_in_no_branch_is_refused():
    assert len(cable.Cell(MORPH, [(cable.HH(), [1])]).mechanisms) == 1  # the control
    with pytest.raises(ValueError, match="mechanism 0"):
        cable.Cell(MORPH, [(cable.HH(), [])])


def test_record_v_of_one_site_is_named():
    cell = cable.Cell(MORPH, [(cable.HH(), None)])
    assert cell.record_v([(0, 0.5)]) is not None  # the control
    with pytest.raises((TypeError, ValueError), match=r"sites|\(branch, x\)"):
        cell.record_v((0, 0.5))


@pytest.mark.parametrize("bad", ["0", True, 1j])
def test_synapse_reversal_must_be_a_real_number(bad):
    # "0" was parsed as 0 mV and True read as 1 mV, without a word
    assert cable.Cell(MORPH, [(cable.HH(), None)], synapses=[(0, 0.5, -80)]).e_syn[0] == -80.0
    with pytest.raises(TypeError, match=r"synapses\[0\]"):
        cable.Cell(MORPH, [(cable.HH(), None)], synapses=[(0, 0.5, bad)])
