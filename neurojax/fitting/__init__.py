"""Fitting model parameters to recorded traces: `fit`, losses, constraints.

```python
import neurojax as nj
from neurojax.fitting import fit, TraceMSE, Positive

result = fit(nj.HodgkinHuxley(g_na=90.0), inputs, target, dt=0.025,
             trainable=lambda m: (m.g_na, m.g_k, m.g_l), loss=TraceMSE(), steps=300)
result.model, result.loss, result.losses
```
"""

from ._adex_estimate import adex_from_voltage as adex_from_voltage
from ._data_driven import auto_window as auto_window
from ._data_driven import conductances_from_voltage as conductances_from_voltage
from ._data_driven import noise_sd as noise_sd
from ._descent import CONVERGED_GTOL as CONVERGED_GTOL
from ._descent import CONVERGED_RTOL as CONVERGED_RTOL
from ._descent import MAX_LM_PARAMETERS as MAX_LM_PARAMETERS
from ._descent import Cull as Cull
from ._descent import FitStep as FitStep
from ._descent import LevenbergMarquardt as LevenbergMarquardt
from ._descent import StageReport as StageReport
from ._descent import StopReason as StopReason
from ._fit import AUTO_PATIENCE as AUTO_PATIENCE
from ._fit import FitResult as FitResult
from ._fit import default_optimizer as default_optimizer
from ._fit import fit as fit
from ._identifiability import Identifiability as Identifiability
from ._identifiability import identifiability as identifiability
from ._losses import AbstractLoss as AbstractLoss
from ._losses import FiringRate as FiringRate
from ._losses import Latency as Latency
from ._losses import PopulationRate as PopulationRate
from ._losses import RestingPotential as RestingPotential
from ._losses import SoftDTW as SoftDTW
from ._losses import SoftSpikeCount as SoftSpikeCount
from ._losses import SpikeAmplitude as SpikeAmplitude
from ._losses import SpikeCount as SpikeCount
from ._losses import TraceMSE as TraceMSE
from ._losses import VanRossum as VanRossum
from ._losses import WeightedSum as WeightedSum
from ._losses import WindowedFeatures as WindowedFeatures
from ._losses import exponential_filter as exponential_filter
from ._losses import first_spike_latency as first_spike_latency
from ._losses import population_rate as population_rate
from ._losses import soft_dtw as soft_dtw
from ._losses import soft_spike_count as soft_spike_count
from ._objective import Objective as Objective
from ._objective import default_adjoint as default_adjoint
from ._objective import flatten_record as flatten_record
from ._objective import make_objective as make_objective
from ._polish import POLISH_MIN_LOSS as POLISH_MIN_LOSS
from ._polish import POLISH_SE as POLISH_SE
from ._recording import Recording as Recording
from ._strategies import CMAES as CMAES
from ._strategies import AbstractStrategy as AbstractStrategy
from ._strategies import Auto as Auto
from ._strategies import Chain as Chain
from ._strategies import DataDrivenInit as DataDrivenInit
from ._strategies import GlobalSearch as GlobalSearch
from ._strategies import MultipleShooting as MultipleShooting
from ._strategies import Plain as Plain
from ._strategies import Restarts as Restarts
from ._strategies import SpikeClampedInit as SpikeClampedInit
from ._strategies import cma_es as cma_es
from ._transforms import AbstractConstraint as AbstractConstraint
from ._transforms import Bounded as Bounded
from ._transforms import Positive as Positive
from ._transforms import Unconstrained as Unconstrained
