"""Dendrify-style reduced compartmental neurons (Pagkalos, Chavlis & Poirazi 2023).

A soma and a few dendritic compartments, each an RC circuit, coupled by conductances;
the soma is a leaky integrate-and-fire unit, and dendrites may carry *event-driven
dendritic spikes* (dSpikes): when a dendrite's voltage reaches `threshold` (and its
refractory period is over), a depolarising Na-like conductance opens for
`duration_rise` ms and, `offset_fall` ms after the crossing, a repolarising K-like one for
`duration_fall` ms. This reproduces Dendrify's `Dendrite.dspikes` exactly in form
(square conductance pulses timed from the threshold crossing), at a fraction of a
Hodgkin–Huxley dendrite's cost.

Units (the cable units of neurojax): lengths and diameters µm, `cm` µF/cm², `gl` mS/cm²,
`ra` Ω·cm; absolute capacitance nF, conductances µS, currents nA, mV, ms.
(Dendrify's usual pF, nS, pA: divide by 1000.)

- area of a compartment `A = π·L·d` (an open cylinder), `C = cm·A`, `g_L = gl·A`;
- coupling ("half cylinders", Dendrify's default): `g = 1/((r₁ + r₂)/2)` with
  `r = 4·ra·L/(π d²)` the axial resistance of each whole compartment; `"cylinder_<name>"`:
  `g = 1/r` of the named compartment; or an explicit conductance (µS).

Timing rules are Dendrify's (and Brian2's), in whole steps of `dt` (each duration `T` is
`floor(T/dt + 10⁻³)` steps, Brian2's `timestep`; a duration that is not a whole number of
steps, or rounds to none, is an error — see `ReducedCell.check_dt`). With a dSpike
detected at step `s` (the voltage after the step's update at or above `threshold`, at
least `refractory` steps after the previous one), the rise conductance is on during the
updates of steps `s+1 … s+D_rise` and the fall conductance during those of
`max(s+1, s+O_fall) … s+O_fall+D_fall` (Dendrify's inclusive end: `D_fall + 1` steps when
the offset is at least one step). The soma fires at step `s` when `V > v_th` after the
update, at least `t_ref` steps after its last spike; it is set to `v_spike` (Dendrify's
first reset; `v_reset` when not given) and to `v_reset` `spike_width` steps later (the
second reset). By default (`clamp=False`, Dendrify's own models) it then integrates
freely and only the threshold is blocked; with `clamp=True` it is held there while
refractory, as Brian2's `(unless refractory)`. docs/dendritic.md lists every rule.

Reference: Pagkalos, Chavlis & Poirazi (2023) Introducing the Dendrify framework for
incorporating dendrites to spiking neural networks. Nat Commun 14:131.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._model import (
    NON_NEGATIVE,
    POSITIVE,
    REAL,
    AbstractModel,
    Coupled,
    as_float,
    check_precision,
    parameter,
)
from ..surrogate import AbstractSurrogate, FastSigmoid


def _check_number(what, value, lowest, strict, unit):
    """A finite real number, `> lowest` (`strict`) or `>= lowest`; else a clear error.
    A traced value (a cell built under `jit`/`grad`) passes: the model's domains are
    checked at run time instead."""
    if isinstance(value, jax.core.Tracer):
        return
    if isinstance(value, (bool, str, bytes)) or np.ndim(value) != 0 or np.iscomplexobj(value):
        kind = " (a complex number)" if np.iscomplexobj(value) else ""
        raise TypeError(f"{what} must be a number ({unit}), got {value!r}{kind}.")
    x = float(value)
    ok = np.isfinite(x) and (lowest is None or (x > lowest if strict else x >= lowest))
    if not ok:
        bound = "" if lowest is None else f" {'>' if strict else '>='} {lowest:g}"
        raise ValueError(f"{what} must be finite{bound} {unit}, got {value!r}.")


@dataclasses.dataclass(frozen=True)
class DSpikes:
    """Dendritic spike mechanism of one dendrite (Dendrify's `dspikes`).

    - `threshold`: mV; `g_rise`, `g_fall`: µS; `e_rise`, `e_fall`: mV (Dendrify's E_Na = 70,
      E_K = −89); `duration_rise`, `duration_fall`, `offset_fall`, `refractory`: ms.

    Defaults are Dendrify's example values for a thin dendrite (threshold −35 mV, rise
    0.5 ms, fall 1 ms offset by 0.5 ms, refractory 5 ms); conductances must be set.
    """

    g_rise: float
    g_fall: float
    threshold: float = -35.0
    e_rise: float = 70.0
    e_fall: float = -89.0
    duration_rise: float = 0.5
    duration_fall: float = 1.0
    offset_fall: float = 0.5
    refractory: float = 5.0

    def __post_init__(self):
        for name, lowest, strict, unit in (
            ("g_rise", 0.0, False, "µS"),
            ("g_fall", 0.0, False, "µS"),
            ("threshold", None, False, "mV"),
            ("e_rise", None, False, "mV"),
            ("e_fall", None, False, "mV"),
            ("duration_rise", 0.0, False, "ms"),
            ("duration_fall", 0.0, False, "ms"),
            ("offset_fall", 0.0, False, "ms"),
            ("refractory", 0.0, False, "ms"),
        ):
            _check_number(f"DSpikes.{name}", getattr(self, name), lowest, strict, unit)
        if self.g_rise > 0 and self.duration_rise <= 0:
            raise ValueError(
                f"DSpikes.duration_rise = {self.duration_rise} ms with g_rise = {self.g_rise} "
                "µS: the rise conductance would never open. Give a duration > 0 ms."
            )
        if self.g_fall > 0 and self.duration_fall <= 0:
            raise ValueError(
                f"DSpikes.duration_fall = {self.duration_fall} ms with g_fall = {self.g_fall} "
                "µS: the fall conductance would open for no time (or, by the inclusive end, "
                "for one step only after a nonzero offset). Give a duration > 0 ms, or "
                "g_fall = 0 for no repolarising conductance."
            )
        if self.refractory < self.duration_rise:
            raise ValueError(
                f"DSpikes.refractory = {self.refractory} ms is shorter than duration_rise = "
                f"{self.duration_rise} ms: a dSpike could re-trigger during its own rise and "
                "keep the depolarising conductance open indefinitely. Use refractory >= "
                "duration_rise."
            )


@dataclasses.dataclass(frozen=True)
class Compartment:
    """A soma or dendrite: physical (`length`, `diameter` µm, `cm` µF/cm², `gl` mS/cm²,
    `ra` Ω·cm) or dimensionless (`c_abs` nF, `gl_abs` µS); `e_l` mV; `dspikes` optional.

    `scale_factor` and `spine_factor` (physical compartments only; dimensionless, > 0)
    multiply the membrane area, hence `C` and `g_L`, as Dendrify's (a global area factor
    and one for spines; the axial resistances and couplings do not change). Dendrify's
    `NeuronModel(..., scale_factor=s, spine_factor=f)` gives every dendrite both and the
    soma `s` only."""

    name: str
    length: float | None = None
    diameter: float | None = None
    cm: float = 1.0
    gl: float = 0.05
    ra: float = 150.0
    c_abs: float | None = None
    gl_abs: float | None = None
    e_l: float = -70.0
    dspikes: DSpikes | None = None
    scale_factor: float = 1.0
    spine_factor: float = 1.0

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"a compartment's name must be a string, got {self.name!r}.")
        where = f"compartment {self.name!r}"
        _check_number(f"{where}: cm", self.cm, 0.0, True, "µF/cm²")
        _check_number(f"{where}: gl", self.gl, 0.0, True, "mS/cm²")
        _check_number(f"{where}: ra", self.ra, 0.0, True, "Ω·cm (axial resistivity)")
        _check_number(f"{where}: e_l", self.e_l, None, False, "mV")
        _check_number(f"{where}: scale_factor", self.scale_factor, 0.0, True, "(dimensionless)")
        _check_number(f"{where}: spine_factor", self.spine_factor, 0.0, True, "(dimensionless)")
        if isinstance(self.dspikes, (list, tuple)):
            raise TypeError(
                f"{where}: dspikes takes one DSpikes(...) mechanism, got {len(self.dspikes)} in "
                f"a {type(self.dspikes).__name__}. Dendrify allows several dSpike mechanisms "
                "(each its own name) in one dendrite; a ReducedCell has one per compartment "
                "(docs/dendritic.md): split the dendrite into two compartments, or merge the "
                "mechanisms into one."
            )
        if self.dspikes is not None and not isinstance(self.dspikes, DSpikes):
            raise TypeError(
                f"{where}: dspikes must be a DSpikes(...) or None, got {self.dspikes!r}."
            )
        physical = self.length is not None or self.diameter is not None
        absolute = self.c_abs is not None or self.gl_abs is not None
        if absolute and (self.scale_factor != 1.0 or self.spine_factor != 1.0):
            raise ValueError(
                f"compartment {self.name!r}: scale_factor and spine_factor scale the membrane "
                "area of a physical compartment (length, diameter); a dimensionless one "
                "(c_abs, gl_abs) has none — scale c_abs and gl_abs instead."
            )
        if physical == absolute:
            raise ValueError(
                f"compartment {self.name!r}: give either length and diameter (µm) or "
                "c_abs (nF) and gl_abs (µS), not both and not neither."
            )
        vals = (self.length, self.diameter) if physical else (self.c_abs, self.gl_abs)
        for v in vals:
            if v is not None and (
                isinstance(v, (bool, str, bytes, np.bool_)) or np.ndim(v) != 0 or np.iscomplexobj(v)
            ):
                raise TypeError(
                    f"compartment {self.name!r}: "
                    + ("length and diameter (µm)" if physical else "c_abs (nF) and gl_abs (µS)")
                    + f" must be numbers, got {vals}."
                )
        if any(v is None or not np.isfinite(v) or v <= 0 for v in vals):
            raise ValueError(
                f"compartment {self.name!r}: "
                + ("length and diameter" if physical else "c_abs and gl_abs")
                + f" must be > 0, got {vals}."
            )

    @property
    def area(self) -> float | None:
        """µm² (π·L·d·scale_factor·spine_factor), or None for a dimensionless compartment."""
        if self.length is None:
            return None
        return float(np.pi * self.length * self.diameter * self.scale_factor * self.spine_factor)

    @property
    def capacitance(self) -> float:
        """nF."""
        return self.c_abs if self.area is None else self.cm * self.area * 1e-5

    @property
    def g_leak(self) -> float:
        """µS."""
        return self.gl_abs if self.area is None else self.gl * self.area * 1e-5

    @property
    def r_axial(self) -> float:
        """Axial resistance of the whole cylinder, MΩ."""
        if self.area is None:
            raise ValueError(
                f"compartment {self.name!r} is dimensionless: give the coupling conductance "
                "(µS) explicitly in the connection."
            )
        return 4 * self.ra * self.length * 1e-4 / (np.pi * (self.diameter * 1e-4) ** 2) * 1e-6


class ReducedState(NamedTuple):
    """`v` (mV) per compartment, and the dSpike conductance gates (0 or 1, switched by
    events; zero derivative between them)."""

    v: Array
    rise: Array
    fall: Array


class ReducedTimers(NamedTuple):
    """Whole steps since each compartment's last dSpike and since the soma's last spike
    (counted in floats, exact to 2²⁴; capped at `_NEVER`, "long ago")."""

    since_dspike: Array  # (*batch, n)
    since_spike: Array  # (*batch,)


def _columns(x, n: int) -> tuple:
    """The `n` columns `x[..., i]` of an array shaped `(..., n)`."""
    return tuple(x[..., i] for i in range(n))


def _stack_filled(cols, like, fill):
    """`cols` stacked on a last axis, a `None` column (a compartment without dSpikes,
    whose gate or timer is constant) filled with `fill` shaped like `like`."""
    return jnp.stack([jnp.full_like(like, fill) if c is None else c for c in cols], axis=-1)


class _ReducedColumnsBase(NamedTuple):
    vs: tuple
    rises: tuple
    falls: tuple


class ReducedColumns(_ReducedColumnsBase):
    """A `ReducedCell` population's state in a `neurojax.network.Network`, stored
    compartment by compartment: `vs`, `rises`, `falls` hold one `(size,)` array per
    compartment. `v`, `rise` and `fall` give the `ReducedState` view, `(size, n)` (so
    `Solution.v[population]` is `(n_saved, size, n_compartments)`), and `_replace(v=...)`
    takes it too.

    Why not `ReducedState`'s `(size, n)` arrays: the solver's update of an interleaved
    `(size, 3)` array is one loop whose three compartments differ, which XLA:CPU compiled
    into vectorised code for the cells alone but into scalar code inside the whole
    network's step (44 % of the 10⁴-neuron benchmark's step, read with `perf`);
    columns are plain contiguous loops (docs/dendritic.md, "Performance").

    A `None` gate column (`rises[i]`, `falls[i]`) is a compartment without dSpikes,
    whose gates stay 0 (a network stores none for them: `ReducedCell.init_columns`'s
    `dspikes`); the views fill it with zeros."""

    __slots__ = ()

    @property
    def v(self):
        return jnp.stack(self.vs, axis=-1)

    @property
    def rise(self):
        return _stack_filled(self.rises, self.vs[0], 0.0)

    @property
    def fall(self):
        return _stack_filled(self.falls, self.vs[0], 0.0)

    def _replace(self, **kwargs):
        for view, cols in (("v", "vs"), ("rise", "rises"), ("fall", "falls")):
            if view in kwargs:
                x = kwargs.pop(view)
                kwargs[cols] = _columns(x, len(self.vs))
        return super()._replace(**kwargs)


class _ReducedTimerColumnsBase(NamedTuple):
    since_dspikes: tuple
    since_spike: Array


class ReducedTimerColumns(_ReducedTimerColumnsBase):
    """`ReducedTimers` stored compartment by compartment (`ReducedColumns`' discrete
    state): `since_dspikes` one `(size,)` array per compartment (`None` for a
    compartment without dSpikes, whose timer stays at "never"); `since_dspike` the
    `(size, n)` view."""

    __slots__ = ()

    @property
    def since_dspike(self):
        return _stack_filled(self.since_dspikes, self.since_spike, _NEVER)


_NEVER = 1e7  # steps: "no event yet"; exact in float32 (< 2²⁴) and above any timing

# Brian2's `timestep(t, dt) = int((t + 1e-3·dt)/dt)`: durations are floored to whole steps
# after a shift of 10⁻³ step, so that multiples of dt are not lost to rounding.
_SHIFT = 1e-3


def _steps(duration, dt):
    """Dendrify's (Brian2's) whole number of steps in `duration` ms (array-friendly)."""
    return jnp.floor(duration / dt + _SHIFT)


class ReducedCell(AbstractModel):
    r"""A Dendrify-style reduced neuron: compartment 0 is a leaky integrate-and-fire soma.

    $$C_i \dot V_i = g_{L,i}(E_{L,i} - V_i) + \sum_j g_{ij}(V_j - V_i)
      + g^{rise}_i r_i (E^{rise}_i - V_i) + g^{fall}_i f_i (E^{fall}_i - V_i) + I_i$$

    Build with `ReducedCell.build(compartments, connections, ...)`. Inputs: injected
    current, nA, shaped `(n_steps, *batch, n_compartments)` (one column per compartment).
    Events: `{"soma": spikes (*batch,), "dspikes": (*batch, n)}`.

    Parameters (trainable arrays, one value per compartment / connection): `c` nF,
    `g_l` µS, `e_l` mV, `g_couple` µS, the dSpike `g_rise`, `g_fall` µS, `threshold`,
    `e_rise`, `e_fall` mV; soma `v_th`, `v_reset`, `v_spike` mV, `t_ref`, `spike_width`
    ms. Timing parameters of the dSpikes (durations, offset, refractoriness, ms) are
    fixed arrays. Timing rules (whole steps, Dendrify's order) are in the module
    docstring and docs/dendritic.md; `clamp` (static, default False as in Dendrify)
    holds the soma while refractory.

    In a `neurojax.network.Network` a `ReducedCell` is a population like any point
    neuron: projections and drives name the compartment they target
    (`Projection(..., compartment="distal")`), external currents go to the soma or to
    named compartments.

    Reference: Pagkalos, Chavlis & Poirazi (2023) Nat Commun 14:131.
    """

    c: Array = eqx.field(converter=as_float, metadata={"domain": POSITIVE})
    g_l: Array = eqx.field(converter=as_float, metadata={"domain": POSITIVE})
    e_l: Array = eqx.field(converter=as_float, metadata={"domain": REAL})
    g_couple: Array = eqx.field(converter=as_float, metadata={"domain": POSITIVE})
    g_rise: Array = eqx.field(converter=as_float, metadata={"domain": NON_NEGATIVE})
    g_fall: Array = eqx.field(converter=as_float, metadata={"domain": NON_NEGATIVE})
    threshold: Array = eqx.field(converter=as_float)  # +inf: no dSpikes (checked: no NaN)
    e_rise: Array = eqx.field(converter=as_float, metadata={"domain": REAL})
    e_fall: Array = eqx.field(converter=as_float, metadata={"domain": REAL})
    duration_rise: Array = eqx.field(converter=as_float, metadata={"domain": NON_NEGATIVE})
    duration_fall: Array = eqx.field(converter=as_float, metadata={"domain": NON_NEGATIVE})
    offset_fall: Array = eqx.field(converter=as_float, metadata={"domain": NON_NEGATIVE})
    refractory_d: Array = eqx.field(converter=as_float, metadata={"domain": NON_NEGATIVE})
    v_th: Array = parameter(-50.0)
    v_reset: Array = parameter(-65.0)
    t_ref: Array = parameter(2.0, NON_NEGATIVE)
    v_spike: Array | None = eqx.field(
        default=None,
        converter=lambda x: None if x is None else as_float(x),
        metadata={"domain": REAL},
    )
    spike_width: Array = parameter(0.0, NON_NEGATIVE)
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)
    edges: tuple = eqx.field(static=True, default=())
    names: tuple = eqx.field(static=True, default=())
    clamp: bool = eqx.field(static=True, default=False)

    structure: ClassVar = Coupled()

    @classmethod
    def build(
        cls,
        compartments: Sequence[Compartment],
        connections: Sequence[tuple[str, str] | tuple[str, str, float | str]],
        *,
        v_th: float = -50.0,
        v_reset: float = -65.0,
        t_ref: float = 2.0,
        v_spike: float | None = None,
        spike_width: float = 0.0,
        clamp: bool = False,
        surrogate: AbstractSurrogate | None = None,
    ) -> ReducedCell:
        """A reduced cell from `Compartment`s (the first is the soma; a compartment named
        `"soma"` anywhere else is refused, since Dendrify's `Soma` may be listed anywhere)
        and connections `(name_a, name_b)` or `(name_a, name_b, "half_cylinders")`
        (Dendrify's default), `(name_a, name_b, "cylinder_<name>")` (the axial conductance
        of that whole compartment) or `(name_a, name_b, g)` (µS, > 0).

        Soma: threshold `v_th`, reset `v_reset` (mV), refractory `t_ref` (ms); with
        `v_spike` (mV) the soma is first set to `v_spike` and `spike_width` ms later to
        `v_reset` (Dendrify's `reset` and `second_reset`). By default (`clamp=False`,
        Dendrify's models) the soma is not held while refractory, only its threshold is
        blocked; `clamp=True` holds it (Brian2's `(unless refractory)`); `clamp` must be a
        bool (a string such as `"no"` is refused, not read as true)."""
        comps = list(compartments)
        if not comps:
            raise ValueError("a reduced cell needs at least a soma compartment.")
        for k, comp in enumerate(comps):
            if not isinstance(comp, Compartment):
                raise TypeError(
                    f"compartments[{k}] must be a neurojax.cable.Compartment, got "
                    f"{type(comp).__name__}."
                )
        names = [str(c.name) for c in comps]  # (a numpy str_ would be a static array)
        if len(set(names)) != len(names):
            raise ValueError(f"compartment names must be unique, got {names}.")
        if not isinstance(clamp, (bool, np.bool_)):
            raise TypeError(
                f"ReducedCell.build: clamp must be True or False (hold the soma while "
                f"refractory), got {clamp!r}."
            )
        named_soma = [k for k, n in enumerate(names) if n.lower() == "soma"]
        if named_soma and named_soma[0] != 0:
            raise ValueError(
                f"ReducedCell.build: compartment {names[named_soma[0]]!r} is at position "
                f"{named_soma[0]} of {names}, but a ReducedCell's soma (the integrate-and-fire "
                "unit that spikes, where plain-array inputs and compartment=None projections "
                f"go) is its first compartment: {names[0]!r} would spike instead. Put the "
                "soma first (Dendrify tells the soma by its class, Soma, wherever it is "
                "listed; here it is told by its place)."
            )
        index = {n: i for i, n in enumerate(names)}
        edges, g, pairs = [], [], set()
        for conn in connections:
            if not isinstance(conn, (tuple, list)) or len(conn) not in (2, 3):
                raise ValueError(
                    f"a connection is (a, b), (a, b, 'half_cylinders'), (a, b, "
                    f"'cylinder_<name>') or (a, b, g_µS), got {conn!r}."
                )
            a, b = conn[0], conn[1]
            for n in (a, b):
                if n not in index:
                    raise ValueError(
                        f"connection {tuple(conn)!r} names {n!r}, not a compartment of {names}."
                    )
            if a == b:
                raise ValueError(f"connection {tuple(conn)!r} connects {a!r} to itself.")
            if frozenset((a, b)) in pairs:
                raise ValueError(
                    f"connection {tuple(conn)!r} couples {a!r} and {b!r} a second time; give "
                    "each pair once (Dendrify refuses it too), with the total conductance if "
                    "two in parallel are meant."
                )
            pairs.add(frozenset((a, b)))
            how = conn[2] if len(conn) == 3 else "half_cylinders"
            if isinstance(how, str):
                if how == "half_cylinders":
                    gc = 1.0 / ((comps[index[a]].r_axial + comps[index[b]].r_axial) / 2)
                elif how.startswith("cylinder_") and how[len("cylinder_") :] in (a, b):
                    gc = 1.0 / comps[index[how[len("cylinder_") :]]].r_axial
                else:
                    raise ValueError(
                        f"connection {tuple(conn)!r}: unknown coupling {how!r}; use "
                        f"'half_cylinders', 'cylinder_{a}', 'cylinder_{b}' or a conductance "
                        "in µS."
                    )
            else:
                _check_number(
                    f"coupling conductance of connection {tuple(conn)!r}", how, 0.0, True, "µS"
                )
                gc = float(how)
            edges.append((index[a], index[b]))
            g.append(gc)
        reached, todo = {0}, [0]  # compartments the soma's currents can reach
        while todo:
            i = todo.pop()
            for e in edges:
                for j in e if i in e else ():
                    if j not in reached:
                        reached.add(j)
                        todo.append(j)
        if len(reached) < len(names):
            lost = [n for k, n in enumerate(names) if k not in reached]
            raise ValueError(
                f"compartments {lost} are not connected to the soma {names[0]!r} by any chain "
                "of connections: they would be isolated circuits whose currents never reach "
                "it. Add the missing connection (Dendrify builds a model from its "
                "connections only)."
            )
        ds = [c.dspikes for c in comps]
        if ds[0] is not None:
            raise ValueError(
                f"compartment {names[0]!r} is the soma (the first compartment, a leaky "
                "integrate-and-fire unit); dSpikes belong to dendrites."
            )

        def col(attr, none):
            return np.array([none if d is None else getattr(d, attr) for d in ds], float)

        for what, val, unit in (("v_th", v_th, "mV"), ("v_reset", v_reset, "mV")):
            _check_number(f"ReducedCell.{what}", val, None, False, unit)
        if v_spike is not None:
            _check_number("ReducedCell.v_spike", v_spike, None, False, "mV")
        # (t_ref and spike_width: their domains are checked when the cell is made)
        traced = any(isinstance(x, jax.core.Tracer) for x in (t_ref, spike_width))
        if (  # (traced: checked at run time, `check_call`)
            not traced
            and np.ndim(t_ref) == 0
            and np.ndim(spike_width) == 0
            and 0 <= t_ref < spike_width
        ):
            raise ValueError(
                f"ReducedCell.spike_width = {spike_width} ms is longer than t_ref = {t_ref} "
                "ms: the soma could fire again before its second reset. Use spike_width <= "
                "t_ref."
            )
        if not isinstance(spike_width, jax.core.Tracer) and (v_spike is None) != np.all(
            np.asarray(spike_width) == 0
        ):
            raise ValueError(
                "ReducedCell: v_spike (mV, Dendrify's first reset) and spike_width (ms, the "
                "time to its second reset, v_reset) go together: give both (spike_width > "
                f"0) or neither; got v_spike={v_spike!r}, spike_width={spike_width!r}."
            )
        # +inf is "no dSpikes": a finite DSpikes threshold beyond the precision (1e39 mV in
        # float32) would become +inf and silently never fire
        dtype = jax.dtypes.canonicalize_dtype(float)  # the cell's (float32 unless x64)
        with np.errstate(over="ignore"):
            th = col("threshold", np.inf).astype(dtype)
        lost = [names[i] for i, d in enumerate(ds) if d is not None and not np.isfinite(th[i])]
        if lost:
            raise ValueError(
                f"ReducedCell.build: the DSpikes threshold of compartment(s) {lost} "
                f"({[ds[names.index(n)].threshold for n in lost]} mV) overflows "
                f"{np.dtype(dtype).name} to ±inf (+inf means no dSpikes: they would silently "
                "never fire). Give a threshold in mV within range."
            )
        return cls(
            c=np.array([x.capacitance for x in comps]),
            g_l=np.array([x.g_leak for x in comps]),
            e_l=np.array([x.e_l for x in comps]),
            g_couple=np.array(g),
            g_rise=col("g_rise", 0.0),
            g_fall=col("g_fall", 0.0),
            threshold=col("threshold", np.inf),
            e_rise=col("e_rise", 0.0),
            e_fall=col("e_fall", 0.0),
            duration_rise=col("duration_rise", 0.0),
            duration_fall=col("duration_fall", 0.0),
            offset_fall=col("offset_fall", 0.0),
            refractory_d=col("refractory", 0.0),
            v_th=v_th,
            v_reset=v_reset,
            t_ref=t_ref,
            v_spike=v_spike,
            spike_width=spike_width,
            clamp=bool(clamp),
            surrogate=FastSigmoid() if surrogate is None else surrogate,
            edges=tuple(edges),
            names=tuple(names),
        )

    def __check_init__(self):
        # (equinox runs AbstractModel.__check_init__, the domain check, as well)
        check_precision(self)
        n = len(self.names)
        if n < 1:
            raise ValueError("a ReducedCell needs at least a soma compartment.")
        edges = np.array(self.edges, dtype=int).reshape(-1, 2)
        if edges.size and (edges.min() < 0 or edges.max() >= n):
            raise ValueError(
                f"ReducedCell edges {self.edges} name compartments outside 0..{n - 1}."
            )
        self.check_shapes()
        if not isinstance(self.clamp, (bool, np.bool_)):
            raise TypeError(f"ReducedCell.clamp must be True or False, got {self.clamp!r}.")
        self.check_threshold()

    def check_shapes(self) -> None:
        """Refuse per-compartment parameters that are not a scalar or one value per
        compartment, and a `g_couple` that is not one value per connection. Run when the
        cell is made and by `check_call` (a value set afterwards by `eqx.tree_at` skips
        `__check_init__`; it would otherwise fail inside JAX's broadcasting)."""
        n = len(self.names)
        for name in (
            "c",
            "g_l",
            "e_l",
            "g_rise",
            "g_fall",
            "threshold",
            "e_rise",
            "e_fall",
            "duration_rise",
            "duration_fall",
            "offset_fall",
            "refractory_d",
        ):
            if jnp.shape(getattr(self, name)) not in ((), (n,)):
                raise ValueError(
                    f"ReducedCell.{name} has shape {jnp.shape(getattr(self, name))}; it must be "
                    f"a scalar or one value per compartment ({n},); a population shares them "
                    "(no per-neuron values). Build with ReducedCell.build."
                )
        if jnp.shape(self.g_couple) not in ((), (len(self.edges),)):
            raise ValueError(
                f"ReducedCell.g_couple has shape {jnp.shape(self.g_couple)}; it must be one "
                f"value per connection ({len(self.edges)},)."
            )

    def check_population(self, size: int, where: str = "ReducedCell") -> None:
        """Refuse, for a population of `size` of these cells, parameters of the wrong
        shape: the per-compartment ones (`check_shapes`) and the soma's (`v_th`,
        `v_reset`, `v_spike`, `t_ref`, `spike_width`), which may be one value for all or
        one per neuron, `(size,)`. Run when a `Population` is made and by the network's
        `check_call` (a value set by `eqx.tree_at` skips both constructors): 4 thresholds
        for 3 neurons ran without a word until the run failed in JAX's broadcasting."""
        if (
            isinstance(size, (bool, np.bool_))
            or not isinstance(size, (int, np.integer))
            or size < 1
        ):
            # 0, -1, 2.5, True, "3", None passed (a scalar cell has nothing to compare)
            raise ValueError(f"{where}: the population size must be an int >= 1, got {size!r}.")
        try:
            self.check_shapes()
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        for name in ("v_th", "v_reset", "v_spike", "t_ref", "spike_width"):
            value = getattr(self, name)
            if value is None:
                continue
            shape = tuple(jnp.shape(value))
            if shape not in ((), (1,), (size,)):
                raise ValueError(
                    f"{where}: ReducedCell.{name} has shape {shape}; the soma's parameters "
                    f"are one value for all neurons (a scalar) or one per neuron, shaped "
                    f"({size},) for this population of {size}."
                )

    @property
    def n(self) -> int:
        return len(self.names)

    def check_threshold(self, where: str = "ReducedCell") -> tuple:
        """Refuse a NaN dSpike `threshold` (NaN never compares `>=`, so that compartment
        would silently never fire): a `ValueError` naming the compartments for concrete
        thresholds, else `((bad, message),)` for `simulate`'s run-time check. Run when the
        cell is made, by `check_call` (a threshold set afterwards, by `eqx.tree_at` or a
        fit, skips `__check_init__`) and when a `Network` is built."""
        th = self.threshold
        message = (
            f"{where}: the dSpike threshold is NaN in compartment(s) {{}}: NaN never "
            "compares >=, so they would never fire a dSpike. Give a threshold in mV (+inf: "
            "no dSpikes), e.g. check what set it (eqx.tree_at, a fit's step)."
        )
        if isinstance(th, jax.core.Tracer):
            return ((jnp.any(jnp.isnan(th)), message.format("(traced)")),)
        nan = np.isnan(np.broadcast_to(np.asarray(th, float), (self.n,)))
        if np.any(nan):
            raise ValueError(message.format([self.names[i] for i in np.flatnonzero(nan)]))
        return ()

    def compartment_index(self, name: str) -> int:
        """The position of compartment `name` (0 is the soma); a clear error otherwise."""
        if not isinstance(name, str) or name not in self.names:
            raise ValueError(
                f"{name!r} is not a compartment of this ReducedCell; its compartments are "
                f"{list(self.names)}."
            )
        return self.names.index(name)

    def check_dt(self, dt: float, where: str = "ReducedCell") -> bool:
        """Refuse timings that a step of `dt` ms cannot represent: every dSpike duration,
        offset and refractory period, the soma's `t_ref` and `spike_width`, must be a
        whole number of steps (Dendrify floors them silently; here that is an error
        naming the compartment), a rise or fall duration must be at least one step, every
        timing below 10⁷ steps (the event timers' "never"; one value per neuron is checked
        value by value) and `spike_width <= t_ref`.
        Returns False (nothing checked) when the timings are traced (a cell built inside
        `jit`/`grad`): then `simulate` checks them at run time."""
        dt = float(dt)
        names = (
            "threshold",
            "g_rise",
            "g_fall",
            "duration_rise",
            "duration_fall",
            "offset_fall",
            "refractory_d",
            "t_ref",
            "spike_width",
        )
        if any(isinstance(getattr(self, k), jax.core.Tracer) for k in names):
            return False  # built under jit/grad: checked at run time (`events(check=True)`)

        def whole(what, value):
            value = float(value)
            if not (np.isfinite(value) and value >= 0):  # (set after the build: eqx.tree_at)
                raise ValueError(
                    f"{where}: {what} = {value:g} ms; a duration must be finite and >= 0 ms "
                    "(a whole number of steps of dt)."
                )
            n = value / dt
            if n >= _NEVER:  # the timers count at most _NEVER steps ("long ago")
                raise ValueError(
                    f"{where}: {what} = {value:g} ms is {n:.4g} steps of dt = {dt:g} ms; the "
                    f'event timers count at most {_NEVER:.0e} steps ("never"), so the '
                    "first event would be blocked and later ones mistimed. Use a duration "
                    f"below {_NEVER * dt:g} ms (or a larger dt)."
                )
            if abs(n - round(n)) > 1e-6 * max(1.0, n):
                raise ValueError(
                    f"{where}: {what} = {value:g} ms is not a whole number of steps of dt = "
                    f"{dt:g} ms ({n:.6g} steps; Dendrify would floor it to {int(n + _SHIFT)}). "
                    "Choose a dt that divides it, or round the duration."
                )
            return round(n)

        arrays = {
            k: np.broadcast_to(np.asarray(getattr(self, k), float), (self.n,))
            for k in (
                "threshold",
                "g_rise",
                "g_fall",
                "duration_rise",
                "duration_fall",
                "offset_fall",
                "refractory_d",
            )
        }
        for i, name in enumerate(self.names):
            if not np.isfinite(arrays["threshold"][i]):
                continue
            at = f"compartment {name!r}: DSpikes"
            steps = {
                k: whole(f"{at}.{k.replace('refractory_d', 'refractory')}", arrays[k][i])
                for k in ("duration_rise", "duration_fall", "offset_fall", "refractory_d")
            }
            if arrays["g_rise"][i] > 0 and steps["duration_rise"] < 1:
                raise ValueError(
                    f"{where}: {at}.duration_rise is shorter than one step of dt = {dt:g} ms: "
                    "the rise conductance would never open."
                )
            if steps["refractory_d"] < steps["duration_rise"]:
                raise ValueError(
                    f"{where}: {at}.refractory is shorter than its duration_rise: a dSpike "
                    "could re-trigger during its own rise."
                )
        for k in ("t_ref", "spike_width"):  # (one per neuron too: every value)
            x = np.ravel(np.asarray(getattr(self, k), float))
            n = x / dt
            bad = ~np.isfinite(n) | (n < 0) | (n >= _NEVER)
            bad |= np.abs(n - np.round(n)) > 1e-6 * np.maximum(1.0, n)
            if x.size:
                whole(f"ReducedCell.{k}", x[np.argmax(bad)] if bad.any() else x[0])
        t_ref, width = (np.asarray(getattr(self, k), float) for k in ("t_ref", "spike_width"))
        if np.any((width > 0) & (width > t_ref)):  # (set after the build: eqx.tree_at, a fit)
            raise ValueError(
                f"{where}: spike_width = {width} ms is longer than t_ref = {t_ref} ms: the "
                "soma could fire again before its second reset. Use spike_width <= t_ref."
            )
        return True

    def conductance_matrix(self) -> Array:
        """`G = diag(g_L) + L` (µS): the passive circuit's conductance matrix, whose
        inverse gives input and transfer resistances (MΩ)."""
        i, j = np.array(self.edges, dtype=int).reshape(-1, 2).T
        lap = jnp.zeros((self.n, self.n), dtype=jnp.result_type(self.g_couple))
        lap = lap.at[i, j].add(-self.g_couple).at[j, i].add(-self.g_couple)
        lap = lap.at[i, i].add(self.g_couple).at[j, j].add(self.g_couple)
        return jnp.diag(self.g_l) + lap

    def coupling_rates(self) -> Array:
        """`Σ_{j≠i} g_ij / C_i` (1/ms) per compartment: the sum of the off-diagonal
        entries of each row of the voltage Jacobian. A network subtracts it from the
        autodiff row sum to get the true diagonal `∂V̇_i/∂V_i` for its exponential
        solver (each compartment then exact under its own total conductance, its
        neighbours' voltages held over the step, as Brian2's `exponential_euler`)."""
        i, j = np.array(self.edges, dtype=int).reshape(-1, 2).T
        g = jnp.broadcast_to(self.g_couple, (len(self.edges),))
        total = jnp.zeros((self.n,), jnp.result_type(g)).at[i].add(g).at[j].add(g)
        return total / self.c

    def batch_shape(self, inputs):
        leaves = jax.tree_util.tree_leaves(inputs)
        if len(leaves) != 1 or jnp.ndim(leaves[0]) < 1 or jnp.shape(leaves[0])[-1] != self.n:
            raise ValueError(
                f"a ReducedCell with {self.n} compartments {self.names} takes one current "
                f"array (nA) shaped (n_steps, *batch, {self.n}); got a step shaped "
                f"{[jnp.shape(x) for x in leaves]}."
            )
        return tuple(jnp.shape(leaves[0])[:-1])

    def init_state(self, batch_shape=()):
        check_precision(self)  # again here: jax.tree.map(astype) skips __check_init__
        self.check_shapes()  # and eqx.tree_at: a wrong shape fails in the broadcast below
        dtype = jnp.result_type(self.e_l)
        v = jnp.broadcast_to(self.e_l, (*batch_shape, self.n)).astype(dtype)
        return ReducedState(v=v, rise=jnp.zeros_like(v), fall=jnp.zeros_like(v))

    def init_discrete(self, batch_shape=()):
        dtype = jnp.result_type(self.e_l)
        return ReducedTimers(
            since_dspike=jnp.full((*batch_shape, self.n), _NEVER, dtype),
            since_spike=jnp.full(batch_shape, _NEVER, dtype),
        )

    @property
    def default_solver(self):
        from ..solvers import CrankNicolson

        return CrankNicolson()

    def _coupling(self, v):
        """`Σ_j g_ij (V_j − V_i)` per compartment, nA. Written as static per-edge slices and
        one stack, not a scatter: XLA fuses it with the rest of the step (a scatter into
        `(size, n)` per step was a separate, slow kernel on CPU in a 10⁴-cell network)."""
        return jnp.stack(self._coupling_columns([v[..., i] for i in range(self.n)]), axis=-1)

    def _coupling_columns(self, vs):
        """`_coupling` as a list of per-compartment columns, from the columns `vs`."""
        g = jnp.broadcast_to(self.g_couple, (len(self.edges),))
        cols = [jnp.zeros_like(vs[0]) for _ in range(self.n)]
        for e, (a, b) in enumerate(self.edges):
            flow = g[e] * (vs[b] - vs[a])  # into a from b
            cols[a] = cols[a] + flow
            cols[b] = cols[b] - flow
        return cols

    def _params(self, names):
        """Per-compartment parameters as lists of scalars (each broadcast to `(n,)`)."""
        return {
            k: list(_columns(jnp.broadcast_to(getattr(self, k), (self.n,)), self.n)) for k in names
        }

    def _dv_columns(self, vs, rises, falls, ins):
        """`dV/dt` (mV/ms) per compartment from the columns of `v`, `rise`, `fall` and the
        injected current (nA): the equation of the class docstring, one column each."""
        p = self._params(("c", "g_l", "e_l", "g_rise", "g_fall", "e_rise", "e_fall"))
        coupling = self._coupling_columns(vs)
        out = []
        for i in range(self.n):
            dv = p["g_l"][i] * (p["e_l"][i] - vs[i]) + coupling[i]
            if rises[i] is not None:  # None: no dSpikes here, the gates stay 0
                dv = dv + p["g_rise"][i] * rises[i] * (p["e_rise"][i] - vs[i])
            if falls[i] is not None:
                dv = dv + p["g_fall"][i] * falls[i] * (p["e_fall"][i] - vs[i])
            out.append((dv + ins[i]) / p["c"][i])
        return out

    def vector_field(self, t, y: ReducedState, inputs):
        v = y.v
        shape = jnp.broadcast_shapes(jnp.shape(v), jnp.shape(inputs))
        v = jnp.broadcast_to(v, shape)
        inputs = jnp.broadcast_to(inputs, shape)
        rise, fall = jnp.broadcast_to(y.rise, shape), jnp.broadcast_to(y.fall, shape)
        # One column per compartment, stacked once at the end (the same sums in the same
        # order as `_coupling` plus the other terms, so bit-identical): XLA then fuses the
        # Euler update with the events' step; a stacked coupling added to (n, c)-shaped
        # terms was materialised as its own pass and the step cost 2.4× more on CPU
        # (benchmarks/profile_dendritic_step.py, docs/dendritic.md).
        n = self.n
        dv = self._dv_columns(
            _columns(v, n), _columns(rise, n), _columns(fall, n), _columns(inputs, n)
        )
        zero = jnp.zeros_like(y.v)
        return ReducedState(v=jnp.stack(dv, axis=-1), rise=zero, fall=zero)

    # ------------------------------------------------- a population in a Network

    def dspiking(self) -> tuple[bool, ...]:
        """Per compartment, whether it can fire dSpikes: its `threshold` is not `+inf`
        (`build` gives `+inf` to compartments without `DSpikes`). Every compartment when
        the thresholds are traced (a cell built under `jit`/`grad`). A network keeps no
        gate or timer state for the others (`init_columns(dspikes=...)`), and refuses a
        run where such a compartment's threshold became finite (`check_dspiking`)."""
        th = self.threshold
        if isinstance(th, jax.core.Tracer):
            return (True,) * self.n
        th = np.broadcast_to(np.asarray(th, float), (self.n,))
        return tuple(bool(t != np.inf) for t in th)

    def check_dspiking(self, dspikes, where: str = "ReducedCell") -> tuple:
        """The check that the compartments marked `False` in `dspikes` (stored without
        dSpike state) still have `threshold = +inf`: a `ValueError` for concrete
        thresholds, else `((bad, message),)` for `simulate`'s run-time check."""
        off = [i for i, d in enumerate(dspikes) if not d]
        if not off:
            return ()
        th = jnp.broadcast_to(self.threshold, (self.n,))
        message = (
            f"{where}: compartments {[self.names[i] for i in off]} were built without "
            "dSpikes (threshold +inf) and the network stores no dSpike state for them, but "
            "their threshold is now finite. Build the cell (and the network) with "
            "DSpikes on those compartments instead of changing the threshold."
        )
        if not isinstance(th, jax.core.Tracer):
            if np.any(np.asarray(th)[off] != np.inf):
                raise ValueError(message)
            return ()
        return ((jnp.any(th[np.array(off)] != jnp.inf), message),)

    def init_columns(self, batch_shape=(), dspikes=None) -> ReducedColumns:
        """`init_state` stored compartment by compartment (`ReducedColumns`); with
        `dspikes` (a bool per compartment, `dspiking()`), no gate columns (`None`) for
        the compartments marked `False`."""
        y = self.init_state(batch_shape)
        dspikes = (True,) * self.n if dspikes is None else dspikes
        vs, rises, falls = (_columns(x, self.n) for x in y)
        rises, falls = (
            tuple(c if d else None for c, d in zip(x, dspikes, strict=True)) for x in (rises, falls)
        )
        return ReducedColumns(vs, rises, falls)

    def init_discrete_columns(self, batch_shape=(), dspikes=None) -> ReducedTimerColumns:
        """`init_discrete` stored compartment by compartment (`ReducedTimerColumns`);
        `dspikes` as for `init_columns` (no timer for the compartments marked `False`)."""
        z = self.init_discrete(batch_shape)
        dspikes = (True,) * self.n if dspikes is None else dspikes
        ks = tuple(
            c if d else None for c, d in zip(_columns(z.since_dspike, self.n), dspikes, strict=True)
        )
        return ReducedTimerColumns(ks, z.since_spike)

    def vector_field_columns(self, t, y: ReducedColumns, ins) -> ReducedColumns:
        """`vector_field` on `ReducedColumns`, with `ins` one injected current (nA) per
        compartment (arrays broadcastable to the population's `(size,)`)."""
        shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in (*y.vs, *ins)))
        vs = [jnp.broadcast_to(x, shape) for x in y.vs]
        dv = self._dv_columns(vs, y.rises, y.falls, [jnp.broadcast_to(x, shape) for x in ins])

        def zero(gates):
            return tuple(
                None if g is None else jnp.zeros_like(v) for g, v in zip(gates, y.vs, strict=True)
            )

        return ReducedColumns(tuple(dv), zero(y.rises), zero(y.falls))

    def check_call(self, inputs, dt):
        """`check_dt` for a concrete `dt` and timings (`simulate` calls it once, before
        the run); traced ones (under `jit`/`grad`) give the same whole-step test as one
        run-time check. A NaN dSpike `threshold` is refused too (`check_threshold`)."""
        self.check_shapes()
        nan_threshold = self.check_threshold()
        if not isinstance(dt, jax.core.Tracer) and self.check_dt(dt):
            return nan_threshold
        times = [self.t_ref, self.spike_width]
        active = jnp.isfinite(self.threshold)
        for k in ("duration_rise", "duration_fall", "offset_fall", "refractory_d"):
            times.append(jnp.where(active, getattr(self, k), 0.0))
        bad = jnp.zeros((), bool)
        for x in times:
            n = jnp.asarray(x) / dt
            bad = bad | jnp.any(jnp.abs(n - jnp.round(n)) > 1e-4 * jnp.maximum(1.0, n))
            bad = bad | jnp.any(n >= _NEVER)  # beyond the timers' "never"
        bad = bad | jnp.any((self.spike_width > 0) & (self.spike_width > self.t_ref))
        message = (
            "ReducedCell: a dSpike timing or the soma's t_ref/spike_width is not a whole "
            "number of steps of dt (Dendrify would floor it silently), is 1e7 steps or more "
            "(beyond the event timers' count), or spike_width > t_ref. Call "
            "cell.check_dt(dt) to see which, and choose a dt that divides them."
        )
        return (*nan_threshold, (bad, message))

    def event_step(self, info, y_old, y_new, z, inputs):
        return self.events(info, y_new, z)

    def events(self, info, y_new, z):
        """`event_step` without `y_old` (the timings' whole-step test is `check_call`'s,
        once per `simulate` call)."""
        n = self.n
        vs, rises, falls, ks, m, spike, fires = self._event_columns(
            info.dt, _columns(y_new.v, n), _columns(z.since_dspike, n), z.since_spike
        )
        dtype = y_new.v.dtype
        y = ReducedState(
            v=jnp.stack(vs, axis=-1), rise=jnp.stack(rises, axis=-1), fall=jnp.stack(falls, axis=-1)
        )
        events = {"soma": spike, "dspikes": jnp.stack(fires, axis=-1).astype(dtype)}
        k = jnp.stack(ks, axis=-1)
        return (
            y,
            ReducedTimers(k.astype(z.since_dspike.dtype), m.astype(z.since_spike.dtype)),
            events,
        )

    def events_columns(self, info, y_new: ReducedColumns, z: ReducedTimerColumns):
        """`events` on `ReducedColumns` and `ReducedTimerColumns` (a network's
        population); the event `"dspikes"` is `(size, n)`."""
        vs, rises, falls, ks, m, spike, fires = self._event_columns(
            info.dt, list(y_new.vs), list(z.since_dspikes), z.since_spike
        )
        dtype = y_new.vs[0].dtype
        events = {"soma": spike, "dspikes": jnp.stack(fires, axis=-1).astype(dtype)}
        return (
            ReducedColumns(tuple(vs), tuple(rises), tuple(falls)),
            ReducedTimerColumns(
                tuple(None if k is None else k.astype(z.since_spike.dtype) for k in ks),
                m.astype(z.since_spike.dtype),
            ),
            events,
        )

    def _event_columns(self, dt, vs, since_dspikes, since_spike):
        """The rules of `events`, one column per compartment: the new voltages, the gates
        for the next update, the steps since each compartment's dSpike, the steps since
        the soma's spike, the soma's spike (surrogate) and each compartment's dSpike."""
        vs0, rises, falls, fires, spike = self._event_values(dt, vs, since_dspikes, since_spike)
        ks, m = self._event_timers(since_dspikes, since_spike, fires, spike)
        fires = [jnp.zeros(jnp.shape(vs[i]), bool) if f is None else f for i, f in enumerate(fires)]
        return [vs0, *vs[1:]], rises, falls, ks, m, spike, fires

    def _event_values(self, dt, vs, since_dspikes, since_spike):
        """`_event_columns` without the timers' new values: the soma's new voltage, the
        gates for the next update, each compartment's dSpike (`None` where it has no
        dSpikes) and the soma's spike (surrogate). Reads `vs[0]` and the columns of the
        dSpiking compartments only (the others may be `None`). A `Network` computes these
        once per step behind a `lax.cond` (`network._network._materialised`) and the
        timers outside it (`_event_timers`), so that the timers' new values are written
        in place over the old ones rather than copied into the loop's carry."""
        dtype = vs[0].dtype
        p = self._params(
            ("threshold", "refractory_d", "duration_rise", "offset_fall", "duration_fall")
        )
        g_rise, g_fall = (
            list(_columns(jnp.broadcast_to(x, (self.n,)), self.n))
            for x in (self.g_rise, self.g_fall)
        )
        fires, rises, falls = [], [], []
        for i in range(self.n):
            if since_dspikes[i] is None:  # no dSpikes here (`init_discrete_columns`)
                fires.append(None)
                rises.append(None)
                falls.append(None)
                continue
            # dendritic spikes (Dendrify: `V >= Vth and t >= spiketime + refractory`),
            # checked on the voltage after this step's update; k = whole steps since the
            # last one
            k = jnp.minimum(since_dspikes[i] + 1.0, _NEVER)
            fire = (vs[i] >= p["threshold"][i]) & (k >= _steps(p["refractory_d"][i], dt))
            k = jnp.where(fire, 0.0, k)
            # gates for the next update (step s+k+1): rise for s+1 … s+D_rise, fall for
            # max(s+1, s+O) … s+O+D (Dendrify's `t <= spiketime + …` is inclusive)
            rise = k < _steps(p["duration_rise"][i], dt)
            offset = _steps(p["offset_fall"][i], dt)
            fall = (k >= offset - 1) & (k <= offset + _steps(p["duration_fall"][i], dt) - 1)
            fires.append(fire)
            rises.append(rise.astype(dtype) * (g_rise[i] > 0))
            falls.append(fall.astype(dtype) * (g_fall[i] > 0))
        # soma: leaky integrate-and-fire, Brian2's refractoriness in whole steps and its
        # schedule: threshold (on the updated V), then the second reset (Dendrify's
        # delayed self-synapse), then the reset of this step's spike
        m = jnp.minimum(since_spike + 1.0, _NEVER)
        vs0 = vs[0]
        refractory = m < _steps(self.t_ref, dt)
        width = _steps(self.spike_width, dt)
        first = self.v_reset if self.v_spike is None else self.v_spike
        if self.clamp:  # held while refractory: at v_spike, after the second reset v_reset
            vs0 = jnp.where(refractory, jnp.where(m < width, first, self.v_reset), vs0)
        # strict `V > v_th`, as Dendrify's `threshold='V_soma > ...'`
        spike = self.surrogate(vs0 - self.v_th) * (~refractory) * (vs0 != self.v_th)
        vs0 = jnp.where((m == width) & (width > 0), self.v_reset, vs0)
        vs0 = jnp.where(spike > 0, first, vs0)
        return vs0, rises, falls, fires, spike

    @staticmethod
    def _event_timers(since_dspikes, since_spike, fires, spike):
        """The timers' new values from `_event_values`' dSpikes and spike: whole steps
        since each dSpiking compartment's last dSpike (`None` for the others) and since
        the soma's last spike, the same arithmetic as `_event_values`' own count."""
        ks = [
            None if k is None else jnp.where(f, 0.0, jnp.minimum(k + 1.0, _NEVER))
            for k, f in zip(since_dspikes, fires, strict=True)
        ]
        m = jnp.where(spike > 0, 0.0, jnp.minimum(since_spike + 1.0, _NEVER))
        return ks, m
