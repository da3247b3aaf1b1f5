"""Populations, projections and random drives: the parts a `Network` is built from."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._model import (
    NON_NEGATIVE,
    AbstractModel,
    Elementwise,
    check_domains,
    check_precision,
    parameter,
)
from ..cable._reduced import ReducedCell
from ..synapses import AbstractSynapse, TsodyksMarkram
from ._connectivity import AbstractConnectivity


def compartments_of(neuron) -> tuple[str, ...] | None:
    """The compartment names of a multi-compartment population's neuron (a
    `neurojax.cable.ReducedCell`), or `None` for a point neuron."""
    return neuron.names if isinstance(neuron, ReducedCell) else None


def _as_tuple(site):
    """A list site `[branch, x]` as a (hashable) tuple; anything else as given."""
    return tuple(site) if isinstance(site, list) else site


def _check_compartment(compartment, what):
    if compartment is not None and not isinstance(compartment, str):
        raise TypeError(
            f"{what}.compartment must be a compartment name (str) or None, got {compartment!r}."
        )


class Population(eqx.Module):
    """`size` neurons of one model: any point neuron of `neurojax.neurons` (parameters
    scalars or arrays of shape `(size,)`), a `SpikeSource`, a Dendrify-style
    `neurojax.cable.ReducedCell` (a few compartments per neuron; projections and drives
    name the compartment they target, `compartment="distal"`, the soma by default), or a
    morphologically detailed `neurojax.cable.Cell` (`size` cells of that morphology;
    projections and drives name the site `(branch, x)` their synapses sit at).

    `dspikes=True` (ReducedCell populations only) also returns the dendritic spikes as
    the network's event `"<name>.dspikes"`, shaped `(size, n_compartments)` per step.

    `Cell` populations only: `threshold` (mV, default −10, NEURON's `NetCon`) and
    `spike_site` (`(branch, x)`, default `(0, 0.5)`, the soma's centre when branch 0 is
    the soma): a cell spikes in a step whose end voltage at `spike_site` is above
    `threshold` while it was not at the end of the previous step (an upward crossing,
    NEURON's rule)."""

    neuron: AbstractModel
    size: int = eqx.field(static=True)
    dspikes: bool = eqx.field(static=True, default=False)
    threshold: float | None = eqx.field(static=True, default=None)
    spike_site: tuple | None = eqx.field(static=True, default=None, converter=_as_tuple)

    def __check_init__(self):
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, (int, np.integer))
            or self.size < 1
        ):
            raise ValueError(f"Population size must be a positive int, got {self.size!r}.")
        if not isinstance(self.neuron, AbstractModel):
            raise TypeError(
                f"Population needs a neurojax neuron model, got {type(self.neuron).__name__}."
            )
        if not isinstance(self.dspikes, (bool, np.bool_)):
            raise TypeError(
                f"Population dspikes must be True or False, got {self.dspikes!r} "
                "(a string or number would be read by its truth value)."
            )
        if self.dspikes and compartments_of(self.neuron) is None:
            raise ValueError(
                f"Population(dspikes=True) records dendritic spikes, which only a "
                f"neurojax.cable.ReducedCell has; {type(self.neuron).__name__} has none."
            )
        from ._cells import is_cell

        cell = is_cell(self.neuron)
        if not cell and (self.threshold is not None or self.spike_site is not None):
            raise ValueError(
                "Population threshold= and spike_site= set where a morphologically detailed "
                "neurojax.cable.Cell detects its spikes; "
                f"{type(self.neuron).__name__} has its own spike rule: leave them None."
            )
        if self.threshold is not None:
            t = self.threshold
            if isinstance(t, (bool, str, bytes)) or np.ndim(t) != 0 or not np.isfinite(t):
                raise ValueError(f"Population threshold must be a finite voltage in mV, got {t!r}.")
        if cell:
            from ._cells import site_node

            site_node(self.neuron, self.spike_site or (0, 0.5), "Population spike_site")
        if (
            compartments_of(self.neuron) is None
            and not cell
            and not isinstance(type(self.neuron).structure, Elementwise)
        ):
            raise TypeError(
                f"Population neurons must be point neurons (one state per neuron, coupled "
                "only through spikes) or Dendrify-style ReducedCells; "
                f"{type(self.neuron).__name__} is neither (its structure is "
                f"{type(type(self.neuron).structure).__name__}). "
                "Use a neuron of neurojax.neurons or a neurojax.cable.ReducedCell, or "
                "simulate this model on its own."
            )
        check_precision(self.neuron, f"Population({type(self.neuron).__name__})")
        if compartments_of(self.neuron) is None and not cell:
            _check_population_shapes(self.neuron, self.size)
        elif not cell:  # a ReducedCell: per-compartment and soma parameter shapes
            self.neuron.check_population(self.size, f"Population of {self.size} ReducedCells")


def _check_population_shapes(neuron, size: int) -> None:
    """A point neuron's parameters must be scalars or one per neuron, `(size,)`: another
    shape (4 values for 3 neurons) was accepted here and failed in `simulate` blaming
    the inputs' batch shape."""
    from .._model import parameter_domains

    for name, value, _ in parameter_domains(neuron):
        shape = tuple(np.shape(value))
        if shape not in ((), (1,), (size,)):
            raise ValueError(
                f"Population of {size} {type(neuron).__name__}: .{name} has shape {shape}; "
                f"a population's parameters are scalars or one per neuron, shape ({size},)."
            )


class Projection(eqx.Module):
    """Synapses from population `pre` onto population `post`, in BrainPy's order
    pre spikes → short-term plasticity (optional) → delay → connectivity → synapse → post.

    - `connectivity`: an `AbstractConnectivity` (`Sparse`, `Dense`, `OneToOne`) of shape
      `(size of pre, size of post)`; its weights are the trainable synaptic weights.
    - `synapse`: the postsynaptic kinetics (`neurojax.synapses`), one lumped state per
      postsynaptic neuron per projection.
    - `delay`: conduction delay, ms. A number: the same for every synapse, which must be 0
      (delivered at the end of the step of the spike, as Brian2 without delay) or a
      multiple of `dt` (an error otherwise). An array shaped like `connectivity.post`
      (`Sparse` only): per-synapse delays, rounded to the nearest step.
    - `stp`: optional `TsodyksMarkram` short-term plasticity of the presynaptic release.
    - `compartment`: where the synapses sit when `post` is a population of
      `neurojax.cable.ReducedCell`s — a compartment name (`"distal"`); `None` (default)
      is the soma. The synapse's current is driven by, and flows into, that
      compartment's voltage (Dendrify's `dendrite.synapse(...)`). For point neurons it
      must stay `None`.
    - `site`: where the synapses sit when `post` is a population of
      `neurojax.cable.Cell`s — `(branch, x)`, NEURON's `ExpSyn(sec(x))` (the node NEURON
      uses for it, `Cell.node`); default `(0, 0.5)`. The current `g·(e_rev − V)` at that
      node enters the cell's implicit voltage solve. Only for `Cell` populations.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    connectivity: AbstractConnectivity
    synapse: AbstractSynapse
    # Not static (arrays are unhashable); the Network turns it into whole steps when built.
    delay: float | ArrayLike = 0.0
    stp: TsodyksMarkram | None = None
    compartment: str | None = eqx.field(static=True, default=None)
    site: tuple | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        pre: str,
        post: str,
        connectivity: AbstractConnectivity,
        synapse: AbstractSynapse,
        delay: float | ArrayLike = 0.0,
        stp: TsodyksMarkram | None = None,
        *,
        compartment: str | None = None,
        site: tuple | None = None,
    ):
        _check_compartment(compartment, f"Projection {pre} → {post}")
        site = _check_site(site, f"Projection {pre} → {post}")
        for end, name in (("pre", pre), ("post", post)):
            if not isinstance(name, str):
                raise TypeError(f"Projection {end} must be a population name (str), got {name!r}.")
        if not isinstance(connectivity, AbstractConnectivity):
            raise TypeError(
                "Projection.connectivity must be a connectivity such as "
                "neurojax.network.fixed_probability(key, n_pre, n_post, p, weight), got "
                f"{type(connectivity).__name__}."
            )
        if not isinstance(synapse, AbstractSynapse):
            raise TypeError(
                "Projection.synapse must be a neurojax.synapses model, got "
                f"{type(synapse).__name__}."
            )
        if stp is not None and not isinstance(stp, TsodyksMarkram):
            raise TypeError(
                f"Projection.stp must be a neurojax.synapses.TsodyksMarkram or None, got {stp!r}."
            )
        if isinstance(delay, (bool, str, bytes)) or delay is None:
            raise TypeError(
                f"Projection.delay must be a number of ms (or an array), got {delay!r}."
            )
        if isinstance(delay, jax.core.Tracer):
            raise TypeError(
                "Projection.delay must be concrete (not traced under jit/grad): delays are whole "
                "numbers of steps that size the network's buffers."
            )
        if np.asarray(delay).dtype.kind not in "iuf":  # complex, bool arrays, strings
            raise TypeError(
                f"Projection {pre} → {post}: delay must be a real number of ms (or an array "
                f"of them), got {delay!r}."
            )
        if synapse.conductance_based:
            connectivity = _nonnegative_weights(connectivity, synapse, f"{pre} → {post}")
        self.pre, self.post = pre, post
        self.connectivity, self.synapse = connectivity, synapse
        self.delay, self.stp = delay, stp
        self.compartment = compartment
        self.site = site


def _check_site(site, what):
    """`site` as a hashable `(branch, x)` tuple, or `None`; the cell checks that it is on
    its morphology when the network is built."""
    if site is None:
        return None
    if isinstance(site, (str, bytes)) or not hasattr(site, "__len__") or len(site) != 2:
        raise ValueError(
            f"{what}: site must be (branch, x) — a branch index and a position 0 <= x <= 1 "
            f"along it, e.g. (1, 0.5); got {site!r}."
        )
    b, x = site
    if isinstance(b, (bool, str, bytes)) or isinstance(x, (bool, str, bytes)):
        raise TypeError(f"{what}: site must be two numbers (branch, x), got {site!r}.")
    if np.ndim(b) or np.ndim(x):
        raise TypeError(f"{what}: site must be two numbers (branch, x), got {site!r}.")
    return (int(b) if float(b) == int(b) else float(b), float(x))


def _sign_message(synapse, where) -> str:
    return (
        f"projection {where}: {type(synapse).__name__} is conductance-based (e_rev = "
        "its reversal potential), so its weights are conductances or transmitter amounts "
        ">= 0; got a negative weight. For inhibition use a synapse with an inhibitory "
        "reversal potential (e.g. Exponential(e_rev=-80.0)) and positive weights."
    )


def _nonnegative_weights(conn, synapse, where):
    """Concrete weights: checked now. Traced ones (built inside jit/grad): tied to a
    run-time `eqx.error_if`, so a negative conductance never reaches a simulation."""
    w = getattr(conn, "weight", None)
    if w is None:
        return conn
    if isinstance(w, jax.core.Tracer):
        w = eqx.error_if(w, jnp.any(w < 0), _sign_message(synapse, where))
        return eqx.tree_at(lambda c: c.weight, conn, w)
    if np.any(np.asarray(w) < 0):
        raise ValueError(_sign_message(synapse, where))
    return conn


class PoissonDrive(eqx.Module):
    """External Poisson input onto population `target`: each neuron receives `n_sources`
    independent Poisson spike trains of `rate` Hz through `synapse` with weight `weight`.

    Sampled inside each step from the step's key (`simulate(..., key=key)`): the number of
    input spikes a neuron gets in a step is Poisson with mean `n_sources·rate·dt`
    (exact for the sum of independent Poisson trains). `rate` is a trainable parameter
    (≥ 0 Hz; its sampled spikes carry no gradient); `weight` in the synapse's unit.
    `compartment`: the compartment of a `ReducedCell` target that receives it (`None`:
    the soma), as for `Projection`; `site`: the `(branch, x)` of a `Cell` target."""

    target: str = eqx.field(static=True)
    synapse: AbstractSynapse
    rate: Array = parameter(10.0, NON_NEGATIVE)
    weight: Array = parameter(1.0)
    n_sources: int = eqx.field(static=True, default=1)
    compartment: str | None = eqx.field(static=True, default=None)
    site: tuple | None = eqx.field(static=True, default=None, converter=_as_tuple)

    def __check_init__(self):
        check_domains(self)
        _check_compartment(self.compartment, f"PoissonDrive onto {self.target}")
        _check_site(self.site, f"PoissonDrive onto {self.target}")
        if not isinstance(self.synapse, AbstractSynapse):
            raise TypeError(
                f"PoissonDrive.synapse must be a neurojax.synapses model, got {self.synapse!r}."
            )
        w = self.weight
        if self.synapse.conductance_based and not isinstance(w, jax.core.Tracer):
            if np.any(np.asarray(w) < 0):
                raise ValueError(_sign_message(self.synapse, f"drive onto {self.target}"))
        if (
            isinstance(self.n_sources, bool)
            or not isinstance(self.n_sources, (int, np.integer))
            or self.n_sources < 1
        ):
            raise ValueError(
                f"PoissonDrive n_sources must be a positive int, got {self.n_sources!r}."
            )

    def sample(self, key, shape, dt) -> Array:
        """Weighted input of one step: `weight × Poisson(n_sources·rate·dt)` per neuron,
        independent across neurons and steps (`pooled_poisson_counts` when the rate is
        one number: the same distribution from ~20x fewer random numbers)."""
        lam = jax.lax.stop_gradient(self.n_sources * self.rate * dt * 1e-3)  # Hz·ms → count
        if jnp.ndim(lam) == 0 and len(shape) == 1:  # one rate for the whole population
            counts = pooled_poisson_counts(key, lam, shape[0])
        else:
            counts = poisson_counts(key, lam, shape)
        # (a weight traced by the caller is checked once per run: `Network.check_call`)
        return self.weight * counts.astype(jnp.result_type(lam.dtype, self.weight.dtype))


def _inverse_cdf(key, lam, shape):
    """Poisson counts by inversion of one uniform per element: count = #{k : u > F(k)},
    with F summed term by term until every element is placed. Exact up to the uniform's
    resolution (2⁻²³ in float32: tails below ~1e-7 are cut). For λ < 10 only.

    F summed in float32 can stop short of the largest uniforms (1 − 2⁻²³ and a few below:
    for 1.5 % of λ in (0, 10) its terms fall below half its last bit first), and such a
    `u` was never placed: the loop ran to its cap and returned 1000 events (~1 draw in 10⁷
    at those λ; session-15 probes). The loop now stops at `k_max`, the largest of the
    elements' `⌊λ + 9√λ + 10⌋`, and each count is capped at its own: a count no uniform
    reaches otherwise (the largest a float64 uniform, 1 − 2⁻⁵³, can reach is 2 below it
    for every λ < 10), so below such a `u` the counts are the same as before, bit for bit,
    and such a `u` gets that far-tail count. (Placing it where F stops growing instead
    cost 10–20 % per draw, `benchmarks/exp_inverse_cdf_s15.py`.)"""
    lam = jnp.broadcast_to(lam, shape)
    u = jax.random.uniform(key, shape, lam.dtype)
    # NaN or negative λ (refused upstream): the former cap of 1000, and counts of 0
    cap = jnp.nan_to_num(jnp.floor(lam + 9 * jnp.sqrt(lam) + 10), nan=1000.0)
    cap = jnp.minimum(cap, 1000.0).astype(jnp.int32)
    k_max = jnp.max(cap, initial=0)  # (an empty draw: no loop)

    def cond(c):
        k, _, cdf, _ = c
        return jnp.any(u > cdf) & (k < k_max)

    def body(c):
        k, p, cdf, count = c
        count = count + (u > cdf)
        k = k + 1
        p = p * lam / k
        return k, p, cdf + p, count

    p0 = jnp.exp(-lam)
    count = jax.lax.while_loop(cond, body, (0, p0, p0, jnp.zeros(shape, jnp.int32)))[3]
    return jnp.minimum(count, cap)


def poisson_counts(key, lam, shape):
    """Poisson(λ) samples of `shape` (λ ≥ 0, scalar or broadcastable).

    Why not `jax.random.poisson` alone: it evaluates both of its algorithms for every
    element and loops Knuth's method with a fresh uniform array per iteration; for the
    small per-step means of network drives (λ ~ 0.01–5) one uniform and an inverse CDF
    is ~10x cheaper (Brunel 2000 drives: 16 s → see benchmarks). For λ ≥ 10 it is used."""
    lam = jnp.asarray(lam)
    if lam.ndim == 0:
        return jax.lax.cond(
            lam < 10,
            lambda: _inverse_cdf(key, lam, shape),
            lambda: jax.random.poisson(key, lam, shape).astype(jnp.int32),
        )
    small = jnp.all(lam < 10)
    return jax.lax.cond(
        small,
        lambda: _inverse_cdf(key, jnp.minimum(lam, 10.0), shape),
        lambda: jax.random.poisson(key, jnp.broadcast_to(lam, shape), shape).astype(jnp.int32),
    )


def _chunk(n: int) -> int:
    """Indices drawn per round by the former pooled draw (`POOLED = "randint"`): ~n/8, a
    power of two in [16, 4096]."""
    return int(min(4096, max(16, 1 << max(int(np.ceil(np.log2(max(n // 8, 1)))), 0))))


def _scattered_counts(key, lam, n: int, chunk: int):
    """The former pooled draw (`POOLED = "randint"`, kept to measure against): `K ~
    Poisson(n·λ)`, then `K` neurons by `jax.random.randint` (two random words each) in
    rounds of `chunk`."""
    k_total, k_where = jax.random.split(key)
    total = poisson_counts(k_total, lam * n, ())  # events in the population this step

    def round_(r, counts):
        idx = jax.random.randint(jax.random.fold_in(k_where, r), (chunk,), 0, n)

        def one(j, c):
            t = idx[j]
            return jax.lax.dynamic_update_index_in_dim(c, c[t] + 1, t, 0)

        return jax.lax.fori_loop(0, jnp.minimum(total - r * chunk, chunk), one, counts)

    n_rounds = (total + chunk - 1) // chunk
    return jax.lax.fori_loop(0, n_rounds, round_, jnp.zeros((n,), jnp.int32))


def _pow2_bits(n: int) -> int:
    """`m` with `2^m >= n` (at least 1): the pooled draw's virtual population is `2^m`."""
    return max(1, (int(n) - 1).bit_length())


def _pow2_chunk(n: int) -> int:
    """Indices drawn per round by the pooled draw: `2^m / 16` (a power of two in [16,
    4096]): one round for up to 1/16 events per neuron and step (the dendritic
    benchmark's 0.05), a few up to `POOLED_MAX_MEAN`; each round costs its `chunk`
    random words whether or not they are used."""
    return int(min(4096, max(16, (1 << _pow2_bits(n)) // 16)))


def _random_words(key, n: int):
    """`n` random uint32 words from `key`: for a threefry key, the hash of the counters
    `0 … n−1` taken two words per Threefry-2x32 block (`jax.extend.random.threefry_2x32`,
    JAX's original `random_bits`), half the hashing of `jax.random.bits` (whose
    partitionable form hashes one block per word and keeps the XOR of its two halves);
    for other key implementations, `jax.random.bits`."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        impl, data = str(jax.random.key_impl(key)), jax.random.key_data(key)
    else:  # a raw uint32 key (`jax.random.PRNGKey`): the default implementation's
        impl, data = jax.config.jax_default_prng_impl, key
    if WORDS == "pairs" and impl == "threefry2x32" and data.shape == (2,):
        from jax.extend.random import threefry_2x32

        return threefry_2x32(data, jnp.arange(n, dtype=jnp.uint32))
    return jax.random.bits(key, (n,), jnp.uint32)


# The pooled draw's random words: "pairs" (`_random_words`: both words of each threefry
# block) or "bits" (`jax.random.bits`, the former stream; kept to measure against).
# Measured in the 10⁴-neuron dendritic network, in one process, 8 interleaved rounds
# (CPU time, load 7–9): 0.0510 → 0.0479 ms per step (medians; docs/dendritic.md).
WORDS = "pairs"


def _pow2_counts(key, lam, n: int):
    """Poisson(λ) counts of `n` neurons as the events of a virtual population of `2^m ≥
    n` neurons (`_pow2_bits`): `K ~ Poisson(2^m·λ)` events, each at a neuron given by the
    top `m` bits of one random word (exactly uniform on `[0, 2^m)`: no modulo bias, no
    rejection; with `HALVES` and `m <= 16`, the top `m` bits of each 16-bit half of a
    word), each adding one to its count; the counts of the `2^m − n` virtual
    neurons are dropped. Exact in distribution: a Poisson number of events placed
    uniformly gives independent Poisson(λ) counts per neuron (Poisson splitting), and
    dropping some neurons leaves the others' counts unchanged."""
    m = _pow2_bits(n)
    size, chunk = 1 << m, _pow2_chunk(n)
    k_total, k_where = jax.random.split(key)
    total = poisson_counts(k_total, lam * size, ())

    def round_(r, counts):
        if HALVES and m <= 16:  # two events per word: its high and its low 16 bits
            bits = _random_words(jax.random.fold_in(k_where, r), chunk // 2)
            hi = bits >> jnp.uint32(32 - m)
            lo = (bits & jnp.uint32(0xFFFF)) >> jnp.uint32(16 - m)
            idx = jnp.concatenate([hi, lo]).astype(jnp.int32)
        else:
            bits = _random_words(jax.random.fold_in(k_where, r), chunk)
            idx = (bits >> jnp.uint32(32 - m)).astype(jnp.int32)

        # One event at a time in a scalar loop: XLA:CPU compiles a small loop into one
        # function, where a scatter of the `chunk` indices ran through its generic
        # kernel (measured 5.9 against 14.3 µs per step at n = 8000, λ = 0.05).
        def one(j, c):
            t = idx[j]
            return jax.lax.dynamic_update_index_in_dim(c, c[t] + 1, t, 0)

        return jax.lax.fori_loop(0, jnp.minimum(total - r * chunk, chunk), one, counts)

    n_rounds = (total + chunk - 1) // chunk
    counts = jax.lax.fori_loop(0, n_rounds, round_, jnp.zeros((size,), jnp.int32))
    return counts[:n]


# Two events per random word where the virtual population has at most 2^16 neurons
# (`_pow2_counts`): the top `m` bits of each 16-bit half of a word, each exactly uniform
# on `[0, 2^m)` and independent of the other half (the words are threefry hashes), so
# the draw keeps its distribution from half the hashing (session 14: the 8000-neuron
# drive's draw 3.2 → 2.7 µs per step, the 2000-neuron one's 1.4 → 1.3, a micro-benchmark
# of the draw alone, 7 interleaved rounds, CPU time; benchmarks/README.md "Dendritic
# networks"). False: one event per word (the draw before session 14; kept to measure against).
HALVES = True
# The pooled draw: "pow2" (default, `_pow2_counts`) or "randint" (the former one, with
# its own size and mean limits; kept to measure against, benchmarks/profile_dendritic_step.py).
POOLED = "pow2"
# `pooled_poisson_counts` draws per event rather than per neuron where that is cheaper:
# at most this mean count per neuron and step (decided at run time: the rate may be
# traced), and for at least this many neurons (below, the fixed cost of drawing the
# total and looping is more than one uniform per neuron). Measured per step against
# `poisson_counts` (CPU time, XLA:CPU, shared 2-core VM): pooled 1.7–4× cheaper at
# n = 256–1024 and λ ≤ 0.125, 2.3× at n = 8000, λ = 0.5, but 0.75× at n = 256, λ = 0.5
# and 0.5–0.8× at λ = 1 below n = 2000 (docs/dendritic.md, "Performance").
POOLED_MAX_MEAN = 1.0 / 2
POOLED_MIN_SIZE = 512
# the former draw's limits (`POOLED = "randint"`)
_RANDINT_MAX_MEAN = 1.0 / 8
_RANDINT_MIN_SIZE = 4096


def pooled_poisson_counts(key, lam, n: int):
    """`n` independent Poisson(λ) counts (λ ≥ 0 a scalar), drawn as their total and where
    each event falls (`_pow2_counts`): `K ~ Poisson(2^m·λ)` events over a virtual
    population of `2^m ≥ n` neurons, each at the neuron given by `m` random bits, the
    virtual neurons' counts dropped.

    Exact in distribution, not an approximation: for independent `X_i ~ Poisson(λ)`,
    `Σ X_i ~ Poisson(Nλ)` and, given the sum `K`, `(X_1, …, X_N)` is multinomial
    `(K; 1/N, …, 1/N)` — which is what the uniform draws give (Poisson splitting).
    `tests/test_network_drive_sampling.py` checks it against `poisson_counts` and the
    Poisson pmf (χ²).

    Why: a network's drives are small means per step (100 sources at 5 Hz, dt 0.1 ms:
    λ = 0.05), where one uniform per neuron (`poisson_counts`) costs ~8 ns per neuron on
    XLA:CPU, nearly all of it the counter-based RNG (threefry); this draws ~λ random
    words per neuron. Used for `n >= POOLED_MIN_SIZE` and `λ <= POOLED_MAX_MEAN`
    (otherwise `poisson_counts`, the same distribution; decided at run time, since the
    rate may be traced)."""
    lam = jnp.asarray(lam)
    if POOLED == "randint":
        if n < _RANDINT_MIN_SIZE:
            return poisson_counts(key, lam, (n,))
        return jax.lax.cond(
            lam <= _RANDINT_MAX_MEAN,
            lambda: _scattered_counts(key, lam, n, _chunk(n)),
            lambda: poisson_counts(key, lam, (n,)),
        )
    if n < POOLED_MIN_SIZE:
        return poisson_counts(key, lam, (n,))
    return jax.lax.cond(
        lam <= POOLED_MAX_MEAN,
        lambda: _pow2_counts(key, lam, n),
        lambda: poisson_counts(key, lam, (n,)),
    )
