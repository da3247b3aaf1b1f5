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
    if isinstance(source, str) and not source.strip():  # was "no .mod file at '.'"
        raise ValueError("source is empty: give the path or the text of a .mod file.")
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
    source,
    *,
    ions: dict | None = None,
    name: str | None = None,
    file: str | None = None,
    hoc_set=(),
):
    """The mechanism class of a `.mod` file (path or text). `ions`: values for ion
    variables READ that have no NEURON default (e.g. `{"eh": -45.0}`); `file`: the name
    used in error messages for text input. `hoc_set`: names of ASSIGNED RANGE or GLOBAL
    variables that no statement of the file assigns (cnmodel's ihvcn.mod: `eh (mV) : must
    be explicitly def. in hoc`), made parameters (default 0, NEURON's value until hoc
    sets one); `load_mod` passes the ones given to it; `True`: every such variable of the
    file (`cable.from_neuron`, which reads the values hoc set)."""
    from . import _singular
    from ._compile import build_spec, make_class

    if name is not None and not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(
            f"mod_class: name={name!r} is not a valid Python class name (a str such as "
            "'NaTs2'); leave it out to name the class after the file's SUFFIX."
        )
    text, fname, where = _read(source)
    # INCLUDE "x": looked up next to the .mod file (text input: the working directory)
    prog = _singular.program(parse(text, file or fname, where))
    _refuse_block_calls(prog)
    _refuse_procedure_methods(prog)
    if hoc_set is True:
        hoc_set = {n for n, why in _not_hoc_settable(prog).items() if not why}
    if hoc_set:
        prog = _hoc_settable(prog, set(hoc_set))
    return make_class(build_spec(prog, ions), name)


def _walk_program(prog, visit) -> None:
    """Call `visit(node)` on every statement and expression of `prog`'s blocks and
    FUNCTION/PROCEDUREs (each node once)."""
    from dataclasses import fields, is_dataclass

    seen = set()

    def walk(x):
        if isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)
        elif is_dataclass(x) and not isinstance(x, type) and id(x) not in seen:
            seen.add(id(x))
            visit(x)
            for f in fields(x):
                walk(getattr(x, f.name))

    for attr in ("initial", "breakpoint", "net_receive", "receive_initial", "watch_check",
                 "before_step", "blocks", "functions"):  # fmt: skip
        walk(getattr(prog, attr))


def _assigned_anywhere(prog) -> tuple[dict, str]:
    """({name: the first line assigning it} over every statement of `prog`, the text of
    its VERBATIM blocks)."""
    from ._parse import Assign, Verbatim

    lines, verbatim = {}, []

    def visit(x):
        if isinstance(x, Assign):
            lines[x.target] = min(lines.get(x.target, x.line), x.line)
        if isinstance(x, Verbatim):
            verbatim.append(x.text)

    _walk_program(prog, visit)
    return lines, " ".join(verbatim)


def _refuse_block_calls(prog) -> None:
    """A DERIVATIVE/KINETIC/LINEAR/NONLINEAR block called like a function (cnmodel's
    adex.mod: `states()` in BREAKPOINT): nocmodl compiles it as a call of the block's
    integration step (under cnexp, a step of dt each time the current is evaluated, i.e.
    also at NEURON's v + 0.001 mV slope evaluation), which neurojax does not reproduce.
    Refused, naming the file, line and block."""
    from ._parse import Call

    calls = []

    def visit(x):
        if isinstance(x, Call) and x.fn in prog.blocks and x.fn not in prog.functions:
            calls.append(x)

    _walk_program(prog, visit)
    if calls:
        c = min(calls, key=lambda c: c.line)
        kind = prog.blocks[c.fn].kind
        raise NmodlError(
            f"{prog.file}:{c.line}: {c.fn}() calls the {kind} block {c.fn} like a "
            f"function; not supported (NEURON runs the block's integration step at each such "
            f"call, e.g. twice more per step from BREAKPOINT). Integrate it only through "
            f"`SOLVE {c.fn}`."
        )


def _refuse_procedure_methods(prog) -> None:
    """`SOLVE p METHOD m` of a PROCEDURE p (cnmodel's nacncoop.mod: `SOLVE states METHOD
    cnexp`, states a PROCEDURE ending in `VERBATIM return 0;`): NEURON 9's nocmodl refuses
    it ("Method derivimplicit can't be used with Block states"; other METHODs not
    tried); a PROCEDURE is SOLVEd without a METHOD (or `after_cvode`). Refused with that
    said, naming file and line."""
    from ._parse import Solve

    if prog.breakpoint is None:
        return
    for s in prog.breakpoint.body:
        if (isinstance(s, Solve) and s.block in prog.functions and s.block not in prog.blocks
                and s.method not in ("", "after_cvode")):  # fmt: skip
            kind = prog.functions[s.block].kind
            raise NmodlError(
                f"{prog.file}:{s.line}: SOLVE {s.block} METHOD {s.method}: {s.block} is a "
                f"{kind}, which is SOLVEd without a METHOD (`SOLVE {s.block}`, run once per "
                "step as written); NEURON 9's nocmodl refuses `METHOD cnexp` on a PROCEDURE too. "
                "Write it as "
                f"a DERIVATIVE block to integrate it, or drop `METHOD {s.method}`."
            )


def _not_hoc_settable(prog) -> dict:
    """{name: why it is not a value only hoc sets, or ""} for each ASSIGNED variable of
    `prog`: an ion variable, a current, not declared RANGE or GLOBAL, assigned by a
    statement of the file, or named by a VERBATIM block."""
    import re

    assigned, verbatim = _assigned_anywhere(prog)
    ion_vars = {m for u in prog.ions for m in (*u.read, *u.write)}
    currents = {m for m, _ in (*prog.nonspecific, *prog.electrode)}
    return {n: (
        "it is an ion variable" if n in ion_vars
        else "it is a current" if n in currents
        else "it is not declared RANGE or GLOBAL in the NEURON block"
        if n not in prog.range and n not in prog.global_
        else f"the file assigns it (line {assigned[n]})" if n in assigned
        else "a VERBATIM block names it" if re.search(rf"\b{re.escape(n)}\b", verbatim)
        else ""
    ) for n in (v.name for v in prog.assigned)}  # fmt: skip


def _hoc_settable(prog, wanted: set):
    """`prog` with the ASSIGNED variables named in `wanted` made PARAMETERs (default 0)
    where that is NEURON's behaviour: declared RANGE or GLOBAL, not an ion variable, a
    current or a STATE, and assigned by no statement (so only hoc sets it). Names that are
    not ASSIGNED are left for `load_mod`'s check; an ASSIGNED that fails the rule is a
    `ValueError` saying why."""
    import copy
    import dataclasses

    by_name = {v.name: v for v in prog.assigned}
    wanted = wanted & set(by_name)
    if not wanted:
        return prog
    reasons = _not_hoc_settable(prog)
    for n in sorted(wanted):
        v = by_name[n]
        why = reasons[n]
        if why:
            raise NmodlError(
                f"{prog.file}:{v.line}: {n} is ASSIGNED, and cannot be set like a "
                f"parameter: {why}. Only an ASSIGNED RANGE/GLOBAL variable that no "
                "statement assigns (a value hoc sets, e.g. `eh_ihvcn = -43`) can be given "
                "to load_mod."
            )
    prog = copy.copy(prog)
    prog.assigned = [v for v in prog.assigned if v.name not in wanted]
    promoted = [dataclasses.replace(by_name[n], value=0.0) for n in sorted(wanted)]
    prog.parameters = [*prog.parameters, *promoted]
    return prog


def load_mod(source, *, ions: dict | None = None, file: str | None = None, **parameters):
    """A mechanism instance from a `.mod` file (path or text), with `parameters`
    overriding the file's defaults (NMODL names and units). A parameter may also name an
    ASSIGNED RANGE/GLOBAL variable that no statement of the file assigns (a value NEURON
    users set from hoc, as cnmodel's ihvcn.mod's `eh`; 0 when not given, as NEURON's);
    one the file assigns is refused, naming the line. `dt` (ms): for a file whose
    INITIAL runs a step reading dt (Poirazi's somacar.mod), the dt NEURON's INITIAL would
    see (default 0.025 ms, h.dt's); stepping it with another dt is refused."""
    hoc_set = tuple(sorted(set(parameters) - {"dt"}))  # hashable: callers may cache on it
    cls = mod_class(source, ions=ions, file=file, hoc_set=hoc_set)
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
    from .._model import as_float

    for k, v in parameters.items():  # the converter's message does not name the parameter
        try:
            as_float(v)
        except TypeError as e:
            raise TypeError(f"{cls._spec.file}: parameter {k}: {e}") from None
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
