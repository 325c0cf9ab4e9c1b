"""The examples in the public entry points' docstrings run, and give what their comments say."""

import re
import textwrap

import numpy as np
import pytest

import bidense_keras


def example_of(function):
    """The indented block after ``Example::`` in ``function``'s docstring, dedented."""
    match = re.search(r"Example::\n\n((?:[ ]{8,}.*\n?)+)", function.__doc__)
    assert match, f"{function.__qualname__} has no Example:: block"
    return textwrap.dedent(match.group(1))


# (entry point, {name the example defines: the shape it must have})
EXAMPLES = {
    "load": (lambda: bidense_keras.load, {"logits": (1, 64, 64, 3)}),
    "segmentation": (lambda: bidense_keras.segmentation, {"labels": (1, 64, 64)}),
    "depth": (lambda: bidense_keras.depth, {"metres": (1, 56, 56, 1)}),
    "from_preset": (lambda: bidense_keras.DensePredictionModel.from_preset, {"logits": (2, 64, 64, 9)}),
    "UperNet": (lambda: bidense_keras.UperNet, {"logits": (1, 64, 64, 7)}),
    "DPT": (lambda: bidense_keras.DPT, {"depth": (1, 56, 56, 1)}),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example_runs(name):
    entry_point, shapes = EXAMPLES[name]
    namespace = {"bidense_keras": bidense_keras, "np": np}
    exec(example_of(entry_point()), namespace)
    assert {key: np.shape(namespace[key]) for key in shapes} == shapes
    for key in shapes:
        assert np.all(np.isfinite(namespace[key]))
