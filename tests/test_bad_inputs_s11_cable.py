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
    (lambda: Cell(M, [(Passive(), "soma"), (Passive(), "apical")]).record_gate(True, "m", [(0, 0.5)]),
     ValueError, ["mechanism=True"]),
    (lambda: Cell(M, [(Passive(), "soma"), (Passive(), "apical")]).record_gate(1.0, "m", [(1, 0.5)]),
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
