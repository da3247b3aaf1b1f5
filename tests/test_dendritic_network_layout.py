"""A `ReducedCell` population's state in a `Network` is stored compartment by compartment
(`cable.ReducedColumns`, for XLA:CPU's vectorised loops; docs/dendritic.md,
"Performance"): its `(size, n)` views, and the column step against the cell's own
`vector_field` and `events`, bit for bit. (The whole network's results against dendrify:
tests/test_dendritic_network_dendrify.py, unchanged by the layout.)"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import network as nn
from neurojax._model import StepInfo
from neurojax.cable import Compartment, DSpikes, ReducedCell
from neurojax.cable._reduced import ReducedColumns, ReducedState, ReducedTimers

DT = 0.1


def cell(**soma):
    comps = [
        Compartment("soma", c_abs=0.2, gl_abs=0.01, e_l=-70.0),
        Compartment("proximal", c_abs=0.05, gl_abs=0.0025, e_l=-70.0),
        Compartment(
            "distal",
            c_abs=0.03,
            gl_abs=0.0015,
            e_l=-70.0,
            dspikes=DSpikes(g_rise=0.03, g_fall=0.015, duration_rise=1.2, duration_fall=2.4),
        ),
    ]
    conns = [("soma", "proximal", 0.015), ("proximal", "distal", 0.01)]
    kw = dict(v_th=-50.0, v_reset=-60.0, t_ref=3.0, v_spike=20.0, spike_width=1.0) | soma
    return ReducedCell.build(comps, conns, **kw)


@pytest.fixture(scope="module")
def states():
    """Random states of 64 neurons around threshold (timers at every phase), drawn with
    NumPy (no JAX program to compile for them)."""
    rng = np.random.default_rng(0)
    n = 64
    f32 = np.float32
    v = (-70.0 + 40.0 * rng.random((n, 3))).astype(f32)
    rise = (rng.random((n, 3)) < 0.3).astype(f32)
    fall = (rng.random((n, 3)) < 0.3).astype(f32)
    since_d = np.floor(rng.random((n, 3)) * 60.0).astype(f32)
    since_s = np.floor(rng.random(n) * 40.0).astype(f32)
    cur = (0.1 * rng.standard_normal((n, 3))).astype(f32)
    y = ReducedState(*(jnp.asarray(x) for x in (v, rise, fall)))
    return y, ReducedTimers(jnp.asarray(since_d), jnp.asarray(since_s)), jnp.asarray(cur)


@pytest.mark.parametrize("clamp", [True, False])
def test_column_step_equals_the_cell_step(states, clamp):
    c = cell(clamp=clamp)
    y, z, cur = states
    cols = ReducedColumns(*(tuple(x[:, i] for i in range(3)) for x in y))
    zc = c.init_discrete_columns((64,))._replace(
        since_dspikes=tuple(z.since_dspike[:, i] for i in range(3)), since_spike=z.since_spike
    )
    # the vector field: the same sums in the same order, bit for bit (eager)
    f = c.vector_field(0.0, y, cur)
    fc = c.vector_field_columns(0.0, cols, [cur[:, i] for i in range(3)])
    np.testing.assert_array_equal(fc.v, f.v)
    # the events: spikes, dSpikes, gates, timers and resets, bit for bit
    info = StepInfo(jnp.int32(5), jnp.float32(0.5), jnp.float32(DT), None)
    y1, z1, e1 = c.events(info, y, z)
    y2, z2, e2 = c.events_columns(info, cols, zc)
    for a, b in ((y1.v, y2.v), (y1.rise, y2.rise), (y1.fall, y2.fall)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(z1.since_dspike, z2.since_dspike)
    np.testing.assert_array_equal(z1.since_spike, z2.since_spike)
    np.testing.assert_array_equal(e1["soma"], e2["soma"])
    np.testing.assert_array_equal(e1["dspikes"], e2["dspikes"])
    assert float(e1["soma"].sum()) > 0 and float(e1["dspikes"].sum()) > 0  # both exercised


def test_network_state_is_stored_by_columns_with_the_usual_views():
    net = nn.Network({"E": nn.Population(cell(), 5)}, dt=DT)
    y = net.init_state()
    st = y.neurons["E"]
    assert isinstance(st, ReducedColumns) and len(st.vs) == 3
    assert all(x.shape == (5,) for x in st.vs)
    assert st.v.shape == (5, 3) and st.rise.shape == (5, 3)  # the ReducedState view
    # _replace takes the (size, n) view and stores its columns
    v = jnp.arange(15.0).reshape(5, 3)
    st2 = st._replace(v=v)
    np.testing.assert_array_equal(st2.v, v)
    np.testing.assert_array_equal(st2.vs[2], v[:, 2])
    assert net.voltage(y)["E"].shape == (5, 3)
    assert net.init_discrete().neurons["E"].since_dspike.shape == (5, 3)
