"""Session-12 probes (round 5) of `simulate`, `SaveAt`, `analysis` and `fitting`: each
case below gave a silently wrong answer (or an unreadable error) before the fix named in
its test, and is now refused before anything is compiled, naming the argument and what
to do. Nothing here compiles a run except the controls marked as such (one small LIF
run each); the file's fast tier is well under 8 s at load ~10 on 2 cores."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import analysis as A
from neurojax import fitting as F

LIF = nj.LIF()
HH = nj.HodgkinHuxley()
I = jnp.full(20, 5.0)


@pytest.mark.parametrize(
    "field, value, words",
    [
        # each ran silently: t_ref = -1 or NaN fired with no refractory period (5 spikes
        # in 20 ms at 5 nA instead of 3), r = inf spiked at every step
        ("t_ref", -1.0, ["LIF.t_ref must be >= 0", "got -1.0", "eqx.tree_at"]),
        ("t_ref", float("nan"), ["LIF.t_ref must be >= 0", "got nan"]),
        ("r", float("inf"), ["LIF.r must be > 0", "got inf"]),
        ("tau", 0, ["LIF.tau must be > 0", "got 0.0"]),
    ],
)
def test_parameter_set_to_a_python_number_outside_its_domain_is_refused(field, value, words):
    """`eqx.tree_at` with a plain Python number: not an array leaf, so `check_domains`
    (which reads array leaves) skipped it; `simulate` now checks it against the field's
    declared domain (`_simulate._check_python_number_domain`)."""
    model = eqx.tree_at(lambda m: getattr(m, field), LIF, value)
    with pytest.raises(ValueError) as info:
        nj.simulate(model, I, dt=0.1)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_parameter_set_to_a_valid_python_number_still_runs():
    # the control (compiles one 20-step LIF run): tau = 20 ms as a Python float, against
    # the closed form V(t) = v_rest + R·I·(1 − e^(−t/τ)) at 2 ms, below threshold at 0.5 nA
    model = eqx.tree_at(lambda m: m.tau, LIF, 20.0)
    v = nj.simulate(model, jnp.full(20, 0.5), dt=0.1).v[-1]
    # float32 exponential Euler is exact for a constant input up to rounding (~1e-5 mV)
    assert abs(float(v) - (-65.0 + 5.0 * (1 - np.exp(-2.0 / 20.0)))) < 1e-4


@pytest.mark.parametrize(
    "state0, error, words",
    [
        # a Python NaN was not an array leaf: it escaped the NaN and gate checks, and the
        # run's report blamed "a parameter, an input or a mechanism's rate"
        (HH.init_state(())._replace(m=float("nan")), ValueError, ["state0 contains NaN"]),
        # the control: a Python 1.5 was already refused by the gate check (still is)
        (HH.init_state(())._replace(m=1.5), ValueError, ["gate m", "[0, 1]"]),
        # complex: ran, and returned a complex64 voltage
        (HH.init_state(())._replace(v=jnp.asarray(-65.0 + 0j)), TypeError,
         ["state0.y.v of HodgkinHuxley is complex64"]),
        # bool: JAX's "scan body function carry input and carry output must have equal types"
        (HH.init_state(())._replace(v=True), TypeError, ["state0.y.v", "is bool"]),
        (HH.init_state(())._replace(v="-65"), TypeError, ["state0.y.v", "real number"]),
    ],
)  # fmt: skip
def test_state0_leaves_must_be_real_numbers(state0, error, words):
    with pytest.raises(error) as info:
        nj.simulate(HH, jnp.zeros(10), dt=0.025, state0=state0)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_saveat_numpy_bool_is_a_python_bool():
    # np.bool_(False) was stored as is in a static field: equinox warned "A JAX array is
    # being set as static!"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = nj.SaveAt(spikes=np.bool_(False))
    assert s.spikes is False
    with pytest.raises(TypeError, match="spikes must be True or False"):
        nj.SaveAt(spikes="no")


@pytest.mark.parametrize("rtol", [-1.0, float("nan"), float("inf"), "1e-9", True])
def test_classify_rtol_is_checked(rtol):
    # rtol = -1 classified the real eigenvalues [-1, -2] as a "stable focus" (every |imag|
    # = 0 exceeded the negative tolerance)
    with pytest.raises(ValueError, match=r"classify: rtol must be a finite number >= 0"):
        A.classify(np.array([-1.0, -2.0]), rtol=rtol)


def test_classify_rtol_controls():
    assert A.classify(np.array([-1.0, -2.0]), rtol=0) == "stable node"
    assert A.classify(np.array([-1.0 + 2j, -1.0 - 2j])) == "stable focus"
    assert A.classify(np.array([1e-12, -1.0]), rtol=1e-9) == "non-hyperbolic"


@pytest.mark.parametrize("fn", [A.lif_rate, A.lif_time_to_spike])
def test_lif_closed_forms_refuse_a_boolean_current(fn):
    # True was read as 1 nA: lif_rate(LIF(), True) = 0 Hz, silently
    with pytest.raises(TypeError, match=r"current must be a number in nA, not a boolean"):
        fn(LIF, True)
    with pytest.raises(TypeError, match=r"current must be a number in nA, not a boolean"):
        A.lif_voltage(LIF, np.array([True]), 1.0)


def test_lif_closed_forms_under_jit_say_what_to_do():
    # was JAX's TracerArrayConversionError, naming neither lif_rate nor what to do
    with pytest.raises(TypeError, match=r"lif_rate: current is traced.*concrete values"):
        jax.jit(lambda i: A.lif_rate(LIF, i))(3.0)
    # the control: concrete values against the closed form, τ·ln(RI/(RI − (v_th − v_rest)))
    rate = A.lif_rate(LIF, 3.0)
    assert abs(float(rate) - 1000.0 / (2.0 + 10.0 * np.log(30.0 / 15.0))) < 1e-9


N = 40
V = jnp.linspace(-70.0, -55.0, N)[:, None]


def _objective(target, **kw):
    return F.make_objective(
        nj.LIF(), jnp.full((N, 1), 1.0), target, dt=0.1, trainable=lambda m: (m.tau,), **kw
    )


def test_recording_t0_other_than_the_fits_is_refused():
    """`Recording(t0=5)` in a fit from t0 = 0 was accepted and its t0 replaced by the fit's:
    loss windows given on the recording's clock then selected other rows."""
    rec = F.Recording(v=V, dt=0.1, t0=5.0)
    with pytest.raises(ValueError, match=r"Recording starts at t0=5 ms but the simulation at "
                       r"t0=0 ms; pass t0=5"):  # fmt: skip
        _objective(rec)
    # the controls: the same t0 in both; a Recording at the default t0 = 0 in a fit that
    # starts later (its t0 unspecified: the fit's is taken, as before)
    assert _objective(rec, t0=5.0).target.t0 == 5.0
    assert _objective(F.Recording(v=V, dt=0.1), t0=5.0).target.t0 == 5.0


def test_a_window_too_short_for_the_cycle_is_not_rest():
    """`limit_cycles` reported FitzHugh–Nagumo at 0.4 and 0.5 (period 39–42 ms, V from
    −1.98 to 1.85) as "not oscillating" in its default 100 ms window: `detect_cycle` needs
    three upward crossings of the mid-level. Such a window is now `undecided`
    (`_cycles._undecided`) and `limit_cycles` raises, asking for a longer window. Checked
    here on sampled waves (no simulation); the sweep itself is the slow test below."""
    from neurojax.analysis._cycles import _undecided, detect_cycle

    dt, amp = 0.1, 1e-2
    t = dt * np.arange(1000)  # a 100 ms window
    cases = [
        (np.sin(2 * np.pi * t / 40.0), True),  # 2.5 periods: 2 upward crossings
        (np.sin(2 * np.pi * t / 60.0), True),  # 1.7 periods
        (np.sin(2 * np.pi * t / 20.0), False),  # 5 periods: an oscillation, found
        (np.full(1000, -65.0), False),  # rest
        (-65.0 + 5.0 * np.exp(-t / 5.0), False),  # settling from above: no upward crossing
    ]

    @jax.jit  # one compilation for the five traces (eager, each operation compiles)
    def judge(v):
        cycle = detect_cycle(v, dt, amp)
        return cycle.oscillating, _undecided(v, cycle, amp)

    for k, (v, undecided) in enumerate(cases):
        oscillating, got = judge(jnp.asarray(v, jnp.float32))
        assert bool(got) == undecided, k
        assert bool(oscillating) == (k == 2), k


@pytest.mark.slow
def test_limit_cycles_refuses_a_window_shorter_than_the_period_fhn():
    fhn = nj.FitzHughNagumo()
    with pytest.raises(ValueError, match=r"0.4, 0.5 \(up sweep\).*longer window"):
        A.limit_cycles(fhn, [0.3, 0.4, 0.5])
    # the control: a 300 ms window finds the cycles, with find_cycle's periods (the
    # crossing times are interpolated linearly at dt = 0.01 ms: agreement to ~1e-3 ms
    # over periods of ~40 ms; 0.05 ms allows for the window's few periods)
    lc = A.limit_cycles(fhn, [0.3, 0.4, 0.5], window=300.0)
    assert lc.up.oscillating.tolist() == [False, True, True]
    for p, period in zip((0.4, 0.5), lc.up.period[1:], strict=True):
        assert abs(float(A.find_cycle(fhn, p).period) - period) < 0.05
