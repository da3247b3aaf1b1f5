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
    def v(self) -> Array | dict[str, Array]:
        """The membrane potential, mV: `states.v` for a neuron or a cell; for a network
        (whose states hold one state per population) a dict `{population: v}`, each
        `(n_saved, size)`. `AttributeError` saying where to look when nothing called `v`
        was kept."""
        states = self.states
        v = getattr(states, "v", None)
        if v is not None:
            return v
        neurons = getattr(states, "neurons", None)
        if isinstance(neurons, dict):  # a Network's state: one entry per population
            out = {name: getattr(s, "v", None) for name, s in neurons.items()}
            out = {name: x for name, x in out.items() if x is not None}
            if out:
                return out
        fields = getattr(states, "_fields", None)
        if states is None:
            why = "nothing of the state was kept (SaveAt(vars=()) or states=None)"
            fix = "simulate with the default SaveAt() or SaveAt(vars=('v', ...))"
        elif fields is not None and "v" in fields:
            why = "SaveAt(vars=...) left out 'v'"
            fix = "add 'v' to SaveAt(vars=...)"
        elif fields is not None and "neurons" in fields:
            why = "SaveAt(vars=...) left out 'neurons' of this network's state"
            fix = "add 'neurons' to SaveAt(vars=...) and read sol.v[population]"
        elif fields is not None:
            why = f"{type(states).__name__} has no variable 'v' (its variables are {fields})"
            fix = f"read sol.states.{fields[0]} (or the model's own variable)"
        else:
            why = "states holds what SaveAt(fn=...) returned, not the model's state"
            fix = "read sol.states"
        raise AttributeError(f"this Solution has no voltage `v`: {why}; {fix}.")
