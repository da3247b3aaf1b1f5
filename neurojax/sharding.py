"""Populations and parameter sweeps over several devices (`jax.sharding`).

A population of point neurons is embarrassingly parallel: neuron `i` only ever reads
element `i` of every parameter, input and state array (`Elementwise`). Placing those
arrays on several devices, each holding a contiguous slice of the neuron axis, and
calling `simulate` under `jax.jit` makes XLA run the same program on every device, each
on its own neurons (SPMD), with no communication inside the time loop. The results are
those of the unsharded run, element for element (`tests/test_sharding.py` compares
populations bit for bit on 4 CPU devices). A `sweep` whose slice per device is narrower
than a vector register (2 parameter sets per device against 16 float32 lanes with 512-bit
vectors) may round an `exp` differently in the last bit from the one-device `vmap`: 1 ulp
seen, spike counts identical.

**On one machine with several GPUs** (or TPU cores)::

    import jax, neurojax as nj
    from neurojax.sharding import shard_population, sweep

    model = nj.HodgkinHuxley(e_l=e_l)               # e_l: (N,) mV, N divisible by the
    inputs = jnp.full((n_steps,), 10.0)              # device count (or pad=True)
    model, inputs = shard_population(model, inputs)  # every device of jax.devices()
    sol = nj.simulate(model, inputs, dt=0.025, saveat=nj.SaveAt(every=100))
    # sol.v: (n_saved, N), split over N like the inputs; or inside your own jit:
    run = jax.jit(lambda m, x: nj.simulate(m, x, dt=0.025, throw=False))

    # a parameter sweep: fn maps one parameter set to a result; S sets over the devices
    def rate(g_na):                                  # g_na: mS/cm²
        sol = nj.simulate(nj.HodgkinHuxley(g_na=g_na), inputs, dt=0.025)
        return sol.spikes.sum() / (n_steps * 0.025e-3)   # Hz
    rates = sweep(rate, jnp.linspace(80.0, 160.0, S))   # (S,), sharded over S

Called eagerly, `simulate` compiles once (cached) and checks the concrete result for
NaN/inf. Inside your own `jax.jit`, pass `throw=False`: its traced check
(`eqx.error_if` on every output) makes XLA's SPMD partitioner gather the outputs onto one
device ("involuntary full rematerialization") and return them replicated.

`mesh=` takes any `jax.sharding.Mesh` (default: a 1-d mesh of all `jax.devices()`,
`device_mesh()`); with a mesh of several axes the population is split over all of them.
To test sharding without several devices, start Python with
`XLA_FLAGS=--xla_force_host_platform_device_count=4` (it must be set before JAX
initialises): the CPU then appears as 4 devices.

**On several hosts** (a GPU cluster, TPU pods), run the *same* script in one process per
host and call `jax.distributed.initialize()` first (with `coordinator_address`,
`num_processes`, `process_id` where the cluster manager does not provide them: SLURM and
Cloud TPU are detected automatically). `jax.devices()` then lists the devices of every
host, `device_mesh()` spans them all, and every process builds the same model and inputs
(e.g. from the same seed): `shard_population` and `sweep` then place on each host only
the slices that its devices own (`jax.make_array_from_callback`). Call `simulate`
inside `jax.jit` (with `throw=False`) there: its eager checks read concrete arrays, which a
process cannot do for devices of other hosts. The results are global
arrays of which each process holds its own devices' part; gather a small one with
`jax.experimental.multihost_utils.process_allgather`, or reduce it under `jit` first
(rates, losses). On CPUs (several processes on one machine, as
`tests/test_distributed.py` does), set `jax.config.update(
"jax_cpu_collectives_implementation", "gloo")` before `initialize` so that the gather
has collectives to use. Keep per-neuron outputs small (`SaveAt(every=...)`, `vars=`), as on one
device.

Which arrays are split: every array leaf of the model and of the inputs whose **last
axis is the population axis** (size `N`, the last axis of `model.population_shape`);
inputs shaped `(n_steps,)` (one current for everyone) and scalar parameters are
replicated. (An unrelated parameter whose last axis happens to have length `N` would be
split too; the results are still exact, only its placement differs.) Networks
(`neurojax.network`) couple neurons through their connectivity; they are not handled
here (sharding them needs a partitioning of the connectivity).

Population sizes must be divisible by the number of devices: otherwise a `ValueError`
names the nearest valid sizes, or `pad=True` appends copies of the last neuron
(parameter set) and warns; `sweep` removes its padding itself.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["device_mesh", "population_sharding", "shard_population", "sweep"]


def device_mesh(devices: Sequence[jax.Device] | None = None, axis_name: str = "neurons") -> Mesh:
    """A 1-d `Mesh` over `devices` (default: all of `jax.devices()`, every host's after
    `jax.distributed.initialize()`), with one axis named `axis_name`."""
    devices = list(jax.devices() if devices is None else devices)
    bad = [d for d in devices if not isinstance(d, jax.Device)]
    if bad:  # ["cpu"] was "'str' object has no attribute 'id'"
        raise TypeError(
            f"device_mesh: devices must be jax.Device objects (e.g. jax.devices()[:2]), got "
            f"{bad[0]!r}."
        )
    if not isinstance(axis_name, str):
        raise TypeError(f"device_mesh: axis_name must be a str, got {axis_name!r}.")
    if not devices:
        raise ValueError("device_mesh needs at least one device; got an empty list.")
    return Mesh(np.asarray(devices, dtype=object), (axis_name,))


def _mesh(mesh: Mesh | None) -> Mesh:
    if mesh is None:
        return device_mesh()
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"mesh must be a jax.sharding.Mesh, such as neurojax.sharding.device_mesh(); "
            f"got {mesh!r}."
        )
    return mesh


def _axes(mesh: Mesh):
    """The mesh axis (or axes, all of them) the population is split over."""
    names = tuple(mesh.axis_names)
    return names[0] if len(names) == 1 else names


def population_sharding(mesh: Mesh | None, ndim: int, axis: int = -1) -> NamedSharding:
    """The `NamedSharding` that splits axis `axis` of an `ndim`-d array over every device
    of `mesh` and replicates the other axes (`ndim = 0`: replicated)."""
    mesh = _mesh(mesh)
    if isinstance(ndim, (bool, np.bool_)) or not isinstance(ndim, (int, np.integer)) or ndim < 0:
        raise ValueError(
            f"population_sharding: ndim must be an int >= 0 (the array's number of axes), "
            f"got {ndim!r}."
        )
    if ndim == 0:
        return NamedSharding(mesh, PartitionSpec())
    if (
        isinstance(axis, (bool, np.bool_))
        or not isinstance(axis, (int, np.integer))
        or not -ndim <= axis < ndim
    ):  # a bare "list assignment index out of range" before
        raise ValueError(
            f"population_sharding: axis={axis!r} is not an axis of a {ndim}-d array; give "
            f"an int in [-{ndim}, {ndim})."
        )
    spec = [None] * ndim
    spec[axis] = _axes(mesh)
    return NamedSharding(mesh, PartitionSpec(*spec))


def _place(x, sharding: NamedSharding):
    """`x` on the devices of `sharding`: `device_put` in one process; with several
    processes (multi-host) each process passes only the slices its devices own, from
    its own copy of `x` (every process must build the same `x`)."""
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _divisible(n: int, d: int, what: str, pad: bool) -> int:
    """The padded size: `n` when `d` divides it; otherwise the next multiple of `d` if
    `pad`, else a ValueError that says what to do."""
    if not isinstance(pad, (bool, np.bool_)):  # pad="no" was truthy: padded
        raise TypeError(f"pad must be True or False, got {pad!r}.")
    if n % d == 0:
        return n
    if pad:
        return d * math.ceil(n / d)
    lower, upper = d * (n // d), d * math.ceil(n / d)
    options = f"{lower} or {upper}" if lower else f"{upper}"
    raise ValueError(
        f"{what} of size {n} cannot be split evenly over {d} devices: use a multiple of "
        f"{d} (e.g. {options}), a mesh with a number of devices that divides {n}, or "
        "pad=True to append copies of the last element (and ignore them in the results)."
    )


def _pad_last(x, n: int, m: int):
    """Append `m − n` copies of the last element along the last axis (edge padding keeps
    padded neurons' parameters inside their physical domains)."""
    if m == n:
        return x
    width = [(0, 0)] * (x.ndim - 1) + [(0, m - n)]
    return jnp.pad(x, width, mode="edge")


def shard_population(
    model: Any, inputs: Any, mesh: Mesh | None = None, *, pad: bool = False
) -> tuple[Any, Any]:
    """Place a population of point neurons and its inputs on the devices of `mesh`, split
    along the neuron axis; `simulate` under `jax.jit` then runs on every device at once.

    **Arguments**

    - `model`: a point-neuron population (`neurojax.AbstractNeuron`): parameters as
      scalars or arrays whose last axis is the population (e.g. `e_l` shaped `(N,)`, mV).
    - `inputs`: its input current, `(n_steps,)` (the same for every neuron: replicated)
      or `(n_steps, ..., N)` (per neuron: split along the last axis); µA/cm² for HH-type
      models, nA for integrate-and-fire ones. Stimuli objects are sampled first by
      `simulate`, so pass arrays here.
    - `mesh`: a `jax.sharding.Mesh` (default `device_mesh()`: all devices).
    - `pad`: when `N` is not divisible by the number of devices, append copies of the
      last neuron up to the next multiple (with a warning; results then have the padded
      size: keep `[..., :N]`). Default `False`: a `ValueError` saying what to do.

    **Returns** `(model, inputs)`: the same pytrees with every array leaf whose last axis
    is the population axis split over the devices and every other array leaf
    replicated.
    """
    from .neurons import AbstractNeuron

    if not isinstance(model, AbstractNeuron):
        raise TypeError(
            "shard_population splits populations of point neurons (a neurojax.AbstractNeuron "
            f"such as neurojax.HodgkinHuxley(e_l=...)); got {type(model).__name__}. For other "
            "models place each array yourself: jax.device_put(x, "
            "neurojax.sharding.population_sharding(mesh, x.ndim, axis)), then simulate "
            "under jax.jit."
        )
    mesh = _mesh(mesh)
    leaves = jtu.tree_leaves(inputs)
    if not leaves or any(isinstance(x, (str, bytes)) for x in leaves):
        raise TypeError(
            "inputs must be an array shaped (n_steps,) or (n_steps, ..., N) (µA/cm² or nA); "
            f"got {inputs!r}."
        )
    inputs = jtu.tree_map(jnp.asarray, inputs)
    batch = model.batch_shape(jtu.tree_map(lambda x: x[0], inputs))
    shape = model.population_shape(batch)
    if not shape:
        raise ValueError(
            f"{type(model).__name__} with these inputs is a single neuron (no parameter or "
            "input has a population axis): give a parameter an (N,) array, or the inputs "
            "an (n_steps, N) shape, to make a population to split."
        )
    n = shape[-1]
    d = mesh.devices.size
    m = _divisible(n, d, "the population", pad)
    if m != n:
        warnings.warn(
            f"shard_population: the population of {n} neurons was padded to {m} (copies of "
            f"the last neuron) to split it over {d} devices; results have {m} neurons, keep "
            f"[..., :{n}].",
            stacklevel=2,
        )

    def place(x, is_input: bool):
        if not eqx.is_array(x):
            return x
        split = x.ndim >= (2 if is_input else 1) and x.shape[-1] == n
        if split:
            x = _pad_last(x, n, m)
        return _place(x, population_sharding(mesh, x.ndim if split else 0))

    model = jtu.tree_map(lambda x: place(x, False), model)
    inputs = jtu.tree_map(lambda x: place(x, True), inputs)
    return model, inputs


def _mapped(x) -> bool:
    """Leaves of `params` that hold one value per parameter set (a leading sweep axis)."""
    return eqx.is_array(x) and x.ndim > 0


@functools.lru_cache(maxsize=64)
def _sweep_program(fn: Callable, n_args: int, mesh: Mesh):
    """`jit(vmap(fn))` over the mapped leaves of the parameters (the rest, e.g. a model's
    scalar parameters, shared), outputs constrained to the sweep sharding; cached per
    function, so calling `sweep` again with new values does not recompile."""
    axes = _axes(mesh)

    def constrain(y):
        if not eqx.is_array(y) or y.ndim == 0:
            return y
        spec = PartitionSpec(axes, *([None] * (y.ndim - 1)))
        return jax.lax.with_sharding_constraint(y, NamedSharding(mesh, spec))

    def one(mapped, shared, *args):
        return fn(eqx.combine(mapped, shared), *args)

    def run(mapped, shared, *args):
        out = jax.vmap(one, in_axes=(0, None) + (None,) * n_args)(mapped, shared, *args)
        return jtu.tree_map(constrain, out)

    return jax.jit(run)


def _check_sets(params) -> None:
    """Before the sweep runs: every floating array leaf finite, and every model among
    `params` (`AbstractModel`: its stacked parameters read as a population) inside its
    parameters' domains, naming the culprit. A model's run-time check (`eqx.error_if`)
    that fails on one device of a sharded program leaves the others waiting in a
    collective: measured on 4 CPU devices, a sweep with `tau = [10, NaN, 20, 30]` ms
    printed "CpuCallback error" and XLA aborted the process 40 s later ("Termination
    timeout for all reduce")."""
    from ._model import AbstractModel, check_domains

    leaves = jtu.tree_leaves_with_path(params, is_leaf=lambda x: isinstance(x, AbstractModel))
    for path, x in leaves:
        if isinstance(x, AbstractModel):
            try:
                check_domains(x)
            except ValueError as e:
                raise ValueError(f"sweep: params{jtu.keystr(path)}: {e}") from None
            continue
        if eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.inexact):
            bad = np.flatnonzero(
                ~np.isfinite(np.asarray(x).reshape(x.shape[0] if x.ndim else 1, -1)).all(axis=1)
            )
            if bad.size:
                raise ValueError(
                    f"sweep: params{jtu.keystr(path)} is NaN or inf in parameter set(s) "
                    f"{bad[:5].tolist()}; a failed check inside a sharded run cannot be "
                    "reported (XLA aborts the process), so give finite values."
                )


def sweep(
    fn: Callable, params: Any, *args: Any, mesh: Mesh | None = None, pad: bool = False
) -> Any:
    """`fn` over a batch of parameter sets, the batch split over the devices of `mesh`.

    **Arguments**

    - `fn(p, *args)`: maps one parameter set `p` (a pytree: a scalar, a model, a tuple of
      arrays) to its result (a pytree of arrays), e.g. a firing rate (Hz) or a loss. It
      is traced once, under `jax.vmap` inside `jax.jit`.
    - `params`: the parameter sets, stacked: every array leaf that varies has a leading
      axis of the sweep size `S`; 0-d leaves are shared by all sets. So a model built with
      `(S,)` arrays for the swept parameters (`nj.HodgkinHuxley(g_na=jnp.linspace(80.0,
      160.0, S))`, mS/cm²) is `S` sets, and `fn` receives one model with scalars.
    - `*args`: arrays (or pytrees) every set shares (inputs, targets), replicated.
    - `mesh`: a `jax.sharding.Mesh` (default `device_mesh()`).
    - `pad`: when `S` is not divisible by the number of devices, repeat the last set up to
      the next multiple and drop the extra results (no warning: the result is exact).
      Default `False`: a `ValueError` saying what to do.

    Before the run every floating leaf of `params` must be finite and every model among
    them inside its parameters' domains (a `ValueError` naming the leaf): a run-time
    check failing inside `fn` on one device of several leaves the others waiting, and
    XLA aborts the process. Keep other run-time checks out of `fn` (`simulate(...,
    throw=False)`).

    **Returns** `fn`'s results stacked along a leading axis of size `S`, split over the
    devices along it. Calling `sweep` again with the same `fn` and shapes reuses the
    compiled program.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function of one parameter set; got {fn!r}.")
    mesh = _mesh(mesh)
    params = jtu.tree_map(lambda x: jnp.asarray(x) if isinstance(x, np.ndarray) else x, params)
    sizes = {x.shape[0] for x in jtu.tree_leaves(params) if _mapped(x)}
    if len(sizes) != 1:
        shapes = [np.shape(x) for x in jtu.tree_leaves(params)]
        raise ValueError(
            "params must be parameter sets stacked along a leading axis of one size S "
            f"(every array leaf that varies shaped (S, ...)); got leaves of shapes {shapes}."
        )
    (s,) = sizes
    if s == 0:  # was numpy's "zero-size array to reduction operation max"
        raise ValueError("sweep: params hold no parameter set (a leading axis of size 0).")
    _check_sets(params)
    d = mesh.devices.size
    m = _divisible(s, d, "the parameter sweep", pad)

    def place_param(x):
        if m != s:
            x = jnp.concatenate([x, jnp.repeat(x[-1:], m - s, axis=0)])
        return _place(x, population_sharding(mesh, x.ndim, axis=0))

    mapped, shared = eqx.partition(params, _mapped)
    mapped = jtu.tree_map(place_param, mapped)
    replicated = NamedSharding(mesh, PartitionSpec())
    shared, args = jtu.tree_map(
        lambda x: _place(x, replicated) if eqx.is_array(x) else x, (shared, args)
    )
    out = _sweep_program(fn, len(args), mesh)(mapped, shared, *args)
    if m != s:
        out = jtu.tree_map(lambda y: y[:s] if eqx.is_array(y) and y.ndim else y, out)
    return out
