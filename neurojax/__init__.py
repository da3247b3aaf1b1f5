"""neurojax: differentiable simulation of neuron models in JAX."""

from . import analysis as analysis
from . import fitting as fitting
from . import solvers as solvers
from . import stimuli as stimuli
from . import surrogate as surrogate
from ._adjoint import AbstractAdjoint as AbstractAdjoint
from ._adjoint import CheckpointAdjoint as CheckpointAdjoint
from ._adjoint import DirectAdjoint as DirectAdjoint
from ._adjoint import ForwardMode as ForwardMode
from ._model import AbstractModel as AbstractModel
from ._model import AbstractStructure as AbstractStructure
from ._model import Coupled as Coupled
from ._model import Domain as Domain
from ._model import Elementwise as Elementwise
from ._model import ModelState as ModelState
from ._model import StepInfo as StepInfo
from ._model import Tree as Tree
from ._model import parameter as parameter
from ._progress import AbstractProgressMeter as AbstractProgressMeter
from ._progress import NoProgress as NoProgress
from ._progress import TextProgress as TextProgress
from ._saveat import SaveAt as SaveAt
from ._simulate import simulate as simulate
from ._solution import Solution as Solution
from .fitting import fit as fit
from .neurons import EIF as EIF
from .neurons import LIF as LIF
from .neurons import QIF as QIF
from .neurons import AbstractIntegrateAndFire as AbstractIntegrateAndFire
from .neurons import AbstractNeuron as AbstractNeuron
from .neurons import AdEx as AdEx
from .neurons import FitzHughNagumo as FitzHughNagumo
from .neurons import HodgkinHuxley as HodgkinHuxley
from .neurons import Izhikevich as Izhikevich
from .neurons import MorrisLecar as MorrisLecar
from .neurons import ReducedHH as ReducedHH
from .solvers import RK4 as RK4
from .solvers import AbstractSolver as AbstractSolver
from .solvers import BackwardEuler as BackwardEuler
from .solvers import CrankNicolson as CrankNicolson
from .solvers import Euler as Euler
from .solvers import ExponentialEuler as ExponentialEuler
from .solvers import ExponentialRK2 as ExponentialRK2
from .solvers import Rosenbrock2 as Rosenbrock2

__version__ = "0.1.0"
