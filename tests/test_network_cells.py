"""Morphologically detailed `cable.Cell`s as populations of a `network.Network`:
synapses at `(branch, x)` sites, delays, SpikeSource and Poisson inputs, NEURON's NetCon
spike rule; validated against NEURON (NetCon + ExpSyn, the same morphology and nseg)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns
from neurojax.cable import HH, Branch, Cell, Morphology, Passive
from neurojax.neurons import LIF
from neurojax.solvers import BackwardEuler

DT = 0.025  # ms
T = 40.0  # ms
N_STEPS = int(round(T / DT))
SOMA, DEND = (20.0, 20.0, 1), (200.0, 1.0, 5)  # L µm, diam µm, nseg
RA = 100.0  # Ω·cm
W, TAU, DELAY, SITE = 0.01, 2.0, 1.0, (1, 0.9)  # µS, ms, ms: the chain's ExpSyn
SRC_T, W_SRC, D_SRC = (3.0, 20.0), 0.02, 0.5  # input spike times (ms), µS, ms
SITES = [(0, 0.5), (1, 0.9), (1, 0.5)]


def _cell(point_process=None):
    """Ball and stick; with `point_process`, that process at `SITE` (dend(0.9))."""
    morph = Morphology(
        [
            Branch(SOMA[0], SOMA[1], nseg=SOMA[2], type="soma"),
            Branch(DEND[0], DEND[1], parent=0, nseg=DEND[2], type="dend"),
        ]
    )
    return Cell(
        morph,
        [(HH(), "soma"), (Passive(g=0.1, e=-65.0), "dend")],
        clamps=[(0, 0.5)],
        cm=1.0,
        ra=RA,
        point_processes=[] if point_process is None else [(point_process, SITE)],
    )


def _network(cell, drive=False, chain_synapse=None):
    """A chain of three ball-and-stick cells, S → C0 → C1 → C2 (ExpSyn on the dendrite,
    delays), and with `drive` two more cells ("D") under a Poisson drive. The chain's
    synapse: the network's `Exponential` at `SITE`, or `chain_synapse` (the cell's own
    point process, `PointProcessTarget`)."""
    pops = {"C": nn.Population(cell, 3), "S": nn.Population(nn.SpikeSource(), 1)}
    exp = ns.Exponential(tau=TAU, e_rev=0.0)
    chain = nn.from_pairs([0, 1], [1, 2], 3, 3, W)
    projs = [
        nn.Projection("C", "C", chain, exp, DELAY, site=SITE)
        if chain_synapse is None
        else nn.Projection("C", "C", chain, chain_synapse, DELAY),
        nn.Projection("S", "C", nn.from_pairs([0], [0], 1, 3, W_SRC), exp, D_SRC, site=(1, 0.5)),
    ]
    drives = []
    if drive:
        pops["D"] = nn.Population(cell, 2)
        drives = [nn.PoissonDrive("D", exp, rate=50.0, weight=0.002, n_sources=20, site=(1, 0.5))]
    return nn.Network(pops, projs, drives, dt=DT)


def _inputs():
    """A 0.3 nA clamp on cell 0 for 10–15 ms, and the source's spikes (a spike at step i
    is at t = (i + 1)·dt, as every event of a step)."""
    t = np.arange(N_STEPS) * DT
    x = np.zeros((N_STEPS, 3, 1))
    x[(t >= 10 - 1e-9) & (t < 15 - 1e-9), 0, 0] = 0.3
    s = np.zeros((N_STEPS, 1))
    for ts in SRC_T:
        s[int(round(ts / DT)) - 1, 0] = 1.0
    return jnp.asarray(x), jnp.asarray(s)


@pytest.fixture(scope="module")
def run():
    """One compiled run (float32) shared by the fast tests. NEURON's backward Euler: it
    compiles in 2.4 CPU-s against 4.2 for the default TRBDF2 (checked in the slow tier,
    test_default_scheme_matches_neuron_within_the_issues_bounds)."""
    cell = _cell()
    net = _network(cell, drive=True)
    x, s = _inputs()
    sol = nj.simulate(net, {"C": x, "S": s}, dt=DT, key=jax.random.key(0), solver=BackwardEuler())
    return cell, net, sol


def test_spikes_travel_down_the_chain_with_the_delays(run):
    cell, net, sol = run
    s = np.asarray(sol.spikes["C"])
    assert s.shape == (N_STEPS, 3)
    steps = [np.nonzero(s[:, j])[0] for j in range(3)]
    # every input spike makes cell 0 fire, and each cell passes it on (2 spikes each)
    assert [len(k) for k in steps] == [2, 2, 2], steps
    hop1, hop2 = steps[1] - steps[0], steps[2] - steps[1]
    # identical cells, synapses and delays: each hop takes the same number of steps,
    # exactly (the event rule is in whole steps), and more than the 1 ms delay
    assert np.array_equal(hop1, hop2), (hop1, hop2)
    assert np.all(hop1 * DT > DELAY)
    # the source's spikes reach cell 0 only after their 0.5 ms delay
    assert np.all(steps[0] * DT > np.array(SRC_T) + D_SRC)


def test_voltages_sites_and_plots(run):
    cell, net, sol = run
    assert sol.v["C"].shape == (N_STEPS, 3, cell.n_nodes)
    v = np.asarray(sol.v["C"])
    soma = v[:, :, cell.node(0, 0.5)]
    assert soma.max() > 20.0 and soma.min() < -60.0  # spikes overshoot, rest near −65
    # the Poisson-driven cells: depolarised at the synapse, and each draws its own input
    d = np.asarray(sol.v["D"])[:, :, cell.node(1, 0.5)]
    assert d.mean() > -64.9 and not np.allclose(d[:, 0], d[:, 1])
    rec = net.record(v={"C": (slice(0, 2), SITES), "D": (0, (1, 0.5))})
    kept = rec(sol.final_state.y)
    assert kept["C"].shape == (2, 3) and kept["D"].shape == ()
    import matplotlib

    matplotlib.use("Agg")
    ax = nn.plot_compartments(v[:, :, [cell.node(*st) for st in SITES]], DT, neuron=1,
                              names=["soma", "dend(0.9)", "dend(0.5)"])  # fmt: skip
    assert len(ax.lines) == 3
    nn.raster(sol.spikes, DT)


def test_bad_sites_and_inputs_are_refused():
    cell = _cell()
    exp = ns.Exponential(tau=TAU, e_rev=0.0)
    pops = {"C": nn.Population(cell, 2)}
    conn = nn.from_pairs([0], [1], 2, 2, W)

    def net(**kw):
        return nn.Network(pops, [nn.Projection("C", "C", conn, exp, DELAY, **kw)], dt=DT)

    with pytest.raises(ValueError, match=r"projection 0 .*site \(5, 0.5\).*branches 0..1"):
        net(site=(5, 0.5))
    with pytest.raises(ValueError, match=r"projection 0 .*x=1.5"):
        net(site=(1, 1.5))
    with pytest.raises(ValueError, match=r"site must be \(branch, x\)"):
        net(site=(1,))
    with pytest.raises(ValueError, match="cable.Cell: place the synapses with site"):
        net(compartment="distal")
    with pytest.raises(ValueError, match="Delta synapse"):
        nn.Network(pops, [nn.Projection("C", "C", conn, ns.Delta(), DELAY, site=(1, 0.5))], dt=DT)
    with pytest.raises(ValueError, match="delay must be a finite number of ms >= 0"):
        nn.Network(pops, [nn.Projection("C", "C", conn, exp, -1.0, site=SITE)], dt=DT)
    with pytest.raises(ValueError, match="conductance-based"):
        nn.Projection("C", "C", nn.from_pairs([0], [1], 2, 2, -W), exp, site=SITE)
    with pytest.raises(ValueError, match="spike_site.*off the cell"):
        nn.Population(cell, 2, spike_site=(3, 0.5))
    with pytest.raises(ValueError, match="threshold= and spike_site="):
        nn.Population(LIF(), 2, threshold=0.0)
    with pytest.raises(ValueError, match="cannot integrate point or reduced neurons"):
        nn.Network({"C": nn.Population(cell, 2), "L": nn.Population(LIF(), 2)}, dt=DT)
    lif = {"L": nn.Population(LIF(), 2)}
    with pytest.raises(ValueError, match="site=.*leave site=None"):
        nn.Network(lif, [nn.Projection("L", "L", conn, exp, site=(0, 0.5))], dt=DT)
    with pytest.raises(ValueError, match=r"PointProcessTarget\(index=0\), but the cell has 0"):
        nn.Network(pops, [nn.Projection("C", "C", conn, nn.PointProcessTarget(0), DELAY)], dt=DT)
    with pytest.raises(ValueError, match="leave site=None"):
        nn.Network(
            pops, [nn.Projection("C", "C", conn, nn.PointProcessTarget(0), site=SITE)], dt=DT
        )
    with pytest.raises(ValueError, match="own point process; population 'L'"):
        nn.Network(lif, [nn.Projection("L", "L", conn, nn.PointProcessTarget(0))], dt=DT)
    with pytest.raises(ValueError, match="index must be an int >= 0"):
        nn.PointProcessTarget(-1)
    ok = net(site=SITE)
    with pytest.raises(ValueError, match=r"inputs\['C'\].*batch axis of 2"):
        ok.batch_shape({"C": jnp.zeros((3, 1))})


# slow tier: NEURON in float64 (~10 CPU-s each with its compile); the fast tier keeps
# the module covered (the chain's behaviour, sites, plots and refusals above)
@pytest.mark.slow
@pytest.mark.parametrize("target", ["network ExpSyn", "the cell's expsyn.mod"])
def test_chain_matches_neuron_netcon_expsyn(x64, target):
    pytest.importorskip("neuron")
    ref_v, ref_t = _neuron_chain()
    if target == "network ExpSyn":
        cell = _cell()
        net = _network(cell)
    else:  # NEURON's own expsyn.mod at dend(0.9) of each cell, events by NetCon's rule
        from neurojax.nmodl import load_mod

        cell = _cell(load_mod(_modfile("expsyn.mod"), tau=TAU, e=0.0))
        net = _network(cell, chain_synapse=nn.PointProcessTarget(0))
    x, s = _inputs()
    sol = nj.simulate(net, {"C": x, "S": s}, dt=DT, solver=BackwardEuler())
    idx = np.array([cell.node(b, xx) for b, xx in SITES])
    v = np.asarray(sol.v["C"])[:, :, idx]
    spikes = np.asarray(sol.spikes["C"])
    for j in range(3):
        got = (np.nonzero(spikes[:, j])[0] + 1) * DT  # a spike of step i is at (i + 1)·dt
        assert len(got) == len(ref_t[j]) == 2, (got, ref_t[j])
        # the issue asks for spike times within a step; the same scheme (NEURON's
        # backward Euler, secondorder = 0) on the same matrix gives the same steps
        assert np.allclose(got, ref_t[j], atol=1e-9), (j, got, ref_t[j])
    err = np.abs(v - ref_v)
    # the issue asks for 0.5 mV mean; the same scheme and event rule agree to round-off
    # (measured 4.6e-13 mV mean, 3.3e-11 max, through six spikes and three synapses)
    assert err.mean() < 1e-8 and err.max() < 1e-6, (err.mean(), err.max())


# slow tier: NEURON and a float64 compile of the default scheme (~8 CPU-s); the fast tier
# covers Cell networks with backward Euler (the chain tests above)
@pytest.mark.slow
def test_default_scheme_matches_neuron_within_the_issues_bounds(x64):
    pytest.importorskip("neuron")
    # NEURON's Crank–Nicolson at dt/10, near converged: the default TRBDF2 (second
    # order) at dt is compared with it rather than with backward Euler at dt, which is
    # first order (measured: BE and TRBDF2 at dt put cell 1's spikes two steps apart)
    ref_v, ref_t = _neuron_chain(refine=10, secondorder=2)
    cell = _cell()
    net = _network(cell)
    assert type(net.default_solver).__name__ == "TRBDF2"  # the cell's own default
    x, s = _inputs()
    sol = nj.simulate(net, {"C": x, "S": s}, dt=DT)
    idx = np.array([cell.node(b, xx) for b, xx in SITES])
    v = np.asarray(sol.v["C"])[:, :, idx]
    spikes = np.asarray(sol.spikes["C"])
    for j in range(3):
        got = (np.nonzero(spikes[:, j])[0] + 1) * DT
        # the issue's bound: spike times within a step (measured 0.0075–0.0175 ms after
        # the reference's; backward Euler at dt is 0.03–0.09 ms late, up to 3.5 steps)
        assert len(got) == len(ref_t[j]) and np.all(np.abs(got - ref_t[j]) <= DT + 1e-9)
    # the issue's 0.5 mV mean: measured 0.066 mV (backward Euler at dt: 0.56 mV)
    err = np.abs(v - ref_v)
    assert err.mean() < 0.5, (err.mean(), err.max())


def _modfile(name):
    """A mechanism shipped with NEURON (its wheel's modfile directory)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("neuron")
    return Path(spec.origin).parent / ".data" / "share" / "modfile" / name


def _neuron_chain(refine=1, secondorder=0):
    """NEURON: the same three cells (hh soma, pas dendrite, nseg 1 and 5), NetCon
    (threshold −10 mV, delay) onto ExpSyn at dend(0.9), the input spikes as NetCon
    events onto an ExpSyn at dend(0.5) of cell 0; backward Euler (`secondorder`) at
    dt / `refine`, the voltages at the ends of our steps."""
    from neuron import h

    h.load_file("stdrun.hoc")
    cells = []
    for j in range(3):
        soma, dend = h.Section(name=f"soma{j}"), h.Section(name=f"dend{j}")
        soma.L, soma.diam, soma.nseg = SOMA
        dend.L, dend.diam, dend.nseg = DEND
        for sec in (soma, dend):
            sec.Ra, sec.cm = RA, 1.0
        soma.insert("hh")
        dend.insert("pas")
        for seg in dend:
            seg.pas.g, seg.pas.e = 1e-4, -65.0  # S/cm² (0.1 mS/cm²)
        dend.connect(soma(1), 0)
        cells.append((soma, dend))
    h.usetable_hh = 0  # exact rates, not NEURON's tables
    h.celsius = 6.3
    stim = h.IClamp(cells[0][0](0.5))
    stim.delay, stim.dur, stim.amp = 10.0, 5.0, 0.3
    keep = [stim]
    for a, b in ((0, 1), (1, 2)):
        syn = h.ExpSyn(cells[b][1](SITE[1]))
        syn.tau, syn.e = TAU, 0.0
        nc = h.NetCon(cells[a][0](0.5)._ref_v, syn, sec=cells[a][0])
        nc.threshold, nc.delay, nc.weight[0] = -10.0, DELAY, W
        keep += [syn, nc]
    src_syn = h.ExpSyn(cells[0][1](0.5))
    src_syn.tau, src_syn.e = TAU, 0.0
    src = h.NetCon(None, src_syn)
    src.weight[0] = W_SRC
    times = []
    for j in range(3):
        tv = h.Vector()
        nc = h.NetCon(cells[j][0](0.5)._ref_v, None, sec=cells[j][0])
        nc.threshold = -10.0
        nc.record(tv)
        keep += [nc]
        times.append(tv)
    recs = [h.Vector().record(cells[j][k](x)._ref_v) for j in range(3) for k, x in SITES]
    h.dt, h.secondorder = DT / refine, secondorder
    h.finitialize(-65.0)
    for ts in SRC_T:
        src.event(ts + D_SRC)
    h.continuerun(T)
    v = np.array([np.array(r)[refine::refine][:N_STEPS] for r in recs]).T.reshape(N_STEPS, 3, 3)
    out = v, [np.array(tv) for tv in times]
    del keep, recs, cells, src, src_syn
    return out


# slow tier: two compiles in float64 (a gradient and a forward run, ~15 CPU-s); the fast
# tier keeps the Cell network covered (the chain tests above)
@pytest.mark.slow
def test_gradient_through_nmda_synapses_on_cells_matches_finite_differences(x64):
    cell = _cell()
    nmda = ns.MgBlock(ns.Exponential(tau=20.0, e_rev=0.0))
    exp = ns.Exponential(tau=TAU, e_rev=0.0)
    x, s = _inputs()
    x, s = x[:400], s[:400]  # 10 ms: cell 0 fires once (at 4.975 ms) and drives cell 1

    pops = {"C": nn.Population(cell, 3), "S": nn.Population(nn.SpikeSource(), 1)}
    src = nn.from_pairs([0], [0], 1, 3, W_SRC)

    def loss(w):
        chain = nn.from_pairs([0, 1], [1, 2], 3, 3, w)
        net = nn.Network(
            pops,
            [
                nn.Projection("C", "C", chain, nmda, 1.0, site=SITE),
                nn.Projection("S", "C", src, exp, D_SRC, site=(1, 0.5)),
            ],
            dt=DT,
        )
        sol = nj.simulate(net, {"C": x, "S": s}, dt=DT, solver=BackwardEuler())
        return sol.v["C"][:, 1, cell.node(*SITE)].mean()  # cell 1 at its NMDA synapse

    g = jax.grad(loss)(0.01)
    h = 1e-6  # µS: the spike of cell 0 does not move, the loss is smooth in w
    fd = (jax.jit(loss)(0.01 + h) - jax.jit(loss)(0.01 - h)) / (2 * h)
    # central difference error O(h²·f''') plus rounding ~1e-16/h relative: measured
    # 843.22168969 vs 843.22169403 (5e-9 relative)
    assert g > 100 and abs(g - fd) < 1e-6 * abs(fd), (g, fd)
