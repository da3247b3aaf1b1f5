"""Session 15, issue 19's rule ("no silent wrong answers"): bad and edge inputs to what
sessions 13-14 added (`validation/probe_s15.py`): the cable time loop in chain-block order
(session 14's opt-in `node_order`, internal since session 15) with every kind of site,
per-compartment and per-branch parameters, SaveAt, vmap,
gradients, float32, SWC cells and `plot_morphology`; int16 `Sparse` targets around 2^15;
the Poisson draws (rates 0, negative, NaN, more than one event per step, the float32
inverse CDF at the largest uniform); `FitResult.unread` for a parameter read only by the
checks; `ReducedCell.check_population`; the NMODL importer (malformed files, blocks
given twice, parameters out of their domain).

Each probe must give a clear error (whose message contains the words listed with it) or
an answer checked against an independent reference (the `"tree"` order, a dense product,
the Poisson moments, nocmodl's behaviour); the tolerances are stated with each check in
the probe script.

Found silent or unclear by these probes, and fixed (docs/numerics.md, "Probes (session
15)"): per-compartment parameters of a `"chain_blocks"` cell were read in block order
(a conductance graded by `Morphology.distances` landed on other compartments) and
`plot_morphology(cell, v)` coloured a chain-block cell's nodes by the root-outwards
numbering (both gone with the option: the block order is now internal, the cell's
numbering always root-outwards); the float32 inverse-CDF Poisson draw returned 1000
events for the largest uniforms at 1.5 % of rates (about once in 10^7 draws there);
NMODL files with a DERIVATIVE, FUNCTION, PROCEDURE or NET_RECEIVE given twice, or a DERIVATIVE block
without an equation, loaded (the last definition won; nocmodl refuses them); a SOLVE of
one block twice stepped its states twice; a BREAKPOINT or INITIAL given in two blocks
kept only the last (NEURON runs both); a `Sparse` target set out of range
by `eqx.tree_at` was dropped in the run; a
default of 1e999 was refused as "must be >= 0"; `check_population` accepted sizes 0,
-1, 2.5, True, "3" and None.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "validation" / "probe_s15.py"


def _probes():
    name = "probe_s15"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_ALL = _probes().probes()
_SLOW = _probes().SLOW


def test_probes_are_unique_and_many():
    assert len(_ALL) >= 80
    assert len({label for label, *_ in _ALL}) == len(_ALL)  # labels unique
    assert _SLOW <= {label for label, *_ in _ALL}


@pytest.mark.parametrize(
    "label",
    [pytest.param(p[0], marks=pytest.mark.slow) if p[0] in _SLOW else p[0] for p in _ALL],
)
def test_probe_is_refused_clearly_or_answered_correctly(label):
    m = _probes()
    ((_, fn, words, check),) = [p for p in _ALL if p[0] == label]
    verdict, note = m.verdict(fn, words, check)
    assert verdict in ("clear", "ok"), (label, verdict, note)
    if words is None:
        assert check is not None, label  # every run that is accepted is checked


# ------------------------------------------------------- the fixes, one small test each


def test_inverse_cdf_places_the_largest_float32_uniform_in_the_tail(monkeypatch):
    """At lam = 0.2734 the float32 sum of the pmf stops below 1 - 2^-23: the loop never
    placed that uniform and returned its cap, 1000 events. Now the far-tail count
    floor(lam + 9 sqrt(lam) + 10) = 14; below that uniform nothing changes (the same
    counts as before, bit for bit, from the same F)."""
    import jax

    from neurojax.network import _projection as P

    lam = jnp.float32(0.27339688)
    top = jnp.float32(1) - jnp.float32(2.0**-23)
    monkeypatch.setattr(P.jax.random, "uniform", lambda key, shape, dtype: jnp.full(shape, top))
    got = int(P._inverse_cdf(jax.random.key(0), lam, (1,))[0])
    assert got == 14
    # ordinary uniforms: the count is #{k : u > F(k)} (numpy float64 reference)
    us = jnp.asarray([0.0, 0.5, 0.76, 0.97, 0.999], jnp.float32)
    monkeypatch.setattr(P.jax.random, "uniform", lambda key, shape, dtype: us)
    got = np.asarray(P._inverse_cdf(jax.random.key(0), lam, us.shape))
    from math import exp, factorial

    cdf = np.cumsum([exp(-0.27339688) * 0.27339688**k / factorial(k) for k in range(20)])
    want = [int(np.sum(float(u) > cdf)) for u in us]
    assert got.tolist() == want


def test_block_loop_reads_per_compartment_values_in_the_morphology_order(x64):
    """A conductance graded by `Morphology.distances`, the loop in chain-block order (the
    default) against the loop in the cell's numbering: the same run (float64 rounding,
    1e-9 mV as tests/test_cable_blocks_s14)."""
    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology, Passive, _cell

    spec = [Branch(20.0, 20.0, nseg=3)]
    spec += [Branch(100.0 + 20 * i, 1.0, parent=(i - 1) // 2, nseg=3) for i in range(1, 7)]
    m = Morphology(spec)
    g = jnp.asarray(0.1 + 0.01 * m.distances())  # mS/cm², 10x from soma to tips
    out = {}
    old = _cell.LOOP_ORDER
    try:
        for order in ("tree", "chain_blocks"):
            _cell.LOOP_ORDER = order  # read when the run is traced (a fresh cell each)
            c = Cell(m, [(Passive(g=g), None)], clamps=[(0, 0.5)])
            at = nj.SaveAt(fn=c.record_v([(0, 0.5), (3, 0.5), (6, 0.9)]))
            out[order] = nj.simulate(
                c, jnp.full((60, 1), 0.2), dt=0.025, solver=nj.solvers.BackwardEuler(), saveat=at
            ).states
    finally:
        _cell.LOOP_ORDER = old
    assert c.geometry.loop is not None  # the tree takes the block order
    np.testing.assert_allclose(out["chain_blocks"], out["tree"], rtol=0, atol=1e-9)
