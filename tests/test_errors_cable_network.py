"""Cables, networks, synapses and published models: bad input fails at once (or, when
traced, at run time through `eqx.error_if`) with a message naming the culprit and the fix
— never a silently wrong number, never an error from deep inside JAX or NumPy."""

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import models, synapses
from neurojax import network as nw
from neurojax.cable import (
    HH,
    Branch,
    Cell,
    Compartment,
    DSpikes,
    Morphology,
    Passive,
    ReducedCell,
    branch_from_points,
    read_swc,
)

RUNTIME = (RuntimeError, ValueError)  # how eqx.error_if surfaces (see test_errors.py)
M = Morphology([Branch(100.0, 1.0, nseg=3)])
N = 40  # steps


def _half(model):
    return jax.tree.map(lambda x: x.astype(jnp.float16) if eqx.is_inexact_array(x) else x, model)


# ------------------------------------------------------------------ cable: silent answers


def test_negative_conductance_input_is_refused():
    cell = Cell(M, [(Passive(), None)], synapses=[(0, 0.5, 0.0)])
    inputs = {"i_clamp": jnp.zeros((N, 0)), "g_syn": jnp.full((N, 1), -0.01)}
    with pytest.raises(RUNTIME, match=r"g_syn'\] has a negative conductance.*>= 0"):
        jax.block_until_ready(nj.simulate(cell, inputs, dt=0.025).v)
    # traced inputs too (inside jit)
    run = jax.jit(lambda g: nj.simulate(cell, {**inputs, "g_syn": g}, dt=0.025).v)
    assert jnp.all(jnp.isfinite(run(jnp.full((N, 1), 0.01))))
    with pytest.raises(RUNTIME, match="negative conductance"):
        jax.block_until_ready(run(jnp.full((N, 1), -0.01)))


def test_reduced_cell_negative_axial_resistivity():
    with pytest.raises(ValueError, match=r"compartment 'd': ra must be finite > 0"):
        Compartment("d", 100.0, 1.0, ra=-150.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(cm=0.0), "cm must be finite > 0"),
        (dict(gl=-0.01), "gl must be finite > 0"),
        (dict(ra=float("nan")), "ra must be finite > 0"),
        (dict(e_l=float("inf")), "e_l must be finite"),
        (dict(length=float("nan")), "length and diameter"),
    ],
)
def test_compartment_ranges(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Compartment("d", **{"length": 100.0, "diameter": 1.0, **kwargs})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(g_rise=-1.0), "g_rise"),
        (dict(g_fall=float("nan")), "g_fall"),
        (dict(duration_rise=-0.5), "duration_rise"),
        (dict(refractory=-1.0), "refractory"),
        (dict(threshold=float("nan")), "threshold"),
    ],
)
def test_dspike_ranges(kwargs, match):
    with pytest.raises(ValueError, match=rf"DSpikes\.{match}"):
        DSpikes(**{"g_rise": 0.01, "g_fall": 0.01, **kwargs})


def test_reduced_cell_parameters_have_domains():
    soma = Compartment("soma", 20.0, 20.0)
    dend = Compartment("d", 100.0, 1.0)
    for conn, match in [(("soma", "d", float("inf")), "coupling"), (("soma", "d", -1.0), "> 0")]:
        with pytest.raises(ValueError, match=match):
            ReducedCell.build([soma, dend], [conn])
    with pytest.raises(ValueError, match=r"ReducedCell\.t_ref must be >= 0"):
        ReducedCell.build([soma, dend], [("soma", "d")], t_ref=-1.0)
    cell = ReducedCell.build([soma, dend], [("soma", "d")])
    with pytest.raises(ValueError, match=r"ReducedCell\.g_couple must be > 0"):
        ReducedCell(**{**_fields(cell), "g_couple": jnp.array([-1.0])})
    with pytest.raises(ValueError, match=r"ReducedCell\.c has shape \(3,\)"):
        ReducedCell(**{**_fields(cell), "c": jnp.ones(3)})


def _fields(module):
    names = inspect.signature(type(module)).parameters
    return {k: getattr(module, k) for k in module.__dataclass_fields__ if k in names}


def test_temperature_below_absolute_zero():
    with pytest.raises(ValueError, match=r"Cell\.temperature must be > -273\.15.*absolute zero"):
        Cell(M, [(HH(), None)], temperature=-300.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(ra=0.0), "ra must be finite and > 0"),
        (dict(ra=-35.4), "ra must be finite and > 0"),
        (dict(d_lambda=0.0), "d_lambda must be finite and > 0"),
        (dict(d_lambda=float("nan")), "d_lambda"),
        (dict(cm=-1.0), "cm must be"),
        (dict(freq=0.0), "freq must be"),
        (dict(d_lambda=1e-12), "more than 10⁶"),
    ],
)
def test_d_lambda_rule_ranges(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Morphology([Branch(5000.0, 1.0)]).with_d_lambda(**kwargs)


def test_d_lambda_per_branch_ra():
    m = Morphology([Branch(5000.0, 1.0), Branch(5000.0, 1.0, parent=0)])
    nseg = [br.nseg for br in m.with_d_lambda(ra=[35.4, 354.0]).branches]
    assert nseg[1] > nseg[0] > 1


# ------------------------------------------------------------------ cable: obscure crashes


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: Branch(100.0, 1.0, nseg=2.0), TypeError, r"nseg must be an int.*\(pass 2\)"),
        (lambda: Branch(100.0, 1.0, nseg=True), TypeError, "nseg must be an int"),
        (lambda: Branch(100.0, 1.0, parent=0.0), TypeError, "parent must be an int"),
        (lambda: Branch(100.0, 1.0, parent_x=float("nan")), ValueError, "parent_x"),
        (lambda: Branch("100", 1.0), TypeError, "length must be a (real )?number"),
        (lambda: branch_from_points([[0, 0, 0, 1], [np.nan, 0, 0, 1]]), ValueError, "nan|NaN"),
        (lambda: M.with_nseg(2.5), TypeError, "nseg of branch 0 must be an int"),
    ],
)
def test_branch_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(clamps=[(0,)]), r"clamps\[0\] must be a tuple \(branch, x\)"),
        (dict(clamps=[0.5]), r"clamps\[0\] must be a tuple"),
        (dict(synapses=[(0, 0.5)]), r"synapses\[0\] must be a tuple \(branch, x, e_rev"),
        (dict(vclamps=[(0, 0.5, 1.0)]), r"vclamps\[0\] must be a tuple"),
        (dict(synapses=[(0, 0.5, float("nan"))]), r"Cell\.e_syn must be finite"),
        (dict(rs_clamp=0.0), r"Cell\.rs_clamp must be > 0"),
        (dict(clamps=[("a", 0.5)]), "site branch must be a number"),
    ],
)
def test_malformed_sites(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Cell(M, [], **kwargs)


def test_channel_parameters_checked_when_built():
    with pytest.raises(ValueError, match=r"Passive\.g must be >= 0"):
        Passive(g=-1.0)
    with pytest.raises(ValueError, match=r"HH\.e_na must be finite"):
        HH(e_na=jnp.nan)


def test_binary_swc(tmp_path):
    path = tmp_path / "cell.swc"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"cell\.swc, line 1: .*not text.*not an SWC file"):
        read_swc(path)
    path.write_bytes(b"1 1 0 0 0 5 -1\n2 3 0 10 0 \xff\xfe 1\n")
    with pytest.raises(ValueError, match=r"line 2: .*not text"):
        read_swc(path)


def test_swc_options(tmp_path):
    path = tmp_path / "cell.swc"
    path.write_text("1 1 0 0 0 5 -1\n2 3 0 10 0 1 1\n3 3 0 20 0 1 2\n")
    with pytest.raises(ValueError, match="nseg must be an int >= 1"):
        read_swc(path, nseg=0)
    with pytest.raises(ValueError, match="min_radius must be a radius > 0"):
        read_swc(path, min_radius=float("nan"))


def test_repeated_point_as_morphio_writes_it_loads_by_default(tmp_path):
    """A child branch whose first point repeats its parent's last point (MorphIO's
    convention): merged by default; NEURON, MorphIO and Jaxley load it too."""
    path = tmp_path / "cell.swc"
    path.write_text(
        "1 1 0 0 0 5 -1\n2 1 10 0 0 5 1\n"  # soma
        "3 3 10 0 0 1 2\n4 3 30 0 0 1 3\n"  # dendrite repeating the soma's end
        "5 3 30 0 0 0.5 4\n6 3 40 10 0 0.5 5\n7 3 30 0 0 0.5 4\n8 3 40 -10 0 0.5 7\n"
    )
    m = read_swc(path)
    assert len(m) == 4
    assert m.total_length == pytest.approx(10.0 + 20.0 + 2 * np.hypot(10.0, 10.0))


# ------------------------------------------------------------------ float16, everywhere


def test_float16_cell_is_refused():
    with pytest.raises(TypeError, match=r"Cell\.v_init is float16.*float32 or float64.*astype"):
        Cell(M, [(HH(), None)], v_init=jnp.float16(-65.0), clamps=[(0, 0.5)])
    cell = _half(Cell(M, [(HH(), None)], clamps=[(0, 0.5)]))  # tree_map skips __init__
    with pytest.raises(TypeError, match=r"Cell\.mechanisms\[0\]\.g_na is float16"):
        nj.simulate(cell, jnp.zeros((N, 1)), dt=0.025)


def test_float16_reduced_cell_is_refused():
    cell = ReducedCell.build([Compartment("soma", 20.0, 20.0)], [])
    with pytest.raises(TypeError, match=r"ReducedCell\.c is float16"):
        nj.simulate(_half(cell), jnp.zeros((N, 1)), dt=0.1)


def test_float16_network_is_refused():
    with pytest.raises(TypeError, match=r"Population\(LIF\)\.tau is float16"):
        nw.Population(nj.LIF(tau=jnp.float16(10.0)), 3)
    net = nw.Network(
        {"E": nw.Population(nj.LIF(), 3)},
        [nw.Projection("E", "E", nw.dense(3, 3, 0.1), synapses.Exponential())],
        dt=0.1,
    )
    with pytest.raises(TypeError, match=r"Network.*is float16"):
        nj.simulate(_half(net), {"E": jnp.zeros((N, 3))}, dt=0.1)


def test_float16_inputs_are_fine():
    """Only the model's precision matters: inputs are cast to it."""
    cell = Cell(M, [(HH(), None)], clamps=[(0, 0.5)])
    sol = nj.simulate(cell, jnp.zeros((N, 1), jnp.float16), dt=0.025)
    assert sol.v.dtype == jnp.result_type(float)


# ------------------------------------------------------------------ networks


def _source_net(synapse=None, weight=1.0):
    return nw.Network(
        {"S": nw.Population(nw.SpikeSource(), 1), "E": nw.Population(nj.LIF(), 1)},
        [nw.Projection("S", "E", nw.dense(1, 1, weight), synapse or synapses.Delta())],
        dt=0.1,
    )


@pytest.mark.parametrize("value", [-1.0, 0.5])
def test_spike_source_counts(value):
    net = _source_net()
    spikes = jnp.zeros((N, 1)).at[5].set(value)
    with pytest.raises(RUNTIME, match=r"SpikeSource inputs are spike counts.*whole numbers >= 0"):
        jax.block_until_ready(nj.simulate(net, {"S": spikes}, dt=0.1).spikes)
    ok = nj.simulate(net, {"S": jnp.zeros((N, 1)).at[5].set(2.0)}, dt=0.1)
    assert float(ok.spikes["S"].sum()) == 2.0


def test_solution_v_of_a_network_is_a_dict_per_population():
    net = _source_net()
    sol = nj.simulate(net, {"S": jnp.zeros((N, 1))}, dt=0.1)
    v = sol.v
    assert set(v) == {"S", "E"} and v["E"].shape == (N, 1)
    np.testing.assert_array_equal(v["E"], sol.states.neurons["E"].v)
    sol = nj.simulate(net, {"S": jnp.zeros((N, 1))}, dt=0.1, saveat=nj.SaveAt(vars=("stp",)))
    with pytest.raises(AttributeError, match="left out 'neurons'.*add 'neurons'"):
        _ = sol.v


def test_solution_v_says_where_to_look():
    sol = nj.simulate(nj.LIF(), jnp.zeros(N), dt=0.1, saveat=nj.SaveAt(fn=lambda y: y.v * 2))
    with pytest.raises(AttributeError, match=r"SaveAt\(fn=...\) returned.*read sol\.states"):
        _ = sol.v
    cann = models.CANN(n=8)
    sol = nj.simulate(cann, jnp.zeros((N, 8)), dt=0.1)
    with pytest.raises(AttributeError, match=r"no variable 'v'.*sol\.states\.u"):
        _ = sol.v


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf])
def test_non_finite_weights(bad):
    with pytest.raises(ValueError, match=r"Dense\.weight must be finite"):
        nw.dense(2, 2, bad)
    with pytest.raises(ValueError, match=r"OneToOne\.weight must be finite"):
        nw.one_to_one(2, bad)
    with pytest.raises(ValueError, match=r"Sparse\.weight must be finite"):
        nw.fixed_probability(jax.random.key(0), 5, 5, 0.5, bad)
    with pytest.raises(ValueError, match=r"Sparse\.weight must be finite"):
        nw.from_pairs([0], [1], 2, 2, bad)


def test_traced_non_finite_weight_is_caught_in_simulate():
    def run(w):
        return nj.simulate(_source_net(weight=w), {"S": jnp.zeros((N, 1))}, dt=0.1).spikes["E"]

    jax.block_until_ready(jax.jit(run)(1.0))
    with pytest.raises(RUNTIME, match=r"projections\[0\]\.connectivity\.weight must be finite"):
        jax.block_until_ready(jax.jit(run)(jnp.nan))


def test_weight_matrix_for_random_connectivity():
    """A (n_pre, n_post) weight matrix is read at each drawn synapse."""
    w = np.arange(100.0).reshape(10, 10)
    for conn in (
        nw.fixed_probability(jax.random.key(0), 10, 10, 0.5, w),
        nw.fixed_out_degree(jax.random.key(1), 10, 10, 3, w),
        nw.fixed_in_degree(jax.random.key(2), 10, 10, 3, w),
    ):
        dense = np.asarray(conn.to_dense())
        mask = dense != 0
        np.testing.assert_array_equal(dense[mask], w[mask])
    with pytest.raises(ValueError, match=r"fixed_probability: weight must be a scalar or "):
        nw.fixed_probability(jax.random.key(0), 10, 10, 0.5, np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"one_to_one: weight must be a scalar or one value"):
        nw.one_to_one(3, np.ones(4))
    with pytest.raises(ValueError, match=r"from_pairs: weight must be a scalar or one value"):
        nw.from_pairs([0, 1], [1, 0], 2, 2, np.ones(3))
    with pytest.raises(ValueError, match=r"dense: weight must be a scalar or broadcastable"):
        nw.dense(2, 3, np.ones(4))


@pytest.mark.parametrize("p", [float("nan"), 1.5, -0.1, "0.5"])
def test_connection_probability(p):
    with pytest.raises(ValueError, match="connection probability p"):
        nw.fixed_probability(jax.random.key(0), 5, 5, p)


def test_probability_as_a_0d_array_is_fine():
    nw.fixed_probability(jax.random.key(0), 5, 5, np.float32(0.5))


@pytest.mark.parametrize(
    "synapse",
    [
        synapses.Exponential(e_rev=0.0),
        synapses.DualExponential(e_rev=0.0),
        synapses.Alpha(e_rev=-80.0),
        synapses.AMPA(),
        synapses.NMDA(),
    ],
    ids=lambda s: type(s).__name__,
)
def test_conductance_synapses_refuse_negative_weights(synapse):
    with pytest.raises(ValueError, match=r"S → E: .*conductance-based.*>= 0.*e_rev=-80"):
        _source_net(synapse, weight=-0.01)
    with pytest.raises(ValueError, match=r"drive onto E.*conductance-based"):
        nw.PoissonDrive("E", synapse, rate=10.0, weight=-0.01)


def test_current_synapses_take_signed_weights():
    _source_net(synapses.Exponential(), weight=-0.01)  # CUBA inhibition: a negative current
    _source_net(synapses.Delta(), weight=-0.5)


def test_traced_negative_conductance_weight():
    def run(w):
        net = _source_net(synapses.Exponential(e_rev=0.0), weight=w)
        return nj.simulate(net, {"S": jnp.zeros((N, 1)).at[3].set(1.0)}, dt=0.1).spikes["E"]

    jax.block_until_ready(jax.jit(run)(0.01))
    with pytest.raises(RUNTIME, match="conductance-based"):
        jax.block_until_ready(jax.jit(run)(-0.01))


def test_synapse_parameters():
    with pytest.raises(ValueError, match=r"Exponential\.e_rev must be finite"):
        synapses.Exponential(e_rev=jnp.nan)
    with pytest.raises(ValueError, match=r"NMDA\.e_rev must be finite"):
        synapses.NMDA(e_rev=jnp.nan)
    with pytest.raises(ValueError, match=r"AMPA\.g_max must be >= 0"):
        synapses.AMPA(g_max=-1.0)
    with pytest.raises(ValueError, match=r"TsodyksMarkram\.u0 must be > 0 and <= 1"):
        synapses.TsodyksMarkram(u0=1.5)
    with pytest.raises(ValueError, match=r"Exponential\.tau must be > 0"):
        synapses.Exponential(tau=0.0)


def test_traced_dual_exponential_order():
    # traced time constants: one flag per simulate call (`check_call`); through a network
    # run in tests/test_check_call.py
    def flag(tr):
        ((bad, message),) = synapses.DualExponential(tau_rise=tr, tau_decay=5.0).check_call(0.1)
        assert "tau_decay > tau_rise" in message
        return bad

    assert not bool(jax.jit(flag)(0.5))
    assert bool(jax.jit(flag)(6.0))


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (  # a Cell population is fine; with point neurons in one network it is not
            lambda: nw.Network(
                {"C": nw.Population(Cell(M, []), 3), "E": nw.Population(nj.LIF(), 1)}, dt=0.1
            ),
            ValueError,
            "cannot integrate point or reduced neurons",
        ),
        (lambda: nw.Population(nj.LIF(), 0), ValueError, "positive int"),
        (
            lambda: nw.Projection(0, "E", nw.dense(1, 1), synapses.Delta()),
            TypeError,
            "population name",
        ),
        (
            lambda: nw.Projection("S", "E", nw.dense(1, 1), synapses.Delta(), stp=0.5),
            TypeError,
            "TsodyksMarkram or None",
        ),
        (
            lambda: nw.Network({"E": nw.Population(nj.LIF(), 1)}, dt="0.1"),
            TypeError,
            "dt must be a concrete number",
        ),
        (
            lambda: nw.Network(
                {"E": nw.Population(nj.LIF(), 1)},
                [nw.Projection("E", "E", nw.dense(1, 1), synapses.Delta(), delay=float("nan"))],
                dt=0.1,
            ),
            ValueError,
            "delay must be a finite",
        ),
    ],
)
def test_network_parts(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ------------------------------------------------------------------ published models


@pytest.mark.parametrize("model", [models.CANN, models.WorkingMemory])
@pytest.mark.parametrize("n", [0, -3, 2.0, True])
def test_rate_models_need_a_positive_int_size(model, n):
    with pytest.raises(ValueError, match=rf"{model.__name__}\.n must be an int >= 1"):
        model(n=n)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(g=float("nan")), r"brunel2000: g \(relative strength of inhibition\)"),
        (dict(g=-1.0), r"brunel2000: g"),
        (dict(eta=float("inf")), r"brunel2000: eta"),
        (dict(j=0.0), r"brunel2000: j"),
        (dict(epsilon=0.0), r"brunel2000: epsilon"),
        (dict(epsilon=1.0), r"epsilon = 1.0 asks for more synapses"),
        (dict(delay=-1.0), r"brunel2000: delay"),
        (dict(n_e=2), r"brunel2000: n_e"),
        (dict(n_e=40.0), r"brunel2000: n_e"),
    ],
)
def test_brunel2000_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        models.brunel2000(jax.random.key(0), **{"n_e": 40, **kwargs})


def test_working_memory_load_arguments():
    wm = models.WorkingMemory()
    for kwargs, match in [
        (dict(dt=float("nan")), "dt"),
        (dict(dt=0.0), "dt"),
        (dict(n_steps=0), "n_steps"),
        (dict(duration=0.0), "duration"),
        (dict(amplitude=float("inf")), "amplitude"),
    ]:
        with pytest.raises(ValueError, match=rf"WorkingMemory\.load: {match}"):
            wm.load(**{"items": [0], "n_steps": 100, "dt": 0.1, **kwargs})


def test_kinetic_pulse_shorter_than_half_a_step():
    from _network_helpers import relay, spike_train

    net = relay(synapses.AMPA(t_pulse=0.04), dt=0.1)
    with pytest.raises(RUNTIME, match=r"t_pulse.*shorter than half a step"):
        sol = nj.simulate(net, {"src": spike_train(N, [3])}, dt=0.1)
        jax.block_until_ready(sol.spikes)


def test_brette2007_helpers():
    net = models.coba(jax.random.key(0), 20)
    with pytest.raises(ValueError, match=r"random_initial_state: std"):
        models.random_initial_state(net, jax.random.key(1), std=-1.0)
    with pytest.raises(ValueError, match=r"coba_inputs: n_steps"):
        models.coba_inputs(net, 0)
    with pytest.raises(ValueError, match=r"coba_inputs: i_ext"):
        models.coba_inputs(net, 10, float("nan"))
    with pytest.raises(ValueError, match="connection probability p"):
        models.cuba(jax.random.key(0), 20, p=float("nan"))
