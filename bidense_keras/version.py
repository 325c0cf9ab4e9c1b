"""The version of bidense_keras (one place: the package, the CLI, model folders and the build read it)."""

__version__ = "0.3.0"
