"""`ReducedCell.vector_field`, written column by column for speed (one stack at the end,
so that XLA fuses the Euler update with the events' step; docs/dendritic.md,
"Performance"), against the dense form of the same circuit:
`C dV/dt = g_L(E_L − V) − L V + g_rise r (E_rise − V) + g_fall f (E_fall − V) + I`
with `L = conductance_matrix() − diag(g_L)` the coupling Laplacian, in float64 NumPy.

Eager and uncompiled where possible: a few milliseconds, no `simulate` call."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.cable import Compartment, DSpikes, ReducedCell, ReducedState


@pytest.fixture(scope="module")
def branched():
    """Soma, a proximal trunk and two distal branches (a branch point: a compartment with
    three neighbours), dSpikes on both branches, mixed explicit and half-cylinder
    couplings."""
    ds = DSpikes(g_rise=0.02, g_fall=0.01, threshold=-40.0)
    comps = [
        Compartment("soma", length=20.0, diameter=20.0),
        Compartment("prox", length=100.0, diameter=2.0),
        Compartment("d1", c_abs=0.03, gl_abs=0.0015, e_l=-65.0, dspikes=ds),
        Compartment("d2", c_abs=0.02, gl_abs=0.001, e_l=-72.0, dspikes=ds),
    ]
    conns = [("soma", "prox"), ("prox", "d1", 0.03), ("d2", "prox", 0.02)]
    return ReducedCell.build(comps, conns, v_th=-50.0, v_reset=-60.0, t_ref=2.0)


def dense(cell, v, rise, fall, current):
    f = {
        k: np.asarray(getattr(cell, k), float)
        for k in ("c", "g_l", "e_l", "g_rise", "g_fall", "e_rise", "e_fall")
    }
    lap = np.asarray(cell.conductance_matrix(), float) - np.diag(f["g_l"])
    total = (
        f["g_l"] * (f["e_l"] - v)
        - v @ lap.T
        + f["g_rise"] * rise * (f["e_rise"] - v)
        + f["g_fall"] * fall * (f["e_fall"] - v)
        + current
    )
    return total / f["c"], np.abs(total).max() / f["c"].min()


def state(batch, n, seed):
    rng = np.random.default_rng(seed)  # NumPy draws: no random kernels to compile
    v = -70.0 + 25.0 * rng.standard_normal((*batch, n))
    rise, fall = (rng.random((2, *batch, n)) < 0.5).astype(float)
    current = 0.05 * rng.standard_normal((*batch, n))
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return ReducedState(v=f32(v), rise=f32(rise), fall=f32(fall)), f32(current)


def test_vector_field_equals_the_dense_circuit(branched):
    # eager, a (3, 5) batch of cells with one current per cell and compartment
    y, current = state((3, 5), branched.n, seed=1)
    out = branched.vector_field(0.0, y, current)
    want, scale = dense(branched, *(np.asarray(x, float) for x in (y.v, y.rise, y.fall, current)))
    assert out.v.shape == y.v.shape
    # float32 sums of ≤ 8 terms of size ≤ |total|: a few ulps of the largest term
    # (2⁻²⁴ ≈ 6e-8 each), so 1e-6 of the largest |dV/dt| in the batch is a safe bound
    np.testing.assert_allclose(np.asarray(out.v), want, rtol=0, atol=1e-6 * scale)
    # the gates have no continuous dynamics (switched by events)
    assert not np.any(np.asarray(out.rise)) and not np.any(np.asarray(out.fall))
    # compiled (XLA may fuse and contract differently: the same float32 bound), with one
    # current per compartment broadcast over the batch
    per_compartment = jnp.array([0.01, 0.0, -0.02, 0.03])
    jitted = jax.jit(lambda y, i: branched.vector_field(0.0, y, i))(y, per_compartment)
    want, scale = dense(
        branched,
        *(np.asarray(x, float) for x in (y.v, y.rise, y.fall)),
        np.asarray(per_compartment, float),
    )
    assert jitted.v.shape == y.v.shape
    np.testing.assert_allclose(np.asarray(jitted.v), want, rtol=0, atol=1e-6 * scale)
