"""Import a library without the parts of it that a cycle never uses (issue 15: start-up time).

Some libraries import, at their own import, a heavy module they need only on a rare path
(httplib2 imports pyparsing, ~25 ms, to parse ``WWW-Authenticate`` challenges; google-auth imports
``cryptography.x509``, ~13 ms, to read certificates of service accounts and ID-token checks).  A
:class:`DeferredModule` stands in for such a submodule in ``sys.modules`` while the library is
imported; the first time anything uses one of its attributes, the real submodule is imported
and takes its place.  Nothing behaves differently: the rare path pays the import when taken.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

_SWAP = threading.Lock()
"""Held while a stand-in leaves ``sys.modules`` (two threads may use one at once: the real module is imported once)."""


class DeferredModule(ModuleType):
    """Stands in for a module until one of its attributes is used; then the real module is imported."""

    def __getattr__(self, name: str) -> object:
        with _SWAP:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def import_deferring(module: str, *deferred: str) -> ModuleType:
    """Import ``module`` with the modules ``deferred`` replaced by stand-ins until they are used.

    A deferred module of another package (``cryptography.x509`` for ``google.oauth2.credentials``) is
    also bound on its package, which is imported for that (``import cryptography.x509`` reads it there).
    When ``module`` is imported already, it is returned as it is.
    """
    if module not in sys.modules:
        for name in deferred:
            if name in sys.modules:
                continue
            stand_in = sys.modules[name] = DeferredModule(name)
            parent, _, child = name.rpartition(".")
            if parent and not (module + ".").startswith(parent + "."):
                setattr(importlib.import_module(parent), child, stand_in)
    return importlib.import_module(module)
