"""Spike-train statistics on recorded spikes (host-side numpy: analysis, not simulation)."""

from __future__ import annotations

import numpy as np


def mean_rate(spikes, dt: float | int) -> float:
    """Mean firing rate (Hz) of spikes shaped `(n_steps, n_neurons)` recorded every `dt` ms."""
    s = np.asarray(spikes)
    return float(s.sum() / (s.shape[0] * dt * 1e-3) / s.shape[1])


def spike_times(spikes, dt: float | int) -> list[np.ndarray]:
    """Per neuron, the times (ms) of the steps with a spike (end of step, `(k+1)·dt`)."""
    s = np.asarray(spikes) > 0
    return [(np.nonzero(s[:, i])[0] + 1) * dt for i in range(s.shape[1])]


def isi_cv(spikes, dt: float | int, min_spikes: int = 3) -> float:
    """Mean over neurons (with at least `min_spikes` spikes) of the coefficient of
    variation of the interspike intervals, std/mean — ~1 for Poisson-like irregular
    firing, 0 for clock-like. NaN if no neuron qualifies."""
    cvs = []
    for t in spike_times(spikes, dt):
        if t.size >= min_spikes:
            isi = np.diff(t)
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def population_rate(spikes, dt: float | int, window: float | int | None = None) -> np.ndarray:
    """Instantaneous population rate (Hz) per step, optionally smoothed by a box window (ms)."""
    s = np.asarray(spikes)
    r = s.reshape(s.shape[0], -1).mean(axis=1) / (dt * 1e-3)
    if window:
        k = max(int(round(window / dt)), 1)
        r = np.convolve(r, np.ones(k) / k, mode="same")
    return r
