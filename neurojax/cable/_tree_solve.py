"""The tree (Hines) solve moved to `neurojax.solvers._tree_solve`: it is a linear solver
(`neurojax.solvers.TreeSolve`), which the solvers use without importing `cable` (no import
cycle). This name is the same module object, kept for old imports (and for code that sets
`_tree_solve.default_method`, as `benchmarks/bench_cable.py` does)."""

import sys

from ..solvers import _tree_solve

sys.modules[__name__] = _tree_solve
