"""Shared fixtures of the test suite."""

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
