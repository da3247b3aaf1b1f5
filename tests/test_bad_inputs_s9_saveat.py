"""Session-9 probe of `SaveAt(spike_dtype=...)`: a floating spike dtype too narrow for the
counts summed over `every` steps rounded them without a word (measured: a LIF firing at
every step, `SaveAt(every=3001, spike_dtype=jnp.float16)` kept 3000 spikes per row,
`every=301` with `bfloat16` 300). Integer dtypes already had this check; floating ones
now have it too: a float with `nmant` mantissa bits holds whole numbers exactly up to
2**(nmant + 1). Construction only: nothing is compiled."""

import jax.numpy as jnp
import pytest

import neurojax as nj


@pytest.mark.parametrize("dtype, limit", [(jnp.float16, 2048), (jnp.bfloat16, 256)])
def test_float_spike_dtype_too_narrow_for_every(dtype, limit):
    assert nj.SaveAt(every=limit, spike_dtype=dtype).every == limit  # exact: allowed
    with pytest.raises(ValueError, match=rf"holds whole counts exactly only up to {limit}"):
        nj.SaveAt(every=limit + 1, spike_dtype=dtype)


def test_wide_spike_dtypes_unchanged():
    for dtype in (jnp.float32, jnp.uint16, None):
        assert nj.SaveAt(every=5000, spike_dtype=dtype).every == 5000
    with pytest.raises(ValueError, match="cannot hold counts"):  # the integer check
        nj.SaveAt(every=300, spike_dtype=jnp.uint8)
