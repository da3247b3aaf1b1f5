"""NMODL importer: NEURON `.mod` files as differentiable cable mechanisms.

    from neurojax.nmodl import load_mod
    hh = load_mod("hh.mod")                     # an instance, NMODL defaults
    cell = cable.Cell(morph, [(hh, "soma")])
    hh2 = load_mod("hh.mod", gnabar=0.2)        # parameters by their NMODL names & units

`load_mod` takes a path or the text of a `.mod` file and returns an instance of a new
`neurojax.cable.AbstractChannel` subclass (`mod_class` returns the class) whose array
fields are the PARAMETERs under their NMODL names, in NMODL units (`gnabar` in S/cm²),
with NMODL's `<lo, hi>` limits (widened to the file's default) as their domains. An
ARTIFICIAL_CELL (netstim.mod) loads as a spike source: `load_mod("netstim.mod",
start=5.0).spike_times(t_stop)` (ms), to drive a cell through `Cell.event_input`.
See `docs/nmodl.md` for what is
supported; anything else is a `ValueError` (`NmodlError`) naming the file, line and
construct. Needs `sympy` (imported when a file is loaded), not NEURON.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._parse import NmodlError as NmodlError
from ._parse import parse as parse


def _read(source) -> tuple[str, str]:
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and "{" not in source
    ):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no .mod file at {os.fspath(path)!r}")
        return path.read_text(), path.name, path.parent
    if not isinstance(source, str):
        raise TypeError(f"source must be a path or the text of a .mod file, got {source!r}.")
    return source, "<string>", None


def mod_class(
    source, *, ions: dict | None = None, name: str | None = None, file: str | None = None
):
    """The mechanism class of a `.mod` file (path or text). `ions`: values for ion
    variables READ that have no NEURON default (e.g. `{"eh": -45.0}`); `file`: the name
    used in error messages for text input."""
    from . import _singular
    from ._compile import build_spec, make_class

    text, fname, where = _read(source)
    # INCLUDE "x": looked up next to the .mod file (text input: the working directory)
    prog = _singular.program(parse(text, file or fname, where))
    return make_class(build_spec(prog, ions), name)


def load_mod(source, *, ions: dict | None = None, file: str | None = None, **parameters):
    """A mechanism instance from a `.mod` file (path or text), with `parameters`
    overriding the file's defaults (NMODL names and units). `dt` (ms): for a file whose
    INITIAL runs a step reading dt (Poirazi's somacar.mod), the dt NEURON's INITIAL would
    see (default 0.025 ms, h.dt's); stepping it with another dt is refused."""
    cls = mod_class(source, ions=ions, file=file)
    # NMODL names; a Python keyword (`del`) also as its field name (`del_`)
    parameters = {cls._spec.field_of.get(k, k): v for k, v in parameters.items()}
    if "dt" in parameters:  # the dt an INITIAL reading it sees (somacar.mod's states())
        if not cls.init_depends_dt:
            raise ValueError(f"{cls._spec.file}: dt= is only for a mechanism whose initial "
                             f"state depends on dt; {cls._spec.suffix}'s does not")  # fmt: skip
        dt = parameters.pop("dt")
        import numpy as np

        if isinstance(dt, (bool, str, bytes)) or np.ndim(dt) != 0 or np.iscomplexobj(dt):
            raise TypeError(f"{cls._spec.file}: dt must be a number of ms, got {dt!r}")
        if not (np.isfinite(float(dt)) and float(dt) > 0):
            raise ValueError(f"{cls._spec.file}: dt must be finite and > 0 ms, got {dt!r}")
        parameters["dt_init"] = float(dt)
    unknown = set(parameters) - set(cls._spec.field_of.values()) - {"dt_init"}
    if unknown:
        raise ValueError(
            f"{cls._spec.file}: {sorted(unknown)} are not parameters of {cls._spec.suffix}; "
            f"its parameters are {sorted(cls._spec.field_of.values())}."
        )
    return cls(**parameters)


def emitted_spike_times(ne_n, ne_t, dt: float | None = None):
    """The spike times (ms, float64 numpy) a point process emitted with `net_event`,
    from its gates `ne_n` (the count) and `ne_t` (the last spike's time) saved at every
    step (`SaveAt(fn=lambda y: (cell.record_point(j, "ne_n")(y), cell.record_point(j,
    "ne_t")(y)))`, one trace each; batch axes are not supported here). They drive other
    synapses as a NetCon from the point process does:
    `cell.event_input([(times + delay, weight)], n_steps, dt)`.

    A step whose count rose by more than one lost the earlier times: a `ValueError`
    (NEURON would keep them), never a silently missing spike."""
    import numpy as np

    n = np.asarray(ne_n, dtype=np.float64).reshape(-1)
    t = np.asarray(ne_t, dtype=np.float64).reshape(-1)
    if n.shape != t.shape:
        raise ValueError(f"ne_n and ne_t differ in shape: {n.shape} and {t.shape}")
    jumps = np.diff(np.concatenate([[0.0], n]))
    if np.any(jumps > 1.5):
        k = int(np.argmax(jumps > 1.5))
        raise ValueError(f"{int(jumps[k])} spikes were emitted in saved step {k}: only the "
                         "last one's time is kept; save every step (a smaller dt)")
    return t[jumps > 0.5]


__all__ = ["load_mod", "mod_class", "parse", "NmodlError", "emitted_spike_times"]
