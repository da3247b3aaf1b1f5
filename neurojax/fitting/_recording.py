"""`Recording`: what a loss compares — a voltage trace and/or a spike train on the
simulation's time grid."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike

from .._solution import Solution
from ..models._checks import check_int
from ._checks import check_finite, check_positive


class Recording(eqx.Module):
    """A voltage trace and/or a spike train sampled every `dt` ms, as `Solution` records
    them: row `i` is at time `t0 + (i + 1)·dt`.

    - `v`: membrane potential, mV, shaped `(n_rows, *batch)` (e.g. `(n_steps, n_sweeps)`
      for a patch-clamp protocol of several current steps), or `None`.
      With `SaveAt(fn=...)`, `v` is what `fn` records (voltages at chosen sites, a
      subset of a population, any recorded quantity); as a target it may be a pytree
      (`{"E": v_E}` for a network), which `fit` checks and flattens like the prediction.
    - `spikes`: spike counts per row (0/1 at full resolution), same shape, or `None`; for
      a network `{population: spikes}` (a subset of the populations restricts the
      prediction to them).
    - `dt`: time between rows, ms (`dt·saveat.every` of the simulation). `None` lets
      `neurojax.fit` fill it in.
    - `t0`: start time of the simulation, ms.

    Build one from a simulation (`Recording.from_solution(sol, dt)`), from a measured
    voltage trace (`Recording.from_voltage(v, dt, v_th=0.0)` detects spikes as upward
    crossings of `v_th`), or from spike times (`Recording.from_spike_times`).
    `neurojax.fit` also accepts a plain array (a voltage trace) or a `Solution`.
    """

    v: Array | None = None
    spikes: Array | None = None
    dt: float | None = eqx.field(static=True, default=None)
    t0: float = eqx.field(static=True, default=0.0)

    def __check_init__(self):
        if self.dt is not None:
            check_positive("Recording", "dt", self.dt, "ms between rows")
        check_finite("Recording", "t0", self.t0, "ms")
        # (shapes and dtypes are static: these cost nothing inside a jitted loss)
        leaves = {name: jtu.tree_leaves(getattr(self, name)) for name in ("v", "spikes")}
        for name, xs in leaves.items():
            for x in xs:
                if jnp.issubdtype(jnp.result_type(x), jnp.complexfloating):
                    raise TypeError(
                        f"Recording: {name} is complex ({jnp.result_type(x)}); recordings are "
                        "real. Pass the real part (jnp.real) if that is what was measured."
                    )
        rows = {
            (name, int(np.shape(x)[0])) for name, xs in leaves.items() for x in xs if np.ndim(x)
        }
        if len({r for _, r in rows}) > 1:
            # n_rows read the first and the other was compared row by row, misaligned
            raise ValueError(
                "Recording: v and spikes must have the same number of rows (one per "
                f"recorded step); got {sorted(rows)}."
            )
        for x in leaves["spikes"]:
            if not isinstance(x, jax.core.Tracer) and np.any(np.asarray(x) < 0):
                raise ValueError(
                    "Recording: spikes are counts per row and cannot be negative; got a "
                    f"minimum of {float(np.min(np.asarray(x)))}."
                )

    @property
    def n_rows(self) -> int:
        x = self.v if self.v is not None else self.spikes
        return jtu.tree_leaves(x)[0].shape[0]  # a network's {population: v} too

    @property
    def shape(self) -> tuple[int, ...]:
        x = self.v if self.v is not None else self.spikes
        return tuple(x.shape)

    @property
    def t(self) -> Array:
        """Time of each row, ms."""
        if self.dt is None:
            raise ValueError("this Recording has no dt; pass Recording(..., dt=...).")
        return self.t0 + self.dt * jnp.arange(1, self.n_rows + 1, dtype=jnp.result_type(float))

    @classmethod
    def from_solution(cls, sol: Solution, dt: float, t0: float = 0.0) -> Recording:
        """Voltage and spikes of a `simulate` result; `dt` is the time between its rows
        (`dt·saveat.every`), ms."""
        return cls(v=sol.v, spikes=sol.spikes, dt=dt, t0=t0)

    @classmethod
    def from_voltage(cls, v: ArrayLike, dt: float, v_th: float = 0.0, t0: float = 0.0) -> Recording:
        """A measured voltage trace (mV, `(n_rows, *batch)`), with spikes detected as
        upward crossings of `v_th` (mV) between consecutive rows — the same rule as
        `HodgkinHuxley`'s spike detector."""
        # a NaN threshold compared False everywhere (no spikes, no word); a boolean or
        # complex trace is no voltage
        v_th = check_finite("Recording.from_voltage", "v_th", v_th, "mV")
        v = jnp.asarray(v)
        if not (jnp.issubdtype(v.dtype, jnp.floating) or jnp.issubdtype(v.dtype, jnp.integer)):
            raise TypeError(
                f"Recording.from_voltage: v must be a real voltage trace (mV), got dtype {v.dtype}."
            )
        prev = jnp.concatenate([v[:1], v[:-1]])
        spikes = ((v >= v_th) & (prev < v_th)).astype(v.dtype)
        return cls(v=v, spikes=spikes, dt=dt, t0=t0)

    @classmethod
    def from_spike_times(
        cls, times: ArrayLike | list, n_rows: int, dt: float, t0: float = 0.0
    ) -> Recording:
        """A spike train from spike times (ms). `times` is one sequence (one neuron/sweep)
        or a list of sequences (one per sweep: shape `(n_rows, n_sweeps)`). A spike at time
        `s` is counted in the row whose interval `(t − dt, t]` holds it."""
        # checked first: a NaN/inf time, dt or t0 ended in `int()` of NaN/inf, a
        # fractional n_rows in NumPy, and a bool/str time was read as 1 ms / parsed
        check_int("Recording.from_spike_times", "n_rows", n_rows, 1)
        check_positive("Recording.from_spike_times", "dt", dt, "ms between rows")
        check_finite("Recording.from_spike_times", "t0", t0, "ms")
        nested = len(times) > 0 and all(np.ndim(x) > 0 for x in times)
        trains = list(times) if nested else [times]
        out = np.zeros((n_rows, len(trains)))
        for j, train in enumerate(trains):
            train = np.asarray(train)
            if train.size and not (
                np.issubdtype(train.dtype, np.integer) or np.issubdtype(train.dtype, np.floating)
            ):
                raise TypeError(
                    f"Recording.from_spike_times: spike times must be real numbers (ms), got "
                    f"dtype {train.dtype} for train {j}."
                )
            if not np.all(np.isfinite(train)):
                raise ValueError(
                    f"Recording.from_spike_times: spike times must be finite (ms); train {j} "
                    f"has {int(np.sum(~np.isfinite(train)))} NaN/inf value(s)."
                )
            for s in train.astype(float).ravel():
                i = int(np.ceil((s - t0) / dt - 1e-9)) - 1
                if not 0 <= i < n_rows:
                    raise ValueError(
                        f"spike time {s} ms lies outside the recording ({t0}, "
                        f"{t0 + n_rows * dt}] ms."
                    )
                out[i, j] += 1.0
        spikes = jnp.asarray(out if nested else out[:, 0], dtype=jnp.result_type(float))
        return cls(v=None, spikes=spikes, dt=dt, t0=t0)
