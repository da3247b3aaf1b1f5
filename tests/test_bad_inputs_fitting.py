"""Bad settings of the fitting objects (losses, constraints, optimisers, strategies,
`Recording`) raise a `TypeError`/`ValueError` naming the object and the field, at
construction: no compilation, so the whole file costs well under a CPU-second."""

import math

import numpy as np
import pytest

from neurojax import fitting as F

NAN, INF = float("nan"), float("inf")

# (owner, constructor, field named in the message, bad value, expected error)
CASES = [
    ("FiringRate", lambda v: F.FiringRate(scale=v), "scale", NAN, ValueError),
    ("FiringRate", lambda v: F.FiringRate(scale=v), "scale", 0.0, ValueError),
    ("FiringRate", lambda v: F.FiringRate(scale=v), "scale", -2.0, ValueError),
    ("FiringRate", lambda v: F.FiringRate(scale=v), "scale", "1", TypeError),
    ("PopulationRate", lambda v: F.PopulationRate(scale=v), "scale", INF, ValueError),
    ("PopulationRate", lambda v: F.PopulationRate(bin=v), "bin", NAN, ValueError),
    ("VanRossum", lambda v: F.VanRossum(tau=v), "tau", INF, ValueError),
    ("VanRossum", lambda v: F.VanRossum(tau=v), "tau", 1 + 2j, TypeError),
    ("SoftSpikeCount", lambda v: F.SoftSpikeCount(width=v), "width", INF, ValueError),
    ("SoftSpikeCount", lambda v: F.SoftSpikeCount(v_th=v), "v_th", NAN, ValueError),
    ("WindowedFeatures", lambda v: F.WindowedFeatures(v_th=v), "v_th", INF, ValueError),
    ("WindowedFeatures", lambda v: F.WindowedFeatures(windows=v), "windows", 2.5, TypeError),
    (
        "WindowedFeatures",
        lambda v: F.WindowedFeatures(scales=v),
        "scales",
        (1.0, NAN, 1.0),
        ValueError,
    ),
    ("SoftDTW", lambda v: F.SoftDTW(gamma=v), "gamma", INF, ValueError),
    ("SoftDTW", lambda v: F.SoftDTW(downsample=v), "downsample", INF, ValueError),
    ("SoftDTW", lambda v: F.SoftDTW(downsample=v), "downsample", NAN, ValueError),
    ("SoftDTW", lambda v: F.SoftDTW(band=v), "band", NAN, ValueError),
    ("FiringRate", lambda v: F.FiringRate(window=v), "window", ("a", "b"), TypeError),
    ("FiringRate", lambda v: F.FiringRate(window=v), "window", (NAN, 5.0), ValueError),
    ("FiringRate", lambda v: F.FiringRate(window=v), "window", 5.0, TypeError),
    ("Positive", lambda v: F.Positive(lower=v), "lower", NAN, ValueError),
    ("Bounded", lambda v: F.Bounded(v, 1.0), "lower", NAN, ValueError),
    ("Bounded", lambda v: F.Bounded(0.0, v), "upper", "2", TypeError),
    ("Recording", lambda v: F.Recording(v=np.zeros(4), dt=v), "dt", -0.1, ValueError),
    ("Recording", lambda v: F.Recording(v=np.zeros(4), dt=v), "dt", NAN, ValueError),
    ("Recording", lambda v: F.Recording(v=np.zeros(4), dt=0.1, t0=v), "t0", INF, ValueError),
    ("LevenbergMarquardt", lambda v: F.LevenbergMarquardt(damping=v), "damping", INF, ValueError),
    ("LevenbergMarquardt", lambda v: F.LevenbergMarquardt(increase=v), "increase", "4", TypeError),
    (
        "LevenbergMarquardt",
        lambda v: F.LevenbergMarquardt(max_tries=v),
        "max_tries",
        True,
        ValueError,
    ),
    ("GlobalSearch", lambda v: F.GlobalSearch(sigma=v), "sigma", INF, ValueError),
    ("GlobalSearch", lambda v: F.GlobalSearch(seed=v), "seed", NAN, ValueError),
    ("GlobalSearch", lambda v: F.GlobalSearch(generations=v), "generations", True, ValueError),
    ("Restarts", lambda v: F.Restarts(spread=v), "spread", INF, ValueError),
]


@pytest.mark.parametrize("owner, make, field, value, error", CASES)
def test_bad_setting_is_named(owner, make, field, value, error):
    with pytest.raises(error) as info:
        make(value)
    message = str(info.value)
    assert field in message, message
    # the message names the owning class, so a user of several losses knows which
    assert owner in message, message


def test_open_windows_and_negative_levels_stay_allowed():
    # legitimate inputs next to the refused ones: an open-ended window, a negative
    # threshold or lower bound, a start time before 0
    assert F.FiringRate(window=(0.0, math.inf)).window == (0.0, math.inf)
    assert F.SoftSpikeCount(v_th=-20.0).v_th == -20.0
    assert F.Positive(lower=-70.0).lower == -70.0
    assert F.Recording(v=np.zeros(3), dt=0.5, t0=-1.0).t.tolist() == [-0.5, 0.0, 0.5]


@pytest.mark.parametrize("kw", [{"rtol": float("nan")}, {"target_loss": float("nan")}])
def test_fit_refuses_nan_stopping_rules_before_compiling(kw):
    # a NaN compares False everywhere: early stopping would be silently ignored. The
    # check runs before make_objective, so nothing is compiled here.
    import jax.numpy as jnp

    import neurojax as nj

    name = next(iter(kw))
    with pytest.raises(ValueError, match=f"fit: {name}"):
        F.fit(nj.LIF(), jnp.zeros(10), jnp.zeros(10), dt=0.1, trainable=lambda m: m.tau, **kw)
