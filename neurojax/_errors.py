"""The one "did you mean" helper, used by every check of a name or option."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """`" Did you mean 'x'?"` for the closest of `options`, or `""`."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(name), options, n=1)
    if not close:
        lowered = {o.lower().replace("_", ""): o for o in options}
        hit = lowered.get(str(name).lower().replace("_", ""))
        close = [hit] if hit else []
    return f" Did you mean {close[0]!r}?" if close else ""


def check_choice(kind: str, name: str, options: Iterable[str]) -> None:
    """Raise `ValueError` if `name` is not one of `options`, naming the closest."""
    options = list(options)
    if name not in options:
        raise ValueError(
            f"unknown {kind} {name!r}.{did_you_mean(name, options)} "
            f"Choose one of: {', '.join(map(str, options))}."
        )


def check_instance(arg: str, value, cls: type, example: str) -> None:
    """Raise `TypeError` if `value` is not a `cls`, with an example of the right thing and
    a hint when a string names one (`solver="rk4"` → `neurojax.RK4()`)."""
    if isinstance(value, cls):
        return
    hint = ""
    if isinstance(value, str):
        import neurojax

        names = [n for n in dir(neurojax) + dir(neurojax.solvers) if not n.startswith("_")]
        close = difflib.get_close_matches(value, names, n=1) or [
            n for n in names if n.lower() == value.lower().replace("_", "")
        ]
        if close:
            hint = f" Did you mean neurojax.{close[0]}()?"
    raise TypeError(
        f"{arg} must be an instance of {cls.__name__}, such as {example}; got {value!r}.{hint}"
    )


def check_bool(arg: str, value) -> None:
    """Raise `TypeError` unless `value` is True or False: a flag given as a string ("no" is
    truthy) or a number would silently mean True."""
    import numpy as np

    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{arg} must be True or False, got {value!r}.")
