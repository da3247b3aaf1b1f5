"""Session 12, issue 20: held-out dendrify comparisons on what earlier checks did not reach,
and bad or edge inputs to `ReducedCell` and dendritic populations.

Slow tier: every case of `validation/dendrify_s12_cases.py` (many dendrites, a
soma–proximal–distal chain with NMDA under changed Mg²⁺ constants and GABA on dendrites,
dSpike timing edges, thresholds at/below rest, networks whose synapses target dendrites
under `euler` and `exponential_euler`, model-wide `NeuronModel` properties, named
reversals with `config_dspikes`, dt 0.5 and 0.01 ms, parameter extremes, point and
dendritic populations together, a 5 s run, noise by statistics) against the stored
Brian2 references in `tests/data/dendrify_s12/`: every somatic spike and dSpike of every
neuron at the same step and mean |ΔV| < 0.5 mV (the issue's criteria), in float64.

Fast tier: the refusals. Each names the culprit and says what to do; the ones found
silent by this session's probes (and fixed in `cable/_reduced.py`) say so.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import network as nn
from neurojax import synapses as ns
from neurojax.cable import Compartment, DSpikes, ReducedCell

_PATH = Path(__file__).resolve().parents[1] / "validation" / "dendrify_s12_cases.py"
_DATA = Path(__file__).resolve().parent / "data" / "dendrify_s12"


def _cases():
    name = "dendrify_s12_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ----------------------------------------------------------------------------- helpers


def _soma(**kw):
    return Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0, **kw)


def _dend(name="d", dspikes=None, **kw):
    base = dict(c_abs=0.05, gl_abs=0.0025, e_l=-70.0)
    base.update(kw)
    return Compartment(name, dspikes=dspikes, **base)


def _ds(**kw):
    return DSpikes(**{**dict(g_rise=0.03, g_fall=0.015, threshold=-40.0), **kw})


def _cell(dspikes=None, **kw):
    return ReducedCell.build([_soma(), _dend(dspikes=dspikes)], [("soma", "d", 0.04)], **kw)


def _run(cell, n=20, dt=0.1, current=None):
    current = jnp.zeros((n, cell.n)) if current is None else current
    return nj.simulate(cell, current, dt=dt, solver=nj.solvers.Euler())


def _net(cell=None, **projection):
    cell = _cell(_ds()) if cell is None else cell
    syn = ns.Exponential(tau=2.0, e_rev=0.0)
    return nn.Network(
        {"E": nn.Population(cell, 4)},
        [nn.Projection("E", "E", nn.dense(4, 4, 0.01), syn, **projection)],
        dt=0.1,
    )


# ----------------------------------------------------------------------------- fast tier

# (what, a call that must be refused, the exception, words the message must contain)
BAD = [
    # compartments: capacitances, conductances, geometry
    ("c_abs = 0", lambda: _dend(c_abs=0.0), ValueError, "'d': c_abs and gl_abs must be > 0"),
    ("c_abs < 0", lambda: _dend(c_abs=-0.1), ValueError, "'d': c_abs and gl_abs must be > 0"),
    ("gl_abs NaN", lambda: _dend(gl_abs=float("nan")), ValueError, "must be > 0"),
    ("cm = 0", lambda: Compartment("d", length=10.0, diameter=1.0, cm=0.0), ValueError, "'d': cm"),
    (
        "gl inf",
        lambda: Compartment("d", length=10.0, diameter=1.0, gl=np.inf),
        ValueError,
        "'d': gl",
    ),
    ("ra = 0", lambda: Compartment("d", length=10.0, diameter=1.0, ra=0.0), ValueError, "'d': ra"),
    ("e_l NaN", lambda: _dend(e_l=float("nan")), ValueError, "'d': e_l must be finite"),
    ("length inf", lambda: Compartment("d", length=np.inf, diameter=1.0), ValueError, "length"),
    (
        "scale_factor 0",
        lambda: Compartment("d", length=10.0, diameter=1.0, scale_factor=0.0),
        ValueError,
        "scale_factor",
    ),
    # dSpike rules: impossible values and timings
    ("threshold NaN", lambda: _ds(threshold=float("nan")), ValueError, "DSpikes.threshold"),
    ("g_rise < 0", lambda: _ds(g_rise=-0.01), ValueError, "DSpikes.g_rise"),
    ("duration_rise NaN", lambda: _ds(duration_rise=float("nan")), ValueError, "duration_rise"),
    (
        "refractory < rise",
        lambda: _ds(refractory=0.2, duration_rise=0.5),
        ValueError,
        "refractory = 0.2 ms is shorter than duration_rise",
    ),
    ("rise of no step", lambda: _ds(duration_rise=0.0), ValueError, "never open"),
    # couplings
    (
        "negative coupling",
        lambda: ReducedCell.build([_soma(), _dend()], [("soma", "d", -0.04)]),
        ValueError,
        "connection ('soma', 'd', -0.04) must be finite > 0",
    ),
    (
        "NaN coupling",
        lambda: ReducedCell.build([_soma(), _dend()], [("soma", "d", np.nan)]),
        ValueError,
        "must be finite > 0",
    ),
    (
        "zero coupling",
        lambda: ReducedCell.build([_soma(), _dend()], [("soma", "d", 0.0)]),
        ValueError,
        "must be finite > 0",
    ),
    (
        "bool coupling",
        lambda: ReducedCell.build([_soma(), _dend()], [("soma", "d", True)]),
        TypeError,
        "must be a number",
    ),
    (
        "array coupling",
        lambda: ReducedCell.build([_soma(), _dend()], [("soma", "d", np.ones(2))]),
        TypeError,
        "must be a number",
    ),
    (
        "4-tuple connection",
        lambda: ReducedCell.build([_soma(), _dend()], [("soma", "d", 0.04, 1)]),
        ValueError,
        "a connection is (a, b)",
    ),
    (
        "coupling to nothing",
        lambda: ReducedCell.build([_soma()], [("soma", "dend")]),
        ValueError,
        "names 'dend', not a compartment",
    ),
    # soma
    ("v_th NaN", lambda: _cell(v_th=float("nan")), ValueError, "v_th"),
    ("v_spike inf", lambda: _cell(v_spike=np.inf, spike_width=1.0), ValueError, "v_spike"),
    (
        "spike_width > t_ref",
        lambda: _cell(v_spike=20.0, spike_width=3.0, t_ref=2.0),
        ValueError,
        "spike_width = 3.0 ms is longer than t_ref",
    ),
    ("t_ref inf", lambda: _cell(t_ref=np.inf), ValueError, "t_ref must be >= 0"),
    ("t_ref < 0", lambda: _cell(t_ref=-1.0), ValueError, "t_ref must be >= 0"),
    # parameters changed after the build (eqx.tree_at skips build's checks)
    (
        "c set negative",
        lambda: _run(eqx.tree_at(lambda c: c.c, _cell(), jnp.array([0.2, -0.05]))),
        ValueError,
        "ReducedCell.c must be > 0",
    ),
    (
        "c set to zero",
        lambda: _run(eqx.tree_at(lambda c: c.c, _cell(), jnp.array([0.2, 0.0]))),
        ValueError,
        "ReducedCell.c must be > 0",
    ),
    (
        "coupling set negative",
        lambda: _run(eqx.tree_at(lambda c: c.g_couple, _cell(), jnp.array([-0.04]))),
        ValueError,
        "g_couple must be > 0",
    ),
    # float32 extremes: values that the model's precision turns into 0 or inf
    (
        "c_abs underflows",
        lambda: ReducedCell.build([_soma(), _dend(c_abs=1e-50)], [("soma", "d", 0.04)]),
        ValueError,
        "ReducedCell.c must be > 0",
    ),
    (
        "gl_abs overflows",
        lambda: ReducedCell.build([_soma(), _dend(gl_abs=1e40)], [("soma", "d", 0.04)]),
        ValueError,
        "g_l must be > 0",
    ),
    (
        "coupling overflows",
        lambda: ReducedCell.build([_soma(), _dend()], [("soma", "d", 1e40)]),
        ValueError,
        "g_couple must be > 0",
    ),
    (
        "e_l overflows",
        lambda: ReducedCell.build([_soma(), _dend(e_l=1e39)], [("soma", "d", 0.04)]),
        ValueError,
        "e_l must be finite",
    ),
    # dt against the timings
    (
        "dt > dSpike rise",
        lambda: _run(_cell(_ds()), dt=1.0),
        ValueError,
        "'d': DSpikes.duration_rise = 0.5 ms is not a whole number of steps of dt = 1 ms",
    ),
    (
        "dt not dividing t_ref",
        lambda: _run(_cell(t_ref=0.25)),
        ValueError,
        "t_ref = 0.25 ms is not a whole number of steps",
    ),
    ("dt NaN", lambda: _run(_cell(), dt=float("nan")), ValueError, "dt must be a finite time > 0"),
    ("dt = 0", lambda: _run(_cell(), dt=0.0), ValueError, "dt must be a finite time > 0"),
    # inputs
    (
        "NaN current",
        lambda: _run(_cell(), current=jnp.full((20, 2), jnp.nan)),
        ValueError,
        "inputs contains NaN or inf",
    ),
    (
        "current for 3 compartments",
        lambda: _run(_cell(), current=jnp.zeros((20, 3))),
        ValueError,
        "shaped (n_steps, *batch, 2)",
    ),
    # dendritic populations in a network
    (
        "projection to a missing compartment",
        lambda: _net(compartment="nope"),
        ValueError,
        "population 'E' has no compartment 'nope'; its compartments are ['soma', 'd']",
    ),
    (
        "projection compartment as index",
        lambda: _net(compartment=1),
        TypeError,
        "compartment must be a compartment name (str) or None",
    ),
    (
        "drive to a missing compartment",
        lambda: nn.Network(
            {"E": nn.Population(_cell(_ds()), 4)},
            [],
            [
                nn.PoissonDrive(
                    "E",
                    ns.Exponential(tau=2.0, e_rev=0.0),
                    rate=5.0,
                    weight=0.01,
                    n_sources=10,
                    compartment="distal",
                )
            ],
            dt=0.1,
        ),
        ValueError,
        "population 'E' has no compartment 'distal'",
    ),
    (
        "network dt > dSpike rise",
        lambda: nn.Network({"E": nn.Population(_cell(_ds()), 4)}, [], dt=1.0),
        ValueError,
        "population 'E': compartment 'd': DSpikes.duration_rise",
    ),
    (
        "input to a missing compartment",
        lambda: nj.simulate(
            _net(compartment="d"), {"E": {"dist": jnp.zeros((10,))}}, dt=0.1, key=jax.random.key(0)
        ),
        ValueError,
        "inputs['E']['dist']: population 'E' has no compartment 'dist'",
    ),
    (
        "record a missing compartment",
        lambda: _net(compartment="d").record(v={"E": (slice(None), "x")}),
        ValueError,
        "has no compartment 'x'",
    ),
    (
        "negative synaptic weight",
        lambda: nn.Network(
            {"E": nn.Population(_cell(_ds()), 4)},
            [
                nn.Projection(
                    "E",
                    "E",
                    nn.dense(4, 4, -0.01),
                    ns.Exponential(tau=2.0, e_rev=0.0),
                    compartment="d",
                )
            ],
            dt=0.1,
        ),
        ValueError,
        "got a negative weight",
    ),
]


@pytest.mark.parametrize("what, call, error, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_naming_it(what, call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value), str(info.value)


# Found silent by this session's probes, now refused (`cable/_reduced.py`):


def test_dspike_threshold_beyond_float32_is_refused():
    """1e39 mV became +inf in float32, the "no dSpikes" marker: that dendrite silently
    never fired (and −1e39 became −inf, firing whatever the voltage)."""
    for th in (1e39, -1e39):
        with pytest.raises(ValueError, match=r"threshold of compartment\(s\) \['d'\].*overflows"):
            _cell(_ds(threshold=th))


def test_timings_beyond_the_event_timers_are_refused():
    """Timers start at "never" (10⁷ steps) and stop there: a refractory period of 10⁷ ms
    (10⁸ steps at dt = 0.1) blocked the first dSpike for ever (0 dSpikes with the
    threshold below rest); a `t_ref` as long blocked the soma's first spike."""
    with pytest.raises(ValueError, match=r"'d': DSpikes.refractory = 1e\+07 ms is 1e\+08 steps"):
        _run(_cell(_ds(threshold=-80.0, refractory=1e7)))
    with pytest.raises(ValueError, match=r"ReducedCell.t_ref = 1e\+07 ms is 1e\+08 steps"):
        _run(_cell(v_th=-80.0, t_ref=1e7))
    # the largest accepted: just under 10⁷ steps
    assert _cell(_ds(refractory=999_999.0)).check_dt(0.1)


def test_per_neuron_t_ref_off_the_grid_is_refused():
    """`t_ref` with one value per neuron (set by `eqx.tree_at`, or a fit's batch) skipped
    the whole-step check and was floored silently (2.05 ms ran as 2.0 ms)."""
    cell = eqx.tree_at(lambda c: c.t_ref, _cell(v_th=-80.0), jnp.array([2.0, 2.05]))
    with pytest.raises(ValueError, match=r"t_ref = 2.05 ms is not a whole number of steps"):
        _run(cell, current=jnp.zeros((20, 2, 2)))
    cell = eqx.tree_at(
        lambda c: c.spike_width, _cell(v_spike=20.0, spike_width=1.0), jnp.asarray(3.0)
    )
    with pytest.raises(ValueError, match=r"spike_width = 3.0 ms is longer than t_ref"):
        _run(cell)


def test_build_under_jit_gives_a_clear_error_not_a_tracer_error():
    """`ReducedCell.build(..., t_ref=traced)` inside `jit` failed with JAX's
    TracerBoolConversionError from build's own checks; now the checks wait for the run."""
    shape = jax.eval_shape(lambda tr: _cell(v_th=-80.0, t_ref=tr).t_ref, 2.0)
    assert shape.shape == ()


@pytest.mark.slow
def test_traced_timings_are_checked_at_run_time():
    """The same refusals for a cell whose timings are traced (built or changed under
    `jit`): an off-grid `t_ref` and a refractory period beyond the timers, at run time
    (checked values: ~3 s of compiling)."""

    def spikes(tr):
        return _run(_cell(v_th=-80.0, t_ref=tr)).spikes["soma"].sum()

    with pytest.raises(Exception, match="not a whole number of steps of dt"):
        jax.block_until_ready(eqx.filter_jit(spikes)(2.05))
    assert float(eqx.filter_jit(spikes)(2.0)) > 0

    def dspikes(r):
        cell = eqx.tree_at(
            lambda c: c.refractory_d, _cell(_ds(threshold=-80.0)), jnp.array([0.0, 1.0]) * r
        )
        return _run(cell).spikes["dspikes"].sum()

    with pytest.raises(Exception, match="1e7 steps or more"):
        jax.block_until_ready(eqx.filter_jit(dspikes)(1e7))


@pytest.mark.slow
def test_euler_divergence_is_reported_with_the_variable_and_time():
    """A stiff cell (dt·g/C = 80) under forward Euler: the run stops with the variable
    and the time, not NaN voltages."""
    cell = ReducedCell.build([_soma(), _dend(c_abs=5e-5)], [("soma", "d", 0.04)])
    with pytest.raises(FloatingPointError, match=r"ReducedCell: the state variable .v became NaN"):
        _run(cell, n=50, current=jnp.full((50, 2), 0.1))


# ----------------------------------------------------------------------------- slow tier


def _case_names():
    return sorted(p.stem for p in _DATA.glob("*.npz"))


def test_every_case_has_its_reference():
    """The stored references are exactly the module's cases (none missing, none stale),
    and each stored spec is the module's spec (a case edited after its reference was made
    would compare against the old Brian2 run)."""
    m = _cases()
    specs = m.specs()
    assert _case_names() == sorted(specs)
    for name in specs:
        stored, _ = m.load(name)
        for k in ("dendrify", "brian2"):
            stored.pop(k)
        assert stored == __import__("json").loads(__import__("json").dumps(specs[name])), name


@pytest.mark.slow
@pytest.mark.parametrize("name", _case_names())
def test_case_agrees_with_dendrify(name, x64):
    """Every somatic spike and dSpike of every neuron at the same step, mean |ΔV| < 0.5
    mV (the issue's criteria); measured: the same steps and max |ΔV| ≤ 4e-6 mV, the
    float32 rounding of the stored reference (docs/dendritic.md). The noise case compares
    rates and V statistics within 4 standard errors (other random numbers)."""
    m = _cases()
    spec, ref = m.load(name)
    rows = m.compare_case(name, spec, ref)
    for run, row in rows:
        if run.endswith("(naive translation)"):
            # without dendrify's area-factor rules of NeuronModel(cm=, ..., scale_factor=,
            # spine_factor=) the same case disagrees: the rules are real and this fails
            assert not row["ok"], (run, row)
        elif "shift" not in row:  # the noise case: statistics
            assert row["ok"], (run, row)
        elif spec["method"] == "exponential_euler" and not run.endswith("(ρ-scaled)"):
            # the documented difference (Brian2's rise-and-decay synapses ρ times too
            # strong under exponential_euler): its ρ-scaled run must agree, below
            assert any(r.endswith("(ρ-scaled)") for r, _ in rows), run
        else:
            assert row["ok"], (run, row)
            assert row["shift"] == 0, (run, row)
            # float32 storage of the reference: |V| ≤ 140 mV → rounding ≤ 140·2⁻²⁴ ≈ 8e-6
            assert row["max_dv"] < 1e-5, (run, row)


# Found by this session's probes in `network/_projection.py` (fixed there by its owner):
# `Population(dspikes="no")` was truthy and recorded dSpikes.
def test_population_dspikes_must_be_a_bool():
    with pytest.raises(TypeError, match="dspikes"):
        nn.Population(_cell(_ds()), 4, dspikes="no")


def test_population_timings_changed_after_the_network_is_built_are_refused():
    """`eqx.tree_at` on a population's cell skips `Network(...)`'s checks: the run's
    `check_call` refuses the same timings before anything is compiled."""
    net = nn.Network({"E": nn.Population(_cell(_ds()), 4)}, [], dt=0.1)

    def cell_of(n):
        return n.populations["E"].neuron

    def run(n):
        return nj.simulate(n, {"E": jnp.zeros((10, 4))}, dt=0.1, key=jax.random.key(0))

    for where, value, words in (
        (lambda n: cell_of(n).t_ref, jnp.asarray(2.05), "t_ref = 2.05 ms is not a whole number"),
        (lambda n: cell_of(n).refractory_d, jnp.array([0.0, 1e7]), "the event timers count"),
        (lambda n: cell_of(n).spike_width, jnp.asarray(3.0), "spike_width = 3.0 ms is longer"),
    ):
        with pytest.raises(ValueError, match=words):
            run(eqx.tree_at(where, net, value))


def test_translation_applies_dendrifys_model_wide_rules():
    """`neurojax_view` (the translation the slow cases check against Brian2): a
    model-wide `NeuronModel(cm=, ...)` overrides each physical compartment and resets the
    area factors it does not give to 1; the soma keeps its own `spine_factor`;
    `config_dspikes` replaces an event's timings and shares its reversals by name; global
    defaults reach the synapses (reversal, Mg²⁺ block)."""
    m = _cases()
    specs = m.specs()
    (props,) = m.neurojax_view(specs["s12_neuronmodel_properties"])["populations"].values()
    soma, trunk, tuft = props["compartments"]
    assert (soma["cm"], soma["gl"], soma["ra"], soma["e_l"]) == (1.0, 0.04, 150.0, -70.0)
    assert (soma["scale_factor"], soma.get("spine_factor", 1.0)) == (1.0, 1.0)
    assert (trunk["scale_factor"], trunk["spine_factor"]) == (1.0, 1.0)  # 2.0, 1.5 dropped
    assert tuft["spine_factor"] == 1.0  # 2.0 dropped
    (areas,) = m.neurojax_view(specs["s12_neuronmodel_area_factors"])["populations"].values()
    soma, dend, obl = areas["compartments"]
    assert (soma["scale_factor"], soma["spine_factor"]) == (1.7, 3.0)  # its own spine factor
    assert (dend["scale_factor"], dend["spine_factor"]) == (1.7, 1.3)
    naive = m.neurojax_view(specs["s12_neuronmodel_properties"], naive=True)
    assert naive["populations"]["cell"]["compartments"][1]["spine_factor"] == 1.5
    cfg = m.neurojax_view(specs["s12_config_dspikes_named_reversals"])
    d1, d2, d3 = (c["dspikes"] for c in cfg["populations"]["cell"]["compartments"][1:])
    assert d1["threshold"] == d2["threshold"] == -44.0  # one event name, both dendrites
    assert (d1["e_rise"], d1["e_fall"], d3["e_rise"], d3["e_fall"]) == (70.0, -90.0, 120.0, -85.0)
    assert "reversal_rise" not in d1
    chain = m.neurojax_view(specs["s12_chain_nmda_gaba_dendrites"])
    nmda = [p for p in chain["projections"] if p["channel"] == "NMDA"]
    assert nmda and all(p["mg"] == dict(mg=1.6, alpha=0.075, beta=3.2, gamma=4.0) for p in nmda)
    assert {p["e_rev"] for p in chain["projections"] if p["channel"] == "GABA"} == {-72.0}
