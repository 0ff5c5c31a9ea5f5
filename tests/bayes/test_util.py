"""bayes._util: the shared argument checks."""

import math

import pytest

from bayes._util import as_generator, check_base
from generators import library
from generators.errors import ArgumentError, NotAGeneratorError


@pytest.mark.parametrize("bad", ["2", True, float("nan"), float("inf"), 1, -2, 0, None])
def test_log_base_is_a_real_number_other_than_one(bad):
    with pytest.raises(ArgumentError, match=r"base must be a positive number other than 1 .*got"):
        check_base(bad)


def test_log_bases():
    assert check_base(2) == 2.0 and check_base(math.e) == math.e


def test_as_generator_is_a_value_error_and_a_type_error():
    g = library.mess3()
    assert as_generator(g) is g
    with pytest.raises(NotAGeneratorError, match=r"g must be a generators.Generator .*got str 'mess3'"):
        as_generator("mess3")
    with pytest.raises(ValueError):
        as_generator(None)
    with pytest.raises(TypeError):
        as_generator(3, "source")
