"""The analysis' contract: typed options and kinds, clear errors instead of silent wrong
answers, progress reports, the summary's words, one integrator and one root finder."""

import contextlib
import io

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
import neurojax.analysis as na
from neurojax.analysis import _periodic, _system
from neurojax.cable import Branch, Cell, Morphology, Passive
from neurojax.network import Network, OneToOne, Population, Projection, SpikeSource


def _network():
    return Network(
        {"src": Population(SpikeSource(), 1), "dst": Population(nj.LIF(), 1)},
        (Projection("src", "dst", OneToOne(1, 1.0), nj.synapses.Exponential()),),
        dt=0.1,
    )


def _cell():
    return Cell(Morphology([Branch(100.0, 2.0, nseg=3)]), [(Passive(g=0.1, e=-70.0), None)])


def test_bifurcation_kinds_are_typed():
    branch = na.continuation(nj.HodgkinHuxley(e_l=-54.387), 0.0, 20.0)
    (hopf,) = branch.hopfs
    assert hopf.kind is na.BifurcationKind.HOPF
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
    hh = nj.HodgkinHuxley(e_l=-54.387)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        na.continuation(hh, 0.0, 20.0, progress_meter=nj.TextProgress())
        quiet = na.continuation(hh, 0.0, 20.0, progress_meter=nj.NoProgress())
    assert "continuation: done" in out.getvalue()
    assert len(quiet.hopfs) == 1
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
