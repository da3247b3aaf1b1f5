"""Spike-train statistics on recorded spikes (host-side numpy: analysis, not simulation).

Every function takes `spikes` shaped `(n_steps, n_neurons)` (one neuron: `(n_steps,)`;
more trailing axes are flattened into neurons), one row per recorded step of `dt` ms —
with `SaveAt(every=k)` a row spans `k` steps: pass `dt·k`. A network's `Solution.spikes`
is a dict: pass one population's array, `sol.spikes["exc"]`. Bad arguments raise an
error naming them (a transposed, dict or NaN recording gave a wrong number or numpy's
`IndexError`)."""

from __future__ import annotations

import math

import numpy as np


def _spikes(fn: str, spikes, *, counts_ok: bool = True) -> np.ndarray:
    """`spikes` as a float array `(n_steps, n_neurons)`, or an error naming what is wrong."""
    if isinstance(spikes, dict):
        first = next(iter(spikes), "name")
        raise TypeError(
            f"{fn}: spikes is a dict (a Network's Solution.spikes, one entry per population: "
            f"{list(spikes)[:4]}); pass one population's array, e.g. sol.spikes[{first!r}]."
        )
    if spikes is None or isinstance(spikes, (str, bytes)):
        raise TypeError(f"{fn}: spikes must be an array (n_steps, n_neurons), got {spikes!r}.")
    s = np.asarray(spikes)
    if s.dtype == bool:
        s = s.astype(np.float64)
    if not np.issubdtype(s.dtype, np.number) or np.iscomplexobj(s):
        raise TypeError(f"{fn}: spikes must be real spike counts, got dtype {s.dtype}.")
    if s.ndim == 0 or s.shape[0] == 0:
        raise ValueError(
            f"{fn}: spikes must be shaped (n_steps >= 1, n_neurons), got shape {s.shape}."
        )
    s = s.reshape(s.shape[0], -1) if s.ndim != 1 else s[:, None]
    if s.shape[1] == 0:
        raise ValueError(f"{fn}: spikes has no neurons (shape {s.shape}).")
    bad = ~np.isfinite(s) | (s < 0)
    if np.any(bad):
        raise ValueError(
            f"{fn}: spikes must be finite counts >= 0, got {s[bad][:3].tolist()} among them."
        )
    if not counts_ok and np.any(s > 1):
        raise ValueError(
            f"{fn}: spikes holds counts above 1 per row (a SaveAt(every=k) recording?), "
            "whose spike times within the row are lost; record with every=1 for spike times."
        )
    return s


def _dt(fn: str, dt) -> float:
    if isinstance(dt, (bool, np.bool_, str, bytes)) or dt is None or np.ndim(dt) != 0:
        raise TypeError(f"{fn}: dt must be a number of ms (the time per row), got {dt!r}.")
    try:
        x = float(dt)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: dt must be a number of ms, got {dt!r}.") from None
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{fn}: dt must be a finite time > 0 ms, got {dt!r}.")
    return x


def mean_rate(spikes, dt: float | int) -> float:
    """Mean firing rate (Hz) of spikes shaped `(n_steps, n_neurons)` recorded every `dt` ms."""
    s, dt = _spikes("mean_rate", spikes), _dt("mean_rate", dt)
    return float(s.sum() / (s.shape[0] * dt * 1e-3) / s.shape[1])


def spike_times(spikes, dt: float | int) -> list[np.ndarray]:
    """Per neuron, the times (ms) of the steps with a spike (end of step, `(k+1)·dt`)."""
    s, dt = _spikes("spike_times", spikes, counts_ok=False) > 0, _dt("spike_times", dt)
    return [(np.nonzero(s[:, i])[0] + 1) * dt for i in range(s.shape[1])]


def isi_cv(spikes, dt: float | int, min_spikes: int = 3) -> float:
    """Mean over neurons (with at least `min_spikes` spikes) of the coefficient of
    variation of the interspike intervals, std/mean — ~1 for Poisson-like irregular
    firing, 0 for clock-like. NaN if no neuron qualifies. `min_spikes >= 3` (two
    intervals: the CV of one interval is 0 whatever the train)."""
    if (
        isinstance(min_spikes, (bool, np.bool_))
        or not isinstance(min_spikes, (int, np.integer))
        or min_spikes < 3
    ):
        raise ValueError(
            f"isi_cv: min_spikes must be an int >= 3 (two intervals for a spread), got "
            f"{min_spikes!r}."
        )
    cvs = []
    for t in spike_times(spikes, dt):
        if t.size >= min_spikes:
            isi = np.diff(t)
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def population_rate(spikes, dt: float | int, window: float | int | None = None) -> np.ndarray:
    """Instantaneous population rate (Hz) per step, optionally smoothed by a box window (ms)
    of `round(window/dt)` steps; near the ends the box averages over the steps it covers
    (zero padding halved the rate at the edges)."""
    s, dt = _spikes("population_rate", spikes), _dt("population_rate", dt)
    r = s.mean(axis=1) / (dt * 1e-3)
    if window is not None:
        if isinstance(window, (bool, np.bool_, str, bytes)) or np.ndim(window) != 0:
            raise TypeError(f"population_rate: window must be a number of ms, got {window!r}.")
        if not (math.isfinite(float(window)) and float(window) > 0):
            raise ValueError(
                f"population_rate: window must be a finite time > 0 ms (or None), got {window!r}."
            )
        k = max(int(round(float(window) / dt)), 1)
        box = np.ones(k)
        r = np.convolve(r, box, mode="same") / np.convolve(np.ones_like(r), box, mode="same")
    return r
