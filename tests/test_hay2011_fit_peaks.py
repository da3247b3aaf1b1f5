"""`WindowPeaks` and the `--peaks` stage of validation/hay2011_fit.py (docs/fitting.md,
"Hay et al.'s L5 cell"). Fast tier: pure arrays, no cell is built."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def study():
    path = ROOT / "validation" / "hay2011_fit.py"
    spec = importlib.util.spec_from_file_location("hay2011_fit", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its equinox modules (dataclasses) look themselves up there
    spec.loader.exec_module(mod)
    return mod


def _spiky(dt, n, spikes, base=-65.0, amp=95.0):
    """(n, 2) mV: a resting trace with 1 ms Gaussian 'spikes' (peak base + amp) at the
    times `spikes` (ms) at site 0 and a flat site 1."""
    t = (np.arange(n) + 1) * dt
    v = np.full((n, 2), base)
    for s in spikes:
        v[:, 0] += amp * np.exp(-0.5 * ((t - s) / 0.25) ** 2)
    return v


def test_window_peaks_sees_a_missing_spike_not_a_shifted_one(study):
    """Window peaks (10 ms windows, soft max with tau 1 mV): the soft peak is within
    [max, max + tau·log(rows)] of the window's maximum (logsumexp's bounds); a spike
    shifted by 2 ms inside its window changes the loss by < 1e-3 mV² (the soft max of a
    spike's shape does not depend on where it sits: float32 round-off and sampling), while a
    missing spike gives one residual of (soft peak difference)/√n, n = 5 windows × 2 sites,
    the mean of the squared soft-peak differences computed in float64 by hand, and residuals
    whose squares sum to the loss."""
    import jax.numpy as jnp

    import neurojax as nj

    dt, n = 0.025, 2000  # 50 ms: 5 windows of 10 ms
    wp = study.WindowPeaks()
    rec = lambda v: nj.fitting.Recording(v=jnp.asarray(v, jnp.float32), dt=dt)  # noqa: E731
    target = rec(_spiky(dt, n, [14.0, 33.0]))
    p = np.asarray(wp.peaks(target))
    v = _spiky(dt, n, [14.0, 33.0]).reshape(5, 400, 2)
    vmax = v.max(1)
    assert p.shape == (5, 2)
    assert np.all(p >= vmax - 1e-4) and np.all(p <= vmax + np.log(400) + 1e-4)
    shifted = float(wp(rec(_spiky(dt, n, [16.0, 35.0])), target))
    missing = float(wp(rec(_spiky(dt, n, [14.0])), target))
    assert shifted < 1e-3

    # against float64 logsumexp by hand (float32 rows: rtol 1e-5 on a ~800 mV² mean)
    def soft(v):
        w = v.reshape(5, 400, 2)
        m = w.max(1)
        return m + np.log(np.exp(w - m[:, None]).sum(1))

    expect = np.mean((soft(_spiky(dt, n, [14.0])) - soft(_spiky(dt, n, [14.0, 33.0]))) ** 2)
    np.testing.assert_allclose(missing, expect, rtol=1e-5)
    # one residual: the spike (95 mV) less the flat window's log(400) = 6.0 mV soft-max
    # excess, plus the spike's own (1.6 mV for a 0.25 ms Gaussian): 95²/10 within 10 %
    assert 0.8 * 95.0**2 / 10 < missing < 95.0**2 / 10
    r = wp.residuals(rec(_spiky(dt, n, [14.0])), target)
    np.testing.assert_allclose(float(r @ r), missing, rtol=1e-6)


def test_window_peaks_and_the_peaks_stage_refuse_bad_settings(study):
    """Bad width / tau refused at construction; a window longer than the trace named;
    `hierarchical` refuses a negative `peaks` weight, a peaks stage without a finish stage
    and a non-finite `spike_peaks` weight, before any simulation."""
    from types import SimpleNamespace

    import jax.numpy as jnp

    import neurojax as nj

    with pytest.raises(ValueError, match="width"):
        study.WindowPeaks(width=0.0)
    with pytest.raises(ValueError, match="tau"):
        study.WindowPeaks(tau=float("nan"))
    short = nj.fitting.Recording(v=jnp.zeros((100, 2)), dt=0.025)  # 2.5 ms
    with pytest.raises(ValueError, match="at least one window"):
        study.WindowPeaks().peaks(short)
    mechs = {}
    for _, k, f in study.DENSITIES:
        mechs.setdefault(k, {})[f] = 1.0
    cell = SimpleNamespace(mechanisms=[SimpleNamespace(**mechs.get(k, {})) for k in range(22)])
    with pytest.raises(ValueError, match="peaks"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), peaks=-1.0, finish=10)
    with pytest.raises(ValueError, match="finish"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), peaks=1.0, finish=0)
    with pytest.raises(ValueError, match="spike_peaks"):
        study.hierarchical(cell, None, None, None, np.ones((1, 10)), spike_peaks=float("inf"))
