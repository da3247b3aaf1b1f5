"""Synapse models: kinetics of the postsynaptic conductance (or current) and short-term
plasticity of release. Units: ms, mV, µS (conductances), nA (currents).

| class | kinetics | reference |
|---|---|---|
| `Exponential` | jump, exponential decay (current- or conductance-based) | Brette et al. 2007 |
| `DualExponential`, `Alpha` | rise and decay, peak-normalised | Roth & van Rossum 2009 |
| `AMPA`, `GABAA` | two-state kinetic receptor, transmitter pulse | Destexhe et al. 1994 |
| `NMDA` | saturating slow gating, Mg²⁺ block | Jahr & Stevens 1990; Wang 2002 |
| `MgBlock` | any conductance synapse with a Mg²⁺ block (Dendrify's NMDA) | Jahr & Stevens 1990 |
| `Delta` | instantaneous voltage jump | Brunel 2000 |
| `TsodyksMarkram` | short-term depression / facilitation | Tsodyks & Markram 1997 |
"""

from ._base import AbstractSynapse as AbstractSynapse
from ._delta import Delta as Delta
from ._delta import DeltaState as DeltaState
from ._dual_exponential import Alpha as Alpha
from ._dual_exponential import AlphaState as AlphaState
from ._dual_exponential import DualExponential as DualExponential
from ._dual_exponential import DualExponentialState as DualExponentialState
from ._exponential import Exponential as Exponential
from ._exponential import ExponentialState as ExponentialState
from ._kinetic import AMPA as AMPA
from ._kinetic import GABAA as GABAA
from ._kinetic import KineticState as KineticState
from ._mg_block import MgBlock as MgBlock
from ._nmda import NMDA as NMDA
from ._nmda import NMDAState as NMDAState
from ._nmda import mg_block as mg_block
from ._stp import STPState as STPState
from ._stp import TsodyksMarkram as TsodyksMarkram
