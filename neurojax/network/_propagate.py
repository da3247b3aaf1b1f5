"""Event-driven scatter of presynaptic spikes through padded sparse rows."""

from __future__ import annotations

import functools
import math
import os
import re

import jax
import jax.numpy as jnp
from jaxtyping import Array


def _full(target_fn, base, weight, x, aux):
    """Every row: O(synapses). Linear in `x` and in `weight` (used for tangents)."""
    vals = (x[:, None] * weight).astype(base.dtype)
    return base.at[target_fn(aux, None)].add(vals, mode="drop")


def _round_size(n: int, chunk: int) -> int:
    """Rows found per `top_k` round: ~n/32, a power of two, between `chunk` and 256 (a
    multiple of `chunk`). `top_k` over n elements costs about the same for k = 16..256 on
    XLA's CPU backend (7–13 µs at n = 3200, ~0.2 ms at n = 80000; 0.5 ms at k = 1024), so
    larger rounds mean fewer O(n) passes when spikes per step grow with the network."""
    k = 1 << max(int(round(math.log2(max(n / 32, 1)))), 0)
    k = max(chunk, min(k, 256))
    return min(-(-k // chunk) * chunk, -(-n // chunk) * chunk)


def _block_size(n: int) -> int:
    """Rows per block of the two-level search: ~sqrt(n), a power of two in [8, 512], so
    that the per-spike work (one pass over n/B block flags, one over B rows) is ~2·sqrt(n)."""
    b = 1 << max(int(round(math.log2(max(math.sqrt(n), 1)))), 0)
    return max(8, min(b, 512))


def _small_loop_bytes() -> int:
    """XLA:CPU's `xla_cpu_small_while_loop_byte_threshold` in effect (neurojax sets 16 MB
    at import, `neurojax._simulate`; XLA's default is 1 kB)."""
    flags = os.environ.get("XLA_FLAGS", "")
    m = re.search(r"xla_cpu_small_while_loop_byte_threshold=(\d+)", flags)
    return int(m.group(1)) if m else 1024


def _per_synapse_loop(out) -> bool:
    """Deliver a row synapse by synapse in a scalar loop (`_deliver_row_loop`)? Only on
    XLA:CPU, and only where that loop (which touches `out` and one row) is under the
    small-loop threshold, so that XLA compiles it into one function; as a loop of
    separately dispatched kernels it would cost microseconds per synapse."""
    if DELIVERY != "auto":
        return DELIVERY == "loop"
    if jax.default_backend() != "cpu":
        return False
    return 4 * (out.shape[0] + 1) * out.dtype.itemsize < _small_loop_bytes()


def _deliver_row(target_fns, outs, weights, auxs, x, row):
    """Add row `row`'s weighted spike `x[row]·weight[row]` to each `out` at its targets
    (`target_fns[k](auxs[k], row)`, one per stored synapse; out-of-range targets, the
    padding, are dropped)."""
    new = []
    for fn, out, weight, aux in zip(target_fns, outs, weights, auxs, strict=True):
        targets = fn(aux, row)
        vals = (x[row] * weight[row]).astype(out.dtype)
        if not _per_synapse_loop(out):
            new.append(out.at[targets].add(vals, mode="drop"))
            continue
        m = out.shape[0]
        ext = jnp.concatenate([out, jnp.zeros((1,), out.dtype)])  # slot m: the padding

        def one(j, o, targets=targets, vals=vals, m=m):
            t = jnp.minimum(targets[j], m)
            return jax.lax.dynamic_update_index_in_dim(o, o[t] + vals[j], t, 0)

        new.append(jax.lax.fori_loop(0, targets.shape[0], one, ext)[:m])
    return tuple(new)


def _deliver_row_fused(target_fns, ext, weights, auxs, x, row, sizes, offsets):
    """`_deliver_row` for every projection at once into one buffer `ext` holding the
    outputs end to end (projection k at `offsets[k]`, `sizes[k]` long) and one padding
    slot at the end: one scalar loop over the row's synapses of all projections, no copy
    of the buffer per row. Each output gets the same additions in the same order as
    `_deliver_row` (projections never share an output), so the sums are equal bit for bit."""
    pad = ext.shape[0] - 1
    ts, vs = [], []
    for fn, weight, aux, m, o in zip(target_fns, weights, auxs, sizes, offsets, strict=True):
        t = fn(aux, row).astype(jnp.int32)  # int16 targets (`Sparse`) widened once read
        ts.append(jnp.where((t >= 0) & (t < m), t + o, pad))
        # x None: the spikes are known to be 0 or 1 (`scatter_binary_events`)
        vs.append((weight[row] if x is None else x[row] * weight[row]).astype(ext.dtype))
    targets = ts[0] if len(ts) == 1 else jnp.concatenate(ts)
    vals = vs[0] if len(vs) == 1 else jnp.concatenate(vs)

    def one(j, e):
        t = targets[j]
        return jax.lax.dynamic_update_index_in_dim(e, e[t] + vals[j], t, 0)

    return jax.lax.fori_loop(
        0, targets.shape[0], one, ext, unroll=min(UNROLL, targets.shape[0]) or 1
    )


# How a spiking row is delivered: "auto" (a per-synapse scalar loop on XLA:CPU when it
# compiles into one function, else a scatter), "scatter" or "loop" (to measure them).
DELIVERY = "auto"
# With the per-synapse loop: all projections of a presynaptic vector in one buffer and one
# loop per row (`_deliver_row_fused`, True), or one loop and one copy of each output per
# row and projection (`_deliver_row`, False: the former way, kept to measure against).
FUSE_ROWS = True
# Synapses per iteration of that loop (`fori_loop(unroll=...)`; 1: no unrolling). 4 since
# session 13: XLA:CPU stores the loop's state to memory on every iteration (its counter,
# the operands' addresses, the condition), which the unrolled body pays once per 4
# synapses; the same additions in the same order (equal bit for bit). In the 10⁴-neuron
# dendritic benchmark's step (benchmarks/exp_dendritic_s13.py, 13 interleaved rounds, CPU
# time, load ~12): 36.9 → 35.9 µs (×8: 36.1); in COBA ×4/×8 were within the noise.
UNROLL = 4


def _row_delivery(target_fns, bases, weights, auxs, x):
    """How the searches deliver one spiking row: `(carry0, deliver, finish)` with
    `deliver(carry, row) -> carry` and `finish(carry) -> outputs`. On CPU, where the
    per-synapse loop compiles into one function, all projections share one buffer (their
    outputs end to end plus one padding slot, built once per call) and a row is one loop
    (`_deliver_row_fused`); otherwise one scatter per projection (`_deliver_row`)."""
    sizes = [base.shape[0] for base in bases]
    loop = (
        FUSE_ROWS
        and len({base.dtype for base in bases}) == 1
        and _per_synapse_loop(jax.ShapeDtypeStruct((sum(sizes),), bases[0].dtype))
    )
    if not loop:
        return (
            tuple(bases),
            lambda outs, row: _deliver_row(target_fns, outs, weights, auxs, x, row),
            lambda outs: outs,
        )
    offsets = [sum(sizes[:k]) for k in range(len(sizes))]
    carry0 = (jnp.concatenate([*bases, jnp.zeros((1,), bases[0].dtype)]),)

    def deliver(outs, row):
        return (_deliver_row_fused(target_fns, outs[0], weights, auxs, x, row, sizes, offsets),)

    def finish(outs):
        return tuple(outs[0][o : o + m] for o, m in zip(offsets, sizes, strict=True))

    return carry0, deliver, finish


def _event_blocks(target_fns, bases, weights, x, auxs):
    """Only the rows with `x != 0`, for every projection sharing this presynaptic vector
    at once, found by a two-level search with no sort: the mask is cut into blocks of `B`
    rows (`_block_size`), one pass flags the blocks holding a spike (O(n_pre), a fused
    reduction); then, per flagged block, `argmax` over the block flags (O(n_pre/B)) and,
    per spiking row in it, `argmax` over its `B` rows (O(B)); each spiking row's synapses
    are then delivered (`_deliver_row`, O(max_out)). The rows come in increasing order,
    the order `top_k` gave, so the sums are the same bit for bit. Trip counts follow each
    step's spikes: no upper bound, no fallback.

    Why no `top_k`: XLA:CPU runs it as a custom call (a sort), 16 µs per step over 8000
    rows where the block flags cost ~3 µs. Why a scalar loop per synapse on CPU
    (`_deliver_row`): XLA:CPU compiles a `while` loop into one function only when it is
    small (`xla_cpu_small_while_loop_byte_threshold`) and holds no scatter with a vector
    of indices; the row scatter kept every loop around it as separately dispatched
    kernels (~1 µs each). In one process, equal spikes (benchmarks/README.md): COBA
    (4000 LIF) 64 → 24 µs per step, the dendritic network (10⁴ neurons) 0.42 → 0.29 ms.

    With that loop, all projections sharing `x` write into one buffer (their outputs end
    to end plus one padding slot, built once per call) and each spiking row is one loop
    over all its synapses (`_deliver_row_fused`): the former loop per projection copied
    each output once per row to append its padding slot. COBA's propagation alone, on the
    benchmark's recorded raster, interleaved CPU time: 31.8 → 21.9 and 17.6 → 13.8 µs per
    step in two runs (`benchmarks/profile_coba_step.py`), equal bit for bit."""
    n = x.shape[0]
    b = _block_size(n)
    nb = -(-n // b)
    active = x != 0
    mask = jnp.pad(active, (0, nb * b - n)).reshape(nb, b)
    flags = jnp.any(mask, axis=1)
    n_blocks = jnp.sum(flags, dtype=jnp.int32)

    carry0, deliver, finish = _row_delivery(target_fns, bases, weights, auxs, x)

    def row_(_, carry):
        outs, block, base = carry
        j = jnp.argmax(block)
        outs = deliver(outs, base + j)
        return outs, block.at[j].set(False), base

    def block_(_, carry):
        outs, flags = carry
        k = jnp.argmax(flags)
        block = jax.lax.dynamic_index_in_dim(mask, k, keepdims=False)
        count = jnp.sum(block, dtype=jnp.int32)
        outs, _, _ = jax.lax.fori_loop(0, count, row_, (outs, block, k * b))
        return outs, flags.at[k].set(False)

    outs = jax.lax.fori_loop(0, n_blocks, block_, (carry0, flags))[0]
    return finish(outs)


def _pack_bits(active):
    """`active` (n,) bool → (ceil(n/32),) uint32, bit `i` of word `k` = `active[32k + i]`
    (one fused vectorised pass; the padding rows are False)."""
    nw = -(-active.shape[0] // 32)
    m = jnp.pad(active, (0, nw * 32 - active.shape[0])).reshape(nw, 32).astype(jnp.uint32)
    return jnp.sum(m << jnp.arange(32, dtype=jnp.uint32), axis=1, dtype=jnp.uint32)


def _for_each_bit(word, body, carry):
    """`body(i, carry)` for each set bit `i` of the uint32 `word`, in increasing order
    (lowest set bit `w & -w`, its index by count-leading-zeros): one iteration per set
    bit, none for a zero word."""

    def step(c):
        w, carry = c
        low = w & (~w + jnp.uint32(1))
        i = (31 - jax.lax.clz(low)).astype(jnp.int32)
        return w ^ low, body(i, carry)

    return jax.lax.while_loop(lambda c: c[0] != 0, step, (word, carry))[1]


def _event_bits(target_fns, bases, weights, x, auxs, binary=False):
    """Only the rows with `x != 0`, for every projection sharing this presynaptic vector,
    found through a bitset tree with no sort and no per-spike pass over the rows: level 0
    packs the spike mask into uint32 words (bit `i` of word `k`: row `32k + i`), level
    `l + 1` packs "word `j` of level `l` is nonzero", up to a single word. A depth-first
    walk visits only the set bits of each level (`_for_each_bit`: one scalar iteration per
    set bit), so a step costs O(n/32) vectorised for the packing plus O(levels) scalar
    work per spike — no term grows with n per spike, where the two-level search
    (`_event_blocks`) paid an `argmax` over ~n/B block flags per flagged block and one
    over B rows per spike (~2000 element visits per spike at 10⁶ neurons). The rows come
    in increasing order, as with `_event_blocks` and `top_k`, so the sums are equal bit
    for bit. Delivery is `_event_blocks`' (`_deliver_row_fused` on CPU).

    `binary`: `x` is known to be 0 or 1 (`scatter_binary_events`), so a row delivers
    its weights as they are and `x` is read only by the bit packing, into which XLA then
    fuses the read of `x` (a delay ring's row) instead of copying it first."""
    words = [_pack_bits(x != 0)]
    if binary:
        x = None
    while words[-1].shape[0] > 1:
        words.append(_pack_bits(words[-1] != 0))

    carry0, deliver, finish = _row_delivery(target_fns, bases, weights, auxs, x)

    def visit(level, k, outs):
        """Every spiking row under word `k` of `level`, in increasing order."""
        word = jax.lax.dynamic_index_in_dim(words[level], k, keepdims=False)
        if level == 0:
            return _for_each_bit(word, lambda i, o: deliver(o, 32 * k + i), outs)
        return _for_each_bit(word, lambda i, o: visit(level - 1, 32 * k + i, o), outs)

    outs = visit(len(words) - 1, jnp.int32(0), carry0)
    return finish(outs)


def _event_topk(target_fns, chunk, bases, weights, x, auxs):
    """Only the rows with `x != 0`, for every projection sharing this presynaptic vector at
    once: O(n_pre) per round to find up to `K` spiking rows (`lax.top_k` on the 0/1 mask;
    rows already delivered are masked out), then each spiking row's synapses, one row at
    a time, O(n_spiking × max_out). The number of rounds and rows follows each step's
    spikes: no upper bound to choose, no fallback.

    Why `top_k`: on XLA's CPU backend `jnp.nonzero` (a cumsum and a scatter over n_pre)
    took 150 µs per step for 3200 neurons and 1.6 ms for 80000, against 7–13 µs and
    0.2 ms for `top_k` (benchmarks/bench_network.py, `--part index`).

    Why one row at a time: a row is a contiguous slice of `post` and `weight` and its
    scatter is one-dimensional; gathering `chunk` rows (`weight[rows]`) and scattering the
    `(chunk, max_out)` block, as before, cost XLA:CPU ~12 ns per synapse, padding rows
    included. COBA's E population (3200 rows, fan-out 93 + 31), delivery alone: 55 → 19 µs
    per step at 7 spiking rows, 100 → 39 µs at 40 (results equal bit for bit;
    benchmarks/README.md, "COBA network")."""
    n = x.shape[0]
    k_round = _round_size(n, chunk)
    active = x != 0
    count = jnp.sum(active, dtype=jnp.int32)

    def deliver(i, carry):
        outs, rows = carry
        row = rows[i]
        x_row = x[row]
        new = []
        for fn, out, weight, aux in zip(target_fns, outs, weights, auxs, strict=True):
            vals = (x_row * weight[row]).astype(out.dtype)
            new.append(out.at[fn(aux, row)].add(vals, mode="drop"))
        return tuple(new), rows

    def round_(r, carry):
        outs, mask = carry
        k = min(k_round, n)
        _, rows = jax.lax.top_k(mask, k)  # the spiking rows come first
        here = jnp.minimum(count - r * k, k)
        outs, _ = jax.lax.fori_loop(0, here, deliver, (outs, rows))
        if n <= k:  # one round finds every spiking row: no mask for a next one
            return outs, mask
        return outs, mask.at[rows].set(0.0)

    n_rounds = (count + min(k_round, n) - 1) // min(k_round, n)
    mask = active.astype(jnp.float32)
    return jax.lax.fori_loop(0, n_rounds, round_, (tuple(bases), mask))[0]


# The search for the spiking rows: "bits" (default, `_event_bits`), "blocks" (the
# two-level search before it) or "topk" (the one before that); the former ones are kept
# to measure against (benchmarks/bench_network.py --part index, profile_coba_step.py).
SEARCH = "bits"


def _event(target_fns, chunk, bases, weights, x, auxs, binary=False):
    if SEARCH == "topk":
        return _event_topk(target_fns, chunk, bases, weights, x, auxs)
    if SEARCH == "blocks":
        return _event_blocks(target_fns, bases, weights, x, auxs)
    return _event_bits(target_fns, bases, weights, x, auxs, binary and BINARY)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def scatter_events(target_fns, chunk, bases, weights, x, auxs):
    """For each projection k sharing the presynaptic vector `x`: `bases[k]` plus the
    weighted spikes scattered to `target_fns[k](auxs[k], rows)`, reading only the rows of
    nonzero `x` (event-driven), with one search for the spiking rows for all of them.

    Derivatives are those of the dense sum. Tangents take the full O(synapses) path —
    with respect to `x` every row matters (a neuron that did not spike still has a
    surrogate derivative), and the full path is linear and transposable where the
    event loop is not. They only run under `jax.grad`/`jvp`.
    """
    return _event(target_fns, chunk, bases, weights, x, auxs)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def scatter_binary_events(target_fns, chunk, bases, weights, x, auxs):
    """`scatter_events` for spikes `x` that are exactly 0 or 1 in the forward pass (a
    `ReducedCell` population's somatic spikes: a Heaviside times booleans): a spiking
    row adds its weights without the multiplication by `x[row]` (the same numbers, bit
    for bit), so `x` is read once, by the search's bit packing. Derivatives as
    `scatter_events` (the dense sum's, `x` with its surrogate tangent)."""
    return _event(target_fns, chunk, bases, weights, x, auxs, binary=True)


# Use `scatter_binary_events`' shortcut (False: treat binary spikes as any values; kept
# to measure against).
BINARY = True


def _jvp_rule(binary):
    def rule(target_fns, chunk, primals, tangents):
        return _scatter_events_jvp(target_fns, chunk, primals, tangents, binary)

    return rule


def _scatter_events_jvp(target_fns, chunk, primals, tangents, binary=False):
    bases, weights, x, auxs = primals
    d_bases, d_weights, d_x, _ = tangents
    outs = _event(target_fns, chunk, bases, weights, x, auxs, binary)
    d_outs = []
    for fn, base, d_base, weight, d_weight, aux in zip(
        target_fns, bases, d_bases, weights, d_weights, auxs, strict=True
    ):
        zero = jnp.zeros_like(base)
        d_outs.append(
            d_base + _full(fn, zero, d_weight, x, aux) + _full(fn, zero, weight, d_x, aux)
        )
    return outs, tuple(d_outs)


scatter_events.defjvp(_jvp_rule(False))
scatter_binary_events.defjvp(_jvp_rule(True))


def _post_targets(aux, rows):
    (post,) = aux
    # a row's targets widened to int32 once read (`Sparse` may store them as int16)
    return post if rows is None else post[rows].astype(jnp.int32)


def event_propagate(post, weight, x, n_post: int, chunk: int) -> Array:
    """`out[k] = Σ_{i,j: post[i,j]=k} x_i·weight[i,j]`, event-driven (see `Sparse`)."""
    base = jnp.zeros((n_post,), jnp.result_type(weight.dtype, x.dtype))
    return scatter_events((_post_targets,), chunk, (base,), (weight,), x, ((post,),))[0]


def _delayed_targets(aux, rows):
    post, delay, index, n_post, length = aux
    p = (post if rows is None else post[rows]).astype(jnp.int32)
    d = delay if rows is None else delay[rows]
    slot = (index + d) % length
    # Padding (p == n_post) must not wrap into the next slot: send it past the end.
    return jnp.where(p < n_post, slot * n_post + p, length * n_post)


def event_propagate_delayed(buffer, post, weight, delay, x, index, n_post: int, chunk: int):
    """Add the weighted spikes `x` of step `index` to the flat ring buffer
    `(length·n_post,)` at slot `(index + delay[i, j]) % length` — per-synapse delays in
    steps — reading only spiking rows."""
    length = buffer.shape[0] // n_post
    aux = (post, delay, index, jnp.int32(n_post), jnp.int32(length))
    return scatter_events((_delayed_targets,), chunk, (buffer,), (weight,), x, (aux,))[0]


def post_targets():
    """The target function of plain (undelayed) sparse rows, for `scatter_events`."""
    return _post_targets
