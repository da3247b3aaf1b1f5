"""Session-10 probes of the point-neuron models: parameter combinations and units that
ran silently to a wrong answer, now refused at construction or at `simulate` (before
anything is compiled: the tests compile nothing)."""

import equinox as eqx
import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax import cable


@pytest.mark.parametrize(
    "make",
    [
        lambda: nj.LIF(v_reset=-40.0),  # reset above threshold (was: a spike every step)
        lambda: nj.LIF(v_th=-65.0),  # reset == threshold (default v_reset = -65)
        lambda: nj.LIF(v_reset=jnp.array([-70.0, -50.0])),  # one neuron of a population
        lambda: nj.EIF(v_th=-80.0),
        lambda: nj.AdEx(v_reset=5.0),
        lambda: nj.QIF(v_reset=-20.0),
        lambda: nj.LIF(v_th=-50.0, v_reset=-0.065 * 1000 + 70.0),  # mixed units (+5 mV)
    ],
)
def test_reset_at_or_above_threshold_is_refused(make):
    with pytest.raises(ValueError, match=r"needs v_reset < v_th.*got v_reset="):
        make()


def test_izhikevich_reset_at_or_above_the_peak_is_refused():
    # c = 40 mV above the 30 mV peak: a spike at every step (was accepted)
    with pytest.raises(ValueError, match=r"Izhikevich needs the reset c below the spike peak"):
        nj.Izhikevich(c=40.0)
    edited = eqx.tree_at(lambda m: m.c, nj.Izhikevich(), jnp.asarray(35.0))
    with pytest.raises(ValueError, match=r"c=35.0"):
        nj.simulate(edited, jnp.ones(10), dt=0.1)
    for k in ("regular_spiking", "chattering", "fast_spiking", "resonator"):
        nj.Izhikevich.izhikevich2003(k)


def test_reset_edited_above_threshold_after_construction_is_refused():
    # eqx.tree_at skips __check_init__; `simulate` checks it once (check_call), before
    # compiling. A reset in volts (-0.065) is above a -50 mV threshold.
    lif = eqx.tree_at(lambda m: m.v_reset, nj.LIF(), jnp.asarray(-0.065))
    with pytest.raises(ValueError, match=r"LIF needs v_reset < v_th.*in mV"):
        nj.simulate(lif, jnp.ones(10), dt=0.1)


def test_published_if_presets_still_build():
    # every preset keeps its reset below its threshold
    patterns = ("tonic", "adapting", "initial_burst", "regular_bursting", "transient",
                "delayed_accelerating", "delayed_regular_bursting", "irregular")  # fmt: skip
    for p in patterns:
        nj.AdEx.naud2008(p)
    nj.LIF(), nj.EIF(), nj.QIF(), nj.AdEx()
    nj.models.brunel2000  # noqa: B018  (its LIF: v_reset = 10 < theta = 20 mV)


@pytest.mark.parametrize("kelvin", [279.45, 300.0, 310.15])
def test_temperature_in_kelvin_is_refused(kelvin):
    # 279.45 K is HH's 6.3 °C; read as °C, q10 = 3^27 made every gate instantaneous and
    # the cell silent (0 spikes at 10 µA/cm², no error)
    for make in (
        lambda: nj.HodgkinHuxley(temperature=kelvin),
        lambda: nj.ReducedHH(temperature=kelvin),
        lambda: cable.Cell(
            cable.Morphology([cable.Branch(20.0, 20.0)]),
            [(cable.HH(), None)],
            temperature=kelvin,
        ),  # fmt: skip
    ):
        with pytest.raises(ValueError, match=r"temperature must be > -273.15 and < 100.*kelvin"):
            make()


def test_temperature_edited_to_kelvin_is_refused_by_simulate():
    hh = eqx.tree_at(lambda m: m.temperature, nj.HodgkinHuxley(), jnp.asarray(300.0))
    with pytest.raises(ValueError, match=r"HodgkinHuxley.temperature.*kelvin"):
        nj.simulate(hh, jnp.full(10, 10.0), dt=0.025)


def test_celsius_temperatures_unchanged():
    # the physiological range stays valid (Hay et al. run at 34 °C, HH's own 6.3 °C)
    for t in (-5.0, 6.3, 34.0, 37.0, 45.0):
        assert float(nj.HodgkinHuxley(temperature=t).temperature) == pytest.approx(t)
