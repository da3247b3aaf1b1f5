"""`nmodl.mod_class(name=...)`: a name that is not a Python identifier is refused (a 5 failed
inside `type.__new__`; "1 bad name" made a class no code could name)."""

import pytest

from neurojax.nmodl import mod_class

LEAK = """
NEURON { SUFFIX leak13 NONSPECIFIC_CURRENT i RANGE g, e }
PARAMETER { g = 0.001 (S/cm2) e = -70 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g*(v - e) }
"""


@pytest.mark.parametrize("name", [5, "1 bad name", "", b"Leak"])
def test_bad_class_name_refused(name):
    with pytest.raises(ValueError, match="not a valid Python class name"):
        mod_class(LEAK, name=name)


def test_good_class_name_used():
    assert mod_class(LEAK, name="Leak13").__name__ == "Leak13"
