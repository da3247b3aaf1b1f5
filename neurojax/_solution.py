from __future__ import annotations

from typing import Any

import equinox as eqx
from jaxtyping import Array, Float

from ._model import ModelState


class Solution(eqx.Module):
    """The result of `simulate`; every recorded field has a leading time axis of length
    `n_steps // saveat.every`.

    Row `i` is the state at the end of step `(i + 1)·every`, i.e. at time `t[i]`.

    - `t`: times (ms), shape `(n_saved,)`, exact (`t0 + k·dt` from integer step counts).
    - `states`: what `SaveAt` kept of the continuous state (by default the model's state
      NamedTuple with a time axis in front of each leaf; with `SaveAt(vars=...)` the other
      variables are `None`; with `SaveAt(fn=...)` whatever `fn` returns).
    - `spikes`: the model's events — spike counts in the `every` steps ending at `t[i]`
      (exactly 0/1 when `every == 1`; gradients flow through the surrogate unless
      `SaveAt(spike_dtype=...)` made them integers); a pytree for a network; `None` if
      not kept or the model has no events.
    - `final_state`: the full `ModelState(y, z)` after the last step, to continue a run
      (`simulate(..., state0=sol.final_state, t0=sol.t[-1])`).
    - `v` (property): the membrane potential `states.v`, mV — kept once, not copied.
    """

    t: Float[Array, " n_saved"]
    states: Any
    spikes: Any
    final_state: ModelState

    @property
    def v(self) -> Array:
        v = getattr(self.states, "v", None)
        if v is None:
            raise AttributeError(
                "this Solution kept no voltage `v`: simulate with the default SaveAt or "
                "SaveAt(vars=(..., 'v')) to keep it."
            )
        return v
