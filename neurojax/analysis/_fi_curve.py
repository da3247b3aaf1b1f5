"""Firing rate against injected current (f–I curves), and the LIF's closed forms."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._model import AbstractModel
from .._saveat import SaveAt
from .._simulate import check_time, simulate
from ..cable._one_compartment import OneCompartment, _is_cell, as_point_model
from ..solvers import AbstractSolver, default_solver
from ..stimuli import n_steps_of
from ._options import RateMethod, check_option
from ._plot import plot_fi_curve
from ._units import unit_of


@dataclasses.dataclass(frozen=True, repr=False)
class FICurve:
    """Firing rate against constant injected current.

    - `current`: the currents, shape `(k,)` (nA for integrate-and-fire models, µA/cm² for
      conductance-based ones).
    - `rate`: firing rate in Hz (spikes/s), measured after `transient` ms; shape `(k,)`,
      or `(k, *population_shape)` for a population model (every current on every neuron).
    - `n_spikes`: spikes counted after the transient (shaped like `rate`).
    - `first_spike`: latency of the first spike from current onset (ms; `inf` if none).
    - `units`: `{"current": unit}` (the x axis label of `plot`).
    """

    current: np.ndarray
    rate: np.ndarray
    n_spikes: np.ndarray
    first_spike: np.ndarray
    units: dict = dataclasses.field(default_factory=dict)

    def __repr__(self):
        return (
            f"FICurve({len(self.current)} currents in [{self.current.min():g}, "
            f"{self.current.max():g}], rate up to {self.rate.max():.4g} Hz)"
        )

    def plot(self, ax=None, **kwargs):
        return plot_fi_curve(self, ax=ax, **kwargs)


def _nothing(y):
    return None


def _population_shape(model) -> tuple[int, ...]:
    """The broadcast shape of the model's parameters: `()` for one neuron."""
    shapes = [jnp.shape(x) for x in jtu.tree_leaves(eqx.filter(model, eqx.is_array))]
    try:
        return tuple(jnp.broadcast_shapes(*shapes)) if shapes else ()
    except ValueError:
        raise ValueError(
            f"fi_curve: the parameters of {type(model).__name__} have shapes that do not "
            f"broadcast together ({sorted(set(shapes))}); give it scalar parameters (one "
            "neuron) or parameters of one population shape."
        ) from None


@eqx.filter_jit
def _run(model, solver, currents, dt, n_steps: int, n_transient: int):
    # currents along a new leading batch axis, the population (if any) after it
    inputs = jnp.broadcast_to(currents, (n_steps,) + currents.shape)
    sol = simulate(model, inputs, dt=dt, solver=solver, saveat=SaveAt(fn=_nothing), throw=False)
    leaves = [jnp.isfinite(y) for y in jtu.tree_leaves(sol.final_state.y)]
    finite = jnp.all(jnp.stack(jnp.broadcast_arrays(*leaves)), axis=0)
    if sol.spikes is None:
        raise TypeError(
            f"fi_curve needs a spiking model: {type(model).__name__}'s event_step emits no "
            "spikes. For a model without events, measure oscillations with limit_cycles."
        )
    spikes = sol.spikes > 0.5
    t = sol.t.reshape((-1,) + (1,) * (spikes.ndim - 1))
    first_spike = jnp.min(jnp.where(spikes, t, jnp.inf), axis=0)
    late = spikes[n_transient:]
    tl = t[n_transient:]
    count = late.sum(0)
    first = jnp.min(jnp.where(late, tl, jnp.inf), axis=0)
    last = jnp.max(jnp.where(late, tl, -jnp.inf), axis=0)
    return count, first, last, first_spike, finite


def fi_curve(
    model: AbstractModel,
    currents,
    *,
    duration: float = 1000.0,
    transient: float = 100.0,
    dt: float = 0.025,
    solver: AbstractSolver | None = None,
    method: RateMethod = RateMethod.ISI,
) -> FICurve:
    """The f–I curve of a spiking model: all currents simulated at once, as a population.

    **Arguments**

    - `model`: any spiking model (LIF, EIF, AdEx, HH, ...): one neuron (scalar
      parameters), or a population (parameters of shape `(N,)`, or any one shape): then
      every current is applied to every neuron, and `rate` is shaped `(len(currents), N)`
      (never one current per neuron).
    - `currents`: 1-D array of constant currents (nA for IF models, µA/cm² for HH-type,
      nA for a one-compartment `neurojax.cable.Cell`, as NEURON's `IClamp.amp`: simulated
      as a point neuron, `analysis.OneCompartment`, with `ExponentialRK2` by default; a
      spike is an upward crossing of 0 mV).
    - `duration`, `transient`, `dt`: ms; spikes are counted after `transient`.
    - `solver`: default `neurojax.solvers.default_solver(model)`.
    - `method`: a `RateMethod`: `RateMethod.ISI` — the rate is `(k − 1)/(t_k − t_1)` over
      the `k` spikes after the transient (exact for regular firing, no ±1-spike counting
      error), or the count rate when fewer than 2 spikes; `RateMethod.COUNT` —
      `k / (duration − transient)`.

    Runs `neurojax.simulate` once with inputs `(n_steps, len(currents), *population)`, in
    the model's precision. The rate is resolved to about `dt/ISI` relative (spike times are
    on the step grid). A run that goes NaN or inf raises a `FloatingPointError` naming the
    currents (a rate of 0 Hz would be a silent wrong answer).
    """
    from ..cable._reduced import ReducedCell
    from ..network import Network

    if isinstance(model, (Network, ReducedCell)):
        # a Network failed with "got ShapeDtypeStruct", a ReducedCell with an input shape
        raise TypeError(
            f"fi_curve drives point neurons (one current per neuron), but "
            f"{type(model).__name__} is "
            + ("a network" if isinstance(model, Network) else "a multi-compartment reduced cell")
            + ": simulate it with neurojax.simulate and count its spikes "
            "(neurojax.network.mean_rate), e.g. one population per current."
        )
    currents = _finite("fi_curve", "currents", currents, "nA or µA/cm²").astype(np.float64)
    if currents.ndim != 1 or len(currents) == 0:
        raise ValueError(f"currents must be a non-empty 1-D array, got shape {currents.shape}.")
    method = check_option("fi_curve", "method", method, RateMethod)
    if not np.all(np.isfinite(currents)):
        raise ValueError(
            f"currents must be finite, got {currents[~np.isfinite(currents)][:3].tolist()} "
            "(NaN or inf) among them."
        )
    check_time(dt, "dt", positive=True)
    check_time(duration, "duration", positive=True)
    check_time(transient, "transient", positive=False)
    if not (dt > 0 and duration > 0 and 0 <= transient < duration):
        raise ValueError(
            f"need dt > 0 and 0 <= transient < duration (ms), got dt={dt}, "
            f"transient={transient}, duration={duration}."
        )
    # whole numbers of steps (a duration rounded to the grid also changed COUNT's window)
    n_steps = n_steps_of(duration, dt)
    n_transient = n_steps_of(transient, dt) if transient > 0 else 0
    if _is_cell(model) or isinstance(model, OneCompartment):
        # a one-compartment Cell as a point neuron: currents in nA (NEURON's IClamp.amp),
        # spikes as upward crossings of 0 mV
        model = as_point_model(model, "fi_curve")
        population = ()
    else:
        population = _population_shape(model)
    solver = default_solver(model) if solver is None else solver
    grid = jnp.asarray(currents).reshape((len(currents),) + (1,) * len(population))
    *out, finite = _run(model, solver, grid, dt, n_steps, n_transient)
    count, first, last, first_spike = (np.asarray(a, dtype=np.float64) for a in out)
    finite = np.broadcast_to(np.asarray(finite), count.shape)
    if not finite.all():
        bad = np.unique(np.nonzero(~finite)[0])
        listed = ", ".join(f"{c:g}" for c in currents[bad][:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise FloatingPointError(
            f"fi_curve: the simulation of {type(model).__name__} went NaN or inf at "
            f"current(s) {listed}{more}, so no firing rate can be measured there. Try a "
            f"smaller dt (now {dt:g} ms), another solver (this run used "
            f"{type(solver).__name__}), or a narrower range of currents."
        )
    window = (n_steps - n_transient) * dt
    rate = 1000.0 * count / window
    if method is RateMethod.ISI:
        regular = count >= 2
        isi_rate = 1000.0 * (count - 1) / np.where(regular, last - first, 1.0)
        rate = np.where(regular, isi_rate, rate)
    return FICurve(
        current=currents,
        rate=rate,
        n_spikes=count,
        first_spike=first_spike,
        units={"current": unit_of(model, "current")},
    )


# ---------------------------------------------------------------------------------------
# LIF closed forms (Gerstner, Kistler, Naud & Paninski 2014, Neuronal Dynamics §1.3)


def _lif_params(model):
    names = ("tau", "r", "v_rest", "v_reset", "v_th", "t_ref")
    from ..neurons import LIF, AbstractIntegrateAndFire

    if isinstance(model, AbstractIntegrateAndFire) and not isinstance(model, LIF):
        # EIF, AdEx and QIF have every LIF field, but their own spike-generating current:
        # the LIF formula gave 0 Hz for an EIF that fires (v_th is its cut-off there)
        raise TypeError(
            f"the LIF closed forms hold for neurojax.LIF only, not {type(model).__name__}, "
            "whose subthreshold dynamics differ (its own spike-generating current, v_th "
            "its cut-off); measure its rate with analysis.fi_curve."
        )
    missing = [n for n in names if not hasattr(model, n)]
    if missing:
        raise TypeError(
            f"the LIF closed forms need a LIF-like model with {names}; "
            f"{type(model).__name__} lacks {missing}."
        )
    return (np.asarray(getattr(model, n), dtype=np.float64) for n in names)


def _finite(fn: str, name: str, x, unit: str) -> np.ndarray:
    """`x` as a float64 array, or a `TypeError`/`ValueError` naming it: the closed forms
    of a NaN would be NaN (or, through the `fires` test, a silent 0 Hz)."""
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{fn}: {name} must be a number or an array ({unit}), got {x!r}.")
    if isinstance(x, jax.core.Tracer):
        # was JAX's TracerArrayConversionError, naming neither the function nor what to do
        raise TypeError(
            f"{fn}: {name} is traced (inside jax.jit, jax.grad or jax.vmap); {fn} is a "
            "closed form evaluated in NumPy float64. Call it with concrete values, or write "
            "the formula of its docstring in jax.numpy to differentiate it."
        )
    a = np.asarray(x)
    if a.dtype == bool:
        # True was read as 1 nA (lif_rate(model, True) = 0 Hz, silently)
        raise TypeError(f"{fn}: {name} must be a number in {unit}, not a boolean ({x!r}).")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise TypeError(f"{fn}: {name} must be real ({unit}), got {x!r}.")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{fn}: {name} must be finite ({unit}), got {x!r}.")
    return a


def lif_voltage(model, current, t, v0=None) -> np.ndarray:
    """Subthreshold LIF membrane potential (mV) at times `t` (ms) under constant `current`
    (nA) from `v0` (default `v_rest`):
    `V(t) = v_rest + R·I + (v0 − v_rest − R·I)·exp(−t/τ)` (valid until V reaches `v_th`)."""
    tau, r, v_rest, _, _, _ = _lif_params(model)
    current = _finite("lif_voltage", "current", current, "nA")
    t = _finite("lif_voltage", "t", t, "ms")
    if np.any(t < 0):
        raise ValueError(
            "lif_voltage: t must be >= 0 ms (time since the start at v0); the closed form "
            "does not run backwards."
        )
    v0 = v_rest if v0 is None else _finite("lif_voltage", "v0", v0, "mV")
    v_inf = v_rest + r * current
    return v_inf + (v0 - v_inf) * np.exp(-t / tau)


def lif_time_to_spike(model, current, v0=None) -> np.ndarray:
    """Time (ms) for a LIF neuron starting at `v0` (default `v_rest`) to reach `v_th` under
    constant `current` (nA): `τ·ln((R·I + v_rest − v0)/(R·I + v_rest − v_th))`, `inf` when
    `R·I ≤ v_th − v_rest` (never fires); 0 from `v0 ≥ v_th` (already at threshold)."""
    tau, r, v_rest, _, v_th, _ = _lif_params(model)
    current = _finite("lif_time_to_spike", "current", current, "nA")
    v0 = v_rest if v0 is None else _finite("lif_time_to_spike", "v0", v0, "mV")
    drive = r * current + v_rest
    fires = drive > v_th
    with np.errstate(divide="ignore", invalid="ignore"):
        t = tau * np.log((drive - v0) / (drive - v_th))
    # a start at or above threshold spikes at once, whatever the drive (was inf below
    # rheobase)
    return np.where(v0 >= v_th, 0.0, np.where(fires, t, np.inf))


def lif_rate(model, current) -> np.ndarray:
    """LIF firing rate (Hz) under constant `current` (nA):
    `1000 / (t_ref + τ·ln((R·I + v_rest − v_reset)/(R·I + v_rest − v_th)))`, 0 below
    rheobase `I = (v_th − v_rest)/R`."""
    *_, t_ref = _lif_params(model)
    current = _finite("lif_rate", "current", current, "nA")
    isi = t_ref + lif_time_to_spike(model, current, v0=np.asarray(model.v_reset, np.float64))
    return np.where(np.isfinite(isi), 1000.0 / isi, 0.0)
