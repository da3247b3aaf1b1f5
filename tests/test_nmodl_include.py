"""`INCLUDE "file"` in a .mod file: the file's text in its place, looked up as nocmodl
does (next to the .mod file, then the working directory, then `MODL_INCLUDE`); a
missing file, or an error inside it, names both files (fast tier, no simulation)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.nmodl import NmodlError, load_mod

RATES = """
: HH's K rates (Hodgkin & Huxley 1952), shared through INCLUDE
FUNCTION an(v (mV)) (/ms) { an = 0.01*(v + 55)/(1 - exp(-(v + 55)/10)) }
FUNCTION bn(v (mV)) (/ms) { bn = 0.125*exp(-(v + 65)/80) }
"""

KCHAN = """
NEURON { SUFFIX kinc  USEION k READ ek WRITE ik  RANGE gbar }
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { gbar = 0.036 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) }
STATE { n }
%s
INITIAL { n = an(v)/(an(v) + bn(v)) }
BREAKPOINT { SOLVE st METHOD cnexp  ik = gbar*n^4*(v - ek) }
DERIVATIVE st { n' = an(v)*(1 - n) - bn(v)*n }
"""


def test_include_is_the_text_in_place(tmp_path):
    """The mechanism with INCLUDE equals the one with the text inline, bit for bit."""
    (tmp_path / "rates.inc").write_text(RATES)
    (tmp_path / "kinc.mod").write_text(KCHAN % 'INCLUDE "rates.inc"')
    with jax.enable_x64(True):
        inc = load_mod(tmp_path / "kinc.mod")
        inline = load_mod(KCHAN % RATES, file="kinline.mod")
        v = jnp.array([-80.0, -55.0, 10.0])  # -55: the removable singularity of an(v)
        for m in (inc, inline):
            g = m.init(v, 6.3)
            out = (g.n, m.current(v, g), m.update(v + 5.0, g, 0.025, 6.3).n)
            if m is inc:
                first = out
        for a, b in zip(first, out, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert np.all(np.isfinite(np.asarray(first[0])))


def test_include_lookup_and_errors(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "k.mod").write_text(KCHAN % 'INCLUDE "rates.inc"')
    with pytest.raises(NmodlError, match=r"k\.mod:7: INCLUDE 'rates.inc': no such file"):
        load_mod(sub / "k.mod")
    # MODL_INCLUDE directories are searched after the file's own and the working one
    inc_dir = tmp_path / "inc"
    inc_dir.mkdir()
    (inc_dir / "rates.inc").write_text(RATES)
    monkeypatch.setenv("MODL_INCLUDE", str(inc_dir))
    assert type(load_mod(sub / "k.mod")).__name__ == "Nmodl_Kinc"
    # an error inside the included file names the INCLUDE's line and its own
    (sub / "rates.inc").write_text(RATES + "\nFUNCTION bad() { bad = while }\n")
    with pytest.raises(NmodlError, match=r"k\.mod:7: .*\(in the INCLUDEd rates\.inc:6\)"):
        load_mod(sub / "k.mod")
    with pytest.raises(NmodlError, match="INCLUDE inside a block"):
        load_mod(KCHAN.replace("INITIAL {", 'INITIAL { INCLUDE "x.inc" ') % "", file="b.mod")
