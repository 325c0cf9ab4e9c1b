"""An exported flatbuffer with a Keras model's ``predict``, for :func:`bidense_keras.predict.predict_files`."""

import json
from pathlib import Path

import keras
import numpy as np

from bidense_keras.export.lce import sidecar_path
from bidense_keras.export.runtime import KERNELS, check_flatbuffer, run_flatbuffer
from bidense_keras.inputs import check_image_values


class TFLiteModel:
    """A ``.tflite`` written by ``bidense-keras export``, run by LCE's interpreter.

    Attributes:
        task: ``"segmentation"`` or ``"depth"``.
        family: the exported model's family, ``"upernet"`` or ``"dpt"``.
        num_classes, max_depth: as the exported model's (the other one is None).
        class_names, palette: the segmentation model's class names and colours, if known.
        input_size: ``(height, width)`` the flatbuffer takes.
        config: the sidecar ``OUT.json`` (model config, ``class_names``/``palette`` if known,
            ``input_size``, ``export`` report).
        kernel: the LceBconv2d kernel used (``"auto"`` resolved, see :meth:`load`).
    """

    def __init__(self, path, config, num_threads=1, kernel="auto", xnnpack=True):
        self.path = Path(path)
        self.config = config
        self.task = config["task"]
        # Sidecars written before they named the family: only a DPT's arguments have an embed_dim.
        self.family = config.get("family") or ("dpt" if "embed_dim" in config["architecture"] else "upernet")
        self.num_classes = config["architecture"].get("num_classes")
        self.max_depth = config["architecture"].get("max_depth")
        # Sidecars before the model config held class names kept them beside it.
        self.class_names = config["architecture"].get("class_names") or config.get("class_names")
        self.palette = config["architecture"].get("palette") or config.get("palette")
        self.input_size = tuple(config["input_size"])
        self.num_threads = num_threads
        self.kernel = self.fastest_exact_kernel(config) if kernel == "auto" else kernel
        self.xnnpack = xnnpack

    @staticmethod
    def fastest_exact_kernel(config):
        """``"indirect_bgemm"`` when the export found no binary conv on a map smaller than its kernel
        (where LCE's fast kernels are wrong on x86), else ``"reference"``."""
        small_maps = config.get("export", {}).get("bconvs_on_maps_smaller_than_kernel")
        return "indirect_bgemm" if small_maps == 0 else "reference"

    @classmethod
    def load(cls, path, num_threads=1, kernel="auto", xnnpack=True):
        """Reads ``OUT.tflite`` and its sidecar ``OUT.json``.

        ``num_threads``, ``kernel`` (one of ``KERNELS`` or ``"auto"``: the fastest exact one for this
        flatbuffer) and ``xnnpack`` (XNNPACK delegate for the float ops) as in
        :func:`~bidense_keras.export.runtime.run_flatbuffer`.
        """
        if kernel != "auto" and kernel not in KERNELS:
            raise ValueError(f"Unknown LCE kernel {kernel!r}; choose one of {('auto', *KERNELS)}.")
        path = check_flatbuffer(path)
        sidecar = sidecar_path(path)
        if not sidecar.is_file():
            raise FileNotFoundError(
                f"{path} was not written by bidense-keras export; expected {sidecar} next to it."
            )
        try:
            config = json.loads(sidecar.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{sidecar} is not valid JSON: {error}") from error
        missing = [key for key in ("task", "architecture", "input_size") if key not in config]
        if missing:
            raise ValueError(f"{sidecar} is not a bidense-keras export sidecar (missing {missing}).")
        return cls(path, config, num_threads=num_threads, kernel=kernel, xnnpack=xnnpack)

    def predict(self, images, verbose=0):
        """Outputs for ``(N, H, W, 3)`` float images of any size: ``(N, H, W, C)`` float32.

        Each image is resized (bilinear) to :attr:`input_size`, run through the flatbuffer, and
        its logits or depth resized (bilinear) back to ``(H, W)``. ``verbose`` is ignored (Keras
        signature).
        """
        check_image_values(images)
        resized = keras.ops.image.resize(images, self.input_size, interpolation="bilinear")
        outputs, _ = run_flatbuffer(self.path, keras.ops.convert_to_numpy(resized), self.num_threads, self.kernel,
                                    xnnpack=self.xnnpack)
        restored = keras.ops.image.resize(outputs, images.shape[1:3], interpolation="bilinear")
        return keras.ops.convert_to_numpy(restored).astype(np.float32)

    def predict_on_batch(self, images):
        """:meth:`predict` under the Keras name :func:`bidense_keras.train.recipe.evaluate` calls."""
        return self.predict(np.asarray(images, np.float32))
