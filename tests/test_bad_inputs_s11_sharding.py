"""Session-11 probes of `neurojax.sharding`: `population_sharding` with a negative
`ndim` or an axis beyond the array's (a bare "list assignment index out of range")."""

import pytest

from neurojax.sharding import population_sharding


@pytest.mark.parametrize(
    "ndim, axis, words",
    [(-1, -1, "ndim must be an int >= 0"), (2, 5, "axis=5 is not an axis of a 2-d array"),
     (2, -3, "axis=-3"), (2.0, -1, "ndim")],
)  # fmt: skip
def test_population_sharding_arguments_are_named(ndim, axis, words):
    with pytest.raises(ValueError, match=words):
        population_sharding(None, ndim, axis)


def test_population_sharding_valid_axes():
    assert population_sharding(None, 2, -1).spec[-1] is not None
    assert population_sharding(None, 2, 0).spec[0] is not None
    assert tuple(population_sharding(None, 0).spec) == ()
