"""`Network`: populations coupled by projections, a model like any other."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model import AbstractModel, Elementwise, StepInfo, Tree, check_precision
from ..synapses import Delta
from . import _cells
from ._connectivity import Sparse
from ._delay import Delay, delay_steps, heterogeneous_delay_steps
from ._projection import PoissonDrive, Population, Projection, _sign_message, compartments_of
from ._propagate import (
    event_propagate_delayed,
    post_targets,
    scatter_binary_events,
    scatter_events,
)
from ._spike_source import SpikeSource

# Order the writes of the time loop's carried arrays (docs/dendritic.md "Performance"):
# XLA:CPU copies a carried array at the start of each step unless every kernel reading its
# old value is ordered (by data) before the kernel writing its new one; kernels that do not
# depend on each other are unordered, so most carried arrays were copied (14 copies per
# step in bench_dendritic.py's network). `_after` makes the new synapse states depend on
# the new neuron states through a scalar that is always False. False: the former step.
ORDER = True


def _never(*trees):
    """A traced boolean scalar that is always False, computed from one element of every
    non-empty array leaf of `trees`, so that what uses it depends on them. `x > inf` is
    False for every number, NaN included; XLA cannot fold it. (XLA may recompute that
    element inside the kernel that uses it rather than read it from memory, so the
    order it buys is not guaranteed: count the copies in the compiled step.)"""
    out = jnp.zeros((), bool)
    for x in jax.tree.leaves(trees):
        x = jnp.asarray(x)
        if x.size and (
            jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)
        ):
            out = out | (x.reshape(-1)[0].astype(jnp.float32) > jnp.inf)
    return out


# Compute each ReducedCell population's events (threshold, resets, timers, spikes) once per
# step and store them (`_materialised`), rather than let XLA fuse that computation into
# every kernel that reads one of its outputs (the new voltages, the timers, the spike
# counts, the delay ring's row): each of those kernels recomputed the soma's update from
# the old voltages, which then had to be copied at the start of every step (11 copies of
# 2000- and 8000-float arrays per step in bench_dendritic.py's network, 3 with this).
# The same numbers bit for bit. False: the former step (kept to measure against,
# benchmarks/exp_dendritic_s12.py).
MATERIALISE = True


def _materialised(fn, info, *args):
    """`fn(info, *args)`, its outputs computed once and stored: it runs as the taken
    branch of a `lax.cond` whose predicate is always true (a step index is never
    negative), and XLA fuses nothing across a conditional. The other branch returns
    zeros of the same shapes and is never taken; derivatives are those of `fn`."""
    shapes = jax.eval_shape(lambda *a: fn(info, *a), *args)

    def zeros(*_):
        return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    return jax.lax.cond(jnp.asarray(info.index) >= 0, lambda *a: fn(info, *a), zeros, *args)


# The timers' new values computed after that `lax.cond` (session 13,
# `ReducedCell._event_timers`) rather than inside it: a conditional's outputs are new
# buffers, and the new timers (its outputs, while it read the old ones from the loop's
# carry) were copied back into the carry every step — 3 copies per step in
# bench_dendritic.py's network (E's two timers, I's one), 0 with this; computed from the
# dSpikes and the spike after it, XLA writes them in place over the old ones. The same
# numbers bit for bit. (Tried and not kept: only the soma's and the dSpiking
# compartments' voltages through the conditional, the other columns straight from the
# solver: XLA then updated the coupled columns in place and copied the old voltages
# instead, 6 copies.) False: the former step.
TIMERS_AFTER = True


def _reduced_events(cell, info, y, z):
    """A ReducedCell population's `events_columns(info, y, z)`, its event values
    `_materialised` and its timers computed after them (`TIMERS_AFTER`): the same
    outputs, bit for bit."""

    def values(info, vs, ks, m):
        vs0, rises, falls, fires, spike = cell._event_values(info.dt, list(vs), list(ks), m)
        return (vs0, *vs[1:]), rises, falls, fires, spike

    vs, rises, falls, fires, spike = _materialised(
        values, info, tuple(y.vs), tuple(z.since_dspikes), z.since_spike
    )
    ks, m = cell._event_timers(z.since_dspikes, z.since_spike, fires, spike)
    dtype = y.vs[0].dtype
    fires = [
        jnp.zeros(jnp.shape(v), bool) if f is None else f for v, f in zip(y.vs, fires, strict=True)
    ]
    events = {"soma": spike, "dspikes": jnp.stack(fires, axis=-1).astype(dtype)}
    timers = tuple(None if k is None else k.astype(z.since_spike.dtype) for k in ks)
    return (
        y._replace(vs=tuple(vs), rises=tuple(rises), falls=tuple(falls)),
        z._replace(since_dspikes=timers, since_spike=m.astype(z.since_spike.dtype)),
        events,
    )


def _after(never, tree):
    """`tree` unchanged (bit for bit, tangents too), but computed after `never`'s
    operands: `where(never, 0, x)` for every array leaf."""
    return jax.tree.map(lambda x: jnp.where(never, jnp.zeros_like(x), x), tree)


class NetworkState(NamedTuple):
    """Continuous state of a network (integrated by the solver)."""

    neurons: dict  # population name → the neuron model's state, shaped (size,)
    synapses: tuple  # per projection: its synapse state, shaped (size of post,)
    stp: tuple  # per projection: STPState (size of pre,) or None
    drives: tuple  # per Poisson drive: its synapse state, shaped (size of target,)


class NetworkDiscrete(NamedTuple):
    """Discrete state: the neurons' own (refractory timers) and the delay ring buffers."""

    neurons: dict
    delays: tuple  # per projection: RingState / flat per-synapse ring buffer / None
    # the delay rings' clock: steps since the rings were initialised (int32 scalar), so
    # that a run continued from `Solution.final_state` reads and writes the rows where the
    # previous run left them (`simulate`'s step index restarts at 0 in every call: a spike
    # still in flight at the end of a run was lost or delivered at the wrong step). None
    # without rings.
    step: Any = None


class Network(AbstractModel):
    r"""A spiking network: named `populations` of point neurons, `projections` between
    them and external `drives`, simulated by `neurojax.simulate` like any model.

    **Time step.** `dt` (ms) is fixed at construction because delays are whole numbers of
    steps (ring buffers have a static size); `simulate` must use the same `dt` (checked).

    **Inputs.** A dict `{population name: current}`, each shaped `(n_steps,)` or
    `(n_steps, size)`, nA (IF neurons); populations left out get no external current. At
    least one entry is needed (it sets `n_steps`), e.g. `{"E": jnp.zeros((n_steps, 1))}`.
    For a population of `ReducedCell`s such an array goes to the soma; `(n_steps, size,
    n_compartments)` gives every compartment its own, and a dict `{compartment name:
    (n_steps,) or (n_steps, size)}` feeds named compartments.

    **Dendritic neurons** (`neurojax.cable.ReducedCell` populations): projections and
    drives target a compartment (`compartment="distal"`; the soma by default), events
    are the somatic spikes (and the dSpikes as `"<name>.dspikes"` with
    `Population(..., dspikes=True)`), `Solution.v[name]` is `(n_saved, size,
    n_compartments)`. The default `ExponentialEuler` treats each compartment exactly
    under its own total conductance (leak, coupling, dSpike and synaptic conductances)
    with its neighbours' voltages held over the step — Brian2's `exponential_euler` —
    stable at any dt; `solver=Euler()` is Dendrify's default `method='euler'`.

    **Morphologically detailed cells** (`neurojax.cable.Cell` populations: `size`
    identical cells of one morphology; only with other Cell and `SpikeSource`
    populations): projections and drives put their synapses at a site `(branch, x)` of
    the target cell (`site=...`, NEURON's `ExpSyn(sec(x))`), conductance synapses only,
    or deliver events to the cell's own point processes (`synapse=PointProcessTarget(j)`,
    e.g. NEURON's `expsyn.mod` imported by `neurojax.nmodl`);
    the synaptic currents enter the cells' implicit voltage solve (all cells as one
    forest, `TRBDF2` by default, `BackwardEuler()` is NEURON's default scheme step for
    step); spikes are NEURON's `NetCon` rule at `Population(spike_site=(0, 0.5),
    threshold=-10.0)`: an upward crossing between the ends of two steps. Inputs
    `{name: the Cell's own inputs}` with a batch axis of `size` (or none); `Solution.v[name]`
    is `(n_saved, size, n_nodes)` (`record(v={name: (index, [(branch, x), ...])})` keeps
    sites). A spike of step `s` with a delay of `d` steps is delivered at the end of
    step `s + d`, which is NEURON's fixed-step delivery of an event at `t_s + delay`
    (validated against NEURON's `NetCon` + `ExpSyn`, tests/test_network_cells.py).

    **Step order** (as Brian2's schedule): the solver integrates neurons, synapses and
    STP variables over the step; then each population's threshold/reset; then each
    projection releases (STP), delays and delivers its spikes, jumping the synapse states
    (a delay of 0 acts at the end of the spike's own step, so on V from the next step);
    then Poisson drives.

    **Structure.** `Elementwise`: neurons couple only through spike events, so each
    element's ODE involves only its own variables and exponential Euler applies.

    **Events.** `{population name: spikes (size,)}` per step (exact 0/1 forward,
    surrogate gradients backward).
    """

    populations: dict[str, Population]
    projections: tuple[Projection, ...]
    drives: tuple[PoissonDrive, ...]
    dt: float | int = eqx.field(static=True)
    _delay_steps: tuple = eqx.field(static=True)  # per projection: int or "het"
    _het_delays: tuple  # per projection: int32 (n_pre, max_out) steps, or None
    _ring: tuple = eqx.field(static=True)  # per projection: ring length for het delays
    _sources: tuple = eqx.field(static=True)  # (pre, longest delay in steps) per shared ring
    _proj_source: tuple = eqx.field(static=True)  # per projection: its source, -1 for het
    _fused: tuple = eqx.field(static=True)  # groups of Sparse projections propagated together
    _proj_comp: tuple = eqx.field(static=True)  # per projection: target compartment or None
    _drive_comp: tuple = eqx.field(static=True)  # per drive: target compartment or None
    _stiff: tuple = eqx.field(static=True)  # (population, why the exponential step is refused)
    _layout: Any = eqx.field(static=True)  # Cell populations: the forest (None without)
    _proj_node: tuple = eqx.field(static=True)  # per projection: node of a Cell target
    _drive_node: tuple = eqx.field(static=True)  # per drive: node of a Cell target
    _spike_node: tuple = eqx.field(static=True)  # (population, node) per Cell population
    _dspikes: tuple = eqx.field(static=True)  # (ReducedCell population, dSpiking compartments)

    @property
    def structure(self):
        """`Elementwise` (neurons coupled only through spikes: the exponential solvers);
        `Tree` when the network has `neurojax.cable.Cell` populations (the implicit tree
        solvers, through `linearise` and `advance_gates`)."""
        return Tree() if self._layout is not None else Elementwise()

    @property
    def default_solver(self):
        """`None` (the structure's default, `ExponentialEuler`) for point and reduced
        neurons; for `Cell` populations the first cell's own default (`TRBDF2`)."""
        if self._layout is None:
            return None
        return self.populations[self._layout.names[0]].neuron.default_solver

    def __init__(self, populations: dict, projections=(), drives=(), *, dt: float | int):
        if not isinstance(populations, dict) or not populations:
            raise TypeError(
                "populations must be a non-empty dict {name: Population(neuron, size)}."
            )
        for name, pop in populations.items():
            if not isinstance(pop, Population):
                raise TypeError(
                    f"populations[{name!r}] must be a Population(neuron, size), got "
                    f"{type(pop).__name__}."
                )
        for name, pop in populations.items():
            if pop.dspikes and f"{name}.dspikes" in populations:
                # both are events named "<name>.dspikes": the population's spikes were
                # overwritten by the dendritic spikes without a word
                raise ValueError(
                    f"population {name!r} has dspikes=True, whose dendritic spikes are the "
                    f"event {name + '.dspikes'!r}, which is also the name of another "
                    "population; rename that population."
                )
        self.populations = dict(populations)
        self.projections = tuple(projections)
        self.drives = tuple(drives)
        if (
            isinstance(dt, (bool, str, bytes))
            or isinstance(dt, jax.core.Tracer)
            or np.ndim(dt) != 0
            or np.asarray(dt).dtype.kind not in "iuf"  # complex: refused, not compared
        ):
            raise TypeError(
                f"Network dt must be a concrete number of ms, real (delays are counted in "
                f"steps of it), got {dt!r}."
            )
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a time step in ms > 0, got {dt!r}.")
        self.dt = float(dt)
        names = list(self.populations)
        steps, het, rings = [], [], []
        for k, proj in enumerate(self.projections):
            if not isinstance(proj, Projection):
                raise TypeError(
                    f"projections[{k}] must be a Projection, got {type(proj).__name__}."
                )
            for end, attr in (("pre", proj.pre), ("post", proj.post)):
                if attr not in self.populations:
                    raise ValueError(
                        f"projection {k} ({proj.pre} → {proj.post}): unknown {end} population "
                        f"{attr!r}; populations are {names}."
                    )
            if isinstance(self.populations[proj.post].neuron, SpikeSource):
                raise ValueError(
                    f"projection {k} ({proj.pre} → {proj.post}): population {proj.post!r} is a "
                    "SpikeSource, which emits its input spike trains and has no membrane: "
                    "synapses onto it would have no effect. A SpikeSource can only be a "
                    "projection's pre; were pre and post swapped? (Projection(pre, post, ...))"
                )
            conn = proj.connectivity
            n_pre, n_post = self.populations[proj.pre].size, self.populations[proj.post].size
            if (conn.n_pre, conn.n_post) != (n_pre, n_post):
                raise ValueError(
                    f"projection {k} ({proj.pre} → {proj.post}): connectivity is {conn.n_pre} → "
                    f"{conn.n_post} neurons but the populations have {n_pre} → {n_post}."
                )
            if isinstance(conn, Sparse) and not isinstance(conn.post, jax.core.Tracer):
                post = np.asarray(conn.post)  # set by eqx.tree_at: Sparse's check skipped
                if post.size and (post.min() < 0 or post.max() > n_post):
                    raise ValueError(
                        f"projection {k} ({proj.pre} → {proj.post}): connectivity.post holds "
                        f"targets outside [0, {n_post}] ({n_post} marks padding), e.g. "
                        f"{post[(post < 0) | (post > n_post)][:3].tolist()}: such a synapse was "
                        "dropped without a word. Build the connectivity with from_pairs or "
                        "Sparse, which check the targets."
                    )
            if np.ndim(proj.delay) == 0:
                steps.append(delay_steps(proj.delay, self.dt, what=f"projection {k} delay"))
                het.append(None)
                rings.append(0)
            else:
                if not isinstance(conn, Sparse):
                    raise ValueError(
                        f"projection {k}: per-synapse delays need a Sparse connectivity (one delay "
                        "per stored synapse), not " + type(conn).__name__ + "."
                    )
                d = np.asarray(proj.delay)
                if d.shape != tuple(conn.post.shape):
                    raise ValueError(
                        f"projection {k}: per-synapse delays must be shaped like connectivity.post "
                        f"{tuple(conn.post.shape)}, got {d.shape}."
                    )
                s = heterogeneous_delay_steps(
                    np.where(np.asarray(conn.post) < n_post, d, 0.0), self.dt
                )
                steps.append("het")
                het.append(jnp.asarray(s, jnp.int32))
                rings.append(int(s.max()) + 1)
        for k, drive in enumerate(self.drives):
            if not isinstance(drive, PoissonDrive):
                raise TypeError(f"drives[{k}] must be a PoissonDrive, got {type(drive).__name__}.")
            if drive.target not in self.populations:
                raise ValueError(
                    f"drive {k}: unknown target population {drive.target!r}; populations are "
                    f"{names}."
                )
            target = self.populations[drive.target]
            if isinstance(target.neuron, SpikeSource):
                raise ValueError(
                    f"drive {k} (onto {drive.target}): population {drive.target!r} is a "
                    "SpikeSource, which emits its input spike trains and has no membrane: a "
                    "Poisson drive onto it would have no effect. Drive the populations it "
                    "projects to instead."
                )
            for field in ("rate", "weight"):
                shape = tuple(jnp.shape(getattr(drive, field)))
                if shape not in ((), (1,), (target.size,)):
                    raise ValueError(
                        f"drive {k} (onto {drive.target}): {field} has shape {shape}, but "
                        f"population {drive.target!r} has {target.size} neurons; give one "
                        f"{field} for all (a scalar) or one per neuron, shaped ({target.size},)."
                    )
        stiff, dspikes = {}, {}
        for name, pop in self.populations.items():
            if compartments_of(pop.neuron) is not None:
                # compartments without dSpikes (threshold +inf when built) carry no gate
                # or timer state: fewer arrays read and written per step
                pop.neuron.check_threshold(where=f"population {name!r}")  # NaN: refused
                dspikes[name] = pop.neuron.dspiking()
                # concrete timings: refused now; traced ones: `check_call`, once per run
                pop.neuron.check_dt(self.dt, where=f"population {name!r}")
                msg = self._stiffness(name, pop.neuron)
                if msg is not None:
                    stiff[name] = msg
        self._stiff = tuple(stiff.items())
        self._dspikes = tuple(dspikes.items())
        self._layout, self._spike_node = self._cell_plan()
        self._proj_node = tuple(
            self._site_node(pr.post, pr.site, pr.synapse, f"projection {k} ({pr.pre} → {pr.post})")
            for k, pr in enumerate(self.projections)
        )
        self._drive_node = tuple(
            self._site_node(d.target, d.site, d.synapse, f"drive {k} (onto {d.target})")
            for k, d in enumerate(self.drives)
        )
        self._proj_comp = tuple(
            self._resolve(pr.post, pr.compartment, f"projection {k} ({pr.pre} → {pr.post})")
            for k, pr in enumerate(self.projections)
        )
        self._drive_comp = tuple(
            self._resolve(d.target, d.compartment, f"drive {k} (onto {d.target})")
            for k, d in enumerate(self.drives)
        )
        self._delay_steps = tuple(steps)
        self._het_delays = tuple(het)
        self._ring = tuple(rings)
        # Sharing (static plans): projections without STP from the same population share
        # one ring buffer ("source"), as long as its longest homogeneous delay, written
        # once per step and read once per distinct delay (the dendritic benchmark's E
        # population, delays of 10 and 15 steps: one write of its spikes instead of two,
        # each write a pass over the population's step); those with the same delay and
        # Sparse connectivity of equal chunk are propagated together, with one search for
        # the spiking rows (COBA: E→E with E→I, I→E with I→I).
        sources, longest, proj_source, groups = [], [], [], {}
        for k, proj in enumerate(self.projections):
            if steps[k] == "het":
                proj_source.append(-1)
                continue
            key = proj.pre if proj.stp is None else (proj.pre, k)
            if key not in sources:
                sources.append(key)
                longest.append(0)
            src = sources.index(key)
            longest[src] = max(longest[src], steps[k])
            proj_source.append(src)
            conn = proj.connectivity
            if isinstance(conn, Sparse):
                groups.setdefault((src, steps[k], conn.chunk), []).append(k)
        self._sources = tuple(
            (key if isinstance(key, str) else key[0], d)
            for key, d in zip(sources, longest, strict=True)
        )
        self._proj_source = tuple(proj_source)
        self._fused = tuple(tuple(v) for v in groups.values())

    def __check_init__(self):
        # (equinox runs AbstractModel.__check_init__, the domain check, as well)
        check_precision(self)

    def _cell_plan(self):
        """The forest of the `Cell` populations (`None` without any) and the node each
        detects its spikes at. Cells are solved implicitly as one tree system, so they can
        share a network only with `SpikeSource` populations (their inputs)."""
        from ._spike_source import SpikeSource

        cells = [n for n, p in self.populations.items() if _cells.is_cell(p.neuron)]
        if not cells:
            return None, ()
        others = [
            n
            for n, p in self.populations.items()
            if not _cells.is_cell(p.neuron) and not isinstance(p.neuron, SpikeSource)
        ]
        if others:
            raise ValueError(
                f"populations {cells} are morphologically detailed cable.Cells and "
                f"{others} are not: a network of Cells is integrated by the implicit tree "
                "solvers, which cannot integrate point or reduced neurons. Give Cell "
                "networks only Cell and SpikeSource populations (spike-train inputs), or "
                "use cable.ReducedCell populations with point neurons."
            )
        pops = [self.populations[n] for n in cells]
        layout = _cells.CellLayout(cells, [p.size for p in pops], [p.neuron for p in pops])
        spike = tuple(
            (
                n,
                _cells.site_node(
                    p.neuron, p.spike_site or (0, 0.5), f"population {n!r} spike_site"
                ),
            )
            for n, p in zip(cells, pops, strict=True)
        )
        return layout, spike

    def _site_node(self, pop, site, synapse, what):
        """The node a projection's or drive's synapses sit at in a `Cell` population
        `pop` (`None` for other populations, where `site` must not be given), or
        `("events", column)` for a `PointProcessTarget`."""
        neuron = self.populations[pop].neuron
        if not _cells.is_cell(neuron) and isinstance(synapse, _cells.PointProcessTarget):
            raise ValueError(
                f"{what}: a PointProcessTarget delivers events to a cable.Cell's own point "
                f"process; population {pop!r} is a {type(neuron).__name__}."
            )
        if not _cells.is_cell(neuron):
            if site is not None:
                raise ValueError(
                    f"{what}: site={site!r} places synapses on a cable.Cell, but population "
                    f"{pop!r} is a {type(neuron).__name__}"
                    + (
                        "; name a compartment instead (compartment='...')."
                        if compartments_of(neuron) is not None
                        else "; leave site=None."
                    )
                )
            return None
        if isinstance(synapse, _cells.PointProcessTarget):
            if site is not None:
                raise ValueError(
                    f"{what}: site={site!r} with a PointProcessTarget: the events go to the "
                    "cell's own point process, which sits where Cell(point_processes=...) "
                    "put it; leave site=None."
                )
            return ("events", _cells.receiver_column(neuron, synapse, what))
        if isinstance(synapse, Delta):
            raise ValueError(
                f"{what}: a Delta synapse (a voltage jump) cannot target a cable.Cell "
                f"({pop!r}): a jump of one node's voltage is not a current. Use a "
                "conductance synapse, e.g. synapses.Exponential(tau=2.0, e_rev=0.0) "
                "(NEURON's ExpSyn)."
            )
        return _cells.site_node(neuron, (0, 0.5) if site is None else site, what)

    def _resolve(self, pop: str, compartment, what: str):
        """The compartment index a projection or drive targets in population `pop`:
        `None` for a point neuron, 0 (the soma) by default for a ReducedCell."""
        comps = compartments_of(self.populations[pop].neuron)
        if comps is None:
            if compartment is not None and _cells.is_cell(self.populations[pop].neuron):
                raise ValueError(
                    f"{what}: compartment={compartment!r}, but population {pop!r} is a "
                    "cable.Cell: place the synapses with site=(branch, x) instead."
                )
            if compartment is not None:
                raise ValueError(
                    f"{what}: compartment={compartment!r}, but population {pop!r} is a point "
                    f"neuron ({type(self.populations[pop].neuron).__name__}) with no "
                    "compartments; leave compartment=None."
                )
            return None
        if compartment is None:
            return 0
        if compartment not in comps:
            raise ValueError(
                f"{what}: population {pop!r} has no compartment {compartment!r}; its "
                f"compartments are {list(comps)}."
            )
        return comps.index(compartment)

    # Above this coupling rate × dt the exponential step (each compartment exact, its
    # neighbours held) slows the cell's slow mode: measured against a dt/20 Euler run on
    # a passive three-compartment cell, the mean error was 6 % of the depolarisation at
    # rate·dt = 1, 12 % at 2, 40 % at 10 (docs/dendritic.md).
    MAX_COUPLING_RATE_DT = 1.0

    def _stiffness(self, name, cell):
        """The message refusing the exponential step for population `name`, or None."""
        rates = cell.coupling_rates()
        if isinstance(rates, jax.core.Tracer):
            return None
        r = np.asarray(rates) * self.dt
        if np.max(r) > self.MAX_COUPLING_RATE_DT:
            i = int(np.argmax(r))
            return (
                f"population {name!r}: compartment {cell.names[i]!r} is coupled with a time "
                f"constant C/Σg = {self.dt / r[i]:.3g} ms, shorter than dt = {self.dt:g} ms. "
                "The exponential step would be stable but too slow on the cell's slow mode "
                "(and forward Euler, Dendrify's default, unstable above 2). Use dt <= "
                f"{self.dt / r[i]:.3g} ms, weaker coupling, or fewer, longer compartments."
            )
        return None

    def _n_comp(self, name):
        comps = compartments_of(self.populations[name].neuron)
        return None if comps is None else len(comps)

    # ---------------------------------------------------------------- the contract

    def batch_shape(self, inputs) -> tuple[int, ...]:
        if not isinstance(inputs, dict):
            raise TypeError(
                "a Network takes inputs as a dict {population name: current (n_steps, size)}; "
                f"got {type(inputs).__name__}."
            )
        for name, x in inputs.items():
            if name not in self.populations:
                raise ValueError(
                    f"inputs[{name!r}]: no such population; populations are "
                    f"{list(self.populations)}."
                )
            size = self.populations[name].size
            n = self._n_comp(name)
            if _cells.is_cell(self.populations[name].neuron):
                try:
                    cell = self.populations[name].neuron
                    batch = cell.batch_shape(_cells.with_events(cell, x))
                except ValueError as e:
                    msg = f"inputs[{name!r}] (a population of cable.Cells): {e}"
                    raise ValueError(msg) from None
                if tuple(batch) not in ((), (size,)):
                    raise ValueError(
                        f"inputs[{name!r}]: a population of {size} cable.Cells takes the cell's "
                        f"inputs with a batch axis of {size} (one row per cell) or none (the "
                        f"same for all), e.g. (n_steps, {size}, n_clamps); got batch shape "
                        f"{tuple(batch)}."
                    )
                continue
            if isinstance(x, dict):
                if n is None:
                    raise ValueError(
                        f"inputs[{name!r}] is a dict (per compartment), but population "
                        f"{name!r} is a point neuron; give one current array."
                    )
                comps = compartments_of(self.populations[name].neuron)
                for c, xc in x.items():
                    if c not in comps:
                        raise ValueError(
                            f"inputs[{name!r}][{c!r}]: population {name!r} has no compartment "
                            f"{c!r}; its compartments are {list(comps)}."
                        )
                    if tuple(jnp.shape(xc)) not in ((), (1,), (size,)):
                        raise ValueError(
                            f"inputs[{name!r}][{c!r}] must be shaped (n_steps,) or (n_steps, "
                            f"{size}), got (n_steps, {', '.join(map(str, jnp.shape(xc)))})."
                        )
                continue
            shape = tuple(jnp.shape(x))
            ok = ((), (1,), (size,))
            if n is not None:
                ok = ok + ((size, n), (1, n))
            if shape not in ok:
                extra = "" if n is None else f", or (n_steps, {size}, {n}) (one per compartment)"
                what = (
                    "spike counts per neuron of the SpikeSource"
                    if isinstance(self.populations[name].neuron, SpikeSource)
                    else "one current per neuron of the population"
                )
                raise ValueError(
                    f"inputs[{name!r}] must be shaped (n_steps,) or (n_steps, {size}) ({what})"
                    f"{extra}, got (n_steps, {', '.join(map(str, shape))})."
                )
        silent = [
            n
            for n, p in self.populations.items()
            if isinstance(p.neuron, SpikeSource) and n not in inputs
        ]
        if silent:
            raise ValueError(
                f"inputs has no entry for the SpikeSource population(s) {silent}: a "
                "SpikeSource emits only the spike counts given to it, so it would stay silent. "
                "Give inputs[name] shaped (n_steps, size) (e.g. from network.spike_counts or "
                "a neurojax.stimuli Poisson train; zeros for a source meant to be silent)."
            )
        return ()

    def check_call(self, inputs, dt):
        """Once per `simulate` call (`AbstractModel.check_call`): `dt` must be the one the
        delays were counted in (any other would silently rescale them); each population's
        own checks on its inputs (SpikeSource counts, cell conductances, dSpike timings);
        traced Poisson-drive weights onto conductance synapses ≥ 0 (concrete ones were
        checked when the drive was built)."""
        out = []
        wrong_dt = f"this Network was built for dt = {self.dt} ms; simulate it with that dt"
        if isinstance(dt, jax.core.Tracer):
            out.append((jnp.abs(dt - self.dt) > 1e-6 * self.dt, wrong_dt + "."))
        elif abs(float(dt) - self.dt) > 1e-6 * self.dt:
            raise ValueError(f"{wrong_dt} (got {float(dt)}).")
        for name, pop in self.populations.items():
            x = inputs.get(name) if isinstance(inputs, dict) else None
            if compartments_of(pop.neuron) is not None:  # (shapes set after the build)
                pop.neuron.check_population(pop.size, f"population {name!r}")
            out += pop.neuron.check_call(x, dt)
        for name, plan in self._dspikes:
            where = f"population {name!r}"
            out += self.populations[name].neuron.check_dspiking(plan, where)
        for syn in {id(s): s for s in self._synapses()}.values():
            out += syn.check_call(dt)
        for k, d in enumerate(self.drives):
            if d.synapse.conductance_based and isinstance(d.weight, jax.core.Tracer):
                message = _sign_message(d.synapse, f"drive {k} (onto {d.target})")
                out.append((jnp.any(d.weight < 0), message))
        return tuple(out)

    def _synapses(self):
        return [pr.synapse for pr in self.projections] + [d.synapse for d in self.drives]

    def _synapse_sites(self, y: NetworkState, proj_where, drive_where):
        """`(target population, synapse, its state, where)` for every projection, then
        every drive; `where` from `proj_where`/`drive_where` (their compartments or
        nodes)."""
        return [
            (pr.post, pr.synapse, s, w)
            for pr, s, w in zip(self.projections, y.synapses, proj_where, strict=True)
        ] + [
            (d.target, d.synapse, s, w)
            for d, s, w in zip(self.drives, y.drives, drive_where, strict=True)
        ]

    def _check_batch(self, batch_shape):
        if tuple(batch_shape) != ():
            raise ValueError(
                "a Network has no batch axis: its populations have fixed sizes. To simulate "
                "several networks at once, jax.vmap over simulate."
            )

    def init_state(self, batch_shape=()) -> NetworkState:
        check_precision(self)  # again here: jax.tree.map(astype) skips __check_init__
        self._check_batch(batch_shape)
        pops = self.populations
        return NetworkState(
            neurons={n: self._init_neuron(n) for n in pops},
            synapses=tuple(pr.synapse.init((pops[pr.post].size,)) for pr in self.projections),
            stp=tuple(
                None if pr.stp is None else pr.stp.init((pops[pr.pre].size,))
                for pr in self.projections
            ),
            drives=tuple(d.synapse.init((pops[d.target].size,)) for d in self.drives),
        )

    def init_discrete(self, batch_shape=()) -> NetworkDiscrete:
        self._check_batch(batch_shape)
        pops = self.populations
        dtype = jnp.result_type(float)
        delays = [Delay(steps).init((pops[pre].size,), dtype) for pre, steps in self._sources]
        for pr, steps, ring in zip(self.projections, self._delay_steps, self._ring, strict=True):
            if steps == "het":
                delays.append(jnp.zeros((ring * pops[pr.post].size,), dtype))
        has_ring = any(d is not None for d in delays)
        return NetworkDiscrete(
            neurons={
                n: p.neuron.init_discrete_columns((p.size,), dict(self._dspikes)[n])
                if self._n_comp(n) is not None
                else p.neuron.init_discrete((p.size,))
                for n, p in pops.items()
            },
            delays=tuple(delays),
            step=jnp.zeros((), jnp.int32) if has_ring else None,
        )

    def _init_neuron(self, name):
        """Population `name`'s initial state: a ReducedCell population's is stored
        compartment by compartment (`cable.ReducedColumns`, whose `.v` is the usual
        `(size, n_compartments)`), which XLA:CPU compiles into vectorised loops."""
        p = self.populations[name]
        if self._n_comp(name) is not None:
            return p.neuron.init_columns((p.size,), dict(self._dspikes)[name])
        return p.neuron.init_state((p.size,))

    def voltage(self, y: NetworkState) -> dict:
        """Each population's voltage, mV: `(size,)`, `(size, n_compartments)` for
        ReducedCell populations, `(size, n_nodes)` for cable.Cell populations."""
        return {n: p.neuron.voltage(y.neurons[n]) for n, p in self.populations.items()}

    def _voltages(self, y: NetworkState) -> dict:
        """`voltage`, but a list of `(size,)` columns for ReducedCell populations (their
        stored layout; no stacking in the step)."""
        return {
            n: list(y.neurons[n].vs)
            if self._n_comp(n) is not None
            else p.neuron.voltage(y.neurons[n])
            for n, p in self.populations.items()
        }

    def _external(self, inputs, name):
        """This step's external current into population `name`: `(size,)`, or a list of
        `(size,)` columns, one per compartment, for a ReducedCell population (a plain
        array goes to the soma)."""
        size = self.populations[name].size
        n = self._n_comp(name)
        dtype = jnp.result_type(float)
        x = inputs.get(name, 0.0) if isinstance(inputs, dict) else 0.0
        if n is None:
            return jnp.broadcast_to(jnp.asarray(x, dtype), (size,))
        out = [jnp.zeros((size,), dtype) for _ in range(n)]
        if isinstance(x, dict):
            comps = compartments_of(self.populations[name].neuron)
            for c, xc in x.items():
                xc = jnp.broadcast_to(jnp.asarray(xc, dtype), (size,))
                out = self._into(out, xc, comps.index(c))
            return out
        x = jnp.asarray(x, dtype)
        if x.ndim == 2:
            x = jnp.broadcast_to(x, (size, n))
            return [o + x[:, i] for i, o in enumerate(out)]
        return self._into(out, jnp.broadcast_to(x, (size,)), 0)

    def _site(self, v, comp):
        """The voltage at a synapse's site: the neuron's, or compartment `comp`'s (`v` a
        list of columns, or a `(size, n)` array)."""
        if comp is None:
            return v
        return v[comp] if isinstance(v, list) else v[:, comp]

    def _into(self, total, current, comp):
        """`total` plus `current` into compartment `comp`: `total` a list of columns (a
        ReducedCell population) gets it in column `comp`; a `(size, n)` array (the
        nodes of cable.Cells) by a one-hot broadcast, which XLA fuses, rather than a
        scatter."""
        if comp is None:
            return total + current
        if isinstance(total, list):
            out = list(total)
            out[comp] = out[comp] + current
            return out
        onehot = (jnp.arange(total.shape[-1]) == comp).astype(total.dtype)
        return total + current[:, None] * onehot

    def _currents(self, y: NetworkState) -> dict:
        """`synaptic_currents` with lists of columns for ReducedCell populations."""
        v = self._voltages(y)
        out = {
            n: [jnp.zeros_like(x) for x in v[n]] if isinstance(v[n], list) else jnp.zeros_like(v[n])
            for n in self.populations
        }
        for pr, s, c in zip(self.projections, y.synapses, self._proj_comp, strict=True):
            cur = pr.synapse.current(s, self._site(v[pr.post], c))
            out[pr.post] = self._into(out[pr.post], cur, c)
        for d, s, c in zip(self.drives, y.drives, self._drive_comp, strict=True):
            cur = d.synapse.current(s, self._site(v[d.target], c))
            out[d.target] = self._into(out[d.target], cur, c)
        return out

    def synaptic_currents(self, y: NetworkState) -> dict:
        """Total synaptic current into each population, nA, `(size,)` (`(size,
        n_compartments)` for ReducedCell populations)."""
        out = self._currents(y)
        return {n: jnp.stack(x, axis=-1) if isinstance(x, list) else x for n, x in out.items()}

    def vector_field(self, t, y: NetworkState, inputs) -> NetworkState:
        if self._layout is not None:
            raise NotImplementedError(
                "a Network of cable.Cells is a Tree model: the implicit solvers integrate it "
                "through linearise/advance_gates; its vector_field is not implemented."
            )
        v = self._voltages(y)
        syn = self._currents(y)

        def neuron(n, p):
            ext = self._external(inputs, n)
            if isinstance(ext, list):  # a ReducedCell population: its columns
                ins = [e + c for e, c in zip(ext, syn[n], strict=True)]
                return p.neuron.vector_field_columns(t, y.neurons[n], ins)
            return p.neuron.vector_field(t, y.neurons[n], ext + syn[n])

        return NetworkState(
            neurons={n: neuron(n, p) for n, p in self.populations.items()},
            synapses=tuple(
                pr.synapse.vector_field(s, self._site(v[pr.post], c))
                for pr, s, c in zip(self.projections, y.synapses, self._proj_comp, strict=True)
            ),
            stp=tuple(
                None if pr.stp is None else pr.stp.vector_field(s)
                for pr, s in zip(self.projections, y.stp, strict=True)
            ),
            drives=tuple(
                d.synapse.vector_field(s, self._site(v[d.target], c))
                for d, s, c in zip(self.drives, y.drives, self._drive_comp, strict=True)
            ),
        )

    def linear_part(self, t, y: NetworkState, inputs):
        """`None` (the autodiff diagonal) for networks of point neurons. With ReducedCell
        populations: `_reduced_diagonal` in closed form when every population is one (or
        a SpikeSource), else the autodiff diagonal — each compartment's voltage is a leaf
        of its own (`ReducedColumns`), so a unit tangent on it gives the true
        `∂V̇_i/∂V_i` (leak, coupling, dSpike and synaptic conductances)."""
        coupled = [n for n in self.populations if self._n_comp(n) is not None]
        if not coupled:
            return None
        from ..solvers._exponential_euler import diagonal_jacobian
        from ._spike_source import SpikeSource

        stiff = dict(self._stiff)
        for n in coupled:
            if n in stiff:  # found at construction (concrete couplings)
                raise ValueError(stiff[n])
        if all(
            n in coupled or isinstance(p.neuron, SpikeSource) for n, p in self.populations.items()
        ):
            return self._reduced_diagonal(t, y)
        _, lam = diagonal_jacobian(self, t, y, inputs)
        return lam

    def _reduced_diagonal(self, t, y: NetworkState) -> NetworkState:
        """The same diagonal in closed form, for networks of ReducedCells (and
        SpikeSources): `∂V̇_i/∂V_i = −(g_L + Σ_j g_ij + g_rise·r + g_fall·f + g_syn)/C`
        with `g_syn = −∂I_syn/∂V` of the synapses on compartment i (one small JVP per
        projection), and each synapse's own rates by `diagonal_jacobian` on its
        `(size,)` state. The autodiff diagonal of the whole network (one JVP of its
        vector field per state leaf) cost ~0.1 ms per step in the 10⁴-neuron benchmark,
        a third of its step; this gives the same numbers (to rounding) without it."""
        from ..cable._reduced import ReducedColumns
        from ..solvers._exponential_euler import diagonal_jacobian

        v = self._voltages(y)
        g_syn = {n: [jnp.zeros_like(x) for x in v[n]] for n in self.populations if self._n_comp(n)}
        for post, syn, s, c in self._synapse_sites(y, self._proj_comp, self._drive_comp):
            if post in g_syn:
                u = self._site(v[post], c)
                _, di = jax.jvp(
                    lambda u, syn=syn, s=s: syn.current(s, u), (u,), (jnp.ones_like(u),)
                )
                g_syn[post] = self._into(g_syn[post], -di, c)
        neurons = {}
        for n, p in self.populations.items():
            st = y.neurons[n]
            if n not in g_syn:  # a SpikeSource: no dynamics
                neurons[n] = jax.tree_util.tree_map(jnp.zeros_like, st)
                continue
            cell = p.neuron
            par = {
                k: jnp.broadcast_to(x, (cell.n,))
                for k, x in (
                    ("g_l", cell.g_l),
                    ("g_rise", cell.g_rise),
                    ("g_fall", cell.g_fall),
                    ("c", cell.c),
                    ("rates", cell.coupling_rates()),
                )
            }
            lam = []
            for i in range(cell.n):
                g = par["g_l"][i]
                if st.rises[i] is not None:  # None: no dSpikes in this compartment
                    g = g + par["g_rise"][i] * st.rises[i]
                if st.falls[i] is not None:
                    g = g + par["g_fall"][i] * st.falls[i]
                g = g + g_syn[n][i]
                lam.append(-g / par["c"][i] - par["rates"][i])

            def zero(gates, st=st):
                return tuple(None if a is None else jnp.zeros_like(a) for a in gates)

            neurons[n] = ReducedColumns(tuple(lam), zero(st.rises), zero(st.falls))

        def rates(syn, s, u):
            return diagonal_jacobian(_SynapseODE(syn), t, s, u)[1]

        return NetworkState(
            neurons=neurons,
            synapses=tuple(
                rates(pr.synapse, s, self._site(v[pr.post], c))
                for pr, s, c in zip(self.projections, y.synapses, self._proj_comp, strict=True)
            ),
            stp=tuple(
                None if pr.stp is None else rates(_STPAsSynapse(pr.stp), s, None)
                for pr, s in zip(self.projections, y.stp, strict=True)
            ),
            drives=tuple(
                rates(d.synapse, s, self._site(v[d.target], c))
                for d, s, c in zip(self.drives, y.drives, self._drive_comp, strict=True)
            ),
        )

    # ------------------------------------------------------- Cell populations (Tree)

    def _cell_inputs(self, inputs, name, y: NetworkState):
        """This step's inputs of Cell population `name`, batched `(size, ...)`, with the
        event weights that `PointProcessTarget`s delivered at the end of the last step."""
        cell, size = self.populations[name].neuron, self.populations[name].size
        dtype = jnp.result_type(float)
        x = inputs.get(name) if isinstance(inputs, dict) else None
        if x is None:
            kinds = cell._input_kinds()
            x = {k: jnp.zeros((size, m), dtype) for k, m in kinds.items()}
            x = x if set(kinds) != {"i_clamp"} else x["i_clamp"]
        x = jax.tree_util.tree_map(
            lambda a: jnp.broadcast_to(jnp.asarray(a, dtype), (size, *jnp.shape(a)[-1:])), x
        )
        x = _cells.with_events(cell, x)
        pending = [
            (node[1], s.w)
            for post, s, node in zip(
                [pr.post for pr in self.projections] + [d.target for d in self.drives],
                y.synapses + y.drives,
                self._proj_node + self._drive_node,
                strict=True,
            )
            if post == name and isinstance(node, tuple)
        ]
        if pending:
            events = x["events"]
            for col, w in pending:
                events = self._into(events, w.astype(events.dtype), col)
            x = {**x, "events": events}
        return x

    def _site_current(self, synapse, s, v, node):
        """`(I, ∂I/∂V)` of a synapse at `node` of each cell: nA and µS, `(size,)`."""
        u = v[:, node]
        return jax.jvp(lambda u: synapse.current(s, u), (u,), (jnp.ones_like(u),))

    def linearise(self, t, y: NetworkState, inputs, dt):
        """The `Tree` contract for networks of `cable.Cell`s: every cell's own
        `linearise` (its voltage equations), plus each synapse's current at its node in
        `F` and its slope `−∂I/∂V` in `M`, all cells of all populations stacked into one
        forest (`_cells.CellLayout`: zero couplings between cells)."""
        from ..solvers import TreeLinearisation, TreeOperator

        layout = self._require_cells()
        lins = {}
        for n in layout.names:
            lins[n] = self.populations[n].neuron.linearise(
                t, y.neurons[n], self._cell_inputs(inputs, n, y), dt
            )
        rhs = {n: lins[n].rhs for n in layout.names}
        diag = {n: lins[n].operator.diagonal for n in layout.names}
        for post, syn, s, node in self._synapse_sites(y, self._proj_node, self._drive_node):
            if node is None or isinstance(node, tuple):  # no site, or a point process's
                continue
            i, di = self._site_current(syn, s, y.neurons[post].v, node)
            # one-hot adds, not scatters, as the cable's step (cable/_cell.py, StaticMap:
            # a scatter can keep XLA:CPU from compiling the loop into one function; no
            # difference measured on the 5-cell test network, ~2 µs per step either way)
            rhs[post] = self._into(rhs[post], i.astype(rhs[post].dtype), node)
            diag[post] = self._into(diag[post], -di.astype(diag[post].dtype), node)

        def flat(name, x):
            shape = (layout.sizes[layout.names.index(name)], lins[name].v.shape[-1])
            return jnp.broadcast_to(x, shape).reshape(-1)

        def cat(get):
            return jnp.concatenate([flat(n, get(n)) for n in layout.names])

        v = cat(lambda n: lins[n].v)
        dtype = v.dtype
        op = TreeOperator(
            layout.topology,
            cat(lambda n: diag[n]).astype(dtype),
            cat(lambda n: lins[n].operator.lower).astype(dtype),
            cat(lambda n: lins[n].operator.upper).astype(dtype),
        )
        return TreeLinearisation(
            v=v,
            capacitance=cat(lambda n: lins[n].capacitance).astype(dtype),
            operator=op,
            rhs=cat(lambda n: rhs[n]).astype(dtype),
            algebraic=layout.algebraic,
            context=(y, lins),
        )

    def advance_gates(self, t, linearisation, v_new, dt) -> NetworkState:
        """The network's state at `t + dt` from the forest's new voltages: each cell's
        own `advance_gates`, then the synaptic (and STP) states over the step at the new
        site voltages by exponential Euler (exact for linear kinetics, NEURON's `cnexp`
        for `ExpSyn`); `SpikeSource` populations are unchanged."""
        from ..solvers._exponential_euler import diagonal_jacobian, exponential_step

        layout = self._require_cells()
        y, lins = linearisation.context
        v = layout.split(v_new)
        neurons = dict(y.neurons)
        for n in layout.names:
            neurons[n] = self.populations[n].neuron.advance_gates(t, lins[n], v[n], dt)

        def advance(syn, s, v_site):
            if isinstance(syn, _cells.PointProcessTarget):  # delivered in this step
                return jax.tree_util.tree_map(jnp.zeros_like, s)
            f, lam = diagonal_jacobian(_SynapseODE(syn), t, s, v_site)
            return exponential_step(s, f, lam, dt)

        def site_v(post, node):
            if isinstance(node, tuple):
                return None
            vp = self.populations[post].neuron.voltage(neurons[post])
            return vp[:, node]

        synapses = tuple(
            advance(pr.synapse, s, site_v(pr.post, node))
            for pr, s, node in zip(self.projections, y.synapses, self._proj_node, strict=True)
        )
        stp = tuple(
            None if pr.stp is None else advance(_STPAsSynapse(pr.stp), s, None)
            for pr, s in zip(self.projections, y.stp, strict=True)
        )
        drives = tuple(
            advance(d.synapse, s, site_v(d.target, node))
            for d, s, node in zip(self.drives, y.drives, self._drive_node, strict=True)
        )
        return NetworkState(neurons=neurons, synapses=synapses, stp=stp, drives=drives)

    def _require_cells(self):
        if self._layout is None:
            raise TypeError(
                "linearise/advance_gates are the Tree contract of networks with cable.Cell "
                "populations; this network has none (it is Elementwise: use an exponential "
                "solver)."
            )
        return self._layout

    def event_step(self, info: StepInfo, y_old: NetworkState, y_new: NetworkState, z, inputs):
        dt = info.dt  # the one the delays were counted in: `check_call`, once per run
        neurons, nz, spikes, extra = {}, {}, {}, {}
        spike_nodes = dict(self._spike_node)
        for n, p in self.populations.items():
            if n in spike_nodes:  # a cable.Cell: NEURON's NetCon rule at its spike site
                neurons[n], nz[n] = y_new.neurons[n], z.neurons[n]
                th = _cells.DEFAULT_THRESHOLD if p.threshold is None else p.threshold
                node = spike_nodes[n]
                v_new = y_new.neurons[n].v[:, node]
                v_old = y_old.neurons[n].v[:, node]
                spikes[n] = _cells.crossing(v_old, v_new, th)
                continue
            if compartments_of(p.neuron) is not None:  # ReducedCell: soma spikes propagate
                # (timings were checked against dt when the network was built)
                if MATERIALISE and TIMERS_AFTER:
                    neurons[n], nz[n], spikes[n] = _reduced_events(
                        p.neuron, info, y_new.neurons[n], z.neurons[n]
                    )
                else:
                    events = p.neuron.events_columns
                    if MATERIALISE:
                        events = functools.partial(_materialised, events)
                    neurons[n], nz[n], spikes[n] = events(info, y_new.neurons[n], z.neurons[n])
            else:
                neurons[n], nz[n], spikes[n] = p.neuron.event_step(
                    info,
                    y_old.neurons[n],
                    y_new.neurons[n],
                    z.neurons[n],
                    self._external(inputs, n),
                )
            if compartments_of(p.neuron) is not None:
                if p.dspikes:
                    extra[f"{n}.dspikes"] = spikes[n]["dspikes"]
                spikes[n] = spikes[n]["soma"]
        jumps = {}
        # 1. release (STP) per projection; 2. one delay buffer per source
        released, stps = {}, []
        for k, pr in enumerate(self.projections):
            stp_state = y_new.stp[k]
            if pr.stp is not None:
                released[k], stp_state = pr.stp.on_spike(stp_state, spikes[pr.pre])
            stps.append(stp_state)
        n_src = len(self._sources)
        # the rings' own clock (a continued run goes on where the last one stopped); a
        # NetworkDiscrete built by hand without it falls back to the run's step index
        clock = info.index if getattr(z, "step", None) is None else z.step
        delayed, delays = [], []  # delayed: per source, {delay steps: delayed spikes}
        for src, (pre, longest) in enumerate(self._sources):
            ks = [k for k, s in enumerate(self._proj_source) if s == src]
            x = released.get(ks[0], spikes[pre])
            ring = Delay(longest).write(z.delays[src], x, clock)
            delayed.append(
                {
                    d: Delay(longest).read(ring, x, clock, d)
                    for d in sorted({self._delay_steps[k] for k in ks})
                }
            )
            delays.append(ring)
        # 3. propagation: fused groups of Sparse projections, then the others
        arrived = {}
        for group in self._fused:
            conns = [self.projections[k].connectivity for k in group]
            bases = tuple(
                jnp.zeros((c.n_post,), jnp.result_type(c.weight.dtype, float)) for c in conns
            )
            # a ReducedCell population's somatic spikes are exactly 0/1 (without STP)
            first = self.projections[group[0]]
            cells = compartments_of(self.populations[first.pre].neuron) is not None
            binary = first.stp is None and cells
            outs = (scatter_binary_events if binary else scatter_events)(
                (post_targets(),) * len(group),
                conns[0].chunk,
                bases,
                tuple(c.weight for c in conns),
                delayed[self._proj_source[group[0]]][self._delay_steps[group[0]]],
                tuple((c.post,) for c in conns),
            )
            arrived.update(zip(group, outs, strict=True))
        het_slot = n_src
        for k, pr in enumerate(self.projections):
            if self._delay_steps[k] == "het":
                conn = pr.connectivity
                n_post = conn.n_post
                x = released.get(k, spikes[pr.pre])
                buf = event_propagate_delayed(
                    z.delays[het_slot],
                    conn.post,
                    conn.weight,
                    self._het_delays[k],
                    x,
                    clock,
                    n_post,
                    conn.chunk,
                )
                slot = (jnp.asarray(clock, jnp.int32) % self._ring[k]) * n_post
                arrived[k] = jax.lax.dynamic_slice_in_dim(buf, slot, n_post)
                delays.append(
                    jax.lax.dynamic_update_slice_in_dim(buf, jnp.zeros_like(arrived[k]), slot, 0)
                )
                het_slot += 1
            elif k not in arrived:
                x = delayed[self._proj_source[k]][self._delay_steps[k]]
                arrived[k] = pr.connectivity.propagate(x)
        # 4. synaptic jumps
        synapses = []

        def jump(name, x, comp):
            if name not in jumps:
                st = neurons[name]
                cols = getattr(st, "vs", None)
                jumps[name] = (
                    [jnp.zeros_like(c) for c in cols] if cols is not None else jnp.zeros_like(st.v)
                )
            jumps[name] = self._into(jumps[name], x, comp)

        for k, pr in enumerate(self.projections):
            s = y_new.synapses[k]
            if isinstance(pr.synapse, Delta):
                jump(pr.post, arrived[k], self._proj_comp[k])
            else:
                s = pr.synapse.on_arrival(s, arrived[k], dt)
            synapses.append(s)
        drives = []
        if self.drives:
            self._check_key(info.key)  # static: raised while tracing, before any step runs
        for k, d in enumerate(self.drives):
            size = self.populations[d.target].size
            x = d.sample(jax.random.fold_in(info.key, k), (size,), dt)
            s = y_new.drives[k]
            if isinstance(d.synapse, Delta):
                jump(d.target, x, self._drive_comp[k])
            else:
                s = d.synapse.on_arrival(s, x, dt)
            drives.append(s)
        for n, jump in jumps.items():
            if isinstance(jump, list):  # a ReducedCell population's columns
                vs = tuple(a + b for a, b in zip(neurons[n].vs, jump, strict=True))
                neurons[n] = neurons[n]._replace(vs=vs)
            else:
                neurons[n] = neurons[n]._replace(v=neurons[n].v + jump)
        if ORDER:  # the synapses' new states written after every read of their old ones
            late = _never(neurons, nz, delays)
            synapses, drives = _after(late, (synapses, drives))
        y = NetworkState(
            neurons=neurons, synapses=tuple(synapses), stp=tuple(stps), drives=tuple(drives)
        )
        step = None if getattr(z, "step", None) is None else z.step + 1
        return y, NetworkDiscrete(neurons=nz, delays=tuple(delays), step=step), {**spikes, **extra}

    # ---------------------------------------------------------------- helpers

    def _check_key(self, key):
        """The drives' PRNG key: given, and of the threefry implementation (JAX's
        default), which `jax.random.poisson` (the drives' draw for means >= 10 per step)
        needs. Both are static properties (the key's presence and dtype), so this runs
        while the step is traced — once, before the run, compiling nothing."""
        drives = [f"drive {k} (onto {d.target})" for k, d in enumerate(self.drives)]
        if key is None:
            raise ValueError(
                f"this Network has Poisson drives ({', '.join(drives)}): pass "
                "simulate(..., key=jax.random.key(seed)) (fit(..., "
                "simulation_key=jax.random.key(seed)) when fitting)."
            )
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            impl = str(jax.random.key_impl(key))
        else:  # a raw uint32 key (`jax.random.PRNGKey`): the default implementation's
            impl = str(jax.config.jax_default_prng_impl)
        if "threefry" not in impl:
            raise ValueError(
                f"this Network's Poisson drives ({', '.join(drives)}) need a threefry PRNG "
                f"key (jax.random.poisson implements no other); the key given is {impl!r}. "
                "Pass simulate(..., key=jax.random.key(seed)) (threefry2x32, JAX's default; "
                "or impl='threefry2x32')."
            )

    def record(self, *, v: dict[str, Any] | None = None, rates: bool = False):
        """A function for `SaveAt(fn=...)` keeping the voltages of a subset of neurons:
        `v={"E": slice(0, 10)}` (any index: slice, int array) → `{"E": v[..., :10]}`.
        For a ReducedCell population the value may be `(index, "compartment")` to keep
        one compartment (`(size_kept,)`); a bare index keeps all of them. For a
        `cable.Cell` population, `(index, (branch, x))` keeps one site (`(size_kept,)`)
        and `(index, [(branch, x), ...])` several (`(size_kept, n_sites)`).

        Refused here (not in the run): an index beyond the population or its compartments
        (JAX's gather would clamp it to the last one without a word), a bare bool, and a
        `SpikeSource` population (it has no voltage; its spikes are in `Solution.spikes`)."""
        v = v or {}
        picks = {}
        for n, idx in v.items():
            if n not in self.populations:
                raise ValueError(
                    f"record(v=...): unknown population {n!r}; populations are "
                    f"{list(self.populations)}."
                )
            if isinstance(self.populations[n].neuron, SpikeSource):
                raise ValueError(
                    f"record(v={{{n!r}: ...}}): population {n!r} is a SpikeSource, which has "
                    "no voltage (it emits its input spike trains); its spikes are kept in "
                    f"Solution.spikes[{n!r}]. Record the voltage of the populations it "
                    "projects to."
                )
            comp = None
            if isinstance(idx, tuple) and len(idx) == 2 and isinstance(idx[1], str):
                comp = self._resolve(n, idx[1], f"record(v={{{n!r}: ...}})")
                idx = idx[0]
            elif (
                _cells.is_cell(self.populations[n].neuron)
                and isinstance(idx, tuple)
                and len(idx) == 2
                and isinstance(idx[1], (tuple, list))
            ):  # a cable.Cell: (index, (branch, x)) or (index, [(branch, x), ...])
                cell, where = self.populations[n].neuron, f"record(v={{{n!r}: ...}})"
                one = len(idx[1]) == 2 and not isinstance(idx[1][0], (tuple, list))
                sites = [idx[1]] if one else list(idx[1])
                nodes = np.array([_cells.site_node(cell, st, where) for st in sites])
                comp = nodes[0] if one else nodes
                idx = idx[0]
            self._check_record_index(n, idx)
            picks[n] = (idx, comp)

        def fn(y):
            out = {}
            for n, (idx, comp) in picks.items():
                x = self.populations[n].neuron.voltage(y.neurons[n])[idx]
                out[n] = x if comp is None else x[..., comp]
            return out

        return fn

    def _check_record_index(self, name, idx):
        """Refuse an index of population `name`'s voltage that NumPy would refuse (beyond
        the neurons or compartments, a float, a mask of another length): JAX's gather
        clamps an out-of-range index to the last element instead. A traced index is
        left as it is (its value is unknown here)."""
        pop = self.populations[name]
        leaves = idx if isinstance(idx, tuple) else (idx,)
        if any(isinstance(x, jax.core.Tracer) for x in leaves):
            return
        what = f"record(v={{{name!r}: ...}})"
        if any(isinstance(x, (bool, np.bool_)) for x in leaves):
            raise TypeError(
                f"{what}: the index {idx!r} is a bool, which NumPy and JAX read as a new axis, "
                "not a neuron. Give neuron indices (an int, a slice, an int array) or a "
                f"boolean mask of length {pop.size}."
            )
        if _cells.is_cell(pop.neuron):
            shape, axes = (pop.size, pop.neuron.n_nodes), "neurons × nodes"
        elif self._n_comp(name) is not None:
            shape, axes = (pop.size, self._n_comp(name)), "neurons × compartments"
        else:
            shape, axes = (pop.size,), "neurons"
        probe = np.broadcast_to(np.zeros((), np.int8), shape)  # no memory: a view
        as_np = tuple(
            x if isinstance(x, slice) or x is None or x is Ellipsis else np.asarray(x)
            for x in leaves
        )
        try:
            probe[as_np if isinstance(idx, tuple) else as_np[0]]
        except (IndexError, TypeError, ValueError) as e:
            raise IndexError(
                f"{what}: index {idx!r} does not fit population {name!r}, whose voltage is "
                f"{shape} ({axes}): {e}. (JAX would clamp an index beyond the end to the "
                "last element without a word.)"
            ) from None


class _SynapseODE:
    """A synapse's kinetics as `vector_field(t, state, v)` (for `diagonal_jacobian`)."""

    def __init__(self, synapse):
        self.synapse = synapse

    def vector_field(self, t, s, v):
        return self.synapse.vector_field(s, v)


class _STPAsSynapse:
    """Short-term plasticity's recovery as `vector_field(state, v)` (v unused)."""

    def __init__(self, stp):
        self.stp = stp

    def vector_field(self, s, v):
        return self.stp.vector_field(s)
