"""Small networks shared by the synapse and delay tests: a spike source relayed one to
one through a synapse onto a neuron held far below threshold."""

import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax.network import Network, OneToOne, Population, Projection, SpikeSource

DT = 0.1


def spike_train(n_steps, steps, n=1):
    """Inputs for a SpikeSource: 1 at `steps` (for every neuron), 0 elsewhere."""
    s = np.zeros((n_steps, n))
    s[np.asarray(steps, int)] = 1.0
    return jnp.asarray(s)


def relay(synapse, *, weight=1.0, delay=0.0, stp=None, n=1, dt=DT, post_neuron=None):
    """`src` (a SpikeSource) → `dst` one to one through `synapse`. The postsynaptic neuron
    defaults to a LIF held far below threshold, so only the synapse is observed."""
    post_neuron = post_neuron or nj.LIF(v_th=1e3)
    return Network(
        {"src": Population(SpikeSource(), n), "dst": Population(post_neuron, n)},
        (Projection("src", "dst", OneToOne(n, weight), synapse, delay=delay, stp=stp),),
        dt=dt,
    )


def run_relay(net, spikes, record, **kw):
    sol = nj.simulate(net, {"src": spikes}, dt=net.dt, saveat=nj.SaveAt(fn=record), **kw)
    return sol
