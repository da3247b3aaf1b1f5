"""Dynamics of single neurons: equilibria and their stability, phase planes, bifurcation
diagrams (continuation of equilibria, folds, Hopf points; continuation of limit cycles,
their folds, period doublings and tori; how repetitive firing starts and stops; bistable
ranges) and f–I curves.

Every function takes a model with scalar parameters (one neuron) and works on its vector
field `model.vector_field(t, y, current)`, in float64 whatever the global JAX setting.
A `neurojax.cable.Cell` with exactly one compartment (one branch, `nseg=1`), with any
mechanisms inserted (`cable.HH`, `.mod` files through `neurojax.nmodl`), is a point neuron
here (`OneCompartment`): its current is in nA, as NEURON's `IClamp.amp` (a point neuron's
µA/cm² times the compartment's area in µm² times 1e-5), its voltage `v` (mV). A cell with
more compartments is refused with a `TypeError` naming their number.
Discrete state (refractory timers) is not analysed, and a zero of the vector field that the
model's `event_step` would reset (an integrate-and-fire neuron above threshold) is no
equilibrium: `fixed_points` and `continuation` raise `NoEquilibriumError` where there is
none. The bifurcation parameter is the
injected current, or any scalar parameter selected the equinox way (`lambda m: m.g_k`).

```python
import neurojax as nj
from neurojax import analysis

hh = nj.HodgkinHuxley(e_l=-54.387)
analysis.fixed_points(hh, current=0.0)                 # [FixedPoint(v=-65.0, 'stable focus')]
branch = analysis.continuation(hh, 0.0, 200.0)         # Hopf points at I ≈ 9.78 and 154.5
analysis.phase_plane(hh, 10.0, variables=("v", "n")).plot()
picture = analysis.bifurcation_diagram(nj.ReducedHH(), -5.0, 30.0)  # with limit cycles
print(picture.summary())                               # folds of cycles, bistable ranges
picture.plot()
```
"""

from ..cable._one_compartment import OneCompartment as OneCompartment
from ._bifurcation import BifurcationDiagram as BifurcationDiagram
from ._bifurcation import CycleSearch as CycleSearch
from ._bifurcation import bifurcation_diagram as bifurcation_diagram
from ._bifurcation import steady_state_current as steady_state_current
from ._continuation import BifurcationPoint as BifurcationPoint
from ._continuation import Branch as Branch
from ._continuation import continuation as continuation
from ._cycles import CycleBranch as CycleBranch
from ._cycles import LimitCycles as LimitCycles
from ._cycles import limit_cycles as limit_cycles
from ._fi_curve import FICurve as FICurve
from ._fi_curve import fi_curve as fi_curve
from ._fi_curve import lif_rate as lif_rate
from ._fi_curve import lif_time_to_spike as lif_time_to_spike
from ._fi_curve import lif_voltage as lif_voltage
from ._fixed_points import FixedPoint as FixedPoint
from ._fixed_points import NoEquilibriumError as NoEquilibriumError
from ._fixed_points import classify as classify
from ._fixed_points import fixed_points as fixed_points
from ._onset import Onset as Onset
from ._onset import PeriodLaw as PeriodLaw
from ._onset import period_law as period_law
from ._options import BifurcationKind as BifurcationKind
from ._options import OnsetKind as OnsetKind
from ._options import RateMethod as RateMethod
from ._options import Sweep as Sweep
from ._periodic import CycleBifurcationPoint as CycleBifurcationPoint
from ._periodic import CycleContinuation as CycleContinuation
from ._periodic import NoCycleError as NoCycleError
from ._periodic import PeriodicOrbit as PeriodicOrbit
from ._periodic import continue_cycle as continue_cycle
from ._periodic import cycle_from_hopf as cycle_from_hopf
from ._periodic import cycle_period as cycle_period
from ._periodic import find_cycle as find_cycle
from ._periodic import fold_of_cycles as fold_of_cycles
from ._phase_plane import PhasePlane as PhasePlane
from ._phase_plane import phase_plane as phase_plane
from ._plot import plot_bifurcation_diagram as plot_bifurcation_diagram
from ._plot import plot_fi_curve as plot_fi_curve
from ._plot import plot_phase_plane as plot_phase_plane
