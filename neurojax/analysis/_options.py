"""The typed options and kinds of the analysis.

Each is a `StrEnum`: a member compares equal to (and prints as) its value, so
`point.kind == BifurcationKind.HOPF` and `point.kind == "hopf"` both hold, and summaries
read naturally; options are passed as members (`limit_cycles(sweep=Sweep.BOTH)`), and
anything else is refused with the members listed.
"""

from __future__ import annotations

import enum


class BifurcationKind(enum.StrEnum):
    """What a located bifurcation is.

    Of equilibria: `FOLD` (saddle-node: a real eigenvalue crosses 0 and the branch turns
    back), `HOPF` (a complex pair crosses the imaginary axis), `BRANCH_POINT` (a real
    eigenvalue crosses 0 while the branch goes on: transcritical or pitchfork).
    Of limit cycles: `FOLD_OF_CYCLES` (a Floquet multiplier through +1: a stable and an
    unstable cycle meet and vanish; "LPC", limit point of cycles, in AUTO/MatCont),
    `PERIOD_DOUBLING` (a multiplier through −1), `TORUS` (Neimark–Sacker: a complex pair
    of multipliers through the unit circle).
    """

    FOLD = "fold"
    HOPF = "hopf"
    BRANCH_POINT = "branch point"
    FOLD_OF_CYCLES = "fold of cycles"
    PERIOD_DOUBLING = "period doubling"
    TORUS = "torus"

    @property
    def of_cycles(self) -> bool:
        """Whether it is a bifurcation of limit cycles (else of equilibria)."""
        return self in (
            BifurcationKind.FOLD_OF_CYCLES,
            BifurcationKind.PERIOD_DOUBLING,
            BifurcationKind.TORUS,
        )


class OnsetKind(enum.StrEnum):
    """What makes one end of a range of stable repetitive firing (`Onset.kind`): where the
    branch of cycles that carries the stable cycle comes from.

    `HOPF` (it shrinks to an equilibrium at a Hopf point), `SNIC` (its period diverges at
    a fold of equilibria: saddle-node on an invariant circle), `HOMOCLINIC` (its period
    diverges at a saddle away from any fold), `FOLD_OF_CYCLES` (born with an unstable cycle
    there, leading to no equilibrium bifurcation in the interval), `PERIOD_DOUBLING`,
    `TORUS` (the cycle loses stability there and goes on), `INTERVAL_END` (still stable
    where the interval ends), `UNRESOLVED` (the continuation stopped before reaching any of
    these; `Onset.reason` says why).
    """

    HOPF = "hopf"
    SNIC = "snic"
    HOMOCLINIC = "homoclinic"
    FOLD_OF_CYCLES = "fold of cycles"
    PERIOD_DOUBLING = "period doubling"
    TORUS = "torus"
    INTERVAL_END = "interval end"
    UNRESOLVED = "unresolved"

    @property
    def infinite_period(self) -> bool:
        """Whether the period grows without bound there (SNIC or homoclinic)."""
        return self in (OnsetKind.SNIC, OnsetKind.HOMOCLINIC)


class Sweep(enum.StrEnum):
    """The protocol of `limit_cycles`: `UP` (values ascending from `state0`), `DOWN`
    (descending), `BOTH` (up, then back down: the hysteresis protocol)."""

    UP = "up"
    DOWN = "down"
    BOTH = "both"


class RateMethod(enum.StrEnum):
    """How `fi_curve` turns spikes into a rate: `ISI` (`(k − 1)/(t_k − t_1)` over the `k`
    spikes after the transient; the count rate with fewer than 2 spikes) or `COUNT`
    (`k / (duration − transient)`)."""

    ISI = "isi"
    COUNT = "count"


def check_option(caller: str, name: str, value, enum_type: type[enum.Enum]):
    """`value` if it is a member of `enum_type`, else a `TypeError` listing the members
    (a plain string is refused too: options are typed)."""
    if isinstance(value, enum_type):
        return value
    members = ", ".join(f"analysis.{enum_type.__name__}.{m.name}" for m in enum_type)
    hint = ""
    if isinstance(value, str) and value in {m.value for m in enum_type}:
        hint = f" (for {value!r}, pass analysis.{enum_type.__name__}({value!r}))"
    raise TypeError(f"{caller}: {name} must be one of {members}; got {value!r}{hint}.")
