"""NMODL importer follow-ups of session 12's held-out rounds (helper E2), fast tier:

- a top-level `VERBATIM #include <stdlib.h> ENDVERBATIM` (12 of Bezaire et al. 2016's
  15 files) is accepted as nothing; any other C there is refused, naming the file, the
  line and the construct;
- INITIAL reading an ASSIGNED before assigning it, where the value reaches a STATE (or
  what the step reads), warns at import (NEURON's result depends on its previous run;
  neurojax starts the value at 0, as NEURON's first run);
- a Cell accepts an ion without valence unless a mechanism reads a reversal potential
  that Nernst computes (NEURON needs the charge there only).
"""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import Branch, Cell, Morphology
from neurojax.nmodl import load_mod, parse
from neurojax.solvers import BackwardEuler

# A gated K channel written for these tests (its equations are nobody's model).
CHAN = """
NEURON { SUFFIX kx  USEION k READ ek WRITE ik  RANGE gbar }
PARAMETER { gbar = 0.01 (S/cm2) }
STATE { n }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) ninf tau (ms) }
BREAKPOINT { SOLVE st METHOD cnexp  ik = gbar * n * (v - ek) }
INITIAL { rates(v)  n = ninf }
DERIVATIVE st { rates(v)  n' = (ninf - n) / tau }
PROCEDURE rates(v (mV)) { ninf = 1 / (1 + exp(-(v + 40) / 8))  tau = 2 }
"""

HEADER = """VERBATIM
#include <stdlib.h> /*	Include this library so that the following
			(innocuous) warning does not appear */
#include <math.h>   // a line comment
ENDVERBATIM
"""


def _state(mech, v=-60.0):
    g = mech.init(jnp.array([v]), 34.0)
    return float(g.n[0]), float(mech.current(jnp.array([v + 5]), g)[0])


def test_top_level_verbatim_include_is_nothing():
    """With the block (Bezaire's form: an include, a comment over several lines) the
    parsed program is the file's with blank lines in its place (the same tree, line
    numbers included), before the other blocks or between them."""
    blank = "\n" * HEADER.count("\n")
    assert parse(HEADER + CHAN, "kx.mod") == parse(blank + CHAN, "kx.mod")
    between = CHAN.replace("INITIAL", HEADER + "INITIAL", 1)
    assert parse(between, "kx.mod") == parse(CHAN.replace("INITIAL", blank + "INITIAL", 1),
                                             "kx.mod")  # fmt: skip
    assert parse(HEADER + CHAN, "kx.mod") != parse(CHAN, "kx.mod")  # (lines do count)
    load_mod(HEADER + CHAN, file="kx.mod")  # and the importer takes it


@pytest.mark.parametrize(
    ("c_code", "line", "shown"),
    [
        ("#define X 1", 3, "'#define X 1'"),
        ("extern double* vector_vec();", 3, "'extern double* vector_vec();'"),
        ("static int n_calls; /* a counter */", 3, "'static int n_calls;'"),
        ("double f(double x) {", 3, "'double f(double x) {'"),
        ('#include "nrnran123.h"', 3, "'#include \"nrnran123.h\"' (not a C standard"),
        ("#include <nrnran123.h>", 3, "'#include <nrnran123.h>' (not a C standard"),
        ("/* a comment never closed", 3, "an unclosed C comment"),
    ],
)
def test_top_level_verbatim_code_refused(c_code, line, shown):
    """Anything but standard-header includes, comments and whitespace is refused at
    load: `file:line:` of the block (as every VERBATIM refusal), the construct with its
    comments left out and its own line (the block's second: line 3), what is accepted."""
    text = "\nVERBATIM\n#include <stdlib.h>\n" + c_code + "\nENDVERBATIM\n" + CHAN
    text = text.replace("\n", "", 1)  # VERBATIM on line 1
    with pytest.raises(ValueError) as e:
        load_mod(text, file="kx.mod")
    msg = str(e.value)
    assert msg.startswith("kx.mod:1: VERBATIM blocks (C code) are not supported: "), msg
    assert f"{shown}" in msg and f"at line {line}, in a top-level VERBATIM block" in msg, msg
    assert "only `#include <...>` of C standard library headers" in msg, msg


def test_verbatim_in_a_block_still_refused():
    """A VERBATIM inside a PROCEDURE (C run by the mechanism) is not this case: an
    `#include` there is refused as before (at run, where the block runs)."""
    text = CHAN.replace("tau = 2 }", "tau = 2\nVERBATIM\n#include <stdlib.h>\nENDVERBATIM\n}")
    with pytest.raises(ValueError, match="VERBATIM"):
        _state(load_mod(text, file="kx.mod"))


def test_included_verbatim(tmp_path):
    """An INCLUDEd file's top-level `#include <stdlib.h>` block is accepted; C code there
    is refused, naming the included file's line and the INCLUDE's."""
    (tmp_path / "ok.inc").write_text(HEADER + "PARAMETER { extra = 1 }\n")
    (tmp_path / "bad.inc").write_text("VERBATIM\nint k;\nENDVERBATIM\n")
    for name in ("ok", "bad"):
        (tmp_path / f"{name}.mod").write_text(f'INCLUDE "{name}.inc"\n' + CHAN)
    mech = load_mod(tmp_path / "ok.mod")
    assert mech.extra == 1.0 and type(mech)._spec.state_names == ["n"]
    with pytest.raises(ValueError) as e:
        load_mod(tmp_path / "bad.mod")
    assert "bad.inc:1: VERBATIM blocks (C code) are not supported: 'int k;' at line 2" in \
        str(e.value)  # fmt: skip
    assert str(e.value).startswith("bad.mod:1: bad.inc:1:"), str(e.value)


# Bezaire's ch_KCaS.mod's INITIAL, written again: `n = ninf` before rates() sets ninf.
LEFTOVER = CHAN.replace("INITIAL { rates(v)  n = ninf }", "INITIAL {\n n = ninf\n rates(v)\n}")


def _warnings(text):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        mech = load_mod(text, file="kx.mod")
    return mech, [str(x.message) for x in w if issubclass(x.category, UserWarning)]


def test_initial_reading_assigned_before_assigning_it_warns():
    """The warning names the file, the INITIAL line that reads, the variable, what it
    reaches and the start neurojax takes (0, NEURON's first run); the file written in
    order gives none."""
    msgs = _warnings(LEFTOVER)[1]
    assert len(msgs) == 1, msgs
    assert msgs[0].startswith("kx.mod:8: INITIAL reads ninf before it assigns it, and "
                              "the value reaches n: NEURON keeps ninf from its previous "
                              "run")  # fmt: skip
    assert "neurojax starts ninf at 0, as NEURON's first run does" in msgs[0]
    assert _warnings(CHAN)[1] == []


@pytest.mark.slow  # the mechanisms' init and current compile (~3-5 s on a loaded machine)
def test_initial_leftover_starts_at_zero(x64):
    """What the warning says: n starts at ninf's 0 (NEURON's first run), not at
    ninf(-60 mV) = 0.076 as in the file written in order."""
    assert _state(_warnings(LEFTOVER)[0])[0] == 0.0
    assert _state(load_mod(CHAN))[0] == pytest.approx(1 / (1 + np.exp(20 / 8)), rel=1e-12)


def test_leftover_read_that_reaches_nothing_or_a_condition():
    """A leftover value overwritten before anything keeps it (Pospischil's IM_cortex:
    `evaluate_fct(v)` computes tau from tau_peak, set just after, and the step recomputes
    tau) is no warning; one read in an `if` condition that decides a STATE is."""
    quiet = CHAN.replace("ASSIGNED { v (mV)", "ASSIGNED { peak v (mV)").replace(
        "INITIAL { rates(v)  n = ninf }", "INITIAL { tau = peak  rates(v)  n = ninf }")
    assert _warnings(quiet)[1] == []
    cond = CHAN.replace("INITIAL { rates(v)  n = ninf }",
                        "INITIAL {\n if (ninf > 0.5) { n = 1 } else { n = 0 }\n rates(v)\n}")
    msgs = _warnings(cond)[1]
    assert len(msgs) == 1 and msgs[0].startswith("kx.mod:8: INITIAL reads ninf"), msgs
    assert "reaches n:" in msgs[0], msgs


# A mechanism reading a concentration of an ion declared without VALENCE (Filipis et
# al.'s skbk.mod: `USEION lca READ lcai`), optionally its reversal potential too.
NO_VALENCE = """
NEURON { SUFFIX xprobe  USEION x READ xi%s  NONSPECIFIC_CURRENT i  RANGE g }
PARAMETER { g = 1e-4 (S/cm2) }
ASSIGNED { v (mV) xi (mM) ex (mV) i (mA/cm2) }
BREAKPOINT { i = g * xi * (v - %s) }
"""


def _one(mech, **kw):
    return Cell(Morphology([Branch(10.0, 10.0, nseg=1)]), [(mech, None)], **kw)


def test_ion_without_valence_refused_only_where_nernst_is_read():
    """Read concentration, reversal potential unread: the cell is built and nothing
    computes ex. Reversal potential read where Nernst computes it: refused at
    construction, naming the ion, the mechanism and VALENCE; with VALENCE given,
    accepted (and ex is Nernst's there)."""
    cell = _one(load_mod(NO_VALENCE % ("", "-70"), file="xprobe.mod"), ions={"xi": 2.0})
    assert not cell.geometry.ions.nernst_mask["x"].any()  # nothing computes ex
    reads_e = load_mod(NO_VALENCE % (", ex", "ex"), file="xprobe.mod")
    with pytest.raises(ValueError) as e:
        _one(reads_e, ions={"xi": 2.0, "xo": 1.0})
    msg = str(e.value)
    assert msg.startswith("ion 'x' has no valence, and mechanism 0 (") and "reads its " \
        "reversal potential ex" in msg and "USEION x ... VALENCE z" in msg, msg  # fmt: skip
    with_z = load_mod((NO_VALENCE % (", ex", "ex")).replace("READ xi, ex", "READ xi, ex VALENCE 2"),
                      file="xprobe.mod")  # fmt: skip
    assert _one(with_z, ions={"xi": 2.0, "xo": 1.0}).geometry.ions.nernst_mask["x"].any()


@pytest.mark.slow  # a simulate's compile (~2 s)
def test_ion_without_valence_runs(x64):
    """The cell whose ion has no valence runs: the file's current g·xi·(v + 70) alone
    takes V from −65 mV towards −70 mV, monotonically (backward Euler is monotone on one
    linear compartment)."""
    cell = _one(load_mod(NO_VALENCE % ("", "-70"), file="xprobe.mod"), ions={"xi": 2.0})
    sol = nj.simulate(cell, jnp.zeros((400, 0)), dt=0.025, solver=BackwardEuler())
    v = np.asarray(sol.v)[:, 0]
    assert np.all(np.diff(v) < 0) and -70.0 < v[-1] < -65.0, v[[0, -1]]
