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
  `r = 4·ra·L/(π d²)` the axial resistance of each whole compartment.

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
    """A finite real number, `> lowest` (`strict`) or `>= lowest`; else a clear error."""
    if isinstance(value, (bool, str, bytes)) or np.ndim(value) != 0:
        raise TypeError(f"{what} must be a number ({unit}), got {value!r}.")
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


@dataclasses.dataclass(frozen=True)
class Compartment:
    """A soma or dendrite: physical (`length`, `diameter` µm, `cm` µF/cm², `gl` mS/cm²,
    `ra` Ω·cm) or dimensionless (`c_abs` nF, `gl_abs` µS); `e_l` mV; `dspikes` optional."""

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

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"a compartment's name must be a string, got {self.name!r}.")
        where = f"compartment {self.name!r}"
        _check_number(f"{where}: cm", self.cm, 0.0, True, "µF/cm²")
        _check_number(f"{where}: gl", self.gl, 0.0, True, "mS/cm²")
        _check_number(f"{where}: ra", self.ra, 0.0, True, "Ω·cm (axial resistivity)")
        _check_number(f"{where}: e_l", self.e_l, None, False, "mV")
        if self.dspikes is not None and not isinstance(self.dspikes, DSpikes):
            raise TypeError(
                f"{where}: dspikes must be a DSpikes(...) or None, got {self.dspikes!r}."
            )
        physical = self.length is not None or self.diameter is not None
        absolute = self.c_abs is not None or self.gl_abs is not None
        if physical == absolute:
            raise ValueError(
                f"compartment {self.name!r}: give either length and diameter (µm) or "
                "c_abs (nF) and gl_abs (µS), not both and not neither."
            )
        vals = (self.length, self.diameter) if physical else (self.c_abs, self.gl_abs)
        if any(v is None or not np.isfinite(v) or v <= 0 for v in vals):
            raise ValueError(
                f"compartment {self.name!r}: "
                + ("length and diameter" if physical else "c_abs and gl_abs")
                + f" must be > 0, got {vals}."
            )

    @property
    def area(self) -> float | None:
        """µm² (π·L·d), or None for a dimensionless compartment."""
        return None if self.length is None else float(np.pi * self.length * self.diameter)

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
    since_dspike: Array  # ms since each compartment's last dSpike
    refractory: Array  # soma refractory time left, ms


class ReducedCell(AbstractModel):
    r"""A Dendrify-style reduced neuron: compartment 0 is a leaky integrate-and-fire soma.

    $$C_i \dot V_i = g_{L,i}(E_{L,i} - V_i) + \sum_j g_{ij}(V_j - V_i)
      + g^{rise}_i r_i (E^{rise}_i - V_i) + g^{fall}_i f_i (E^{fall}_i - V_i) + I_i$$

    Build with `ReducedCell.build(compartments, connections, ...)`. Inputs: injected
    current, nA, shaped `(n_steps, *batch, n_compartments)` (one column per compartment).
    Events: `{"soma": spikes (*batch,), "dspikes": (*batch, n)}`.

    Parameters (trainable arrays, one value per compartment / connection): `c` nF,
    `g_l` µS, `e_l` mV, `g_couple` µS, the dSpike `g_rise`, `g_fall` µS, `threshold`,
    `e_rise`, `e_fall` mV; soma `v_th`, `v_reset` mV, `t_ref` ms. Timing parameters of
    the dSpikes (durations, offset, refractoriness, ms) are fixed arrays.

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
    surrogate: AbstractSurrogate = eqx.field(default_factory=FastSigmoid)
    edges: tuple = eqx.field(static=True, default=())
    names: tuple = eqx.field(static=True, default=())

    structure: ClassVar = Coupled()

    @classmethod
    def build(
        cls,
        compartments: Sequence[Compartment],
        connections: Sequence[tuple[str, str] | tuple[str, str, float]],
        *,
        v_th: float = -50.0,
        v_reset: float = -65.0,
        t_ref: float = 2.0,
        surrogate: AbstractSurrogate | None = None,
    ) -> ReducedCell:
        """A reduced cell from `Compartment`s (the first is the soma) and connections
        `(name_a, name_b)` (half-cylinder coupling) or `(name_a, name_b, g)` (µS)."""
        comps = list(compartments)
        if not comps:
            raise ValueError("a reduced cell needs at least a soma compartment.")
        names = [c.name for c in comps]
        if len(set(names)) != len(names):
            raise ValueError(f"compartment names must be unique, got {names}.")
        index = {n: i for i, n in enumerate(names)}
        edges, g = [], []
        for conn in connections:
            if len(conn) not in (2, 3):
                raise ValueError(f"a connection is (a, b) or (a, b, g_µS), got {conn!r}.")
            a, b = conn[0], conn[1]
            for n in (a, b):
                if n not in index:
                    raise ValueError(
                        f"connection {conn!r} names {n!r}, not a compartment of {names}."
                    )
            if a == b:
                raise ValueError(f"connection {conn!r} connects {a!r} to itself.")
            if len(conn) == 3:
                _check_number(
                    f"coupling conductance of connection {conn!r}", conn[2], 0.0, True, "µS"
                )
                gc = float(conn[2])
            else:
                gc = 1.0 / ((comps[index[a]].r_axial + comps[index[b]].r_axial) / 2)
            edges.append((index[a], index[b]))
            g.append(gc)
        ds = [c.dspikes for c in comps]

        def col(attr, none):
            return np.array([none if d is None else getattr(d, attr) for d in ds], float)

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
                    f"a scalar or one value per compartment ({n},). Build with ReducedCell.build."
                )
        if jnp.shape(self.g_couple) not in ((), (len(self.edges),)):
            raise ValueError(
                f"ReducedCell.g_couple has shape {jnp.shape(self.g_couple)}; it must be one "
                f"value per connection ({len(self.edges)},)."
            )
        th = self.threshold
        if not isinstance(th, jax.core.Tracer) and np.any(np.isnan(np.asarray(th))):
            raise ValueError(
                "ReducedCell.threshold is NaN; give a dSpike threshold in mV (+inf: none)."
            )

    @property
    def n(self) -> int:
        return len(self.names)

    def conductance_matrix(self) -> Array:
        """`G = diag(g_L) + L` (µS): the passive circuit's conductance matrix, whose
        inverse gives input and transfer resistances (MΩ)."""
        i, j = np.array(self.edges, dtype=int).reshape(-1, 2).T
        lap = jnp.zeros((self.n, self.n), dtype=jnp.result_type(self.g_couple))
        lap = lap.at[i, j].add(-self.g_couple).at[j, i].add(-self.g_couple)
        lap = lap.at[i, i].add(self.g_couple).at[j, j].add(self.g_couple)
        return jnp.diag(self.g_l) + lap

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
        dtype = jnp.result_type(self.e_l)
        v = jnp.broadcast_to(self.e_l, (*batch_shape, self.n)).astype(dtype)
        return ReducedState(v=v, rise=jnp.zeros_like(v), fall=jnp.zeros_like(v))

    def init_discrete(self, batch_shape=()):
        dtype = jnp.result_type(self.e_l)
        return ReducedTimers(
            since_dspike=jnp.full((*batch_shape, self.n), 1e9, dtype),
            refractory=jnp.zeros(batch_shape, dtype),
        )

    @property
    def default_solver(self):
        from ..solvers import CrankNicolson

        return CrankNicolson()

    def vector_field(self, t, y: ReducedState, inputs):
        v = y.v
        i, j = np.array(self.edges, dtype=int).reshape(-1, 2).T
        flow = self.g_couple * (v[..., j] - v[..., i])  # into i from j
        coupling = jnp.zeros_like(v).at[..., i].add(flow).at[..., j].add(-flow)
        current = (
            self.g_l * (self.e_l - v)
            + coupling
            + self.g_rise * y.rise * (self.e_rise - v)
            + self.g_fall * y.fall * (self.e_fall - v)
            + inputs
        )
        zero = jnp.zeros_like(v)
        return ReducedState(v=current / self.c, rise=zero, fall=zero)

    def event_step(self, info, y_old, y_new, z, inputs):
        dt = info.dt
        # dendritic spikes: threshold crossing outside the refractory period
        since = z.since_dspike + dt
        fire = (y_new.v >= self.threshold) & (since >= self.refractory_d)
        since = jnp.where(fire, 0.0, since)
        half = dt / 2  # margin so that durations count whole steps despite rounding
        rise = (since < self.duration_rise - half).astype(y_new.v.dtype)
        fall = (since >= self.offset_fall - half) & (
            since < self.offset_fall + self.duration_fall - half
        )
        fall = fall.astype(y_new.v.dtype) * (self.g_fall > 0)
        # soma: leaky integrate-and-fire (held at v_reset while refractory)
        vs = y_new.v[..., 0]
        held = z.refractory > half
        vs = jnp.where(held, self.v_reset, vs)
        spike = self.surrogate(vs - self.v_th) * (~held)
        vs = jnp.where(spike > 0, self.v_reset, vs)
        refractory = jnp.where(spike > 0, self.t_ref, jnp.maximum(z.refractory - dt, 0.0))
        v = y_new.v.at[..., 0].set(vs)
        y = ReducedState(v=v, rise=rise * (self.g_rise > 0), fall=fall)
        events = {"soma": spike, "dspikes": fire.astype(v.dtype)}
        return (
            y,
            ReducedTimers(
                since.astype(z.since_dspike.dtype), refractory.astype(z.refractory.dtype)
            ),
            events,
        )
