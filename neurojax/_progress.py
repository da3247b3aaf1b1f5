"""Progress reporting strategies for `simulate` (diffrax's `progress_meter=`)."""

from __future__ import annotations

import sys

import equinox as eqx
import jax


class AbstractProgressMeter(eqx.Module):
    """Reports how far a run is. `report(k, n_blocks)` is called inside the compiled loop
    after saved block `k`."""

    def report(self, k, n_blocks: int) -> None:
        return None

    def write(self, line: str) -> None:
        """A line of progress from a Python-driven loop (`fit`'s steps)."""
        return None


class NoProgress(AbstractProgressMeter):
    """No reporting; nothing is compiled in, nothing printed."""


class TextProgress(AbstractProgressMeter):
    """Text progress: in `simulate`, a line on stderr updated every 1 % of the run (a host
    callback every 1 % of the saved blocks); in `fit`, a line per reported step on
    stdout (where a notebook shows it)."""

    def write(self, line: str) -> None:
        print(line, flush=True)

    def report(self, k, n_blocks: int) -> None:
        def show(i):
            i = int(i) + 1
            end = "\n" if i >= n_blocks else ""
            print(
                f"\rneurojax.simulate: {100 * i / n_blocks:5.1f}% ({i}/{n_blocks})",
                end=end,
                file=sys.stderr,
                flush=True,
            )

        stride = max(n_blocks // 100, 1)
        jax.lax.cond(
            (k % stride == 0) | (k == n_blocks - 1),
            lambda: jax.debug.callback(show, k),
            lambda: None,
        )
