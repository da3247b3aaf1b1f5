"""Membrane mechanisms: one home for the channels of point neurons and cells.

- the mechanism contract (`AbstractChannel`, `AbstractPointProcess`; `._base` has the
  methods and units) and its ions (`IonUse`, `nernst`, NEURON's `FARADAY`, `R_GAS`;
  `._ions`);
- the built-in mechanisms `HH`, `Passive`, `Ih`, `Im`; NMODL mechanisms
  (`neurojax.nmodl.load_mod`) follow the same contract;
- rate functions shared with the point neurons: `hh` (Hodgkin–Huxley's rates and
  `HHParameters`, the one declaration of their conductances and reversal potentials
  used by `neurojax.HodgkinHuxley`, `neurojax.ReducedHH` and `HH`), `vtrap`.

Any mechanism can be inserted in a cable `Cell`; a one-compartment `Cell` is then a point
neuron for `simulate`, `fit` and `neurojax.analysis` (`analysis.OneCompartment`).
"""

from . import hh as hh
from ._base import AbstractChannel as AbstractChannel
from ._base import AbstractPointProcess as AbstractPointProcess
from ._builtin import HH as HH
from ._builtin import Ih as Ih
from ._builtin import Im as Im
from ._builtin import Passive as Passive
from ._ions import FARADAY as FARADAY
from ._ions import R_GAS as R_GAS
from ._ions import IonUse as IonUse
from ._ions import nernst as nernst
from ._rates import vtrap as vtrap
