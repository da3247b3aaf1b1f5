"""Fitting model parameters to recorded traces: `fit`, losses, constraints.

```python
import neurojax as nj
from neurojax.fitting import fit, TraceMSE, Positive

result = fit(nj.HodgkinHuxley(g_na=90.0), inputs, target, dt=0.025,
             trainable=lambda m: (m.g_na, m.g_k, m.g_l), loss=TraceMSE(), steps=300)
result.model, result.loss, result.losses
```
"""

from ._data_driven import conductances_from_voltage as conductances_from_voltage
from ._fit import AUTO_PATIENCE as AUTO_PATIENCE
from ._fit import FitResult as FitResult
from ._fit import FitStep as FitStep
from ._fit import default_optimizer as default_optimizer
from ._fit import fit as fit
from ._losses import AbstractLoss as AbstractLoss
from ._losses import FiringRate as FiringRate
from ._losses import Latency as Latency
from ._losses import RestingPotential as RestingPotential
from ._losses import SpikeAmplitude as SpikeAmplitude
from ._losses import SpikeCount as SpikeCount
from ._losses import TraceMSE as TraceMSE
from ._losses import VanRossum as VanRossum
from ._losses import WeightedSum as WeightedSum
from ._losses import exponential_filter as exponential_filter
from ._losses import first_spike_latency as first_spike_latency
from ._objective import Objective as Objective
from ._objective import default_adjoint as default_adjoint
from ._objective import make_objective as make_objective
from ._recording import Recording as Recording
from ._transforms import AbstractConstraint as AbstractConstraint
from ._transforms import Bounded as Bounded
from ._transforms import Positive as Positive
from ._transforms import Unconstrained as Unconstrained
