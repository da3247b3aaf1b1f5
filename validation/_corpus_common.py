"""What the drivers of the published `.mod` corpora (`nmodl_corpus1*_vs_neuron.py`) share:
the per-case comparison loop (NEURON's run, neurojax's in float64, max |Δ| per trace),
the refusal check and the printed report.

The corpora are others' code, kept outside the repository (each driver's `CORPUS`, with
a `SOURCES.md` naming each file's repository, path and commit); these helpers take the
driver's own functions, so each driver keeps its setting (docs/nmodl.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path


def corpus_available(corpus: Path) -> bool:
    """Whether the fetched copy of a corpus is there (its `SOURCES.md`)."""
    return (Path(corpus) / "SOURCES.md").is_file()


def differences(ref: dict, ours: dict) -> dict:
    """{trace: max |ours − ref|, "_vrange": NEURON's (min, max) V, "_range": {trace:
    NEURON's peak-to-peak}} over the traces NEURON recorded."""
    import numpy as np

    r = {k: float(np.max(np.abs(np.asarray(ours[k]) - ref[k]))) for k in ref}
    r["_vrange"] = (float(ref["v"].min()), float(ref["v"].max()))
    r["_range"] = {k: float(np.ptp(ref[k])) for k in ref}
    return r


def compare_case(name: str, protocols: Iterable[str], run_neuron: Callable,
                 run_neurojax: Callable, modes=None, report=None) -> dict:  # fmt: skip
    """{(name, protocol): `differences(...)` or {"_error": message}} for one case:
    `run_neuron(mode)` and `run_neurojax(mode)` (under float64) per protocol, skipping the
    protocols not in `modes` (an event-driven run, "events", always runs). An exception
    is reported for its case and protocol and the others run."""
    import jax

    out = {}
    for mode in protocols:
        if modes is not None and mode not in modes and mode != "events":
            continue
        try:
            ref = run_neuron(mode)
            with jax.enable_x64(True):
                ours = run_neurojax(mode)
        except Exception as e:  # noqa: BLE001 - reported per case, the others run
            out[(name, mode)] = {"_error": f"{type(e).__name__}: {e}"}
        else:
            out[(name, mode)] = differences(ref, ours)
        if report:
            report(name, mode, dict(out[(name, mode)]))
    return out


def import_only(files: Iterable[str], text_of: Callable[[str], str]) -> dict:
    """{file: the importer's message, or "imported"} for files expected to be refused at
    load (`load_mod(text_of(file), file=file)`)."""
    from neurojax.nmodl import load_mod

    out = {}
    for f in files:
        try:
            load_mod(text_of(f), file=f)
            out[f] = "imported"
        except ValueError as e:  # NmodlError is a ValueError
            out[f] = str(e)
    return out


def show(name: str, mode: str, r: dict, width: int = 400) -> None:
    """One printed line per (case, protocol): max |ΔV| with NEURON's V range and the
    worst state difference relative to its range (or the error)."""
    if "_error" in r:
        print(f"{name} — {mode}: {r['_error'][:width]}", flush=True)
        return
    r = dict(r)
    lo, hi = r.pop("_vrange")
    rng = r.pop("_range")
    states = {k: v / rng[k] if rng[k] > 0 else v for k, v in r.items() if k != "v"}
    worst = max(states.items(), key=lambda kv: kv[1]) if states else ("-", 0.0)
    print(f"{name} — {mode}: V {r['v']:.2g} mV (NEURON V in [{lo:.1f}, {hi:.1f}]); "
          f"worst state {worst[0]} {worst[1]:.2g} of range", flush=True)  # fmt: skip
