"""`AbstractModel.check_call`: a model's checks of one `simulate` call (a network's dt,
SpikeSource counts, a kinetic synapse's pulse against dt, traced synapse time constants)
run once before the run — concrete values raise at once, traced ones once at the run's
start — and never as a host callback in the time step. A callback in the step was
compiled into every step and kept XLA from storing the run in JAX's persistent
compilation cache (`benchmarks/bench_compile_cache.py`).

Fast tier: a relay network of 1 neuron, 20 steps; each case compiles one small program.
"""

import jax
import pytest
from _network_helpers import relay, spike_train

import neurojax as nj
from neurojax.synapses import AMPA, DualExponential, Exponential

RUNTIME = (ValueError, RuntimeError, jax.errors.JaxRuntimeError)


def test_network_dt_checked_once_concrete_and_traced():
    net = relay(Exponential(tau=2.0, e_rev=0.0))
    spikes = spike_train(20, [2])
    with pytest.raises(ValueError, match="built for dt = 0.1 ms"):
        nj.simulate(net, {"src": spikes}, dt=0.2)
    run = jax.jit(lambda dt: nj.simulate(net, {"src": spikes}, dt=dt).final_state.y)
    with pytest.raises(RUNTIME, match="built for dt = 0.1 ms"):
        jax.block_until_ready(run(0.2))
    jax.block_until_ready(run(0.1))  # the right dt, traced: runs


def test_kinetic_pulse_shorter_than_half_a_step_is_refused():
    # AMPA's transmitter pulse (1 ms by default) is shorter than half of a 5 ms step:
    # it would last 0 steps and the synapse would never open
    net = relay(AMPA(), dt=5.0)
    with pytest.raises(ValueError, match="t_pulse is shorter than half a step"):
        nj.simulate(net, {"src": spike_train(4, [1])}, dt=5.0)


def test_traced_dual_exponential_time_constants_checked():
    spikes = spike_train(20, [2])

    def run(tau_rise):
        net = relay(DualExponential(tau_rise=tau_rise, tau_decay=2.0, e_rev=0.0))
        return nj.simulate(net, {"src": spikes}, dt=0.1).final_state.y

    with pytest.raises(RUNTIME, match="tau_decay > tau_rise"):
        jax.block_until_ready(jax.jit(run)(3.0))


def test_no_host_callback_in_a_network_run():
    # everything concrete (closed over): the only checks left in the program would be
    # those written into the step; with `check_call` there are none
    net = relay(AMPA(), dt=0.1)
    spikes = spike_train(20, [2])
    text = (
        jax.jit(lambda: nj.simulate(net, {"src": spikes}, dt=0.1, throw=False).final_state.y)
        .lower()
        .as_text()
    )
    assert "callback" not in text
    # a traced check does appear (the control: the test can see one)
    traced = (
        jax.jit(lambda dt: nj.simulate(net, {"src": spikes}, dt=dt, throw=False).final_state.y)
        .lower(0.1)
        .as_text()
    )
    assert "callback" in traced
