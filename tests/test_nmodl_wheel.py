"""The `neuron` wheel's `.mod` files: parse and structure (fast tier), NetStim and
IntervalFire as spike sources (analytic spike times), DEFINE/arrays/FROM loops, the
refusals. The comparison of every file with NEURON running it is
`tests/test_nmodl_wheel_neuron.py` (slow tier)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod, parse
from neurojax.nmodl._compile import build_spec

share = Path(importlib.util.find_spec("neuron").origin).parent / ".data" / "share"
WHEEL = sorted([*(share / "modfile").glob("*.mod"), *(share / "nrn/demo/release").glob("*.mod")])


def test_the_wheel_has_the_files_this_suite_knows():
    # a new NEURON release may add files: they must then be added to the slow comparison
    names = {p.name for p in WHEEL}
    assert names == {
        "exp2syn.mod", "expsyn.mod", "hh.mod", "netstim.mod", "passive.mod", "pattern.mod",
        "stim.mod", "svclmp.mod", "cabpump.mod", "cachan1.mod", "camchan.mod", "capmpr.mod",
        "capump.mod", "invlfire.mod", "khhchan.mod", "nacaex.mod", "nachan.mod", "release.mod",
    }  # fmt: skip


@pytest.mark.parametrize("path", WHEEL, ids=lambda p: p.name)
def test_every_wheel_file_parses_or_is_refused_naming_its_line(path):
    # parse + the static analysis (no JAX): cheap; pattern.mod is C (BBCOREPOINTER, VERBATIM)
    if path.name == "pattern.mod":
        with pytest.raises(NmodlError, match=r"pattern\.mod:11: .*BBCOREPOINTER"):
            parse(path.read_text(), path.name)
        return
    spec = build_spec(parse(path.read_text(), path.name))
    assert spec.suffix


def test_arrays_defines_and_from_loops_structure():
    spec = build_spec(parse((share / "nrn/demo/release/cabpump.mod").read_text(), "cabpump.mod"))
    # DEFINE NANN 10: ca[NANN] is ten states, vol[NANN] ten carried values
    assert [n for n in spec.state_names if n.startswith("ca_")] == [f"ca_{k}" for k in range(10)]
    assert {f"vol_{k}" for k in range(10)} <= set(spec.carried)
    # capmpr: the SOLVEd block reads ica and ipump_last, set by BREAKPOINT: carried
    spec = build_spec(parse((share / "nrn/demo/release/capmpr.mod").read_text(), "capmpr.mod"))
    assert spec.bp_carry == ["ica", "ipump_last"] and not spec.carry_v
    # svclmp: vc and on, set in BREAKPOINT (reads v): carried with the step's voltage
    spec = build_spec(parse((share / "modfile/svclmp.mod").read_text(), "svclmp.mod"))
    assert spec.bp_carry == ["on", "vc"] and spec.carry_v


ARRAY_TEXT = """
NEURON { SUFFIX arr  NONSPECIFIC_CURRENT i }
DEFINE N 4
PARAMETER { g = 0.001 (S/cm2) }
ASSIGNED { v (mV) i (mA/cm2) w[N] }
STATE { x[N] }
INITIAL {
    FROM k = 0 TO N - 1 { x[k] = k  w[k] = 2*k }
}
BREAKPOINT {
    SOLVE st METHOD cnexp
    i = g*(x[N-1] + w[1])*(v + 65)
}
DERIVATIVE st {
    FROM k = 0 TO N - 2 { x[k]' = -(x[k] - x[k+1]) }
    x[N-1]' = 0
}
"""


def test_array_mechanism_runs_with_the_loop_unrolled():
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        mech = load_mod(ARRAY_TEXT)
        v = jnp.array([-65.0, -55.0])
        g = mech.init(v, 6.3)
        np.testing.assert_array_equal(np.asarray(g.x_2), [2.0, 2.0])
        # i = g·(x[3] + w[1])·(v + 65) mA/cm² → µA/cm²: 1e3·0.001·(3 + 2)·10 at −55 mV
        np.testing.assert_allclose(np.asarray(mech.current(v, g)), [0.0, 50.0], rtol=1e-12)
        # x₂' = −(x₂ − x₃) = 1: cnexp is exact for this linear equation: x₂(dt) = 3 − e^{−dt}
        g2 = mech.update(v, g, 0.1, 6.3)
        np.testing.assert_allclose(np.asarray(g2.x_2), 3 - np.exp(-0.1), rtol=1e-12)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (ARRAY_TEXT.replace("TO N - 2", "TO g"), r"<string>:\d+: a FROM loop's upper bound must"),
        (ARRAY_TEXT.replace("x[N-1]' = 0", "x[N]' = 0"), r"x\[4\] is outside the array x\[4\]"),
        (ARRAY_TEXT.replace("DEFINE N 4", "DEFINE N 2.5"), "DEFINE N 2.5"),
        (ARRAY_TEXT.replace("i = g*", "net_send(1, 2)\n i = g*"), r"net_send\(\) in a SUFFIX"),
    ],
)
def test_array_and_event_errors_name_the_line(text, match):
    with pytest.raises(NmodlError, match=match):
        load_mod(text)


def test_netstim_is_a_spike_source_with_neurons_times():
    ns = load_mod(share / "modfile/netstim.mod", start=5.0, interval=2.5, number=4)
    # NEURON's NetStim with noise 0: start + k·interval, k < number (exact in float64 for
    # these binary fractions)
    np.testing.assert_array_equal(ns.spike_times(40.0), [5.0, 7.5, 10.0, 12.5])
    np.testing.assert_array_equal(ns.spike_times(9.0), [5.0, 7.5])
    # defaults: start 50, interval 10, number 10
    np.testing.assert_array_equal(load_mod(share / "modfile/netstim.mod").spike_times(1e3),
                                  50.0 + 10.0 * np.arange(10))  # fmt: skip
    # an external event of negative weight stops it (NET_RECEIVE flag 0)
    np.testing.assert_array_equal(ns.spike_times(40.0, events=[(8.0, -1.0)]), [5.0, 7.5])


def test_netstim_noise_is_a_clear_error_not_a_different_stream():
    ns = load_mod(share / "modfile/netstim.mod", noise=0.5)
    with pytest.raises(NmodlError, match=r"netstim\.mod:\d+: random_negexp\(\): random numbers"):
        ns.spike_times(100.0)


def test_interval_fire_period_and_input():
    f = load_mod(share / "nrn/demo/release/invlfire.mod", tau=5.0, invl=7.0)
    # no input: m relaxes to minf = 1/(1 − e^{−invl/tau}) and crosses 1 every invl ms
    np.testing.assert_allclose(f.spike_times(30.0), [7.0, 14.0, 21.0, 28.0], rtol=1e-14)
    # an input of 0.5 at t = 3: m(3) = minf(1 − e^{−3/5}) + 0.5 > 1 fires at once, and
    # net_move re-times the next spike to 3 + invl
    np.testing.assert_allclose(f.spike_times(12.0, events=[(3.0, 0.5)]), [3.0, 10.0], rtol=1e-14)


def test_nmodl_limits_are_widened_to_the_files_default():
    # release.mod: tauGen = 0 (instantaneous) with limits <1e-6, 1e9>: NEURON does not
    # enforce limits, the file's default loads; a negative value the user passes does not
    mech = load_mod(share / "nrn/demo/release/release.mod")
    assert float(mech.tauGen) == 0.0
    with pytest.raises(ValueError, match=r"tauGen .*NMODL limits <1e-06,1e\+09>, widened"):
        load_mod(share / "nrn/demo/release/release.mod", tauGen=-1.0)


# Constructs published ModelDB files use often, written here from textbook equations:
# LOCAL inside NET_RECEIVE (an ExpSyn variant) and TABLE … DEPEND celsius (a delayed
# rectifier with a Q10; the table is ignored: exact rates).
SYN_LOCAL = """
NEURON { POINT_PROCESS SynL  RANGE tau, e, i  NONSPECIFIC_CURRENT i }
PARAMETER { tau = 2 (ms) e = 0 (mV) }
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT { SOLVE st METHOD cnexp  i = g*(v - e) }
DERIVATIVE st { g' = -g/tau }
NET_RECEIVE (weight (uS)) { LOCAL w2
    w2 = 2*weight
    g = g + w2
}
"""
K_TABLE = """
NEURON { SUFFIX kt  USEION k READ ek WRITE ik  RANGE gbar }
PARAMETER { gbar = 0.01 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) ninf tau celsius (degC) }
STATE { n }
INITIAL { rates(v)  n = ninf }
BREAKPOINT { SOLVE st METHOD cnexp  ik = gbar*n^4*(v - ek) }
DERIVATIVE st { rates(v)  n' = (ninf - n)/tau }
PROCEDURE rates(v (mV)) { LOCAL q10
    TABLE ninf, tau DEPEND celsius FROM -100 TO 100 WITH 200
    q10 = 3^((celsius - 6.3)/10)
    ninf = 1/(1 + exp(-(v + 50)/10))
    tau = 5/q10
}
"""


def test_local_in_net_receive_and_table_depend():
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        syn = load_mod(SYN_LOCAL)
        v = jnp.array([-65.0])
        g = syn.receive(v, syn.init(v, 6.3), jnp.array([0.003]))
        np.testing.assert_allclose(np.asarray(g.g), [0.006], rtol=1e-15)  # g += 2·w
        k = load_mod(K_TABLE)
        gates = k.init(jnp.array([-50.0]), 16.3)
        np.testing.assert_allclose(np.asarray(gates.n), [0.5], rtol=1e-15)  # ninf(−50) = 1/2
        # τ = 5/3^((16.3 − 6.3)/10) = 5/3 ms: one cnexp step from n = 0 at ninf = 1/2
        out = k.update(jnp.array([-50.0]), gates._replace(n=jnp.zeros(1)), 0.1, 16.3)
        np.testing.assert_allclose(np.asarray(out.n), 0.5 * (1 - np.exp(-0.1 * 3 / 5)),
                                   rtol=1e-12)  # fmt: skip


PP_TEXT = """
NEURON { POINT_PROCESS S  NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (nA) }
STATE { g }
BREAKPOINT { SOLVE st METHOD cnexp  i = g*v }
DERIVATIVE st { g' = -g }
NET_RECEIVE (w) { %s }
"""


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("INITIAL { g = w } g = g + w", "NET_RECEIVE's INITIAL reads the weight"),
        ("g = g + w  net_move(t + 1)", r"net_move\(\) in a POINT_PROCESS"),
        ("FOR_NETCONS(x, y) { x = 0 }", "FOR_NETCONS takes NET_RECEIVE's 1 arguments, given 2"),
        ("g = g + w  net_event(t, 1)", r"net_event\(t\) takes one argument"),
    ],
)
def test_synapse_event_constructs_refused_naming_the_line(body, match):
    # refused before anything is traced (cheap); line 7 is NET_RECEIVE's
    with pytest.raises(NmodlError, match=rf"s\.mod:7: {match}"):
        load_mod(PP_TEXT % body, file="s.mod")


@pytest.mark.parametrize(
    "body",
    ["INITIAL { g = 0 } g = g + w", "if (flag == 0) { g = g + w }",
     "g = g + w  net_send(1, 1)", "g = g + w*t", "g = g + w  net_event(t)",
     "WATCH (v > 0) 1  WATCH (v > 9) 2"],
)  # fmt: skip
def test_synapse_event_constructs_load(body):
    # connection INITIAL, flag, self-events, t: tests/test_nmodl_events.py runs them
    syn = load_mod(PP_TEXT % body, file="s.mod")
    assert type(syn).n_receive == 1
