"""The public API stays callable: no submodule shadows an exported name."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import jazzlstm


def test_exported_names_are_never_shadowed_by_submodules():
    # Importing a submodule sets it as an attribute of the package: a module named like an
    # exported function (jazzlstm/train.py and jazzlstm.train) would replace the function
    # for every later caller.
    for module in pkgutil.iter_modules(jazzlstm.__path__):
        if not module.name.startswith("__"):  # __main__ runs the command line
            importlib.import_module(f"jazzlstm.{module.name}")
    shadowed = [name for name in jazzlstm.__all__
                if name not in jazzlstm._MODULES and inspect.ismodule(getattr(jazzlstm, name))]
    assert not shadowed, f"submodules shadow the API names {shadowed}"
    assert callable(jazzlstm.train) and callable(jazzlstm.generate)
