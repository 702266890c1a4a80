"""Deferred submodules (lazymodule.py): imported when first used, and then the real module everywhere."""

from __future__ import annotations

import importlib
import sys
import uuid
from pathlib import Path

import pytest

from idealweek.lazymodule import DeferredModule, import_deferring


def _package(root: Path, files: dict[str, str]) -> str:
    """A package with a unique name under ``root``: ``files`` maps a path in it to its text."""
    name = f"lazy_{uuid.uuid4().hex}"
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return name


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_deferred_submodule_is_imported_when_first_used(root: Path) -> None:
    """A library's deferred submodule is not run by the library's import; its first use imports the real one."""
    lib = _package(
        root,
        {
            "client.py": "from . import heavy\n\ndef parse():\n    return heavy.parse()\n",
            "heavy.py": "LOADED = True\n\ndef parse():\n    return 'parsed'\n",
        },
    )
    client = import_deferring(f"{lib}.client", f"{lib}.heavy")
    assert isinstance(sys.modules[f"{lib}.heavy"], DeferredModule)
    assert client.parse() == "parsed"
    real = sys.modules[f"{lib}.heavy"]
    assert not isinstance(real, DeferredModule) and real.LOADED
    assert importlib.import_module(f"{lib}.heavy") is real


def test_deferred_module_of_another_package_is_bound_there(root: Path) -> None:
    """A deferred module of another package is reachable as that package's attribute and its submodules import."""
    other = _package(root, {"certs/__init__.py": "KIND = 'x509'\n", "certs/oid.py": "NAME = 'oid'\n"})
    lib = _package(root, {"user.py": f"import {other}.certs\n\ndef kind():\n    return {other}.certs.KIND\n"})
    user = import_deferring(f"{lib}.user", f"{other}.certs")
    assert isinstance(sys.modules[f"{other}.certs"], DeferredModule)
    oid = importlib.import_module(f"{other}.certs.oid")
    assert oid.NAME == "oid"
    assert user.kind() == "x509"


def test_module_imported_already_is_returned_as_it_is(root: Path) -> None:
    """When the library is imported already, nothing is deferred."""
    lib = _package(root, {"client.py": "from . import heavy\n", "heavy.py": "X = 1\n"})
    first = importlib.import_module(f"{lib}.client")
    assert import_deferring(f"{lib}.client", f"{lib}.heavy") is first
    assert not isinstance(sys.modules[f"{lib}.heavy"], DeferredModule)
