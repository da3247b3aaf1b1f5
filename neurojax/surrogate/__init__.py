"""Surrogate spike functions.

Each is an equinox module `f = FastSigmoid(slope=5.0)`; `f(x)` is exactly 0 or 1
(`x >= 0` spikes) and `jax.grad` sees the smooth `f.derivative(x)` instead of a Dirac delta.
`x` is measured in mV from threshold, `slope` in 1/mV.
"""

from ._base import AbstractSurrogate as AbstractSurrogate
from ._functions import (
    Arctan as Arctan,
)
from ._functions import (
    FastSigmoid as FastSigmoid,
)
from ._functions import (
    Gaussian as Gaussian,
)
from ._functions import (
    Sigmoid as Sigmoid,
)
from ._functions import (
    StraightThrough as StraightThrough,
)
from ._functions import (
    Triangle as Triangle,
)

SuperSpike = FastSigmoid
"""Alias: the fast sigmoid is the SuperSpike surrogate of Zenke & Ganguli (2018)."""
