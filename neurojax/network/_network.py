"""`Network`: populations coupled by projections, a model like any other."""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model import AbstractModel, Elementwise, StepInfo, check_precision
from ..synapses import Delta
from ._connectivity import Sparse
from ._delay import Delay, delay_steps, heterogeneous_delay_steps
from ._projection import PoissonDrive, Population, Projection
from ._propagate import event_propagate_delayed, post_targets, scatter_events


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


class Network(AbstractModel):
    r"""A spiking network: named `populations` of point neurons, `projections` between
    them and external `drives`, simulated by `neurojax.simulate` like any model.

    **Time step.** `dt` (ms) is fixed at construction because delays are whole numbers of
    steps (ring buffers have a static size); `simulate` must use the same `dt` (checked).

    **Inputs.** A dict `{population name: current}`, each shaped `(n_steps,)` or
    `(n_steps, size)`, nA (IF neurons); populations left out get no external current. At
    least one entry is needed (it sets `n_steps`), e.g. `{"E": jnp.zeros((n_steps, 1))}`.

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
    _sources: tuple = eqx.field(static=True)  # (pre, delay steps) per shared delay buffer
    _proj_source: tuple = eqx.field(static=True)  # per projection: its source, -1 for het
    _fused: tuple = eqx.field(static=True)  # groups of Sparse projections propagated together

    structure = Elementwise()

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
        self.populations = dict(populations)
        self.projections = tuple(projections)
        self.drives = tuple(drives)
        if (
            isinstance(dt, (bool, str, bytes))
            or isinstance(dt, jax.core.Tracer)
            or np.ndim(dt) != 0
            or not np.issubdtype(np.asarray(dt).dtype, np.number)
        ):
            raise TypeError(
                f"Network dt must be a concrete number of ms (delays are counted in steps of "
                f"it), got {dt!r}."
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
            conn = proj.connectivity
            n_pre, n_post = self.populations[proj.pre].size, self.populations[proj.post].size
            if (conn.n_pre, conn.n_post) != (n_pre, n_post):
                raise ValueError(
                    f"projection {k} ({proj.pre} → {proj.post}): connectivity is {conn.n_pre} → "
                    f"{conn.n_post} neurons but the populations have {n_pre} → {n_post}."
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
        self._delay_steps = tuple(steps)
        self._het_delays = tuple(het)
        self._ring = tuple(rings)
        # Sharing (static plans): projections without STP from the same population with
        # the same homogeneous delay read the same delayed spikes — one ring buffer
        # ("source") for them — and those with Sparse connectivity of equal chunk are
        # propagated together, with one search for the spiking rows (COBA: E→E with E→I,
        # I→E with I→I).
        sources, proj_source, groups = [], [], {}
        for k, proj in enumerate(self.projections):
            if steps[k] == "het":
                proj_source.append(-1)
                continue
            key = (proj.pre, steps[k]) if proj.stp is None else (proj.pre, steps[k], k)
            if key not in sources:
                sources.append(key)
            src = sources.index(key)
            proj_source.append(src)
            conn = proj.connectivity
            if isinstance(conn, Sparse):
                groups.setdefault((src, conn.chunk), []).append(k)
        self._sources = tuple((key[0], key[1]) for key in sources)
        self._proj_source = tuple(proj_source)
        self._fused = tuple(tuple(v) for v in groups.values())

    def __check_init__(self):
        # (equinox runs AbstractModel.__check_init__, the domain check, as well)
        check_precision(self)

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
            shape = tuple(jnp.shape(x))
            if shape not in ((), (1,), (size,)):
                raise ValueError(
                    f"inputs[{name!r}] must be shaped (n_steps,) or (n_steps, {size}) (one current "
                    f"per neuron of the population), got (n_steps, {', '.join(map(str, shape))})."
                )
        return ()

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
            neurons={n: p.neuron.init_state((p.size,)) for n, p in pops.items()},
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
        return NetworkDiscrete(
            neurons={n: p.neuron.init_discrete((p.size,)) for n, p in pops.items()},
            delays=tuple(delays),
        )

    def voltage(self, y: NetworkState) -> dict:
        return {n: p.neuron.voltage(y.neurons[n]) for n, p in self.populations.items()}

    def _external(self, inputs, name):
        size = self.populations[name].size
        x = inputs.get(name, 0.0) if isinstance(inputs, dict) else 0.0
        return jnp.broadcast_to(jnp.asarray(x, jnp.result_type(float)), (size,))

    def synaptic_currents(self, y: NetworkState) -> dict:
        """Total synaptic current into each population, nA, `(size,)`."""
        v = self.voltage(y)
        out = {n: jnp.zeros_like(v[n]) for n in self.populations}
        for pr, s in zip(self.projections, y.synapses, strict=True):
            out[pr.post] = out[pr.post] + pr.synapse.current(s, v[pr.post])
        for d, s in zip(self.drives, y.drives, strict=True):
            out[d.target] = out[d.target] + d.synapse.current(s, v[d.target])
        return out

    def vector_field(self, t, y: NetworkState, inputs) -> NetworkState:
        v = self.voltage(y)
        syn = self.synaptic_currents(y)
        return NetworkState(
            neurons={
                n: p.neuron.vector_field(t, y.neurons[n], self._external(inputs, n) + syn[n])
                for n, p in self.populations.items()
            },
            synapses=tuple(
                pr.synapse.vector_field(s, v[pr.post])
                for pr, s in zip(self.projections, y.synapses, strict=True)
            ),
            stp=tuple(
                None if pr.stp is None else pr.stp.vector_field(s)
                for pr, s in zip(self.projections, y.stp, strict=True)
            ),
            drives=tuple(
                d.synapse.vector_field(s, v[d.target])
                for d, s in zip(self.drives, y.drives, strict=True)
            ),
        )

    def event_step(self, info: StepInfo, y_old: NetworkState, y_new: NetworkState, z, inputs):
        dt = info.dt
        # Delays were counted in steps of self.dt: any other dt would silently rescale them.
        if isinstance(dt, (int, float)) or not isinstance(dt, jax.core.Tracer):
            if abs(float(dt) - self.dt) > 1e-6 * self.dt:
                raise ValueError(
                    f"this Network was built for dt = {self.dt} ms; simulate it with that dt "
                    f"(got {float(dt)})."
                )
        else:
            y_new = eqx.error_if(
                y_new,
                jnp.abs(dt - self.dt) > 1e-6 * self.dt,
                f"this Network was built for dt = {self.dt} ms; simulate it with that dt.",
            )
        neurons, nz, spikes = {}, {}, {}
        for n, p in self.populations.items():
            neurons[n], nz[n], spikes[n] = p.neuron.event_step(
                info, y_old.neurons[n], y_new.neurons[n], z.neurons[n], self._external(inputs, n)
            )
        jumps = {}
        # 1. release (STP) per projection; 2. one delay buffer per source
        released, stps = {}, []
        for k, pr in enumerate(self.projections):
            stp_state = y_new.stp[k]
            if pr.stp is not None:
                released[k], stp_state = pr.stp.on_spike(stp_state, spikes[pr.pre])
            stps.append(stp_state)
        n_src = len(self._sources)
        delayed, delays = [], []
        for src, (pre, steps) in enumerate(self._sources):
            k = next(k for k, s in enumerate(self._proj_source) if s == src)
            x = released.get(k, spikes[pre])
            x, ring = Delay(steps).update(z.delays[src], x, info.index)
            delayed.append(x)
            delays.append(ring)
        # 3. propagation: fused groups of Sparse projections, then the others
        arrived = {}
        for group in self._fused:
            conns = [self.projections[k].connectivity for k in group]
            bases = tuple(
                jnp.zeros((c.n_post,), jnp.result_type(c.weight.dtype, float)) for c in conns
            )
            outs = scatter_events(
                (post_targets(),) * len(group),
                conns[0].chunk,
                bases,
                tuple(c.weight for c in conns),
                delayed[self._proj_source[group[0]]],
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
                    info.index,
                    n_post,
                    conn.chunk,
                )
                slot = (jnp.asarray(info.index, jnp.int32) % self._ring[k]) * n_post
                arrived[k] = jax.lax.dynamic_slice_in_dim(buf, slot, n_post)
                delays.append(
                    jax.lax.dynamic_update_slice_in_dim(buf, jnp.zeros_like(arrived[k]), slot, 0)
                )
                het_slot += 1
            elif k not in arrived:
                arrived[k] = pr.connectivity.propagate(delayed[self._proj_source[k]])
        # 4. synaptic jumps
        synapses = []
        for k, pr in enumerate(self.projections):
            s = y_new.synapses[k]
            if isinstance(pr.synapse, Delta):
                jumps[pr.post] = jumps.get(pr.post, 0.0) + arrived[k]
            else:
                s = pr.synapse.on_arrival(s, arrived[k], dt)
            synapses.append(s)
        drives = []
        for k, d in enumerate(self.drives):
            if info.key is None:
                raise ValueError(
                    "this Network has Poisson drives: pass simulate(..., key=jax.random.key(seed))."
                )
            size = self.populations[d.target].size
            x = d.sample(jax.random.fold_in(info.key, k), (size,), dt)
            s = y_new.drives[k]
            if isinstance(d.synapse, Delta):
                jumps[d.target] = jumps.get(d.target, 0.0) + x
            else:
                s = d.synapse.on_arrival(s, x, dt)
            drives.append(s)
        for n, jump in jumps.items():
            neurons[n] = neurons[n]._replace(v=neurons[n].v + jump)
        y = NetworkState(
            neurons=neurons, synapses=tuple(synapses), stp=tuple(stps), drives=tuple(drives)
        )
        return y, NetworkDiscrete(neurons=nz, delays=tuple(delays)), spikes

    # ---------------------------------------------------------------- helpers

    def record(self, *, v: dict[str, Any] | None = None, rates: bool = False):
        """A function for `SaveAt(fn=...)` keeping the voltages of a subset of neurons:
        `v={"E": slice(0, 10)}` (any index: slice, int array) → `{"E": v[..., :10]}`."""
        v = v or {}
        for n in v:
            if n not in self.populations:
                raise ValueError(f"record(v=...): unknown population {n!r}.")

        def fn(y):
            return {
                n: self.populations[n].neuron.voltage(y.neurons[n])[idx] for n, idx in v.items()
            }

        return fn
