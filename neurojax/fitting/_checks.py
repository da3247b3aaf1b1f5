"""Argument checks of the fitting objects' static numbers (loss widths, scales, optimiser
factors): each names the object's field and its range. The type test is the published
models' builders' (`models/_checks.py`), so the messages read alike."""

from __future__ import annotations

import math

import jax

from ..models._checks import check_number

__all__ = ["check_number", "check_positive", "check_finite"]


def check_positive(owner: str, name: str, value, unit: str = "") -> float:
    """`value` as a float, or an error naming `owner: name`: a `TypeError` for a
    non-number (a string, a bool, a complex or traced value, an array), a `ValueError`
    unless finite and > 0 (`unit`, e.g. `"ms"`, is said in the message)."""
    if isinstance(value, jax.core.Tracer):  # a traced static field: checked where concrete
        return value
    try:
        x = check_number(owner, name, value, meaning=unit)  # the type test
    except ValueError:  # NaN or inf: said below, with the range
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        unit = f" {unit}" if unit else ""
        raise ValueError(f"{owner}: {name} must be > 0{unit} and finite, got {value!r}.")
    return x


def check_finite(owner: str, name: str, value, unit: str = "") -> float:
    """`value` as a float, or an error naming `owner: name`: a concrete finite real."""
    if isinstance(value, jax.core.Tracer):
        return value
    return check_number(owner, name, value, meaning=unit)
