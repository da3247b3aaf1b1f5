"""The analysis' contract: typed options and kinds, clear errors instead of silent wrong
answers, progress reports, the summary's words, units from the model's declaration, one
integrator and one root finder, and an acyclic module graph.

Sections below come from the former test_analysis_errors.py, test_analysis_units.py and
test_analysis_structure.py (one file: one process in the fast tier's per-file cost).
"""

from __future__ import annotations

import ast
import contextlib
import io
import pathlib
import re
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
import neurojax.analysis as na
from neurojax import AbstractModel, analysis
from neurojax._units import CONDUCTANCE_BASED, UnitSystem
from neurojax.analysis import _periodic, _system
from neurojax.analysis._units import unit_of, units_of
from neurojax.cable import Branch, Cell, Morphology, Passive
from neurojax.network import Network, OneToOne, Population, Projection, SpikeSource
from neurojax.neurons import LIF, HodgkinHuxley
from neurojax.solvers import Euler


def _network():
    return Network(
        {"src": Population(SpikeSource(), 1), "dst": Population(nj.LIF(), 1)},
        (Projection("src", "dst", OneToOne(1, 1.0), nj.synapses.Exponential()),),
        dt=0.1,
    )


def _cell():
    return Cell(Morphology([Branch(100.0, 2.0, nseg=3)]), [(Passive(g=0.1, e=-70.0), None)])


def test_bifurcation_kinds_are_typed():
    # as `continuation` makes them (the kind given as a string; no model is run here: the
    # fast tier's continuations are in test_analysis_bifurcation and _periodic)
    hopf = na.BifurcationPoint("hopf", 1.0, None, 0.0, np.zeros(2), omega=1.0, lyapunov=0.1)
    assert hopf.kind is na.BifurcationKind.HOPF and hopf.criticality == "subcritical"
    assert hopf.kind == "hopf"  # a StrEnum: the value reads the same
    assert not hopf.kind.of_cycles and na.BifurcationKind.FOLD_OF_CYCLES.of_cycles
    with pytest.raises(ValueError, match="BifurcationKind"):
        na.BifurcationPoint("hopff", 1.0, None, 0.0, np.zeros(2))


def test_options_are_typed_with_clear_errors():
    lif = nj.LIF()
    with pytest.raises(TypeError, match=r"analysis\.Sweep\.BOTH.*Sweep\('both'\)"):
        na.limit_cycles(nj.FitzHughNagumo(), [0.0, 1.0], sweep="both")
    with pytest.raises(TypeError, match=r"analysis\.RateMethod\.ISI"):
        na.fi_curve(lif, [1.0, 2.0], duration=50.0, method="isi")
    with pytest.raises(TypeError, match="RateMethod"):
        na.fi_curve(lif, [1.0, 2.0], duration=50.0, method="median")
    a = na.fi_curve(lif, [3.0], duration=200.0, method=na.RateMethod.COUNT)
    b = na.fi_curve(lif, [3.0], duration=200.0, method=na.RateMethod.ISI)
    assert a.rate[0] > 0 and b.rate[0] > 0


def test_continuation_max_points_below_two_is_refused():
    hh = nj.HodgkinHuxley()
    for bad in (0, 1, -3, 2.5):
        with pytest.raises(ValueError, match="max_points"):
            na.continuation(hh, 0.0, 20.0, max_points=bad)
    with pytest.raises(ValueError, match="max_points"):
        na.bifurcation_diagram(hh, 0.0, 20.0, max_points=1, cycles=False)


@pytest.mark.parametrize("make", [_network, _cell], ids=["network", "cable"])
def test_networks_and_cells_are_named_not_called_populations(make):
    model = make()
    for call in (
        lambda: na.fixed_points(model, 0.0),
        lambda: na.continuation(model, 0.0, 1.0),
        lambda: na.find_cycle(model, 1.0),
    ):
        with pytest.raises(TypeError, match="point neurons") as e:
            call()
        assert "some parameters are arrays" not in str(e.value)


def test_non_finite_values_are_refused():
    hh = nj.HodgkinHuxley()
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="finite"):
            na.find_cycle(hh, bad)
    with pytest.raises(ValueError, match="non-finite parameters.*e_l"):
        # the constructor refuses NaN; a model edited afterwards is caught by the analysis
        na.fixed_points(eqx.tree_at(lambda m: m.e_l, hh, jnp.asarray(np.nan)), 0.0)
    with pytest.raises(ValueError, match="finite"):
        na.fixed_points(hh, np.nan)


def _fake_hh_fold():
    """A fold-of-cycles point object of HH (only its model matters to the checks)."""
    hh = nj.HodgkinHuxley()
    with _system.float64():
        system = _system.make_system(hh, caller="test")
        return na.CycleBifurcationPoint(
            kind=na.BifurcationKind.FOLD_OF_CYCLES,
            parameter=6.26,
            state=_system.state_to_numpy(system, np.asarray(system.initial())),
            v=0.0,
            eigenvalues=np.ones(4, complex),
            omega=0.4,
            mesh=_periodic.uniform_mesh(256),
            system=system,
        )


def test_fold_of_cycles_checks_the_model_first():
    fold = _fake_hh_fold()
    with pytest.raises(TypeError, match="computed for HodgkinHuxley.*LIF"):
        na.fold_of_cycles(nj.LIF(), fold)
    with pytest.raises(TypeError, match="point neurons"):
        na.fold_of_cycles(_network(), fold)
    population = nj.HodgkinHuxley(g_k=jnp.array([36.0, 37.0]))
    with pytest.raises(ValueError, match="scalar parameters"):
        na.fold_of_cycles(population, fold)


def test_wong_wang_stimulus_must_be_physical():
    ww = nj.models.WongWang()
    np.testing.assert_allclose(ww.stimulus(30.0, 100.0)[1], 0.0, atol=0)
    assert np.all(np.asarray(ww.stimulus(30.0, -100.0)) >= 0)
    for mu0, c in ((30.0, 200.0), (30.0, -100.5), (-30.0, 0.0), (np.nan, 0.0), (30.0, np.inf)):
        with pytest.raises(ValueError, match="coherence|mu0"):
            ww.stimulus(mu0, c)
        with pytest.raises(ValueError, match="coherence|mu0"):
            ww.fixed_points(mu0, c)


def test_progress_is_reported_through_the_meters():
    hh = nj.LIF()  # below rheobase: one branch, no bifurcation (the LIF's program is shared)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loud = na.continuation(hh, 0.0, 1.0, progress_meter=nj.TextProgress())
        quiet = na.continuation(hh, 0.0, 1.0, progress_meter=nj.NoProgress())
    assert "continuation: done" in out.getvalue()
    assert out.getvalue().count("continuation: done") == 1  # the quiet one said nothing
    np.testing.assert_array_equal(loud.parameter, quiet.parameter)
    with pytest.raises(TypeError, match="TextProgress"):
        na.continuation(hh, 0.0, 20.0, progress_meter="text")


def test_one_integrator_and_one_root_finder():
    """The analysis steps trajectories with the package's RK4 solver, and every Newton
    iteration is `neurojax._newton.root`."""
    import inspect

    from neurojax import _newton
    from neurojax.analysis import _newton as analysis_newton
    from neurojax.models import _wong_wang
    from neurojax.neurons import _base

    assert isinstance(_system.SOLVER, nj.RK4)
    assert analysis_newton.root is _newton.root
    for module in (_base, _wong_wang, _periodic):
        assert "root(" in inspect.getsource(module)
    for module in (_periodic, _system):
        assert "k4 =" not in inspect.getsource(module)


# ======================================================================================
# (was tests/test_analysis_errors.py)
# Bad input to neurojax.analysis fails early with a message that says what to do.

HH = HodgkinHuxley()


def test_phase_plane_needs_two_variables():
    with pytest.raises(ValueError, match=r"4 dynamical variables \(v, m, h, n\).*exactly 2"):
        na.phase_plane(HH)
    with pytest.raises(ValueError, match=r"variables=\('v', 'n'\)"):
        na.phase_plane(HH)
    # LIF: one dynamical variable; its refractory timer is discrete state, not one
    with pytest.raises(ValueError, match=r"1 dynamical variable \(v\).*needs 2"):
        na.phase_plane(LIF())


@pytest.mark.parametrize(
    "variables, message",
    [
        (("v",), "must name two"),
        ("vn", "must name two"),
        (("v", "x"), "no dynamical variable 'x'; choose two of: v, m, h, n"),
        (("v", "v"), "two different variables"),
    ],
)
def test_phase_plane_bad_variables(variables, message):
    with pytest.raises(ValueError, match=message):
        na.phase_plane(HH, variables=variables)


@pytest.mark.parametrize(
    "region, message",
    [
        ((10.0, -10.0), "empty or inverted"),
        ((0.0, 0.0), "empty or inverted"),
        ((0.0, float("nan")), "finite"),
        (5.0, "pair"),
    ],
)
def test_bad_search_region(region, message):
    with pytest.raises(ValueError, match=message):
        na.fixed_points(HH, v_range=region)
    with pytest.raises(ValueError, match=message):
        na.phase_plane(HH, variables=("v", "n"), x_range=region)
    with pytest.raises(ValueError, match=message):
        na.bifurcation_diagram(HH, 0.0, 10.0, v_range=region)


def test_parameter_selector_must_pick_a_scalar():
    with pytest.raises(ValueError, match=r"one scalar parameter.*returned FastSigmoid"):
        na.continuation(HH, 0.0, 10.0, parameter=lambda m: m.surrogate)
    with pytest.raises(ValueError, match=r"selector failed.*no attribute 'g_kk'"):
        na.continuation(HH, 0.0, 10.0, parameter=lambda m: m.g_kk)
    two = HodgkinHuxley(g_k=jnp.array([36.0, 30.0]))
    with pytest.raises(ValueError, match=r"array of shape \(2,\)"):
        na.continuation(two, 0.0, 10.0, parameter=lambda m: m.g_k)
    with pytest.raises(TypeError, match="selector function"):
        na.bifurcation_diagram(HH, 0.0, 10.0, parameter="g_k")


def test_population_model_is_refused():
    two = HodgkinHuxley(g_k=jnp.array([36.0, 30.0]))
    with pytest.raises(ValueError, match="one neuron.*scalar parameters"):
        na.fixed_points(two)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="two different finite"):
        na.continuation(HH, 5.0, 5.0)
    with pytest.raises(TypeError, match="needs a neurojax model"):
        na.fixed_points("hh")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        na.fi_curve(LIF(), [[1.0, 2.0]])
    with pytest.raises(ValueError, match=">= 2 finite"):
        na.limit_cycles(HH, [1.0])
    with pytest.raises(TypeError, match="LIF-like model"):
        na.lif_rate(HH, 1.0)
    with pytest.raises(ValueError, match=r"a state of HodgkinHuxley.*4 dynamical variables"):
        na.fixed_points(HH, seeds=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="no equilibrium"):
        na.continuation(LIF(), 0.0, 1.0, state0=[float("nan")])


# ---------------------------------------------------------------------------------------
# No silent wrong answers (issue 8, item 7)


def test_fixed_points_raises_when_there_is_no_equilibrium():
    # the LIF rests at -65 mV: nothing in (-40, 0) mV. An error that says what to try, not []
    with pytest.raises(na.NoEquilibriumError, match=r"no equilibrium at current=0 with V in") as e:
        na.fixed_points(LIF(), 0.0, v_range=(-40.0, 0.0))
    assert isinstance(e.value, ValueError)
    assert re.search(r"wider v_range.*n_grid.*seeds=", str(e.value))
    # LIF above rheobase (1.5 nA): the ODE's zero lies beyond threshold, the reset removes it
    with pytest.raises(na.NoEquilibriumError, match=r"V = -45.*fires.*include_virtual=True"):
        na.fixed_points(LIF(), 2.0)


def test_continuation_refuses_equilibria_beyond_the_threshold():
    # all of (2, 3) nA is above rheobase: there is no equilibrium of the model to follow
    with pytest.raises(na.NoEquilibriumError, match=r"LIF has no equilibrium at current=2"):
        na.continuation(LIF(), 2.0, 3.0)
    # from below rheobase the branch stops where V reaches the threshold, at I = 1.5 nA
    model = LIF()  # v_rest −65 mV, R 10 MΩ, v_th −50 mV
    with pytest.warns(UserWarning, match=r"ends at parameter 1\.5, V = -50"):
        branch = na.continuation(model, 0.0, 3.0)
    assert np.all(branch.v < -50.0)
    assert branch.parameter.max() == pytest.approx(1.5, abs=1e-9)
    assert branch.v[-1] == pytest.approx(-50.0, abs=1e-9)
    # every point is an equilibrium V = v_rest + R·I
    np.testing.assert_allclose(branch.v, -65.0 + 10.0 * branch.parameter, atol=1e-9)
    with pytest.warns(UserWarning, match="ends at parameter 1.5"):
        diagram = na.bifurcation_diagram(model, 0.0, 3.0)
    assert all(np.all(b.v < -50.0) for b in diagram.branches)


def test_lif_equilibrium_and_its_reset():
    model = LIF()  # (its equilibrium program is compiled for the tests above)
    # v_rest −65 mV, R 10 MΩ, threshold −50 mV
    (fp,) = na.fixed_points(model, 1.0)
    assert fp.variables == ("v",)  # the refractory counter is not a dynamical variable
    assert fp.v == pytest.approx(-65.0 + 10.0 * 1.0, abs=1e-10)
    assert fp.eigenvalues == pytest.approx([-1 / 10.0])  # −1/τ
    assert fp.stability == "stable node"
    # above rheobase the ODE's equilibrium lies beyond threshold: the reset removes it
    with pytest.raises(na.NoEquilibriumError, match=r"V = -45.*threshold and reset.*fires"):
        na.fixed_points(model, 2.0)
    (virtual,) = na.fixed_points(model, 2.0, include_virtual=True)
    assert virtual.v == pytest.approx(-45.0)


class _V(NamedTuple):
    v: jnp.ndarray


class _Runaway(AbstractModel):
    """`dv/dt = v² + I` from v = 0: at rest for I = 0, blows up (at t = π/2 ms) for I = 1."""

    def init_state(self, batch_shape=()):
        return _V(v=jnp.zeros(batch_shape))

    def vector_field(self, t, y, current):
        return _V(v=y.v**2 + current)

    def event_step(self, info, y_old, y_new, z, inputs):
        return y_new, z, (y_new.v >= 100.0).astype(y_new.v.dtype)  # a "spike", no reset


def test_a_simulation_that_blows_up_is_an_error_not_zero_hertz():
    with pytest.raises(FloatingPointError, match=r"NaN or inf at current\(s\) 1, so no firing"):
        na.fi_curve(_Runaway(), [0.0, 1.0], duration=5.0, transient=0.0, dt=0.01, solver=Euler())
    with pytest.raises(FloatingPointError, match=r"non-finite.*value\(s\) 1 \(up sweep\)"):
        na.limit_cycles(
            _Runaway(),
            [0.0, 1.0],
            sweep=na.Sweep.UP,
            dt=0.01,
            transient=0.0,
            window=5.0,
            solver=Euler(),
        )


class _Leak(AbstractModel):
    """`dv/dt = −v + I`, no events: nothing to count."""

    def init_state(self, batch_shape=()):
        return _V(v=jnp.zeros(batch_shape))

    def vector_field(self, t, y, current):
        return _V(v=-y.v + current)


def test_fi_curve_needs_spikes():
    with pytest.raises(TypeError, match="needs a spiking model.*emits no spikes"):
        na.fi_curve(_Leak(), [0.0, 1.0], duration=1.0, transient=0.0, dt=0.1, solver=Euler())


def test_fi_curve_of_a_population_is_every_current_on_every_neuron():
    currents = np.array([1.0, 2.0, 3.0])
    # three neurons and three currents: must not be paired neuron i with current i
    pop = LIF(tau=jnp.array([10.0, 20.0, 30.0]))
    fi = na.fi_curve(pop, currents, duration=300.0, transient=0.0)
    assert fi.rate.shape == fi.n_spikes.shape == fi.first_spike.shape == (3, 3)
    np.testing.assert_allclose(fi.rate, na.lif_rate(pop, currents[:, None]), rtol=2e-2)
    # each column is that neuron's own f–I curve: the same column of three copies of it
    # (same shapes: the compiled run is reused)
    one = na.fi_curve(
        LIF(tau=jnp.array([20.0, 20.0, 20.0])), currents, duration=300.0, transient=0.0
    )
    np.testing.assert_allclose(fi.rate[:, 1], one.rate[:, 0], rtol=1e-6)
    with pytest.raises(ValueError, match="do not broadcast"):
        na.fi_curve(LIF(tau=jnp.array([10.0, 20.0]), r=jnp.array([1.0, 2.0, 3.0])), currents)


# ======================================================================================
# (was tests/test_analysis_units.py)
# Units come from the model's own declaration (`AbstractModel.units`, a `UnitSystem`),
# never guessed: an undeclared model gets no unit at all; `Onset.kind` is typed.


def test_every_neuron_declares_its_units():
    for cls in (
        nj.HodgkinHuxley,
        nj.ReducedHH,
        nj.MorrisLecar,
        nj.INaPIK,
        nj.LIF,
        nj.EIF,
        nj.QIF,
        nj.AdEx,
        nj.Izhikevich,
        nj.FitzHughNagumo,
    ):
        assert isinstance(cls.units, UnitSystem), cls
    assert AbstractModel.units is None


def test_declared_units_are_read():
    hh = units_of(nj.HodgkinHuxley(), ("current", "g_k", "e_l", "v", "n", "c_m"), voltage="v")
    assert hh == {
        "current": "µA/cm²",
        "g_k": "mS/cm²",
        "e_l": "mV",
        "v": "mV",
        "n": "",
        "c_m": "µF/cm²",
    }
    assert units_of(nj.LIF(), ("current", "tau", "r"), voltage="v") == {
        "current": "nA",
        "tau": "ms",
        "r": "MΩ",
    }
    adex = units_of(nj.AdEx(), ("w", "a", "b", "tau_w"))
    assert adex == {"w": "nA", "a": "µS", "b": "nA", "tau_w": "ms"}
    assert unit_of(nj.Izhikevich(), "current") == "mV/ms"
    assert units_of(nj.FitzHughNagumo(), ("current", "v", "tau"), voltage="v") == {
        "current": "",
        "v": "",
        "tau": "",
    }


class _State(NamedTuple):
    v: jnp.ndarray
    w: jnp.ndarray


class _Undeclared(AbstractModel):
    """A user's model that says nothing about units (a FitzHugh–Nagumo in disguise)."""

    def init_state(self, batch_shape=()):
        return _State(jnp.full(batch_shape, -1.2), jnp.full(batch_shape, -0.6))

    def vector_field(self, t, y, inputs):
        v, w = y
        return _State(v - v**3 / 3 - w + inputs, (v + 0.7 - 0.8 * w) / 12.5)


def test_an_undeclared_model_gets_no_unit():
    model = _Undeclared()
    assert units_of(model, ("current", "v", "w"), voltage="v") == {}
    assert unit_of(model, "current") == ""
    # what `bifurcation_diagram` builds with those units (no analysis run: a model class of
    # its own would compile the equilibrium program just for this label)
    picture = analysis.BifurcationDiagram(
        branches=(),
        points=(),
        cycles=(),
        onsets=(),
        parameter_name="current",
        interval=(0.0, 1.0),
        units=units_of(model, ("current", "v", "w"), voltage="v"),
    )
    assert picture.units == {}

    import matplotlib

    matplotlib.use("Agg")
    ax = picture.plot()
    assert ax.get_xlabel().endswith("(model units)")
    assert ax.get_ylabel().endswith("(model units)")


def test_a_subclass_may_declare_its_own():
    class Scaled(nj.HodgkinHuxley):
        units = CONDUCTANCE_BASED.named(voltage=("v",), current=("i_extra",))

    assert unit_of(Scaled(), "i_extra") == "µA/cm²"
    assert unit_of(Scaled(), "g_k") == ""  # not listed by the subclass: no unit claimed


def test_unit_system_refuses_a_bare_string():
    with pytest.raises(TypeError, match="tuple of names"):
        CONDUCTANCE_BASED.named(voltage="v")


def test_onset_kind_is_typed():
    onset = analysis.Onset(edge=1.0, side="lower", kind="snic", parameter=1.0)
    assert onset.kind is analysis.OnsetKind.SNIC
    assert onset.kind == "snic" and onset.kind.infinite_period
    unresolved = analysis.Onset(
        edge=2.0,
        side="upper",
        kind=analysis.OnsetKind.UNRESOLVED,
        parameter=2.0,
        reason="max points",
    )
    assert unresolved.label == "unresolved (max points)"
    with pytest.raises(ValueError):
        analysis.Onset(edge=1.0, side="lower", kind="sniC", parameter=1.0)


# ======================================================================================
# (was tests/test_analysis_structure.py)
# The layout of neurojax.analysis: no import cycles between its modules (counting imports
# inside functions), and Newton's method and cycle detection each written once.

PACKAGE = "neurojax.analysis"
ROOT = pathlib.Path(na.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The absolute module names a `from ... import ...` refers to (`from . import x`
    names the submodule `x` when it is one)."""
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    targets = [base]
    for alias in node.names:
        targets.append(f"{base}.{alias.name}")  # a submodule imported by name
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module → the analysis modules it imports, from every `import` statement anywhere in
    its source (module level or inside functions and methods)."""
    files = sorted(ROOT.glob("*.py"))
    modules = {_module_name(f) for f in files}
    graph: dict[str, set[str]] = {}
    for f in files:
        name = _module_name(f)
        edges = set()
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _resolve(node, name, f.stem == "__init__")
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path `[a, b, ..., a]`, or `None` (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                return stack[stack.index(v) :] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_analysis_modules_import_no_cycle():
    graph = import_graph()
    # the graph is really built: the modules are there and see their imports
    assert f"{PACKAGE}._system" in graph and f"{PACKAGE}._newton" in graph
    assert f"{PACKAGE}._system" in graph[f"{PACKAGE}._fixed_points"]
    assert f"{PACKAGE}._fixed_points" in graph[f"{PACKAGE}._continuation"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
    # the lowest layers import no other analysis module, the plots no data class
    assert graph[f"{PACKAGE}._system"] == set()
    assert graph[f"{PACKAGE}._plot"] == set()


def _sources() -> dict[str, str]:
    return {f.stem: f.read_text() for f in ROOT.glob("*.py")}


def test_newton_and_cycle_detection_are_written_once():
    src = _sources()
    # Newton iterations: the package's one root finder (`neurojax/_newton.py`, `root`);
    # the analysis modules call it and loop no Newton of their own. (`fori_loop` is allowed
    # elsewhere: the periodic orbits integrate over their mesh with it.)
    for name in ("while_loop(", "optx.", "linalg.solve(jax.jacfwd", "jacfwd(both"):
        assert [m for m, s in src.items() if name in s] == [], name
    assert "from .._newton import root" in src["_newton"]
    package_root = (ROOT.parent / "_newton.py").read_text()
    assert "def root(" in package_root and "jacfwd(both" in package_root
    # every equilibrium solve goes through `_newton.solve_rows` (one compiled program around
    # `root`), the shooting corrector calls `root` itself
    assert "root(" in src["_newton"] and "root(" in src["_periodic"]
    for module in ("_bifurcation", "_continuation", "_fixed_points"):
        assert "solve_rows(" in src[module] or "newton_batch(" in src[module], module
    assert "slaved(" in src["_phase_plane"]
    # cycle detection: one function, used by the cycle sweeps and the phase planes
    assert [m for m, s in src.items() if "def detect_cycle" in s] == ["_cycles"]
    assert [m for m, s in src.items() if "(v[:-1] < level)" in s] == ["_cycles"]
    assert "detect_cycle" in src["_phase_plane"]
