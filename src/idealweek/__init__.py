"""idealweek: defend your ideal week, and book back what meetings take."""

import sys as _sys
from types import ModuleType as _ModuleType
from typing import cast as _cast

__version__ = "0.1.0"


class _LazyAsyncio(_ModuleType):
    """Stands in for ``asyncio`` until something uses it: then the real module is imported and takes its place."""

    def __getattr__(self, name: str) -> object:
        if _sys.modules.get("asyncio") is self:
            del _sys.modules["asyncio"]
        import importlib

        return getattr(importlib.import_module("asyncio"), name)


def _import_structlog_lightly() -> None:
    """Import structlog without what idealweek never uses of it (issue 15: start-up time of every command).

    * rich: structlog imports it, when installed, only to offer rich tracebacks; idealweek's renderers
      always format exceptions plainly (``log.setup``), so structlog is imported with rich hidden
      (~40 ms).  rich itself stays importable: the progress display and the coloured week grid load it
      on a terminal.
    * asyncio: structlog uses it only inside its ``async`` logging methods, which idealweek never
      calls; a stand-in takes its place and imports the real module the first time anything uses it
      (~30 ms with ssl and socket otherwise).
    """
    if "structlog" in _sys.modules:
        return
    hide_rich = "rich" not in _sys.modules
    if "asyncio" not in _sys.modules:
        _sys.modules["asyncio"] = _LazyAsyncio("asyncio")
    if hide_rich:
        # None in sys.modules makes `import rich` raise ImportError (typeshed types the dict without None)
        _sys.modules.update({"rich": _cast(_ModuleType, None)})
    try:
        import structlog  # noqa: F401
    finally:
        if hide_rich:
            del _sys.modules["rich"]


_import_structlog_lightly()
