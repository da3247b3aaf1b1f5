"""Fitting channel densities of Hay et al. (2011)'s L5b cell (validation/hay2011_fit.py;
docs/fitting.md, "Hay et al.'s L5 cell: ten densities").

Fast tier: the study's CMA-ES baseline and its start sampling (pure numpy, milliseconds).
Building the cell alone loads eleven .mod files (~6 s) and compiling one simulation takes
~13 s on the 2-core VM, so every fit is in the slow tier; `tests/test_hay2011_cell.py` and
`tests/test_fit_anything.py` keep the cell and `fit` on cells covered in the fast tier."""

import importlib.util
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _study():
    spec = importlib.util.spec_from_file_location("hay2011_fit", ROOT / "validation" / "hay2011_fit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def study():
    return _study()


def test_starts_are_uniform_within_fifty_percent(study):
    truth = np.array([2.04, 0.693, 6.75e-5])
    s = study.draw_starts(truth, 200, seed=1)
    r = s / truth
    assert s.shape == (200, 3)
    assert r.min() >= 0.5 and r.max() <= 1.5
    # uniform on [0.5, 1.5]: the mean of 600 draws is 1 within 4 standard errors (0.29/√600)
    assert abs(r.mean() - 1.0) < 4 * 0.29 / np.sqrt(600)


def test_cma_es_baseline_minimises_an_ill_conditioned_quadratic(study):
    """The comparison baseline must work: a 10-d ellipsoid (condition 1e3, as the
    densities' sensitivities differ by orders of magnitude) from distance ~1 to < 1e-6
    in 3000 evaluations (Hansen's CMA-ES needs ~1500-2500 on it)."""
    scale = np.logspace(0, 1.5, 10)

    def f(x):
        return np.sum((x * scale) ** 2, axis=-1)

    x, fx, hist = study.cma_es(f, np.ones(10), 0.5, 3000, 10, seed=0)
    assert fx < 1e-6, fx
    assert hist[-1][0] <= 3000
    assert all(b <= a for (_, a), (_, b) in zip(hist, hist[1:]))  # best-so-far is monotone


@pytest.fixture(scope="module")
def hay():
    st = _study()
    return (st, *st.setup(T=45.0))


def _three(st, cell):
    dens = [st.DENSITIES[i] for i in (0, 1, 8)]  # soma NaTa_t, soma SKv3_1, apical NaTa_t
    trainable = st.trainable_for(dens)
    return trainable, np.array([float(x) for x in trainable(cell)])


@pytest.mark.slow  # compiles the Hay cell (~15 s); the fast tests above keep the study's tools covered
def test_trace_mse_basin_is_narrower_than_one_percent(hay):
    """Why no fit from ±50 % recovers the densities (docs/fitting.md): the target is
    reproduced at the truth (float32 self-consistency) but 1 % off the loss is already
    tens of mV² (spikes of the BAC burst shift). Measured: 2.8e-8, 4.0 (0.1 %), 59 (1 %)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import neurojax as nj

    st, cell, inputs, saveat, target = hay
    trainable, truth = _three(st, cell)

    @jax.jit
    def loss(x):
        m = eqx.tree_at(trainable, cell, tuple(x[i] for i in range(3)))
        v = nj.simulate(m, inputs, dt=st.DT, saveat=saveat).states
        return jnp.mean((v - target) ** 2)

    at = [float(loss(jnp.asarray(truth * np.array([f, 2 - f, f]), jnp.float32)))
          for f in (1.0, 1.001, 1.01)]  # fmt: skip
    assert at[0] < 1e-4, at  # the same program on the same values: float32 round-off only
    assert at[1] > 0.5, at  # 0.1 % off: measured 4.0 mV²
    assert at[2] > 10.0, at  # 1 % off: measured 59 mV²


@pytest.mark.slow  # a Hay cell fit: ~1-2 CPU-min; the fast tests above keep the study's tools covered
def test_three_densities_from_thirty_percent_off_are_not_recovered(hay):
    """The measured limitation, recorded so that a change to `fit` that lifts it shows up:
    the default `fit` does not recover three densities from ±30 % (measured: it stays at
    +28/-30/+30 %, loss 402 mV², `ABOVE_NOISE` after 16 steps) — and says so
    (`converged` False)."""
    import equinox as eqx
    import jax.numpy as jnp

    import neurojax as nj

    st, cell, inputs, saveat, target = hay
    trainable, truth = _three(st, cell)
    guess = eqx.tree_at(
        trainable, cell, tuple(jnp.float32(v) for v in truth * np.array([1.3, 0.7, 1.3]))
    )
    r = nj.fit(guess, inputs, target, dt=st.DT, trainable=trainable, saveat=saveat,
               steps=30, progress_meter=nj.NoProgress())  # fmt: skip
    err = np.abs(np.array([float(x) for x in r.params]) / truth - 1)
    print(r, err)
    assert float(r.loss) > 1.0, r  # far from the truth's 2.8e-8 mV²
    assert not r.converged, r  # no silent wrong answer: the fit does not claim convergence
