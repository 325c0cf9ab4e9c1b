"""The package's exceptions, in one module that imports nothing: every layer raises them, the command lines map
them to exit codes (:mod:`bidense_keras.exits`).

Each subclasses the built-in exception a caller would catch without knowing the package: a bad file or value is
a ``ValueError``, a failed run a ``RuntimeError``, a refused output a ``FileExistsError``.
"""


class WeightsError(ValueError):
    """A weight file is missing, could not be downloaded, or fails its size or sha256 check."""


class CheckpointError(ValueError):
    """The file is not a readable checkpoint, or its tensors don't fit the model."""


class ImageFileError(ValueError):
    """A file that is not a readable image, or too large to decode."""


class NonFiniteWeightsError(ValueError):
    """A model's weights hold NaN or inf, or a negative BatchNorm variance."""


class NonFiniteLossError(RuntimeError):
    """Training diverged: the loss became NaN or inf (the weights of that step are not kept)."""


class OutputExistsError(FileExistsError):
    """A write would replace or delete files that the package did not write (pass ``overwrite``)."""


class FolderInUseError(RuntimeError):
    """Another process holds the lock of a folder (two runs writing into one folder)."""


class LCERuntimeError(RuntimeError):
    """The LCE runtime is missing, cannot be made, or its interpreter failed."""


class ClusterError(RuntimeError):
    """The processes of a run could not start together, or one of them was lost."""
