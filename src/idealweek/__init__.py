"""idealweek: defend your ideal week, and book back what meetings take."""

import sys as _sys

__version__ = "0.1.0"


def _import_structlog_without_rich() -> None:
    """Import structlog without rich (issue 15: JSON logs must not pay for rich, ~40 ms).

    structlog imports rich, when it is installed, only to offer rich tracebacks; idealweek's renderers
    always format exceptions plainly (``log.setup``), so structlog is imported with rich hidden.  rich
    itself stays importable: the progress display and the coloured week grid import it on a terminal.
    """
    if "structlog" in _sys.modules or "rich" in _sys.modules:
        return
    _sys.modules["rich"] = None  # type: ignore[assignment]  # makes `import rich` raise ImportError
    try:
        import structlog  # noqa: F401
    finally:
        del _sys.modules["rich"]


_import_structlog_without_rich()
