from __future__ import annotations

from typing import Any

import equinox as eqx
from jaxtyping import Array


class Solution(eqx.Module):
    """The result of `simulate`; every field has a leading time axis of length
    `n_steps // save_every`.

    Row `i` is the state at the end of step `(i + 1)·save_every`, i.e. at time `t[i]`.

    - `t`: times (ms), shape `(n_saved,)`.
    - `v`: membrane potential (mV), shape `(n_saved, *population_shape)`.
    - `spikes`: spike counts in the `save_every` steps ending at `t[i]` (exactly 0/1 when
      `save_every == 1`; gradients flow through the surrogate), shaped like `v`.
    - `states`: the model's state pytree (a NamedTuple), each recorded leaf with the time
      axis in front; variables left out by `record=` are `None`.
    - `final_state`: the full state after the last step, to continue a simulation
      (`simulate(..., state0=sol.final_state, t0=sol.t[-1])`).
    """

    t: Array
    v: Array
    spikes: Array
    states: Any
    final_state: Any
