"""Point-neuron models, one per file."""

from ._base import AbstractNeuron as AbstractNeuron
from .hh import HHState as HHState
from .hh import HodgkinHuxley as HodgkinHuxley
from .lif import LIF as LIF
from .lif import LIFState as LIFState
