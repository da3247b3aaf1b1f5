"""Stimuli: injected currents and input spike trains, sampled on the simulation grid.

Each stimulus is an equinox module with a `duration` (ms); `stim.sample(dt)` returns an
array `(n_steps, *shape)` with `n_steps = round(duration / dt)`, the value at the start of
each step. `simulate` accepts a stimulus directly. Amplitudes may be arrays (one per
neuron) and are differentiable. Stimuli add: `Step(...) + OUNoise(...)`. Units follow the
model: µA/cm² for HH-type models, nA for integrate-and-fire models.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from ._model import as_float


def n_steps_of(duration: float, dt: float) -> int:
    n = int(round(float(duration) / float(dt)))
    if n < 1:
        raise ValueError(f"duration={duration} ms is shorter than one step dt={dt} ms.")
    return n


class AbstractStimulus(eqx.Module):
    duration: float = eqx.field(static=True, kw_only=True)

    def __check_init__(self):
        if not (np.isfinite(self.duration) and self.duration > 0):
            raise ValueError(f"stimulus duration must be > 0 ms, got {self.duration!r}.")

    def times(self, dt: float) -> Array:
        """Start time of each step, ms."""
        return dt * jnp.arange(n_steps_of(self.duration, dt), dtype=jnp.result_type(float))

    @abc.abstractmethod
    def sample(self, dt: float) -> Array:
        """The stimulus on the grid of step `dt` (ms), shaped `(n_steps, *shape)`."""

    def __add__(self, other: AbstractStimulus) -> Sum:
        return Sum(self, other)


def _column(t: Array, x: Array) -> Array:
    """Broadcast per-neuron parameters `x` against the time axis `t`."""
    return t.reshape(t.shape + (1,) * jnp.ndim(x))


class Sum(AbstractStimulus):
    """The sum of two stimuli of the same duration."""

    first: AbstractStimulus
    second: AbstractStimulus

    def __init__(self, first: AbstractStimulus, second: AbstractStimulus):
        if first.duration != second.duration:
            raise ValueError(
                f"cannot add stimuli of durations {first.duration} and {second.duration} ms."
            )
        self.first, self.second, self.duration = first, second, first.duration

    def sample(self, dt):
        return self.first.sample(dt) + self.second.sample(dt)


class Step(AbstractStimulus):
    """`amplitude` between `start` and `stop` (ms), 0 elsewhere (plus `offset`)."""

    amplitude: Array = eqx.field(converter=as_float)
    start: float = 0.0
    stop: float = float("inf")
    offset: Array = eqx.field(converter=as_float, default=0.0)

    def sample(self, dt):
        t = self.times(dt)
        tt = _column(t, self.amplitude)
        on = (tt >= self.start - dt / 2) & (tt < self.stop - dt / 2)
        return self.offset + jnp.where(on, self.amplitude, 0.0)


class Ramp(AbstractStimulus):
    """Linear ramp from 0 at `start` to `amplitude` at `stop` (ms), held after `stop`."""

    amplitude: Array = eqx.field(converter=as_float)
    start: float = 0.0
    stop: float | None = None

    def sample(self, dt):
        t = self.times(dt)
        stop = self.duration if self.stop is None else self.stop
        frac = jnp.clip((t - self.start) / (stop - self.start), 0.0, 1.0)
        return _column(frac, self.amplitude) * self.amplitude


class Sine(AbstractStimulus):
    """`offset + amplitude·sin(2π·frequency·t + phase)`; frequency in Hz, t in ms."""

    amplitude: Array = eqx.field(converter=as_float)
    frequency: Array = eqx.field(converter=as_float)
    offset: Array = eqx.field(converter=as_float, default=0.0)
    phase: Array = eqx.field(converter=as_float, default=0.0)

    def sample(self, dt):
        t = _column(self.times(dt), self.amplitude * self.frequency)
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

    def sample(self, dt):
        t = self.times(dt) / 1000.0  # s
        big_t = self.duration / 1000.0
        phase = 2 * jnp.pi * (self.f0 * t + (self.f1 - self.f0) * t**2 / (2 * big_t))
        return self.offset + _column(jnp.sin(phase), self.amplitude) * self.amplitude


class OUNoise(AbstractStimulus):
    """Ornstein–Uhlenbeck current: `τ dI = (mean − I) dt + σ·√(2τ) dW`, stationary
    standard deviation `sigma`, correlation time `tau` (ms), started from its stationary
    distribution. Sampled exactly (AR(1) update), so the statistics do not depend on `dt`.
    `shape` gives independent processes (e.g. `(N,)`)."""

    mean: Array = eqx.field(converter=as_float)
    sigma: Array = eqx.field(converter=as_float)
    tau: Array = eqx.field(converter=as_float)
    key: PRNGKeyArray
    shape: tuple[int, ...] = eqx.field(static=True, default=())

    def sample(self, dt):
        n = n_steps_of(self.duration, dt)
        shape = jnp.broadcast_shapes(
            self.shape, jnp.shape(self.mean), jnp.shape(self.sigma), jnp.shape(self.tau)
        )
        rho = jnp.exp(-dt / self.tau)
        noise = jax.random.normal(self.key, (n, *shape))
        x0 = noise[0] * self.sigma
        innov = noise[1:] * self.sigma * jnp.sqrt(1 - rho**2)

        def ar1(x, e):
            x = rho * x + e
            return x, x

        _, xs = jax.lax.scan(ar1, x0, innov)
        return self.mean + jnp.concatenate([x0[None], xs])


class PoissonSpikes(AbstractStimulus):
    """Independent Poisson spike trains of `rate` (Hz): 0/1 per step with probability
    `rate·dt` (requires `rate·dt ≪ 1`). `shape` gives the number of trains."""

    rate: Array = eqx.field(converter=as_float)
    key: PRNGKeyArray
    shape: tuple[int, ...] = eqx.field(static=True, default=())

    def sample(self, dt):
        n = n_steps_of(self.duration, dt)
        shape = jnp.broadcast_shapes(self.shape, jnp.shape(self.rate))
        p = self.rate * dt / 1000.0
        return jax.random.bernoulli(self.key, jnp.broadcast_to(p, (n, *shape))).astype(
            jnp.result_type(float)
        )
