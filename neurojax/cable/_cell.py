"""`Cell`: a multicompartment neuron, a `Tree` model: simulated by `neurojax.simulate`
with the implicit solvers, which solve its voltage equations through a tree operator
(`linearise`) and advance its gates by their own rule at the new voltages
(`advance_gates`)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._gather import StaticMap
from .._model import (
    POSITIVE,
    REAL,
    AbstractModel,
    Tree,
    as_float,
    check_precision,
    parameter,
)
from ..channels import AbstractChannel, AbstractPointProcess
from ..channels._ions import BUILTIN_IONS, default_value, ion_variables
from ..channels.hh import CELSIUS
from ..solvers._implicit import TreeLinearisation
from ..solvers._linear_solve import TreeOperator
from ._blocks import BlockAxial, BlockDiscretisation, LoopOrder, block_discretisation
from ._ions import IonLayout, Pool
from ._morphology import Discretisation, Morphology
from ._node_maps import apply  # `_gather.apply`, as slices where a map is one

_NEGATIVE_G = (
    "Cell inputs['g_syn'] has a negative conductance; conductance inputs are µS >= 0 (for "
    "inhibition use a synapse site with a low e_rev, e.g. (branch, x, -80.0), and a "
    "positive g)."
)

# µF/cm² · µm² → nF, and mS/cm² · µm² → µS: 1 µm² = 1e-8 cm², × 1e3 (µF→nF, mS→µS).
_PER_UM2 = 1e-5


class CellState(NamedTuple):
    """State of a `Cell`: `v` (mV) at every node `(*batch, n_nodes)` — including the
    membrane-less branch ends —, and `gates`, one NamedTuple per inserted channel with
    leaves `(*batch, n_region)` (the channel's compartments, in `Cell.regions` order;
    `(*batch, n_nodes)` for the mechanisms `_cell.GATES_AT_NODES` keeps at node layout),
    and `ions`: the ion concentrations that are states (a mechanism WRITEs them: `"cai"`,
    `"cao"`, …, mM), each `(*batch, n_nodes)`; `points`: one NamedTuple of gates per point
    process, leaves `(*batch, 1)`."""

    v: Array
    gates: tuple
    ions: dict = {}
    points: tuple = ()


class _Geometry:
    """Static (numpy) data of a cell: the discretisation, where each channel sits and
    where the electrodes are. Compared by identity: a `Cell` keeps its own."""

    def __init__(self, disc: Discretisation, regions, clamps, synapses, vclamps):
        self.disc = disc
        self.regions = regions
        self.clamps = clamps
        self.synapses = synapses
        self.vclamps = vclamps
        # the time loop's geometry (chain-block order, `Cell.prepare_loop`) and, in that
        # geometry, the map of the state between the orders (`_blocks.LoopOrder`); None:
        # none (set by `Cell.__init__`)
        self.loop = None
        self.order = None
        self.area = disc.area
        self.branch = disc.branch
        self.parent = np.where(disc.parent < 0, 0, disc.parent)
        self.has_parent = disc.parent >= 0
        self.has_membrane = disc.area > 0
        n = disc.n_nodes
        # children table (n, k), padded with n: sums over children become gathers
        # (XLA runs scatters serially on CPU; gathers vectorise)
        kids = [[] for _ in range(n)]
        for i in range(1, n):
            kids[disc.parent[i]].append(i)
        k = max(1, max(len(c) for c in kids))
        self.children = np.full((n, k), n, dtype=np.int32)
        for i, c in enumerate(kids):
            self.children[i, : len(c)] = c
        # for each mechanism: node → position in its region (or the padding slot)
        self.spread = []
        for nodes in regions:
            inv = np.full(n, len(nodes), dtype=np.int32)
            inv[nodes] = np.arange(len(nodes))
            self.spread.append(inv)
        # The step's index operations as `StaticMap`s: gathers whose transposes are
        # gathers, so that no scatter enters the step forward or backward (a scatter
        # keeps XLA:CPU from compiling the time loop into one function: `_gather.py`).
        self.take = tuple(StaticMap.take(nodes, n) for nodes in regions)  # nodes → region
        self.put = tuple(StaticMap.spread(nodes, n) for nodes in regions)  # region → nodes
        has_parent = disc.parent >= 0
        kids = np.nonzero(has_parent)[0]
        # V of each node's parent (0 at the root, where the axial conductance is 0)
        self.of_parent = StaticMap(kids, disc.parent[kids], n, n)
        self.over_children = StaticMap(disc.parent[kids], kids, n, n)  # Σ over children
        n_br = len(disc.morphology.branches)
        self.of_branch = StaticMap.take(disc.branch, n_br)  # per-branch value at each node
        # the loop's geometry in chain-block order (`LOOP_ORDER`): the axial current by slices
        self.blocks = BlockAxial(disc.topology) if isinstance(disc, BlockDiscretisation) else None
        self.sites = {
            kind: StaticMap.spread(np.asarray(nodes, dtype=np.int64), n)
            for kind, nodes in (("clamps", clamps), ("synapses", synapses), ("vclamps", vclamps))
        }
        # the voltage-clamped nodes, for TRBDF2 (`TreeLinearisation.clamped`; completed
        # by the electrode point processes in `Cell.__init__`); None: none
        self.clamped = None
        if len(vclamps):
            self.clamped = np.zeros(n, dtype=bool)
            self.clamped[np.asarray(vclamps, dtype=np.int64)] = True

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


def _resolve_where(morph: Morphology, where, i) -> list[int]:
    n = len(morph.branches)
    if where is None:
        return list(range(n))
    if isinstance(where, str):
        found = list(morph.branches_of_type(where))
        if not found:
            raise ValueError(
                f"mechanism {i} is inserted in {where!r}, but no branch has that type; the "
                f"types are {sorted(set(morph.types))}."
            )
        return found
    where = [where] if np.ndim(where) == 0 else list(where)
    if not where:
        raise ValueError(
            f"mechanism {i} is inserted in no branch (an empty list): give branch indices, "
            "a branch type, or None for every branch."
        )
    if any(isinstance(w, str) for w in where):  # a list of types (and indices)
        try:
            return list(morph.branches_where(where))
        except ValueError as e:
            raise ValueError(f"mechanism {i} is inserted in {where!r}: {e}") from None
    for b in where:
        if (
            isinstance(b, (bool, np.bool_, str, bytes))
            or np.ndim(b) != 0
            or np.asarray(b).dtype.kind not in "iuf"
        ):
            # True was read as branch 1 (a mask [True, False] as branches {0, 1})
            raise TypeError(
                f"mechanism {i} is inserted in {b!r}: give branch indices (ints), a branch "
                "type such as 'soma', a list of types, or None for every branch."
            )
        if not np.isfinite(b) or int(b) != b or not 0 <= b < n:
            raise ValueError(
                f"mechanism {i} is inserted in branch {b}, which is off the cell (branches "
                f"0..{n - 1})."
            )
    return sorted({int(b) for b in where})


class Cell(AbstractModel):
    r"""A multicompartment neuron: a morphology, membrane mechanisms and current clamps.

    $$c_m A_i \frac{dV_i}{dt} = -A_i \sum_c i_c(V_i) + \sum_{j \sim i} g_{ij}(V_j - V_i) + I_i$$

    over the nodes of NEURON's discretisation (`Morphology.discretise`); the branch-end
    nodes have no membrane (`A_i = 0`) and satisfy Kirchhoff's law at every step.

    **Arguments**

    - `morphology`: a `Morphology` (from `Branch`es or `read_swc`).
    - `mechanisms`: `(channel, where)` pairs: a channel (`HH()`, `Passive()`, `Ih()`,
      `Im()`, …) and the branches it is inserted in — branch indices, a branch type such
      as `"soma"` or `"apical"`, a list of types, or `None` for all (parameters as
      functions of the distance from the soma: `Morphology.distances(where)` and
      `cable.linear`/`exponential`/`sigmoid`/`step`). A channel's parameters are scalars
      or one value per compartment of its region (`Cell.regions[k]`). The step evaluates
      the instances of one kind (same class and static fields, disjoint regions) once
      over all their compartments where NEURON's mechanism order allows (`_groups`);
      `cell.mechanisms[k]`, `regions[k]` and the state's `gates[k]` stay per instance. A
      channel class that is not elementwise over compartments opts out with
      `merge_instances = False`.
    - `cm`: membrane capacitance, µF/cm² (scalar or one per branch).
    - `ra`: axial resistivity, Ω·cm (scalar or one per branch).
    - `temperature`: °C (NEURON's `celsius`; default 6.3).
    - `v_init`: initial voltage, mV, with every gate at its steady state there
      (NEURON's `finitialize(v_init)`).
    - `clamps`: current-clamp sites `(branch, x)` (NEURON's `IClamp`; positive
      depolarises).
    - `synapses`: conductance-input sites `(branch, x, e_rev)` (reversal in mV): the
      current `g(t)·(e_rev − V)` with `g(t)` given as input, µS.
    - `vclamps`: voltage-clamp sites `(branch, x)`: a series resistance `rs_clamp` (MΩ,
      NEURON's `SEClamp`) to a command potential given as input, mV.
    - `ions`: the ion values, NEURON's names: reversal potentials (mV) `ena`, `ek`,
      `eca`, …, and concentrations (mM) `nai`, `nao`, `cai`, `cao`, … (scalars or one
      per branch), for the ions the mechanisms declare (`ion_use`, NMODL's `USEION`);
      NEURON's defaults otherwise (`ena = 50`, `ek = −77`, `cai = 5e-5`, `cao = 2`, …).
      One shared pool per ion and node, with NEURON's rules: a concentration written by
      a mechanism is a state starting at the value given; a reversal potential is
      computed by Nernst (at `temperature`) where a mechanism uses a concentration of
      its ion, else fixed; `i<ion>` is the sum of the mechanisms' currents
      (`neurojax.cable._ions` has the details).
    - `point_processes`: `(process, (branch, x))` pairs: point processes at a node
      (`AbstractPointProcess`, e.g. NMODL's `expsyn.mod`), currents in nA; those with
      NET_RECEIVE take event weights as the input `"events"` (`Cell.event_input` turns
      spike times into them, with NEURON's delivery rule). One that declares ions
      (NMODL `USEION` in a POINT_PROCESS) reads them from the pools at its node, and its
      ion current (nA) joins the ion's density there as `i·100/area` mA/cm² (NEURON's
      point-process rule): a concentration mechanism at the node sees it.
    - `fixed_reversal`: ions (`("ca",)`) whose reversal potential stays the value given in
      `ions` even where a mechanism reads or writes a concentration of the ion (NEURON's
      `ion_style("ca_ion", …, 1, 0, 0, …)`, e.g. Mainen & Sejnowski 1996's fixed `eca`
      beside a calcium pool); default: NEURON's rule, Nernst there.
    - `remat`: deprecated, no effect (a `DeprecationWarning`): how a run is
      differentiated is the adjoint's business. `simulate` already recomputes every
      step in reverse mode (`AbstractAdjoint.recompute_steps`); for less memory over
      long runs pass `simulate(..., adjoint=CheckpointAdjoint(every=...))`.

    **Inputs** of `simulate`: with current clamps only, one array of currents (nA)
    shaped `(n_steps, *batch, len(clamps))`; otherwise a dict with the keys of the kinds
    of sites the cell has: `"i_clamp"` (nA, `(..., len(clamps))`), `"g_syn"` (µS,
    `(..., len(synapses))`), `"v_clamp"` (mV, `(..., len(vclamps))`), `"events"`
    (summed event weights per step, `(..., n_receivers)`: the point processes with
    NET_RECEIVE, `Cell.event_input`).

    Record anything anywhere with `cell.node(branch, x)` (an index into the last axis
    of `states.v` and `saveat=SaveAt(fn=cell.record_v(sites))`). Nodes are numbered
    root-outwards (NEURON's order of sections and segments) in everything a user sees;
    `simulate`'s time loop may run them in another order inside (`LOOP_ORDER`).

    **Solvers**: `TRBDF2()` (default; second order and L-stable: no ringing after a
    voltage-clamp step or any other jump of the inputs; two tree solves per step),
    `CrankNicolson()` (NEURON's `secondorder = 2`, step for step: second order, but
    rings after a jump) and `BackwardEuler()` (NEURON's default `secondorder = 0`, step
    for step; first order). In all three the gates are exponential (NEURON's `cnexp`),
    staggered half a step from the voltages. The voltage step is a tree solve, O(N)
    forward and backward; explicit and exponential solvers are refused (a cable is too
    stiff for them). docs/numerics.md ("Cables") has the measured errors. The schemes
    are the solvers'; the cell gives them `linearise` (its voltage equations as a
    `neurojax.solvers.TreeOperator`) and `advance_gates` (its mechanisms' own update at
    the new voltages), and `vector_field` is its true derivative.

    Reference: Hines (1984); Carnevale & Hines, *The NEURON Book* (2006), ch. 4 & 5.
    """

    mechanisms: tuple[AbstractChannel, ...]
    point_processes: tuple = ()
    cm: Array = parameter(1.0, POSITIVE)
    ra: Array = parameter(35.4, POSITIVE)
    temperature: Array = parameter(6.3, CELSIUS)
    v_init: Array = parameter(-65.0)
    e_syn: Array = eqx.field(converter=as_float, default=0.0, metadata={"domain": REAL})
    rs_clamp: Array = parameter(0.01, POSITIVE)
    ions: dict = eqx.field(default=None)
    geometry: _Geometry = eqx.field(static=True, default=None)
    # per group of several instances, the merged mechanism's leaves (`_merged`) built once
    # per `simulate` call by `prepare_loop` (None: built at each use); None outside the loop
    loop_mechanisms: tuple | None = eqx.field(default=None, repr=False)

    structure: ClassVar = Tree()

    def __init__(
        self,
        morphology: Morphology,
        mechanisms: Sequence[tuple[AbstractChannel, Any]] = (),
        *,
        cm=1.0,
        ra=35.4,
        temperature=6.3,
        v_init=-65.0,
        clamps: Sequence[tuple[int, float]] = (),
        synapses: Sequence[tuple[int, float, float]] = (),
        vclamps: Sequence[tuple[int, float]] = (),
        rs_clamp: float = 0.01,
        ions: dict | None = None,
        point_processes: Sequence[tuple[AbstractPointProcess, tuple[int, float]]] = (),
        fixed_reversal: Sequence[str] = (),
        remat: bool | None = None,
    ):
        if not isinstance(morphology, Morphology):
            raise TypeError(
                f"morphology must be a neurojax.cable.Morphology, got {type(morphology).__name__}."
            )
        disc = morphology.discretise()
        channels, branch_sets = [], []
        for i, item in enumerate(mechanisms):
            if not (isinstance(item, tuple) and len(item) == 2):
                raise TypeError(
                    f"mechanism {i} must be a (channel, where) pair, e.g. (HH(), 'soma'), got "
                    f"{item!r}."
                )
            channel, where = item
            if isinstance(channel, AbstractPointProcess):
                raise TypeError(
                    f"mechanism {i} ({type(channel).__name__}) is a point process: place it "
                    "with Cell(..., point_processes=[(process, (branch, x))])."
                )
            if not isinstance(channel, AbstractChannel):
                raise TypeError(f"mechanism {i} is {channel!r}, not a channel (AbstractChannel).")
            branches = _resolve_where(morphology, where, i)
            nodes = _region(disc, branches)
            for name, leaf in _array_fields(channel):
                if jnp.ndim(leaf) not in (0, 1) or (
                    jnp.ndim(leaf) == 1 and leaf.shape[0] != nodes.size
                ):
                    raise ValueError(
                        f"mechanism {i} ({type(channel).__name__}).{name} has shape "
                        f"{jnp.shape(leaf)}; it must be a scalar or one value per compartment "
                        f"of its region ({nodes.size},)."
                    )
            channels.append(channel)
            branch_sets.append(branches)
        clamps = _sites("clamps", clamps, 2, "(branch, x), e.g. (0, 0.5)")
        synapses = _sites("synapses", synapses, 3, "(branch, x, e_rev mV), e.g. (0, 0.5, 0.0)")
        vclamps = _sites("vclamps", vclamps, 2, "(branch, x), e.g. (0, 0.5)")
        for b, x, *_ in (*clamps, *synapses, *vclamps):  # a site off the cell: named now
            disc.node(b, x)
        if remat is not None:
            if isinstance(remat, (str, bytes)) or not isinstance(remat, (bool, np.bool_)):
                raise TypeError(f"remat must be True or False, got {remat!r}.")
            warnings.warn(
                "Cell(remat=...) is deprecated and has no effect: checkpointing belongs to "
                "the adjoint. simulate already recomputes each step in reverse mode; for "
                "less memory pass simulate(..., adjoint=neurojax.CheckpointAdjoint(every=...)).",
                DeprecationWarning,
                stacklevel=2,
            )
        n_br = len(morphology.branches)
        for name, value in (("cm", cm), ("ra", ra)):
            if np.ndim(value) not in (0,) and np.shape(value) != (n_br,):
                raise ValueError(
                    f"{name} must be a scalar or one value per branch ({n_br},), got shape "
                    f"{np.shape(value)}."
                )
        if np.ndim(v_init) != 0:  # JAX's "Incompatible types for broadcasting" at init
            raise ValueError(
                f"v_init must be one voltage in mV for the whole cell (NEURON's "
                f"finitialize(v_init)), got shape {np.shape(v_init)}. To start the nodes at "
                "different voltages, pass simulate(..., state0=...) built from "
                "cell.init_state() with its .v replaced."
            )
        self.mechanisms = tuple(channels)
        self.cm = cm
        self.ra = ra
        self.temperature = temperature
        self.v_init = v_init
        e_syn = [e for _, _, e in synapses]
        for k, e in enumerate(e_syn):  # "0" would be parsed, True read as 1 mV
            if (
                isinstance(e, (str, bytes, bool, np.bool_))
                or e is None
                or np.iscomplexobj(e)
                or np.ndim(e) != 0
            ):  # an array was stacked into e_syn (1, 2) and broadcast over the sites
                raise TypeError(f"synapses[{k}]: the reversal potential must be a real number "
                                f"in mV, got {e!r}.")  # fmt: skip
        self.e_syn = (
            jnp.stack([jnp.asarray(e, float) for e in e_syn])
            if any(isinstance(e, jax.core.Tracer) for e in e_syn)
            else np.array(e_syn, dtype=float)
        )
        self.rs_clamp = rs_clamp
        sites = (clamps, synapses, vclamps, point_processes, fixed_reversal)
        self.geometry, self.point_processes = _geometry(disc, channels, branch_sets, *sites)
        self.ions = _ion_values(self.geometry.ions, ions, n_br)
        # the time loop's geometry, in chain-block order where the tree allows it
        # (`prepare_loop`, `cable._blocks`); otherwise the loop runs in this numbering
        bd = block_discretisation(disc)
        if bd is not None:
            self.geometry.loop, _ = _geometry(bd, channels, branch_sets, *sites)
            self.geometry.loop.order = LoopOrder(self.geometry, self.geometry.loop)

    def __check_init__(self):
        # (equinox runs AbstractModel.__check_init__, the domain check, as well)
        check_precision(self)

    # ------------------------------------------------------------------ sites

    @property
    def discretisation(self) -> Discretisation:
        return self.geometry.disc

    @property
    def morphology(self) -> Morphology:
        return self.geometry.disc.morphology

    @property
    def n_nodes(self) -> int:
        return self.geometry.disc.n_nodes

    @property
    def regions(self) -> tuple[np.ndarray, ...]:
        """Node indices of each mechanism's compartments."""
        return self.geometry.regions

    def node(self, branch: int, x: float) -> int:
        """Index (last axis of `states.v`) of NEURON's node for `branch(x)`; `ValueError`
        off the cell."""
        return self.geometry.disc.node(branch, x)

    def record_v(self, sites: Sequence[tuple[int, float]]):
        """A function for `SaveAt(fn=...)` keeping the voltage at `sites` only:
        `(*batch, len(sites))` per saved step."""
        sites = _sites("record_v sites", sites, 2, "(branch, x)")
        if not sites:  # a fit to it would have loss 0, "converged", whatever the model
            raise ValueError("record_v needs at least one (branch, x) site; got none.")
        idx = np.array([self.node(b, x) for b, x in sites])
        pick = StaticMap.take(idx, self.n_nodes)  # no scatter in a gradient (`_gather.py`)
        return lambda y: apply(pick, y.v)

    def record_gate(self, mechanism: int, gate: str, sites: Sequence[tuple[int, float]]):
        """A function for `SaveAt(fn=...)` keeping gate `gate` of mechanism number
        `mechanism` (its index in `mechanisms`) at `sites`: `(*batch, len(sites))`.
        `ValueError` if the mechanism is not inserted at a site or has no such gate."""
        if (
            isinstance(mechanism, (bool, np.bool_))
            or not isinstance(mechanism, (int, np.integer))
            or not 0 <= mechanism < len(self.mechanisms)
        ):  # True was read as mechanism 1, 1.0 failed as a tuple index
            raise ValueError(
                f"mechanism={mechanism!r} is not one of the cell's {len(self.mechanisms)} "
                "mechanisms: give its index (an int) in Cell(..., mechanisms=[...])."
            )
        # the cell's own initial state, abstractly: a mechanism reading diam or writing an
        # ion pool cannot be initialised alone
        fields = type(jax.eval_shape(self.init_state).gates[mechanism])._fields
        if gate not in fields:
            raise ValueError(
                f"{type(self.mechanisms[mechanism]).__name__} has gates {fields}, not {gate!r}."
            )
        spread = self.geometry.spread[mechanism]
        n_region = len(self.regions[mechanism])
        at_nodes = mechanism in self.geometry.at_nodes  # gates at node layout
        pos = []
        sites = _sites("record_gate sites", sites, 2, "(branch, x)")
        if not sites:
            raise ValueError("record_gate needs at least one (branch, x) site; got none.")
        for b, x in sites:
            node = self.node(b, x)
            k = int(spread[node])
            if k == n_region:
                raise ValueError(
                    f"mechanism {mechanism} ({type(self.mechanisms[mechanism]).__name__}) is "
                    f"not inserted at branch {b}, x={x}."
                )
            pos.append(node if at_nodes else k)
        pos = np.array(pos)
        return lambda y: getattr(y.gates[mechanism], gate)[..., pos]

    def record_ion(self, name: str, sites: Sequence[tuple[int, float]]):
        """A function for `SaveAt(fn=...)` keeping the ion concentration `name` (`"cai"`,
        mM) at `sites`: `(*batch, len(sites))`. `ValueError` unless a mechanism of the
        cell writes it (a concentration nothing writes is the fixed `cell.ions[name]`)."""
        states = self.geometry.ions.state_names
        if name not in states:
            raise ValueError(
                f"{name!r} is not an ion state of this cell (its ion states are "
                f"{list(states)}: the concentrations that a mechanism WRITEs)."
            )
        idx = np.array([self.node(b, x) for b, x in sites])
        return lambda y: y.ions[name][..., idx]

    def record_point(self, index: int, gate: str):
        """A function for `SaveAt(fn=...)` keeping gate `gate` of point process number
        `index` (in `point_processes` order): `(*batch, 1)`."""
        if (
            isinstance(index, (bool, np.bool_))
            or not isinstance(index, (int, np.integer))
            or not 0 <= index < len(self.point_processes)
        ):
            raise ValueError(
                f"index={index} is not one of the cell's {len(self.point_processes)} point "
                "processes."
            )
        pp = self.point_processes[index]
        spec = getattr(type(pp), "_spec", None)  # NMODL: its gates without running INITIAL
        fields = (spec.gates._fields if hasattr(spec, "gates")
                  else type(pp.init(jnp.zeros(1), 6.3))._fields)  # fmt: skip
        if gate not in fields:
            raise ValueError(
                f"{type(self.point_processes[index]).__name__} has gates {fields}, not {gate!r}."
            )
        return lambda y: getattr(y.points[index], gate)

    def event_input(self, spikes, n_steps: int, dt: float):
        """`inputs["events"]` from spike times: `(n_steps, n_receivers)` summed weights.

        `spikes[c]` is `(times, weights)` for the c-th point process that takes events
        (those with NET_RECEIVE, in `point_processes` order): arrival times in ms (any
        synaptic delay added) and the weights (NET_RECEIVE's first argument, e.g. µS for
        ExpSyn), a scalar or one per time. NEURON's fixed-step delivery: an event at
        `t_e` is delivered at the start of the step from `k·dt` with `t_e ≤ (k + ½)·dt`,
        before that step's currents; the weights of events delivered at the same step
        add (exact for additive NET_RECEIVE blocks, which the importer checks). Events
        delivered at or after step `n_steps` fall after the run and are dropped, as NEURON
        never delivers an event after `tstop`; continue a run by calling this again with
        the times shifted by the first run's length."""
        from ..stimuli import _check_dt

        dt = _check_dt(dt)
        if isinstance(n_steps, (bool, np.bool_)) or not (
            isinstance(n_steps, (int, np.integer)) and n_steps > 0
        ):
            raise ValueError(f"n_steps must be a whole number of steps > 0, got {n_steps!r}.")
        n_recv = len(self.geometry.receivers)
        if len(spikes) != n_recv:
            raise ValueError(
                f"spikes has {len(spikes)} entries; the cell has {n_recv} point process(es) "
                "taking events: give (times, weights) for each."
            )
        out = np.zeros((int(n_steps), n_recv))
        for c, entry in enumerate(spikes):
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise ValueError(f"spikes[{c}] must be (times, weights), got {entry!r}.")
            times = np.atleast_1d(np.asarray(entry[0], dtype=float))
            if np.any(~np.isfinite(times)) or np.any(times < 0):
                raise ValueError(f"spikes[{c}] has times outside [0, inf): {times}.")
            w = np.asarray(entry[1], dtype=float)
            if w.ndim > 1 or w.size not in (1, times.size):
                raise ValueError(f"spikes[{c}]: the weights must be one number or one per "
                                 f"time ({times.size}), got shape {w.shape}.")  # fmt: skip
            w = np.broadcast_to(w.reshape(-1) if w.ndim else w, times.shape)
            # the 1e-9 absorbs rounding of t_e/dt at a tie t_e = (k + ½)·dt
            k = np.maximum(np.ceil(times / dt - 0.5 - 1e-9), 0).astype(np.int64)
            keep = k < n_steps
            pp = type(self.point_processes[self.geometry.receivers[c]])
            if not getattr(pp, "receive_additive", True) and len(np.unique(k[keep])) < keep.sum():
                raise ValueError(f"spikes[{c}]: two events in one step for {pp.__name__}, whose "
                                 "NET_RECEIVE is not additive in the weight: not supported "
                                 "(space them by more than dt, or use a smaller dt)")  # fmt: skip
            if getattr(pp, "receive_time", False) and np.any(np.abs(times - k * dt) > 1e-6 * dt):
                raise ValueError(f"spikes[{c}]: {pp.__name__}'s NET_RECEIVE reads the time t, "
                                 "which is the step's time here (NEURON: the event's exact "
                                 "time): give event times (delays included) on the dt "
                                 "grid")  # fmt: skip
            np.add.at(out[:, c], k[keep], w[keep])
        return jnp.asarray(out)

    # ------------------------------------------------------------------ contract

    def _input_kinds(self):
        geo = self.geometry
        return {
            k: len(nodes)
            for k, nodes in (
                ("i_clamp", geo.clamps),
                ("g_syn", geo.synapses),
                ("v_clamp", geo.vclamps),
                ("events", geo.receivers),
            )
            if len(nodes) or k == "i_clamp"
        }

    def _split_inputs(self, inputs) -> dict:
        kinds = self._input_kinds()
        if not isinstance(inputs, dict):
            if set(kinds) != {"i_clamp"}:
                raise ValueError(
                    f"this Cell has sites of kinds {sorted(kinds)}: pass inputs as a dict with "
                    f"those keys, shaped (n_steps, *batch, n_sites) each."
                )
            return {"i_clamp": inputs}
        unknown = set(inputs) - {"i_clamp", "g_syn", "v_clamp", "events"}
        if unknown:
            raise ValueError(
                f"unknown input keys {sorted(unknown)}; a Cell takes 'i_clamp' (nA), 'g_syn' "
                "(µS), 'v_clamp' (mV) and 'events' (event weights, see Cell.event_input)."
            )
        missing = {k for k in kinds if kinds[k] and k not in inputs}
        if missing:
            raise ValueError(f"inputs lack {sorted(missing)} for the cell's sites of that kind.")
        return dict(inputs)

    def check_call(self, inputs, dt):
        """Conductance inputs must be ≥ 0 (`AbstractModel.check_call`: once per
        `simulate` call): a negative conductance is an energy source, and V runs off to
        ±10⁴ mV."""
        g = inputs.get("g_syn") if isinstance(inputs, dict) else None
        if g is None:
            return ()
        if isinstance(g, jax.core.Tracer):
            return ((jnp.any(g < 0), _NEGATIVE_G),)
        if np.any(np.asarray(g) < 0):  # numpy: no JAX operation compiled for the check
            raise ValueError(_NEGATIVE_G)
        return ()

    def batch_shape(self, inputs) -> tuple[int, ...]:
        kinds = self._input_kinds()
        batch = None
        for key, x in self._split_inputs(inputs).items():
            n = kinds.get(key, 0)
            shape = tuple(jnp.shape(x))
            if len(shape) < 1 or shape[-1] != n:
                what = {
                    "i_clamp": "currents (nA)",
                    "g_syn": "conductances (µS)",
                    "v_clamp": "command potentials (mV)",
                    "events": "event weights",
                }[key]
                sites = {"i_clamp": "clamps", "g_syn": "synapses", "v_clamp": "vclamps",
                         "events": "point_processes (with NET_RECEIVE)"}[key]  # fmt: skip
                raise ValueError(
                    f"a Cell with {n} {sites} site(s) takes {key!r} {what} shaped "
                    f"(n_steps, *batch, {n}); got one step shaped {shape}. Give one column "
                    f"per site in Cell(..., {sites}=[...])"
                    + (", e.g. jnp.zeros((n_steps, 0)) for none." if n == 0 else ".")
                )
            if batch is not None and shape[:-1] != batch:
                raise ValueError(f"input batch shapes differ: {batch} and {shape[:-1]}.")
            batch = shape[:-1]
        return batch

    def init_state(self, batch_shape=()) -> CellState:
        check_precision(self)  # again here: jax.tree.map(astype) skips __check_init__
        dtype = jnp.result_type(self.v_init)
        v = jnp.broadcast_to(self.v_init, (*batch_shape, self.n_nodes)).astype(dtype)
        layout = self.geometry.ions
        pool = self._ion_pool(v, None)
        gates = [None] * len(self.mechanisms)
        points = [None] * len(self.point_processes)

        def point_init(j, pp):
            vp = jnp.broadcast_to(self.v_init, (*batch_shape, 1))
            pions = self._point_ions(j, pool, v)
            if pions is None:
                g = pp.init(vp, self.temperature)
            else:  # a concentration it WRITEs (cai) is the node's (NEURON's nrn_init)
                g, written = pp.init_ions(vp, self.temperature, pions)
                self._point_write(j, pool, written)
            points[j] = jax.tree_util.tree_map(
                lambda g: jnp.broadcast_to(g, (*batch_shape, 1)), g
            )

        # NEURON's memb_order_: the mechanisms writing a concentration first — a point
        # process's own Ca shell before the density mechanisms reading cai
        first = self._point_conc_writers()
        for j in first:
            point_init(j, self.point_processes[j])
        for grp in self.geometry.groups:  # in NEURON's nrn_init order (`_groups`)
            ch, nodes, k = self._merged(grp), grp.nodes, grp.members[0]
            vr = jnp.broadcast_to(self.v_init, (*batch_shape, nodes.size))
            if layout.pooled[k]:  # shares the cell's ion pools (NEURON's nrn_init order)
                g, written = ch.init_ions(vr, self.temperature, pool.at(k, nodes))
                for name, x in written.items():
                    pool.write(name, x, grp.spread, nodes.size)
                pool.wrote(written)
            else:
                g = ch.init(vr, self.temperature)
            g = jax.tree_util.tree_map(
                lambda g, n=nodes.size: jnp.broadcast_to(g, (*batch_shape, n)), g
            )
            for m, gm in zip(grp.members, grp.split(g), strict=True):
                gates[m] = gm
        for j, pp in enumerate(self.point_processes):
            if j not in first:
                point_init(j, pp)
        # after the point processes' INITIALs: the concentrations they write (NMDA Ca shells)
        ions = jax.tree_util.tree_map(
            lambda x: jnp.broadcast_to(x, (*batch_shape, self.n_nodes)), pool.states()
        ) if pool is not None else {}  # fmt: skip
        return CellState(v=v, gates=tuple(gates), ions=ions, points=tuple(points))

    def _point_conc_writers(self) -> list:
        """The point processes that WRITE a concentration (NMODL `spec.pool`): NEURON's
        memb_order_ initialises and updates them before the other mechanisms."""
        return [j for j, pp in enumerate(self.point_processes)
                if getattr(getattr(type(pp), "_spec", None), "pool", ())]  # fmt: skip

    def _points_then_gates(self, vg, y, pool, dt, t):
        """The state update in NEURON's order: the point processes writing a
        concentration, the density mechanisms (`_update_gates`), the other point
        processes."""
        geo = self.geometry
        first = self._point_conc_writers()
        points = [None] * len(self.point_processes)

        def upd(j):
            node = geo.points[j]
            points[j] = self._point_update(j, vg[..., node : node + 1], y.points[j], dt, pool,
                                           t, vg)  # fmt: skip

        for j in first:
            upd(j)
        gates = self._update_gates(vg, y, pool, dt, t)
        for j in range(len(self.point_processes)):
            if j not in first:
                upd(j)
        return gates, tuple(points)

    def _point_ions(self, j, pool, v=None):
        """The ion values point process `j` READs at its node (`(…, 1)`), and its POINTERs
        bound to voltages (read from `v`, all nodes), or None if it has neither."""
        k = len(self.mechanisms) + j
        out = None
        if pool is not None and self.geometry.ions.pooled[k]:
            out = pool.at(k, self.geometry.points[j : j + 1])
        ptr = self.geometry.pointer_nodes[j]
        if ptr:
            out = dict(out or {})
            for name, node in ptr.items():
                out[name] = v[..., node : node + 1]
        return out

    def _point_update(self, j, v_node, gates, dt, pool, t, v=None):
        """Point process `j`'s state update at its node's voltage `v_node` `(…, 1)` (`v`:
        all nodes', for its POINTERs)."""
        pp = self.point_processes[j]
        pions = self._point_ions(j, pool, v)
        if pions is None:
            return pp.update(v_node, gates, dt, self.temperature, **_time(pp, t))
        g, written = pp.update_ions(v_node, gates, dt, self.temperature, pions, **_time(pp, t))
        self._point_write(j, pool, written, init=False)
        return g

    def _point_write(self, j, pool, written, init=True):
        """The concentrations point process `j` WRITEs (`cai`, mM, not scaled by the
        area: NEURON's point process stores its value in the ion's variable at its node).
        After its INITIAL, Nernst again (NEURON's `nrn_wrote_conc`)."""
        if not written:
            return
        node, n = int(self.geometry.points[j]), pool.x[next(iter(written))].shape[-1]
        at = jnp.asarray(_mask(np.array([node]), n))
        for name, x in written.items():
            x = _at_node(jnp.asarray(x, pool.x[name].dtype), node, n)
            pool.x[name] = jnp.where(at, x, pool.x[name])
        if init:
            pool.wrote(written)

    def _ion_pool(self, v, states):
        """The ion pools at the start of a step (None if no mechanism uses ions)."""
        layout = self.geometry.ions
        if not layout.any:
            return None
        branch = self.geometry.branch
        n_br = len(self.morphology.branches)
        node_values = {
            k: jnp.broadcast_to(jnp.asarray(x, v.dtype), (n_br,))[branch]
            for k, x in self.ions.items()
        }
        if "diam" in layout.geometry:  # NMODL's diam (µm) and area (µm²) per node
            node_values["diam"] = self.geometry.disc.diameters()
        if "area" in layout.geometry:
            node_values["area"] = self.geometry.area
        return Pool(layout, node_values, states, self.temperature, v.shape, v.dtype)

    @property
    def default_solver(self):
        from ..solvers import TRBDF2

        return TRBDF2()

    def _currents(self, y: CellState, inputs, pool=None, t=None):
        geo = self.geometry
        v = y.v
        area = jnp.asarray(geo.area, v.dtype) * _PER_UM2
        i_mem = jnp.zeros_like(v)
        g_mem = jnp.zeros_like(v)
        if pool is None:
            pool = self._ion_pool(v, y.ions)
        for grp in geo.groups:  # each mechanism kind once over its compartments (`_groups`)
            ch, nodes, k = self._merged(grp), grp.nodes, grp.members[0]
            gates = grp.join(y.gates, v.shape[:-1])
            vr = apply(grp.take, v)
            # exact slope of the channel's I–V at fixed gates: one JVP
            if geo.ions.pooled[k]:  # ion currents summed into the pools, in mechanism order
                i, di, out = jax.jvp(
                    lambda u, ch=ch, gates=gates, ions=pool.at(k, nodes): ch.current_ions(
                        u, gates, self.temperature, ions, **_time(ch, t)
                    ),
                    (vr,),
                    (jnp.ones_like(vr),),
                    has_aux=True,
                )
                for name, x in out.items():
                    pool.add_current(name, x, grp.spread)
            else:
                i, di = jax.jvp(
                    lambda u, ch=ch, gates=gates: ch.current(u, gates, **_time(ch, t)),
                    (vr,),
                    (jnp.ones_like(vr),),
                )
            if k in geo.at_nodes:  # every node: none at the membrane-less ends
                mem = jnp.asarray(geo.has_membrane)
                i, di = jnp.where(mem, i, 0.0), jnp.where(mem, di, 0.0)
            pads = True if geo.blocks is not None else None  # block order: a region's pad
            i_mem = i_mem + apply(grp.put, i, pads) * area
            g_mem = g_mem + apply(grp.put, di, pads) * area
        for j, (pp, node, gates) in enumerate(
            zip(self.point_processes, geo.points, y.points, strict=True)
        ):
            vr = v[..., node : node + 1]
            pions = self._point_ions(j, pool, v)
            if pions is None:
                i, di = jax.jvp(
                    lambda u, pp=pp, gates=gates: pp.current(u, gates, **_time(pp, t)),
                    (vr,),
                    (jnp.ones_like(vr),),
                )
            else:  # USEION: its ion currents (nA) join the ion's density at the node
                i, di, out = jax.jvp(
                    lambda u, pp=pp, gates=gates, ions=pions: pp.current_ions(
                        u, gates, self.temperature, ions, **_time(pp, t)
                    ),
                    (vr,),
                    (jnp.ones_like(vr),),
                    has_aux=True,
                )
                # NEURON's point-process rule: i nA at a node of area A µm² is
                # i·100/A mA/cm² of the node's density (nA/µm² = 1e-6 mA / 1e-8 cm²)
                per_area = 100.0 / float(geo.area[node])
                for name, x in out.items():
                    pool.x[name] = pool.x[name] + _at_node(
                        jnp.asarray(x, pool.x[name].dtype) * per_area, node, v.shape[-1]
                    )
            # a slice and a pad (no scatter: `_gather.py`)
            i_mem = i_mem + _at_node(i, node, v.shape[-1])  # nA
            g_mem = g_mem + _at_node(di, node, v.shape[-1])  # µS
        inputs = self._split_inputs(inputs)
        if len(geo.clamps):
            i_mem = i_mem - _spread_sites(geo.sites["clamps"], geo.clamps,
                                          jnp.asarray(inputs["i_clamp"], v.dtype))  # fmt: skip
        # conductance inputs I = g·(E − V): outward current g·(V − E), slope g
        if len(geo.synapses):
            g = jnp.asarray(inputs["g_syn"], v.dtype)  # ≥ 0: `check_call`, once per run
            vs = v[..., geo.synapses]
            i_mem = i_mem + _spread_sites(
                geo.sites["synapses"], geo.synapses, g * (vs - self.e_syn)
            )
            g_mem = g_mem + _spread_sites(geo.sites["synapses"], geo.synapses, g)
        if len(geo.vclamps):
            g = 1.0 / self.rs_clamp
            vs = v[..., geo.vclamps]
            cmd = jnp.asarray(inputs["v_clamp"], v.dtype)
            i_mem = i_mem + _spread_sites(geo.sites["vclamps"], geo.vclamps, g * (vs - cmd))
            g_mem = g_mem + _spread_sites(geo.sites["vclamps"], geo.vclamps,
                                          jnp.broadcast_to(g, vs.shape))  # fmt: skip
        return i_mem, g_mem

    def _axial(self, dtype):
        """Axial conductance (µS) from each node to its parent (0 for node 0)."""
        geo = self.geometry
        ra = apply(geo.of_branch, jnp.broadcast_to(self.ra, (len(self.morphology.branches),)))
        r = ra * jnp.asarray(np.where(geo.has_parent, geo.disc.r_per_ra, 1.0), dtype)
        return jnp.where(jnp.asarray(geo.has_parent), 1.0 / r, 0.0).astype(dtype)

    def _capacitance(self, dtype):
        geo = self.geometry
        cm = apply(geo.of_branch, jnp.broadcast_to(self.cm, (len(self.morphology.branches),)))
        return (cm * jnp.asarray(geo.area, dtype) * _PER_UM2).astype(dtype)

    def _axial_current(self, v, g_ax):
        """Σ_j g_ij (V_j − V_i) per node, nA."""
        geo = self.geometry
        if geo.blocks is not None:  # chain-block order: rows shifted by one (`_blocks`)
            return geo.blocks.current(v, g_ax)
        flow = g_ax * (apply(geo.of_parent, v) - v)  # into node i from its parent
        return flow - apply(geo.over_children, flow)

    def vector_field(self, t, y: CellState, inputs) -> CellState:
        """The true time derivative of every state at `(t, y)`, inputs held:

        - `v`: `dV/dt = F(V)/C` at the membrane nodes (mV/ms); at the membrane-less ones
          (branch ends, `C = 0`), which carry Kirchhoff's law `F = 0`, the derivative
          that keeps it: `dV/dt = (dF/dt with that node held) / M_ii`, `M_ii = −∂F/∂V`
          there — the time derivative of the solution through a state on the
          constraint (as every state the implicit solvers return is);
        - `gates`, `ions` (the concentrations a mechanism writes) and `points`: the
          derivative of each mechanism's own update rule at zero step length,
          `∂/∂h update(V, x, h)|_{h=0}` — for any consistent one-step rule (exponential
          Euler, NEURON's `cnexp`, backward Euler by Newton for `derivimplicit`/KINETIC)
          that is exactly the mechanism's `dx/dt` at `V` (1/ms, mM/ms). Discrete values
          kept between steps (an NMODL ASSIGNED read before written) get 0, and events
          (NET_RECEIVE) are not part of it.

        The solvers do not integrate this: they take `linearise` and `advance_gates`
        (the staggered implicit step). It is the model's ODE, for inspection, analysis
        and checks (`tests/test_cable_solver_contract.py`)."""
        v = y.v
        dtype = v.dtype
        c = self._capacitance(dtype)
        g_ax = self._axial(dtype)

        def flow(h):
            # a fresh pool inside the traced function: the mechanisms' updates read the
            # ion currents summed into it by `_currents`
            pool = self._ion_pool(v, y.ions)
            i_mem, g_mem = self._currents(y, inputs, pool, t)
            gates, points = self._points_then_gates(v, y, pool, h, t)
            ions = pool.states() if pool is not None else {}
            return (gates, ions, points), (i_mem, g_mem)

        zero = jnp.zeros((), dtype)
        _, rates, (i_mem, g_mem) = jax.jvp(flow, (zero,), (jnp.ones_like(zero),), has_aux=True)
        gates, ions, points = rates
        f = self._axial_current(v, g_ax) - i_mem
        mem = c > 0
        dv = jnp.where(mem, f / jnp.where(mem, c, 1.0), 0.0)

        def rhs(state):  # F of a whole state
            i, _ = self._currents(state, inputs, None, t)
            return self._axial_current(state.v, g_ax) - i

        tangent = CellState(v=dv, gates=gates, ions=ions, points=points)
        _, df = jax.jvp(rhs, (y,), (tangent,))
        diag = g_mem + g_ax + apply(self.geometry.over_children, g_ax)
        dv = jnp.where(mem, dv, df / diag)
        return CellState(v=dv, gates=gates, ions=ions, points=points)

    def linearise(self, t, y: CellState, inputs, dt):
        """The voltage equations of one step for the implicit solvers
        (`neurojax.solvers.TreeLinearisation`): `C dV/dt = F(V) ≈ F(V₀) − M (V − V₀)`.

        Events are delivered first (NEURON's `deliver_net_events`); the membrane
        currents are evaluated at mid-step `t + dt/2` (NEURON's fixed step, for the
        mechanisms that read `t`) and linearised at the step's start with the gates
        frozen (exact for ohmic channels, such as all of `neurojax.cable`'s; an O(dt²)
        change of the current, so no loss of order, for a nonlinear one such as a GHK
        current from NMODL). `M = G_m + L`: the membrane slope conductances (one JVP
        per mechanism) plus the axial Laplacian (µS); `C` (nF) is 0 at the
        membrane-less nodes, which carry Kirchhoff's law."""
        geo = self.geometry
        v = y.v
        dtype = v.dtype
        pool = self._ion_pool(v, y.ions)
        if len(geo.receivers):  # events first, as NEURON's deliver_net_events
            y = y._replace(points=self._receive(y, inputs, t, dt, pool))
            # a point process that sets its node's v in NET_RECEIVE (izhi2007b's reset)
            w_all = self._split_inputs(inputs)["events"]
            for col, j in enumerate(geo.receivers):
                pp = type(self.point_processes[j])
                if getattr(pp, "receive_writes_v", False):
                    node = int(geo.points[j])
                    at = jnp.asarray(_mask(np.array([node]), v.shape[-1]))
                    if not getattr(pp, "self_events", False):  # ran only with an event
                        at = at & (jnp.asarray(w_all[..., col : col + 1]) != 0)
                    v_new = _at_node(jnp.asarray(y.points[j].v_net, dtype), node, v.shape[-1])
                    y = y._replace(v=jnp.where(at, v_new, y.v))
            v = y.v
        i_mem, g_mem = self._currents(y, inputs, pool, t + dt / 2)  # NEURON: mid-step
        g_ax = self._axial(dtype)
        rhs = self._axial_current(v, g_ax) - i_mem  # F(V)
        # computed once (`_materialise`): F and M have several consumers in TR-BDF2; not in
        # chain-block order, where they are vectorised slices, cheaper to recompute than to
        # store (10⁴-compartment HH tree: backward Euler 106.6 → 93.0 µs per step, TR-BDF2
        # 191.2 → 186.9; the root-outwards order without it 148.9 → 186.3:
        # benchmarks/README.md, "Cable cells", session 14)
        if geo.blocks is None:
            rhs, g_mem = _materialise((rhs, g_mem), v)
        # Laplacian diagonal: each node's axial conductances to its parent and children
        lap_diag = g_ax + apply(geo.over_children, g_ax)
        off = -g_ax  # symmetric: M[i, parent] = M[parent, i] = −g_i
        op = TreeOperator(geo.disc.topology, g_mem + lap_diag, off, off)
        active = None
        if len(geo.electrodes):  # clamped where a v_clamp is, or an electrode's slope > 0
            active = jnp.zeros(v.shape, bool) | jnp.asarray(_mask(geo.vclamps, v.shape[-1]))
            for j in geo.electrodes:
                pp, node = self.point_processes[j], geo.points[j]
                pions = self._point_ions(j, pool, v)  # USEION values, POINTERs (HalfGap)
                _, slope = jax.jvp(
                    lambda u, pp=pp, g=y.points[j], pi=pions: (
                        pp.current(u, g, **_time(pp, t + dt / 2)) if pi is None else
                        pp.current_ions(u, g, self.temperature, pi, **_time(pp, t + dt / 2))[0]
                    ),
                    (v[..., node : node + 1],),
                    (jnp.ones_like(v[..., node : node + 1]),),
                )
                active = active | (_at_node(slope, node, v.shape[-1]) > 0)
        return TreeLinearisation(
            v=v,
            capacitance=self._capacitance(dtype),
            operator=op,
            rhs=rhs,
            algebraic=~geo.has_membrane,
            context=(y, pool),
            clamped=geo.clamped,
            clamp_active=active,
        )

    def advance_gates(self, t, linearisation, v_new, dt, v_gates=None) -> CellState:
        """The state at `t + dt` given the new voltages `v_new` from the solver: every
        mechanism's gates (and the concentrations it writes) advanced over `dt` by its
        own rule at `v_new` — exponential Euler for the built-in channels (NEURON's
        `cnexp`, exact for a gate at fixed V), the NMODL `SOLVE … METHOD` for imported
        ones — in mechanism order (NEURON's `nrn_state`), then the point processes'
        (those writing a concentration first, as NEURON's memb_order_). Staggered half
        a step behind the voltages, as NEURON. `v_gates`: the voltages to advance them
        at instead (`TRBDF2` at the voltage-clamped nodes: the mean of the clamp's
        transient over the step, `solvers._implicit._clamped_modes`)."""
        y, pool = linearisation.context
        vg = v_new if v_gates is None else v_gates
        gates, points = self._points_then_gates(vg, y, pool, dt, t + dt)
        return CellState(v=v_new, gates=gates, ions=pool.states() if pool is not None else {},
                         points=points)  # fmt: skip

    def _receive(self, y: CellState, inputs, t=None, dt=None, pool=None):
        """The point processes' gates after this step's events: NET_RECEIVE once with the
        summed weight of the events delivered at this step (a step without one keeps
        the gates; one with self-events, NMODL `net_send`, runs every step: `t`, `dt`)."""
        geo = self.geometry
        w_all = self._split_inputs(inputs)["events"]
        points = list(y.points)
        for col, j in enumerate(geo.receivers):
            pp, node = self.point_processes[j], geo.points[j]
            w = jnp.asarray(w_all[..., col : col + 1], y.v.dtype)
            kw = {"t": t, "dt": dt} if getattr(type(pp), "receive_time", False) else {}
            pions = self._point_ions(j, pool, y.v)
            if pions is not None:  # USEION: NET_RECEIVE may read the ion values at the node
                kw["ions"] = pions
            got = pp.receive(y.v[..., node : node + 1], points[j], w, **kw)
            if not getattr(type(pp), "self_events", False):
                got = jax.tree_util.tree_map(lambda a, b, w=w: jnp.where(w != 0, a, b),
                                             got, points[j])  # fmt: skip
            points[j] = got
        return tuple(points)

    def _update_gates(self, v_new, y: CellState, pool, dt, t=None):
        """Every mechanism's state update at the new voltages, in mechanism order; those
        sharing the ion pools read the step's total ion currents and the concentrations
        written by the mechanisms before them (NEURON's `nrn_state` order)."""
        geo = self.geometry
        out = [None] * len(self.mechanisms)
        for grp in geo.groups:  # each mechanism kind once over its compartments (`_groups`)
            ch, nodes, k = self._merged(grp), grp.nodes, grp.members[0]
            gates = grp.join(y.gates, v_new.shape[:-1])
            vr = apply(grp.take, v_new)
            if geo.ions.pooled[k]:
                g, written = ch.update_ions(vr, gates, dt, self.temperature, pool.at(k, nodes),
                                            **_time(ch, t))  # fmt: skip
                for name, x in written.items():
                    pool.write(name, x, grp.spread, nodes.size)
            else:
                g = ch.update(vr, gates, dt, self.temperature, **_time(ch, t))
            # the layout the state came in (the loop's: `_join_gates`)
            for m, gm in zip(grp.members, grp.split(g, grp.joined(y.gates)), strict=True):
                out[m] = gm
        return tuple(out)

    def _join_gates(self, y: CellState) -> CellState:
        """The gates of each group of instances (`_groups`) joined once before the loop
        (`_Group.joined`, part of `to_loop_state`), not in every step: the step reads
        them as it evaluates them and writes them so, without concatenating and slicing
        them per instance (forward, and their transposes in reverse mode). The values are
        the same; `_split_gates` splits them back."""
        gates = list(y.gates)
        batch = y.v.shape[:-1]
        todo = [g for g in self.geometry.groups if len(g.members) > 1 and not g.joined(gates)]
        if not todo:  # nothing to join: the state itself
            return y
        for grp in todo:
            parts = grp.split(grp.join(y.gates, batch), joined=True)
            for m, gm in zip(grp.members, parts, strict=True):
                gates[m] = gm
        return y._replace(gates=tuple(gates))

    def _split_gates(self, y: CellState) -> CellState:
        """`_join_gates`' inverse: each instance's gates in its own entry again."""
        todo = [g for g in self.geometry.groups if g.joined(y.gates)]
        if not todo:  # nothing joined: the state itself
            return y
        gates = list(y.gates)
        for grp in todo:
            for m, gm in zip(grp.members, grp.split(y.gates[grp.members[0]]), strict=True):
                gates[m] = gm
        return y._replace(gates=tuple(gates))

    def prepare_loop(self) -> Cell:
        """The cell with merged mechanism parameters (`_merged`) built once, for the
        time loop (`AbstractModel.prepare_loop`, called by `simulate` once per call):
        the step reads them as loop constants instead of broadcasting and concatenating
        the instances' leaves in every step, and in reverse mode their cotangents
        accumulate per compartment and are split back to the instances once, after the
        loop (`PREPARE_LOOP = "none"`: not). The same arithmetic: results identical to
        rounding (bit for bit in the cases checked, `tests/test_cable_merge.py`). In the
        copy returned, the merged instances' array leaves are None, so a prepared cell
        edited afterwards fails (a `ValueError` naming the mechanisms) rather than run
        the merged values of before.

        First, where the tree allows it, the cell in the loop's node order
        (`LOOP_ORDER`, chain-block order: `_in_loop_order`), whose state `simulate`
        converts at the loop's edges (`to_loop_state`, `from_loop_state`)."""
        if PREPARE_LOOP not in _PREPARE_CHOICES:
            raise ValueError(
                f"cable._cell.PREPARE_LOOP must be one of {_PREPARE_CHOICES}, got "
                f"{PREPARE_LOOP!r}."
            )
        if LOOP_ORDER not in _LOOP_ORDERS:
            raise ValueError(
                f"cable._cell.LOOP_ORDER must be one of {_LOOP_ORDERS}, got {LOOP_ORDER!r}."
            )
        if self.geometry.order is not None:
            # the loop's copy: its nodes are numbered in chain-block order, and a run of it
            # would convert a state that is already in that order once more (a review found
            # recordings of the wrong nodes)
            raise ValueError(
                "this Cell is the copy `prepare_loop()` makes for `simulate`'s time loop "
                "(its nodes in chain-block order): simulate the Cell you built instead "
                "(`simulate` prepares it itself)."
            )
        if self.geometry.loop is not None and LOOP_ORDER == "chain_blocks":
            return self._in_loop_order()._prepare_leaves()  # (its geometry's `loop` is None)
        return self._prepare_leaves()

    def _prepare_leaves(self) -> Cell:
        """`prepare_loop`'s merged mechanism leaves, on this cell's own geometry."""
        if PREPARE_LOOP == "none" or self.loop_mechanisms is not None:
            return self
        merged = tuple(
            self._merged_leaves(grp, prepare=True)[1] if len(grp.members) > 1 else None
            for grp in self.geometry.groups
        )
        if all(m is None for m in merged):
            return self
        # The merged instances' array leaves become None in the copy: the loop reads the
        # merged leaves only, and a prepared cell edited afterwards (`eqx.tree_at` on such
        # a leaf, or a mechanism replaced) fails loudly instead of running stale values.
        mechs = list(self.mechanisms)
        for grp, built in zip(self.geometry.groups, merged, strict=True):
            for k in () if built is None else grp.members:
                leaves, td = jax.tree_util.tree_flatten(mechs[k])
                leaves = [None if b is not None else x for x, b in zip(leaves, built, strict=True)]
                mechs[k] = jax.tree_util.tree_unflatten(td, leaves)
        # a copy with two fields set (`eqx.tree_at` cannot address a field that is None)
        out = object.__new__(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(out, f.name, getattr(self, f.name))
        object.__setattr__(out, "mechanisms", tuple(mechs) if isinstance(
            self.mechanisms, tuple) else type(self.mechanisms)(mechs))  # fmt: skip
        object.__setattr__(out, "loop_mechanisms", merged)
        return out

    def _in_loop_order(self) -> Cell:
        """The cell in the time loop's node order (`LOOP_ORDER`, `cable._blocks`): its
        geometry in chain-block order and every mechanism's per-compartment parameters
        permuted to that order's regions (a gather, outside the loop: its transpose maps
        the gradient back). `simulate` converts the state at the loop's edges
        (`to_loop_state`, `from_loop_state`)."""
        loop = self.geometry.loop
        mechs = []
        for k, ch in enumerate(self.mechanisms):
            fields = {name: loop.order.parameter(k, x) for name, x in _array_fields(ch)
                      if jnp.ndim(x) > 0}  # fmt: skip
            if fields:
                ch = eqx.tree_at(lambda c, f=tuple(fields): [getattr(c, n) for n in f], ch,
                                 list(fields.values()))  # fmt: skip
            mechs.append(ch)
        out = object.__new__(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(out, f.name, getattr(self, f.name))
        object.__setattr__(out, "mechanisms", tuple(mechs) if isinstance(
            self.mechanisms, tuple) else type(self.mechanisms)(mechs))  # fmt: skip
        object.__setattr__(out, "geometry", loop)
        return out

    def to_loop_state(self, y: CellState) -> CellState:
        """`AbstractModel.to_loop_state`: `y` (root-outwards numbering) in the order of
        this cell's time loop: chain-block order for a cell from `prepare_loop` where the
        tree allows it, then each mechanism kind's gates joined (`_join_gates`)."""
        order = self.geometry.order
        return self._join_gates(y if order is None else order.state(y, into_loop=True))

    def from_loop_state(self, y: CellState) -> CellState:
        """`to_loop_state`'s inverse: a state of the loop in the root-outwards numbering,
        each instance's gates in its own entry."""
        y = self._split_gates(y)
        order = self.geometry.order
        return y if order is None else order.state(y, into_loop=False)

    def _merged(self, grp: _Group):
        """The mechanism of group `grp` (`_groups`): its one instance, or, for several
        instances of one kind, one module of that kind whose every array leaf is the
        instances' leaves broadcast to their regions and concatenated (one value per
        compartment of `grp.nodes`). Built from the cell's own leaves, so derivatives
        flow back to each instance's leaves (the concatenation's transpose is slicing,
        the broadcast's a sum); in `simulate`'s loop the leaves `prepare_loop` built
        once per call are read from `loop_mechanisms`, the others built at each use."""
        if len(grp.members) == 1:
            return self.mechanisms[grp.members[0]]
        treedef, leaves = self._merged_leaves(grp)
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def _merged_leaves(self, grp: _Group, prepare: bool = False):
        """`_merged`'s `(treedef, leaves)`; with `prepare`, the leaves `prepare_loop`
        builds (its array leaves; the others None)."""
        built = None
        if self.loop_mechanisms is not None:  # a cell from `prepare_loop`
            built = self.loop_mechanisms[self.geometry.groups.index(grp)]
        # in a prepared cell the merged leaves are None in the instances: leaves here
        none_leaf = (lambda x: x is None) if built is not None else None
        flat = [jax.tree_util.tree_flatten(self.mechanisms[k], is_leaf=none_leaf)
                for k in grp.members]  # fmt: skip
        treedef = flat[0][1]
        for k, (_, td) in zip(grp.members[1:], flat[1:], strict=True):
            if td != treedef:
                raise ValueError(
                    f"mechanisms {grp.members[0]} and {k} ({type(self.mechanisms[k]).__name__}) "
                    "had one structure when the Cell was built and now differ (a field "
                    "replaced by eqx.tree_at with another kind of value?); build the Cell "
                    "again from the mechanisms."
                )
        if built is not None and len(flat[0][0]) != len(built):
            raise ValueError(self._edited_after_prepare(grp))
        leaves = []
        for j, parts in enumerate(zip(*(f[0] for f in flat), strict=True)):
            if built is not None and built[j] is not None:
                if any(x is not None for x in parts):
                    raise ValueError(self._edited_after_prepare(grp))
                leaves.append(built[j])
                continue
            if not eqx.is_array(parts[0]):  # equal in every instance (`_signature`)
                leaves.append(None if prepare else parts[0])
                continue
            dtype = jnp.result_type(*parts)
            leaves.append(jnp.concatenate([
                jnp.broadcast_to(jnp.asarray(x, dtype), (n,))
                for x, n in zip(parts, grp.sizes, strict=True)
            ]))  # fmt: skip
        return treedef, tuple(leaves)

    def _edited_after_prepare(self, grp: _Group) -> str:
        names = ", ".join(f"{k} ({type(self.mechanisms[k]).__name__})" for k in grp.members)
        return (
            f"mechanisms {names} of this Cell were changed after `prepare_loop()`, which "
            "built their merged parameters from the values then (the loop's copy of the "
            "cell, for `simulate` only): edit the original cell and let `simulate` prepare it."
        )


class _Group:
    """Instances of one mechanism kind evaluated as one (static; `_groups`): `members`
    (indices into `Cell.mechanisms`, in order), their regions concatenated (`nodes`),
    each one's size (`sizes`), node → position in `nodes` (`spread`; `len(nodes)` off
    it), and the maps that pick `nodes` from all nodes (`take`) and place values back
    (`put`)."""

    def __init__(self, members, regions, n_nodes: int, geometry: _Geometry):
        self.members = tuple(int(k) for k in members)
        self.sizes = tuple(int(len(regions[k])) for k in self.members)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        if len(self.members) == 1:  # the instance's own maps
            k = self.members[0]
            self.nodes = regions[k]
            self.spread, self.take, self.put = geometry.spread[k], geometry.take[k], geometry.put[k]
            return
        self.nodes = np.concatenate([regions[k] for k in self.members]).astype(np.int64)
        self.spread = np.full(n_nodes, self.nodes.size, dtype=np.int32)
        self.spread[self.nodes] = np.arange(self.nodes.size)
        self.take = StaticMap.take(self.nodes, n_nodes)
        self.put = StaticMap.spread(self.nodes, n_nodes)

    def join(self, gates, batch):
        """The members' gates (`gates[k]`, `(*batch, n_k)` leaves) as one NamedTuple of
        `(*batch, len(nodes))` leaves; in the loop's layout (`joined`) they are already."""
        if len(self.members) == 1 or self.joined(gates):
            return gates[self.members[0]]
        parts = [
            jax.tree_util.tree_map(lambda x, n=n: jnp.broadcast_to(x, (*batch, n)), gates[k])
            for k, n in zip(self.members, self.sizes, strict=True)
        ]
        return jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs, axis=-1), *parts)

    def joined(self, gates) -> bool:
        """Whether the cell's `gates` hold this group's in the loop's layout
        (`Cell._join_gates`): the members' gates joined, in the first member's entry, and
        None in the others'."""
        return len(self.members) > 1 and gates[self.members[1]] is None

    def split(self, gates, joined: bool = False) -> list:
        """`join`'s inverse: one NamedTuple per member (static slices); with `joined`,
        the loop's layout (`joined`): `gates` for the first member, None for the others."""
        if len(self.members) == 1:
            return [gates]
        if joined:
            return [gates] + [None] * (len(self.members) - 1)
        return [
            jax.tree_util.tree_map(lambda x, a=a, b=b: x[..., a:b], gates)
            for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)
        ]


MERGE_INSTANCES = True
"""Whether a `Cell` evaluates the instances of one mechanism kind as one (`_groups`); read
when a `Cell` is built. `False` evaluates every instance apart (for comparisons and
measurements: the results differ by rounding only)."""


GATES_AT_NODES = False
"""Whether a `Cell` keeps the gates of a mechanism inserted in every compartment at node
layout (read when a `Cell` is built; an experiment, off by default as it changes the
state's layout): the mechanism is then evaluated at every node, the membrane-less branch
ends included (their current masked to 0; their gate values are computed from their V
and carry nothing), its `CellState.gates[k]` leaves are `(*batch, n_nodes)`, and the
maps between nodes and its compartments are the identity (`_node_maps`: no gathers).
Only for a mechanism alone in its group, not sharing ion pools, with scalar parameters
(`_gates_at_nodes`). Measured on the 10⁴-compartment HH tree: 150.6 → 129.6 µs per
backward-Euler step (`benchmarks/exp_cable_node_layout.py`, the same change patched in)."""


def _gates_at_nodes(geo: _Geometry, channels, disc: Discretisation) -> frozenset:
    """With `GATES_AT_NODES`: the mechanisms whose gates are kept at node layout — alone
    in their group, over every compartment, not pooled, elementwise (`merge_instances`),
    every array parameter a scalar — with their groups' maps made the identity."""
    if not GATES_AT_NODES:
        return frozenset()
    n = disc.n_nodes
    out = []
    for grp in geo.groups:
        if len(grp.members) != 1:
            continue
        k = grp.members[0]
        ch = channels[k]
        if (
            geo.ions.pooled[k]
            or not getattr(type(ch), "merge_instances", True)
            or not np.array_equal(geo.regions[k], disc.membrane)
            or any(jnp.ndim(leaf) != 0 for _, leaf in _array_fields(ch))
        ):
            continue
        alln = np.arange(n, dtype=np.int64)
        grp.nodes, grp.sizes, grp.offsets = alln, (n,), np.array([0, n])
        grp.spread = alln.astype(np.int32)
        grp.take = StaticMap.take(alln, n)  # the identity (`_node_maps.kind`)
        grp.put = grp.take
        out.append(k)
    return frozenset(out)


_LOOP_ORDERS = ("chain_blocks", "tree")

LOOP_ORDER = "chain_blocks"
"""The node numbering of a `Cell`'s time loop (read when a run is traced, by
`Cell.prepare_loop`):

- `"chain_blocks"` (default): where the tree allows it, the loop's cell has its nodes in
  chain-block order: each group of equal-length unbranched chains of the tree solve stored
  as a row-major `(length, chains)` block (`cable._blocks`,
  `solvers._tree_solve.BlockTopology`), so that the step's node maps are slices, the
  membrane of a tree of equal branches one run and the tree solve's rows slices of the
  state. It applies to trees on which the `"branches"` solve runs (≤ 8 groups of chains,
  ≥ 2 interior rows: the benchmark's binary trees, not Hay et al.'s cell, 34 groups);
  other trees run in the `"tree"` numbering. Nothing the user sees is renumbered:
  `simulate` converts the state at the loop's edges (`Cell.to_loop_state`,
  `from_loop_state`: the initial state in, each saved state and the final state out,
  one permutation each, bit for bit) and `prepare_loop` the mechanisms' per-compartment
  parameters. A network's cells keep the `"tree"` numbering (their forest needs
  `parent[i] < i`; a network does not call its cells' `prepare_loop`).
- `"tree"`: the loop in the cell's own root-outwards numbering (as before session 15;
  for comparisons and measurements).

Measured on the 10⁴-compartment HH tree (benchmarks/README.md, "Cable cells", sessions 14
and 15): backward Euler 1.4–1.6× faster; float64 results equal to rounding (3.7e-14 mV
backward Euler, 3.8e-10 mV Crank–Nicolson through spikes: `tests/test_cable_blocks_s14.py`)."""


_PREPARE_CHOICES = ("all", "none")

PREPARE_LOOP = "all"
"""Whether `Cell.prepare_loop` builds the merged mechanism leaves once per `simulate`
call, before the loop (`"all"`), or every leaf in every step, as before (`"none"`).
Read when a run is traced; for comparisons (`benchmarks/bench_hay2011.py
--compare-prepare`). Building only the leaves with one value per compartment in some
instance (scalars summed in the step) was measured and gained nothing
(benchmarks/README.md)."""


def _signature(ch):
    """What must be equal for two instances to be evaluated as one: the class, the pytree
    structure (static fields included) and every leaf that is not an array; and every
    array leaf a scalar or one value per compartment (`Cell.__init__` checked)."""
    leaves, treedef = jax.tree_util.tree_flatten(ch)
    static = tuple((i, x) for i, x in enumerate(leaves) if not eqx.is_array(x))
    return type(ch), treedef, static


def _ion_access(layout, k):
    """(read, written, currents written) ion variable names of mechanism `k` (`written`:
    the concentrations, and the reversal potentials behind them: a concentration it writes
    counts as writing the ion's reversal potential too (NEURON recomputes it by Nernst
    after an INITIAL that writes one)."""
    read, written, currents = set(), set(), set()
    for u in layout.uses[k]:
        e, ci, co, i = ion_variables(u.ion)
        read |= set(u.read)
        written |= set(u.write)
        currents.add(i)
        if {ci, co} & set(u.write):
            written.add(e)
    return read, written - currents, written & currents


def _commute(a, b, access, node_sets) -> bool:
    """Whether mechanisms `a` and `b` may be evaluated in either order with the same
    result (to rounding): no common node, or neither writes a value the other reads and
    they write no common concentration (two writers of one ion current add up: they
    commute to rounding)."""
    if not node_sets[a] & node_sets[b]:
        return True
    (ra, wa, ia), (rb, wb, ib) = access[a], access[b]
    return not ((wa | ia) & rb or (wb | ib) & ra or wa & wb)


def _groups(channels, regions, layout, n_nodes: int, geometry) -> tuple[_Group, ...]:
    """The order in which a `Cell` evaluates its mechanisms: groups of instances of one
    kind (`_signature` equal), each evaluated once over the union of their compartments,
    in the order of their first members.

    Why: a cell such as Hay et al.'s inserts each kind in several regions (23 instances
    of 12 kinds); evaluated apart, each instance is its own copy of the kind's code in
    the compiled step (compile time) and its own small fusions (run time). The cell's
    pytree is unchanged (`Cell.mechanisms[k]`, `Cell.regions[k]`, the state's
    `gates[k]`); only the evaluation is grouped.

    The mechanisms are evaluated in mechanism order (NEURON's), and grouping moves an
    instance forward to its group's first member: an instance joins a group only if it
    commutes (`_commute`) with every instance it would move past, and its region is
    disjoint from the group's; otherwise it starts (or joins a later) group. So the
    result is the ungrouped one to rounding (the membrane currents summed in another
    order)."""
    n = len(channels)
    if not MERGE_INSTANCES:
        return tuple(_Group([k], regions, n_nodes, geometry) for k in range(n))
    node_sets = [set(np.asarray(r).tolist()) for r in regions]
    access = [_ion_access(layout, k) for k in range(n)]
    sigs = []
    for ch in channels:
        try:
            sig = _signature(ch)
            hash(sig[1])
        except TypeError:  # an unhashable static part: never merged
            sig = (object(),)
        sigs.append(sig)
    groups: list[list[int]] = []  # in order of their first member
    for k in range(n):
        placed = False
        if getattr(type(channels[k]), "merge_instances", True):
            for gi, members in enumerate(groups):
                if not _same(sigs[members[0]], sigs[k]):
                    continue
                if any(node_sets[m] & node_sets[k] for m in members):
                    continue
                passed = [m for later in groups[gi + 1 :] for m in later]  # all before k
                if all(_commute(k, m, access, node_sets) for m in passed):
                    members.append(k)
                    placed = True
                    break
        if not placed:
            groups.append([k])
    return tuple(_Group(m, regions, n_nodes, geometry) for m in groups)


def _same(a, b) -> bool:
    if len(a) != len(b) or a[0] is not b[0]:
        return False
    if len(a) == 1:
        return False
    try:
        return (
            bool(a[1] == b[1])
            and len(a[2]) == len(b[2])
            and all(
                i == j and (x is y or bool(x == y))
                for (i, x), (j, y) in zip(a[2], b[2], strict=True)
            )
        )
    except Exception:  # a static value that does not compare to a bool: not merged
        return False


def _region(disc, branches) -> np.ndarray:
    """The membrane nodes (ascending) of `branches` in `disc`'s numbering."""
    return disc.membrane[np.isin(disc.branch[disc.membrane], branches)]


def _geometry(disc, channels, branch_sets, clamps, synapses, vclamps, point_processes,
              fixed_reversal):  # fmt: skip
    """A `Cell`'s `_Geometry` in `disc`'s numbering (the root-outwards `Discretisation`, or
    its chain-block order for the time loop, `cable._blocks`), and its point processes:
    the mechanisms' regions (`branch_sets[k]`'s membrane nodes), the sites, the ion
    layout, the groups of instances evaluated as one (`_groups`), the electrodes."""
    regions = tuple(_region(disc, b) for b in branch_sets)
    geo = _Geometry(
        disc,
        regions,
        np.array([disc.node(b, x) for b, x in clamps], dtype=np.int64),
        np.array([disc.node(b, x) for b, x, _ in synapses], dtype=np.int64),
        np.array([disc.node(b, x) for b, x in vclamps], dtype=np.int64),
    )
    procs, geo.points = _point_processes(point_processes, disc)
    # the point processes that declare USEION share the pools at their node (in the
    # layout after the mechanisms: entry len(channels) + j is point process j)
    geo.ions = IonLayout(
        [*channels, *procs],
        [*regions, *[np.array([n], dtype=np.int64) for n in geo.points]],
        disc.n_nodes,
    )
    _fix_reversals(geo.ions, fixed_reversal)
    _check_point_ions(procs, geo.points, disc)
    # POINTERs bound to a site's voltage (NMODL `bind_pointer(name, v_at=...)`)
    geo.pointer_nodes = _pointer_nodes(procs, disc)
    # the instances of one mechanism kind evaluated as one (`_groups`)
    geo.groups = _groups(channels, regions, geo.ions, disc.n_nodes, geo)
    geo.at_nodes = _gates_at_nodes(geo, channels, disc)
    geo.receivers = np.array([j for j, pp in enumerate(procs) if pp.n_receive], dtype=np.int64)
    # electrodes (NMODL ELECTRODE_CURRENT point processes: SEClamp, VClamp, IClamp)
    # may clamp V: TRBDF2 treats their nodes as clamped where their current has a
    # voltage slope (`linearise`: an IClamp's has none).
    # An electrode reading a voltage POINTER (NEURON's HalfGap: i = (vgap − v)/r) is a
    # coupling, not a clamp: TRBDF2's clamp modes on it moved V by 2.7 mV from the
    # same junction written as a NONSPECIFIC_CURRENT (backward Euler: identical)
    geo.electrodes = np.array(
        [j for j, pp in enumerate(procs) if _is_electrode(pp) and not geo.pointer_nodes[j]],
        dtype=np.int64,
    )
    if len(geo.electrodes):
        if geo.clamped is None:
            geo.clamped = np.zeros(disc.n_nodes, dtype=bool)
        geo.clamped[geo.points[geo.electrodes]] = True
    return geo, procs


def _sites(name, sites, k, form):
    """`sites` as a list of k-tuples of numbers, or a `ValueError` naming the bad entry."""
    if isinstance(sites, (str, bytes)) or not hasattr(sites, "__iter__"):
        raise TypeError(f"{name} must be a list of {form} tuples, got {sites!r}.")
    out = []
    for i, site in enumerate(sites):
        if isinstance(site, (str, bytes)) or not hasattr(site, "__len__") or len(site) != k:
            raise ValueError(f"{name}[{i}] must be a tuple {form}; got {site!r}.")
        out.append(tuple(site))
    return out


@jax.custom_jvp
def _materialise(x, probe):
    """`x`, computed once. XLA fuses a cheap elementwise producer (the membrane currents
    and their slopes: multiplications and additions) into each of its consumers and
    recomputes it there; TR-BDF2's projection and two solves read F and M four times,
    and measured on the Hay cell the step then held 297 fusions instead of BE's 162 and
    took 1.5–2× BE's time for one more O(N) solve. `optimization_barrier` does not stop
    this on XLA:CPU (its pipeline expands barriers first); a `while` loop does: its
    operands are materialised. The loop runs `isnan(probe[..., 0])` times (0, or once
    with a NaN voltage, harmless), which XLA cannot know, so it keeps it. Identity for
    differentiation (the custom JVP passes tangents through: `while_loop` itself has
    no reverse mode)."""
    count = jnp.any(jnp.isnan(probe[..., :1])).astype(jnp.int32)

    def body(c):  # runs only with a NaN voltage; not a pass-through, which XLA would drop
        k, x = c
        return k - 1, jax.tree_util.tree_map(lambda a: a * (k / k).astype(a.dtype), x)

    return jax.lax.while_loop(lambda c: c[0] > 0, body, (count, x))[1]


@_materialise.defjvp
def _materialise_jvp(primals, tangents):
    x, probe = primals
    return _materialise(x, probe), tangents[0]


def _at_node(x, node: int, n: int):
    """`x` `(..., 1)` placed at `node` of `n` nodes, zero elsewhere (a pad)."""
    widths = [(0, 0)] * (x.ndim - 1) + [(node, n - node - 1)]
    return jnp.pad(x, widths)


_FEW_SITES = 8
"""Up to this many electrode or synapse sites are placed by a pad each (`_spread_sites`)."""


def _spread_sites(m: StaticMap, nodes, x):
    """`apply(m, x)` for `m` the spread of `x`'s last axis to the sites `nodes`: with a
    few sites, each placed by a pad (`_at_node`; the sum over repeated sites in the same
    order), not a gather of every node. Measured: the one clamp of the 10⁴-compartment
    HH tree (11001 nodes) spread by `apply` cost ~7 µs of its ~150 µs step (CPU,
    `benchmarks/exp_cable_maps.py`)."""
    x = jnp.asarray(x)
    if len(nodes) > _FEW_SITES or x.shape[-1:] != (len(nodes),):  # (apply names a bad shape)
        return apply(m, x)
    out = None
    for j, node in enumerate(np.asarray(nodes, dtype=np.int64)):
        part = _at_node(x[..., j : j + 1], int(node), m.n_out)
        out = part if out is None else out + part
    return out


def _is_electrode(pp) -> bool:
    """Whether a point process is an electrode (NMODL's ELECTRODE_CURRENT: SEClamp,
    VClamp, IClamp), from the importer's static spec."""
    spec = getattr(type(pp), "_spec", None)
    return bool(getattr(spec, "electrode", ()))


def _mask(nodes, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[np.asarray(nodes, dtype=np.int64)] = True
    return out


def _array_fields(module):
    for name in module.__dataclass_fields__:
        value = getattr(module, name)
        if eqx.is_array(value):
            yield name, value


def _fix_reversals(layout: IonLayout, fixed) -> None:
    """`Cell(fixed_reversal=...)`: the ions whose reversal potential stays the value given
    (NEURON's `ion_style("ca_ion", c, 1, 0, 0, c_init)`: einit = eadvance = 0) even where
    a mechanism reads or writes a concentration of the ion."""
    if isinstance(fixed, str) or not all(isinstance(x, str) for x in fixed):
        raise TypeError(f"fixed_reversal must be a tuple of ion names such as ('ca',), got "
                        f"{fixed!r}.")  # fmt: skip
    for ion in fixed:
        if ion not in layout.nernst_mask:
            raise ValueError(
                f"fixed_reversal names {ion!r}, which no mechanism of the cell uses (the ions "
                f"are {list(layout.ions) or 'none'})."
            )
        layout.nernst_mask[ion][:] = False


def _ion_values(layout: IonLayout, ions, n_br: int) -> dict:
    """The cell's ion values `{"ena": …, "nai": …, "nao": …, …}` for every ion a mechanism
    uses: the user's (scalar or one per branch) over NEURON's defaults; `ValueError` for
    a value no mechanism uses, a reversal potential that NEURON's rules compute by Nernst
    wherever the ion is, a missing value of an ion NEURON has no defaults for, or a
    concentration ≤ 0."""
    if ions is None:
        ions = {}
    if not isinstance(ions, dict):
        raise TypeError(f"ions must be a dict such as {{'ek': -85.0, 'cao': 2.0}}, got {ions!r}.")
    given = dict(ions)
    known = layout.value_names()
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(
            f"ions={unknown}: no mechanism of the cell uses "
            f"{'these' if len(unknown) > 1 else 'this'} (the cell's ion values are "
            f"{list(known) or 'none'}; currents such as 'ica' are computed, not given)."
        )
    out = {}
    for ion in layout.ions:
        e, ci, co, _ = ion_variables(ion)
        mask = layout.nernst_mask[ion]
        nodes = layout.used_nodes[ion]
        read = {n for k, u in enumerate(layout.uses) for x in u if x.ion == ion for n in x.read}
        written = {n for u in layout.uses for x in u if x.ion == ion for n in x.write}
        for name in (e, ci, co):
            if name == e and name in given and mask[nodes].all():
                raise ValueError(
                    f"ions[{e!r}]: {e} is computed from {ci} and {co} by the Nernst equation "
                    f"wherever {ion} is used (a mechanism there reads or writes a {ion} "
                    f"concentration: NEURON's rule); give {ci!r}/{co!r} instead."
                )
            if name in given:
                value = as_float(given[name])
            elif ion in BUILTIN_IONS:
                value = as_float(default_value(name, ion))
            else:
                # a value some mechanism sees: read or written (a written concentration
                # starts from it), or a concentration behind a Nernst reversal that is read
                # (NEURON's own 1 mM / 1 mM / 0 mV for a new ion are not physical defaults)
                if name == e:
                    needed = name in read and not mask[nodes].all()
                else:
                    needed = name in read or name in written or (e in read and mask[nodes].any())
                if needed:
                    raise ValueError(
                        f"the cell's mechanisms use the ion {ion!r}, which has no default "
                        f"{name}: give it, e.g. Cell(..., ions={{{name!r}: ...}})."
                    )
                value = as_float(default_value(name, ion))
            if jnp.ndim(value) != 0 and jnp.shape(value) != (n_br,):
                raise ValueError(
                    f"ions[{name!r}] must be a scalar or one value per branch ({n_br},), got "
                    f"shape {jnp.shape(value)}."
                )
            if name != e and not isinstance(value, jax.core.Tracer):
                if not np.all(np.asarray(value) > 0):
                    raise ValueError(f"ions[{name!r}] = {value}: concentrations are mM > 0.")
            out[name] = value
    return out


def _point_processes(items, disc: Discretisation):
    """`(process, (branch, x))` pairs → the processes and their nodes, or a named error."""
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"point_processes must be a list of (process, (branch, x)), got {items!r}.")
    procs, nodes = [], []
    for j, item in enumerate(items):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(
                f"point_processes[{j}] must be a (process, (branch, x)) pair, e.g. "
                f"(load_mod('expsyn.mod'), (0, 0.5)); got {item!r}."
            )
        pp, site = item
        if not isinstance(pp, AbstractPointProcess):
            raise TypeError(
                f"point_processes[{j}] is {type(pp).__name__}, not a point process "
                "(AbstractPointProcess, e.g. an NMODL POINT_PROCESS); density mechanisms go in "
                "`mechanisms`."
            )
        (site,) = _sites(f"point_processes[{j}] site", [site], 2, "(branch, x), e.g. (0, 0.5)")
        for name, leaf in _array_fields(pp):
            if jnp.size(leaf) != 1:
                raise ValueError(
                    f"point_processes[{j}] ({type(pp).__name__}).{name} has shape "
                    f"{jnp.shape(leaf)}; a point process has one value per parameter."
                )
        procs.append(pp)
        nodes.append(disc.node(*site))
    return tuple(procs), np.array(nodes, dtype=np.int64)


def _pointer_nodes(procs, disc: Discretisation):
    """Per point process, `{POINTER: node}` of the voltages its POINTERs are bound to
    (NMODL `bind_pointer(name, v_at=(branch, x))`), or a named error for a site off the
    cell."""
    out = []
    for j, pp in enumerate(procs):
        nodes = {}
        for name, (branch, x) in getattr(pp, "pointer_sites", ()):
            try:
                nodes[name] = disc.node(branch, x)
            except (ValueError, IndexError) as e:
                raise ValueError(
                    f"point_processes[{j}] ({type(pp).__name__}): POINTER {name} is bound to "
                    f"v at ({branch}, {x}), which is not a site of this cell: {e}"
                ) from None
        out.append(nodes)
    return out


def _check_point_ions(procs, nodes, disc: Discretisation):
    """A point process writing an ion current must sit at a node with membrane (its
    current is converted to a density there: i·100/area)."""
    for j, (pp, node) in enumerate(zip(procs, nodes, strict=True)):
        writes = [n for u in getattr(type(pp), "ion_use", ()) for n in u.write]
        if writes and not disc.area[node] > 0:
            raise ValueError(
                f"point_processes[{j}] ({type(pp).__name__}) writes {writes[0]} at a node "
                "without membrane (area 0, a branch end): place it inside a branch, e.g. "
                "(branch, 0.5)."
            )


def _time(mechanism, t):
    """`{"t": t}` for a mechanism that reads the time (`uses_time`), else nothing."""
    if getattr(type(mechanism), "uses_time", False):
        if t is None:
            raise ValueError(f"{type(mechanism).__name__} reads the time t, which was not given.")
        return {"t": t}
    return {}
