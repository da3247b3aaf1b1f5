"""Point-neuron models, one per file."""

from ._base import AbstractNeuron as AbstractNeuron
from ._integrate_and_fire import AbstractIntegrateAndFire as AbstractIntegrateAndFire
from ._integrate_and_fire import RefractoryState as RefractoryState
from .adex import NAUD2008 as NAUD2008
from .adex import AdEx as AdEx
from .adex import AdExState as AdExState
from .eif import EIF as EIF
from .eif import EIFState as EIFState
from .fitzhugh_nagumo import FitzHughNagumo as FitzHughNagumo
from .fitzhugh_nagumo import FitzHughNagumoState as FitzHughNagumoState
from .hh import HHState as HHState
from .hh import HodgkinHuxley as HodgkinHuxley
from .izhikevich import IZHIKEVICH2003 as IZHIKEVICH2003
from .izhikevich import Izhikevich as Izhikevich
from .izhikevich import IzhikevichState as IzhikevichState
from .lif import LIF as LIF
from .lif import LIFState as LIFState
from .morris_lecar import RINZEL_ERMENTROUT1998 as RINZEL_ERMENTROUT1998
from .morris_lecar import MorrisLecar as MorrisLecar
from .morris_lecar import MorrisLecarState as MorrisLecarState
from .qif import QIF as QIF
from .qif import QIFState as QIFState
from .reduced_hh import ReducedHH as ReducedHH
from .reduced_hh import ReducedHHState as ReducedHHState
