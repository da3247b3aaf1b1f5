"""Time-stepping schemes, passed to `simulate(..., solver=...)`."""

from ._base import AbstractSolver as AbstractSolver
from ._euler import Euler as Euler
from ._exponential_euler import ExponentialEuler as ExponentialEuler
from ._exponential_rk2 import ExponentialRK2 as ExponentialRK2
from ._rk4 import RK4 as RK4
