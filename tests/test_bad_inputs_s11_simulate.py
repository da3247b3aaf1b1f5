"""Session-11 probes of `simulate`'s options: `SaveAt(fn=...)` returning something that is
not an array (a string failed inside the scan with JAX's "function block ... traced for
scan returned a value of type <class 'str'>", naming neither SaveAt nor fn). Refused
before anything is compiled (fn is evaluated on the state's shapes only)."""

import jax.numpy as jnp
import pytest

import neurojax as nj


def test_saveat_fn_returning_a_non_array_is_named():
    with pytest.raises(TypeError, match=r"SaveAt\(fn=.*\) must return arrays"):
        nj.simulate(nj.LIF(), jnp.zeros(10), dt=0.1, saveat=nj.SaveAt(fn=lambda y: "v"))
