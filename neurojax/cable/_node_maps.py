"""A `Cell`'s node maps run as slices where their index pairs allow it (decided once per
map from its static index tables).

`neurojax._gather.apply` runs every `StaticMap` as gathers of padded tables, which
XLA:CPU executes one element at a time (~0.7 ns each, a contiguous copy ~0.2;
`benchmarks/README.md`, "Cable cells"). A map that is

- the identity (every output its own input, `n_in == n_out`) is the array itself;
- a take of a contiguous run (`x[..., a:a + n_out]`) is a static slice;
- the spread of values to a contiguous run of a larger array (`y[..., a:a + n_in] = x`,
  zero elsewhere; the transpose of that take) is a zero pad;

and these give the same values bit for bit (a copy, or a copy and zeros: the padded
gather's `_fold` of one column adds nothing), forward and — as the transposes of a
slice and a pad are a pad and a slice, neither a scatter — in reverse mode. Every other
map goes to `_gather.apply`. The spreads stay gathers unless `PADS`: with the HH
current placed by a pad, a one-branch HH cable's float64 V moved by up to 1.4e-14 mV in
8 ms (a pad in place of the gather changes how XLA fuses and rounds the current's
arithmetic; an optimization barrier before or after the pad did not restore it), while
the takes as slices keep every value bit for bit (`tests/test_cable_d2_s12.py`).

Where it applies: a mechanism inserted in one branch only (a soma: its compartments are
contiguous nodes), every mechanism of a one-branch cell. A mechanism over a whole tree
is not one of these (the membrane-less branch ends sit between the branches'
compartments), so the 10⁴-compartment benchmark tree's step is unchanged. Measured
(`benchmarks/exp_cable_node_layout.py`, CPU time, float32, paired, load ~7.6): an
unbranched 10⁴-compartment HH cable 252.3 µs/step with gathers, 251.8 with the take as a
slice (no gain), 228.9 with the put as a pad too (`PADS`, 1.10×).

`SLICES = False` sends every map to `_gather.apply` (for comparisons and measurements:
`benchmarks/exp_cable_node_layout.py`); read when a step is traced.
"""

from __future__ import annotations

import weakref

import jax.numpy as jnp
import numpy as np

from .._gather import StaticMap
from .._gather import apply as gather_apply

SLICES = True
"""Whether `apply` runs identity and contiguous-take maps as the array itself or a slice
(True), or every map by `_gather.apply` (False)."""

PADS = False
"""Whether `apply` runs contiguous spreads as a zero pad too (with `SLICES`): off, as the
results then differ from the gathers' by rounding (see above)."""

_KINDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def kind(m: StaticMap) -> tuple:
    """What `m` is, from its forward table: `("identity",)`, `("slice", a)` (a take of
    `x[..., a:a + m.n_out]`), `("pad", a)` (`x` placed at `a:a + m.n_in` of `m.n_out`
    zeros) or `("gather",)`. Cached per map (maps are static and compared by identity)."""
    got = _KINDS.get(m)
    if got is None:
        got = _classify(m)
        _KINDS[m] = got
    return got


def _classify(m: StaticMap) -> tuple:
    table = m.forward  # (n_out, k): the inputs summed into each output, padded with n_in
    if table.shape[1] != 1 or m.n_in == 0 or m.n_out == 0:
        return ("gather",)
    col = table[:, 0].astype(np.int64)
    if m.plain:  # every output one input
        a = int(col[0])
        if np.array_equal(col, np.arange(a, a + m.n_out)):
            return ("identity",) if (a == 0 and m.n_in == m.n_out) else ("slice", a)
        return ("gather",)
    # a spread: the outputs that read an input form one run a .. a + n_in, in order
    hit = np.nonzero(col < m.n_in)[0]
    if hit.size != m.n_in:
        return ("gather",)
    a = int(hit[0])
    if np.array_equal(hit, np.arange(a, a + m.n_in)) and np.array_equal(
        col[hit], np.arange(m.n_in)
    ):
        return ("pad", a)
    return ("gather",)


def apply(m: StaticMap, x, pads: bool | None = None):
    """`_gather.apply(m, x)`, as the array itself, a static slice or a zero pad where `m`
    is one of those (`kind`; same values bit for bit, a pad to rounding). `pads`: whether
    a spread runs as a pad (default `PADS`; a cell in chain-block order passes True)."""
    x = jnp.asarray(x)
    if not SLICES or x.shape[-1:] != (m.n_in,):  # (`_gather.apply` names a bad shape)
        return gather_apply(m, x)
    k = kind(m)
    if k[0] == "identity":
        return x
    if k[0] == "slice":
        return x[..., k[1] : k[1] + m.n_out]
    if k[0] == "pad" and (PADS if pads is None else pads):
        widths = [(0, 0)] * (x.ndim - 1) + [(k[1], m.n_out - m.n_in - k[1])]
        return jnp.pad(x, widths)
    return gather_apply(m, x)


__all__ = ["PADS", "SLICES", "apply", "kind"]
