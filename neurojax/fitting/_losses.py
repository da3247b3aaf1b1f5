"""Losses comparing a simulated `Recording` with a target one.

A loss is an equinox module called as `loss(pred, target) -> scalar`; `pred` holds the
simulated voltage and (surrogate) spikes, `target` what was measured. Every loss reduces
over time first and then averages over the remaining (sweep / neuron) axes, so a
protocol of several current steps is one loss. Losses combine linearly:
`0.5 * TraceMSE() + 2.0 * SpikeCount()` is a `WeightedSum`.

Spike-based losses are differentiable because the simulated spikes are: their forward
value is exactly 0/1, their gradient is the model's surrogate (Zenke & Ganguli 2018).

Smooth in spike timing (issue 11): `SoftSpikeCount` (a sigmoid count of threshold
crossings of the voltage), `WindowedFeatures` (mean, std and soft count per window) and
`SoftDTW` (soft dynamic time warping) do not charge a shifted spike as a missing one plus
a spurious one, so a single spiking sweep has one basin where the trace MSE has several.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._checks import check_finite, check_number, check_positive
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
    if isinstance(window, (str, bytes)) or not hasattr(window, "__len__"):
        raise TypeError(f"{name}: window must be (start, stop) in ms or None, got {window!r}.")
    if len(window) != 2:
        raise ValueError(
            f"{name}: window must be (start, stop) in ms with start < stop, got {window!r}."
        )
    for edge, value in zip(("start", "stop"), window, strict=True):
        # ±inf is an open end (the whole trace on that side); NaN, strings, complex are not
        if not _is_inf(value):
            check_number(name, f"window {edge}", value, meaning="ms")
    if not window[0] < window[1]:
        raise ValueError(
            f"{name}: window must be (start, stop) in ms with start < stop, got {window!r}."
        )


def _is_inf(x) -> bool:
    try:
        return isinstance(x, (int, float, np.floating)) and math.isinf(x)
    except TypeError:
        return False


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

    def residuals(self, pred, target) -> Array | None:
        """The residual vector `r` with `Σ r² = loss(pred, target)` where the loss is a sum
        of squares of smooth functions of the prediction (`TraceMSE`,
        `RestingPotential` and their weighted sums); `None` otherwise. `fit`'s default
        optimiser for such a loss is Levenberg–Marquardt on these residuals."""
        return None

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:  # sum([...]) starts at 0
            return self
        if not isinstance(other, AbstractLoss):
            return NotImplemented
        terms = self.terms() + other.terms()
        return WeightedSum(tuple(t for _, t in terms), tuple(w for w, _ in terms))

    __radd__ = __add__

    def __mul__(self, weight):
        if isinstance(weight, (bool, np.bool_)) or not isinstance(
            weight, (int, float, np.floating, np.integer)
        ):
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
        for w in self.weights:
            # a NaN or inf weight made every loss value NaN/inf: each step skipped
            if isinstance(w, (bool, np.bool_)) or not np.isfinite(w):
                raise ValueError(
                    f"WeightedSum: the weights of the losses must be finite numbers, got "
                    f"{self.weights!r}."
                )

    @property
    def requires(self):  # type: ignore[override]
        return tuple(sorted({r for loss in self.losses for r in loss.requires}))

    def terms(self):
        return tuple(zip(self.weights, self.losses, strict=True))

    def __call__(self, pred, target):
        return sum(
            w * loss(pred, target) for w, loss in zip(self.weights, self.losses, strict=True)
        )

    def residuals(self, pred, target):
        parts = [loss.residuals(pred, target) for loss in self.losses]
        if any(r is None for r in parts) or any(w < 0 for w in self.weights):
            return None
        return jnp.concatenate([jnp.sqrt(w) * r for w, r in zip(self.weights, parts, strict=True)])


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
            if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
                # complex weights made the loss complex; bools/strings are no weights
                raise TypeError(f"TraceMSE weights must be real numbers, got dtype {w.dtype}.")
            if not (np.all(np.isfinite(w)) and np.all(w >= 0) and np.any(w > 0)):
                raise ValueError("TraceMSE weights must be finite, >= 0 and not all zero.")

    def __call__(self, pred, target):
        w = _mask(pred, self.window)
        if self.weights is not None:
            w = w * jnp.asarray(self.weights)
        w = jnp.broadcast_to(w, pred.v.shape)
        return jnp.sum(w * (pred.v - target.v) ** 2) / jnp.sum(w)

    def residuals(self, pred, target):
        w = _mask(pred, self.window)
        if self.weights is not None:
            w = w * jnp.asarray(self.weights)
        w = jnp.broadcast_to(w, pred.v.shape)
        return jnp.ravel(jnp.sqrt(w / jnp.sum(w)) * (pred.v - target.v))


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
        check_positive("VanRossum", "tau", self.tau, "ms")
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
        check_positive("FiringRate", "scale", self.scale, "Hz")

    def __call__(self, pred, target):
        duration_s = _window_length(pred, self.window) / 1000.0
        rp = _counts(pred, self.window) / duration_s
        rt = _counts(target, self.window) / duration_s
        return jnp.mean(((rp - rt) / self.scale) ** 2)


def population_rate(rec: Recording, bin: float | None = None, window: Window = None) -> Array:
    """Pooled firing rate, Hz: spikes of all neurons/columns of `rec.spikes` (a network's
    populations, flattened), per neuron, per `bin` ms (`None`: one bin over the whole
    window). `(n_bins,)`; the rows after the last whole bin are dropped."""
    s = _mask(rec, window) * rec.spikes
    s = jnp.mean(s.reshape(s.shape[0], -1), axis=1)  # spikes per neuron per row
    if bin is None:
        return jnp.sum(s, keepdims=True) / (_window_length(rec, window) / 1000.0)
    k = max(1, int(round(bin / rec.dt)))
    n = s.shape[0] // k
    if n < 1:
        raise ValueError(f"PopulationRate: bin={bin} ms is longer than the recording.")
    return jnp.sum(s[: n * k].reshape(n, k), axis=1) / (k * rec.dt / 1000.0)


class PopulationRate(AbstractLoss):
    """Squared difference of the population rate, Hz², averaged over bins: the spikes of
    every recorded neuron pooled (`population_rate`), counted in bins of `bin` ms (`None`:
    the mean rate over the whole `window`). For a network, the target's spikes as a dict
    `{"E": spikes}` restrict both sides to those populations. `scale` (Hz) divides the
    rates first. Differentiable through the surrogate spikes."""

    bin: float | None = eqx.field(static=True, default=None)
    window: Window = eqx.field(static=True, default=None)
    scale: float = eqx.field(static=True, default=1.0)
    requires: ClassVar[tuple[str, ...]] = ("spikes",)

    def __check_init__(self):
        _check_window(self.window, "PopulationRate")
        if self.bin is not None:
            check_positive("PopulationRate", "bin", self.bin, "ms, or None for one bin")
        check_positive("PopulationRate", "scale", self.scale, "Hz")

    def __call__(self, pred, target):
        rp = population_rate(pred, self.bin, self.window)
        rt = population_rate(target, self.bin, self.window)
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
        return jnp.sum(self.residuals(pred, target) ** 2)

    def residuals(self, pred, target):
        m = _mask(pred, self.window)

        def mean_v(rec):
            return jnp.sum(m * rec.v, axis=0) / jnp.sum(m)

        d = jnp.ravel(mean_v(pred) - mean_v(target))
        return d / jnp.sqrt(d.size)


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


# ------------------------------------------------------------------ smooth in spike timing


def soft_spike_count(
    rec: Recording, v_th: float = 0.0, width: float = 2.0, window: Window = None
) -> Array:
    """Smooth number of upward crossings of `v_th` (mV) by the voltage, per sweep:
    `Σₖ max(0, σₖ − σₖ₋₁)` with `σₖ = sigmoid((Vₖ − v_th)/width)` (`width` in mV), over
    the rows in `window` (ms). A spike that crosses `v_th` by several `width`s counts 1,
    wherever it sits in time, so the count does not change when a spike shifts; a spike
    whose peak approaches `v_th` counts smoothly from 0 to 1. A trace that starts above
    `v_th` counts its first row as a crossing (`σ₋₁ = 0`). Continuous and piecewise
    smooth in the voltage: the derivative jumps only where an increment is exactly 0 (a
    spike's peak row; a perfectly flat stretch, where the sigmoid's slope is ~0 anyway).

    For models whose spikes are voltage excursions (HH-type). Integrate-and-fire models
    reset within a step, so their recorded voltage never crosses the cut-off: use the
    surrogate spike train (`SpikeCount`, `VanRossum`) for them."""
    if rec.v is None:
        raise ValueError(
            "soft_spike_count reads the voltage, but this Recording has none; for a spike "
            "train use its spikes (SpikeCount / VanRossum)."
        )
    s = jax.nn.sigmoid((rec.v - v_th) / width)
    rise = jnp.maximum(jnp.diff(s, axis=0, prepend=jnp.zeros_like(s[:1])), 0.0)
    return jnp.sum(_mask(rec, window) * rise, axis=0)


def _target_count(target: Recording, v_th, width, window) -> Array:
    """The target's count: soft from its voltage when it has one (the same smooth
    function as the prediction's), else its spike train."""
    if target.v is not None:
        return soft_spike_count(target, v_th, width, window)
    if target.spikes is None:
        raise ValueError("the target Recording holds neither v nor spikes.")
    return _counts(target, window)


def _check_width(width, name):
    check_positive(name, "width", width, "mV")


class SoftSpikeCount(AbstractLoss):
    """Squared difference of smooth spike counts per sweep, spikes², averaged over sweeps.

    The predicted count is `soft_spike_count(pred)`: the positive increments of
    `sigmoid((V − v_th)/width)` summed over the window — 1 per spike whatever its
    timing, so the loss is a smooth function of the parameters also where spikes shift,
    appear or vanish (unlike `SpikeCount`, whose value jumps by one). The target's count
    is computed the same way from its voltage, or from its spike train if it has no
    voltage.

    - `v_th`: detection threshold, mV (0 mV for HH-type spikes).
    - `width`: sigmoid width, mV (default 2 mV; a spike peaking within a few `width`s of
      `v_th` counts fractionally).
    - `window`: `(start, stop)` ms, or `None` for the whole trace.

    For HH-type models (spikes are voltage excursions); for integrate-and-fire models
    use `SpikeCount` (surrogate spikes), see `soft_spike_count`.
    """

    v_th: float = eqx.field(static=True, default=0.0)
    width: float = eqx.field(static=True, default=2.0)
    window: Window = eqx.field(static=True, default=None)

    def __check_init__(self):
        _check_window(self.window, "SoftSpikeCount")
        _check_width(self.width, "SoftSpikeCount")
        check_finite("SoftSpikeCount", "v_th", self.v_th, "mV")

    def __call__(self, pred, target):
        cp = soft_spike_count(pred, self.v_th, self.width, self.window)
        ct = _target_count(target, self.v_th, self.width, self.window)
        return jnp.mean((cp - ct) ** 2)


def _window_edges(rec: Recording, n_windows: int) -> list[tuple[float, float]]:
    t_end = rec.t0 + rec.dt * (rec.n_rows + 1)  # just past the last row
    edges = np.linspace(rec.t0, t_end, n_windows + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


class WindowedFeatures(AbstractLoss):
    """Summary statistics in consecutive time windows (Jaxley's L5PC fits, Deistler et
    al. 2024): per window and sweep, the mean voltage (mV), its standard deviation (mV)
    and the smooth spike count (`soft_spike_count`, spikes); the loss is

    $$\\sum_f w_f\\,\\mathrm{mean}_{windows,\\,sweeps}
        \\left(\\frac{f_{pred} - f_{target}}{s_f}\\right)^2$$

    with `weights = (w_mean, w_std, w_count)` and `scales = (s_mean, s_std, s_count)`
    (mV, mV, spikes; default 1 mV, 1 mV, 1 spike) — dimensionless with the scales.

    A spike shifted in time changes a window's mean and std only when it crosses into
    another window, and then gradually (its upstroke and downstroke move across the
    edge), so the loss is smooth in spike timing on the scale of a window: a single
    basin where the trace MSE has a local minimum for every spike it could
    misalign. The price is resolution: timing within a window is invisible.

    - `windows`: an integer `n` (the trace split into `n` equal windows; default 3) or a
      tuple of `(start, stop)` ms windows. Fewer windows, smoother: on HH's `g_na` ∈
      [60, 180] for a 4-spike, 60 ms sweep (61 values), 3 windows give one basin; 6 or
      12 windows a second minimum at `g_na` ≈ 104, where the cell fires 3 spikes whose
      windowed counts partly match.
    - `v_th`, `width`: as `SoftSpikeCount` (mV).
    """

    windows: int | tuple[tuple[float, float], ...] = eqx.field(static=True, default=3)
    weights: tuple[float, float, float] = eqx.field(static=True, default=(1.0, 1.0, 1.0))
    scales: tuple[float, float, float] = eqx.field(static=True, default=(1.0, 1.0, 1.0))
    v_th: float = eqx.field(static=True, default=0.0)
    width: float = eqx.field(static=True, default=2.0)
    requires: ClassVar[tuple[str, ...]] = ("v",)

    def __check_init__(self):
        if not isinstance(self.windows, (int, np.integer, tuple, list)) or isinstance(
            self.windows, bool
        ):
            raise TypeError(
                f"WindowedFeatures: windows must be a number of windows (an int >= 1) or a "
                f"tuple of (start, stop) ms, got {self.windows!r}."
            )
        if isinstance(self.windows, (int, np.integer)):
            if self.windows < 1:
                raise ValueError(
                    f"WindowedFeatures: windows must be a number of windows >= 1 or a tuple of "
                    f"(start, stop) ms, got {self.windows!r}."
                )
        else:
            if len(self.windows) == 0:
                raise ValueError("WindowedFeatures: windows is an empty tuple.")
            for w in self.windows:
                _check_window(tuple(w), "WindowedFeatures")
        for name in ("weights", "scales"):
            x = getattr(self, name)
            if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") or len(x) != 3:
                raise ValueError(
                    f"WindowedFeatures: {name} must be 3 numbers (mean, std, count), got {x!r}."
                )
        if not all(w >= 0 for w in self.weights) or not any(w > 0 for w in self.weights):
            raise ValueError(f"WindowedFeatures: weights must be >= 0, not all 0: {self.weights}.")
        if not all(s > 0 for s in self.scales):
            raise ValueError(f"WindowedFeatures: scales must be > 0, got {self.scales}.")
            for i, v in enumerate(x):
                check_finite("WindowedFeatures", f"{name}[{i}]", v)
        _check_width(self.width, "WindowedFeatures")
        check_finite("WindowedFeatures", "v_th", self.v_th, "mV")

    def _windows(self, rec):
        if isinstance(self.windows, (int, np.integer)):
            return _window_edges(rec, int(self.windows))
        return [tuple(w) for w in self.windows]

    def features(self, rec: Recording) -> Array:
        """`(n_windows, 3, *batch)`: mean V (mV), std V (mV), smooth count (spikes) per
        window. A window without rows gives NaN (check the windows)."""
        out = []
        for w in self._windows(rec):
            m = _mask(rec, w)
            n = jnp.sum(m)
            mean = jnp.sum(m * rec.v, axis=0) / n
            var = jnp.sum(m * (rec.v - mean) ** 2, axis=0) / n
            std = jnp.sqrt(var + 1e-12)  # differentiable at a flat window (1e-6 mV floor)
            count = soft_spike_count(rec, self.v_th, self.width, w)
            out.append(jnp.stack([mean, std, count]))
        return jnp.stack(out)

    def __call__(self, pred, target):
        fp, ft = self.features(pred), self.features(target)
        scales = jnp.asarray(self.scales, fp.dtype).reshape((1, 3) + (1,) * (fp.ndim - 2))
        sq = ((fp - ft) / scales) ** 2
        per_feature = jnp.mean(jnp.moveaxis(sq, 1, 0).reshape(3, -1), axis=1)
        return jnp.sum(jnp.asarray(self.weights, fp.dtype) * per_feature)


def soft_dtw(x: Array, y: Array, gamma: float, band: int | None = None) -> Array:
    """Soft dynamic time warping (Cuturi & Blondel 2017) between two 1-d series, with the
    squared difference as cost: `R[i, j] = (xᵢ − yⱼ)² + softmin_γ(R[i−1, j], R[i, j−1],
    R[i−1, j−1])`, `softmin_γ(a) = −γ log Σ e^{−aₖ/γ}`; returns `R[n−1, m−1]` (units of
    the squared series). `gamma → 0` is DTW. `band`: only cells with `|i − j·n/m| ≤ band`
    (a Sakoe–Chiba band along the diagonal, in samples of `x`) may be on the path.

    Computed by a `lax.scan` over the `n + m − 1` anti-diagonals, each a vectorised
    update of `n` cells: O(n·m) time, O(n) memory forward; reverse mode stores one
    diagonal per step, O((n + m)·n). Differentiable in `x` and `y`."""
    n, m = x.shape[0], y.shape[0]
    dtype = jnp.result_type(x, y)
    big = jnp.asarray(1e10 if dtype == jnp.float32 else 1e30, dtype)  # "infinity", finite
    gamma = jnp.asarray(gamma, dtype)
    i = jnp.arange(n)

    def softmin(a, b, c):
        z = jnp.stack([a, b, c]) / -gamma
        return -gamma * jax.nn.logsumexp(z, axis=0)

    def body(carry, d):
        prev, prev2 = carry  # R on diagonals d−1 and d−2, indexed by i (n cells)
        j = d - i
        inside = (j >= 0) & (j < m)
        if band is not None:
            inside = inside & (jnp.abs(i - j * (n / m)) <= band)
        cost = (x - y[jnp.clip(j, 0, m - 1)]) ** 2
        up = jnp.concatenate([jnp.full((1,), big, dtype), prev[:-1]])  # R[i−1, j]
        left = prev  # R[i, j−1]
        diag = jnp.concatenate([jnp.full((1,), big, dtype), prev2[:-1]])  # R[i−1, j−1]
        start = (i == 0) & (j == 0)
        r = cost + jnp.where(start, 0.0, softmin(up, left, diag))
        r = jnp.where(inside, jnp.minimum(r, big), big)
        return (r, prev), None

    init = (jnp.full((n,), big, dtype), jnp.full((n,), big, dtype))
    (last, _), _ = jax.lax.scan(body, init, jnp.arange(n + m - 1))
    return last[n - 1]


class SoftDTW(AbstractLoss):
    """Soft-DTW divergence between the predicted and target voltage traces, mV², per
    sweep, averaged over sweeps (Cuturi & Blondel 2017; the divergence of Blondel, Mensch
    & Vert 2021):

    $$D(x, y) = \\frac{\\mathrm{sdtw}_γ(x, y) - \\tfrac12[\\mathrm{sdtw}_γ(x, x) +
        \\mathrm{sdtw}_γ(y, y)]}{n + m}$$

    `sdtw_γ` aligns the traces by the best monotone time warping, softened with
    temperature `gamma` (mV²): a spike that arrives early or late is matched to the
    target's spike at the cost of warping, not of a missed spike plus a spurious one, and
    the loss is differentiable. `D ≥ 0`, `D(x, x) = 0`; dividing by the path length
    `n + m` makes it a per-sample value.

    - `gamma`: smoothing, mV² (default 1000; small: closer to DTW, rougher). Measured on
      HH's `g_na` ∈ [60, 180] for a 4-spike, 60 ms sweep (41 values): one basin for
      `gamma=1000` with `downsample` 4 or 8; `gamma=100` one basin at `downsample=4`
      but 4 spurious minima at 8; `gamma=10`: 5–9 spurious minima. Spikes are ~100 mV,
      so the squared differences are ~10⁴ mV².
    - `downsample`: compare means over blocks of `k = downsample` rows (an
      anti-aliasing filter: plain subsampling makes the loss jump as spike peaks move
      between samples). Cost O((n/k)²) time and, in reverse mode, memory: keep `n/k` in
      the hundreds to low thousands.
    - `band`: Sakoe–Chiba band, in ms: the warping may shift time by at most this much
      (`None`: unconstrained).
    - `window`: `(start, stop)` ms: only rows in this interval are compared.
    """

    gamma: float = eqx.field(static=True, default=1000.0)
    downsample: int = eqx.field(static=True, default=1)
    band: float | None = eqx.field(static=True, default=None)
    window: Window = eqx.field(static=True, default=None)
    requires: ClassVar[tuple[str, ...]] = ("v",)

    def __check_init__(self):
        check_positive("SoftDTW", "gamma", self.gamma, "mV²")
        if (
            isinstance(self.downsample, (bool, np.bool_))
            or not isinstance(self.downsample, (int, np.integer, float, np.floating))
            or not math.isfinite(self.downsample)
            or int(self.downsample) != self.downsample
            or (self.downsample < 1)
        ):
            raise ValueError(
                f"SoftDTW: downsample must be an integer >= 1, got {self.downsample!r}."
            )
        if self.band is not None:
            check_positive("SoftDTW", "band", self.band, "ms, or None for no band")
        _check_window(self.window, "SoftDTW")

    def _series(self, rec: Recording) -> Array:
        v = rec.v
        if self.window is not None:
            t = np.asarray(rec.t0 + rec.dt * np.arange(1, rec.n_rows + 1))
            rows = np.nonzero((t >= self.window[0]) & (t < self.window[1]))[0]
            if rows.size == 0:
                raise ValueError(f"SoftDTW: no rows of the recording lie in window {self.window}.")
            v = v[rows[0] : rows[-1] + 1]
        k = int(self.downsample)
        v = v.reshape(v.shape[0], -1)
        if k > 1:  # block means: subsampling would alias spike peaks (a rugged loss)
            n = v.shape[0] // k
            if n < 2:
                raise ValueError(
                    f"SoftDTW: downsample={k} leaves {n} sample(s) of {v.shape[0]} rows."
                )
            v = v[: n * k].reshape(n, k, -1).mean(axis=1)
        return v

    def __call__(self, pred, target):
        x, y = self._series(pred), self._series(target)
        band = None
        if self.band is not None:
            band = max(1, int(np.ceil(self.band / (pred.dt * int(self.downsample)))))
        sd = jax.vmap(lambda a, b: soft_dtw(a, b, self.gamma, band), in_axes=(1, 1))
        n, m = x.shape[0], y.shape[0]
        div = sd(x, y) - 0.5 * (sd(x, x) + jax.lax.stop_gradient(sd(y, y)))
        return jnp.mean(div) / (n + m)


def loss_requires(loss) -> tuple[str, ...]:
    """Target fields a loss reads (none known for a plain callable)."""
    return tuple(getattr(loss, "requires", ()))
