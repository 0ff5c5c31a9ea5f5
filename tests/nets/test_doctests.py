"""The examples in the docstrings of nets' probe-side modules run and give what they show
(pytest collects doctests from generators/ and bayes/ only: nets imports torch)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["nets._device", "nets.activations", "nets.models", "nets.geometry_checks", "nets.tensorfile", "nets.probe",
           "nets.probe.fit", "nets.probe.cv", "nets.probe.metrics", "nets.probe.decision", "nets.probe.spec",
           "nets.probe.core"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
