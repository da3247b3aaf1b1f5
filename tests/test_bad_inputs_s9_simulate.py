"""Session-9 probe of `simulate`'s time grid: a float32 run continued at a late `t0` (a
long simulation in chunks, each started from the previous `final_state` at the elapsed
time) has a time grid coarser than `dt`. Measured: `t0 = 1e6` ms, `dt = 0.025` ms gives
`Solution.t = 1e6 + [0, 0.0625, 0.0625, 0.125, 0.125, 0.125]` (float32 spacing at 1e6 is
0.0625 ms); at `t0 = 1e5` ms the steps are 0.02–0.03 ms. The step's `t` (read by
time-dependent models, NMODL mechanisms that read `t`, stimuli functions of time) is
rounded alike. Refused since session 11 (a strict `xfail` before). One tiny LIF run is
compiled (~0.3 CPU-s)."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj


def test_time_grid_of_a_late_float32_run():
    # was a strict xfail (the float32 grid 1e6 + [0, 0.0625, 0.0625, 0.125, ...] without a
    # word): refused since session 11 (`_check_time_resolution`: the float spacing of the
    # run's times beyond dt/2), naming t0, dt and the float type
    with pytest.raises(ValueError, match=r"t0=1e\+06 ms with dt=0.025 ms.*float32 spaces "
                       r"times 0.0625 ms apart"):  # fmt: skip
        nj.simulate(nj.LIF(), jnp.zeros((6,)), dt=0.025, t0=1e6)
    # within the resolution: a grid that steps by dt to float32's rounding at t0 (spacing
    # at 2000 ms: 2⁻¹³ ms = 0.5 % of dt)
    sol = nj.simulate(nj.LIF(), jnp.zeros((6,)), dt=0.025, t0=2000.0)
    steps = np.diff(np.asarray(sol.t, np.float64))
    np.testing.assert_allclose(steps, 0.025, atol=np.spacing(np.float32(2000.0)))


def test_a_python_list_of_numbers_as_inputs_is_named():
    # each number was read as a separate input leaf: "got shape ()", which misleads
    with pytest.raises(TypeError, match="Python list of 3 numbers"):
        nj.simulate(nj.LIF(), [0.0, 1.0, 2.0], dt=0.1)
