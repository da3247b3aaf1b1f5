"""The units of a model's current, state variables and parameters, for axis labels.

neurojax models carry no unit metadata; their docstrings state the conventions, which
this module encodes: conductance-based models in mV, ms, µA/cm², mS/cm²; integrate-and-
fire models (LIF, EIF, QIF, AdEx) in mV, ms, nA; Izhikevich (2003) with `I` and `u` in
mV/ms; FitzHugh–Nagumo dimensionless. A model can override this with a class attribute
`units`: a dict from names (`"current"`, `"v"`, a field name) to unit strings.
"""

from __future__ import annotations

_DIMENSIONLESS = ""


def _family(model) -> str:
    from ..neurons import AbstractIntegrateAndFire, FitzHughNagumo, Izhikevich

    if isinstance(model, FitzHughNagumo):
        return "dimensionless"
    if isinstance(model, AbstractIntegrateAndFire):
        return "integrate-and-fire"
    if isinstance(model, Izhikevich):
        return "izhikevich"
    return "conductance"


def unit_of(model, name: str) -> str:
    """The unit of `name` — `"current"`, a state variable (`"v"`, `"n"`, `"w"`) or a
    parameter field (`"g_k"`, `"e_l"`, `"tau"`) — of `model`; `""` when dimensionless."""
    own = getattr(type(model), "units", None)
    if isinstance(own, dict) and name in own:
        return own[name]
    family = _family(model)
    if family == "dimensionless":
        return _DIMENSIONLESS
    if name == "current":
        return {"integrate-and-fire": "nA", "izhikevich": "mV/ms"}.get(family, "µA/cm²")
    if name in ("v",) or name.startswith(("e_", "v_", "v1", "v2", "v3", "v4", "delta")):
        return "mV"
    if name.startswith("k_") and family == "conductance":
        return "mV"
    if name == "w" and family == "integrate-and-fire":
        return "nA"
    if name == "u" and family == "izhikevich":
        return "mV/ms"
    if name.startswith(("tau", "t_ref")):
        return "ms"
    if name.startswith("g_"):
        return "mS/cm²" if family == "conductance" else "µS"
    if name == "c_m":
        return "µF/cm²"
    if name == "phi":
        return "1/ms"
    if name == "r":
        return "MΩ"
    if name == "temperature":
        return "°C"
    return _DIMENSIONLESS


def units_of(model, names) -> dict[str, str]:
    """`{name: unit}` for each of `names` (see `unit_of`)."""
    return {n: unit_of(model, n) for n in names}
