"""Convert a BiDense model into a TFLite flatbuffer with bitpacked binary convolutions (LceBconv2d).

Three steps make the Keras graph what LCE's converter recognises (SPEC 5):

1. a *deployable twin*: the same weights in a model whose DAB scale is applied after
   each convolution (``binarization="bidense_deployable"``), with sign(0) = +1 and a
   fixed input size. For a model trained as ``bidense_deployable`` this is exact; for a
   paper-exact ``bidense`` model it is an approximation whose error :func:`to_tflite`
   measures on sample inputs;
2. binarized kernels folded into constants (:meth:`BiDenseConv2D.fold_kernel_binarizer`);
3. ``model.export(format="tf_saved_model")`` and ``larq_compute_engine.convert_saved_model``.

Depthwise binary convolutions stay float DEPTHWISE_CONV_2D with ±scale weights (LCE has no
binary depthwise kernel); BatchNorm, CFB and the decoder's resampling are plain TFLite ops.
"""

import collections
import tempfile

import numpy as np

from bidense_keras.files import write_bytes_atomic
from bidense_keras.layers import BiDenseConv2D
from bidense_keras.models import UperNet, walk_layers

DEPLOYABLE = {"bidense": "bidense_deployable", "bidense_deployable": "bidense_deployable"}


def deployable_model(model, input_size):
    """The export twin of ``model``: deployable DAB, sign(0) = +1, folded kernels, fixed size.

    Args:
        model: a :class:`~bidense_keras.models.UperNet` with ``binarization`` ``bidense``,
            ``bidense_deployable`` or an ablation without DAB (``bnn``, ``cfb``); ``fp32``
            models export as plain float models.
        input_size: ``(height, width)`` the flatbuffer will take.

    Returns:
        A new UperNet with ``model``'s weights.
    """
    config = model.get_config()
    config.update(
        binarization=DEPLOYABLE.get(config["binarization"], config["binarization"]),
        zero_as_positive=True,
        input_shape=(*input_size, 3),
    )
    twin = UperNet.from_config(config)
    twin.set_weights(model.get_weights())
    for layer in walk_layers(twin):
        if isinstance(layer, BiDenseConv2D) and layer.kernel_binarizer is not None:
            layer.fold_kernel_binarizer()
    return twin


def op_counts(flatbuffer):
    """``{op name: count}`` of a TFLite flatbuffer (custom ops such as ``LceBconv2d`` by name)."""
    from larq_compute_engine.mlir.python import tflite_schema as schema

    tflite = schema.Model.GetRootAsModel(flatbuffer, 0)
    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    names = []
    for index in range(tflite.OperatorCodesLength()):
        code = tflite.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        is_custom = builtin == schema.BuiltinOperator.CUSTOM
        names.append(code.CustomCode().decode() if is_custom else builtin_names[builtin])
    counts = collections.Counter()
    for graph_index in range(tflite.SubgraphsLength()):
        graph = tflite.Subgraphs(graph_index)
        for op_index in range(graph.OperatorsLength()):
            counts[names[graph.Operators(op_index).OpcodeIndex()]] += 1
    return dict(counts)


def to_tflite(model, path, input_size=None, sample_images=None):
    """Writes an LCE flatbuffer of ``model`` to ``path``.

    Args:
        model: a :class:`~bidense_keras.models.UperNet`.
        path: output ``.tflite`` (written atomically).
        input_size: ``(height, width)``; default the model's fixed input size, else 480x480.
        sample_images: optional ``(N, H, W, 3)`` images; the report then gives how far
            the deployable twin is from ``model`` on them (Keras vs Keras, float32).

    Returns:
        dict with ``path``, ``size_bytes``, ``ops`` (op counts) and, with samples,
        ``twin_max_abs_error``, ``twin_mean_abs_error`` and (segmentation)
        ``twin_argmax_agreement`` or (depth) ``twin_abs_rel``.
    """
    import larq_compute_engine as lce

    if input_size is None:
        fixed = model.image_shape[:2]
        input_size = fixed if None not in fixed else (480, 480)
    twin = deployable_model(model, input_size)
    with tempfile.TemporaryDirectory() as saved_model:
        twin.export(saved_model, format="tf_saved_model", verbose=False)
        flatbuffer = lce.convert_saved_model(saved_model)
    path = write_bytes_atomic(path, flatbuffer)
    report = {"path": str(path), "size_bytes": len(flatbuffer), "ops": op_counts(flatbuffer)}
    if sample_images is not None:
        report.update(twin_error(model, twin, sample_images))
    return report


def twin_error(model, twin, images):
    """How far the deployable twin's outputs are from the model's on ``images`` (N, H, W, 3)."""
    reference = model.predict(images, verbose=0)
    deployed = twin.predict(images, verbose=0)
    difference = np.abs(reference - deployed)
    errors = {"twin_max_abs_error": float(difference.max()), "twin_mean_abs_error": float(difference.mean())}
    if model.task == "segmentation":
        agreement = np.argmax(reference, -1) == np.argmax(deployed, -1)
        errors["twin_argmax_agreement"] = float(agreement.mean())
    else:
        errors["twin_abs_rel"] = float(np.mean(difference / np.maximum(reference, 1e-6)))
    return errors
