"""Lazy public names for packages: ``import oboptim.storage`` stays cheap until a name is used.

A package lists its public names and the private modules that define them; :func:`attach` returns the module-level
``__getattr__`` and ``__dir__`` that import a defining module the first time one of its names is read (PEP 562). The
package keeps a ``TYPE_CHECKING`` block with the same imports for type checkers and IDEs;
``tests/test_public_surface.py`` checks that the two agree and that every name resolves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def attach(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``(__getattr__, __dir__)`` for ``package`` exporting ``{module: [names]}`` lazily."""
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # later reads skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(home)

    return __getattr__, __dir__


def public_names(exports: Mapping[str, Sequence[str]]) -> list[str]:
    """Every exported name, sorted (a package's ``__all__``)."""
    return sorted(name for names in exports.values() for name in names)


__all__ = ["attach", "public_names"]
