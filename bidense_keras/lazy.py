"""Attributes of a package imported on first use (PEP 562), so that importing the package stays cheap.

``bidense-keras --help`` must answer without importing Keras and TensorFlow (seconds); the package
and its ``models`` and ``export`` subpackages therefore name their heavy attributes here and import
their module only when one is first read. A submodule is an attribute too (``bidense_keras.export.runtime``),
imported when first read.
"""

import importlib


def lazy_attributes(package, modules):
    """``(__getattr__, __dir__)`` for a package whose attributes are imported on first use.

    Args:
        package: the package's ``__name__``.
        modules: ``{attribute: module path}``: the attribute is that module's attribute of the same name.
            Any other name is looked up as a submodule of the package.

    Returns:
        The two functions to assign to the package's ``__getattr__`` and ``__dir__``.
    """

    def __getattr__(name):
        if name in modules:
            return getattr(importlib.import_module(modules[name]), name)
        if not name.startswith("__"):
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as error:
                if error.name != f"{package}.{name}":
                    raise  # the submodule exists and fails to import: that is the error to see
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted({*vars(importlib.import_module(package)), *modules})

    return __getattr__, __dir__
