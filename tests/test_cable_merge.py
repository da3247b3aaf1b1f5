"""A `Cell` evaluates the instances of one mechanism kind as one (`cable._cell._groups`):
the same results as instance by instance, to rounding, an unchanged pytree, and no
grouping where it would change the order of a concentration's writer and its reader
(NEURON's mechanism order)."""

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Branch, Cell, Morphology, _cell
from neurojax.channels import HH, Passive
from neurojax.nmodl import load_mod

HAY = Path(nj.__file__).parent / "cable" / "data" / "hay2011"
DT = 0.025


def _morph():
    return Morphology([
        Branch(20.0, 20.0, type="soma"),
        Branch(100.0, 2.0, parent=0, parent_x=1.0, nseg=3, type="apical"),
        Branch(60.0, 1.0, parent=0, parent_x=0.0, nseg=2, type="basal"),
    ])  # fmt: skip


def _cell_of(mechanisms, merge, **kw):
    old = _cell.MERGE_INSTANCES
    _cell.MERGE_INSTANCES = merge
    try:
        return Cell(_morph(), mechanisms, clamps=[(0, 0.5)], temperature=34.0, **kw)
    finally:
        _cell.MERGE_INSTANCES = old


def _members(cell):
    return [g.members for g in cell.geometry.groups]


def _hay_like():
    """Hay et al.'s pattern on a small tree: a Ca²⁺ pool, Ca²⁺ channels, a Ca²⁺-activated
    K channel and Na in soma and apical, each inserted per region (per-compartment
    densities in the apical), a passive leak everywhere by region."""
    cad, hva, sk, na = (load_mod(HAY / f"{n}.mod") for n in
                        ("CaDynamics_E2", "Ca_HVA", "SK_E2", "NaTa_t"))  # fmt: skip
    apical_na = type(na)(gNaTa_tbar=jnp.array([0.05, 0.03, 0.02]))
    return [
        (cad, "soma"), (Passive(g=0.03, e=-90.0), "soma"), (type(hva)(gCa_HVAbar=0.001), "soma"),
        (type(sk)(gSK_E2bar=0.04), "soma"),
        (type(na)(gNaTa_tbar=2.0), "soma"),
        (Passive(g=0.05, e=-90.0), "basal"),
        (type(cad)(gamma=0.0005, decay=122.0), "apical"), (Passive(g=0.06, e=-90.0), "apical"),
        (type(hva)(gCa_HVAbar=jnp.array([0.0005, 0.0006, 0.0001])), "apical"),
        (type(sk)(gSK_E2bar=0.001), "apical"), (apical_na, "apical"),
    ]  # fmt: skip


def test_groups_of_a_hay_like_cell():
    cell = _cell_of(_hay_like(), True)
    # per kind, in the order of the first instance; the pytree is per instance
    assert _members(cell) == [(0, 6), (1, 5, 7), (2, 8), (3, 9), (4, 10)]
    assert len(cell.mechanisms) == 11 and len(cell.regions) == 11
    assert _members(_cell_of(_hay_like(), False)) == [(k,) for k in range(11)]


def test_no_group_across_a_concentration_writer_at_the_same_nodes():
    cad, sk = load_mod(HAY / "CaDynamics_E2.mod"), load_mod(HAY / "SK_E2.mod")
    hva = load_mod(HAY / "Ca_HVA.mod")
    # SK (reads cai) in the soma, the Ca pool (writes cai) everywhere, SK in the apical:
    # grouping the two SKs would move the apical one before the pool that writes its cai
    mechs = [(hva, None), (sk, "soma"), (cad, None), (sk, "apical")]
    assert _members(_cell_of(mechs, True)) == [(0,), (1,), (2,), (3,)]
    # the pool only in the soma: the apical SK's cai is written by no one in between
    mechs = [(hva, None), (sk, "soma"), (cad, "soma"), (sk, "apical")]
    assert _members(_cell_of(mechs, True)) == [(0,), (1, 3), (2,)]
    # overlapping regions of one kind are never one evaluation
    assert _members(_cell_of([(HH(), None), (HH(), "soma")], True)) == [(0,), (1,)]


@jax.jit
def _run(cell):
    inputs = jnp.full((120, 1), 0.3, cell.v_init.dtype)
    return nj.simulate(cell, inputs, dt=DT).states


# slow tier: two Hay-like cells compiled (~10 s of the fast tier); the fast tier keeps the
# grouping structure tests above and test_merged_parameters_built_once_per_call below
@pytest.mark.slow
def test_grouped_same_as_instance_by_instance(x64):
    """V, gates and concentrations through spikes, with one grouped instance's leaf
    replaced by `eqx.tree_at` (the grouped step reads the instances' own leaves):
    float64 rounding (the membrane currents are summed in another order; Hay's cell
    agreed to 2e-14 mV through 20 ms), so 1e-9 leaves room and still catches a wrong
    order, which changes cai and V by ≫ 1e-6."""

    def basal_leak(cell):  # instance 5, grouped with the soma's and the apical's leak
        return eqx.tree_at(lambda c: c.mechanisms[5].g, cell, jnp.asarray(0.5))

    grouped = _cell_of(_hay_like(), True)
    base, a = _run(grouped), _run(basal_leak(grouped))  # one compilation
    b = _run(basal_leak(_cell_of(_hay_like(), False)))
    assert float(a.v.max()) > 0.0  # it spikes
    basal = np.asarray(grouped.regions[5])
    assert float(jnp.abs(a.v[:, basal] - base.v[:, basal]).max()) > 1e-3  # the change told
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_grouped_gradient_same_as_instance_by_instance(x64):
    """The gradient w.r.t. every leaf of every instance (scalars and per-compartment
    densities): float64 rounding (1e-9 of the largest entry; Hay's cell through 20 ms
    agreed to 9e-16 of it)."""

    def grad(merge):
        cell = _cell_of(_hay_like(), merge)
        params, static = eqx.partition(cell.mechanisms, eqx.is_inexact_array)

        def loss(p):
            c = eqx.tree_at(lambda c: c.mechanisms, cell, eqx.combine(p, static))
            return _run(c).v[:, 0].mean()

        return jax.tree_util.tree_leaves(jax.jit(jax.grad(loss))(params))

    a, b = grad(True), grad(False)
    scale = max(float(jnp.abs(x).max()) for x in b)
    assert scale > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9 * scale)


def test_merged_parameters_built_once_per_call(x64):
    """`Cell.prepare_loop` (called by `simulate` once per call) builds each group's merged
    mechanism before the loop; the run is the same as with the merge in every step
    (`_cell.PREPARE_LOOP = False`): the same operations on the same values, moved out of
    the loop, so float64 rounding at most (measured: identical bit for bit), 1e-12."""
    mechs = [(HH(), "soma"), (Passive(g=0.0002, e=-70.0), None),
             (HH(g_na=jnp.array([0.05, 0.03, 0.02])), "apical")]  # fmt: skip
    cell = _cell_of(mechs, True)
    assert _members(cell) == [(0, 2), (1,)]
    assert cell.loop_mechanisms is None  # the user's cell is unchanged
    prepared = cell.prepare_loop()
    merged, single = prepared.loop_mechanisms
    assert single is None  # a one-instance group reads its instance
    n = len(cell.regions[0]) + len(cell.regions[2])
    g_na = prepared._merged(prepared.geometry.groups[0]).g_na  # (the loop's geometry)
    assert g_na is merged[0] and g_na.shape == (n,)  # HH's first leaf, g_na, built once
    apical = jnp.array([0.05, 0.03, 0.02])
    order = prepared.geometry.order  # the loop in chain-block order: regions permuted
    assert order is not None and cell.geometry.loop is prepared.geometry
    np.testing.assert_array_equal(g_na[len(cell.regions[0]) :], order.parameter(2, apical))

    def run(cell):  # a fresh jit each time: the flag is read when the run is traced
        return jax.jit(lambda c: nj.simulate(c, jnp.full((160, 1), 4.0), dt=DT).states)(cell)

    old = _cell.PREPARE_LOOP
    runs = {}
    try:
        for choice in ("all", "none"):
            _cell.PREPARE_LOOP = choice
            runs[choice] = run(cell)
    finally:
        _cell.PREPARE_LOOP = old
    b = runs.pop("none")
    assert float(b.v.max()) > -20.0  # it spikes (peak -0.8 mV), gates far from rest
    for a in runs.values():
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
