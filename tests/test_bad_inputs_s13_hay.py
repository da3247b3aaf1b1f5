"""Session-13 probes (round 6) of the Hay et al. (2011) cell builders
(`cable.hay2011_morphology`, `hay2011_mechanisms`, `site_at_distance`, `epsp_current`):
arguments that failed with Python's, NumPy's or JAX's own messages before
(`docs/numerics.md`, "Probes of the API (session 13)"). Nothing here builds a Cell."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import cable


def test_a_shape_name_given_as_the_path_says_shape():
    # was FileNotFoundError "[Errno 2] No such file or directory: 'bac'"
    with pytest.raises(FileNotFoundError, match=r"pass shape='bac'"):
        cable.hay2011_morphology("bac")


def test_mechanisms_need_a_morphology():
    # was AttributeError "'str' object has no attribute 'types'"
    with pytest.raises(TypeError, match="morph must be a neurojax.cable.Morphology"):
        cable.hay2011_mechanisms(str(cable.L5_SIMPLIFIED_SWC))


@pytest.fixture(scope="module")
def morph():
    return cable.hay2011_morphology()  # the simplified L5 shape (reads a shipped SWC)


def test_site_of_a_region_off_the_trunk_says_along_none(morph):
    # was "no compartment of 'basal' on the path to 34": the default along="trunk" is
    # the apical trunk, which no basal compartment is on
    with pytest.raises(ValueError, match=r"pass along=None"):
        cable.site_at_distance(morph, 50.0, where="basal")
    b, x = cable.site_at_distance(morph, 50.0, where="basal", along=None)  # the control
    assert morph.types[b] == "basal" and 0 < x < 1


def test_epsp_current_under_jit_says_it_is_numpy():
    # was JAX's TracerArrayConversionError
    with pytest.raises(TypeError, match=r"epsp_current: t is traced"):
        jax.jit(lambda t: cable.epsp_current(t, 1.0))(jnp.arange(3.0))
    with pytest.raises(TypeError, match=r"imax is traced"):
        jax.grad(lambda a: cable.epsp_current(3.0, 1.0, imax=a).sum())(0.5)
    # the control, and the product the message suggests: peak 0.5 nA at the BAC timing
    i = cable.epsp_current(np.arange(0.0, 20.0, 0.025), 1.0, imax=1.0) * 0.5
    assert abs(i.max() - 0.5) < 1e-3  # the grid samples the peak to within 1e-3 of it
