"""Cable and multicompartment cells.

- shapes: `Branch`, `Morphology` (cylinders or 3-d points, `with_nseg`,
  `with_d_lambda`, `with_nseg_by_length`, `replace_axon`, regions by type,
  `distances` from the soma, `values_by_type`), distributions along the tree (`linear`,
  `exponential`, `sigmoid`, `step`), `read_swc` (NEURON Import3d's sections), `plot_morphology`,
  `EXAMPLE_SWC` (a CA1 pyramidal cell shipped with the package);
- discretisation exactly as NEURON's (`Discretisation`: segment centres plus
  membrane-less branch ends);
- `Cell`: a multicompartment model for `neurojax.simulate` — implicit voltages by an
  O(N) tree solve (`tree_solve`, differentiable in O(N) both ways), gates by
  exponential Euler; current clamps, conductance inputs and voltage clamps anywhere;
- mechanisms: any `AbstractChannel` or `AbstractPointProcess` (synapses with events) —
  their home is `neurojax.channels` (`HH`, `Passive`, `Ih`, `Im`, `IonUse`, `nernst` are
  the same objects re-exported here) — and NMODL mechanisms (`neurojax.nmodl`);
- ion pools shared by the mechanisms (`Cell(..., ions=...)`);
- Hay et al. (2011)'s L5b pyramidal cell (`hay2011_cell`: published densities and
  distributions, the `.mod` files of `HAY2011_DIR`, a *simplified* generated L5
  morphology `L5_SIMPLIFIED_SWC` by default — not Hay et al.'s reconstruction);
- Dendrify-style reduced neurons: `Compartment`, `DSpikes`, `ReducedCell`.

Units: µm (lengths, diameters), µm² (areas), Ω·cm (axial resistivity), µF/cm²
(membrane capacitance), mS/cm² (channel conductance densities), nA (injected
currents), µS (conductance inputs), mV, ms.
"""

from ..channels import HH as HH
from ..channels import AbstractChannel as AbstractChannel
from ..channels import AbstractPointProcess as AbstractPointProcess
from ..channels import Ih as Ih
from ..channels import Im as Im
from ..channels import IonUse as IonUse
from ..channels import Passive as Passive
from ..channels import nernst as nernst
from ._cell import Cell as Cell
from ._cell import CellState as CellState
from ._examples import EXAMPLE_SWC as EXAMPLE_SWC
from ._from_neuron import NeuronCell as NeuronCell
from ._from_neuron import from_neuron as from_neuron
from ._hay2011 import HAY2011_DIR as HAY2011_DIR
from ._hay2011 import L5_SIMPLIFIED_SWC as L5_SIMPLIFIED_SWC
from ._hay2011 import epsp_current as epsp_current
from ._hay2011 import hay2011_cell as hay2011_cell
from ._hay2011 import hay2011_mechanisms as hay2011_mechanisms
from ._hay2011 import hay2011_morphology as hay2011_morphology
from ._hay2011 import site_at_distance as site_at_distance
from ._morphology import Branch as Branch
from ._morphology import Discretisation as Discretisation
from ._morphology import Morphology as Morphology
from ._morphology import branch_from_points as branch_from_points
from ._morphology import exponential as exponential
from ._morphology import linear as linear
from ._morphology import sigmoid as sigmoid
from ._morphology import step as step
from ._plot import plot_morphology as plot_morphology
from ._reduced import Compartment as Compartment
from ._reduced import DSpikes as DSpikes
from ._reduced import ReducedCell as ReducedCell
from ._reduced import ReducedColumns as ReducedColumns
from ._reduced import ReducedState as ReducedState
from ._swc import read_swc as read_swc
from ._tree_solve import TreeTopology as TreeTopology
from ._tree_solve import tree_solve as tree_solve
