"""Session-11 probe of `TsodyksMarkram` short-term plasticity: a presynaptic count of n > 1
spikes in one step (a `SpikeSource` bin holding two spikes) was read as n times one
spike's release — at U = 0.6 two spikes released 1.2 of the resources (x went to −0.2;
three facilitating spikes left u = 1.77). Checked against n single-spike updates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.synapses import TsodyksMarkram
from neurojax.synapses._stp import STPState


def _one_by_one(stp, state, n: int):
    """n single-spike updates (each `spikes = 1`), the released fractions summed."""
    total = jnp.zeros_like(state.x)
    for _ in range(n):
        r, state = stp.on_spike(state, jnp.ones_like(state.x))
        total = total + r
    return total, state


@jax.jit
def _both(stp, state):
    """For n = 2, 3, 5 spikes in one step: the closed form and n single updates (one
    compiled call: op-by-op they cost seconds of dispatch on a loaded machine)."""
    out = []
    for n in (2, 3, 5):
        n_at_once = stp.on_spike(state, jnp.full_like(state.x, float(n)))
        out.append((n_at_once, _one_by_one(stp, state, n)))
    return out


@pytest.mark.slow  # two compilations (~1-2 s each at load 14); the fast test below covers n = 2
@pytest.mark.parametrize("tau_f", [None, 100.0], ids=["depressing", "facilitating"])
def test_several_spikes_in_one_step_equal_one_after_the_other(tau_f):
    stp = TsodyksMarkram(u0=0.6, tau_d=800.0, tau_f=tau_f)
    u0 = jnp.array([0.0, 0.3, 0.9]) if tau_f else jnp.zeros(3)
    state = STPState(u=u0, x=jnp.array([1.0, 0.7, 0.2]))
    for (r, new), (r_ref, ref) in _both(stp, state):
        # float32 rounding of a few products and powers
        np.testing.assert_allclose(r, r_ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(new.x, ref.x, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(new.u, ref.u, rtol=1e-5, atol=1e-7)
        assert bool(jnp.all((new.x >= 0) & (new.x <= 1) & (new.u <= 1)))


def test_two_spikes_in_a_step_and_one_spike_with_its_surrogate_gradient():
    stp = TsodyksMarkram(u0=0.6, tau_d=800.0, tau_f=100.0)
    state = STPState(u=jnp.array(0.3), x=jnp.array(0.7))
    u_plus = 0.3 + 0.6 * 0.7

    @jax.jit
    def at(state):
        one = stp.on_spike(state, jnp.array(1.0))
        g = jax.grad(lambda s: stp.on_spike(state, s)[0])(jnp.array(1.0))
        zero = stp.on_spike(state, jnp.array(0.0))
        return one, g, zero, stp.on_spike(state, jnp.array(2.0)), _one_by_one(stp, state, 2)

    (r, new), g, (r0, same), (r2, two), (r2_ref, two_ref) = at(state)
    assert float(r) == pytest.approx(u_plus * 0.7, rel=1e-6)
    assert float(new.x) == pytest.approx(0.7 - u_plus * 0.7, rel=1e-6)
    # d(release)/d(spikes) at one spike: u⁺·x, as the linear form always gave
    assert float(g) == pytest.approx(u_plus * 0.7, rel=1e-6)
    assert float(r0) == 0.0 and float(same.x) == pytest.approx(0.7)
    # two spikes: the second releases u⁺⁺·x(1 − u⁺), not u⁺·x again (x stayed >= 0)
    assert float(r2) == pytest.approx(float(r2_ref), rel=1e-5)
    assert float(two.x) == pytest.approx(float(two_ref.x), rel=1e-5, abs=1e-7)
    assert float(two.u) == pytest.approx(float(two_ref.u), rel=1e-5)
    assert 0.0 <= float(two.x) < float(new.x)
