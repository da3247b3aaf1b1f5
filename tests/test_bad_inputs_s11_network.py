"""Session-11 probes of networks: a run continued from `Solution.final_state` with a spike
still in a delay ring (the ring's clock restarted at 0 with `simulate`'s step index, so
the spike was lost or delivered at another step unless the first run's length was a
multiple of the ring's), and the plot helpers given a dt <= 0 or a neuron off the array
(drawn without a word, or numpy's IndexError)."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns

DT = 0.1


def _net(delay):
    # one SpikeSource onto one LIF through a Delta synapse of 5 mV: V jumps by exactly
    # 5 mV at the end of the step the spike arrives in (LIF at rest, leak towards rest)
    return nn.Network(
        {"S": nn.Population(nn.SpikeSource(), 1), "E": nn.Population(nj.LIF(), 2)},
        [
            nn.Projection(
                "S", "E", nn.from_pairs([0, 0], [0, 1], 1, 2, weight=5.0), ns.Delta(), delay=delay
            )
        ],  # fmt: skip
        dt=DT,
    )


@pytest.mark.slow  # compiles two network runs (~2-5 s at load 4)
@pytest.mark.parametrize(
    "delay", [0.3, jnp.array([[0.3, 0.5]])], ids=["ring of 3 steps", "per-synapse delays"]
)
def test_spike_in_flight_reaches_the_continued_run(delay):
    """The spike of step 9 with a delay of 3 (5) steps is delivered at the end of step 12
    (14): step 1 (3) of a second run of 11 steps started from the first's final state.
    Before the fix the ring was read at row (step index % 4) of the new run: the spike was
    delivered at another step or never (here: never, V stayed at rest)."""
    net = _net(delay)
    s = np.zeros((11, 1))
    s[9, 0] = 1.0
    first = nj.simulate(net, {"S": jnp.asarray(s)}, dt=DT)
    second = nj.simulate(net, {"S": jnp.zeros((11, 1))}, dt=DT, state0=first.final_state)
    v = np.asarray(second.v["E"]) - float(nj.LIF().v_rest)
    assert np.abs(np.asarray(first.v["E"]) - float(nj.LIF().v_rest)).max() == 0.0
    arrival = [int(np.argmax(v[:, j] > 4.0)) for j in range(2)]
    expected = [1, 1] if np.ndim(delay) == 0 else [1, 3]
    assert arrival == expected, v[:5]
    # the jump is the whole 5 mV weight (then the leak, |dV| < 5·dt/tau per step)
    np.testing.assert_allclose(v[arrival[0], 0], 5.0, rtol=1e-5)


def test_network_plot_helpers_refuse_a_bad_dt_or_neuron():
    # checked before matplotlib is imported: nothing is drawn
    v = np.zeros((10, 3, 2))
    with pytest.raises(ValueError, match="plot_compartments: dt must be a finite time > 0"):
        nn.plot_compartments(v, 0.0)
    with pytest.raises(ValueError, match=r"neuron=5 is not one of the 3 neurons"):
        nn.plot_compartments(v, 0.1, neuron=5)
    with pytest.raises(ValueError, match="raster: dt must be a finite time > 0"):
        nn.raster({"E": np.zeros((10, 3))}, -0.1)


def test_reduced_cell_reset_above_threshold_follows_dendrifys_rule():
    """`v_reset >= v_th` is accepted for a `ReducedCell` (unlike the point neurons): its
    soma is not held while refractory (Dendrify's rule), so after a reset above threshold
    V decays freely for `t_ref` and fires again only if it is still above `v_th` then —
    Dendrify does the same, and such cells are among the random cases that match it step
    for step (`validation/dendrify_random_cases.py`). Here τ = C/g_L = 20 ms from −40 mV:
    V is back below −50 mV after 20·ln(3/2) = 8.1 ms, so with t_ref = 3 ms the soma fires
    every 30 steps for good, with t_ref = 10 ms once (a refusal was tried and undone)."""
    from neurojax.cable import Compartment, ReducedCell

    soma = Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0)
    n = 600
    pulse = jnp.zeros((n, 1)).at[10:60, 0].set(1.0)  # nA: one crossing at step 54
    resets = {}
    for t_ref in (3.0, 10.0):
        cell = ReducedCell.build([soma], [], v_th=-50.0, v_reset=-40.0, t_ref=t_ref)
        v = np.asarray(nj.simulate(cell, pulse, dt=DT, solver=nj.Euler()).v)[:, 0]
        resets[t_ref] = np.flatnonzero(v == np.float32(-40.0))
    assert np.all(np.diff(resets[3.0]) == 30) and len(resets[3.0]) > 10
    assert len(resets[10.0]) == 1


def test_population_named_like_another_populations_dspikes_is_refused():
    """A population "A.dspikes" beside a ReducedCell population "A" with dspikes=True:
    both are the event "A.dspikes", and the population's spikes were overwritten by the
    dendritic spikes (a LIF firing at 10 nA showed 0 spikes)."""
    from neurojax.cable import Compartment, DSpikes, ReducedCell

    dspikes = DSpikes(g_rise=0.03, g_fall=0.015, threshold=-40.0, duration_rise=1.2,
                      duration_fall=2.4)  # fmt: skip
    cell = ReducedCell.build(
        [Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
         Compartment("d", c_abs=0.03, gl_abs=0.0015, e_l=-70.0, dspikes=dspikes)],
        [("soma", "d", 0.03)],
    )  # fmt: skip
    pops = {"A": nn.Population(cell, 2, dspikes=True), "A.dspikes": nn.Population(nj.LIF(), 3)}
    with pytest.raises(ValueError, match=r"'A.dspikes', which is also the name"):
        nn.Network(pops, dt=DT)
    pops["A"] = nn.Population(cell, 2)  # without dspikes there is no clash
    nn.Network(pops, dt=DT)
