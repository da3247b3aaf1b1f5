"""Ions in the mechanism contract: how a mechanism declares the ions it uses, NEURON's
constants and defaults, and the Nernst equation.

A mechanism that uses ions declares it with a class attribute `ion_use`: a tuple of
`IonUse(ion, valence, read, write)` (NEURON's `USEION ion READ … WRITE … VALENCE z`), the
variables named as NEURON's `e<ion>`, `<ion>i`, `<ion>o`, `i<ion>` (`"eca"`, `"cai"`,
`"cao"`, `"ica"`), and implements, besides the plain `AbstractChannel` methods,

- `init_ions(v, temperature, ions) -> (gates, writes)`,
- `current_ions(v, gates, temperature, ions) -> (i µA/cm², {"ica": mA/cm², …})`,
- `update_ions(v, gates, dt, temperature, ions) -> (gates, {"cai": mM, …})`,

where `ions` maps every variable it READs or WRITEs to its values at the mechanism's
compartments (mV, mM, mA/cm² — NEURON's units), and `writes` the concentrations it WRITEs.

How a cable `Cell` pools the ions of its mechanisms (NEURON's rules) is
`neurojax.cable._ions`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

# NEURON 9 (nrnunits.h: CODATA 2018)
FARADAY = 96485.33212331001  # C/mol (e·N_A, exact in SI 2019)
R_GAS = 8.31446261815324  # J/(mol·K) (k_B·N_A, exact in SI 2019)

# NEURON's defaults (eion.cpp): valence, e (mV), ci (mM), co (mM). Other ions: e = 0,
# ci = co = 1, which a Cell does not assume (it asks for the values read).
BUILTIN_IONS = {
    "na": (1.0, 50.0, 10.0, 140.0),
    "k": (1.0, -77.0, 54.4, 2.5),
    "ca": (2.0, 132.4579341637009, 5e-5, 2.0),
}
_OTHER_DEFAULTS = (0.0, 1.0, 1.0)


class IonUse(NamedTuple):
    """One `USEION` of a mechanism: the ion's name, its valence (None: not declared),
    and the variables read and written (`"eca"`, `"cai"`, `"cao"`, `"ica"`)."""

    ion: str
    valence: float | None
    read: tuple
    write: tuple


def ion_variables(ion: str) -> tuple[str, str, str, str]:
    """(e, ci, co, i) names of an ion: `("eca", "cai", "cao", "ica")`."""
    return f"e{ion}", f"{ion}i", f"{ion}o", f"i{ion}"


def default_value(name: str, ion: str) -> float:
    """NEURON's default of an ion variable (e, ci, co; 0 for the current)."""
    e, ci, co, i = ion_variables(ion)
    if name == i:
        return 0.0
    k = (e, ci, co).index(name)
    if ion in BUILTIN_IONS:
        return BUILTIN_IONS[ion][1 + k]
    return _OTHER_DEFAULTS[k]


def _check_nernst(ci, co, z, celsius):
    """Python-side checks of concrete arguments (at trace time a traced value passes, so
    no check runs inside a compiled step)."""
    import jax
    import numpy as np

    for name, value in (("ci", ci), ("co", co), ("z", z), ("celsius", celsius)):
        if isinstance(value, jax.core.Tracer):
            continue
        if isinstance(value, (str, bytes)) or value is None:
            raise TypeError(f"nernst: {name} must be a number or an array, got {value!r}.")
        x = np.asarray(value)
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise TypeError(f"nernst: {name} must be real, got {value!r}.")
        if np.any(np.isnan(x)):
            raise ValueError(f"nernst: {name} is NaN; give a number.")
        if name == "celsius" and np.any(x < -273.15):
            raise ValueError(f"nernst: celsius={value} °C is below absolute zero (-273.15 °C).")


def nernst(ci, co, z, celsius):
    """Nernst potential, mV (NEURON's `nrn_nernst`, eion.cpp): `1000·R·(celsius +
    273.15)/(z·F) · ln(co/ci)`; as NEURON's, `z = 0` (an uncharged ion, or one whose
    VALENCE is 0: published m1.mod, kmb_inh.mod) gives 0 mV, and otherwise ci ≤ 0 gives
    +1e6 mV and co ≤ 0 −1e6 mV.

    Concentrations in mM, `z` the valence, `celsius` in °C. Concrete (not traced)
    arguments are checked first: a `ValueError` for `celsius` below absolute zero
    (−273.15 °C) or a NaN."""
    _check_nernst(ci, co, z, celsius)
    ktf = 1000.0 * R_GAS * (celsius + 273.15) / FARADAY
    ok = (ci > 0) & (co > 0)
    zero = jnp.asarray(z) == 0
    e = ktf / jnp.where(zero, 1.0, z) * jnp.log(jnp.where(ok, co, 1.0) / jnp.where(ok, ci, 1.0))
    return jnp.where(zero, 0.0, jnp.where(ci <= 0, 1e6, jnp.where(co <= 0, -1e6, e)))
