"""Populations of Dendrify-style reduced neurons (`cable.ReducedCell`) in `network.Network`:
projections and drives onto named compartments, delays, external currents per
compartment, dSpike events, the exponential solver's per-compartment diagonal, plots,
gradients, and clear errors. (Equivalence with dendrify itself:
tests/test_dendritic_network_dendrify.py.)"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns
from neurojax.cable import Compartment, DSpikes, ReducedCell

DT = 0.1


def three(g_couple=(0.015, 0.01), dspikes=True, **soma):
    """Soma, proximal and distal dendrite (dimensionless, as Dendrify's examples)."""
    ds = (
        DSpikes(g_rise=0.03, g_fall=0.015, duration_rise=1.2, duration_fall=2.4)
        if dspikes
        else None
    )
    comps = [
        Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        Compartment("proximal", c_abs=0.05, gl_abs=0.0025, e_l=-70.0),
        Compartment("distal", c_abs=0.03, gl_abs=0.0015, e_l=-70.0, dspikes=ds),
    ]
    conns = [("soma", "proximal", g_couple[0]), ("proximal", "distal", g_couple[1])]
    kw = dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0) | soma
    return ReducedCell.build(comps, conns, **kw)


def one_spike_network(compartment, delay, step=10):
    """One SpikeSource neuron firing at `step` onto one cell through an AMPA-like synapse."""
    net = nn.Network(
        {"in": nn.Population(nn.SpikeSource(), 1), "E": nn.Population(three(), 1)},
        [
            nn.Projection(
                "in",
                "E",
                nn.from_pairs([0], [0], 1, 1, 0.01),
                ns.Exponential(tau=2.0, e_rev=0.0),
                delay=delay,
                compartment=compartment,
            )
        ],
        dt=DT,
    )
    x = jnp.zeros((60, 1)).at[step, 0].set(1.0)
    return nj.simulate(net, {"in": x}, dt=DT, solver=nj.solvers.Euler())


def test_delay_and_target_compartment_in_whole_steps():
    """A spike at step 10 through a 1 ms delay arrives at step 20 (the synaptic jump at
    the end of that step): the target compartment leaves rest in the update of step 21,
    its neighbour one Euler step later, the compartment beyond it one more."""
    sol = one_spike_network("distal", 1.0)
    v = np.asarray(sol.v["E"][:, 0]) + 70.0  # (n_steps, 3) depolarisation
    moved = [int(np.argmax(np.abs(v[:, c]) > 0)) for c in range(3)]
    assert moved == [23, 22, 21]  # soma, proximal, distal
    sol = one_spike_network("soma", 0.0)
    v = np.asarray(sol.v["E"][:, 0]) + 70.0
    assert [int(np.argmax(np.abs(v[:, c]) > 0)) for c in range(3)] == [11, 12, 13]
    # the synapse drives its own compartment hardest
    assert v[:, 0].max() > v[:, 1].max() > v[:, 2].max()


@pytest.fixture(scope="module")
def driven():
    """100 cells, Poisson AMPA and Mg-blocked NMDA input onto the distal dendrite,
    recurrent excitation onto the proximal one and inhibition onto the soma (from LIF
    interneurons), with dSpike recording: 200 ms."""
    key = jax.random.key(1)
    k1, k2, k3 = jax.random.split(key, 3)
    n_e, n_i = 100, 25
    net = nn.Network(
        {
            "E": nn.Population(three(v_th=-54.0), n_e, dspikes=True),
            "I": nn.Population(nj.LIF(), n_i),
        },
        [
            nn.Projection(
                "E",
                "E",
                nn.fixed_probability(k1, n_e, n_e, 0.05, 0.003),
                ns.Exponential(tau=2.0, e_rev=0.0),
                delay=1.5,
                compartment="proximal",
            ),
            nn.Projection(
                "E",
                "I",
                nn.fixed_probability(k2, n_e, n_i, 0.1, 0.05),
                ns.Exponential(tau=2.0, e_rev=0.0),
                delay=1.0,
            ),
            nn.Projection(
                "I",
                "E",
                nn.fixed_probability(k3, n_i, n_e, 0.2, 0.004),
                ns.Exponential(tau=8.0, e_rev=-80.0),
                delay=0.5,
                compartment="soma",
            ),
        ],
        [
            nn.PoissonDrive(
                "E",
                ns.Exponential(tau=2.0, e_rev=0.0),
                rate=20.0,
                weight=0.006,
                n_sources=60,
                compartment="distal",
            ),
            nn.PoissonDrive(
                "E",
                ns.MgBlock(ns.Exponential(tau=60.0, e_rev=0.0)),
                rate=10.0,
                weight=0.0005,
                n_sources=60,
                compartment="distal",
            ),
        ],
        dt=DT,
    )
    sol = nj.simulate(net, {"E": jnp.zeros((2000, 1))}, dt=DT, key=jax.random.key(2))
    return net, sol


def test_poisson_drive_onto_distal_dendrite(driven):
    net, sol = driven
    v = np.asarray(sol.v["E"])
    assert v.shape == (2000, 100, 3)
    assert np.isfinite(v).all()
    depol = v[500:].mean(axis=(0, 1)) + 70.0  # after the NMDA build-up
    # input at the distal end, attenuated towards the soma (resets pull the soma down too)
    assert depol[2] > depol[1] > depol[0] > 0
    spikes, dsp = np.asarray(sol.spikes["E"]), np.asarray(sol.spikes["E.dspikes"])
    assert spikes.shape == (2000, 100) and dsp.shape == (2000, 100, 3)
    assert spikes.sum() > 50 and dsp[..., 2].sum() > 50  # both kinds of spikes happen
    assert dsp[..., :2].sum() == 0  # only the distal dendrite has the mechanism
    assert np.asarray(sol.spikes["I"]).sum() > 0  # E → I propagates somatic spikes


def test_plots_and_record(driven):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net, sol = driven
    fig, axes = plt.subplots(3)
    nn.raster(sol.spikes, DT, ax=axes[0])  # E, I and E.dspikes (flattened per compartment)
    nn.plot_population_rate({"E": sol.spikes["E"]}, DT, ax=axes[1])
    nn.plot_compartments(
        sol.v["E"], DT, neuron=3, names=net.populations["E"].neuron.names, ax=axes[2]
    )
    assert len(axes[2].lines) == 3
    assert len(axes[0].collections) == 3
    plt.close(fig)
    fn = net.record(v={"E": (slice(0, 4), "distal"), "I": slice(0, 2)})
    y = sol.final_state.y
    kept = fn(y)
    assert kept["E"].shape == (4,) and kept["I"].shape == (2,)
    np.testing.assert_array_equal(kept["E"], y.neurons["E"].v[:4, 2])


def test_external_current_per_compartment_forms_agree():
    cell = three(dspikes=False)
    net = nn.Network({"E": nn.Population(cell, 2)}, dt=DT)
    n = 300
    full = jnp.zeros((n, 2, 3)).at[:, :, 2].set(0.1).at[:, 1, 0].set(0.05)
    named = {"distal": jnp.full((n,), 0.1), "soma": jnp.zeros((n, 2)).at[:, 1].set(0.05)}
    a = nj.simulate(net, {"E": full}, dt=DT)
    b = nj.simulate(net, {"E": named}, dt=DT)
    np.testing.assert_array_equal(np.asarray(a.v["E"]), np.asarray(b.v["E"]))
    c = nj.simulate(net, {"E": jnp.zeros((n, 2)).at[:, 1].set(0.05)}, dt=DT)  # plain → soma
    d = nj.simulate(net, {"E": {"soma": jnp.zeros((n, 2)).at[:, 1].set(0.05)}}, dt=DT)
    np.testing.assert_array_equal(np.asarray(c.v["E"]), np.asarray(d.v["E"]))
    assert float(a.v["E"][-1, 0, 2]) > float(a.v["E"][-1, 0, 0]) > -70.0


# slow tier: a float64 convergence comparison; the fast tier runs the exponential solver on these cells in test_poisson_drive_onto_distal_dendrite
@pytest.mark.slow
def test_exponential_solver_uses_the_true_diagonal(x64):
    """The network's linear rate for a compartment's voltage is the exact ∂V̇ᵢ/∂Vᵢ (from
    the full Jacobian), not the row sum a unit tangent gives: the coupling is in it."""
    cell = three(g_couple=(0.5, 0.4), dspikes=False)
    net = nn.Network(
        {"E": nn.Population(cell, 1)},
        [],
        [
            nn.PoissonDrive(
                "E", ns.MgBlock(ns.Exponential(tau=60.0, e_rev=0.0)), compartment="distal"
            )
        ],
        dt=0.005,  # coupling time constants ≈ 0.05 ms: allowed at this dt
    )
    y = net.init_state()
    y = y._replace(
        neurons={"E": y.neurons["E"]._replace(v=jnp.array([[-60.0, -50.0, -30.0]]))},
        drives=(y.drives[0]._replace(g=jnp.array([0.02])),),
    )
    inputs = {"E": jnp.zeros(1)}
    lam = net.linear_part(0.0, y, inputs).neurons["E"].v[0]
    v0 = y.neurons["E"].v

    def f(v):
        yy = y._replace(neurons={"E": y.neurons["E"]._replace(v=v.reshape(1, 3))})
        return net.vector_field(0.0, yy, inputs).neurons["E"].v.reshape(3)

    jac = jax.jacfwd(f)(v0.reshape(3))
    np.testing.assert_allclose(lam, np.diag(jac), rtol=1e-12)
    assert abs(float(jac[0, 1])) > 1.0  # strong coupling: a row sum would be far off


def test_coupling_stiffness_accuracy_and_refusal(x64):
    """Coupling rate Σg/C × dt = 0.8 (time constant 0.125 ms at dt = 0.1 ms): the default
    ExponentialEuler stays within 0.1 mV of a dt/20 Euler run (measured error: 0.19 mV
    per unit of rate·dt on a ~3 mV response, docs/dendritic.md). Far stiffer (rate·dt =
    40): the exponential step is refused with the compartment named, forward Euler
    (Dendrify's default) diverges and simulate reports it."""
    cell = three(g_couple=(0.32, 0.08), dspikes=False, v_th=1e3)
    assert float(np.max(np.asarray(cell.coupling_rates()))) * DT == pytest.approx(0.8)
    n = 500
    x = {"E": {"distal": jnp.full((n,), 0.05)}}
    sol = nj.simulate(nn.Network({"E": nn.Population(cell, 1)}, dt=DT), x, dt=DT)
    v = np.asarray(sol.v["E"][:, 0])
    fine = nj.simulate(
        nn.Network({"E": nn.Population(cell, 1)}, dt=DT / 20),
        {"E": {"distal": jnp.full((n * 20,), 0.05)}},
        dt=DT / 20,
        solver=nj.solvers.Euler(),
        saveat=nj.SaveAt(every=20),
    )
    assert np.abs(v - np.asarray(fine.v["E"][:, 0])).mean() < 0.2
    stiff = three(g_couple=(20.0, 5.0), dspikes=False, v_th=1e3)
    net = nn.Network({"E": nn.Population(stiff, 1)}, dt=DT)
    with pytest.raises(ValueError, match=r"population 'E': compartment 'proximal' is coupled"):
        nj.simulate(net, x, dt=DT)
    with pytest.raises(Exception, match="(?i)non-finite|nan|inf"):
        nj.simulate(net, x, dt=DT, solver=nj.solvers.Euler())


def test_gradient_through_dendritic_network():
    """Surrogate gradients reach the weight of a projection onto the distal dendrite."""
    cell = three()

    def rate(w):
        net = nn.Network(
            {"in": nn.Population(nn.SpikeSource(), 5), "E": nn.Population(cell, 3)},
            [
                nn.Projection(
                    "in",
                    "E",
                    nn.dense(5, 3, w),
                    ns.Exponential(tau=2.0, e_rev=0.0),
                    compartment="distal",
                )
            ],
            dt=DT,
        )
        x = jnp.zeros((400, 5)).at[50::40, :].set(1.0)
        sol = nj.simulate(net, {"in": x}, dt=DT, solver=nj.solvers.Euler())
        return sol.spikes["E"].sum() + 0.01 * sol.v["E"][:, :, 0].mean()

    g = jax.grad(rate)(jnp.full((5, 3), 0.01))
    assert np.all(np.isfinite(np.asarray(g))) and float(jnp.abs(g).sum()) > 0


# ------------------------------------------------------------------------------ errors


def _net(proj=None, drive=None, cell=None):
    cell = cell or three()
    return nn.Network(
        {
            "in": nn.Population(nn.SpikeSource(), 2),
            "E": nn.Population(cell, 2),
            "I": nn.Population(nj.LIF(), 2),
        },
        [] if proj is None else [proj],
        [] if drive is None else [drive],
        dt=DT,
    )


def test_errors_name_the_culprit():
    conn = nn.dense(2, 2, 0.01)
    syn = ns.Exponential(tau=2.0, e_rev=0.0)
    with pytest.raises(
        ValueError, match=r"no compartment 'apical'.*\['soma', 'proximal', 'distal'\]"
    ):
        _net(nn.Projection("in", "E", conn, syn, compartment="apical"))
    with pytest.raises(ValueError, match=r"drive 0.*no compartment 'dist'"):
        _net(drive=nn.PoissonDrive("E", syn, compartment="dist"))
    with pytest.raises(ValueError, match=r"'I' is a point neuron.*compartment=None"):
        _net(nn.Projection("in", "I", conn, syn, compartment="distal"))
    with pytest.raises(TypeError, match="compartment name"):
        nn.Projection("in", "E", conn, syn, compartment=2)
    with pytest.raises(ValueError, match="dspikes=True"):
        nn.Population(nj.LIF(), 3, dspikes=True)
    net = _net()
    with pytest.raises(ValueError, match=r"inputs\['E'\]\['axon'\].*no compartment"):
        nj.simulate(net, {"E": {"axon": jnp.zeros(10)}}, dt=DT)
    with pytest.raises(ValueError, match=r"inputs\['E'\] must be shaped.*\(n_steps, 2, 3\)"):
        nj.simulate(net, {"E": jnp.zeros((10, 2, 4))}, dt=DT)
    with pytest.raises(ValueError, match=r"'I' is a point neuron"):
        nj.simulate(net, {"I": {"soma": jnp.zeros(10)}}, dt=DT)
    with pytest.raises(ValueError, match="MgBlock needs a conductance-based"):
        ns.MgBlock(ns.Exponential(tau=5.0))


def test_impossible_dspike_timings_and_bad_couplings():
    with pytest.raises(
        ValueError, match=r"DSpikes\.refractory = 1.0 ms is shorter than duration_rise"
    ):
        DSpikes(g_rise=0.01, g_fall=0.01, duration_rise=2.0, refractory=1.0)
    with pytest.raises(ValueError, match=r"DSpikes\.duration_rise = 0.0 ms with g_rise"):
        DSpikes(g_rise=0.01, g_fall=0.01, duration_rise=0.0)
    with pytest.raises(ValueError, match=r"DSpikes\.offset_fall must be finite >= 0"):
        DSpikes(g_rise=0.01, g_fall=0.01, offset_fall=-0.5)
    # timings that a step cannot represent: named at Network construction
    odd = ReducedCell.build(
        [
            Compartment("soma", c_abs=0.2, gl_abs=0.01),
            Compartment(
                "dend",
                c_abs=0.05,
                gl_abs=0.0025,
                dspikes=DSpikes(g_rise=0.03, g_fall=0.015, duration_rise=0.25),
            ),
        ],
        [("soma", "dend", 0.015)],
    )
    with pytest.raises(
        ValueError,
        match=r"population 'E': compartment 'dend': DSpikes\.duration_rise = 0.25 ms is "
        r"not a whole number of steps",
    ):
        _net(cell=odd)
    # ... and at run time for a cell on its own (dt traced inside simulate)
    with pytest.raises(Exception, match="not a whole number of steps"):
        nj.simulate(odd, jnp.zeros((20, 2)), dt=DT, solver=nj.solvers.Euler())
    soma = Compartment("soma", length=20.0, diameter=20.0)
    dend = Compartment("d", length=100.0, diameter=1.0)
    with pytest.raises(ValueError, match=r"connection \('soma', 'd', -0.01\).*> 0"):
        ReducedCell.build([soma, dend], [("soma", "d", -0.01)])
    with pytest.raises(ValueError, match=r"unknown coupling 'cylinder_x'"):
        ReducedCell.build([soma, dend], [("soma", "d", "cylinder_x")])
    with pytest.raises(ValueError, match="dSpikes belong to dendrites"):
        ReducedCell.build(
            [Compartment("soma", 20.0, 20.0, dspikes=DSpikes(0.01, 0.01)), dend], [("soma", "d")]
        )
    with pytest.raises(ValueError, match="v_spike .* and spike_width .* go together"):
        ReducedCell.build([soma, dend], [("soma", "d")], v_spike=30.0)
    with pytest.raises(ValueError, match="spike_width = 5.0 ms is longer than t_ref"):
        ReducedCell.build([soma, dend], [("soma", "d")], v_spike=30.0, spike_width=5.0, t_ref=2.0)
    # 'cylinder_<name>': the axial conductance of that whole compartment
    cell = ReducedCell.build([soma, dend], [("soma", "d", "cylinder_d")])
    assert float(cell.g_couple[0]) == pytest.approx(1 / dend.r_axial, rel=1e-6)


# slow tier: finite-difference validation; test_gradient_through_dendritic_network keeps the gradient in the fast tier
@pytest.mark.slow
def test_gradient_matches_finite_differences(x64):
    """Subthreshold (no spikes): d(mean somatic voltage)/d(weight onto the distal
    dendrite, an NMDA-like MgBlock synapse) and /d(coupling conductance), through the
    default ExponentialEuler with its corrected diagonal, against central differences
    (h = 1e-6 relative; float64 truncation ~h² ≈ 1e-12, rounding ~eps/h ≈ 1e-10)."""
    x = jnp.zeros((300, 2)).at[20::50, :].set(1.0)

    def loss(w, g):
        cell = three(dspikes=False, v_th=1e3)
        cell = eqx.tree_at(lambda c: c.g_couple, cell, jnp.stack([g, cell.g_couple[1]]))
        net = nn.Network(
            {"in": nn.Population(nn.SpikeSource(), 2), "E": nn.Population(cell, 1)},
            [
                nn.Projection(
                    "in",
                    "E",
                    nn.dense(2, 1, w),
                    ns.MgBlock(ns.Exponential(tau=20.0, e_rev=0.0)),
                    delay=0.5,
                    compartment="distal",
                )
            ],
            dt=DT,
        )
        sol = nj.simulate(net, {"in": x}, dt=DT)
        return sol.v["E"][:, 0, 0].mean()

    w0, g0 = jnp.array([[0.004], [0.006]]), jnp.asarray(0.015)
    gw, gg = jax.grad(loss, argnums=(0, 1))(w0, g0)
    h = 1e-6
    for idx in ((0, 0), (1, 0)):
        e = jnp.zeros_like(w0).at[idx].set(h * float(w0[idx]))
        fd = (loss(w0 + e, g0) - loss(w0 - e, g0)) / (2 * e[idx])
        assert float(gw[idx]) == pytest.approx(float(fd), rel=1e-6)
    fd = (loss(w0, g0 * (1 + h)) - loss(w0, g0 * (1 - h))) / (2 * h * g0)
    assert float(gg) == pytest.approx(float(fd), rel=1e-6)
    assert float(gw[0, 0]) > 0  # more distal excitation depolarises the soma
