"""Session 15's held-out round (docs/nmodl.md, "An eighth corpus (session 15)"): the one
silent difference it found, on a published cell built from the corpus's mechanisms.

Durstewitz & Gabriel (2006)'s IB cell sets `CAF_cadyn = 600e-9` from hoc: `CAF` is an
ASSIGNED RANGE of its Ca²⁺ pool that no statement of the file assigns (a value only hoc
sets). `cable.from_neuron` carried PARAMETERs only, so the import had CAF = 0 (no Ca²⁺
influx into the pool): 84 mV apart, 67 spikes against NEURON's 22. It now reads such
variables like PARAMETERs (`mod_class(..., hoc_set=True)`). The `.mod` texts here are
written for these tests."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod, mod_class

# A Ca²⁺ shell after Durstewitz's cadyn: `CAF` (RANGE) and `gain` (GLOBAL) only hoc
# sets; `A` (RANGE) INITIAL assigns; `unlisted` is neither RANGE nor GLOBAL; `ica` is an
# ion variable.
_POOL = """
NEURON {
    SUFFIX s15pool
    USEION ca READ ica WRITE cai
    RANGE CAF, A, tc
    GLOBAL gain
}
UNITS { (mM) = (milli/liter) (mA) = (milliamp) F = (faraday) (coulomb) }
PARAMETER { tc = 20 (ms) cainf = 5e-5 (mM) dep = 0.1 (micron) }
ASSIGNED { ica (mA/cm2) A CAF gain unlisted }
STATE { cai (mM) }
INITIAL { A = 1e4/(F*dep) cai = cainf }
BREAKPOINT { SOLVE s METHOD cnexp }
DERIVATIVE s { cai' = -A*CAF*(1 + gain)*ica - (cai - cainf)/tc }
"""
# An ohmic Ca²⁺ leak: with the pool, eca (Nernst) moves with cai
_LEAK = """
NEURON { SUFFIX s15caleak USEION ca READ eca WRITE ica RANGE g }
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { g = 2e-4 (S/cm2) }
ASSIGNED { v (mV) eca (mV) ica (mA/cm2) }
BREAKPOINT { ica = g*(v - eca) }
"""


def test_hoc_set_true_promotes_exactly_the_values_only_hoc_sets():
    """`hoc_set=True`: every ASSIGNED RANGE/GLOBAL no statement assigns becomes a
    parameter with NEURON's default 0 (CAF, gain); one the file assigns (A), one not
    declared RANGE/GLOBAL (unlisted) and ion variables (ica) stay ASSIGNED. Without it
    the class is as before (load_mod promotes only the names it is given)."""
    cls = mod_class(_POOL, file="s15pool.mod", hoc_set=True)
    fields = set(cls._spec.field_of)
    assert {"CAF", "gain", "tc", "cainf", "dep"} <= fields
    assert not fields & {"A", "unlisted", "ica", "cai"}
    m = cls()
    assert float(m.CAF) == 0.0 and float(m.gain) == 0.0  # NEURON's value until hoc sets it
    assert "CAF" not in mod_class(_POOL, file="s15pool.mod")._spec.field_of
    # load_mod's names are checked as before: one the file assigns is refused, naming it
    assert float(load_mod(_POOL, file="s15pool.mod", CAF=2e-3).CAF) == pytest.approx(2e-3, rel=1e-6)
    with pytest.raises(NmodlError, match=r"s15pool\.mod:\d+: A is ASSIGNED.*assigns it"):
        load_mod(_POOL, file="s15pool.mod", A=1.0)


@pytest.fixture(scope="module")
def s15_mods(tmp_path_factory):
    """The two .mod texts above, compiled once (nrnivmodl, ~10 s) and loaded in NEURON."""
    import subprocess

    from neuron import h

    where = tmp_path_factory.mktemp("s15_mods")
    (where / "s15pool.mod").write_text(_POOL)
    (where / "s15caleak.mod").write_text(_LEAK)
    if not hasattr(h, "g_s15caleak"):
        nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
        subprocess.run([str(nrnivmodl)], cwd=where, check=True, capture_output=True)
        h.nrn_load_dll(str(where / "x86_64" / "libnrnmech.so"))
    return where


@pytest.mark.slow  # nrnivmodl (~10 s) and 30 ms of one compartment in both simulators
def test_from_neuron_carries_an_assigned_range_set_from_hoc(s15_mods, x64):
    """A compartment with hh, the pool (CAF and gain set from hoc, as IB.tem sets
    CAF_cadyn) and the Ca²⁺ leak, 0.3 nA for 20 ms. The import reads CAF and gain as NEURON
    holds them; before, CAF was 0 in neurojax (cai constant: 64 mV apart here, measured).
    Backward Euler, float64: round-off (measured 5.3e-11 mV; 1e-9 mV leaves ~20×)."""
    import jax
    import jax.numpy as jnp
    from neuron import h

    import neurojax as nj
    from neurojax.cable import from_neuron

    h.load_file("stdrun.hoc")
    h.celsius = 6.3
    h.usetable_hh = 0  # exact rates, as neurojax's
    s = h.Section(name="s15_soma")
    s.L = s.diam = 20.0
    for mech in ("hh", "s15pool", "s15caleak"):
        s.insert(mech)
    s(0.5).s15pool.CAF = 5e-3
    h.gain_s15pool = 0.5
    stim = h.IClamp(s(0.5))
    stim.delay, stim.dur, stim.amp = 2.0, 20.0, 0.3
    rec_v = h.Vector().record(s(0.5)._ref_v)
    rec_c = h.Vector().record(s(0.5)._ref_cai)
    imp = from_neuron([s], mods=s15_mods, v_init=-65.0)
    n, dt = 1200, 0.025
    h.dt, h.secondorder = dt, 0
    h.finitialize(-65.0)
    h.continuerun(n * dt)
    ref_v, ref_c = np.asarray(rec_v)[1 : n + 1], np.asarray(rec_c)[1 : n + 1]
    assert ref_c.max() > 2 * ref_c.min()  # the pool filled: CAF matters
    site = [imp.site("s15_soma", 0.5)]
    fns = {"v": imp.cell.record_v(site), "cai": imp.cell.record_ion("cai", site)}
    u = jax.tree.map(jnp.asarray, imp.inputs(n, dt))
    sol = nj.simulate(imp.cell, u, dt=dt, solver=nj.solvers.BackwardEuler(),
                      saveat=nj.SaveAt(fn=lambda y: {k: f(y) for k, f in fns.items()}))  # fmt: skip
    got_v = np.asarray(sol.states["v"]).reshape(n)
    got_c = np.asarray(sol.states["cai"]).reshape(n)
    np.testing.assert_allclose(got_v, ref_v, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got_c, ref_c, rtol=1e-9, atol=0)
