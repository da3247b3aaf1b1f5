"""The units of a model's current, state variables and parameters, for axis labels.

Read from the model's own declaration, the class variable `units` (a
`neurojax._units.UnitSystem`: voltage, time, current and conductance units and the unit of
each named field and state variable; every neuron of `neurojax.neurons` declares one). A
model without a declaration (`units = None`, the `AbstractModel` default: a user's model)
is labelled without units — never with a guessed, possibly wrong one.
"""

from __future__ import annotations

from .._units import UnitSystem

_NEUTRAL = ""


def declared_units(model) -> UnitSystem | None:
    """The `UnitSystem` `model`'s class declares, or `None` (a `Cell`: its one-compartment
    view's, current in nA)."""
    from ..cable._one_compartment import OneCompartment, _is_cell

    if _is_cell(model):
        return OneCompartment.units
    units = getattr(type(model), "units", None)
    return units if isinstance(units, UnitSystem) else None


def unit_of(model, name: str, *, voltage: str | None = None) -> str:
    """The unit of `name` — `"current"`, a state variable (`"v"`, `"n"`, `"w"`) or a
    parameter field (`"g_k"`, `"e_l"`, `"tau"`) — of `model`, as its class declares it;
    `""` when dimensionless or undeclared. `voltage`: the name of the state variable
    `model.voltage` reads (given the declared voltage unit even if the declaration does not
    list it)."""
    units = declared_units(model)
    if units is None:
        return _NEUTRAL
    if name == voltage and not units.unit_of(name):
        return units.voltage
    return units.unit_of(name)


def units_of(model, names, *, voltage: str | None = None) -> dict[str, str]:
    """`{name: unit}` for each of `names` (see `unit_of`); `{}` for a model that declares
    no units, so plots label its axes "(model units)" instead of claiming one."""
    if declared_units(model) is None:
        return {}
    return {n: unit_of(model, n, voltage=voltage) for n in names}
