"""Session-9 probes of the fitting API (`fit`, `make_objective`, the strategies): inputs
that gave a silently wrong number (or an unreadable crash) now raise, naming the argument
and what to do. Nothing is compiled: `make_objective` traces the simulation
(`jax.eval_shape`) and raises before any compilation; the whole file costs well under a
CPU-second beyond the imports.

Found by the probes (each had no test before):

- a complex target lost its imaginary part and was fitted (loss 40.9 mV² from the real
  part, no warning); a boolean target was read as 0/1 mV against a voltage in mV (loss
  3540 mV², fitted);
- `fit(print_every=0)` was a `ZeroDivisionError` from inside the descent loop, and a
  negative `print_every` was ignored;
- `Recording.from_voltage(v, dt, v_th=nan)` (or inf) detected no spike at all; a complex
  or boolean trace gave complex/boolean "spikes";
- `Recording.from_spike_times` with a NaN/inf time, dt or t0 ended in `int()` of NaN
  ("cannot convert float NaN to integer"), a fractional `n_rows` in NumPy; a bool time
  was read as 1 ms and a string parsed;
- `Recording(v=..., spikes=...)` with different numbers of rows was accepted (`n_rows`
  read the first), negative spike counts were accepted, a complex `v` too;
- `TraceMSE() * nan` (or inf) built a loss that is NaN everywhere: `fit` then blamed
  "the model on these inputs, the target, the initial parameters"; `TraceMSE(weights=`
  complex`)` made the loss complex; `TraceMSE() * True` weighted by 1;
- `SpikeClampedInit(required="no")` / `DataDrivenInit(required="x")` were accepted: a
  non-empty string is truthy, so "no" meant "raise where it does not apply" (now
  refused: `_errors.check_bool`).
"""

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import fitting as F

N = 40
CURRENT = jnp.full((N, 1), 2.5)
V = jnp.linspace(-70.0, -55.0, N)[:, None]  # a target shaped like LIF's Solution.v


def _objective(target, **kw):
    return F.make_objective(nj.LIF(), CURRENT, target, dt=0.1, trainable=lambda m: (m.tau,), **kw)


def test_complex_target_is_refused():
    with pytest.raises(TypeError, match=r"target v is complex.*jnp.real"):
        _objective(V + 0j)
    with pytest.raises(TypeError, match=r"target v is complex"):
        F.make_objective(
            nj.LIF(),
            CURRENT,
            {"E": V + 1j},
            dt=0.1,
            trainable=lambda m: (m.tau,),
            saveat=nj.SaveAt(fn=lambda y: {"E": y.v}),
        )


def test_boolean_voltage_target_is_refused():
    with pytest.raises(TypeError, match=r"target v is boolean.*voltage \(mV\).*Recording\(spikes="):
        _objective(V > -60.0)


def test_legitimate_targets_still_accepted():
    # the control: an integer voltage trace (ADC-like, whole mV),
    # a boolean record compared with a boolean target, and a boolean spike raster
    for target in (jnp.round(V).astype(int),):
        assert _objective(target).target.v.shape == (N, 1)
    fn = nj.SaveAt(fn=lambda y: y.v > -60.0)
    assert _objective(V > -60.0, saveat=fn).target.v.shape == (N, 1)  # cast to float
    raster = np.zeros((N, 1), bool)
    raster[5] = True
    rec = F.Recording(spikes=raster, dt=0.1)
    assert _objective(rec, loss=F.SpikeCount()).target.spikes.shape == (N, 1)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_print_every_is_checked_before_compiling(value):
    with pytest.raises(ValueError, match=r"fit: print_every must be a number of steps >= 1"):
        F.fit(nj.LIF(), CURRENT, V, dt=0.1, trainable=lambda m: (m.tau,), print_every=value)


@pytest.mark.parametrize("make", [F.SpikeClampedInit, F.DataDrivenInit])
def test_required_must_be_a_bool(make):
    with pytest.raises(TypeError, match="required"):
        make(required="no")


V1 = jnp.array([-70.0, -60.0, 10.0, -70.0, -65.0, 20.0, -70.0])

RECORDING_CASES = [
    (lambda: F.Recording.from_voltage(V1, 0.1, v_th=float("nan")), ValueError, "v_th"),
    (lambda: F.Recording.from_voltage(V1, 0.1, v_th=float("inf")), ValueError, "v_th"),
    (lambda: F.Recording.from_voltage(V1, 0.1, v_th="0"), TypeError, "v_th"),
    (lambda: F.Recording.from_voltage(V1 + 0j, 0.1), TypeError, "real voltage"),
    (lambda: F.Recording.from_voltage(V1 > 0, 0.1), TypeError, "real voltage"),
    (lambda: F.Recording.from_spike_times([1.0, float("nan")], 20, 0.1), ValueError, "finite"),
    (lambda: F.Recording.from_spike_times([1.0, float("inf")], 20, 0.1), ValueError, "finite"),
    (lambda: F.Recording.from_spike_times([True], 20, 0.1), TypeError, "real numbers"),
    (lambda: F.Recording.from_spike_times(["1.0"], 20, 0.1), TypeError, "real numbers"),
    (lambda: F.Recording.from_spike_times([1.0], 20, 0.0), ValueError, "dt"),
    (lambda: F.Recording.from_spike_times([1.0], 20, float("nan")), ValueError, "dt"),
    (lambda: F.Recording.from_spike_times([1.0], 20, 0.1, t0=float("nan")), ValueError, "t0"),
    (lambda: F.Recording.from_spike_times([0.1], 2.5, 0.1), TypeError, "n_rows"),
    (lambda: F.Recording.from_spike_times([], 0, 0.1), ValueError, "n_rows"),
    (lambda: F.Recording(v=jnp.zeros(5), spikes=jnp.zeros(6), dt=0.1), ValueError, "rows"),
    (lambda: F.Recording(spikes=-jnp.ones(5), dt=0.1), ValueError, "negative"),
    (lambda: F.Recording(v=V1 + 0j, dt=0.1), TypeError, "complex"),
]


@pytest.mark.parametrize("make, error, match", RECORDING_CASES)
def test_recording_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match) as info:
        make()
    assert "Recording" in str(info.value)


def test_recording_legitimate_arguments():
    # the controls: integer traces, spike times as integers, several trains, one empty
    rec = F.Recording.from_voltage(V1.astype(int), 0.1)
    assert rec.spikes.tolist() == [0, 0, 1, 0, 0, 1, 0]
    two = F.Recording.from_spike_times([[], [1, 1.5]], 20, 0.1)
    assert two.spikes.shape == (20, 2) and float(two.spikes.sum()) == 2.0
    net = F.Recording(v={"E": jnp.zeros((5, 3))}, spikes={"E": jnp.zeros((5, 3))}, dt=0.1)
    assert net.n_rows == 5


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: F.TraceMSE() * float("nan"), ValueError, "WeightedSum: the weights"),
        (lambda: float("inf") * F.TraceMSE(), ValueError, "WeightedSum: the weights"),
        (lambda: F.TraceMSE() * True, TypeError, "unsupported operand"),
        (lambda: F.TraceMSE(weights=jnp.array([1.0, 1j])), TypeError, "TraceMSE weights"),
    ],
)
def test_loss_weights_are_finite_real_numbers(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_loss_weights_still_allowed():
    # the controls: a negative weight (a term to maximise, with a first-order optimiser),
    # integer weights, a sum of weighted terms
    assert (F.TraceMSE() * -1.0).weights == (-1.0,)
    assert (2 * F.TraceMSE() + 0.5 * F.SpikeCount()).weights == (2.0, 0.5)
    assert F.TraceMSE(weights=jnp.array([1, 0])).weights.shape == (2,)
