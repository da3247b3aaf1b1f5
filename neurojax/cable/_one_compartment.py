"""A one-compartment `neurojax.cable.Cell` seen as a point neuron, for the analysis
(`neurojax.analysis.OneCompartment`; here, beside the cell, so that the analysis' lowest
layer, `analysis/_system.py`, imports no other analysis module).

A cell with exactly one compartment (one membrane node: a single branch with `nseg = 1`)
is a point neuron whatever mechanisms are inserted in it (`cable.HH`, NMODL-imported
`.mod` mechanisms, ion pools, point processes). The analysis works on `OneCompartment`,
a point model that wraps the cell:

- **state**: a flat NamedTuple (`OneCompartment.state_type`) of the cell's state at the
  membrane node, every field a scalar, under NEURON's names: `v` (mV), then each
  mechanism's states as `<STATE>_<SUFFIX>` (`m_hh`, `h_hh`, `n_hh` for `cable.HH` or
  hh.mod; `_1`, `_2` appended for a mechanism inserted twice), the concentrations a
  mechanism writes (`cai`, mM) and each point process's states (`g_ExpSyn`). The cell's
  two membrane-less end nodes carry
  Kirchhoff's law with no current through them, so their voltage is the compartment's
  (exactly, on every state the cell's solvers produce); they are not variables.
- **voltage**: `v`, the compartment's membrane potential (mV).
- **current**: the injected current in **nA**, as NEURON's `IClamp.amp` at the
  compartment (positive depolarises) — not a density. A point neuron of
  `neurojax.neurons` (`HodgkinHuxley`) takes µA/cm²: `I_nA = I_µA/cm² · area_µm² · 1e-5`
  (`OneCompartment.density_to_nA`, `area` = the compartment's lateral area, NEURON's
  `seg.area()`). The current adds to whatever clamps the cell has (their inputs are 0).

Voltage-clamp sites are refused (a clamped cell is no free neuron); conductance inputs
and events are 0.
"""

from __future__ import annotations

import collections
import copy
import re
import weakref
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._model import AbstractModel, Elementwise
from .._units import UnitSystem
from ..neurons._base import upward_crossing
from ..surrogate import FastSigmoid

_PER_UM2 = 1e-5  # µA/cm² · µm² → nA (1 µm² = 1e-8 cm², µA → nA ×1e3); also µF/cm² → nF


def _is_cell(model) -> bool:
    from ._cell import Cell

    return isinstance(model, Cell)


def check_one_compartment(cell, caller: str) -> int:
    """The index of the cell's single membrane node; `TypeError` naming the number of
    compartments unless there is exactly one, `ValueError` for voltage-clamp sites."""
    disc = cell.discretisation
    n = int(len(disc.membrane))
    if n != 1:
        raise TypeError(
            f"{caller} analyses point neurons; a Cell is one only with exactly one "
            f"compartment, but this one has {n} compartments ({len(cell.morphology.branches)} "
            "branch(es), nseg "
            f"{[b.nseg for b in cell.morphology.branches]}). Build a one-compartment cell "
            "(one branch, nseg=1: Cell(Morphology([Branch(L, diam, nseg=1)]), mechanisms)) to "
            "analyse its mechanisms, or simulate the whole cell with neurojax.simulate."
        )
    if len(cell.geometry.vclamps):
        raise ValueError(
            f"{caller}: this Cell has {len(cell.geometry.vclamps)} voltage-clamp site(s); a "
            "clamped cell is no free neuron. Build the cell without vclamps to analyse it."
        )
    return int(disc.membrane[0])


class OneCompartment(AbstractModel):
    """A one-compartment `Cell` as a point neuron (see the module docstring): scalar
    state, `vector_field(t, y, current)` with `current` in nA (NEURON's `IClamp.amp`),
    spikes as upward crossings of `v_th` (mV, default 0, for `fi_curve`)."""

    cell: AbstractModel
    v_th: float = eqx.field(static=True, default=0.0)

    structure: ClassVar = Elementwise()
    units: ClassVar[UnitSystem] = UnitSystem(
        voltage="mV", time="ms", current="nA", conductance="µS"
    ).named(voltage=("v", "v_init"), temperature="°C", cm="µF/cm²", ra="Ω·cm")

    def __check_init__(self):
        # at construction, so that a wrong cell or threshold fails here and not as an
        # AttributeError later, or (a NaN v_th) as a silent 0 Hz from fi_curve
        if not _is_cell(self.cell):
            raise TypeError(
                "OneCompartment wraps a one-compartment neurojax.cable.Cell, got "
                f"{type(self.cell).__name__}: {self.cell!r:.80}."
            )
        check_one_compartment(self.cell, "OneCompartment")
        v_th = self.v_th
        if (
            isinstance(v_th, (bool, str, bytes))
            or jnp.ndim(v_th) != 0
            or not isinstance(v_th, (int, float))
            and not hasattr(v_th, "dtype")
        ):
            raise TypeError(f"OneCompartment: v_th must be a number (mV), got {v_th!r}.")
        if not jnp.isfinite(float(v_th)):
            raise ValueError(f"OneCompartment: v_th must be finite (mV), got {v_th!r}.")

    @property
    def node(self) -> int:
        return int(self.cell.discretisation.membrane[0])

    @property
    def area(self) -> float:
        """The compartment's lateral membrane area, µm² (NEURON's `seg.area()`)."""
        return float(self.cell.geometry.area[self.node])

    def density_to_nA(self, density):
        """A current density (µA/cm², a point neuron's unit) as the current into this
        compartment, nA: `density · area · 1e-5`."""
        return density * (self.area * _PER_UM2)

    @property
    def default_solver(self):
        from ..solvers import ExponentialRK2

        return ExponentialRK2()

    @property
    def state_type(self):
        """The NamedTuple of the compartment's state: `v`, then NEURON's names of the
        mechanisms' states (`m_hh`, `h_hh`, `n_hh`: STATE `_` SUFFIX), the concentrations
        written (`cai`) and the point processes' states (`g_ExpSyn`)."""
        return _layout(self.cell)[0]

    def _nested(self, y):
        """The cell's `CellState` (leaves at the compartment) of the flat state `y`."""
        return jax.tree_util.tree_unflatten(_layout(self.cell)[1], list(y))

    def _flat(self, s):
        return self.state_type(*jax.tree_util.tree_leaves(s))

    def _full(self, y):
        """The cell's state (every node) for the compartment's scalar state `y`."""
        from ._cell import CellState

        y = self._nested(y)
        n = self.cell.n_nodes
        v = jnp.broadcast_to(y.v[..., None], (*jnp.shape(y.v), n))
        gates = jax.tree_util.tree_map(lambda g: g[..., None], y.gates)
        ions = {k: jnp.broadcast_to(x[..., None], (*jnp.shape(x), n)) for k, x in y.ions.items()}
        points = jax.tree_util.tree_map(lambda g: g[..., None], y.points)
        return CellState(v=v, gates=gates, ions=ions, points=points)

    def _point(self, s):
        from ._cell import CellState

        k = self.node
        return CellState(
            v=s.v[..., k],
            gates=jax.tree_util.tree_map(lambda g: g[..., 0], s.gates),
            ions={name: x[..., k] for name, x in s.ions.items()},
            points=jax.tree_util.tree_map(lambda g: g[..., 0], s.points),
        )

    def _inputs(self, batch, dtype):
        kinds = self.cell._input_kinds()
        return {k: jnp.zeros((*batch, n), dtype) for k, n in kinds.items()}

    def init_state(self, batch_shape=()):
        return self._flat(self._point(self.cell.init_state(batch_shape)))

    def vector_field(self, t, y, current):
        dtype = y.v.dtype
        batch = jnp.shape(y.v)
        d = self.cell.vector_field(t, self._full(y), self._inputs(batch, dtype))
        out = self._flat(self._point(d))
        c = self.cell._capacitance(dtype)[self.node]  # nF
        return out._replace(v=out.v + jnp.asarray(current, dtype) / c)  # nA/nF = mV/ms

    def event_step(self, info, y_old, y_new, z, current):
        return y_new, z, upward_crossing(FastSigmoid(), y_old.v, y_new.v, self.v_th)


_LAYOUT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _suffix(mechanism) -> str:
    spec = getattr(type(mechanism), "_spec", None)
    name = getattr(spec, "suffix", None) or type(mechanism).__name__.lower()
    return re.sub(r"\W", "_", str(name))


def _layout(cell):
    """(NamedTuple class of the flat state, treedef of the compartment's `CellState`),
    one per cell geometry (the same class for every call: jit caches see one treedef)."""
    geo = cell.geometry
    got = _LAYOUT.get(geo)
    if got is not None:
        return got
    from ._cell import CellState

    s = jax.eval_shape(lambda: cell.init_state(()))
    s = CellState(
        v=s.v,
        gates=s.gates,
        ions=dict(s.ions),
        points=s.points,
    )
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(s)[0]:
        top = path[0].name
        if top == "v":
            names.append("v")
        elif top == "ions":
            names.append(str(path[1].key))
        else:
            k = path[1].idx
            owner = cell.mechanisms[k] if top == "gates" else cell.point_processes[k]
            gate = getattr(path[2], "name", str(path[-1]))
            names.append(f"{gate}_{_suffix(owner)}")
    seen: dict[str, int] = {}
    unique = []
    for n in names:  # the same mechanism twice: m_hh, m_hh_1
        n = re.sub(r"\W", "_", n)
        unique.append(n if n not in seen else f"{n}_{seen[n]}")
        seen[n] = seen.get(n, 0) + 1
    cls = collections.namedtuple("OneCompartmentState", unique)
    treedef = jax.tree_util.tree_structure(s)
    _LAYOUT[geo] = got = (cls, treedef)
    return got


# The float64 analysis runs on a copy of the cell's static geometry (kept per geometry,
# so repeated analyses share compiled programs): JAX 0.10 caches the conversion of a
# captured numpy index array, so indexing with the same int64 array first under
# `jax.enable_x64(True)` and later in float32 fails ("lax.add requires arguments to have
# the same dtypes, got int64, int32", measured) — a float32 `simulate` of the cell after
# its analysis would break.
_X64_GEOMETRY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _x64_copy(cell):
    geo = cell.geometry
    twin = _X64_GEOMETRY.get(geo)
    if twin is None:
        twin = _X64_GEOMETRY[geo] = copy.deepcopy(geo)
    out = copy.copy(cell)
    object.__setattr__(out, "geometry", twin)
    return out


def as_point_model(model, caller: str, *, x64: bool = False):
    """`model`, or `OneCompartment(model)` for a one-compartment `Cell` (any other `Cell`
    is refused, naming its number of compartments). `x64`: for the float64 analysis (on a
    copy of the cell's static geometry, see `_X64_GEOMETRY`)."""
    if isinstance(model, OneCompartment):
        check_one_compartment(model.cell, caller)
        return OneCompartment(_x64_copy(model.cell), model.v_th) if x64 else model
    if _is_cell(model):
        check_one_compartment(model, caller)
        return OneCompartment(_x64_copy(model) if x64 else model)
    return model


def wrap_parameter(model, parameter):
    """A selector written for the `Cell` (`lambda c: c.mechanisms[0].gnabar`) applied to
    its `OneCompartment` wrapper."""
    if parameter is None or not _is_cell(model) or not callable(parameter):
        return parameter
    return lambda m: parameter(m.cell)


__all__ = ["OneCompartment", "as_point_model", "check_one_compartment"]
