"""Losses comparing a simulated `Recording` with a target one.

A loss is an equinox module called as `loss(pred, target) -> scalar`; `pred` holds the
simulated voltage and (surrogate) spikes, `target` what was measured. Every loss reduces
over time first and then averages over the remaining (sweep / neuron) axes, so a
protocol of several current steps is one loss. Losses combine linearly:
`0.5 * TraceMSE() + 2.0 * SpikeCount()` is a `WeightedSum`.

Spike-based losses are differentiable because the simulated spikes are: their forward
value is exactly 0/1, their gradient is the model's surrogate (Zenke & Ganguli 2018).
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._recording import Recording

Window = tuple[float, float] | None


def _mask(rec: Recording, window: Window) -> Array:
    """1.0 on rows whose time lies in `[start, stop)` ms (all rows if `window is None`),
    shaped `(n_rows, 1, ..., 1)` to broadcast against the trace."""
    n, ndim = rec.n_rows, len(rec.shape)
    if window is None:
        m = jnp.ones((n,))
    else:
        t = rec.t
        m = ((t >= window[0]) & (t < window[1])).astype(t.dtype)
    return m.reshape((n,) + (1,) * (ndim - 1))


def _check_window(window: Window, name: str):
    if window is None:
        return
    if len(window) != 2 or not window[0] < window[1]:
        raise ValueError(
            f"{name}: window must be (start, stop) in ms with start < stop, got {window!r}."
        )


def _window_length(rec: Recording, window: Window) -> Array:
    """Duration covered by the window's rows, ms."""
    return jnp.sum(_mask(rec, window)) * rec.dt


class AbstractLoss(eqx.Module):
    """A scalar loss `loss(pred, target)` between two `Recording`s.

    `requires` names the target fields it reads (`"v"`, `"spikes"`); `neurojax.fit`
    checks them before compiling. Losses add and scale: `a * L1 + b * L2`.
    """

    requires: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def __call__(self, pred: Recording, target: Recording) -> Array: ...

    def terms(self) -> tuple[tuple[float, AbstractLoss], ...]:
        return ((1.0, self),)

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:  # sum([...]) starts at 0
            return self
        if not isinstance(other, AbstractLoss):
            return NotImplemented
        terms = self.terms() + other.terms()
        return WeightedSum(tuple(t for _, t in terms), tuple(w for w, _ in terms))

    __radd__ = __add__

    def __mul__(self, weight):
        if not isinstance(weight, (int, float, np.floating, np.integer)):
            return NotImplemented
        terms = self.terms()
        return WeightedSum(tuple(t for _, t in terms), tuple(float(weight) * w for w, _ in terms))

    __rmul__ = __mul__


class WeightedSum(AbstractLoss):
    """`Σᵢ weights[i]·losses[i](pred, target)`; built by `w1 * L1 + w2 * L2`."""

    losses: tuple[AbstractLoss, ...]
    weights: tuple[float, ...] = eqx.field(static=True)

    def __check_init__(self):
        if len(self.losses) != len(self.weights) or not self.losses:
            raise ValueError("WeightedSum needs as many weights as losses (at least one).")

    @property
    def requires(self):  # type: ignore[override]
        return tuple(sorted({r for loss in self.losses for r in loss.requires}))

    def terms(self):
        return tuple(zip(self.weights, self.losses, strict=True))

    def __call__(self, pred, target):
        return sum(
            w * loss(pred, target) for w, loss in zip(self.weights, self.losses, strict=True)
        )


class TraceMSE(AbstractLoss):
    """Mean squared voltage error, mV²: `Σ w (V − V*)² / Σ w`.

    - `window`: `(start, stop)` ms — only rows in this interval count (e.g. skip an
      initial transient).
    - `weights`: array broadcastable to the trace `(n_rows, *batch)`: per-row,
      per-sweep (shape `(n_sweeps,)`) or per-sample weights, ≥ 0; e.g. up-weight the
      subthreshold sweeps of a protocol, or zero out a stimulus artefact.
    """

    window: Window = eqx.field(static=True, default=None)
    weights: Array | None = None
    requires: ClassVar[tuple[str, ...]] = ("v",)

    def __check_init__(self):
        _check_window(self.window, "TraceMSE")
        if self.weights is not None and not isinstance(self.weights, jax.core.Tracer):
            w = np.asarray(self.weights)
            if not (np.all(np.isfinite(w)) and np.all(w >= 0) and np.any(w > 0)):
                raise ValueError("TraceMSE weights must be finite, >= 0 and not all zero.")

    def __call__(self, pred, target):
        w = _mask(pred, self.window)
        if self.weights is not None:
            w = w * jnp.asarray(self.weights)
        w = jnp.broadcast_to(w, pred.v.shape)
        return jnp.sum(w * (pred.v - target.v) ** 2) / jnp.sum(w)


def _counts(rec: Recording, window: Window) -> Array:
    return jnp.sum(_mask(rec, window) * rec.spikes, axis=0)


class SpikeCount(AbstractLoss):
    """Squared difference of spike counts per sweep, averaged over sweeps (spikes²).

    Differentiable through the surrogate spikes: the gradient moves the voltage near
    threshold where spikes are missing or in excess."""

    window: Window = eqx.field(static=True, default=None)
    requires: ClassVar[tuple[str, ...]] = ("spikes",)

    def __check_init__(self):
        _check_window(self.window, "SpikeCount")

    def __call__(self, pred, target):
        return jnp.mean((_counts(pred, self.window) - _counts(target, self.window)) ** 2)


def exponential_filter(spikes: Array, dt: float, tau: float) -> Array:
    """Spike train convolved with the causal kernel `exp(−t/τ)` (height 1 per spike):
    `x_k = x_{k−1}·e^{−dt/τ} + s_k`, along axis 0."""
    decay = jnp.exp(-dt / tau)

    def body(x, s):
        x = decay * x + s
        return x, x

    _, xs = jax.lax.scan(body, jnp.zeros_like(spikes[0]), spikes)
    return xs


class VanRossum(AbstractLoss):
    """van Rossum (2001) spike-train distance, squared, averaged over sweeps:

    $$D^2 = \\frac{1}{\\tau}\\int (f - g)^2\\,dt,\\quad f = \\sum_i e^{-(t - t_i)/\\tau}H(t - t_i)$$

    One unmatched spike costs ≈ 1/2; two spikes `δ` apart cost `1 − e^{−|δ|/τ}`, so the
    loss is a smooth function of spike timing on the scale `tau` (ms) — and, through the
    surrogate spikes, differentiable.

    Reference: van Rossum (2001) Neural Comput 13:751–763.
    """

    tau: float = eqx.field(static=True, default=10.0)
    window: Window = eqx.field(static=True, default=None)
    requires: ClassVar[tuple[str, ...]] = ("spikes",)

    def __check_init__(self):
        if not self.tau > 0:
            raise ValueError(f"VanRossum tau must be > 0 ms, got {self.tau!r}.")
        _check_window(self.window, "VanRossum")

    def __call__(self, pred, target):
        m = _mask(pred, self.window)
        diff = exponential_filter(m * (pred.spikes - target.spikes), pred.dt, self.tau)
        return jnp.mean(jnp.sum(diff**2, axis=0)) * pred.dt / self.tau


class FiringRate(AbstractLoss):
    """Squared difference of the mean firing rate in `window` (whole trace by default),
    Hz², averaged over sweeps. `scale` (Hz) divides the rates first, so the loss is
    dimensionless when `scale` is a typical rate."""

    window: Window = eqx.field(static=True, default=None)
    scale: float = eqx.field(static=True, default=1.0)
    requires: ClassVar[tuple[str, ...]] = ("spikes",)

    def __check_init__(self):
        _check_window(self.window, "FiringRate")

    def __call__(self, pred, target):
        duration_s = _window_length(pred, self.window) / 1000.0
        rp = _counts(pred, self.window) / duration_s
        rt = _counts(target, self.window) / duration_s
        return jnp.mean(((rp - rt) / self.scale) ** 2)


def _window_max(rec: Recording, window: Window) -> Array:
    m = _mask(rec, window)
    return jnp.max(jnp.where(m > 0, rec.v, -jnp.inf), axis=0)


class SpikeAmplitude(AbstractLoss):
    """Squared difference of the peak membrane potential in `window` (mV²), averaged over
    sweeps: the spike height for a spiking sweep. The gradient flows through the sample
    at the peak."""

    window: Window = eqx.field(static=True, default=None)
    requires: ClassVar[tuple[str, ...]] = ("v",)

    def __check_init__(self):
        _check_window(self.window, "SpikeAmplitude")

    def __call__(self, pred, target):
        return jnp.mean((_window_max(pred, self.window) - _window_max(target, self.window)) ** 2)


class RestingPotential(AbstractLoss):
    """Squared difference of the mean membrane potential in `window` (mV²), averaged over
    sweeps — choose a window without stimulus (e.g. `(0, 10)` before a current step)."""

    window: tuple[float, float] = eqx.field(static=True)
    requires: ClassVar[tuple[str, ...]] = ("v",)

    def __check_init__(self):
        _check_window(self.window, "RestingPotential")

    def __call__(self, pred, target):
        m = _mask(pred, self.window)

        def mean_v(rec):
            return jnp.sum(m * rec.v, axis=0) / jnp.sum(m)

        return jnp.mean((mean_v(pred) - mean_v(target)) ** 2)


def first_spike_latency(rec: Recording, window: tuple[float, float]) -> Array:
    """Time from `window[0]` to the first spike in the window, ms, per sweep (the window
    length if none). Written as `Σₖ fₖ (tₖ − t_on)` with the first-spike indicator
    `fₖ = sₖ Πⱼ₍<ₖ₎ (1 − sⱼ)`, so it is differentiable through surrogate spikes."""
    m = _mask(rec, window)
    s = jnp.clip(m * rec.spikes, 0.0, 1.0)
    none_before = jnp.cumprod(1.0 - s, axis=0)
    none_before = jnp.concatenate([jnp.ones_like(s[:1]), none_before[:-1]], axis=0)
    first = s * none_before
    t = rec.t.reshape((-1,) + (1,) * (s.ndim - 1)) - window[0]
    length = window[1] - window[0]
    return jnp.sum(first * t, axis=0) + (1.0 - jnp.sum(first, axis=0)) * length


class Latency(AbstractLoss):
    """Squared difference of the first-spike latency after `window[0]` (e.g. the onset
    of a current step), ms², averaged over sweeps; a sweep without a spike in the window
    counts as latency = window length."""

    window: tuple[float, float] = eqx.field(static=True)
    requires: ClassVar[tuple[str, ...]] = ("spikes",)

    def __check_init__(self):
        _check_window(self.window, "Latency")

    def __call__(self, pred, target):
        lp = first_spike_latency(pred, self.window)
        lt = first_spike_latency(target, self.window)
        return jnp.mean((lp - lt) ** 2)


def loss_requires(loss) -> tuple[str, ...]:
    """Target fields a loss reads (none known for a plain callable)."""
    return tuple(getattr(loss, "requires", ()))
