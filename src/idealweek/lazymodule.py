"""Import a library without the parts of it that a cycle never uses (issue 15: start-up time).

Some libraries import, at their own import, a heavy module they need only on a rare path
(httplib2 imports pyparsing, ~25 ms, to parse ``WWW-Authenticate`` challenges).  A
:class:`DeferredModule` stands in for such a submodule in ``sys.modules`` while the library is
imported; the first time anything uses one of its attributes, the real submodule is imported
and takes its place.  Nothing behaves differently: the rare path pays the import when taken.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


class DeferredModule(ModuleType):
    """Stands in for a module until one of its attributes is used; then the real module is imported."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def import_deferring(module: str, *deferred: str) -> ModuleType:
    """Import ``module`` with its submodules ``deferred`` replaced by stand-ins until they are used.

    When ``module`` is imported already, it is returned as it is.
    """
    if module not in sys.modules:
        for name in deferred:
            sys.modules.setdefault(name, DeferredModule(name))
    return importlib.import_module(module)
