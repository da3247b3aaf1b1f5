"""Units come from the model's own declaration (`AbstractModel.units`, a `UnitSystem`),
never guessed: an undeclared model gets no unit at all; `Onset.kind` is typed."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax import analysis
from neurojax._model import AbstractModel
from neurojax._units import CONDUCTANCE_BASED, UnitSystem
from neurojax.analysis._units import unit_of, units_of


def test_every_neuron_declares_its_units():
    for cls in (
        nj.HodgkinHuxley,
        nj.ReducedHH,
        nj.MorrisLecar,
        nj.INaPIK,
        nj.LIF,
        nj.EIF,
        nj.QIF,
        nj.AdEx,
        nj.Izhikevich,
        nj.FitzHughNagumo,
    ):
        assert isinstance(cls.units, UnitSystem), cls
    assert AbstractModel.units is None


def test_declared_units_are_read():
    hh = units_of(nj.HodgkinHuxley(), ("current", "g_k", "e_l", "v", "n", "c_m"), voltage="v")
    assert hh == {
        "current": "µA/cm²",
        "g_k": "mS/cm²",
        "e_l": "mV",
        "v": "mV",
        "n": "",
        "c_m": "µF/cm²",
    }
    assert units_of(nj.LIF(), ("current", "tau", "r"), voltage="v") == {
        "current": "nA",
        "tau": "ms",
        "r": "MΩ",
    }
    adex = units_of(nj.AdEx(), ("w", "a", "b", "tau_w"))
    assert adex == {"w": "nA", "a": "µS", "b": "nA", "tau_w": "ms"}
    assert unit_of(nj.Izhikevich(), "current") == "mV/ms"
    assert units_of(nj.FitzHughNagumo(), ("current", "v", "tau"), voltage="v") == {
        "current": "",
        "v": "",
        "tau": "",
    }


class _State(NamedTuple):
    v: jnp.ndarray
    w: jnp.ndarray


class _Undeclared(AbstractModel):
    """A user's model that says nothing about units (a FitzHugh–Nagumo in disguise)."""

    def init_state(self, batch_shape=()):
        return _State(jnp.full(batch_shape, -1.2), jnp.full(batch_shape, -0.6))

    def vector_field(self, t, y, inputs):
        v, w = y
        return _State(v - v**3 / 3 - w + inputs, (v + 0.7 - 0.8 * w) / 12.5)


def test_an_undeclared_model_gets_no_unit():
    model = _Undeclared()
    assert units_of(model, ("current", "v", "w"), voltage="v") == {}
    assert unit_of(model, "current") == ""
    picture = analysis.phase_plane(model, 0.0, dt=0.1, t_max=50.0)
    assert picture.units == {}

    import matplotlib

    matplotlib.use("Agg")
    ax = picture.plot()
    assert ax.get_xlabel().endswith("(model units)")


def test_a_subclass_may_declare_its_own():
    class Scaled(nj.HodgkinHuxley):
        units = CONDUCTANCE_BASED.named(voltage=("v",), current=("i_extra",))

    assert unit_of(Scaled(), "i_extra") == "µA/cm²"
    assert unit_of(Scaled(), "g_k") == ""  # not listed by the subclass: no unit claimed


def test_unit_system_refuses_a_bare_string():
    with pytest.raises(TypeError, match="tuple of names"):
        CONDUCTANCE_BASED.named(voltage="v")


def test_onset_kind_is_typed():
    onset = analysis.Onset(edge=1.0, side="lower", kind="snic", parameter=1.0)
    assert onset.kind is analysis.OnsetKind.SNIC
    assert onset.kind == "snic" and onset.kind.infinite_period
    unresolved = analysis.Onset(
        edge=2.0,
        side="upper",
        kind=analysis.OnsetKind.UNRESOLVED,
        parameter=2.0,
        reason="max points",
    )
    assert unresolved.label == "unresolved (max points)"
    with pytest.raises(ValueError):
        analysis.Onset(edge=1.0, side="lower", kind="sniC", parameter=1.0)
