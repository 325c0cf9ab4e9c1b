"""Convert a BiDense model into a TFLite flatbuffer with bitpacked binary convolutions (LceBconv2d).

Three steps make the Keras graph what LCE's converter recognises (docs/deployment.md has what was measured):

1. a *deployable twin*: the same weights in a model whose DAB scale is applied after
   each convolution (``binarization="bidense_deployable"``), with sign(0) = +1 and a
   fixed input size. For a model trained as ``bidense_deployable`` this is exact; for a
   paper-exact ``bidense`` model it is an approximation whose error :func:`to_tflite`
   measures on sample inputs;
2. binarized kernels folded into constants (:meth:`BiDenseConv2D.fold_kernel_binarizer`);
3. ``model.export(format="tf_saved_model")`` and ``larq_compute_engine.convert_saved_model``.

Beside ``OUT.tflite`` goes ``OUT.json`` (config, input size, export report), which
:class:`~bidense_keras.export.tflite_model.TFLiteModel` reads to predict with the flatbuffer.

The conversion needs the TensorFlow backend; from a JAX or torch process :func:`to_tflite` saves
the model and runs itself (``python -m bidense_keras.export.lce``) in a TensorFlow subprocess.

Depthwise binary convolutions stay float DEPTHWISE_CONV_2D with ±scale weights (LCE has no
binary depthwise kernel); BatchNorm, CFB and the decoder's resampling are plain TFLite ops. In a
DPT, the ViT's binary linear layers are ``LceBconv2d`` 1x1 over tokens; the attention products,
softmax and threshold, LayerNorm, GELU and the two transposed convs stay float
(``benchmarks/bench_dpt_export.py`` reports it).
"""

import argparse
import collections
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np

from bidense_keras.compat import walk_layers
from bidense_keras.export.agreement import output_agreement
from bidense_keras.export.runtime import (
    LCERuntimeError,
    flatbuffer_error,
    runtime_python,
)
from bidense_keras.families import family_of
from bidense_keras.files import check_replaceable, write_bytes_atomic, write_text_atomic
from bidense_keras.layers import BiDenseConv2D, BinaryDense
from bidense_keras.weights import load_folder, save_pretrained

SIDECAR_FORMAT = "bidense_keras.tflite/1"
DEPLOYABLE = {"bidense": "bidense_deployable", "bidense_deployable": "bidense_deployable"}
# The ViT's linear layers whose inputs hold exact zeros: proj binarizes the attention output A v
# (integer counts, 7-10 % zeros), fc2 the GELU output (0 below about -5.5). Their export computes
# sign(0) = 0 with two binary convs; qkv and fc1 binarize LayerNorm outputs (0 only by accident).
TERNARY_INPUT_LINEARS = ("proj", "fc2")


def deployable_model(model, input_size=None):
    """The export twin of ``model``: deployable DAB, sign(0) = +1, folded kernels.

    A DPT's binary ViT linear layers become 1x1 convolutions over tokens (exact, sign(0) = 0 kept
    where inputs hold zeros, see :data:`TERNARY_INPUT_LINEARS`); its attention stays float. Strided
    padded convs are computed as subsampled stride-1 convs (:meth:`BiDenseConv2D.subsample_strides`).

    Args:
        model: a :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT` with
            ``binarization`` ``bidense``, ``bidense_deployable`` or an ablation without DAB (``bnn``,
            ``cfb``); ``fp32`` models export as plain float models.
        input_size: ``(height, width)`` the flatbuffer will take; None keeps any size (to
            evaluate in Keras what the flatbuffer computes).

    Returns:
        A new model of ``model``'s class with its weights.
    """
    config = model.get_config()
    config.update(
        binarization=DEPLOYABLE.get(config["binarization"], config["binarization"]),
        zero_as_positive=True,
        input_shape=(*(input_size or (None, None)), 3),
    )
    twin = type(model).from_config(config)
    twin.set_weights(model.get_weights())
    for layer in walk_layers(twin):
        if isinstance(layer, BinaryDense):
            layer.fold_kernel_binarizer(ternary_inputs=layer.name in TERNARY_INPUT_LINEARS)
        elif isinstance(layer, BiDenseConv2D) and layer.kernel_binarizer is not None:
            layer.fold_kernel_binarizer()
        if isinstance(layer, BiDenseConv2D) and layer.strides != (1, 1) and layer.padding != (0, 0):
            layer.subsample_strides()  # DPT's reassemble /2 conv: LCE would pad it wrongly
    return twin


def _operators(flatbuffer):
    """``(op name, operator, subgraph)`` of every operator of a TFLite flatbuffer (custom ops by name)."""
    from larq_compute_engine.mlir.python import tflite_schema as schema

    tflite = schema.Model.GetRootAsModel(flatbuffer, 0)
    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    names = []
    for index in range(tflite.OperatorCodesLength()):
        code = tflite.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        is_custom = builtin == schema.BuiltinOperator.CUSTOM
        names.append(code.CustomCode().decode() if is_custom else builtin_names[builtin])
    for graph_index in range(tflite.SubgraphsLength()):
        graph = tflite.Subgraphs(graph_index)
        for op_index in range(graph.OperatorsLength()):
            operator = graph.Operators(op_index)
            yield names[operator.OpcodeIndex()], operator, graph


def op_counts(flatbuffer):
    """``{op name: count}`` of a TFLite flatbuffer (custom ops such as ``LceBconv2d`` by name)."""
    return dict(collections.Counter(name for name, _, _ in _operators(flatbuffer)))


def bconvs_on_maps_smaller_than_kernel(flatbuffer):
    """How many ``LceBconv2d`` of a flatbuffer have a filter taller or wider than their input map.

    LCE 0.16's ``optimized`` and ``indirect_bgemm`` kernels are wrong for those on x86 (tests
    document it); when there are none, the fast kernels compute what the reference kernel does.
    """
    count = 0
    for name, operator, graph in _operators(flatbuffer):
        if name == "LceBconv2d":
            _, height, width, _ = graph.Tensors(operator.Inputs(0)).ShapeAsNumpy()
            _, kernel_height, kernel_width, _ = graph.Tensors(operator.Inputs(1)).ShapeAsNumpy()
            count += int(kernel_height > height or kernel_width > width)
    return count


@contextlib.contextmanager
def saved_model_of(twin):
    """A temporary SavedModel of ``twin`` (fixed input size) taking one image ``(1, H, W, 3)``.

    Batch 1 is fixed: TensorFlow's int8 calibrator cannot size tensors of unknown batch.
    """
    import tensorflow as tf

    signature = tf.TensorSpec((1, *twin.image_shape[:2], 3), tf.float32)
    with tempfile.TemporaryDirectory() as directory:
        twin.export(directory, format="tf_saved_model", verbose=False, input_signature=[signature])
        yield directory


def sidecar_path(path):
    """``OUT.json``, the metadata written beside ``OUT.tflite``."""
    return Path(path).with_suffix(".json")


def _is_export(path):
    """Whether ``path`` (``OUT.tflite`` or ``OUT.json``) belongs to an export of this package (its sidecar says so)."""
    try:
        return json.loads(sidecar_path(path).read_text()).get("format") == SIDECAR_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def to_tflite(model, path, input_size=None, sample_images=None, metadata=None, overwrite=False):
    """Writes an LCE flatbuffer of ``model`` to ``path`` and its metadata to ``OUT.json`` beside it.

    Args:
        model: a :class:`~bidense_keras.models.UperNet` or :class:`~bidense_keras.models.DPT`.
        path: output ``.tflite`` (written atomically).
        input_size: ``(height, width)``; default the model's fixed input size, else 480x480.
        sample_images: optional ``(N, H, W, 3)`` images at ``input_size``; the report then gives
            how far the deployable twin is from ``model`` on them (Keras vs Keras) and, when an
            LCE runtime is available (:func:`~bidense_keras.export.runtime.runtime_python`),
            how far the flatbuffer run by LCE's reference kernels is from the twin.
        metadata: extra sidecar entries, e.g. a model folder's metadata (``dataset``, ``metrics``).
        overwrite: replace an existing ``OUT.tflite``/``OUT.json`` that is not an earlier export
            (checked before converting; an earlier export is replaced without it).

    Returns:
        dict with ``path``, ``sidecar``, ``size_bytes``, ``ops`` (op counts),
        ``bconvs_on_maps_smaller_than_kernel`` (fast LCE kernels are exact when 0) and, with samples,
        ``twin_*`` and ``tflite_*`` errors (:func:`output_agreement` keys), or ``tflite_check``
        saying why the flatbuffer was not run. The sidecar holds ``metadata``, ``format``,
        ``task``, ``family``, ``architecture`` (the model's arguments, class names and palette included), ``input_size`` and
        this report as ``export``.
    """
    if input_size is None:
        fixed = model.image_shape[:2]
        input_size = fixed if None not in fixed else (480, 480)
    for output in (path, sidecar_path(path)):
        check_replaceable(output, overwrite, _is_export)
    if keras.backend.backend() != "tensorflow":
        return _to_tflite_in_tensorflow(model, path, input_size, sample_images, metadata)
    import larq_compute_engine as lce

    twin = deployable_model(model, input_size)
    with saved_model_of(twin) as saved_model:
        flatbuffer = lce.convert_saved_model(saved_model)
    path = write_bytes_atomic(path, flatbuffer)
    sidecar = sidecar_path(path)
    report = {"path": str(path), "sidecar": str(sidecar), "size_bytes": len(flatbuffer), "ops": op_counts(flatbuffer),
              "bconvs_on_maps_smaller_than_kernel": bconvs_on_maps_smaller_than_kernel(flatbuffer)}
    if sample_images is not None:
        report.update(twin_error(model, twin, sample_images))
        report.update(flatbuffer_check(twin, path, sample_images))
    architecture = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable", "task")}
    config = {**(metadata or {}), "format": SIDECAR_FORMAT, "task": model.task, "family": family_of(model),
              "architecture": architecture,
              "input_size": list(input_size), "export": report}
    write_text_atomic(sidecar, json.dumps(config, indent=2, default=list) + "\n")
    return report


def flatbuffer_check(twin, path, images):
    """The flatbuffer's error against its twin on ``images`` ``(N, H, W, 3)``
    (:func:`~bidense_keras.export.runtime.flatbuffer_error`), or ``{"tflite_check": "not run: ..."}``
    when no LCE runtime is available."""
    try:
        runtime_python()
    except LCERuntimeError as missing:
        return {"tflite_check": f"not run: {missing}"}
    return flatbuffer_error(twin, path, images)


def twin_error(model, twin, images):
    """How far the deployable twin's outputs are from the model's on ``images`` (N, H, W, 3)."""
    reference = model.predict(images, verbose=0)
    return output_agreement(reference, twin.predict(images, verbose=0), model.task, prefix="twin_")


def _to_tflite_in_tensorflow(model, path, input_size, sample_images, metadata):
    """:func:`to_tflite` run by a TensorFlow-backend subprocess on the saved ``model``; its report."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        save_pretrained(model, scratch / "model")
        command = [sys.executable, "-m", "bidense_keras.export.lce", str(scratch / "model"), str(path),
                   "--size", *map(str, input_size)]
        if sample_images is not None:
            np.save(scratch / "samples.npy", np.asarray(sample_images, "float32"))
            command += ["--samples", str(scratch / "samples.npy")]
        if metadata:
            (scratch / "metadata.json").write_text(json.dumps(metadata, default=list))
            command += ["--metadata", str(scratch / "metadata.json")]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
        if done.returncode:
            raise RuntimeError(f"The TensorFlow export subprocess failed:\n{done.stderr[-4000:]}")
    return json.loads(sidecar_path(path).read_text())["export"]


def main(argv=None):
    """``python -m bidense_keras.export.lce FOLDER OUT.tflite --size H W [--samples S.npy] [--metadata M.json]``."""
    parser = argparse.ArgumentParser(description="Export a model folder to an LCE flatbuffer (TensorFlow backend).")
    parser.add_argument("folder")
    parser.add_argument("output")
    parser.add_argument("--size", type=int, nargs=2, required=True)
    parser.add_argument("--samples")
    parser.add_argument("--metadata")
    args = parser.parse_args(argv)
    samples = None if args.samples is None else np.load(args.samples)
    metadata = None if args.metadata is None else json.loads(Path(args.metadata).read_text())
    # the calling process checked what the output replaces
    to_tflite(load_folder(args.folder), args.output, tuple(args.size), samples, metadata, overwrite=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
