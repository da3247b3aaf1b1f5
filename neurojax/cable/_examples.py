"""A reconstruction shipped with the package, for examples and first steps."""

from pathlib import Path

EXAMPLE_SWC = Path(__file__).parent / "data" / "ca1_n120.swc"
"""Path of a real reconstruction shipped with neurojax: rat CA1 pyramidal cell n120
(Pyapali et al. 1998, J Comp Neurol 391:335; NeuroMorpho.org, CC-BY 4.0), 91 kB:
`read_swc(EXAMPLE_SWC)`."""
