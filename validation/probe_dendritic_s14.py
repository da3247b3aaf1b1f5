"""Session-14 probes: bad inputs to the dendritic-network API (issue 20, "Bad input").

Each probe is one call a user could make; the verdict is one of
- `clear`: a ValueError/TypeError/FloatingPointError whose message names the culprit
  (the words listed with the probe);
- `ok`: it ran and its answer was checked correct (the check listed with it);
- `UNCLEAR` (an error that does not name the culprit), `SILENT` (it ran and the answer is
  wrong or unchecked where it should have been refused) — the findings to fix.

    .venv/bin/python validation/probe_dendritic_s14.py        # table of every probe

`tests/test_bad_inputs_s14_dendritic.py` asserts the verdicts (fast tier).
"""

from __future__ import annotations

import re
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax import network as nn
from neurojax import neurons
from neurojax import synapses as ns
from neurojax.cable import Compartment, DSpikes, ReducedCell

DT = 0.1
N = 60  # steps of the short runs
LONG = 400  # steps of the runs whose spikes are compared (the first spike near step 220)
EXP = ns.Exponential(tau=2.0, e_rev=0.0)


def ds(**kw):
    base = dict(
        g_rise=0.03,
        g_fall=0.015,
        threshold=-40.0,
        duration_rise=1.2,
        duration_fall=2.4,
        offset_fall=0.2,
        refractory=5.0,
    )
    base.update(kw)
    return DSpikes(**base)


def comps(**dist):
    return [
        Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        Compartment("proximal", c_abs=0.06, gl_abs=0.003, e_l=-70.0),
        Compartment(
            "distal", c_abs=0.03, gl_abs=0.0015, e_l=-70.0, dspikes=dist.pop("dspikes", ds())
        ),
    ]


def cell(conn=None, **soma):
    kw = dict(v_th=-50.0, v_reset=-60.0, t_ref=2.0)
    kw.update(soma)
    return ReducedCell.build(
        comps(), conn or [("soma", "proximal", 0.03), ("proximal", "distal", 0.012)], **kw
    )


def net(c=None, size=3, projections=None, drives=(), dt=DT, src=4):
    c = cell() if c is None else c
    pops = {"E": nn.Population(c, size, dspikes=True), "S": nn.Population(nn.SpikeSource(), src)}
    if projections is None:
        projections = [
            nn.Projection(
                "S", "E", nn.dense(src, size, 0.004), EXP, delay=0.5, compartment="distal"
            )
        ]
    return nn.Network(pops, projections, list(drives), dt=dt)


def spikes_in(src=4, n=N):
    x = np.zeros((n, src))
    x[5, :] = 1.0
    x[25, 1] = 1.0
    return x


def run(network, current=0.3, inputs=None, n=N, dt=DT, **kw):
    size = network.populations["E"].size
    ins = {"E": jnp.full((n, size), current), "S": jnp.asarray(spikes_in(n=n))}
    ins.update(inputs or {})
    return nj.simulate(network, ins, dt=dt, solver=nj.solvers.Euler(), key=jax.random.key(0), **kw)


def proj(compartment="distal", delay=0.5, conn=None, synapse=EXP, size=3, src=4):
    return nn.Projection(
        "S", "E", conn or nn.dense(src, size, 0.004), synapse, delay=delay, compartment=compartment
    )


def tree(c, field, value):
    return eqx.tree_at(lambda x: getattr(x, field), c, value)


# ------------------------------------------------------------------------------ checks


def same_as(reference):
    """The run's spikes and voltages equal those of `reference()` (a call)."""

    def check(sol):
        ref = reference()
        return all(
            np.array_equal(np.asarray(sol.spikes[k]), np.asarray(ref.spikes[k])) for k in sol.spikes
        ) and np.allclose(np.asarray(sol.v["E"]), np.asarray(ref.v["E"]), atol=1e-5)

    return check


def per_neuron_matches_scalar(field, values, size=3, current=0.3):
    """Neuron k of a population with `field` = values (one per neuron) behaves as a
    population whose `field` is `values[k]` for all."""

    def check(sol):
        for k, val in enumerate(values):
            ref = run(
                net(tree(cell(), field, jnp.asarray(val, float)), size=size),
                n=LONG,
                current=current,
            )
            if not np.array_equal(
                np.asarray(sol.spikes["E"])[:, k], np.asarray(ref.spikes["E"])[:, k]
            ):
                return False
            if not np.allclose(
                np.asarray(sol.v["E"])[:, k], np.asarray(ref.v["E"])[:, k], atol=1e-5
            ):
                return False
        return bool(np.asarray(sol.spikes["E"]).sum() > 0)

    return check


# ------------------------------------------------------------------------------ probes
# (label, call, words the error must contain | None, check of a result | None)


def probes():
    P = []

    def add(label, fn, words=None, check=None):
        P.append((label, fn, words, check))

    # --- A. targets ---------------------------------------------------------------------
    add(
        "projection onto a missing compartment",
        lambda: net(projections=[proj("apical")]),
        ["'apical'", "compartments are"],
    )
    add(
        "projection compartment as an index",
        lambda: net(projections=[proj(2)]),
        ["compartment", "2"],
    )
    add("projection compartment ''", lambda: net(projections=[proj("")]), ["''"])
    add("projection compartment 'Soma' (case)", lambda: net(projections=[proj("Soma")]), ["'Soma'"])
    add(
        "projection compartment as a list",
        lambda: net(projections=[proj(["distal"])]),
        ["compartment"],
    )
    add(
        "projection compartment np.str_",
        lambda: run(net(projections=[proj(np.str_("distal"))])),
        None,
        same_as(lambda: run(net())),
    )
    add(
        "projection compartment None is the soma",
        lambda: run(net(projections=[proj(None)])),
        None,
        same_as(lambda: run(net(projections=[proj("soma")]))),
    )
    add(
        "projection compartment onto a point population",
        lambda: nn.Network(
            {"P": nn.Population(neurons.LIF(), 3), "S": nn.Population(nn.SpikeSource(), 4)},
            [nn.Projection("S", "P", nn.dense(4, 3, 0.1), EXP, compartment="distal")],
            dt=DT,
        ),
        ["compartment", "point neuron"],
    )
    add(
        "projection onto a SpikeSource",
        lambda: nn.Network(
            {"E": nn.Population(cell(), 3), "S": nn.Population(nn.SpikeSource(), 4)},
            [nn.Projection("E", "S", nn.dense(3, 4, 0.1), EXP)],
            dt=DT,
        ),
        ["SpikeSource"],
    )
    add(
        "drive onto a missing compartment",
        lambda: net(
            drives=[
                nn.PoissonDrive("E", EXP, rate=10.0, weight=0.01, n_sources=5, compartment="tuft")
            ]
        ),
        ["'tuft'"],
    )
    add(
        "drive onto a missing population",
        lambda: net(drives=[nn.PoissonDrive("X", EXP, rate=10.0, weight=0.01, n_sources=5)]),
        ["'X'"],
    )
    add(
        "input dict naming a missing compartment",
        lambda: run(net(), inputs={"E": {"apical": jnp.zeros((N, 3))}}),
        ["'apical'"],
    )
    add(
        "input dict for a missing population",
        lambda: run(net(), inputs={"F": jnp.zeros(N)}),
        ["'F'"],
    )
    add(
        "input per compartment, wrong count",
        lambda: run(net(), inputs={"E": jnp.zeros((N, 3, 2))}),
        ["inputs['E']"],
    )
    add(
        "input per neuron, wrong size",
        lambda: run(net(), inputs={"E": jnp.zeros((N, 4))}),
        ["inputs['E']"],
    )
    add(
        "record a missing compartment",
        lambda: net().record(v={"E": (slice(None), "apical")}),
        ["'apical'"],
    )
    add(
        "record a neuron beyond the population",
        lambda: net().record(v={"E": [5]}),
        ["E", "index 5", "out of bounds"],
    )
    add(
        "NaN current into a dendrite",
        lambda: run(net(), inputs={"E": {"distal": jnp.full((N, 3), jnp.nan)}}),
        ["NaN"],
    )
    add("inf current", lambda: run(net(), current=jnp.inf), ["inf"])
    # --- B. dSpike timings ----------------------------------------------------------------
    add("dSpike duration_rise < 0", lambda: ds(duration_rise=-1.0), ["duration_rise"])
    add("dSpike duration_rise NaN", lambda: ds(duration_rise=np.nan), ["duration_rise"])
    add("dSpike duration_fall inf", lambda: ds(duration_fall=np.inf), ["duration_fall"])
    add("dSpike refractory < rise", lambda: ds(refractory=0.5), ["refractory", "duration_rise"])
    add("dSpike offset_fall < 0", lambda: ds(offset_fall=-0.1), ["offset_fall"])
    add("dSpike refractory inf", lambda: ds(refractory=np.inf), ["refractory"])
    add("dSpike rise of zero with g_rise > 0", lambda: ds(duration_rise=0.0), ["duration_rise"])
    add("dSpike fall of zero with g_fall > 0", lambda: ds(duration_fall=0.0), ["duration_fall"])
    add(
        "dSpike rise shorter than dt",
        lambda: net(cell_with(duration_rise=0.05, refractory=5.0)),
        ["duration_rise", "distal"],
    )
    add(
        "dSpike rise off the grid",
        lambda: net(cell_with(duration_rise=0.15)),
        ["duration_rise", "distal", "whole number"],
    )
    add(
        "dSpike offset off the grid",
        lambda: net(cell_with(offset_fall=0.25)),
        ["offset_fall", "distal"],
    )
    add(
        "dSpike refractory of 1e7 ms",
        lambda: net(cell_with(refractory=1e7)),
        ["refractory", "distal"],
    )
    add("dSpike threshold NaN", lambda: ds(threshold=np.nan), ["threshold"])
    add("dSpike threshold inf", lambda: ds(threshold=np.inf), ["threshold"])
    add("dSpike g_rise < 0", lambda: ds(g_rise=-0.01), ["g_rise"])
    add("dSpike g_fall NaN", lambda: ds(g_fall=np.nan), ["g_fall"])
    add("dSpike e_rise NaN", lambda: ds(e_rise=np.nan), ["e_rise"])
    add("dSpike duration as a string", lambda: ds(duration_rise="1.2"), ["duration_rise"])
    add("dSpike duration as a bool", lambda: ds(duration_rise=True), ["duration_rise"])
    add(
        "dSpike duration as an array",
        lambda: ds(duration_rise=np.array([1.2, 1.2])),
        ["duration_rise"],
    )
    add(
        "dSpike refractory < rise set after the build",
        lambda: net(tree(cell(), "refractory_d", jnp.array([0.0, 0.0, 0.5]))),
        ["refractory", "distal"],
    )
    add(
        "dSpike rise off the grid set after the build",
        lambda: net(tree(cell(), "duration_rise", jnp.array([0.0, 0.0, 0.15]))),
        ["duration_rise", "distal"],
    )
    add(
        "dSpike negative offset set after the build",
        lambda: net(tree(cell(), "offset_fall", jnp.array([0.0, 0.0, -0.2]))),
        ["offset_fall"],
    )
    add(
        "dSpike threshold NaN set after the build",
        lambda: net(tree(cell(), "threshold", jnp.array([jnp.inf, jnp.inf, jnp.nan]))),
        ["threshold", "distal"],
    )
    add(
        "dSpike g_rise < 0 set after the build",
        lambda: run(net(tree(cell(), "g_rise", jnp.array([0.0, 0.0, -0.03])))),
        ["g_rise"],
    )
    # --- C. couplings -------------------------------------------------------------------
    add(
        "coupling < 0",
        lambda: cell([("soma", "proximal", -0.03), ("proximal", "distal", 0.01)]),
        ["coupling", "'soma', 'proximal'"],
    )
    add(
        "coupling 0",
        lambda: cell([("soma", "proximal", 0.0), ("proximal", "distal", 0.01)]),
        ["coupling", "'soma', 'proximal'"],
    )
    add(
        "coupling NaN",
        lambda: cell([("soma", "proximal", np.nan), ("proximal", "distal", 0.01)]),
        ["coupling", "'soma', 'proximal'"],
    )
    add(
        "coupling inf",
        lambda: cell([("soma", "proximal", np.inf), ("proximal", "distal", 0.01)]),
        ["coupling"],
    )
    add(
        "coupling as a bool",
        lambda: cell([("soma", "proximal", True), ("proximal", "distal", 0.01)]),
        ["coupling"],
    )
    add(
        "coupling complex",
        lambda: cell([("soma", "proximal", 0.03j), ("proximal", "distal", 0.01)]),
        ["coupling"],
    )
    add(
        "coupling rule unknown",
        lambda: cell([("soma", "proximal", "half"), ("proximal", "distal", 0.01)]),
        ["'half'"],
    )
    add(
        "cylinder_ naming neither end",
        lambda: cell([("soma", "proximal", "cylinder_distal"), ("proximal", "distal", 0.01)]),
        ["cylinder_distal"],
    )
    add(
        "half_cylinders between dimensionless compartments",
        lambda: cell([("soma", "proximal"), ("proximal", "distal", 0.01)]),
        ["dimensionless", "'soma'"],
    )
    add(
        "coupling to a missing compartment",
        lambda: cell([("soma", "apical", 0.03), ("proximal", "distal", 0.01)]),
        ["'apical'"],
    )
    add(
        "coupling < 0 set after the build",
        lambda: net(tree(cell(), "g_couple", jnp.array([-0.03, 0.012]))),
        ["g_couple"],
    )
    add(
        "coupling NaN set after the build",
        lambda: net(tree(cell(), "g_couple", jnp.array([jnp.nan, 0.012]))),
        ["g_couple"],
    )
    add(
        "coupling of the wrong shape set after the build",
        lambda: net(tree(cell(), "g_couple", jnp.array([0.03, 0.012, 0.01]))),
        ["g_couple"],
    )
    add(
        "coupling < 0 set after the network",
        lambda: run(
            eqx.tree_at(
                lambda n: n.populations["E"].neuron.g_couple, net(), jnp.array([-0.03, 0.012])
            )
        ),
        ["g_couple"],
    )
    add(
        "coupling of the wrong shape set after the network",
        lambda: run(
            eqx.tree_at(
                lambda n: n.populations["E"].neuron.g_couple, net(), jnp.array([0.03, 0.012, 0.01])
            )
        ),
        ["g_couple", "(3,)"],
    )
    # --- D. capacitances, leaks, areas ------------------------------------------------------
    add("c_abs 0", lambda: Compartment("d", c_abs=0.0, gl_abs=0.001), ["'d'", "c_abs"])
    add("c_abs < 0", lambda: Compartment("d", c_abs=-0.1, gl_abs=0.001), ["'d'", "c_abs"])
    add("c_abs NaN", lambda: Compartment("d", c_abs=np.nan, gl_abs=0.001), ["'d'", "c_abs"])
    add("gl_abs < 0", lambda: Compartment("d", c_abs=0.1, gl_abs=-0.001), ["'d'", "gl_abs"])
    add("length < 0", lambda: Compartment("d", length=-100.0, diameter=1.0), ["'d'", "length"])
    add("diameter 0", lambda: Compartment("d", length=100.0, diameter=0.0), ["'d'", "diameter"])
    add("length NaN", lambda: Compartment("d", length=np.nan, diameter=1.0), ["'d'", "length"])
    add(
        "scale_factor 0",
        lambda: Compartment("d", length=100.0, diameter=1.0, scale_factor=0.0),
        ["scale_factor"],
    )
    add(
        "spine_factor NaN",
        lambda: Compartment("d", length=100.0, diameter=1.0, spine_factor=np.nan),
        ["spine_factor"],
    )
    add("cm < 0", lambda: Compartment("d", length=100.0, diameter=1.0, cm=-1.0), ["cm"])
    add("ra 0", lambda: Compartment("d", length=100.0, diameter=1.0, ra=0.0), ["ra"])
    add(
        "capacitance < 0 set after the build",
        lambda: net(tree(cell(), "c", jnp.array([0.2, -0.06, 0.03]))),
        ["c"],
    )
    add(
        "capacitance NaN set after the build",
        lambda: net(tree(cell(), "c", jnp.array([0.2, jnp.nan, 0.03]))),
        ["c"],
    )
    add(
        "capacitance of the wrong shape set after the build",
        lambda: net(tree(cell(), "c", jnp.array([0.2, 0.06]))),
        ["ReducedCell.c", "shape"],
    )
    add(
        "leak of the wrong shape set after the build",
        lambda: net(tree(cell(), "g_l", jnp.array([0.01, 0.003, 0.001, 0.001]))),
        ["ReducedCell.g_l", "shape"],
    )
    add(
        "leak < 0 set after the build",
        lambda: net(tree(cell(), "g_l", jnp.array([0.01, -0.003, 0.0015]))),
        ["g_l"],
    )
    add(
        "capacitance < 0 set after the network",
        lambda: run(
            eqx.tree_at(lambda n: n.populations["E"].neuron.c, net(), jnp.array([0.2, -0.06, 0.03]))
        ),
        ["c"],
    )
    add(
        "c_abs that float32 turns into 0",
        lambda: net(ReducedCell.build([Compartment("soma", c_abs=1e-50, gl_abs=0.01)], [])),
        ["c"],
    )
    add(
        "coupling that float32 turns into 0",
        lambda: cell([("soma", "proximal", 1e-50), ("proximal", "distal", 0.01)]),
        ["g_couple"],
    )
    # --- E. per-neuron parameters ---------------------------------------------------------
    add(
        "v_th one per neuron (3 for 3)",
        lambda: run(net(tree(cell(), "v_th", jnp.array([-50.0, -47.0, -53.0]))), n=LONG),
        None,
        per_neuron_matches_scalar("v_th", [-50.0, -47.0, -53.0]),
    )
    add(
        "v_reset one per neuron (3 for 3)",
        lambda: run(net(tree(cell(), "v_reset", jnp.array([-60.0, -65.0, -55.0]))), n=LONG),
        None,
        per_neuron_matches_scalar("v_reset", [-60.0, -65.0, -55.0]),
    )
    add(
        "t_ref one per neuron (3 for 3)",
        lambda: run(net(tree(cell(), "t_ref", jnp.array([0.0, 1.0, 3.0]))), current=0.8, n=LONG),
        None,
        per_neuron_matches_scalar("t_ref", [0.0, 1.0, 3.0], current=0.8),
    )
    add(
        "v_th 4 values for 3 neurons",
        lambda: net(tree(cell(), "v_th", jnp.array([-50.0, -47.0, -53.0, -51.0]))),
        ["v_th", "(4,)", "3"],
    )
    add(
        "v_reset 2 values for 3 neurons",
        lambda: net(tree(cell(), "v_reset", jnp.array([-60.0, -65.0]))),
        ["v_reset", "(2,)"],
    )
    add(
        "t_ref shaped (3, 1)",
        lambda: net(tree(cell(), "t_ref", jnp.full((3, 1), 2.0))),
        ["t_ref", "(3, 1)"],
    )
    add(
        "v_th shaped (3, 3)",
        lambda: net(tree(cell(), "v_th", jnp.full((3, 3), -50.0))),
        ["v_th", "(3, 3)"],
    )
    add(
        "v_spike 4 values for 3 neurons",
        lambda: net(tree(cell(v_spike=20.0, spike_width=0.5), "v_spike", jnp.full((4,), 20.0))),
        ["v_spike", "(4,)"],
    )
    add(
        "spike_width per neuron longer than t_ref",
        lambda: net(
            tree(cell(v_spike=20.0, spike_width=0.5), "spike_width", jnp.array([0.5, 3.0, 0.5]))
        ),
        ["spike_width", "t_ref"],
    )
    add(
        "v_th 4 values for 3 neurons set after the network",
        lambda: run(
            eqx.tree_at(lambda n: n.populations["E"].neuron.v_th, net(), jnp.full(4, -50.0))
        ),
        ["v_th", "(4,)", "'E'"],
    )
    add(
        "e_l one per neuron set after the network",
        lambda: run(
            eqx.tree_at(lambda n: n.populations["E"].neuron.e_l, net(), jnp.full((3, 3), -70.0))
        ),
        ["e_l", "(3, 3)"],
    )
    add(
        "t_ref per neuron NaN",
        lambda: net(tree(cell(), "t_ref", jnp.array([2.0, jnp.nan, 2.0]))),
        ["t_ref"],
    )
    add(
        "t_ref per neuron off the grid",
        lambda: net(tree(cell(), "t_ref", jnp.array([2.0, 2.05, 2.0]))),
        ["t_ref", "whole"],
    )
    add(
        "spike_width NaN set after the build",
        lambda: net(tree(cell(v_spike=20.0, spike_width=0.5), "spike_width", jnp.nan)),
        ["spike_width", "nan"],
    )
    add(
        "spike_width per neuron NaN set after the build",
        lambda: net(
            tree(cell(v_spike=20.0, spike_width=0.5), "spike_width", jnp.array([0.5, jnp.nan, 0.5]))
        ),
        ["spike_width", "nan"],
    )
    add(
        "dSpike duration_fall NaN set after the build",
        lambda: net(tree(cell(), "duration_fall", jnp.array([0.0, 0.0, jnp.nan]))),
        ["duration_fall", "distal"],
    )
    add(
        "v_spike NaN set after the build",
        lambda: run(net(tree(cell(v_spike=20.0, spike_width=0.5), "v_spike", jnp.nan))),
        ["v_spike"],
    )
    add("v_th NaN set after the build", lambda: run(net(tree(cell(), "v_th", jnp.nan))), ["v_th"])
    add(
        "e_l one per neuron (size, n)",
        lambda: net(tree(cell(), "e_l", jnp.full((3, 3), -70.0))),
        ["e_l", "per-neuron"],
    )
    add(
        "v_th per neuron as the build argument",
        lambda: cell(v_th=np.array([-50.0, -48.0, -52.0])),
        ["v_th"],
    )
    # --- F. spike trains -----------------------------------------------------------------
    add(
        "spike_counts unsorted times",
        lambda: nn.spike_counts([1, 0, 1], [3.0, 0.5, 1.0], 2, 50, DT),
        None,
        lambda x: np.array_equal(x, nn.spike_counts([0, 1, 1], [0.5, 1.0, 3.0], 2, 50, DT)),
    )
    add("spike_counts negative time", lambda: nn.spike_counts([0], [-0.5], 2, 50, DT), ["-0.5"])
    add("spike_counts NaN time", lambda: nn.spike_counts([0], [np.nan], 2, 50, DT), ["nan"])
    add("spike_counts inf time", lambda: nn.spike_counts([0], [np.inf], 2, 50, DT), ["inf"])
    add(
        "spike_counts index out of range",
        lambda: nn.spike_counts([2], [1.0], 2, 50, DT),
        ["index 2"],
    )
    add(
        "spike_counts negative index", lambda: nn.spike_counts([-1], [1.0], 2, 50, DT), ["index -1"]
    )
    add(
        "spike_counts fractional index",
        lambda: nn.spike_counts([0.5], [1.0], 2, 50, DT),
        ["indices"],
    )
    add(
        "spike_counts lengths differ",
        lambda: nn.spike_counts([0, 1], [1.0], 2, 50, DT),
        ["same length"],
    )
    add(
        "spike_counts time after the run",
        lambda: nn.spike_counts([0], [5.0], 2, 50, DT),
        ["5 ms", "end of the run"],
    )
    add(
        "spike_counts two spikes of a source in a step",
        lambda: nn.spike_counts([0, 0], [1.0, 1.05], 2, 50, DT),
        None,
        lambda x: x[10, 0] == 2 and x.sum() == 2,
    )
    add(
        "SpikeSource input negative",
        lambda: run(net(), inputs={"S": -jnp.asarray(spikes_in())}),
        ["SpikeSource", "negative"],
    )
    add(
        "SpikeSource input NaN",
        lambda: run(net(), inputs={"S": jnp.full((N, 4), jnp.nan)}),
        ["SpikeSource"],
    )
    add(
        "SpikeSource input inf",
        lambda: run(net(), inputs={"S": jnp.full((N, 4), jnp.inf)}),
        ["SpikeSource"],
    )
    add(
        "SpikeSource input fractional",
        lambda: run(net(), inputs={"S": jnp.full((N, 4), 0.5)}),
        ["SpikeSource"],
    )
    add(
        "SpikeSource input of the wrong width",
        lambda: run(net(), inputs={"S": jnp.zeros((N, 5))}),
        ["inputs['S']"],
    )
    add(
        "SpikeSource input missing",
        lambda: nj.simulate(
            net(), {"E": jnp.zeros((N, 3))}, dt=DT, solver=nj.solvers.Euler(), key=jax.random.key(0)
        ),
        ["SpikeSource", "'S'"],
    )
    # --- G. delays ------------------------------------------------------------------------
    add("delay off the grid", lambda: net(projections=[proj(delay=0.15)]), ["delay", "0.15"])
    add("delay < 0", lambda: net(projections=[proj(delay=-0.5)]), ["delay"])
    add("delay NaN", lambda: net(projections=[proj(delay=np.nan)]), ["delay"])
    add("delay inf", lambda: net(projections=[proj(delay=np.inf)]), ["delay"])
    add("delay as a string", lambda: net(projections=[proj(delay="1 ms")]), ["delay"])
    add("delay of 10⁹ ms", lambda: net(projections=[proj(delay=1e9)]), ["delay"])
    add(
        "per-synapse delays < 0",
        lambda: net(projections=[proj(delay=hetero(-0.2), conn=pairs_conn())]),
        ["delay"],
    )
    add(
        "per-synapse delays NaN",
        lambda: net(projections=[proj(delay=hetero(np.nan), conn=pairs_conn())]),
        ["delay"],
    )
    add(
        "per-synapse delays of the wrong shape",
        lambda: net(projections=[proj(delay=np.full(5, 0.5), conn=pairs_conn())]),
        ["delay"],
    )
    add(
        "delay a whole number of steps: arrives d steps later",
        lambda: arrival_step(1.0),
        None,
        lambda k: k == 5 + 10 + 1,
    )
    # --- H. sizes -------------------------------------------------------------------------
    add("population of zero neurons", lambda: nn.Population(cell(), 0), ["size", "0"])
    add("population of -1 neurons", lambda: nn.Population(cell(), -1), ["size"])
    add("population of 2.5 neurons", lambda: nn.Population(cell(), 2.5), ["size"])
    add("population size True", lambda: nn.Population(cell(), True), ["size"])
    add(
        "population size np.int64",
        lambda: run(net(size=np.int64(3))),
        None,
        same_as(lambda: run(net())),
    )
    add(
        "projection with no synapses",
        lambda: run(net(projections=[proj(conn=nn.from_pairs([], [], 4, 3, []))])),
        None,
        same_as(lambda: run(net(projections=[]))),
    )
    add(
        "Sparse with no synapses and a scalar weight",
        lambda: run(net(projections=[proj(conn=nn.Sparse(np.zeros((4, 0), int), 0.5, 3))])),
        None,
        same_as(lambda: run(net(projections=[]))),
    )
    add(
        "connectivity sized for another population",
        lambda: net(projections=[proj(conn=nn.dense(4, 5, 0.004))]),
        ["connectivity"],
    )
    # --- I. dt against the timings ---------------------------------------------------------
    add("dt longer than t_ref", lambda: net(cell(t_ref=0.05)), ["t_ref"])
    add(
        "dt longer than a dSpike rise",
        lambda: net(cell_with(duration_rise=0.2), dt=0.5),
        ["duration_rise", "distal"],
    )
    add(
        "dt longer than spike_width",
        lambda: net(cell(v_spike=20.0, spike_width=0.05)),
        ["spike_width"],
    )
    add("simulate at another dt than the network's", lambda: run(net(), dt=0.05, n=N), ["dt"])
    add(
        "a cell alone at a dt that does not divide t_ref",
        lambda: nj.simulate(cell(t_ref=2.05), jnp.zeros((N, 3)), dt=0.1, solver=nj.solvers.Euler()),
        ["t_ref", "2.05"],
    )
    add("network dt 0", lambda: net(dt=0.0), ["dt"])
    add("network dt NaN", lambda: net(dt=np.nan), ["dt"])
    add("network dt -0.1", lambda: net(dt=-0.1), ["dt"])
    # --- J. precision -----------------------------------------------------------------------
    add(
        "cell built in float64, run in float32",
        float64_cell_in_float32,
        None,
        same_as(lambda: run(net())),
    )
    add(
        "cell built in float32, run in float64",
        float32_cell_in_float64,
        ["float32", "float64", "x64"],
    )
    add(
        "float64 numpy inputs in float32",
        lambda: run(net(), inputs={"E": np.full((N, 3), 0.3, np.float64)}),
        None,
        same_as(lambda: run(net())),
    )
    add(
        "float16 cell",
        lambda: net(
            jax.tree.map(lambda x: x.astype(jnp.float16) if eqx.is_inexact_array(x) else x, cell())
        ),
        ["float16"],
    )
    # --- K. synaptic weights and drives ------------------------------------------------------
    add(
        "negative conductance weight",
        lambda: net(projections=[proj(conn=nn.dense(4, 3, -0.004))]),
        ["weight"],
    )
    add("NaN weight", lambda: net(projections=[proj(conn=nn.dense(4, 3, np.nan))]), ["weight"])
    add(
        "drive rate < 0",
        lambda: nn.PoissonDrive("E", EXP, rate=-5.0, weight=0.01, n_sources=5),
        ["rate"],
    )
    add(
        "drive rate NaN",
        lambda: nn.PoissonDrive("E", EXP, rate=np.nan, weight=0.01, n_sources=5),
        ["rate"],
    )
    add(
        "drive n_sources 0",
        lambda: nn.PoissonDrive("E", EXP, rate=5.0, weight=0.01, n_sources=0),
        ["n_sources"],
    )
    add(
        "drive weight < 0 onto a conductance synapse",
        lambda: nn.PoissonDrive(
            "E", EXP, rate=5.0, weight=-0.01, n_sources=5, compartment="distal"
        ),
        ["weight"],
    )
    add(
        "drive weights per neuron, wrong count",
        lambda: net(
            drives=[nn.PoissonDrive("E", EXP, rate=5.0, weight=jnp.full(4, 0.01), n_sources=5)]
        ),
        ["weight", "(4,)"],
    )
    add("NMDA with a NaN Mg²⁺", lambda: ns.MgBlock(EXP, mg=np.nan), ["mg"])
    add("NMDA with a negative Mg²⁺", lambda: ns.MgBlock(EXP, mg=-1.0), ["mg"])
    return P


def cell_with(**dsp):
    return ReducedCell.build(
        comps(dspikes=ds(**dsp)),
        [("soma", "proximal", 0.03), ("proximal", "distal", 0.012)],
        v_th=-50.0,
        v_reset=-60.0,
        t_ref=2.0,
    )


def pairs_conn(w=0.004):
    i, j = np.nonzero(np.ones((4, 3)))
    return nn.from_pairs(i, j, 4, 3, np.full(12, w))


def hetero(value):
    """Per-synapse delays (ms) in `pairs_conn`'s layout, every stored synapse `value`."""
    w = np.asarray(pairs_conn(1.0).weight)
    return np.where(w != 0, value, 0.0)


def arrival_step(delay):
    """The step whose update first shows a spike of step 5 (delay in ms) in the distal
    dendrite of a passive cell: Brian2's order, s + d + 1."""
    c = tree(cell(), "threshold", jnp.array([jnp.inf, jnp.inf, jnp.inf]))
    network = net(c, projections=[proj(delay=delay)])
    x = np.zeros((N, 4))
    x[5, 0] = 1.0
    sol = run(network, current=0.0, inputs={"S": jnp.asarray(x)})
    v = np.asarray(sol.v["E"])[:, 0, 2]
    return int(np.argmax(v > v[0] + 1e-6))


def float64_cell_in_float32():
    with jax.enable_x64(True):
        c = cell()
    return run(net(c))


def float32_cell_in_float64():
    c = cell()
    with jax.enable_x64(True):
        return run(net(c))


# ------------------------------------------------------------------------------ driver


def verdict(fn, words, check):
    try:
        out = fn()
        if hasattr(out, "v"):
            jax.block_until_ready(out.v)
    except (ValueError, TypeError, FloatingPointError, IndexError) as e:
        msg = str(e)
        if words is None:
            return "UNCLEAR", f"{type(e).__name__}: {msg[:200]}"
        missing = [w for w in words if w.lower() not in msg.lower()]
        if missing:
            return "UNCLEAR", f"{type(e).__name__} lacks {missing}: {msg[:200]}"
        return "clear", f"{type(e).__name__}: {msg[:120]}"
    except Exception as e:  # noqa: BLE001
        return "UNCLEAR", f"{type(e).__name__}: {str(e)[:200]}"
    if words is not None:
        return "SILENT", "ran; should have been refused"
    if check is None:
        return "ok", "ran (checked in the test)"
    try:
        good = bool(check(out))
    except Exception as e:  # noqa: BLE001
        return "SILENT", f"check failed: {type(e).__name__}: {str(e)[:150]}"
    return ("ok", "checked") if good else ("SILENT", "ran; wrong answer")


def main(argv):
    sel = [a for a in argv[1:] if not a.startswith("--")]
    rows = []
    for label, fn, words, check in probes():
        if sel and not any(re.search(s, label) for s in sel):
            continue
        v, note = verdict(fn, words, check)
        rows.append((label, v, note))
        print(f"{v:8s} {label:55s} {note}", flush=True)
    counts = {k: sum(r[1] == k for r in rows) for k in ("clear", "ok", "UNCLEAR", "SILENT")}
    print(f"{len(rows)} probes: {counts}")


if __name__ == "__main__":
    main(sys.argv)
