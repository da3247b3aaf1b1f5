"""Static gathers whose transpose is a gather too (no scatter in a loop's step).

`x[..., index]` with a static index differentiates, in reverse mode, into a scatter-add.
On XLA:CPU a scatter anywhere in a `while` loop's body keeps the loop from being compiled
into one function (`SmallWhileLoopHoistingPass` refuses it; see `_simulate.py` for why
that function matters): every fused operation of the step is then dispatched as a
separate thunk, every step. Measured on the Hay L5 cell (`benchmarks/bench_hay2011.py`),
that dispatch was most of a step's time, forward (a clamp's `.at[].add`) and backward
(the transposes of the gathers that pick each mechanism's compartments).

`StaticMap` is a linear map `y_o = Σ_{(o, i) ∈ pairs} x_i` fixed by numpy index pairs
(a gather, a spread to a larger array, a sum over children, any mix). `apply` runs it
with gathers of padded tables, and its transpose — the same pairs reversed — with
gathers as well, through `jax.lax.custom_linear_solve` (whose `solve` is the map and
`transpose_solve` its transpose; the `matvec` is never used, as the map has no traced
coefficients): forward mode, reverse mode and `vmap` all work, and neither direction
contains a scatter.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def _table(rows: np.ndarray, cols: np.ndarray, n_rows: int, pad: int) -> np.ndarray:
    """`(n_rows, k)` table: the `cols` paired with each row, padded with `pad`."""
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    counts = np.bincount(rows, minlength=n_rows)
    k = max(1, int(counts.max(initial=0)))
    table = np.full((n_rows, k), pad, dtype=np.int32)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(rows.size) - start[rows]
    table[rows, slot] = cols
    return table


class _Split(NamedTuple):
    """A table cut after its first `main.shape[1]` columns: `main` `(n_rows, k_main)`,
    the few rows with more entries (`rows`, `(r,)`), their remaining entries (`over`,
    `(r, k − k_main)`, padded), and where each row's overflow sum sits (`place`,
    `(n_rows,)`: an index into `rows`, or `r` for none)."""

    main: np.ndarray
    rows: np.ndarray
    over: np.ndarray
    place: np.ndarray


def _split(table: np.ndarray, pad: int) -> _Split:
    """`table` cut where gathering and adding the fewest values (`_WIDE_ROWS`)."""
    n_rows, k = table.shape
    counts = (table != pad).sum(axis=1)
    best, cost = k, 2 * n_rows * k  # gather + add per entry of the full table
    for km in range(1, k):
        r = int((counts > km).sum())
        c = 2 * n_rows * km + 2 * r * (k - km) + 2 * n_rows  # + the overflow placed and added
        if c < cost:
            best, cost = km, c
    rows = np.nonzero(counts > best)[0]
    place = np.full(n_rows, rows.size, dtype=np.int32)
    place[rows] = np.arange(rows.size)
    return _Split(table[:, :best], rows.astype(np.int32), table[rows, best:], place)


class StaticMap:
    """The linear map `y[..., o] = Σ_{(o, i) ∈ pairs} x[..., i]` from `n_in` to `n_out`
    values on the last axis (static numpy data; hashable by identity).

    Build it with `StaticMap.take(index, n_in)` (`x[..., index]`),
    `StaticMap.spread(index, n_out)` (its transpose: region values placed at `index`,
    zero elsewhere) or `StaticMap(out, inp, n_out, n_in)` (any pairs)."""

    def __init__(self, out, inp, n_out: int, n_in: int):
        out = np.asarray(out, dtype=np.int64).ravel()
        inp = np.asarray(inp, dtype=np.int64).ravel()
        if out.shape != inp.shape:
            raise ValueError(f"out and inp differ in size: {out.size} and {inp.size}.")
        if out.size and (out.min() < 0 or out.max() >= n_out or inp.min() < 0 or inp.max() >= n_in):
            raise ValueError(
                f"index pairs off the arrays: out in [0, {n_out}), inp in [0, {n_in}) required."
            )
        self.n_out, self.n_in = int(n_out), int(n_in)
        self.forward = _table(out, inp, self.n_out, self.n_in)
        self.backward = _table(inp, out, self.n_in, self.n_out)
        # what `apply` gathers: each table cut where a few rows are much wider than the
        # rest (`_WIDE_ROWS`)
        self._forward = _split(self.forward, self.n_in)
        self._backward = _split(self.backward, self.n_out)
        # a plain gather (every output one input) needs no padding slot
        self.plain = bool(self.forward.shape[1] == 1 and np.all(self.forward < self.n_in))
        # custom_linear_solve maps a vector to one of its size: both sides padded to this
        self.size = max(self.n_in, self.n_out)

        self._plans: dict = {}

        def solve_fn(_, r):
            plan = self._plan("forward", self.forward, self._forward, self.plain)
            return _fit(_gather_sum(r[..., : self.n_in], plan, self.n_in), self.size)

        def transpose_fn(_, r):
            plan = self._plan("backward", self.backward, self._backward, False)
            return _fit(_gather_sum(r[..., : self.n_out], plan, self.n_out), self.size)

        self.solve_fn, self.transpose_fn = solve_fn, transpose_fn

    def _plan(self, which: str, table: np.ndarray, split: _Split, plain: bool) -> _Plan:
        key = (which, _WIDE_ROWS)
        if key not in self._plans:
            self._plans[key] = _make_plan(table, split, plain)
        return self._plans[key]

    @classmethod
    def take(cls, index, n_in: int) -> StaticMap:
        """`x[..., index]` (`index` 1-d, values in `[0, n_in)`)."""
        index = np.asarray(index, dtype=np.int64).ravel()
        return cls(np.arange(index.size), index, index.size, n_in)

    @classmethod
    def spread(cls, index, n_out: int) -> StaticMap:
        """`y[..., index[j]] += x[..., j]`, zero elsewhere: the transpose of `take`."""
        index = np.asarray(index, dtype=np.int64).ravel()
        return cls(index, np.arange(index.size), n_out, index.size)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __repr__(self):
        return f"StaticMap({self.n_in} -> {self.n_out})"


_SUM_BY_ADDS = 64
"""Tables up to this wide are summed by additions of their columns, not `jnp.sum`: XLA:CPU
turns a row reduction of a large enough array into a YNNPACK fusion (`ynn_fusion`,
`kind=kCustom`), and a `while` loop holding one is not compiled into one function
(`SmallWhileLoopHoistingPass`; `_simulate.py`): the 2201-node HH tree's sum over children
made its whole time loop run as thunks, with the thread pool spinning between them
(`bench_cable.py`). The additions are a left fold from the first column, the order of
XLA's own row reduction."""


_WIDE_ROWS = True
"""Tables whose rows differ much in length are cut (`_split`): the common short rows
gathered and added as a narrow table, the few long ones apart (their sums then associate
differently: rounding only). A cable's sum over children is the case: on Hay's L5 cell
(327 nodes) 282 nodes have one child, 18 two, and the soma eight, so the full table is 8
wide and 7 of every 8 values gathered and added were the padding's zeros — forward, and
in the gradient again, where every `x[parent]` becomes a sum over children. Cut after one
column: 327 + 19·7 values gathered instead of 327·8. Measured (Hay cell, TR-BDF2, 100 ms,
float32, CPU time, one process, interleaved, min of 7, shared 2-core VM at load 6–8):
gradient 121.7 → 117.0 and 126.5 → 118.6 µs per step (two runs), forward unchanged
(30.4 → 30.2, 31.0 → 30.4). `False` restores the full tables (for measurements)."""


class _Plan(NamedTuple):
    """What `_gather_sum` gathers, as `lax.gather` index operands `(n, 1)` (int32) made
    once per map: `plain` (one column, no padding slot), the columns of the table summed
    (`main`; or the whole `(n, k, 1)` table, summed by `jnp.sum`, above `_SUM_BY_ADDS`
    columns), and for a cut table (`_WIDE_ROWS`) the long rows' columns (`over`) and
    where their sums go (`place`)."""

    plain: bool
    main: tuple
    over: tuple | None
    place: np.ndarray | None


def _columns(table: np.ndarray) -> tuple:
    table = np.asarray(table, np.int32)
    if table.shape[-1] > _SUM_BY_ADDS:
        return (table[..., None],)
    return tuple(np.ascontiguousarray(table[:, j, None]) for j in range(table.shape[-1]))


def _make_plan(table: np.ndarray, split: _Split, plain: bool) -> _Plan:
    if plain:
        return _Plan(True, _columns(table[:, :1]), None, None)
    if not (_WIDE_ROWS and split.rows.size):
        return _Plan(False, _columns(table), None, None)
    return _Plan(False, _columns(split.main), _columns(split.over),
                 np.asarray(split.place, np.int32)[:, None])  # fmt: skip


def _take(x, index: np.ndarray):
    """`x[..., i]` for a static `index` `(..., 1)` of values `i` in `[0, x.shape[-1])`, as
    one `lax.gather` — what `jnp`'s indexing emits, without its wrapping of negative
    indices (an add, a select and a broadcast per gather, which XLA folds away: the same
    program, but four equations to trace, differentiate, transpose and lower instead of
    one; with ~300 gathers in the Hay cell's step that was a quarter of its tracing's
    equations, benchmarks/README.md "Session 14"). The index arrays are made once per
    map (`_Plan`), so each is one constant of the traced program."""
    nb = x.ndim - 1
    dims = jax.lax.GatherDimensionNumbers(
        offset_dims=tuple(range(nb)), collapsed_slice_dims=(nb,), start_index_map=(nb,)
    )
    return jax.lax.gather(
        x, index, dims, (*x.shape[:-1], 1), mode=jax.lax.GatherScatterMode.PROMISE_IN_BOUNDS
    )


def _fold(xp, columns: tuple):
    """`Σ_j xp[..., column_j]`: a left fold of additions from the first column, each column
    gathered on its own (the whole table gathered and summed by `jnp.sum` above
    `_SUM_BY_ADDS` columns)."""
    if columns[0].ndim == 3:
        return jnp.sum(_take(xp, columns[0]), axis=-1)
    out = _take(xp, columns[0])
    for c in columns[1:]:
        out = out + _take(xp, c)
    return out


def _gather_sum(x, plan: _Plan, n: int):
    if plan.plain:
        return _take(x, plan.main[0])
    pad = jnp.zeros((*x.shape[:-1], 1), x.dtype)
    xp = jnp.concatenate([x[..., :n], pad], axis=-1)
    if plan.over is None:
        return _fold(xp, plan.main)
    # the narrow table, plus the long rows' remaining entries placed by a gather
    extra = jnp.concatenate([_fold(xp, plan.over), pad], axis=-1)
    return _fold(xp, plan.main) + _take(extra, plan.place)


def _fit(x, size: int):
    """`x` cut or zero-padded to `size` on the last axis."""
    n = x.shape[-1]
    if n >= size:
        return x[..., :size]
    return jnp.concatenate([x, jnp.zeros((*x.shape[:-1], size - n), x.dtype)], axis=-1)


def _identity(u):
    return u


def apply(m: StaticMap, x):
    """`m` applied to the last axis of `x` (`(..., n_in)` → `(..., n_out)`), by gathers,
    and by gathers again when differentiated in reverse mode."""
    x = jnp.asarray(x)
    if x.shape[-1] != m.n_in:
        raise ValueError(
            f"{m!r} applies to arrays with {m.n_in} values on the last axis, got shape {x.shape}."
        )
    # the map's own functions (made once): JAX caches their traces by identity, so a
    # step tracing a hundred maps does not re-trace three functions for each
    y = jax.lax.custom_linear_solve(
        _identity, _fit(x, m.size), solve=m.solve_fn, transpose_solve=m.transpose_fn
    )
    return y[..., : m.n_out]


_CACHE: dict = {}


def take_map(index, n_in: int) -> StaticMap:
    """`StaticMap.take(index, n_in)`, one object per index and size (cached: the same
    map for every trace of a step)."""
    index = np.asarray(index, dtype=np.int64)
    key = ("take", index.tobytes(), int(n_in))
    if key not in _CACHE:
        _CACHE[key] = StaticMap.take(index, n_in)
    return _CACHE[key]


def spread_map(position, n_in: int) -> StaticMap:
    """The map `x → concatenate([x, 0])[..., position]` from `n_in` values (entries of
    `position` equal to `n_in` give 0), cached as `take_map`."""
    position = np.asarray(position, dtype=np.int64)
    key = ("spread", position.tobytes(), int(n_in))
    if key not in _CACHE:
        out = np.nonzero(position < n_in)[0]
        _CACHE[key] = StaticMap(out, position[out], position.size, n_in)
    return _CACHE[key]


__all__ = ["StaticMap", "apply", "spread_map", "take_map"]
