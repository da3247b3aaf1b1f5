"""Session 12's population speed changes (issue 21, item 3; `benchmarks/exp_pop_hh.py`):
HH's six rates from 3 exponentials (`channels.hh.rates`; that their values equal the
separate functions to rounding is `tests/test_population_rates.py`), and XLA:CPU's
512-bit vectors (`xla_cpu_prefer_vector_width`, a compile option the benchmarks pass)
changing no result."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.channels import hh


def _exponentials(fn, *args) -> int:
    return jax.jit(fn).lower(*args).compile().as_text().count(" exponential(")


def test_rates_compile_to_three_exponentials():
    # the count is the point of `rates`: XLA's simplifier rewrites a product of two
    # exps into exp(a + b), so a square written as e·e would compile to a 4th exponential
    # (checked: `e·e` next to `0.07·e` compiles to 2 exponentials). The separate functions: 6.
    v = jnp.linspace(-90.0, 40.0, 64, dtype=jnp.float32)
    assert _exponentials(hh.rates, v) == 3
    separate = (hh.alpha_m, hh.beta_m, hh.alpha_h, hh.beta_h, hh.alpha_n, hh.beta_n)
    assert _exponentials(lambda u: tuple(f(u) for f in separate), v) == 6


@pytest.mark.slow  # two compilations of an HH run: ~3 s on the loaded VM
def test_vector_width_512_changes_no_result():
    # the same elementwise program, vectorised 16 floats at a time instead of 8: XLA's
    # exp, division and FMAs round the same per element, so the values are equal bit for
    # bit (an ISA without 512-bit registers compiles the same 256-bit code); HH population
    # through spikes, each neuron its own bias, float32
    n, steps = 37, 400  # not a multiple of 16: the vector remainder is covered
    model = nj.HodgkinHuxley(e_l=jnp.linspace(-54.3, -20.0, n, dtype=jnp.float32))

    def run(m, x):
        sol = nj.simulate(m, x, dt=0.025, solver=nj.ExponentialEuler())
        return sol.v, sol.spikes

    x = jnp.full((steps,), 5.0, jnp.float32)
    lowered = jax.jit(run).lower(model, x)
    v0, s0 = lowered.compile()(model, x)
    v1, s1 = lowered.compile({"xla_cpu_prefer_vector_width": 512})(model, x)
    assert float(s0.sum()) >= 5  # spikes happen, so the upstrokes are compared too
    np.testing.assert_array_equal(np.asarray(v1), np.asarray(v0))
    np.testing.assert_array_equal(np.asarray(s1), np.asarray(s0))
