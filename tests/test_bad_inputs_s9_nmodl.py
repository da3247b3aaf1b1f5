"""Session-9 probes of the NMODL importer. Every failure found is in
`neurojax/nmodl/**`, helper NMODL's files this session; each was a strict `xfail` here
until helper NMODL fixed it (the marks are removed: all three now pass). Cost:
two small mechanisms parsed (~1 CPU-s with sympy), nothing simulated.

Found by the probes (the rest of the ~60 probes — parameters out of their NMODL limits,
NaN/inf/complex/bool/string parameters, unknown names, malformed files, ions given to the
mechanism, NetStim's random streams — raised clearly):

- `load_mod(..., dt=nan)` for a mechanism whose INITIAL reads dt was accepted; the
  initial state is NaN and the run then fails with "the state variable .v became NaN
  ... Try a smaller dt" (the wrong culprit), since the run-time dt check
  `|dt − dt_init| > tol` is False for NaN. `dt=True` was read as 1 ms and `dt="0.1"`
  parsed;
- a `METHOD cnexp` mechanism whose INITIAL reads dt is refused as "cnexp needs m'
  linear in m (NEURON refuses it too)": the linearity probe initialises the states with
  dt = NaN. NEURON accepts the file; `METHOD derivimplicit` loads (the control);
- NetStim's `spike_times(t_stop)` returns no spikes for `t_stop = nan`, and fails with
  "'>' not supported between 'float' and 'str'" for a string.
"""


import pytest
import sympy  # noqa: E402,F401  (a dev dependency: its absence is a broken install)
from test_nmodl import _wheel_mod  # noqa: E402  (a broken install fails, not skips)

from neurojax.nmodl import load_mod  # noqa: E402

# INITIAL reads dt (Poirazi's somacar.mod pattern, written from its equations)
DT_MOD = """NEURON { SUFFIX dtx RANGE m }
PARAMETER { tau = 5 (ms) }
STATE { m }
INITIAL { m = 1 - exp(-dt/tau) }
BREAKPOINT { SOLVE s METHOD %s }
DERIVATIVE s { m' = (1 - m)/tau }
"""


@pytest.fixture(scope="module")
def dt_mech():
    return load_mod(DT_MOD % "derivimplicit", file="dtx.mod")


@pytest.mark.parametrize("dt", [float("nan"), float("inf"), -0.1, 0.0, True, "0.1"])
def test_load_mod_dt_is_checked(dt_mech, dt):
    assert type(dt_mech).init_depends_dt and dt_mech.dt_init == 0.025  # the control
    assert load_mod(DT_MOD % "derivimplicit", file="dtx.mod", dt=0.1).dt_init == 0.1
    with pytest.raises((TypeError, ValueError), match="dt"):
        load_mod(DT_MOD % "derivimplicit", file="dtx.mod", dt=dt)


def test_cnexp_with_dt_in_initial_loads(dt_mech):
    assert type(load_mod(DT_MOD % "cnexp", file="dtx.mod")).init_depends_dt


@pytest.mark.parametrize("t_stop", [float("nan"), "100"])
def test_netstim_t_stop_is_checked(t_stop):
    stim = load_mod(_wheel_mod("netstim.mod"), start=5.0, interval=10.0, number=3)
    assert stim.spike_times(100.0).tolist() == [5.0, 15.0, 25.0]  # the control
    with pytest.raises((TypeError, ValueError), match="t_stop"):
        stim.spike_times(t_stop)
