"""Argument checks of the published-model builders: each names the argument and its range."""

from __future__ import annotations

import math

import jax
import numpy as np


def check_number(
    model: str,
    name: str,
    value,
    lower: float = -math.inf,
    upper: float = math.inf,
    *,
    lower_closed: bool = True,
    upper_closed: bool = True,
    meaning: str = "",
) -> float:
    """A concrete finite real number in the given interval, as a float; else a
    `TypeError`/`ValueError` naming `model`'s argument `name` and the valid range."""
    what = f"{model}: {name}" + (f" ({meaning})" if meaning else "")
    if (
        isinstance(value, (bool, str, bytes))
        or value is None
        or isinstance(value, jax.core.Tracer)
        or np.ndim(value) != 0
        or not np.issubdtype(np.asarray(value).dtype, np.number)
        or np.iscomplexobj(value)
    ):
        raise TypeError(f"{what} must be a concrete real number, got {value!r}.")
    x = float(value)
    lo_ok = x >= lower if lower_closed else x > lower
    hi_ok = x <= upper if upper_closed else x < upper
    if not (math.isfinite(x) and lo_ok and hi_ok):
        parts = []
        if lower > -math.inf:
            parts.append(f"{'>=' if lower_closed else '>'} {lower:g}")
        if upper < math.inf:
            parts.append(f"{'<=' if upper_closed else '<'} {upper:g}")
        rng = "".join(f" and {p}" for p in parts)
        raise ValueError(f"{what} must be finite{rng}, got {value!r}.")
    return x


def check_int(model: str, name: str, value, lowest: int, meaning: str = "") -> int:
    what = f"{model}: {name}" + (f" ({meaning})" if meaning else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int >= {lowest}, got {value!r}.")
    if value < lowest:
        raise ValueError(f"{what} must be an int >= {lowest}, got {value!r}.")
    return int(value)
