"""How to differentiate a run: typed strategies shared by `simulate` and `fit`."""

from __future__ import annotations

import math

import equinox as eqx

# Below this many saved blocks a run is differentiated without checkpointing: the stored
# states (≤ 10⁴ per neuron) cost less than the extra forward pass.
AUTO_CHECKPOINT_ABOVE = 10_000


class AbstractAdjoint(eqx.Module):
    """How gradients of a run are computed (diffrax's `adjoint=`). The forward values are
    the same whichever is chosen."""

    def checkpoint_every(self, n_blocks: int) -> int | None:
        """Chunk length (in saved blocks) for `jax.checkpoint`, or `None` for none."""
        return None

    def recompute_steps(self) -> bool:
        """Whether reverse mode stores only the state after each step and recomputes the
        step's intermediates from it in the backward pass (`jax.checkpoint` around every
        step; default), instead of storing every intermediate of every step.

        Recomputing costs one more evaluation of the step in the backward pass and is
        nevertheless much faster: the backward step then is one fused computation (the
        replayed step and its transpose) that reads one state per step, where stacking
        the dozens of intermediates of a step (rates, exponentials, the branches of each
        `where`) cost 20–100× the forward run on CPU (HH, 4000 steps with `Euler`: 32–72
        → 0.5 ms; docs/architecture.md, "Gradient cost"). Memory per stored step: the
        state, not its intermediates (HH: 24 instead of ~170 bytes)."""
        return True


class DirectAdjoint(AbstractAdjoint):
    """Reverse mode through the time loop without chunking: the state after every step is
    stored and each step is recomputed from it in the backward pass (see
    `AbstractAdjoint.recompute_steps`). The fastest gradient for runs whose states fit in
    memory: O(n_steps) states."""


class CheckpointAdjoint(AbstractAdjoint):
    """Reverse mode with gradient checkpointing: the run is cut into chunks of `every`
    saved blocks, only each chunk's initial state is stored, and a chunk is recomputed
    during the backward pass (within it, each step from its state, as `DirectAdjoint`).
    Memory O(n/every + every) states, for one extra forward run. `every=None` chooses
    `√n` above 10⁴ blocks and no checkpointing below (then it is `DirectAdjoint`)."""

    every: int | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if self.every is not None and (
            isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1
        ):
            raise ValueError(
                f"CheckpointAdjoint(every={self.every!r}): every must be an int >= 1 or None."
            )

    def checkpoint_every(self, n_blocks: int) -> int | None:
        if self.every is not None:
            return self.every
        if n_blocks <= AUTO_CHECKPOINT_ABOVE:
            return None
        return max(int(math.isqrt(n_blocks)), 1)


class ForwardMode(AbstractAdjoint):
    """Forward-mode differentiation (JVPs): nothing is stored per step, cost grows with the
    number of parameters. `fit` then computes its gradient with one batched JVP; a plain
    `simulate` runs without checkpointing (`jax.jvp`/`jax.jacfwd` over it is cheap)."""

    def recompute_steps(self) -> bool:
        return False
