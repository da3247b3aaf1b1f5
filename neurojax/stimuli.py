"""Stimuli: injected currents and input spike trains, sampled on the simulation grid.

Each stimulus is an equinox module with a `duration` (ms); `stim.sample(dt)` returns an
array `(n_steps, *shape)` with `n_steps = duration / dt`, the value at the start of
each step; a duration that is not a whole number of steps is refused (never silently
shortened). `simulate` accepts a stimulus directly. Amplitudes may be arrays (one per
neuron) and are differentiable. Stimuli combine with each other and with numbers:
`Step(...) + OUNoise(...)`, `Step(...) + 1.0`, `0.5 * Sine(...)`. Invalid arguments
(`start > stop`, `tau <= 0`, negative rates, NaN amplitudes, `dt <= 0`) raise a
`ValueError` naming the argument. Units follow the model: µA/cm² for HH-type models, nA
for integrate-and-fire models.
"""

from __future__ import annotations

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ._model import as_float

_GRID_RTOL = 1e-6
"""How far `duration / dt` may be from a whole number of steps (relative): float32 `dt`s
such as `jnp.float32(0.1)` are off by ~1e-8, a real mismatch by far more."""


def _check_dt(dt) -> float:
    """`dt` as a Python float, or a clear error: stimuli are sampled on a grid whose length
    is fixed before anything runs, so `dt` must be a concrete, finite number > 0."""
    if isinstance(dt, jax.core.Tracer):
        raise TypeError(
            "a stimulus is sampled with a concrete dt (its number of steps fixes the array "
            "shape), but dt is traced here (inside jax.jit/grad/vmap). Sample it outside: "
            "inputs = stim.sample(dt) with a Python float dt, then pass the array."
        )
    if dt is None or isinstance(dt, (str, bytes, bool)):
        raise TypeError(f"dt must be a time step in ms (a number > 0), got {dt!r}.")
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise TypeError(f"dt must be a time step in ms (a number > 0), got {dt!r}.") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"dt must be a finite time step > 0 ms, got dt={dt!r}.")
    return value


def n_steps_of(duration: float, dt: float) -> int:
    """The number of steps of `dt` in `duration`: `duration / dt`, which must be a whole
    number (within a relative 1e-6, for floating-point `dt`s such as 0.1). A duration
    that is not a multiple of `dt` is refused rather than silently shortened or
    lengthened."""
    dt = _check_dt(dt)
    if isinstance(duration, (str, bytes, bool)) or not math.isfinite(float(duration)):
        raise ValueError(f"duration must be a finite time in ms, got {duration!r}.")
    ratio = float(duration) / dt
    n = round(ratio)
    if n < 1:
        raise ValueError(
            f"duration={duration} ms is shorter than one step dt={dt} ms; use a longer "
            "duration or a smaller dt."
        )
    if abs(ratio - n) > _GRID_RTOL * n:
        lo, hi = math.floor(ratio), math.ceil(ratio)
        raise ValueError(
            f"duration={duration} ms is not a whole number of steps of dt={dt} ms "
            f"({ratio:.6g} steps). Use duration={lo * dt:.10g} or {hi * dt:.10g} ms (a "
            "multiple of dt), or a dt that divides the duration."
        )
    return n


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_time_field(owner: str, name: str, value, *, allow_inf: bool = False) -> None:
    if not _is_concrete(value):
        return
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        # "5" compared as text at `sample`; True read as 1 ms
        raise TypeError(f"{owner}.{name} must be a time in ms (a number), got {value!r}.")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}.{name} must be a time in ms, got {value!r}.") from None
    if math.isnan(x) or (not allow_inf and math.isinf(x)):
        raise ValueError(f"{owner}.{name} must be a finite time in ms, got {value!r}.")


def _check_array(owner: str, name: str, value, domain: str = "finite") -> None:
    """Concrete check of an amplitude-like field: finite, and `> 0` / `>= 0` if asked."""
    if not _is_concrete(value):
        return
    x = np.asarray(value)
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise TypeError(f"{owner}.{name} must be a real number or array, got {value!r}.")
    bad = ~np.isfinite(x)
    if domain == "positive":
        bad |= ~(x > 0)
    elif domain == "non-negative":
        bad |= ~(x >= 0)
    if np.any(bad):
        must = {"finite": "finite", "positive": "finite and > 0", "non-negative": "finite and >= 0"}
        raise ValueError(
            f"{owner}.{name} must be {must[domain]}, got {x[bad].ravel()[:3].tolist()}."
        )


def _check_onset(owner: str, start, duration) -> None:
    """A pulse starting at or after the end of the stimulus is all zeros: almost always a
    mistake of units or of `duration`, so refused rather than silently empty."""
    try:
        d = float(duration)
    except (TypeError, ValueError):
        return  # the base class's check names a bad duration
    if not (math.isfinite(d) and d > 0):
        return
    if _is_concrete(start) and float(start) >= d:
        raise ValueError(
            f"{owner}: start={start} ms is at or after the end of the stimulus "
            f"(duration={duration} ms), so it would be zero throughout; give a start "
            "inside the run or a longer duration."
        )


def _check_nyquist(owner: str, frequency, dt: float) -> None:
    """A frequency at or above the grid's Nyquist frequency `1000/(2·dt)` Hz aliases: the
    samples show a different, slower wave (`sin` of 10⁵ Hz sampled every 0.1 ms is 0
    at every step). Refused at `sample`, naming the largest `dt` that resolves it."""
    if not _is_concrete(frequency):
        return
    top = float(np.max(np.abs(np.asarray(frequency)))) if np.size(frequency) else 0.0
    if top * dt / 1000.0 >= 0.5:
        raise ValueError(
            f"{owner}: frequency {top:g} Hz is at or above the Nyquist frequency "
            f"{500.0 / dt:g} Hz of dt={dt:g} ms, so its samples would show a different "
            f"wave; use dt < {500.0 / top:.6g} ms."
        )


def _check_key(owner: str, key) -> None:
    """A single PRNG key: `jax.random.key(seed)` or `jax.random.PRNGKey(seed)`. An int
    seed, None or a batch of keys fails inside `jax.random` naming no stimulus."""
    if isinstance(key, jax.core.Tracer):
        return
    ok = False
    if eqx.is_array(key):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            ok = key.shape == ()
        else:
            ok = key.dtype == jnp.uint32 and key.ndim == 1
    if not ok:
        what = f"an array of shape {key.shape}" if eqx.is_array(key) else repr(key)
        raise TypeError(
            f"{owner}.key must be one PRNG key, jax.random.key(seed) (or "
            f"jax.random.PRNGKey(seed)), got {what}. For several independent stimuli give "
            "each its own key (jax.random.split), or one stimulus a shape=(N,)."
        )


def _broadcast(owner: str, **fields) -> tuple[int, ...]:
    """The common per-step shape of a stimulus's array fields, or an error naming them
    (instead of JAX's bare broadcasting error at `sample`)."""
    shapes = {k: tuple(v) if isinstance(v, tuple) else jnp.shape(v) for k, v in fields.items()}
    try:
        return jnp.broadcast_shapes(*shapes.values())
    except ValueError:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ValueError(
            f"{owner}: the shapes of its fields do not broadcast together ({listed}); give "
            "scalars or arrays of one population shape (N,)."
        ) from None


def _check_shape(owner: str, shape) -> None:
    """`shape`: a tuple of ints >= 0, or one int (`shape=3` is `(3,)`, as numpy)."""
    items = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(items, (tuple, list)) or not all(
        isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)) and k >= 0
        for k in items
    ):
        raise TypeError(f"{owner}.shape must be a tuple of ints such as (N,), got {shape!r}.")


def _check_pulse_on_grid(start: float, stop: float, dt: float, n: int) -> None:
    """A `Step` pulse (`start < stop`) that covers no step of the grid would be zero
    throughout: refused, naming why (on at the steps `k` with `k·dt` in
    `[start − dt/2, stop − dt/2)`)."""
    if not start < stop:
        return  # start == stop: the documented empty pulse
    if stop - dt / 2 <= 0:
        raise ValueError(
            f"Step: the pulse from start={start:g} to stop={stop:g} ms ends before the "
            "stimulus starts (t = 0), so it would be zero throughout; give times in ms "
            "from the start of the stimulus."
        )
    first = 0 if start == -math.inf else max(math.ceil(start / dt - 0.5 - 1e-9), 0)
    if first < n and not first * dt < stop - dt / 2:
        raise ValueError(
            f"Step: the pulse from start={start:g} to stop={stop:g} ms is narrower than the "
            f"grid resolves at dt={dt:g} ms (both edges round to the same step), so it would "
            f"be zero throughout. Use a dt of at most {stop - start:.6g} ms, or a longer "
            "pulse."
        )


def _shape_tuple(shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(k) for k in shape)


def _is_scalar_or_array(x) -> bool:
    if isinstance(x, (bool, str, bytes)) or x is None:
        return False
    return isinstance(x, (int, float, np.ndarray, np.number, jax.Array)) or isinstance(
        x, jax.core.Tracer
    )


class AbstractStimulus(eqx.Module):
    """A stimulus: `sample(dt)` gives it on the grid of step `dt`.

    Stimuli combine with each other and with numbers or arrays (broadcast against the
    stimulus's per-step shape): `stim + 1.0`, `2.0 * stim`, `stim - other`, `-stim`,
    `stim / 4`, `stim * Sine(...)` (amplitude modulation). Stimuli combined with each other
    must have the same duration."""

    duration: float = eqx.field(static=True, kw_only=True)

    # numpy arrays on the left (`np.ones(3) + stim`) defer to the stimulus's operators
    __array_ufunc__ = None

    def __check_init__(self):
        if isinstance(self.duration, (str, bytes, bool, np.bool_)) or self.duration is None:
            raise TypeError(f"stimulus duration must be a number of ms > 0, got {self.duration!r}.")
        try:
            d = float(self.duration)
        except (TypeError, ValueError):
            raise TypeError(
                f"stimulus duration must be a number of ms > 0, got {self.duration!r}."
            ) from None
        if not (np.isfinite(d) and d > 0):
            raise ValueError(f"stimulus duration must be > 0 ms, got {self.duration!r}.")

    def times(self, dt: float) -> Array:
        """Start time of each step, ms (`k·dt` from the integer step index)."""
        n = n_steps_of(self.duration, dt)
        return float(dt) * jnp.arange(n, dtype=jnp.result_type(float))

    @abc.abstractmethod
    def sample(self, dt: float) -> Array:
        """The stimulus on the grid of step `dt` (ms), shaped `(n_steps, *shape)`."""

    # -- arithmetic ---------------------------------------------------------------------

    def _other(self, other):
        if isinstance(other, AbstractStimulus):
            return other
        if _is_scalar_or_array(other):
            return Constant(other, duration=self.duration)
        return None

    def __add__(self, other):
        other = self._other(other)
        return NotImplemented if other is None else Sum(self, other)

    def __radd__(self, other):
        other = self._other(other)
        return NotImplemented if other is None else Sum(other, self)

    def __neg__(self):
        return Scaled(self, -1.0)

    def __pos__(self):
        return self

    def __sub__(self, other):
        other = self._other(other)
        return NotImplemented if other is None else Sum(self, -other)

    def __rsub__(self, other):
        other = self._other(other)
        return NotImplemented if other is None else Sum(other, -self)

    def __mul__(self, other):
        if isinstance(other, AbstractStimulus):
            return Product(self, other)
        if _is_scalar_or_array(other):
            return Scaled(self, other)
        return NotImplemented

    def __rmul__(self, other):
        return self.__mul__(other)

    def __truediv__(self, other):
        if _is_scalar_or_array(other) and not isinstance(other, AbstractStimulus):
            if _is_concrete(other) and np.any(np.asarray(other) == 0):
                raise ZeroDivisionError("cannot divide a stimulus by zero.")
            return Scaled(self, 1.0 / as_float(other))
        return NotImplemented


def _column(t: Array, x: Array) -> Array:
    """Broadcast per-neuron parameters `x` against the time axis `t`."""
    return t.reshape(t.shape + (1,) * jnp.ndim(x))


def _per_step(x: Array, ndim: int) -> Array:
    """`x` shaped `(n_steps, *step_shape)` with singleton axes inserted after the time axis
    so its per-step shape has `ndim` dimensions (numpy broadcasting, per step)."""
    return x.reshape(x.shape[:1] + (1,) * (ndim - (x.ndim - 1)) + x.shape[1:])


def _combine(op, a: Array, b: Array) -> Array:
    """`op(a, b)` of two sampled stimuli, broadcasting their per-step shapes (not the
    time axis against a neuron axis)."""
    ndim = max(a.ndim, b.ndim) - 1
    a, b = _per_step(a, ndim), _per_step(b, ndim)
    try:
        jnp.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"cannot combine stimuli of per-step shapes {a.shape[1:]} and {b.shape[1:]}: "
            "they do not broadcast; give both the same population shape (N,), or one a "
            "scalar."
        ) from None
    return op(a, b)


def _same_duration(first: AbstractStimulus, second: AbstractStimulus, what: str) -> None:
    if first.duration != second.duration:
        raise ValueError(
            f"cannot {what} stimuli of durations {first.duration} and {second.duration} ms; "
            "give them the same duration."
        )


class Constant(AbstractStimulus):
    """`value` at every step (a number, or an array: one value per neuron)."""

    value: Array = eqx.field(converter=as_float)

    def __check_init__(self):
        _check_array("Constant", "value", self.value)

    def sample(self, dt):
        n = n_steps_of(self.duration, dt)
        return jnp.broadcast_to(self.value, (n, *jnp.shape(self.value))) + 0.0


class Sum(AbstractStimulus):
    """The sum of two stimuli of the same duration."""

    first: AbstractStimulus
    second: AbstractStimulus

    def __init__(self, first: AbstractStimulus, second: AbstractStimulus):
        _same_duration(first, second, "add")
        self.first, self.second, self.duration = first, second, first.duration

    def sample(self, dt):
        return _combine(jnp.add, self.first.sample(dt), self.second.sample(dt))


class Product(AbstractStimulus):
    """The product of two stimuli of the same duration (e.g. a modulated carrier)."""

    first: AbstractStimulus
    second: AbstractStimulus

    def __init__(self, first: AbstractStimulus, second: AbstractStimulus):
        _same_duration(first, second, "multiply")
        self.first, self.second, self.duration = first, second, first.duration

    def sample(self, dt):
        return _combine(jnp.multiply, self.first.sample(dt), self.second.sample(dt))


class Scaled(AbstractStimulus):
    """`factor · stimulus` (a number, or an array broadcast against the stimulus)."""

    stimulus: AbstractStimulus
    factor: Array

    def __init__(self, stimulus: AbstractStimulus, factor):
        self.factor = as_float(factor)
        _check_array("Scaled", "factor", self.factor)
        self.stimulus, self.duration = stimulus, stimulus.duration

    def sample(self, dt):
        x = self.stimulus.sample(dt)
        return _combine(
            jnp.multiply, x, jnp.broadcast_to(self.factor, x.shape[:1] + jnp.shape(self.factor))
        )


class Step(AbstractStimulus):
    """`amplitude` between `start` and `stop` (ms), 0 elsewhere (plus `offset`).

    On for the steps whose start time lies in `[start, stop)`, each edge rounded to the
    nearest grid point (`dt/2` margin). `start == stop` is an empty pulse; `start > stop`
    is refused."""

    amplitude: Array = eqx.field(converter=as_float)
    start: float = 0.0
    stop: float = float("inf")
    offset: Array = eqx.field(converter=as_float, default=0.0)

    def __check_init__(self):
        _check_array("Step", "amplitude", self.amplitude)
        _check_array("Step", "offset", self.offset)
        _check_time_field("Step", "start", self.start, allow_inf=True)
        _check_time_field("Step", "stop", self.stop, allow_inf=True)
        if _is_concrete(self.start) and _is_concrete(self.stop):
            if float(self.start) > float(self.stop):
                raise ValueError(
                    f"Step: start={self.start} ms is after stop={self.stop} ms; pass "
                    "start <= stop (stop defaults to the end of the stimulus)."
                )
        _check_onset("Step", self.start, self.duration)

    def sample(self, dt):
        t = self.times(dt)
        dt = float(dt)
        if _is_concrete(self.start) and _is_concrete(self.stop):
            _check_pulse_on_grid(float(self.start), float(self.stop), dt, t.shape[0])
        shape = _broadcast("Step", amplitude=self.amplitude, offset=self.offset)
        tt = t.reshape(t.shape + (1,) * len(shape))
        on = (tt >= self.start - dt / 2) & (tt < self.stop - dt / 2)
        return self.offset + jnp.where(on, self.amplitude, 0.0)


class Ramp(AbstractStimulus):
    """Linear ramp from 0 at `start` to `amplitude` at `stop` (ms), held after `stop`
    (`stop` defaults to the end of the stimulus). `start == stop` is a step to `amplitude`
    at `start`, sampled like `Step`; `start > stop` is refused."""

    amplitude: Array = eqx.field(converter=as_float)
    start: float = 0.0
    stop: float | None = None

    def __check_init__(self):
        _check_array("Ramp", "amplitude", self.amplitude)
        _check_time_field("Ramp", "start", self.start)
        if self.stop is not None:
            _check_time_field("Ramp", "stop", self.stop)
        stop = self.duration if self.stop is None else self.stop
        if _is_concrete(self.start) and _is_concrete(stop) and float(self.start) > float(stop):
            raise ValueError(
                f"Ramp: start={self.start} ms is after stop={stop} ms"
                f"{' (the default stop: the duration)' if self.stop is None else ''}; pass "
                "start <= stop."
            )
        _check_onset("Ramp", self.start, self.duration)

    def sample(self, dt):
        t = self.times(dt)
        dt = float(dt)
        stop = self.duration if self.stop is None else self.stop
        width = stop - self.start
        # a zero-width ramp is a step at `start` (the limit width -> 0), not 0/0 = NaN
        flat = width == 0
        safe = jnp.where(flat, 1.0, width)
        frac = jnp.where(
            flat,
            (t >= self.start - dt / 2).astype(t.dtype),
            jnp.clip((t - self.start) / safe, 0.0, 1.0),
        )
        return _column(frac, self.amplitude) * self.amplitude


class Sine(AbstractStimulus):
    """`offset + amplitude·sin(2π·frequency·t + phase)`; frequency in Hz, t in ms."""

    amplitude: Array = eqx.field(converter=as_float)
    frequency: Array = eqx.field(converter=as_float)
    offset: Array = eqx.field(converter=as_float, default=0.0)
    phase: Array = eqx.field(converter=as_float, default=0.0)

    def __check_init__(self):
        for name in ("amplitude", "frequency", "offset", "phase"):
            _check_array("Sine", name, getattr(self, name))

    def sample(self, dt):
        _check_nyquist("Sine", self.frequency, _check_dt(dt))
        shape = _broadcast(
            "Sine",
            amplitude=self.amplitude,
            frequency=self.frequency,
            offset=self.offset,
            phase=self.phase,
        )
        t = self.times(dt)
        t = t.reshape(t.shape + (1,) * len(shape))
        return self.offset + self.amplitude * jnp.sin(
            2 * jnp.pi * self.frequency * t / 1000.0 + self.phase
        )


class Chirp(AbstractStimulus):
    """Linear chirp from `f0` to `f1` Hz over the duration (ZAP protocol):
    `offset + amplitude·sin(2π(f0·t + (f1 − f0)·t²/(2T)))`."""

    amplitude: Array = eqx.field(converter=as_float)
    f0: float = 0.5
    f1: float = 20.0
    offset: Array = eqx.field(converter=as_float, default=0.0)

    def __check_init__(self):
        _check_array("Chirp", "amplitude", self.amplitude)
        _check_array("Chirp", "offset", self.offset)
        _check_array("Chirp", "f0", self.f0)
        _check_array("Chirp", "f1", self.f1)

    def sample(self, dt):
        for f in (self.f0, self.f1):
            _check_nyquist("Chirp", f, _check_dt(dt))
        shape = _broadcast(
            "Chirp", amplitude=self.amplitude, f0=self.f0, f1=self.f1, offset=self.offset
        )
        t = self.times(dt) / 1000.0  # s
        t = t.reshape(t.shape + (1,) * len(shape))
        big_t = self.duration / 1000.0
        phase = 2 * jnp.pi * (self.f0 * t + (self.f1 - self.f0) * t**2 / (2 * big_t))
        return self.offset + jnp.sin(phase) * self.amplitude


class OUNoise(AbstractStimulus):
    """Ornstein–Uhlenbeck current: `τ dI = (mean − I) dt + σ·√(2τ) dW`, stationary
    standard deviation `sigma` (>= 0), correlation time `tau` (ms, > 0), started from its
    stationary distribution. Sampled exactly (AR(1) update), so the statistics do not
    depend on `dt`. `shape` gives independent processes (e.g. `(N,)`)."""

    mean: Array = eqx.field(converter=as_float)
    sigma: Array = eqx.field(converter=as_float)
    tau: Array = eqx.field(converter=as_float)
    key: PRNGKeyArray
    shape: tuple[int, ...] = eqx.field(static=True, default=())

    def __check_init__(self):
        _check_array("OUNoise", "mean", self.mean)
        _check_array("OUNoise", "sigma", self.sigma, "non-negative")
        _check_array("OUNoise", "tau", self.tau, "positive")
        _check_key("OUNoise", self.key)
        _check_shape("OUNoise", self.shape)

    def sample(self, dt):
        n = n_steps_of(self.duration, dt)
        dt = float(dt)
        shape = _broadcast(
            "OUNoise",
            shape=_shape_tuple(self.shape),
            mean=self.mean,
            sigma=self.sigma,
            tau=self.tau,
        )
        sigma = self.sigma
        if not _is_concrete(self.tau) or not _is_concrete(sigma):
            bad = jnp.any(~(self.tau > 0)) | jnp.any(~(sigma >= 0))
            sigma = eqx.error_if(
                sigma,
                bad,
                "OUNoise: tau must be > 0 ms and sigma >= 0 (got a traced value "
                "outside that range).",
            )
        rho = jnp.exp(-dt / self.tau)
        noise = jax.random.normal(self.key, (n, *shape))
        x0 = noise[0] * sigma
        innov = noise[1:] * sigma * jnp.sqrt(1 - rho**2)

        def ar1(x, e):
            x = rho * x + e
            return x, x

        _, xs = jax.lax.scan(ar1, x0, innov)
        return self.mean + jnp.concatenate([x0[None], xs])


class PoissonSpikes(AbstractStimulus):
    """Independent Poisson spike trains of `rate` (Hz, >= 0): 0/1 per step with
    probability `p = rate·dt` (dt in s). The mean rate is exact for any `p <= 1`; the
    count statistics are Poisson only for `p ≪ 1` (Fano factor `1 − p`). A rate above
    `1/dt` (`p > 1`: more than one spike per step) cannot be represented and is refused
    at `sample`, naming the largest `dt` that fits. `shape` gives the number of trains."""

    rate: Array = eqx.field(converter=as_float)
    key: PRNGKeyArray
    shape: tuple[int, ...] = eqx.field(static=True, default=())

    def __check_init__(self):
        _check_array("PoissonSpikes", "rate", self.rate, "non-negative")
        _check_key("PoissonSpikes", self.key)
        _check_shape("PoissonSpikes", self.shape)

    def sample(self, dt):
        n = n_steps_of(self.duration, dt)
        dt = float(dt)
        shape = _broadcast("PoissonSpikes", shape=_shape_tuple(self.shape), rate=self.rate)
        p = self.rate * dt / 1000.0
        if _is_concrete(self.rate):
            top = float(np.max(np.asarray(self.rate))) if np.size(self.rate) else 0.0
            if top * dt / 1000.0 > 1.0:
                raise ValueError(
                    f"PoissonSpikes: rate={top:g} Hz at dt={dt:g} ms is {top * dt / 1000:.3g} "
                    "spikes per step, but a step holds at most one. Use dt <= "
                    f"{1000.0 / top:.6g} ms (1000/rate), or split the train into several "
                    "trains of lower rate."
                )
        else:
            bad = jnp.any(~(self.rate >= 0)) | jnp.any(p > 1.0)
            p = eqx.error_if(
                p,
                bad,
                "PoissonSpikes: rate must be >= 0 Hz and at most 1000/dt Hz (one "
                "spike per step); got a traced rate outside that range.",
            )
        return jax.random.bernoulli(self.key, jnp.broadcast_to(p, (n, *shape))).astype(
            jnp.result_type(float)
        )
