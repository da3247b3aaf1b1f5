"""Gradients through long runs of recurrent spiking networks (issue 20, item 4).

The 1 s gradient of the 10⁴-neuron dendritic network (benchmarks/bench_dendritic.py
--grad) came out NaN. Cause: not a NaN made inside a step (a `where` branch, a division)
but the surrogate gradient itself growing exponentially through the recurrent
connections (measured: 8e34 after 100 ms in the 10⁴-neuron network; in a 500-neuron
version 1e12 at 100 ms, 1e31 at 200 ms, then float32 overflow → inf → NaN, while in
float64 its 1 s gradient is finite, ~1e193). What a user needs is a knob on the
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


def _network(scale):
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
            nn.dense(sizes[pre], sizes[post], g),
            ns.Exponential(tau=tau, e_rev=e),
            delay=d,
            compartment=comp,
        )
        for pre, post, e, comp, g, tau, d in spec
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
    pops = {
        "E": nn.Population(_cell(True, scale), N_E),
        "I": nn.Population(_cell(False, scale), N_I),
    }
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


# slow tier: two float64 gradient programs of a recurrent network (~1 min to compile under
# load); test_surrogate_scale_multiplies_the_derivative_only keeps `scale` covered in the
# fast tier, and tests/test_dendritic_network.py's gradient test the network's gradient.
N_STEPS = 3000  # 300 ms: the float32 gradient at scale 1 overflowed (NaN) by then


@pytest.mark.slow
def test_long_surrogate_gradient_grows_without_nan_and_scale_zero_matches_fd(x64):
    """(1) At scale 1 the surrogate gradient through 300 ms grows far beyond any physical
    sensitivity — measured ~1e12 at 100 ms, non-finite (overflow) at 300 ms in float32 —
    yet stays finite in float64: the float32 NaN is overflow of an exploding gradient, not
    a NaN made inside the step (a `where` branch, a division), which float64 would keep.
    (2) At scale 0 (spikes held fixed) the gradient is the derivative of the run at its
    spike pattern: a central difference along one parameter direction agrees."""
    loss = _loss_fn(N_STEPS)
    (v1, c1), g1 = eqx.filter_jit(eqx.filter_value_and_grad(loss, has_aux=True))(_network(1.0))
    big = max(float(np.abs(x).max()) for x in _grad_leaves(g1))
    assert all(np.isfinite(x).all() for x in _grad_leaves(g1))
    assert float(c1) > 20  # the network spikes (the premise of a surrogate gradient)
    # 1e15: far above float32's reach after a few more 100 ms and above any sensitivity
    # of a mean voltage (mV) to a parameter of this size (|∂loss/∂w|·w ≲ 10² mV)
    assert big > 1e15

    net0 = _network(0.0)
    (v0, c0), g0 = eqx.filter_jit(eqx.filter_value_and_grad(loss, has_aux=True))(net0)
    assert float(v0) == float(v1) and float(c0) == float(c1)  # scale: gradient only
    w = net0.projections[0].connectivity.weight
    # directional derivative along w (the E→E weights scaled by 1 + ε)
    grad_dir = float((np.asarray(g0.projections[0].connectivity.weight) * np.asarray(w)).sum())
    f = eqx.filter_jit(loss)

    def at(s):
        return f(eqx.tree_at(lambda m: m.projections[0].connectivity.weight, net0, w * s))

    h = 1e-6
    (lp, cp), (lm, cm) = at(1 + h), at(1 - h)
    assert float(cp) == float(cm) == float(c0)  # no spike moved: FD sees the same pattern
    fd = float(lp - lm) / (2 * h)
    # float64: rounding eps·|loss|/h ≈ 2e-16·130/1e-6 ≈ 3e-8 absolute, truncation ~h²;
    # 1e-6 relative leaves room for the sums over 3000 steps
    assert abs(grad_dir) > 1e-3  # the E→E weights do move the mean voltage
    assert grad_dir == pytest.approx(fd, rel=1e-6, abs=1e-7)
