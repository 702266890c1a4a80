"""The secret store: encrypted file for servers, keyring choice, keys, and the `secrets new-key` command."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from structlog.testing import capture_logs

from idealweek import secrets
from idealweek.cli import main
from idealweek.errors import UserError
from idealweek.secrets import FileStore, choose_store, generate_key, keyring_problem, open_store

TOKEN = '{"refresh_token": "1//0gSECRETrefreshTOKENvalue", "access_token": "ya29.SECRETaccess"}'


def file_store(tmp_path: Path, key: str | None = None) -> FileStore:
    return FileStore(tmp_path / "secrets.enc", (key or generate_key()).encode(), "test key")


def test_file_is_unreadable_without_the_key(tmp_path: Path) -> None:
    """The file holds neither the token nor any JSON: only Fernet ciphertext."""
    store = file_store(tmp_path)
    store.set("token:work", TOKEN)
    blob = (tmp_path / "secrets.enc").read_bytes()
    assert b"SECRET" not in blob and b"token:work" not in blob and b"refresh" not in blob
    assert blob.startswith(b"gAAAAA")  # Fernet version byte, base64
    with pytest.raises(ValueError):
        __import__("json").loads(blob)
    assert store.get("token:work") == TOKEN


def test_wrong_key_gives_a_clear_error(tmp_path: Path) -> None:
    """Opening the file with another key fails with a message naming the file and the likely cause."""
    file_store(tmp_path).set("token:work", TOKEN)
    other = file_store(tmp_path)
    with pytest.raises(UserError, match=r"secrets\.enc: cannot decrypt.*wrong key") as err:
        other.get("token:work")
    assert "SECRET" not in str(err.value)


def test_writes_are_atomic_with_mode_600(tmp_path: Path) -> None:
    """A refreshed token replaces the file in one rename, mode 600, leaving no temporary file."""
    store = file_store(tmp_path)
    store.set("token:work", "first-value-123")
    store.set("token:work", "refreshed-value-456")
    path = tmp_path / "secrets.enc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets.enc", "secrets.enc.lock"]
    assert store.get("token:work") == "refreshed-value-456"


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the write dies before the rename, the old secrets stay readable and the temp file is removed."""
    store = file_store(tmp_path, key := generate_key())
    store.set("token:work", "old-value-123")

    def boom(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.set("token:work", "new-value-456")
    monkeypatch.undo()
    assert file_store(tmp_path, key).get("token:work") == "old-value-123"
    assert not list(tmp_path.glob(".secrets.*"))


def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    """Two writers (daemon refresh, auth import) updating different names both keep their value."""
    key = generate_key()

    def writer(prefix: str) -> None:
        store = file_store(tmp_path, key)
        for i in range(15):
            store.set(f"{prefix}{i}", f"value-{prefix}{i}")

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = file_store(tmp_path, key)._load()
    assert len(data) == 30


def test_passphrase_keys_work_but_short_or_empty_keys_are_refused(tmp_path: Path) -> None:
    """A long passphrase is hashed into a key; an empty or short key is refused with advice."""
    pw = b"correct horse battery staple"
    FileStore(tmp_path / "s.enc", pw, "pw").set("a", "b-value")
    assert FileStore(tmp_path / "s.enc", pw + b"\n", "pw").get("a") == "b-value"
    with pytest.raises(UserError, match=r"empty.*secrets new-key"):
        FileStore(tmp_path / "x.enc", b"\n", "key file /k")
    with pytest.raises(UserError, match="too short"):
        FileStore(tmp_path / "x.enc", b"hunter2", "key file /k")


def test_auto_uses_the_systemd_credential_when_no_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a keyring, auto picks the file store keyed by $CREDENTIALS_DIRECTORY and logs which and why."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "idealweek-key").write_text(generate_key())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setattr(secrets, "keyring_problem", lambda: "no keyring backend is available")
    with capture_logs() as logs:
        store = open_store("auto", tmp_path / "state")
    assert isinstance(store, FileStore)
    assert "systemd credential 'idealweek-key'" in store.description
    line = next(entry for entry in logs if entry["event"] == "secrets.store")
    assert "encrypted file" in line["store"] and "no keyring backend" in line["why"]


def test_auto_prefers_a_working_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a usable keyring backend, auto chooses it even when a key file exists."""

    class FakeKeyring:
        description = "OS keyring (fake)"

    monkeypatch.setattr(secrets, "keyring_problem", lambda: None)
    monkeypatch.setattr(secrets, "KeyringStore", FakeKeyring)
    key = tmp_path / "key"
    key.write_text(generate_key())
    store, why = choose_store("auto", tmp_path, str(key))
    assert isinstance(store, FakeKeyring) and "keyring backend works" in why


def test_no_store_at_all_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """auto with neither keyring nor key, and file without key, explain both ways out."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setattr(secrets, "keyring_problem", lambda: "no keyring backend is available")
    with pytest.raises(UserError, match=r"gnome-keyring.*secrets new-key"):
        choose_store("auto", tmp_path)
    with pytest.raises(UserError, match=r"LoadCredential=idealweek-key.*secrets new-key"):
        choose_store("file", tmp_path)
    with pytest.raises(UserError, match=r'keyring.*secrets\.store = "file"'):
        choose_store("keyring", tmp_path)
    with pytest.raises(UserError, match=r"secrets\.key_file: cannot read"):
        choose_store("file", tmp_path, str(tmp_path / "missing-key"))


def test_keyring_that_fails_when_used_counts_as_unusable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyring backend that raises on a probe (locked Secret Service, no D-Bus) is reported unusable."""
    import keyring

    class Broken:
        priority = 5

        def get_password(self, service: str, name: str) -> str | None:
            raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown")

    monkeypatch.setattr(keyring, "get_keyring", lambda: Broken())
    problem = keyring_problem()
    assert problem is not None and "does not answer" in problem and "DBus" in problem


def test_new_key_command_prints_and_writes_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`secrets new-key` prints a Fernet key, or writes one with mode 600 and never overwrites it."""
    assert main(["secrets", "new-key"]) == 0
    Fernet(capsys.readouterr().out.strip().encode())  # a valid key
    path = tmp_path / "sub" / "idealweek.key"
    assert main(["secrets", "new-key", "--file", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    Fernet(first.strip().encode())
    assert main(["secrets", "new-key", "--file", str(path)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert path.read_text() == first


def test_wrong_key_says_to_restore_it_or_move_the_store_aside(tmp_path: Path) -> None:
    """With a wrong key even storing a sign-in fails: the message says to move the store aside or restore the key."""
    file_store(tmp_path).set("token:work", TOKEN)
    other = file_store(tmp_path)
    with pytest.raises(UserError) as err:
        other.set("token:work", "a-fresh-sign-in-value")
    text = str(err.value)
    assert "restore the key" in text and f"move {tmp_path / 'secrets.enc'} aside" in text
    assert "SECRET" not in text


def test_passphrase_keys_go_through_scrypt_with_a_stored_salt(tmp_path: Path) -> None:
    """A key that is no Fernet key is stretched with scrypt and a random salt kept in the file, not one SHA-256."""
    import base64
    import hashlib

    pw = b"correct horse battery staple"
    FileStore(tmp_path / "a.enc", pw, "pw").set("k", "value-one")
    FileStore(tmp_path / "b.enc", pw, "pw").set("k", "value-one")
    a, b = (tmp_path / "a.enc").read_bytes(), (tmp_path / "b.enc").read_bytes()
    assert a.startswith(secrets.SCRYPT_HEADER) and b.startswith(secrets.SCRYPT_HEADER)
    assert a.split(b"\n")[0] != b.split(b"\n")[0]  # a salt of its own
    unsalted = Fernet(base64.urlsafe_b64encode(hashlib.sha256(pw).digest()))
    with pytest.raises(InvalidToken):
        unsalted.decrypt(a.split(b"\n", 1)[1])
    assert FileStore(tmp_path / "a.enc", pw, "pw").get("k") == "value-one"


def test_stores_written_with_the_old_key_hashing_are_read_and_migrated(tmp_path: Path) -> None:
    """A file encrypted the old way (unsalted SHA-256 of the key) is still read and rewritten with scrypt on a write."""
    import base64
    import hashlib
    import json

    pw = b"an old passphrase key file"
    old = Fernet(base64.urlsafe_b64encode(hashlib.sha256(pw).digest()))
    path = tmp_path / "secrets.enc"
    path.write_bytes(old.encrypt(json.dumps({"token:work": TOKEN}).encode()))
    store = FileStore(path, pw, "pw")
    assert store.get("token:work") == TOKEN
    with capture_logs() as logs:
        store.set("token:home", "another-value-123")
    assert path.read_bytes().startswith(secrets.SCRYPT_HEADER)
    assert any(e["event"] == "secrets.migrated" for e in logs)
    fresh = FileStore(path, pw, "pw")
    assert fresh.get("token:work") == TOKEN and fresh.get("token:home") == "another-value-123"


def test_a_key_file_others_can_read_is_reported(tmp_path: Path) -> None:
    """A key file with group/other read permission gives a warning naming the file and the chmod to run."""
    key = tmp_path / "idealweek.key"
    key.write_text(generate_key())
    os.chmod(key, 0o644)
    with capture_logs() as logs:
        choose_store("file", tmp_path / "state", str(key))
    warning = next(e for e in logs if e["event"] == "secrets.key_file_readable")
    assert warning["log_level"] == "warning" and "chmod 600" in warning["problem"]
    os.chmod(key, 0o600)
    with capture_logs() as logs:
        choose_store("file", tmp_path / "state", str(key))
    assert not [e for e in logs if e["event"] == "secrets.key_file_readable"]
