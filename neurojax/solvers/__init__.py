"""Time-stepping schemes, passed to `simulate(..., solver=...)`."""

from ._base import AbstractSolver as AbstractSolver
from ._base import check_solver_fits as check_solver_fits
from ._default import default_solver as default_solver
from ._euler import Euler as Euler
from ._exponential_euler import ExponentialEuler as ExponentialEuler
from ._exponential_rk2 import ExponentialRK2 as ExponentialRK2
from ._implicit import TRBDF2 as TRBDF2
from ._implicit import AbstractImplicitSolver as AbstractImplicitSolver
from ._implicit import AbstractThetaSolver as AbstractThetaSolver
from ._implicit import BackwardEuler as BackwardEuler
from ._implicit import CrankNicolson as CrankNicolson
from ._implicit import Rosenbrock2 as Rosenbrock2
from ._linear_solve import AbstractLinearSolver as AbstractLinearSolver
from ._linear_solve import DenseSolve as DenseSolve
from ._rk4 import RK4 as RK4
from ._staggered import Staggered as Staggered
