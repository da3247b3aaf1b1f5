"""`fit` fits whatever `simulate` runs: input pytrees (a network's populations, a cell's
current clamps and conductance inputs), targets of what `SaveAt(fn=...)` records (voltages
at chosen sites, a subset of a population), spike and rate losses on a network, and
Python floats left by `eqx.tree_at` in any model become trainable arrays. Each fit
recovers parameters from data the model itself produced."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Branch, Cell, Morphology, Passive
from neurojax.fitting import PopulationRate, Recording, make_objective
from neurojax.network import Network, OneToOne, Population, Projection, SpikeSource
from neurojax.synapses import Exponential

QUIET = nj.NoProgress()


# ------------------------------------------------------------------ (a) network, voltage


def _relay(weight, tau, n=2, dt=0.1):
    """Spike sources → LIF held below threshold, one to one, through an exponential
    current synapse: the postsynaptic voltage shows the weight and the decay."""
    net = Network(
        {"src": Population(SpikeSource(), n), "dst": Population(nj.LIF(v_th=1e3), n)},
        (Projection("src", "dst", OneToOne(n, 1.0), Exponential(tau=5.0)),),
        dt=dt,
    )
    # Python floats, as eqx.tree_at leaves them: fit makes them trainable arrays
    return eqx.tree_at(
        lambda m: (m.projections[0].connectivity.weight, m.projections[0].synapse.tau),
        net,
        (weight, tau),
    )


def _spikes(n_steps, steps, n=2):
    s = np.zeros((n_steps, n))
    for j, st in enumerate(steps):
        s[np.asarray(st), j] = 1.0
    return jnp.asarray(s)


WHERE_A = lambda m: (m.projections[0].connectivity.weight, m.projections[0].synapse.tau)  # noqa: E731


def test_network_weight_and_tau_from_postsynaptic_voltage():
    n_steps = 600
    inputs = {"src": _spikes(n_steps, [[50, 300], [120, 400, 420]])}
    truth = _relay(2.0, 4.0)
    saveat = nj.SaveAt(fn=truth.record(v={"dst": slice(None)}))
    target = nj.simulate(truth, inputs, dt=0.1, saveat=saveat).states  # {"dst": (600, 2)}
    assert target["dst"].shape == (n_steps, 2)
    result = nj.fit(
        _relay(1.0, 8.0),
        inputs,
        target,
        dt=0.1,
        trainable=WHERE_A,
        saveat=saveat,
        steps=100,
        progress_meter=QUIET,
    )
    w, tau = (float(p) for p in result.params)
    print(f"weight {abs(w - 2.0) / 2.0:.1e}, tau {abs(tau - 4.0) / 4.0:.1e} relative", result)
    assert abs(w - 2.0) / 2.0 < 1e-4, result
    assert abs(tau - 4.0) / 4.0 < 1e-4, result


# ------------------------------------------------------------------ (b) cell, two sites


def _cell(g_dend, ra):
    morph = Morphology(
        [Branch(20.0, 20.0, type="soma"), Branch(300.0, 2.0, parent=0, nseg=5, type="dend")]
    )
    cell = Cell(
        morph,
        [(Passive(g=0.3, e=-65.0), "soma"), (Passive(g=0.1, e=-65.0), "dend")],
        ra=100.0,
        clamps=[(0, 0.5)],
        synapses=[(1, 0.9, 0.0)],
    )
    return eqx.tree_at(lambda c: (c.mechanisms[1].g, c.ra), cell, (g_dend, ra))


SITES = [(0, 0.5), (1, 0.9)]
WHERE_B = lambda c: (c.mechanisms[1].g, c.ra)  # noqa: E731


def _cell_inputs(n_steps=300):
    i = np.zeros((n_steps, 1))
    i[20:150] = 0.05  # nA at the soma
    g = np.zeros((n_steps, 1))
    g[100:200] = 0.002  # µS on the distal dendrite
    return {"i_clamp": jnp.asarray(i), "g_syn": jnp.asarray(g)}


@pytest.mark.slow  # a full cell fit; the network fits stay in the fast tier
def test_cell_dendritic_density_and_axial_resistance_from_paired_recordings():
    inputs = _cell_inputs()
    truth = _cell(0.05, 150.0)
    saveat = nj.SaveAt(fn=truth.record_v(SITES))
    target = nj.simulate(truth, inputs, dt=0.1, saveat=saveat).states  # (300, 2)
    result = nj.fit(
        _cell(0.08, 100.0),
        inputs,
        target,
        dt=0.1,
        trainable=WHERE_B,
        saveat=saveat,
        steps=60,
        progress_meter=QUIET,
    )
    g, ra = (float(p) for p in result.params)
    print(f"g {abs(g - 0.05) / 0.05:.1e}, ra {abs(ra - 150.0) / 150.0:.1e} relative", result)
    assert abs(g - 0.05) / 0.05 < 1e-3, result
    assert abs(ra - 150.0) / 150.0 < 1e-3, result


# ------------------------------------------------------------------ (c) network, rate
N_RATE, N_STEPS_RATE = 50, 2000
WHERE_C = lambda m: (  # noqa: E731
    m.projections[0].connectivity.weight,
    m.projections[1].connectivity.weight,
)


def _rate_net(w_a, w_b, dt=0.1):
    """Two groups of spike sources, active in turn, each one to one onto a LIF population
    with graded bias currents: the population rate in each half shows one weight."""
    n = N_RATE
    net = Network(
        {
            "a": Population(SpikeSource(), n),
            "b": Population(SpikeSource(), n),
            "E": Population(nj.LIF(), n),
        },
        (
            Projection("a", "E", OneToOne(n, 1.0), Exponential(tau=5.0)),
            Projection("b", "E", OneToOne(n, 1.0), Exponential(tau=5.0)),
        ),
        dt=dt,
    )
    return eqx.tree_at(WHERE_C, net, (w_a, w_b))


def _rate_inputs(dt=0.1):
    rng = np.random.default_rng(0)
    t = np.arange(N_STEPS_RATE) * dt
    first = (t < 100)[:, None]
    shape = (N_STEPS_RATE, N_RATE)
    return {
        "a": jnp.asarray((rng.random(shape) < 0.04 * first).astype(float)),
        "b": jnp.asarray((rng.random(shape) < 0.04 * ~first).astype(float)),
        "E": jnp.asarray(np.broadcast_to(np.linspace(1.0, 1.4, N_RATE), shape)),  # nA
    }


# slow tier: a 50-neuron network fitted by 150 Adam steps; the relay fit above keeps
# network fitting, and tests/test_losses.py's values test keeps PopulationRate, fast
@pytest.mark.slow
def test_network_weights_from_population_rate():
    inputs = _rate_inputs()
    spikes = nj.simulate(_rate_net(0.6, 1.2), inputs, dt=0.1).spikes["E"]
    target = Recording(spikes={"E": spikes})  # only E's spikes: the loss pools E alone
    result = nj.fit(
        _rate_net(0.4, 1.6),
        inputs,
        target,
        dt=0.1,
        trainable=WHERE_C,
        loss=PopulationRate(bin=20.0, scale=10.0),  # 10 bins of 20 ms
        steps=150,
        progress_meter=QUIET,
    )
    w_a, w_b = (float(p) for p in result.params)
    print(f"w_a {abs(w_a - 0.6) / 0.6:.1e}, w_b {abs(w_b - 1.2) / 1.2:.1e} relative", result)
    # a rate counts whole spikes: the weights are identified up to the width of the
    # step of the count (1 spike of 50 neurons in 20 ms = 1 Hz), ~1e-3 here
    assert abs(w_a - 0.6) / 0.6 < 1e-2, result
    assert abs(w_b - 1.2) / 1.2 < 1e-2, result
    assert result.loss < 0.05 * result.losses[0]


# ------------------------------------------------------------------ floats → trainable


def test_python_floats_become_trainable_in_cells_and_networks():
    """The objective holds a Python float left by `eqx.tree_at` as an array of the
    model's float dtype, for a cell and for a network (so it is fitted, not frozen as a
    static field: the relay fit above recovers such a network's weight and τ; the
    cell's gradient is the slow test below)."""
    cell = _cell(0.08, 100.0)
    assert isinstance(cell.mechanisms[1].g, float)  # eqx.tree_at leaves the float
    saveat = nj.SaveAt(fn=cell.record_v(SITES))
    obj = make_objective(cell, _cell_inputs(40), jnp.zeros((40, 2)) - 65.0, dt=0.1,
                         trainable=WHERE_B, saveat=saveat)  # fmt: skip
    assert all(isinstance(p, jax.Array) and p.dtype == jnp.float32 for p in obj.params0)
    net = _relay(1.0, 8.0)
    assert isinstance(net.projections[0].synapse.tau, float)
    obj = make_objective(net, {"src": _spikes(60, [[5], [10]])}, {"dst": jnp.zeros((60, 2))},
                         dt=0.1, trainable=WHERE_A)  # fmt: skip
    assert all(isinstance(p, jax.Array) and p.dtype == jnp.float32 for p in obj.params0)


# slow tier: the gradient through a cell compiled for one test; the conversion itself is
# checked in the fast tier above
@pytest.mark.slow
def test_python_floats_in_a_cell_have_a_gradient():
    cell = _cell(0.08, 100.0)
    assert isinstance(cell.mechanisms[1].g, float)  # eqx.tree_at leaves the float
    inputs = _cell_inputs(40)
    saveat = nj.SaveAt(fn=cell.record_v(SITES))
    target = jnp.zeros((40, 2)) - 65.0
    obj = make_objective(
        cell, inputs, target, dt=0.1, trainable=WHERE_B, saveat=saveat, adjoint=nj.DirectAdjoint()
    )
    assert all(isinstance(p, jax.Array) for p in obj.params0)
    grads = jax.grad(obj)(obj.params0)
    assert all(np.isfinite(g) and g != 0 for g in grads)


# ------------------------------------------------------------------ checks


def test_recorded_shape_and_inputs_are_checked():
    cell = _cell(0.08, 100.0)
    inputs = _cell_inputs(40)
    saveat = nj.SaveAt(fn=cell.record_v(SITES))
    kw = dict(dt=0.1, trainable=WHERE_B)
    # a target of all nodes while SaveAt records two sites
    with pytest.raises(ValueError, match=r"records v shaped \(40, 2\)"):
        make_objective(cell, inputs, jnp.zeros((40, 9)), saveat=saveat, **kw)
    # the default SaveAt records every node
    with pytest.raises(ValueError, match=r"records v shaped \(40, 9\)"):
        make_objective(cell, inputs, jnp.zeros((40, 2)), **kw)
    # inputs: the cell's own check (a missing kind of site), leading axis, finite
    with pytest.raises(ValueError, match="g_syn"):
        make_objective(
            cell, {"i_clamp": inputs["i_clamp"]}, jnp.zeros((40, 2)), saveat=saveat, **kw
        )
    bad = dict(inputs, g_syn=inputs["g_syn"].at[3].set(jnp.nan))
    with pytest.raises(ValueError, match="NaN"):
        make_objective(cell, bad, jnp.zeros((40, 2)), saveat=saveat, **kw)
    short = dict(inputs, g_syn=inputs["g_syn"][:20])
    with pytest.raises(ValueError, match="same number of steps"):
        make_objective(cell, short, jnp.zeros((40, 2)), saveat=saveat, **kw)
    # a cell has no spikes: a spike loss says so
    with pytest.raises(ValueError, match="records no spikes"):
        make_objective(
            cell, inputs, jnp.zeros((40, 2)), saveat=saveat, loss=nj.fitting.SpikeCount(), **kw
        )

    net = _relay(1.0, 8.0)
    n_inputs = {"src": _spikes(60, [[5], [10]])}
    kw = dict(dt=0.1, trainable=WHERE_A)
    with pytest.raises(ValueError, match="does not record"):
        make_objective(net, n_inputs, {"I": jnp.zeros((60, 2))}, **kw)
    with pytest.raises(ValueError, match=r"v\['dst'\] has shape \(60, 3\)"):
        make_objective(net, n_inputs, {"dst": jnp.zeros((60, 3))}, **kw)
    # a subset of a population, recorded by SaveAt(fn=net.record(...))
    sub = nj.SaveAt(fn=net.record(v={"dst": slice(0, 1)}))
    obj = make_objective(net, n_inputs, {"dst": jnp.zeros((60, 1))}, saveat=sub, **kw)
    assert obj.prediction().v.shape == (60, 1)


# ------------------------------------------------------------------ (d) Poisson drives


def _driven(weight, n=3, dt=0.1):
    """LIF held below threshold under a Poisson drive through an exponential current
    synapse: the voltage follows the drive's weight."""
    from neurojax.network import PoissonDrive

    return Network(
        {"dst": Population(nj.LIF(v_th=1e3), n)},
        (),
        (PoissonDrive("dst", Exponential(tau=5.0), rate=50.0, weight=weight, n_sources=20),),
        dt=dt,
    )


def _driven_problem(n_steps=400):
    inputs = {"dst": jnp.zeros((n_steps, 3))}
    saveat = nj.SaveAt(fn=_driven(2.0).record(v={"dst": slice(None)}))
    return inputs, saveat, lambda m: m.drives[0].weight


def test_poisson_driven_network_refuses_to_fit_without_a_simulation_key():
    """Without the key the fit refuses at once, saying what to pass (a zero target: the
    refusal comes before anything is simulated; the recovery is the slow test below)."""
    inputs, saveat, where = _driven_problem()
    target = {"dst": jnp.zeros((400, 3))}
    with pytest.raises(ValueError, match="simulation_key"):
        nj.fit(_driven(1.0), inputs, target, dt=0.1, trainable=where, saveat=saveat,
               progress_meter=QUIET)  # fmt: skip
    with pytest.raises(TypeError, match="simulation_key must be a jax.random key"):
        nj.fit(_driven(1.0), inputs, target, dt=0.1, trainable=where, saveat=saveat,
               simulation_key=7, progress_meter=QUIET)  # fmt: skip


# slow tier: a Poisson-driven network's fit compiled for one test; the refusals above and
# the relay and rate fits keep network fitting in the fast tier
@pytest.mark.slow
def test_poisson_driven_network_fits_with_a_simulation_key():
    """The same key in every simulation (common random numbers): the loss is a smooth,
    deterministic function of the weight, which is recovered from the voltage the network
    produced with that key (to 1e-4: float32 rounding of a linear response)."""
    inputs, saveat, where = _driven_problem()
    key = jax.random.key(7)
    target = nj.simulate(_driven(2.0), inputs, dt=0.1, saveat=saveat, key=key).states
    r = nj.fit(_driven(1.0), inputs, target, dt=0.1, trainable=where, saveat=saveat,
               simulation_key=key, progress_meter=QUIET)  # fmt: skip
    assert abs(float(r.params) - 2.0) / 2.0 < 1e-4, r
    assert r.converged
