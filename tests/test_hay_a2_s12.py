"""TRBDF2's two tree stages as one `lax.scan` (`solvers._implicit._SCAN_STAGES`, session
12): the same operations in the same order as the two solves written out, so the voltages
and the gradient agree with that form to rounding, with a spiking HH soma, a conductance
input on the membrane-less dendrite tip (the Kirchhoff projection) and a voltage clamp
switched on mid-run (the clamped-mode correction after the stages)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.cable import HH, Branch, Cell, Morphology, Passive
from neurojax.solvers import _implicit

N, DT = 160, 0.025


def _cell(g_na=120.0, vclamp=False):
    morph = Morphology([Branch(20.0, 20.0, type="soma"), Branch(200.0, 1.0, parent=0, nseg=5)])
    sites = {"vclamps": [(0, 0.5)]} if vclamp else {"clamps": [(0, 0.5)]}
    return Cell(
        morph,
        [(HH(g_na=g_na), "soma"), (Passive(g=0.1, e=-65.0), [1])],
        synapses=[(1, 1.0, 0.0)],  # the membrane-less tip: projected before the stages
        **sites,
    )


def _inputs(vclamp):
    k = np.arange(N)
    g = jnp.asarray(np.where((k >= 60) & (k < 100), 0.002, 0.0)[:, None])
    if vclamp:  # the command steps at 1 ms: the clamped node's own mode corrected
        return {"v_clamp": jnp.asarray(np.where(k >= 40, -20.0, -65.0)[:, None]), "g_syn": g}
    return {"i_clamp": jnp.asarray(np.where(k >= 20, 0.3, 0.0)[:, None]), "g_syn": g}


def _both(fn, monkeypatch):
    """`fn` traced and run with the stages scanned, then written out."""
    out = {}
    for scan in (True, False):
        monkeypatch.setattr(_implicit, "_SCAN_STAGES", scan)
        out[scan] = jax.jit(fn)()  # traced afresh: the flag is read while tracing
    return out[True], out[False]


@pytest.mark.parametrize("vclamp", [False, True])
def test_scanned_stages_same_voltages_as_two_solves(x64, monkeypatch, vclamp):
    cell, inputs = _cell(vclamp=vclamp), _inputs(vclamp)
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5), (1, 1.0)]))

    def run():
        return nj.simulate(cell, inputs, dt=DT, solver=nj.TRBDF2(), saveat=rec).states

    scanned, written = _both(run, monkeypatch)
    scanned, written = np.asarray(scanned), np.asarray(written)
    if not vclamp:
        assert scanned[:, 0].max() > 20.0  # the soma spikes: the nonlinear regime is covered
    # the same float64 operations in the same order; XLA may fuse (contract) them
    # differently in the two programs: a few ulp of ~100 mV per step, grown through the
    # spike's sensitivity over 160 steps — 1e-9 mV leaves 1e3× over what was seen (~1e-13)
    np.testing.assert_allclose(scanned, written, rtol=0, atol=1e-9)


@pytest.mark.slow  # two gradients compiled: ~2 s
def test_scanned_stages_same_gradient_as_two_solves(x64, monkeypatch):
    inputs = _inputs(True)

    def loss(p):
        cell = _cell(g_na=p[0], vclamp=True)
        sol = nj.simulate(
            cell, inputs, dt=DT, solver=nj.TRBDF2(), saveat=nj.SaveAt(fn=cell.record_v([(1, 1.0)]))
        )
        return jnp.mean((sol.states + 60.0) ** 2)

    p0 = jnp.array([120.0])
    scanned, written = _both(lambda: jax.grad(loss)(p0), monkeypatch)
    assert np.all(np.isfinite(written)) and abs(float(written[0])) > 0
    # rounding only (see above): relative 1e-9 of the gradient, ~1e3× what was seen
    np.testing.assert_allclose(scanned, written, rtol=1e-9)


def test_scanned_stages_under_vmap(monkeypatch):
    """A batch of cells (vmap over the inputs): the scan carries the batch axis."""
    cell = _cell()
    base = _inputs(False)
    batch = {
        "i_clamp": jnp.stack([base["i_clamp"], 0.5 * base["i_clamp"]]),
        "g_syn": jnp.stack([base["g_syn"], base["g_syn"]]),
    }
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))

    def run():
        return jax.vmap(
            lambda u: nj.simulate(cell, u, dt=DT, solver=nj.TRBDF2(), saveat=rec).states
        )(batch)

    scanned, written = _both(run, monkeypatch)
    assert scanned.shape == (2, N, 1)
    # float32: a few ulp of ~100 mV per step, through the spike: 1e-3 mV, ~1e2× the ulp
    np.testing.assert_allclose(np.asarray(scanned), np.asarray(written), rtol=0, atol=1e-3)
