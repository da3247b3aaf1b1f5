"""The cable on the solver contract (fast tier): `Cell.vector_field` is the cell's true
derivative, `TreeSolve` solves a `TreeOperator` exactly, the implicit solvers step any
`Tree` model from its `linearise` (a user's model too, no `Cell` side door), and
checkpointing is the adjoint's (`Cell(remat=...)` deprecated)."""

from pathlib import Path
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax._model import Coupled, Tree
from neurojax.cable import HH, Branch, Cell, Morphology, Passive
from neurojax.channels import FARADAY, hh
from neurojax.nmodl import load_mod
from neurojax.solvers import (
    TRBDF2,
    BackwardEuler,
    CrankNicolson,
    DenseSolve,
    TreeLinearisation,
    TreeOperator,
    TreeSolve,
)
from neurojax.solvers._tree_solve import TreeTopology

HAY = Path(nj.__file__).parent / "cable" / "data" / "hay2011"
DT = 0.025
# A constant Ca2+ current (written for this test), to feed CaDynamics_E2's pool.
CONST_CA = """
NEURON { SUFFIX ca_const  USEION ca WRITE ica  RANGE amp }
PARAMETER { amp = -2e-4 (mA/cm2) }
ASSIGNED { ica (mA/cm2) }
BREAKPOINT { ica = amp }
"""


# ----------------------------------------------------------------------- vector field


@pytest.fixture(scope="module")
def small_cell():
    """Three compartments (soma with HH; a dendrite of two with a leak), a constant Ca
    current into CaDynamics_E2's pool everywhere (cai is a state), at a state away from
    rest (V −50/−60/−70 mV, the gates and cai where they started) put on Kirchhoff's law
    at the membrane-less nodes. Everything the tests read comes from ONE compiled
    program (compilation is what costs here)."""
    from neurojax.solvers._implicit import _project

    with jax.enable_x64(True):  # built and run in float64; the tests read numbers
        morph = Morphology([Branch(20.0, 20.0, nseg=1), Branch(60.0, 1.0, parent=0, nseg=2)])
        cad = load_mod(HAY / "CaDynamics_E2.mod", gamma=0.05, decay=80.0, depth=0.1)
        cell = Cell(morph, [(HH(), [0]), (Passive(g=0.1, e=-70.0), [1]),
                            (load_mod(CONST_CA), None), (cad, None)],
                    clamps=[(0, 0.5)], ions={"cai": 2e-4})  # fmt: skip
        i = jnp.asarray([0.3])
        mem = cell.discretisation.area > 0
        profile = jnp.asarray(np.where(mem, 0.0, np.nan))
        profile = profile.at[jnp.asarray(np.nonzero(mem)[0])].set(
            jnp.asarray([-50.0, -60.0, -70.0])
        )

        @jax.jit
        def run(cell):
            y0 = cell.init_state()
            y0 = y0._replace(v=jnp.where(jnp.asarray(mem), profile, y0.v))
            y1 = y0._replace(v=_project(cell.linearise(0.0, y0, i, DT))[0])
            h = 1e-7
            lin = cell.linearise(0.0, y1, i, DT)
            m = lin.operator
            op = TreeOperator(m.topology, lin.capacitance / DT + m.diagonal, m.lower, m.upper)

            def cf(v):  # C·dV/dt at the membrane nodes: F
                return cell.vector_field(0.0, y1._replace(v=v), i).v * lin.capacitance

            return dict(
                y1=y1,
                f=cell.vector_field(0.0, y1, i),
                y2=BackwardEuler().step(cell, 0.0, y1, i, h),
                step=BackwardEuler().step(cell, 0.0, y1, i, DT),
                by_hand=cell.advance_gates(0.0, lin, lin.v + TreeSolve().solve(op, lin.rhs), DT),
                jac=jax.jacfwd(cf)(y1.v),
                dense=m.as_matrix(),
                lin_ok=isinstance(lin, TreeLinearisation) and isinstance(m, TreeOperator),
            )

        out = run(cell)
    return cell, out, mem


def test_vector_field_is_the_true_derivative(small_cell, x64):
    """(1) Against a difference quotient of one backward-Euler step of dt = 1e-7 ms (an
    independent path: the tree solve and the gates' own update), every state, the
    membrane-less nodes included: the quotient's error is O(dt·λ) with the stiffest rate
    λ ≈ g_ax/C ≈ 10²/ms, i.e. ~1e-5 relative, plus rounding 1e-16·65 mV / 1e-7 ms ≈
    1e-7 mV/ms. (2) Against the closed forms: HH's gates `φ(α(1 − x) − βx)` and
    CaDynamics_E2's `cai' = −10⁴·ica·γ/(2F·depth) − (cai − minCai)/decay`, to
    rounding."""
    cell, out, mem = small_cell
    f, y1, h = out["f"], out["y1"], 1e-7
    quotient = jax.tree_util.tree_map(lambda a, b: (b - a) / h, y1, out["y2"])
    for path, got, want in zip(
        jax.tree_util.tree_leaves_with_path(f), jax.tree_util.tree_leaves(f),
        jax.tree_util.tree_leaves(quotient), strict=True,
    ):  # fmt: skip
        scale = float(jnp.max(jnp.abs(want)))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale + 1e-6,
                                   err_msg=jax.tree_util.keystr(path[0]))  # fmt: skip
    # every node moves, the membrane-less ones too (with their neighbours, on Kirchhoff's law)
    assert (~mem).sum() == 3 and np.all(np.abs(np.asarray(f.v)) > 1.0)
    v = y1.v[cell.regions[0]]
    phi = hh.q10(cell.temperature)
    for name, a, b in (("m", hh.alpha_m, hh.beta_m), ("h", hh.alpha_h, hh.beta_h),
                       ("n", hh.alpha_n, hh.beta_n)):  # fmt: skip
        x = getattr(y1.gates[0], name)
        np.testing.assert_allclose(getattr(f.gates[0], name), phi * (a(v) * (1 - x) - b(v) * x),
                                   rtol=1e-12, atol=1e-15)  # fmt: skip
        assert float(jnp.max(jnp.abs(getattr(f.gates[0], name)))) > 1e-3  # off steady state
    cai = y1.ions["cai"]
    want = -1e4 * -2e-4 * 0.05 / (2 * FARADAY * 0.1) - (cai - 1e-4) / 80.0
    np.testing.assert_allclose(f.ions["cai"][mem], want[mem], rtol=1e-10)


def test_the_solver_step_is_the_models_linearisation_composed(small_cell, x64):
    """`BackwardEuler().step` on a Cell is: the cell's `linearise`, one solve of
    `(C/dt + M) δ = F` by `TreeSolve`, the cell's `advance_gates` — nothing else (the
    same operations: equal to rounding, 1e-13 relative). And `M` is `−∂F/∂V` at frozen
    gates, the Jacobian of `C·dV/dt` (autodiff of `vector_field`, 1e-10)."""
    cell, out, mem = small_cell
    assert out["lin_ok"]
    for a, b in zip(jax.tree_util.tree_leaves(out["by_hand"]),
                    jax.tree_util.tree_leaves(out["step"]), strict=True):  # fmt: skip
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(-out["jac"][mem], out["dense"][mem], rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------- tree solve


def _random_tree(n, seed):
    rng = np.random.default_rng(seed)
    parent = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
    return TreeTopology(parent), rng


def test_tree_solve_matches_dense_solve(x64):
    """On a random 12-node tree with a (3,) batch and unsymmetric couplings, diagonally
    dominant: `TreeSolve` against `DenseSolve` of the densified operator, and `mv`
    against the dense product — to rounding (condition number ≲ 10). One compiled
    program; both schedules are compared in tests/test_tree_solve_fast.py."""
    topo, rng = _random_tree(12, 0)
    lower, upper = -rng.uniform(0.1, 1.0, (3, 12)), -rng.uniform(0.1, 1.0, (3, 12))
    diag = 4.0 + rng.uniform(0.0, 1.0, (3, 12))
    rhs = rng.normal(size=(3, 12))

    @jax.jit
    def run(diag, lower, upper, rhs):
        op = TreeOperator(topo, diag, lower, upper)
        dense = op.as_matrix()
        x = TreeSolve().solve(op, rhs)
        return dense, x, DenseSolve().solve(dense, rhs), DenseSolve().solve(op, rhs), op.mv(x)

    dense, x, by_dense, densified, mx = run(diag, lower, upper, rhs)
    assert dense.shape == (3, 12, 12)
    assert dense[0, 5, topo.parent[5]] == lower[0, 5] and dense[0, topo.parent[5], 5] == upper[0, 5]
    assert np.count_nonzero(np.asarray(dense[0])) == 12 + 2 * 11  # the tree's nonzeros only
    np.testing.assert_allclose(x, by_dense, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(densified, x, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(mx, rhs, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="hines"):
        TreeSolve("cholesky")
    with pytest.raises(TypeError, match="DenseSolve"):
        TreeSolve().solve(jnp.eye(12), jnp.asarray(rhs[0]))


# ----------------------------------------------------------------------- a user's Tree model


class PassiveTree(nj.AbstractModel):
    """A user's passive cable on a tree (written for this test from the protocol alone):
    `C dV/dt = −g_l (V − e_l) + Σ_j g_ij (V_j − V_i) + I`, state the voltage array."""

    c: jax.Array
    g_l: jax.Array
    g_ax: jax.Array  # to the parent, 0 at the root
    topology: TreeTopology = eqx.field(static=True)
    structure: ClassVar = Tree()

    def init_state(self, batch_shape=()):
        return jnp.full((*batch_shape, self.topology.n), -65.0)

    def batch_shape(self, inputs):
        return jnp.shape(inputs)[:-1]

    def voltage(self, y):
        return y

    def _operator(self):
        children = self.topology.children_of
        pad = jnp.concatenate([self.g_ax, jnp.zeros(1)])
        diag = self.g_l + self.g_ax + jnp.sum(pad[children], axis=-1)
        return TreeOperator(self.topology, diag, -self.g_ax, -self.g_ax)

    def _f(self, v, i):
        return -self._operator().mv(v + 65.0) + i  # e_l = −65 mV

    def vector_field(self, t, v, i):
        return self._f(v, i) / self.c

    def linearise(self, t, v, i, dt):
        return TreeLinearisation(v, self.c, self._operator(), self._f(v, i),
                                 np.zeros(self.topology.n, bool))  # fmt: skip


class PassiveDense(PassiveTree):
    structure: ClassVar = Coupled()


@pytest.fixture(scope="module")
def user_tree():
    topo, rng = _random_tree(9, 1)
    g_ax = np.where(topo.parent >= 0, rng.uniform(0.05, 0.5, 9), 0.0)
    args = (rng.uniform(0.5, 1.5, 9), rng.uniform(0.01, 0.1, 9), g_ax, topo)
    t = np.arange(80) * DT
    inputs = np.zeros((80, 9))
    inputs[:, 4] = np.where(t > 0.5, 0.8, 0.0)  # a step at node 4
    return args, inputs


@pytest.mark.parametrize(
    "solver",
    [TRBDF2(),
     # the θ-methods share `_tree_step` with TRBDF2 (fast) and are checked on Cells
     # against NEURON (test_cable_scheme.py); two compilations each, so slow tier
     pytest.param(BackwardEuler(), marks=pytest.mark.slow),
     pytest.param(CrankNicolson(), marks=pytest.mark.slow)],
    ids=lambda s: type(s).__name__,
)  # fmt: skip
def test_a_users_tree_model_simulates(user_tree, solver, x64):
    """A `Tree` model with only `init_state`, `vector_field` and `linearise` (no Cell
    code) simulates with the implicit solvers, and gives what the same model declared
    `Coupled` gives through the dense Jacobian path: the schemes are the same linear
    recursions on a linear model (for TR-BDF2, the tree form's increments times C/h are
    the dense form's), so they agree to rounding (v ~ 65 mV × 1e-13)."""
    (c, g_l, g_ax, topo), inputs = user_tree
    args = (jnp.asarray(c), jnp.asarray(g_l), jnp.asarray(g_ax), topo)  # float64 (x64)
    inputs = jnp.asarray(inputs)
    tree = nj.simulate(PassiveTree(*args), inputs, dt=DT, solver=solver).states
    dense = nj.simulate(PassiveDense(*args), inputs, dt=DT, solver=solver).states
    np.testing.assert_allclose(tree, dense, rtol=0, atol=1e-11)
    assert float(jnp.max(tree[-1])) > -64.5  # the current step did move the cable


def test_a_tree_model_without_the_protocol_is_refused(user_tree):
    class NoLinearisation(nj.AbstractModel):
        structure: ClassVar = Tree()

        def init_state(self, batch_shape=()):
            return jnp.zeros((*batch_shape, 3))

        def batch_shape(self, inputs):
            return jnp.shape(inputs)[:-1]

        def vector_field(self, t, v, i):
            return -v

        def voltage(self, y):
            return y

    with pytest.raises(TypeError, match="linearise"):
        nj.simulate(NoLinearisation(), jnp.zeros((2, 3)), dt=DT, solver=TRBDF2())


# ----------------------------------------------------------------------- checkpointing


def test_checkpointing_is_the_adjoints(x64):
    """The gradient of a cell's run is the same through `DirectAdjoint` and through
    `CheckpointAdjoint(every=4)` (the same arithmetic, recomputed: to rounding), and
    `Cell(remat=...)` is deprecated with a warning saying what to use."""
    morph = Morphology([Branch(20.0, 20.0, nseg=1), Branch(60.0, 1.0, parent=0, nseg=2)])
    inputs = jnp.full((16, 1), 0.3)

    def loss(g, adjoint):
        cell = Cell(morph, [(Passive(g=g), None)], clamps=[(0, 0.5)])
        return nj.simulate(cell, inputs, dt=DT, adjoint=adjoint).states.v.mean()

    g = jnp.asarray(0.5)
    # both gradients in one compiled program (one trace and dispatch, not two)
    direct, chunked = jax.jit(
        lambda g: (jax.grad(loss)(g, nj.DirectAdjoint()),
                   jax.grad(loss)(g, nj.CheckpointAdjoint(every=4)))
    )(g)  # fmt: skip
    assert abs(float(direct)) > 0
    np.testing.assert_allclose(chunked, direct, rtol=1e-12)
    with pytest.warns(DeprecationWarning, match="CheckpointAdjoint"):
        Cell(morph, [(HH(), None)], remat=True)
    with pytest.raises(TypeError, match="remat"):
        Cell(morph, [(HH(), None)], remat="yes")
