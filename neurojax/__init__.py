"""neurojax: differentiable simulation of neuron models in JAX."""

from . import analysis as analysis
from . import fitting as fitting
from . import solvers as solvers
from . import stimuli as stimuli
from . import surrogate as surrogate
from ._model import AbstractModel as AbstractModel
from ._simulate import simulate as simulate
from ._solution import Solution as Solution
from .fitting import fit as fit
from .neurons import EIF as EIF
from .neurons import LIF as LIF
from .neurons import QIF as QIF
from .neurons import AbstractNeuron as AbstractNeuron
from .neurons import AdEx as AdEx
from .neurons import FitzHughNagumo as FitzHughNagumo
from .neurons import HodgkinHuxley as HodgkinHuxley
from .neurons import Izhikevich as Izhikevich
from .neurons import MorrisLecar as MorrisLecar
from .neurons import ReducedHH as ReducedHH
from .solvers import RK4 as RK4
from .solvers import AbstractSolver as AbstractSolver
from .solvers import Euler as Euler
from .solvers import ExponentialEuler as ExponentialEuler
from .solvers import ExponentialRK2 as ExponentialRK2

__version__ = "0.1.0"
