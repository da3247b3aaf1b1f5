"""Raster and population-rate plots (matplotlib, imported lazily)."""

from __future__ import annotations

import numpy as np

from ._statistics import _dt, population_rate


def raster(
    spikes,
    dt: float | int,
    *,
    ax=None,
    max_neurons: int | None = 500,
    colors=None,
    t0: float | int = 0.0,
):
    """Spike raster of `spikes` — an array `(n_steps, n)` or a dict of them (populations,
    stacked bottom to top) — recorded every `dt` ms. At most `max_neurons` per population
    are drawn (the first ones). Dendritic spikes `(n_steps, size, n_compartments)` (a
    network's `"<population>.dspikes"`) are drawn one row per neuron and compartment.
    Returns the axes."""
    dt = _dt("raster", dt)  # dt <= 0 drew the spikes at t <= 0 without a word
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    groups = spikes if isinstance(spikes, dict) else {"": spikes}
    offset = 0
    colors = colors or {}
    for k, (name, s) in enumerate(groups.items()):
        s = np.asarray(s)
        s = s.reshape(s.shape[0], -1)  # dSpikes: (n_steps, size·n_compartments)
        if max_neurons:
            s = s[:, :max_neurons]
        steps, idx = np.nonzero(s)
        ax.scatter(
            t0 + (steps + 1) * dt,
            idx + offset,
            s=1,
            marker="|",
            color=colors.get(name, f"C{k}"),
            label=name or None,
            linewidths=0.6,
        )
        offset += s.shape[1]
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    if isinstance(spikes, dict):
        # proxy handles (a filled square per population), above the axes: the scatter's
        # own handle is a 1-point tick, invisible at legend size, and inside the axes the
        # legend covered the raster
        from matplotlib.patches import Patch

        handles = [
            Patch(color=colors.get(name, f"C{k}"), label=name) for k, name in enumerate(groups)
        ]
        ax.legend(
            handles=handles,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=len(handles),
            frameon=False,
            fontsize="small",
            borderaxespad=0.2,
        )
    return ax


def plot_population_rate(
    spikes, dt: float | int, *, window: float | int = 2.0, ax=None, t0: float | int = 0.0
):
    """Population rate (Hz, box-smoothed over `window` ms) of `spikes` `(n_steps, n)` or of
    each population of a dict. Returns the axes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    groups = spikes if isinstance(spikes, dict) else {"": spikes}
    for name, s in groups.items():
        s = np.asarray(s)
        r = population_rate(s.reshape(s.shape[0], -1), dt, window)
        ax.plot(t0 + (np.arange(r.size) + 1) * dt, r, label=name or None, lw=0.8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    if isinstance(spikes, dict):
        ax.legend(frameon=False)
    return ax


def plot_compartments(
    v,
    dt: float | int,
    *,
    neuron: int = 0,
    names=None,
    ax=None,
    t0: float | int = 0.0,
):
    """Voltage traces (mV) of every compartment of one dendritic neuron: `v` shaped
    `(n_steps, size, n_compartments)` (a network's `Solution.v[population]`) or
    `(n_steps, n_compartments)` (a single `ReducedCell`), recorded every `dt` ms;
    `names` labels the compartments (e.g. `cell.names`). Returns the axes."""
    dt = _dt("plot_compartments", dt)  # dt = 0 drew every trace at one instant
    v = np.asarray(v)
    if v.ndim == 3:
        if (
            isinstance(neuron, (bool, np.bool_))
            or not isinstance(neuron, (int, np.integer))
            or not -v.shape[1] <= neuron < v.shape[1]
        ):
            raise ValueError(
                f"plot_compartments: neuron={neuron!r} is not one of the {v.shape[1]} neurons "
                f"of v {v.shape} (n_steps, size, n_compartments); give an int in "
                f"[0, {v.shape[1]})."
            )
        v = v[:, neuron]
    if v.ndim != 2:
        raise ValueError(
            "plot_compartments needs voltages shaped (n_steps, size, n_compartments) or "
            f"(n_steps, n_compartments), got {v.shape}."
        )
    names = list(names) if names is not None else [f"compartment {i}" for i in range(v.shape[1])]
    if len(names) != v.shape[1]:
        raise ValueError(f"{len(names)} names for {v.shape[1]} compartments.")
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    t = t0 + (np.arange(v.shape[0]) + 1) * dt
    for i, name in enumerate(names):
        ax.plot(t, v[:, i], lw=0.8, label=name)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("V (mV)")
    ax.legend(frameon=False, fontsize="small")
    return ax
