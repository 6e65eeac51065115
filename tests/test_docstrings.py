"""The examples in the public docstrings run and print what they show.

What is checked, and why: every ``>>>`` example of the public modules is executed by doctest
against the installed package, so an example cannot drift from the code it documents (the
README's examples are run by test_readme.py). Each module listed has examples, so a module
whose examples went missing fails here instead of passing with nothing run.
"""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["gradfit.normal", "gradfit.descent", "gradfit.accumulator", "gradfit.steps",
           "gradfit.estimators", "gradfit._result"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module) if t.examples]
    assert tests, f"{name} has no docstring examples"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
