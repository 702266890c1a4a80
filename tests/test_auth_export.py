"""`auth export` writes a new private file only (or a passphrase-sealed line); `auth import` checks what it stores."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from idealweek import auth
from idealweek.cli import main
from idealweek.secrets import FileStore, generate_key

TOKEN = json.dumps(
    {
        "refresh_token": "1//0gREFRESHtokenVALUE123",
        "client_id": "cid.apps.googleusercontent.com",
        "client_secret": "GOCSPX-clientSECRET",
        "token_uri": "https://oauth2.googleapis.com/token",
    },
    sort_keys=True,
)


def write_config(folder: Path, state: str = "state", account: str = "home") -> Path:
    key = folder / f"{state}.key"
    if not key.exists():
        key.write_text(generate_key())
        os.chmod(key, 0o600)
    cfg = folder / f"{state}.toml"
    cfg.write_text(
        f'state_dir = "{folder / state}"\n'
        f'[secrets]\nstore = "file"\nkey_file = "{key}"\n'
        f'[accounts.{account}]\nprovider = "google"\n'
        f'[calendars.g]\nsource = "google"\naccount = "{account}"\nid = "primary"\nroles = ["meetings"]\n'
    )
    return cfg


def store_for(folder: Path, state: str = "state") -> FileStore:
    return FileStore(folder / state / "secrets.enc", (folder / f"{state}.key").read_bytes(), "test")


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Path]:
    """A config with a signed-in Google account ``home`` (token in an encrypted file store)."""
    cfg = write_config(tmp_path)
    store_for(tmp_path).set("token:home", TOKEN)
    old = os.umask(0o022)
    try:
        yield cfg
    finally:
        os.umask(old)
        structlog.reset_defaults()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_export_refuses_an_existing_file_unless_forced(laptop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pre-existing 0644 file is not written into; with --force it is replaced by a new 0600 file."""
    out = laptop.parent / "signin.txt"
    out.write_text("something else")
    os.chmod(out, 0o644)
    args = ["auth", "export", "home", "--file", str(out), "--no-encrypt", "--config", str(laptop)]
    assert main(args) == 1
    assert "exists already" in capsys.readouterr().err
    assert out.read_text() == "something else" and mode(out) == 0o644
    assert main([*args, "--force"]) == 0
    assert out.read_text().startswith(auth.PREFIX) and mode(out) == 0o600
    assert "mode 600" in capsys.readouterr().err


def test_export_never_follows_a_planted_link(laptop: Path) -> None:
    """A symlink at the export path is refused (its target is not truncated); --force replaces the link only."""
    target = laptop.parent / "precious.txt"
    target.write_text("do not truncate")
    link = laptop.parent / "signin.txt"
    link.symlink_to(target)
    args = ["auth", "export", "home", "--file", str(link), "--no-encrypt", "--config", str(laptop)]
    assert main(args) == 1
    assert target.read_text() == "do not truncate" and link.is_symlink()
    assert main([*args, "--force"]) == 0
    assert target.read_text() == "do not truncate"
    assert not link.is_symlink() and mode(link) == 0o600 and link.read_text().startswith(auth.PREFIX)


def test_passphrase_export_round_trip(laptop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--encrypt seals the sign-in with a passphrase (no token readable); import with it stores the token."""
    phrase = tmp_path / "phrase"
    phrase.write_text("correct horse battery\n")
    out = tmp_path / "signin.txt"
    assert main(["auth", "export", "home", "--file", str(out), "--encrypt", "--passphrase-file", str(phrase),
                 "--config", str(laptop)]) == 0  # fmt: skip
    line = out.read_text().strip()
    assert line.startswith(auth.SEALED_PREFIX)
    assert "REFRESH" not in line and "refresh_token" not in line
    server = write_config(tmp_path, "server")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    capsys.readouterr()
    assert main(["auth", "import", "home", "--file", str(out), "--passphrase-file", str(wrong),
                 "--config", str(server)]) == 1  # fmt: skip
    assert "wrong passphrase" in capsys.readouterr().err
    assert main(["auth", "import", "home", "--file", str(out), "--passphrase-file", str(phrase),
                 "--config", str(server)]) == 0  # fmt: skip
    assert store_for(tmp_path, "server").get("token:home") == TOKEN


def test_export_on_a_terminal_is_encrypted_by_default(
    laptop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When standard input is a terminal, export asks for a passphrase (twice) and prints a sealed line."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []
    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(auth, "_terminal_available", lambda: True)
    monkeypatch.setattr(auth.getpass, "getpass", lambda prompt="": asked.append(prompt) or "a long passphrase")
    assert main(["auth", "export", "home", "--config", str(laptop)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(auth.SEALED_PREFIX) and len(asked) == 2
    assert json.loads(auth.unseal(out, "a long passphrase"))["token"] == TOKEN


def test_import_checks_the_account_and_the_token(
    laptop: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export of another account is refused (unless --force); a token that is no Google sign-in is refused."""
    out = tmp_path / "signin.txt"
    assert main(["auth", "export", "home", "--file", str(out), "--no-encrypt", "--config", str(laptop)]) == 0
    other = write_config(tmp_path, "server", account="family")
    capsys.readouterr()
    assert main(["auth", "import", "family", "--file", str(out), "--config", str(other)]) == 1
    assert "exported from account 'home'" in capsys.readouterr().err
    assert store_for(tmp_path, "server").get("token:family") is None
    assert main(["auth", "import", "family", "--file", str(out), "--force", "--config", str(other)]) == 0
    assert store_for(tmp_path, "server").get("token:family") == TOKEN

    import base64

    junk = (
        auth.PREFIX
        + base64.urlsafe_b64encode(
            json.dumps({"account": "family", "provider": "google", "token": '{"access_token": "x"}'}).encode()
        ).decode()
    )
    bad = tmp_path / "junk.txt"
    bad.write_text(junk)
    assert main(["auth", "import", "family", "--file", str(bad), "--config", str(other)]) == 1
    assert "lacks refresh_token" in capsys.readouterr().err
    assert store_for(tmp_path, "server").get("token:family") == TOKEN  # the good one was kept


def test_import_refuses_a_token_endpoint_without_tls(laptop: Path, tmp_path: Path) -> None:
    """A Google sign-in whose token_uri is plain http (not loopback) is refused: the refresh token would leak."""
    doc = json.loads(TOKEN) | {"token_uri": "http://tokens.example.com/token"}
    with pytest.raises(auth.UserError, match="token_uri"):
        auth.validate_token("google", json.dumps(doc))
    loopback = json.loads(TOKEN) | {"token_uri": "http://127.0.0.1:8080/token"}
    assert json.loads(auth.validate_token("google", json.dumps(loopback)))["token_uri"].startswith("http://127.0.0.1")
