"""Session-11 probes of `simulate`'s options: `SaveAt(fn=...)` returning something that is
not an array (a string failed inside the scan with JAX's "function block ... traced for
scan returned a value of type <class 'str'>", naming neither SaveAt nor fn). Refused
before anything is compiled (fn is evaluated on the state's shapes only)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import neurojax as nj


def test_saveat_fn_returning_a_non_array_is_named():
    with pytest.raises(TypeError, match=r"SaveAt\(fn=.*\) must return arrays"):
        nj.simulate(nj.LIF(), jnp.zeros(10), dt=0.1, saveat=nj.SaveAt(fn=lambda y: "v"))


def test_late_t0_beyond_the_float_resolution_is_refused(x64):
    """A late `t0` in float64 too: `t0 = 1e15` ms, `dt = 0.1` gave times spaced 0.125,
    0, 0.125 ms (float64 holds 1e15 to 0.125 ms). Refused at the eager checks, naming
    t0, dt and the float type, before anything is compiled (as is a long float32 run from
    t0 = 0 that gets there: float32's spacing at 1e5 ms is 2⁻⁷ ms > 0.1·dt)."""
    import numpy as np

    lif64 = nj.LIF()  # built under the x64 fixture: float64 parameters
    with pytest.raises(ValueError, match=r"t0=1e\+15 ms with dt=0.1 ms.*float64 spaces "
                       r"times 0.125 ms apart") as info:  # fmt: skip
        nj.simulate(lif64, jnp.zeros((4,), jnp.float64), dt=0.1, t0=1e15)
    assert "jax_enable_x64" not in str(info.value)  # already float64: not suggested
    lif32 = nj.LIF(tau=np.float32(10.0))
    lif32 = jax.tree.map(lambda x: x.astype(jnp.float32) if eqx.is_inexact_array(x) else x, lif32)
    with pytest.raises(ValueError, match=r"t0=0 ms with dt=0.01 ms and 10000000 steps.*"
                       r"float32.*jax_enable_x64"):  # fmt: skip
        # 10⁷ steps of 0.01 ms reach 1e5 ms: spacing 2⁻⁷ = 0.0078 ms
        nj.simulate(lif32, np.zeros((10_000_000,), np.float32), dt=0.01)
