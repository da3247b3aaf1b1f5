"""Ion-channel kinetics shared by point and compartment models."""

from . import hh as hh
from ._rates import vtrap as vtrap
