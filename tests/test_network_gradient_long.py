"""Gradients through long runs of recurrent spiking networks (issue 20, item 4).

The 1 s gradient of the 10⁴-neuron dendritic network (benchmarks/bench_dendritic.py
--grad) came out NaN. Cause: not a NaN from a `where` branch but the surrogate gradient
itself growing exponentially through the recurrent spike chains (×e every ~2.3 ms in that
network; 1e31 at 200 ms, then float32 overflow → inf → NaN; in float64 the same 1 s
gradient of a 500-neuron version is finite, ~1e193). What a user needs is a knob on the
surrogate's gain: `AbstractSurrogate.scale` (Bellec et al. 2018's dampening γ), with
`scale=0` the exact derivative at a fixed spike pattern, which finite differences check.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import surrogate as sg
from neurojax import synapses as ns
from neurojax.cable import Compartment, DSpikes, ReducedCell

SURROGATES = [
    sg.Sigmoid,
    sg.FastSigmoid,
    sg.Arctan,
    sg.Triangle,
    sg.Gaussian,
    sg.StraightThrough,
]


def test_surrogate_scale_multiplies_the_derivative_only():
    x = jnp.array([-3.0, -0.37, -0.05, 0.0, 0.05, 0.37, 3.0])
    for cls in SURROGATES:
        base = cls(slope=4.0)
        d1 = np.asarray(jax.vmap(jax.grad(base))(x))
        assert d1.max() > 0  # the comparison below is not 0 == 0
        for scale in (0.3, 0.0, 2.0):
            f = cls(slope=4.0, scale=scale)
            # forward: the exact Heaviside whatever the scale
            np.testing.assert_array_equal(np.asarray(f(x)), np.asarray(base(x)))
            d = np.asarray(jax.vmap(jax.grad(f))(x))
            # one float32 multiplication: 1 ulp relative
            np.testing.assert_allclose(d, scale * d1, rtol=2e-7, atol=0, err_msg=cls.__name__)
        assert not np.any(np.asarray(jax.vmap(jax.grad(cls(scale=0.0)))(x)))  # exactly 0
    for bad in (-0.1, math.nan, math.inf, "1", True, None):
        with pytest.raises(ValueError, match="surrogate scale must be a finite number >= 0"):
            sg.FastSigmoid(scale=bad)


# ------------------------------------------------------------------ a small recurrent network
# The benchmark's cell (Dendrify's dimensionless three compartments, docs/dendritic.md) in a
# network small enough to compile quickly, coupled as densely as the 10⁴-neuron one (each
# neuron ~200 E and ~50 I inputs there; here every neuron receives from all 40 E and 10 I,
# with the weights scaled up by the missing fan-in so the recurrent gain is comparable).
N_E, N_I, DT = 40, 10, 0.1


def _cell(dspikes, scale):
    comps = [
        Compartment(
            name,
            c_abs=c,
            gl_abs=g,
            e_l=-70.0,
            dspikes=DSpikes(
                g_rise=0.03,
                g_fall=0.015,
                threshold=-40.0,
                duration_rise=1.2,
                duration_fall=2.4,
                offset_fall=0.5,
                refractory=5.0,
            )
            if dspikes and name == "dist"
            else None,
        )
        for name, c, g in (("soma", 0.2, 0.01), ("prox", 0.05, 0.0025), ("dist", 0.03, 0.0015))
    ]
    return ReducedCell.build(
        comps,
        [("soma", "prox", 0.04), ("prox", "dist", 0.03)],
        v_th=-50.0,
        v_reset=-60.0,
        t_ref=3.0,
        clamp=False,
        surrogate=sg.FastSigmoid(scale=scale),
    )


def _network(scale, w_scale=1.0):
    sizes = {"E": N_E, "I": N_I}
    # (pre, post, e_rev, compartment, g µS, tau ms, delay ms): the benchmark's, g × 5
    spec = [
        ("E", "E", 0.0, "prox", 0.01, 2.0, 1.5),
        ("E", "I", 0.0, "soma", 0.01, 2.0, 1.0),
        ("I", "E", -80.0, "soma", 0.03, 6.0, 0.5),
        ("I", "I", -80.0, "soma", 0.03, 6.0, 0.5),
    ]
    projections = [
        nn.Projection(
            pre,
            post,
            nn.dense(sizes[pre], sizes[post], g * (w_scale if k == 0 else 1.0)),
            ns.Exponential(tau=tau, e_rev=e),
            delay=d,
            compartment=comp,
        )
        for k, (pre, post, e, comp, g, tau, d) in enumerate(spec)
    ]
    drives = [
        nn.PoissonDrive(
            p,
            ns.Exponential(tau=2.0, e_rev=0.0),
            rate=5.0,
            weight=0.006,
            n_sources=100,
            compartment="dist",
        )
        for p in "EI"
    ]
    pops = {"E": nn.Population(_cell(True, scale), N_E), "I": nn.Population(_cell(False, scale), N_I)}
    return nn.Network(pops, projections, drives, dt=DT)


def _loss_fn(n_steps):
    saveat = nj.SaveAt(every=100, fn=lambda y: {p: y.neurons[p].v[:, 0].mean() for p in "EI"})
    inputs = {"E": jnp.zeros((n_steps, 1))}

    def loss(net):
        sol = nj.simulate(net, inputs, dt=DT, key=jax.random.key(3), saveat=saveat)
        count = sum(sol.spikes[p].sum() for p in "EI")
        return sum(sol.states[p].mean() for p in "EI") + 1e-3 * count, count

    return loss


def _grad_leaves(g):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(g, eqx.is_inexact_array))]
