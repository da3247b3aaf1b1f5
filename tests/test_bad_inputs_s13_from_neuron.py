"""Session-13 probes (round 6) of `cable.from_neuron`: what NEURON holds that the import
ignored (a section's `rallbranch`, an inactive `NetCon`) and arguments that failed with
numpy's or Python's own messages. Each case gave a silently wrong cell or an unreadable
error before (`docs/numerics.md`, "Probes of the API (session 13)"). Sections are local to
each test (NEURON deletes a Python-made section with its last reference), so no test
leaves a second tree for `from_neuron()`'s default of every section."""

import jax
import jax.numpy as jnp
import neuron  # (a dev dependency, as in tests/test_from_neuron.py)
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import from_neuron

h = neuron.h
h.load_file("stdrun.hoc")


def _ball_and_stick(tag):
    soma = h.Section(name=f"s13soma_{tag}")
    soma.L = soma.diam = 20.0
    soma.insert("pas")
    dend = h.Section(name=f"s13dend_{tag}")
    dend.connect(soma(1), 0)
    dend.L, dend.diam, dend.nseg = 200.0, 2.0, 5
    dend.insert("pas")
    return soma, dend


def test_rallbranch_is_refused_naming_the_section():
    # was ignored: rallbranch = 2 on the dendrite moved the soma's V by 1.34 mV from
    # NEURON's (0.1 nA for 10 ms, backward Euler at dt 0.025 ms; 4e-5 mV with rallbranch 1)
    soma, dend = _ball_and_stick("rb")
    dend.rallbranch = 2.0
    with pytest.raises(ValueError, match=r"section s13dend_rb: rallbranch = 2 .* not carried"):
        from_neuron([soma, dend])
    dend.rallbranch = 1.0  # the control
    assert len(from_neuron([soma, dend]).branches) == 2


def _netcon_cell(tag, active):
    soma, dend = _ball_and_stick(tag)
    syn = h.ExpSyn(dend(0.5))
    stim = h.NetStim()
    stim.start, stim.number, stim.interval, stim.noise = 2.0, 3, 3.0, 0.0
    nc = h.NetCon(stim, syn)
    nc.weight[0], nc.delay = 0.01, 1.0
    nc.active(active)
    return soma, dend, syn, stim, nc


@pytest.mark.slow  # imports NEURON's expsyn.mod through neurojax.nmodl (~2.7 s wall)
@pytest.mark.parametrize("active, n_events", [(False, 0), (True, 1)])
def test_an_inactive_netcon_delivers_nothing(active, n_events):
    # nc.active(False): NEURON delivers no event through it, but its NetStim's events were
    # imported (2.2 mV off NEURON at the soma in 20 ms, test below)
    parts = _netcon_cell(f"nc{int(active)}", active)
    imp = from_neuron(parts[:2])
    assert [len(stims) for stims in imp.netstims] == [n_events]


@pytest.mark.slow  # both simulators, 800 steps (compiles a cell run)
def test_an_inactive_netcon_matches_neuron():
    soma, dend, syn, stim, nc = _netcon_cell("ncrun", False)
    n, dt = 800, 0.025
    rec = h.Vector().record(soma(0.5)._ref_v)
    h.dt = dt
    h.finitialize(-65.0)
    h.continuerun(n * dt)
    v_neuron = np.asarray(rec)[1 : n + 1]
    imp = from_neuron([soma, dend], v_init=-65.0)
    save = nj.SaveAt(fn=imp.cell.record_v([imp.site(soma, 0.5)]))
    u = jax.tree.map(jnp.asarray, imp.inputs(n, dt))
    sol = nj.simulate(imp.cell, u, dt=dt, solver=nj.solvers.BackwardEuler(), saveat=save)
    # float32 backward Euler of a passive cell at rest: within 1e-3 mV of NEURON's
    assert np.max(np.abs(np.asarray(sol.states)[:, 0] - v_neuron)) < 1e-3


def test_site_takes_the_section_itself():
    # imp.site(dend, 0.3) said "no section s13dend_si; the sections are ['s13dend_si', ...]"
    soma, dend = _ball_and_stick("si")
    imp = from_neuron([soma, dend])
    assert imp.site(dend, 0.3) == imp.site("s13dend_si", 0.3)


@pytest.mark.parametrize("x", ["0.3", None, 0.3 + 0j])
def test_site_x_must_be_a_number(x):
    # "0.3" and None failed in numpy ("ufunc 'isfinite' not supported for the input types")
    soma, dend = _ball_and_stick("sx")
    imp = from_neuron([soma, dend])
    with pytest.raises(TypeError, match=r"x must be a number in \[0, 1\]"):
        imp.site("s13dend_sx", x)


def test_inputs_dt_must_be_a_number():
    soma, dend = _ball_and_stick("dt")
    imp = from_neuron([soma, dend])
    with pytest.raises(TypeError, match="dt must be a number of ms, got '0.025'"):
        imp.inputs(10, "0.025")
    assert imp.inputs(10, np.float32(0.025)).shape == (10, 0)  # the control


def test_h_must_be_neurons_h():
    # was "'int' object has no attribute 'section_orientation'"
    with pytest.raises(TypeError, match="h must be NEURON's h"):
        from_neuron([], h=5)


@pytest.mark.slow  # imports NEURON's expsyn.mod through neurojax.nmodl (~2.7 s wall)
def test_a_netstim_driven_by_a_netcon_is_refused():
    # a NetCon onto the NetStim (events turn it on/off) was ignored: the NetStim was
    # imported as free-running
    parts = _netcon_cell("drv", True)
    other = h.NetStim()
    switch = h.NetCon(other, parts[3])
    switch.weight[0] = -1.0  # NEURON: an event with weight < 0 turns the NetStim off
    with pytest.raises(ValueError, match=r"NetStim\[\d+\], which is itself the target of a"):
        from_neuron(parts[:2])
    del switch
