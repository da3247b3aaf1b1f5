"""Spiking networks: populations of point neurons (or Dendrify-style `ReducedCell`s, with
projections onto named compartments, or morphologically detailed `cable.Cell`s, with
synapses at `(branch, x)` sites), projections with dense, sparse
(event-driven) or one-to-one connectivity and ring-buffer delays, Poisson drives.

Units: ms, mV, nA, µS, Hz. Build a `Network(populations, projections, drives, dt=...)`
and run it with `neurojax.simulate(network, inputs, dt=..., key=...)`.
"""

from ._cells import PointProcessTarget as PointProcessTarget
from ._connectivity import AbstractConnectivity as AbstractConnectivity
from ._connectivity import Dense as Dense
from ._connectivity import OneToOne as OneToOne
from ._connectivity import Sparse as Sparse
from ._connectivity import dense as dense
from ._connectivity import fixed_in_degree as fixed_in_degree
from ._connectivity import fixed_out_degree as fixed_out_degree
from ._connectivity import fixed_probability as fixed_probability
from ._connectivity import from_pairs as from_pairs
from ._connectivity import one_to_one as one_to_one
from ._delay import Delay as Delay
from ._delay import RingState as RingState
from ._delay import delay_steps as delay_steps
from ._delay import heterogeneous_delay_steps as heterogeneous_delay_steps
from ._network import Network as Network
from ._network import NetworkDiscrete as NetworkDiscrete
from ._network import NetworkState as NetworkState
from ._plot import plot_compartments as plot_compartments
from ._plot import plot_population_rate as plot_population_rate
from ._plot import raster as raster
from ._projection import PoissonDrive as PoissonDrive
from ._projection import Population as Population
from ._projection import Projection as Projection
from ._propagate import event_propagate as event_propagate
from ._spike_source import SpikeSource as SpikeSource
from ._spike_source import SpikeSourceState as SpikeSourceState
from ._spike_source import spike_counts as spike_counts
from ._statistics import isi_cv as isi_cv
from ._statistics import mean_rate as mean_rate
from ._statistics import population_rate as population_rate
from ._statistics import spike_times as spike_times
