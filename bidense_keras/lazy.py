"""Attributes of a package imported on first use (PEP 562), so that importing the package stays cheap.

``bidense-keras --help`` must answer without importing Keras and TensorFlow (seconds); the package
and its ``models`` and ``export`` subpackages therefore name their heavy attributes here and import
their module only when one is first read.
"""

import importlib


def lazy_attributes(package, modules):
    """``(__getattr__, __dir__)`` for a package whose attributes are imported on first use.

    Args:
        package: the package's ``__name__``, for the error message.
        modules: ``{attribute: module path}``; the attribute is that module's attribute of the same
            name, or the module itself where the path ends in the attribute (a subpackage).

    Returns:
        The two functions to assign to the package's ``__getattr__`` and ``__dir__``.
    """

    def __getattr__(name):
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(modules[name])
        return module if modules[name].rpartition(".")[2] == name else getattr(module, name)

    def __dir__():
        return sorted({*vars(importlib.import_module(package)), *modules})

    return __getattr__, __dir__
