"""Shared fixtures of the test suite."""

import ctypes
import gc
import os
import shutil
import tempfile

import jax
import pytest

_CACHE_KEY = "neurojax_jax_cache"

# XLA:CPU's legacy fusion emitters for the test run: most of the suite's time is XLA
# compiling many small programs (one-operation eager programs alone were ~30 % of it), and
# with the newer MLIR fusion emitters off each of those compiles in ~2/3 of the time
# (measured: 80 eager operations 4.9-5.2 -> 3.1-3.5 CPU-s, an HH run and gradient ~5 %
# less). Run-time code generation only: the tests' numbers do not depend on it.
# `NEUROJAX_TEST_XLA_DEFAULTS=1` keeps XLA's defaults. Set before any JAX backend starts.
if not os.environ.get("NEUROJAX_TEST_XLA_DEFAULTS") and "fusion_emitters" not in os.environ.get(
    "XLA_FLAGS", ""
):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_use_fusion_emitters=false"
    ).strip()


def _fast_tier_backend_optimization(config):
    """The fast tier (the default `-m 'not slow'`) compiles with LLVM optimisation level 0.

    Nearly all of the fast tier's time is XLA compiling many small programs that then run
    for milliseconds, and LLVM's optimisation passes are a large part of each compile
    (helper E, 2026-12-07, loaded 2-core machine, 4 modules, 65 tests, one process:
    64.2 -> 51.9 CPU-s). The generated code is slower to run (a 200 000-step HH run
    0.019 -> 0.023 CPU-s) and rounds differently at the ulp level (no fused multiply-adds:
    an HH spike train in float32 differs by < 0.01 mV after 4000 steps, its gradient by
    3e-6 relative), which every tolerance derived from float32 rounding covers. Any other
    marker expression (the slow tier, `-m "slow or not slow"`) keeps XLA's default level,
    as do `NEUROJAX_TEST_XLA_DEFAULTS=1` and an `XLA_FLAGS` that sets the level itself.
    Runs before any test module is imported, so before JAX starts its backend."""
    if os.environ.get("NEUROJAX_TEST_XLA_DEFAULTS"):
        return
    if (config.option.markexpr or "").strip() != "not slow":
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" in flags:
        return
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():  # too late for XLA_FLAGS: keep the defaults
        return
    os.environ["XLA_FLAGS"] = (flags + " --xla_backend_optimization_level=0").strip()


def pytest_configure(config):
    """One persistent compilation cache for the whole run, shared by the xdist workers.

    Many test modules compile the same programs (HH with its defaults, the same cell, the
    same network), and the module fixture below drops JAX's in-memory caches between
    modules; with a cache on disk, a program compiled once in this run is loaded (in
    milliseconds) instead of compiled again (seconds) by a later module or the other
    worker. The directory is fresh for each run and removed at its end, so a run never
    reuses programs compiled by an earlier one (the timings stay those of a fresh clone).
    `NEUROJAX_TEST_NO_CACHE=1` turns it off."""
    _fast_tier_backend_optimization(config)
    if os.environ.get("NEUROJAX_TEST_NO_CACHE"):
        return
    worker = getattr(config, "workerinput", None)
    if worker is None:  # the controller (or a run without xdist): make the directory
        path = tempfile.mkdtemp(prefix="neurojax-jax-cache-")
        config._neurojax_cache_owner = path
    else:
        path = worker.get(_CACHE_KEY)
    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        # every program, however quick to compile: the small ones (an eager `jnp` op, a
        # finiteness check) are recompiled in every module after `jax.clear_caches()`,
        # and loading them is cheaper (a subset of 8 modules, two pairs of runs on a loaded
        # machine: 5 and 17 % less CPU than a 0.2 s threshold)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: hand the controller's cache directory to each worker."""
    path = getattr(node.config, "_neurojax_cache_owner", None)
    if path:
        node.workerinput[_CACHE_KEY] = path


def pytest_unconfigure(config):
    path = getattr(config, "_neurojax_cache_owner", None)
    if path:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def x64():
    """Run one test in float64 (validation against analytic values and finite differences).

    A context manager rather than the global `jax_enable_x64` flag, so the rest of the
    suite keeps checking the float32 default. Build models *inside* the test: parameters
    are converted to arrays of the precision active at construction.
    """
    with jax.enable_x64(True):
        yield


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs and traces after each test module.

    A test process runs many modules (`--dist loadfile`), and JAX keeps every executable
    it compiled for the life of the process: without this, each of the two worker
    processes grew to 4–5 GB over the suite. Modules rarely share compiled programs, so
    recompiling the few that would have been reused costs little."""
    yield
    jax.clear_caches()
    gc.collect()
    _return_freed_memory()


def _return_freed_memory():
    """Hand the heap pages freed above back to the system (glibc keeps them otherwise, and
    the process's resident size never falls); a no-op where there is no glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
