"""Session-9 probes of the cable helpers added in the last two sessions (Hay et al.'s
protocol helpers, `hay2011_morphology(shape=...)`, `Cell.event_input`): inputs that gave a
silently wrong number now raise, or give the right number. Nothing is compiled in the
fast tier (the `prepare_loop` case, slow tier, compiles one vector field).

Found by the probes:

- `epsp_current` with `tau_decay` within a relative 1e-12 of `tau_rise` returned about
  half the current (the difference of two nearly equal exponentials, divided by another:
  every digit cancelled; at 1e-15, 0.29 nA flat where the current peaks at 0.5 nA). Now
  computed with `expm1`/`log1p`, within 1e-15 of 50-digit arithmetic (mpmath);
- `epsp_current` with a NaN time gave 0 nA there; a complex time lost its imaginary part;
  a string time was parsed;
- `hay2011_morphology(axon_stubs="no")` replaced the axon (a non-empty string is truthy);
- `site_at_distance` at a distance before the start of the region (0 µm along the apical
  trunk, which starts at the soma's end) returned the nearest compartment, 20 µm away on
  the simplified L5 cell (beyond the far end was already refused);
- `Cell.event_input` with `dt <= 0` put every event in step 0 (`dt = -0.1`) or failed
  with an `IndexError` (`dt = 0`, NaN), and a fractional `n_steps` was an `IndexError`
  (now refused by `Cell.event_input`, through `stimuli._check_dt`).
"""

import math

import numpy as np
import pytest

from neurojax import cable

T = np.linspace(0.0, 40.0, 81)


def _epsp_mp(t, onset, imax, tau_rise, tau_decay):
    """The same formula in 50-digit arithmetic (the reference)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    tr, td = mp.mpf(tau_rise), mp.mpf(tau_decay)
    tp = tr * td / (td - tr) * mp.log(td / tr)
    peak = mp.exp(-tp / td) - mp.exp(-tp / tr)
    out = []
    for x in t:
        s = mp.mpf(float(x)) - onset
        out.append(float(imax * (mp.exp(-s / td) - mp.exp(-s / tr)) / peak) if s >= 0 else 0.0)
    return np.array(out)


@pytest.mark.parametrize(
    "tau_rise, tau_decay",
    [(0.5, 5.0), (5.0, 0.5), (5.0, 5.0 * (1 + 1e-12)), (5.0, 5.0 * (1 + 1e-15)), (2.0, 2.0000001)],
)
def test_epsp_current_accurate_for_close_time_constants(tau_rise, tau_decay):
    got = cable.epsp_current(T, 1.0, 0.5, tau_rise, tau_decay)
    # tolerance: a few float64 roundings of a quantity of order imax = 0.5 nA (measured
    # 5e-16 at most; the old formula was off by 0.2 nA at 1 + 1e-12)
    np.testing.assert_allclose(got, _epsp_mp(T, 1.0, 0.5, tau_rise, tau_decay), rtol=0, atol=1e-14)


def test_epsp_current_near_equal_time_constants_is_the_alpha_function():
    # the limit tau_rise -> tau_decay = tau: (s/tau)·e^{1 - s/tau}, peak imax at s = tau;
    # the relative distance 1e-12 leaves a difference O(1e-12) from the limit
    tau = 5.0
    s = T - 1.0
    want = np.where(s >= 0, 0.5 * (s / tau) * np.exp(1 - s / tau), 0.0)
    got = cable.epsp_current(T, 1.0, 0.5, tau, tau * (1 + 1e-12))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert math.isclose(float(got.max()), 0.5, rel_tol=1e-6)


@pytest.mark.parametrize(
    "t, error, match",
    [
        (np.array([0.0, np.nan, 2.0]), ValueError, "t must be finite"),
        (np.array([2.0, np.inf]), ValueError, "t must be finite"),
        (np.array([2.0 + 1j]), TypeError, "t must be real times"),
        (np.array([True, False]), TypeError, "t must be real times"),
        ("2", TypeError, "t must be times in ms"),
        (None, TypeError, "t must be times in ms"),
    ],
)
def test_epsp_current_bad_times_are_named(t, error, match):
    with pytest.raises(error, match=f"epsp_current: {match}"):
        cable.epsp_current(t, 1.0)


def test_epsp_current_legitimate_times():
    # integers, a scalar, an empty array, times before the onset
    assert cable.epsp_current(np.arange(3), 5.0).tolist() == [0.0, 0.0, 0.0]
    assert cable.epsp_current(np.array([]), 1.0).shape == (0,)
    peak = 0.5 * 5.0 / 4.5 * math.log(10.0)  # the time of the peak for 0.5 and 5 ms
    assert float(cable.epsp_current(1.0 + peak, 1.0)) == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize("value", ["no", 0, 1.0, None])
def test_hay2011_morphology_axon_stubs_must_be_a_bool(value):
    with pytest.raises(TypeError, match="axon_stubs must be True or False"):
        cable.hay2011_morphology(axon_stubs=value)


def _trunk():
    """Soma (20 µm, 0 to 20 µm from its 0 end) and an apical trunk of 100 µm after it."""
    return cable.Morphology(
        [cable.Branch(20.0, 10.0, nseg=1, type="soma"),
         cable.Branch(100.0, 2.0, nseg=5, parent=0, type="apical")]
    )  # fmt: skip


def test_site_at_distance_before_the_region_is_refused():
    morph = _trunk()
    # 0 µm along the apical trunk, which starts at 20 µm: the nearest compartment (30 µm)
    # was returned without a word
    with pytest.raises(ValueError, match=r"distance=0.0 µm is before the start of 'apical'.*20"):
        cable.site_at_distance(morph, 0.0)
    # the controls: the region's near end and a compartment centre are fine
    assert cable.site_at_distance(morph, 20.0) == (1, 0.1)
    assert cable.site_at_distance(morph, 70.0) == (1, 0.5)
    assert cable.site_at_distance(morph, 0.0, where="soma", along=None) == (0, 0.5)


class _Receiver:
    """Stands in for a point process with an additive NET_RECEIVE (what `event_input`
    reads of it): no .mod file to compile, so the test costs nothing."""

    receive_additive = True
    receive_time = False


def _event_cell():
    """What `Cell.event_input` reads of a cell with one receiving point process."""
    from types import SimpleNamespace

    return SimpleNamespace(geometry=SimpleNamespace(receivers=[0]), point_processes=[_Receiver()])


@pytest.mark.parametrize("dt, n_steps", [(-0.1, 20), (0.0, 20), (float("nan"), 20), (0.1, 10.5)])
def test_event_input_checks_dt_and_n_steps(dt, n_steps):
    cell = _event_cell()
    ev = cable.Cell.event_input(cell, [([1.0], 0.01)], 20, 0.1)  # the control: step 10
    assert ev.shape == (20, 1) and float(ev[10, 0]) == float(ev.sum()) == pytest.approx(0.01)
    with pytest.raises((ValueError, TypeError), match="dt|n_steps"):
        cable.Cell.event_input(cell, [([1.0], 0.01)], n_steps, dt)


def test_event_input_weights_of_another_length_are_named():
    with pytest.raises(ValueError, match=r"spikes\[0\]"):
        cable.Cell.event_input(_event_cell(), [([1.0, 2.0], [0.1, 0.2, 0.3])], 40, 0.1)


@pytest.mark.slow  # ~3 CPU-s: the initial state compiles (the rest of this file: nothing)
def test_prepared_cell_edited_afterwards_is_refused():
    # `Cell.prepare_loop()` (simulate's hook) builds the merged parameters of mechanisms
    # evaluated as one group from the values then. Before, editing the prepared cell was
    # silently ignored (g_na = 0 in the soma still gave a 41.9 mV spike in a 400-step
    # run); now the merged instances' leaves are None in it, so an edit fails loudly.
    import equinox as eqx
    import jax.numpy as jnp

    morph = cable.Morphology([cable.Branch(20.0, 20.0), cable.Branch(100.0, 2.0, parent=0)])
    cell = cable.Cell(morph, [(cable.HH(), [0]), (cable.HH(), [1])], clamps=[(0, 0.5)])
    assert len(cell.geometry.groups) == 1  # the two HH instances are evaluated as one
    prepared = cell.prepare_loop()
    with pytest.raises(ValueError, match="None"):  # equinox: no leaf there to replace
        eqx.tree_at(lambda c: c.mechanisms[0].g_na, prepared, jnp.asarray(0.0))
    replaced = eqx.tree_at(lambda c: c.mechanisms[0], prepared, cable.HH(g_na=0.0))
    with pytest.raises(ValueError, match="prepare_loop"):  # nothing compiled: fails at trace
        replaced.vector_field(0.0, cell.init_state(), jnp.zeros((1,)))
