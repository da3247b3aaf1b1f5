"""Published network models assembled from `neurojax.network` and `neurojax.synapses`."""

from ._brette2007 import coba as coba
from ._brette2007 import coba_inputs as coba_inputs
from ._brette2007 import cuba as cuba
from ._brette2007 import random_initial_state as random_initial_state
from ._brunel2000 import brunel2000 as brunel2000
from ._cann import CANN as CANN
from ._cann import CANNState as CANNState
from ._wang2002 import wang2002 as wang2002
from ._wang2002 import wang2002_inputs as wang2002_inputs
from ._wang2002 import wang2002_stimulus as wang2002_stimulus
from ._wong_wang import WongWang as WongWang
from ._wong_wang import WongWangFixedPoint as WongWangFixedPoint
from ._wong_wang import WongWangState as WongWangState
from ._working_memory import WorkingMemory as WorkingMemory
from ._working_memory import WorkingMemoryState as WorkingMemoryState
