"""Connectivity: who connects to whom, with which weight, generated from explicit keys."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._model import REAL, check_domains
from ._propagate import event_propagate

_WEIGHT = {"domain": REAL}  # weights are signed but finite: NaN/inf refused


class AbstractConnectivity(eqx.Module):
    """The synapses of one projection from `n_pre` to `n_post` neurons and their weights
    (trainable leaves; µS, nA, mV or dimensionless, as the synapse model says).

    - `propagate(x)` — `(n_post,)` summed weighted input, `out[k] = Σ_i x_i·w_ik`, for the
      presynaptic spikes (or released fractions) `x` of shape `(n_pre,)`.
    - `to_dense()` — the `(n_pre, n_post)` weight matrix (for checks and small nets).
    """

    n_pre: int = eqx.field(static=True)
    n_post: int = eqx.field(static=True)

    def __check_init__(self):
        # NaN/inf weights, concrete ones at once; traced ones are checked by `simulate`
        # (the weight fields carry a domain, so `error_if_outside` names them).
        check_domains(self)

    @abc.abstractmethod
    def propagate(self, x: Float[Array, " n_pre"]) -> Float[Array, " n_post"]: ...

    @abc.abstractmethod
    def to_dense(self) -> Float[Array, "n_pre n_post"]: ...


class Dense(AbstractConnectivity):
    """All-to-all with a full weight matrix `weight[i, k]` (pre i → post k): propagation is
    one matrix–vector product, O(n_pre·n_post) per step. Best for small or dense nets."""

    weight: Float[Array, "n_pre n_post"] = eqx.field(metadata=_WEIGHT)

    def __init__(self, weight):
        weight = jnp.asarray(weight)
        if weight.ndim != 2:
            raise ValueError(
                f"Dense needs a 2-d weight matrix (n_pre, n_post), got {weight.shape}."
            )
        if not jnp.issubdtype(weight.dtype, jnp.floating):
            weight = weight.astype(jnp.result_type(float))
        self.weight = weight
        self.n_pre, self.n_post = weight.shape

    def propagate(self, x):
        return x @ self.weight

    def to_dense(self):
        return self.weight


class OneToOne(AbstractConnectivity):
    """Neuron i → neuron i with weight `weight[i]`; O(n) per step."""

    weight: Float[Array, " n"] = eqx.field(metadata=_WEIGHT)

    def __init__(self, n: int, weight=1.0):
        n = _check_size("n", n)
        weight = _as_weight(weight)
        if jnp.ndim(weight) > 1 or jnp.shape(weight) not in ((), (1,), (n,)):
            raise ValueError(
                f"one_to_one: weight must be a scalar or one value per neuron ({n},), got "
                f"shape {jnp.shape(weight)}."
            )
        self.weight = jnp.broadcast_to(weight, (n,)) + 0.0
        self.n_pre = self.n_post = n

    def propagate(self, x):
        return x * self.weight

    def to_dense(self):
        return jnp.diag(self.weight)


# Sparse targets stored as int16 where every target and the padding value `n_post` fit
# (`n_post < 2^15`), else int32 (session 14): delivering a spiking row reads its targets
# from memory (the 10⁴-neuron dendritic network's connectivity is ~24 MB, beyond what the
# caches keep between spikes), so half the bytes per synapse; the targets are widened to
# int32 once read (`_propagate`). The same sums bit for bit. In the dendritic benchmark's
# step (benchmarks/exp_dendritic_s14.py, interleaved CPU time): benchmarks/README.md
# "Dendritic networks". False: int32 always (the former layout, kept to measure against).
SMALL_INDEX = True


def _index_dtype(n_post: int):
    return jnp.int16 if SMALL_INDEX and n_post < 2**15 else jnp.int32


class Sparse(AbstractConnectivity):
    """Sparse synapses stored by presynaptic neuron (ELLPACK): row `i` lists the targets
    `post[i, :]` and weights `weight[i, :]` of neuron i, padded to the largest fan-out
    `max_out` with the target `n_post` (dropped). The targets are stored as int16 when
    `n_post < 2^15` (half the bytes a spiking row's delivery reads; `SMALL_INDEX`), else
    int32: widen them (`post.astype(jnp.int32)`) before arithmetic that could overflow.

    Propagation is event-driven: only the rows of neurons that spiked this step are read,
    one row at a time, so a step costs O(n_pre) to find the spiking neurons plus
    O(n_spiking × max_out) to deliver — not O(n_pre × n_post). `chunk` only sets how many
    rows one search round finds (a multiple of it); the result never depends on it.
    Gradients are those of the dense sum: to every weight of a spiking row and, through
    the surrogate, to every presynaptic spike (see `scatter_events`).
    """

    post: Int[Array, "n_pre max_out"]
    weight: Float[Array, "n_pre max_out"] = eqx.field(metadata=_WEIGHT)
    chunk: int = eqx.field(static=True)

    def __init__(self, post, weight, n_post: int, chunk: int | None = None):
        post = np.asarray(post)
        if post.ndim != 2 or not np.issubdtype(post.dtype, np.integer):
            raise ValueError(
                "Sparse: post must be a 2-d integer array (n_pre, max_out), got "
                f"{post.dtype}{post.shape}."
            )
        n_post = _check_size("n_post", n_post)
        if post.size and (post.min() < 0 or post.max() > n_post):
            raise ValueError(
                f"Sparse: targets must lie in [0, n_post={n_post}] (n_post marks padding)."
            )
        if post.shape[1] == 0:
            # no synapse at all (from_pairs([], [], ...)): one padding slot per row, which
            # the event-driven propagation can read (a row of width 0 failed in the run
            # with JAX's "index is out of bounds for axis 0 with size 0")
            post = np.full((post.shape[0], 1), n_post, post.dtype)
            weight = 0.0
        # Padding slots carry weight 0, so to_dense and sums over weights stay exact.
        valid = post < n_post
        dtype = jnp.result_type(float)
        weight = _as_weight(weight)
        try:
            np.broadcast_shapes(jnp.shape(weight), post.shape)
        except ValueError:
            raise ValueError(
                f"Sparse: weight must be a scalar or shaped like post {post.shape} (one per "
                f"stored synapse), got shape {jnp.shape(weight)}."
            ) from None
        if isinstance(weight, jax.core.Tracer):  # built inside jit/grad: stay in jnp
            weight = jnp.where(valid, jnp.broadcast_to(jnp.asarray(weight, dtype), post.shape), 0.0)
        else:  # numpy, then one transfer: op-by-op jnp cost ~1 s of compilations per call
            weight = np.where(valid, np.broadcast_to(np.asarray(weight, dtype), post.shape), 0.0)
        self.weight = jnp.asarray(weight, dtype)
        self.post = jnp.asarray(post, dtype=_index_dtype(n_post))
        self.n_pre, self.n_post = post.shape[0], n_post
        if chunk is None:
            chunk = _DEFAULT_CHUNK
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise ValueError(f"Sparse: chunk must be a positive int, got {chunk!r}.")
        self.chunk = int(min(chunk, self.n_pre))

    @property
    def max_out(self) -> int:
        return self.post.shape[1]

    @property
    def n_synapses(self) -> int:
        return int(np.sum(np.asarray(self.post) < self.n_post))

    def padded(self, max_out: int) -> Sparse:
        """The same synapses with rows padded to `max_out` slots: networks drawn from
        different keys then share array shapes, so `jit` compiles once for all of them."""
        if max_out < self.max_out:
            raise ValueError(f"padded({max_out}): rows already hold up to {self.max_out} synapses.")
        extra = max_out - self.max_out
        post = jnp.pad(self.post, ((0, 0), (0, extra)), constant_values=self.n_post)
        weight = jnp.pad(self.weight, ((0, 0), (0, extra)))
        return Sparse(post, weight, self.n_post, self.chunk)

    def propagate(self, x):
        return event_propagate(self.post, self.weight, x, self.n_post, self.chunk)

    def to_dense(self):
        w = jnp.zeros((self.n_pre, self.n_post + 1), self.weight.dtype)
        rows = jnp.arange(self.n_pre)[:, None]
        return w.at[rows, self.post].add(self.weight)[:, : self.n_post]


# Rows per search round of the former `top_k` search (`_propagate.SEARCH = "topk"`, kept
# to measure against; `_propagate._round_size`). The default bitset search (and the
# two-level block search before it) does not use it: it finds every spiking row, and
# rows are delivered one at a time
# (benchmarks/README.md, "Networks").
_DEFAULT_CHUNK = 16


# --------------------------------------------------------------------------------------
# Generators: host-side numpy, seeded from the key's bits, so the same key gives the same
# network on every backend (connectivity is structure: built once, outside jit).


def _as_weight(weight):
    """A weight argument as a floating array (numpy when concrete, jnp when traced)."""
    if isinstance(weight, (str, bytes)) or weight is None:
        raise TypeError(f"weight must be a number or an array, got {weight!r}.")
    if isinstance(weight, jax.core.Tracer):
        w = weight
    else:
        w = np.asarray(weight)
        if w.dtype == object or np.iscomplexobj(w):
            raise TypeError(f"weight must be real numbers, got {weight!r}.")
    if not jnp.issubdtype(w.dtype, jnp.floating):
        w = w.astype(jnp.result_type(float))
    return w


def _pair_weights(weight, post: np.ndarray, n_pre: int, n_post: int, who: str):
    """Weights for the drawn synapses `post` (n_pre, max_out): a scalar stays a scalar;
    an array broadcastable to the `(n_pre, n_post)` matrix is read at each synapse."""
    w = _as_weight(weight)
    if jnp.ndim(w) == 0:
        return w
    try:
        np.broadcast_shapes(jnp.shape(w), (n_pre, n_post))
    except ValueError:
        raise ValueError(
            f"{who}: weight must be a scalar or broadcastable to the (n_pre, n_post) = "
            f"({n_pre}, {n_post}) weight matrix, got shape {jnp.shape(w)}."
        ) from None
    xp = jnp if isinstance(w, jax.core.Tracer) else np
    full = xp.broadcast_to(w, (n_pre, n_post))
    full = xp.concatenate([full, xp.zeros((n_pre, 1), full.dtype)], axis=1)  # padding
    return xp.take_along_axis(full, post, axis=1)


def _check_size(name, n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive int (a number of neurons), got {n!r}.")
    return int(n)


def _rng(key: PRNGKeyArray) -> np.random.Generator:
    if isinstance(key, (int, np.integer)):
        raise TypeError("pass a jax.random key (jax.random.key(seed)), not an int seed.")
    data = np.asarray(jax.random.key_data(key)).astype(np.uint64).ravel()
    return np.random.default_rng([int(d) for d in data])


def _distinct(rng, n: int, counts: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
    """Row r: `counts[r]` distinct targets drawn uniformly from `range(n)` (minus
    `exclude[r]` if given), sorted, padded with `n` to the largest count. Int32 (`n` is
    a population size) and updated in place: at 10⁵ neurons with p = 0.02 a projection's
    table is 1.4·10⁸ entries, and each int64 temporary cost 1.1 GB (the whole network's
    build peaked at 4.3 GB; the same draws, the same tables)."""
    rows = counts.shape[0]
    n_eff = n - (exclude is not None)
    if np.any(counts > n_eff):
        raise ValueError(f"cannot draw {counts.max()} distinct targets from {n_eff}.")
    k = int(counts.max()) if rows else 0
    index = np.int32 if n < np.iinfo(np.int32).max else np.int64
    if k == 0:
        return np.full((rows, 0), n, dtype=index)
    invalid = np.arange(k)[None, :] >= counts[:, None]
    if 2 * k > n_eff:
        # Dense rows: a random permutation per row is cheaper than rejection.
        out = np.argsort(rng.random((rows, n_eff)), axis=1)[:, :k].astype(index)
    else:
        # Sample with replacement and redraw duplicates until every row is distinct: by
        # symmetry the resulting set is uniform over k-subsets; expected rounds are few
        # for k << n.
        out = rng.integers(0, n_eff, size=(rows, k))
        while True:
            out[invalid] = n_eff
            out.sort(axis=1)
            dup = np.zeros_like(invalid)
            dup[:, 1:] = (out[:, 1:] == out[:, :-1]) & ~invalid[:, 1:]
            if not dup.any():
                break
            out[dup] = rng.integers(0, n_eff, size=int(dup.sum()))
            del dup
        out = out.astype(index)
    if exclude is not None:
        out += out >= exclude[:, None]  # skip the excluded index (no autapse)
    out[invalid] = n
    out.sort(axis=1)
    return out


def _check_autapses(autapses, n_pre, n_post):
    if not autapses and n_pre != n_post:
        raise ValueError(
            f"autapses=False needs a projection of a population onto itself (n_pre == n_post); "
            f"got n_pre={n_pre}, n_post={n_post}."
        )


def fixed_probability(
    key: PRNGKeyArray,
    n_pre: int,
    n_post: int,
    p: float | int,
    weight=1.0,
    *,
    autapses: bool = True,
    chunk: int | None = None,
) -> Sparse:
    """Each pair (i, k) connected independently with probability `p` (Erdős–Rényi), as
    Brian2's `connect(p=...)`. `autapses=False` excludes i → i (same population).

    Drawn as a Binomial fan-out per presynaptic neuron and a uniform subset of that size —
    the same distribution as independent Bernoulli pairs, in O(synapses) time and memory.
    """
    n_pre, n_post = _check_size("n_pre", n_pre), _check_size("n_post", n_post)
    if (
        isinstance(p, (bool, str, bytes))
        or isinstance(p, jax.core.Tracer)
        or np.ndim(p) != 0
        or not 0.0 <= float(p) <= 1.0
    ):
        raise ValueError(
            f"connection probability p must be a number in [0, 1] (concrete, not traced), "
            f"got {p!r}."
        )
    _check_autapses(autapses, n_pre, n_post)
    rng = _rng(key)
    n_eff = n_post - (not autapses)
    counts = rng.binomial(n_eff, float(p), size=n_pre)
    exclude = None if autapses else np.arange(n_pre)
    post = _distinct(rng, n_post, counts, exclude)
    return Sparse(
        post, _pair_weights(weight, post, n_pre, n_post, "fixed_probability"), n_post, chunk
    )


def _check_degree(name: str, k, limit: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= limit:
        raise ValueError(f"{name} k must be an int in [0, {limit}], got {k!r}.")


def fixed_out_degree(
    key: PRNGKeyArray,
    n_pre: int,
    n_post: int,
    k: int,
    weight=1.0,
    *,
    autapses: bool = True,
    chunk: int | None = None,
) -> Sparse:
    """Each presynaptic neuron projects to exactly `k` distinct postsynaptic neurons."""
    n_pre, n_post = _check_size("n_pre", n_pre), _check_size("n_post", n_post)
    _check_autapses(autapses, n_pre, n_post)
    _check_degree("out-degree", k, n_post - (not autapses))
    rng = _rng(key)
    exclude = None if autapses else np.arange(n_pre)
    post = _distinct(rng, n_post, np.full(n_pre, k), exclude)
    return Sparse(
        post, _pair_weights(weight, post, n_pre, n_post, "fixed_out_degree"), n_post, chunk
    )


def fixed_in_degree(
    key: PRNGKeyArray,
    n_pre: int,
    n_post: int,
    k: int,
    weight=1.0,
    *,
    autapses: bool = True,
    chunk: int | None = None,
) -> Sparse:
    """Each postsynaptic neuron receives exactly `k` synapses from distinct presynaptic
    neurons (Brunel 2000's C_E, C_I)."""
    n_pre, n_post = _check_size("n_pre", n_pre), _check_size("n_post", n_post)
    _check_autapses(autapses, n_pre, n_post)
    _check_degree("in-degree", k, n_pre - (not autapses))
    rng = _rng(key)
    exclude = None if autapses else np.arange(n_post)
    pre = _distinct(rng, n_pre, np.full(n_post, k), exclude)  # (n_post, k) sources
    post_idx = np.repeat(np.arange(n_post), k)
    rows = _rows_from_pairs(pre.ravel(), post_idx, n_pre, n_post)
    return Sparse(
        rows, _pair_weights(weight, rows, n_pre, n_post, "fixed_in_degree"), n_post, chunk
    )


def _indices(name: str, x) -> np.ndarray:
    """Neuron indices as int64: whole numbers only (1.7 was truncated to 1, True read as
    1 without a word)."""
    a = np.asarray(x)
    if a.dtype == bool or not (a.size == 0 or np.issubdtype(a.dtype, np.number)):
        raise TypeError(f"from_pairs: {name} must be neuron indices (ints), got dtype {a.dtype}.")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if np.iscomplexobj(a) or not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            bad = a[~np.isfinite(a) | (a != np.round(a))].ravel()[:3].tolist()
            raise ValueError(f"from_pairs: {name} must be whole neuron indices, got {bad}.")
    return a.astype(np.int64)


def from_pairs(
    pre, post, n_pre: int, n_post: int, weight=1.0, *, chunk: int | None = None
) -> Sparse:
    """Sparse connectivity from explicit lists of synapses `pre[s] → post[s]` (with one
    weight per synapse, or a scalar). Weights follow the (stable) order by `pre`."""
    pre, post = _indices("pre", pre), _indices("post", post)
    if pre.shape != post.shape or pre.ndim != 1:
        raise ValueError(
            f"pre and post must be 1-d and the same length, got {pre.shape}, {post.shape}."
        )
    n_pre, n_post = _check_size("n_pre", n_pre), _check_size("n_post", n_post)
    if pre.size and (pre.min() < 0 or pre.max() >= n_pre or post.min() < 0 or post.max() >= n_post):
        raise ValueError(
            f"indices out of range: pre must be in [0, {n_pre}), post in [0, {n_post})."
        )
    rows, order = _rows_from_pairs(pre, post, n_pre, n_post, return_order=True)
    weight = _as_weight(weight)
    if jnp.ndim(weight) > 1 or jnp.shape(weight) not in ((), (1,), pre.shape):
        raise ValueError(
            f"from_pairs: weight must be a scalar or one value per synapse {pre.shape}, got "
            f"shape {jnp.shape(weight)}."
        )
    # jnp, not np: weights may be traced (differentiated through the construction).
    w = jnp.broadcast_to(jnp.asarray(weight, jnp.result_type(float)), pre.shape)[order]
    # Row-major order of the filled slots is the stable order by `pre`, as `w`.
    wrows = jnp.zeros(rows.shape, w.dtype).at[np.nonzero(rows < n_post)].set(w)
    return Sparse(rows, wrows, n_post, chunk)


def _rows_from_pairs(pre, post, n_pre, n_post, return_order=False):
    order = np.argsort(pre, kind="stable")
    pre_s, post_s = pre[order], post[order]
    counts = np.bincount(pre_s, minlength=n_pre)
    k = int(counts.max()) if counts.size else 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(pre_s.size) - starts[pre_s]
    rows = np.full((n_pre, k), n_post, dtype=np.int64)
    rows[pre_s, slot] = post_s
    return (rows, order) if return_order else rows


def one_to_one(n: int, weight=1.0) -> OneToOne:
    """Neuron i → neuron i."""
    return OneToOne(n, weight)


def dense(n_pre: int, n_post: int, weight=1.0) -> Dense:
    """All-to-all: every presynaptic neuron onto every postsynaptic one (weight a scalar or
    an array broadcastable to `(n_pre, n_post)`)."""
    n_pre, n_post = _check_size("n_pre", n_pre), _check_size("n_post", n_post)
    weight = _as_weight(weight)
    try:
        np.broadcast_shapes(jnp.shape(weight), (n_pre, n_post))
    except ValueError:
        raise ValueError(
            f"dense: weight must be a scalar or broadcastable to (n_pre, n_post) = ({n_pre}, "
            f"{n_post}), got shape {jnp.shape(weight)}."
        ) from None
    return Dense(
        jnp.broadcast_to(jnp.asarray(weight, jnp.result_type(float)), (n_pre, n_post)) + 0.0
    )
