"""Workarounds for Keras behaviours the package depends on, each in one place with its reason.

Checked with Keras 3.10-3.15; when a Keras release changes one of them, only this module changes.
"""

import warnings


def load_weights_strictly(model, path):
    """``model.load_weights(path)``, raising ValueError when part of the file matched no layer.

    Keras 3 only warns ("Skipping variable loading for ...") when a ``.weights.h5`` file has
    groups that fit no layer, so a partially loaded model would pass silently; other warnings
    are re-issued unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(path)
    skipped = [str(warning.message) for warning in caught if "Skipping" in str(warning.message)]
    if skipped:
        raise ValueError(skipped[0])
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def call_output_shapes(layer):
    """The output shape of each call of ``layer`` in a functional graph, in call order.

    Keras 3 has no public accessor for a shared layer's nodes (a layer called three times
    has three); ``_inbound_nodes`` holds one node per call.
    """
    return [tuple(node.outputs[0].shape) for node in layer._inbound_nodes]
