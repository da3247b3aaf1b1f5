"""Shared fixtures of the test suite."""

import ctypes
import gc

import jax
import pytest


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
