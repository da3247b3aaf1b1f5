"""`UnitSystem`: the units a model declares for itself (`AbstractModel.units`), read by
the analysis for axis labels and summaries instead of being guessed from class names.

It depends on nothing in the package, so `_model.py` and every neuron import it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


@dataclasses.dataclass(frozen=True)
class UnitSystem:
    """The units of a model: four base quantities, and the unit of each named state
    variable or parameter that has one.

    - `voltage`, `time`, `current`, `conductance`: unit strings (`"mV"`, `"ms"`,
      `"µA/cm²"`, `"mS/cm²"`); `""` for dimensionless (or absent, for `conductance` in a
      model without any).
    - `quantities`: `(name, unit)` pairs for the model's fields and state variables
      (`("g_k", "mS/cm²")`, `("v", "mV")`); a name not listed is dimensionless (`""`).

    Build one with `named`, which gives names the base units by kind:

        CONDUCTANCE_BASED.named(voltage=("v", "e_k"), conductance=("g_k",), c_m="µF/cm²")
    """

    voltage: str = ""
    time: str = ""
    current: str = ""
    conductance: str = ""
    quantities: tuple[tuple[str, str], ...] = ()

    def named(
        self,
        *,
        voltage: Iterable[str] = (),
        time: Iterable[str] = (),
        current: Iterable[str] = (),
        conductance: Iterable[str] = (),
        **other: str,
    ) -> UnitSystem:
        """This system with the names in `voltage`, `time`, `current`, `conductance`
        given the base unit of that kind, and each keyword of `other` its own unit
        string (`c_m="µF/cm²"`)."""
        pairs = dict(self.quantities)
        for kind, names in (
            ("voltage", voltage),
            ("time", time),
            ("current", current),
            ("conductance", conductance),
        ):
            if isinstance(names, str):
                raise TypeError(f"UnitSystem.named: {kind}= takes a tuple of names, got {names!r}.")
            for name in names:
                pairs[name] = getattr(self, kind)
        for name, unit in other.items():
            if not isinstance(unit, str):
                raise TypeError(
                    f"UnitSystem.named: the unit of {name} must be a str, got {unit!r}."
                )
            pairs[name] = unit
        return dataclasses.replace(self, quantities=tuple(pairs.items()))

    def unit_of(self, name: str) -> str:
        """The unit of `name`: `"current"` (the injected current) and `"time"` are the base
        units; a field or state variable its listed unit; anything else `""`."""
        if name == "current":
            return self.current
        if name == "time":
            return self.time
        return dict(self.quantities).get(name, "")


CONDUCTANCE_BASED = UnitSystem(voltage="mV", time="ms", current="µA/cm²", conductance="mS/cm²")
"""Conductance-based point neurons: mV, ms, current density µA/cm², mS/cm²."""

INTEGRATE_AND_FIRE = UnitSystem(voltage="mV", time="ms", current="nA", conductance="µS")
"""Integrate-and-fire neurons: mV, ms, nA, µS (µS·mV = nA, MΩ·nA = mV)."""

DIMENSIONLESS = UnitSystem()
"""A dimensionless model (FitzHugh–Nagumo): every unit `""`."""
