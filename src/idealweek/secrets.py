"""Where sign-in tokens live: the OS keyring, or an encrypted file on a server.

* ``keyring`` — Secret Service, macOS Keychain, Windows Credential Locker
  through the ``keyring`` library.
* ``file`` — ``secrets.enc`` in the state directory, encrypted with Fernet
  (AES-128-CBC + HMAC-SHA256).  Its key comes from a systemd credential
  (``$CREDENTIALS_DIRECTORY/<secrets.credential>``) or the config's
  ``secrets.key_file``.  Writes are atomic (temp file + rename), mode 600.
* ``auto`` — the keyring when a usable backend exists (one that answers a
  probe), else the file store when a key is available, else a clear message
  saying what to do.  The choice and its reason are logged (``secrets.store``).

Keys: a Fernet key from ``idealweek secrets new-key`` (mode 600), or any other
secret of at least 16 bytes, turned into one with scrypt and a random salt kept
in the file (files from older versions, hashed with one SHA-256, are read and
rewritten with scrypt on the next write); an empty or short key is refused.  A
key file that group or others can read is reported (log warning, ``doctor``).
A wrong key is never "fixed" by overwriting: the message says to restore the
key or move ``secrets.enc`` aside and sign in again.
Read-modify-write of the file is serialised with ``flock`` so the daemon and
``idealweek auth import`` do not lose each other's updates.

Secret values are never logged; error messages name the store, never a value, and every value
read or written is registered with the log redactor (``log.register_secret_document``).
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog

from idealweek.errors import UserError
from idealweek.fsutil import atomic_write, create_new, open_private, private_dir
from idealweek.log import register_secret_document

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

log = structlog.get_logger(__name__)

SERVICE = "idealweek"


def secret_name(account: str) -> str:
    """Where an account's sign-in (token or password) lives in the secret store."""
    return f"token:{account}"


class SecretStore(Protocol):
    """A small key → text store for tokens."""

    description: str

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class MemoryStore:
    """Secrets in memory (tests, dry runs)."""

    description = "memory (not persistent)"

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.data.get(name)

    def set(self, name: str, value: str) -> None:
        self.data[name] = value

    def delete(self, name: str) -> None:
        self.data.pop(name, None)


class KeyringStore:
    """The OS keyring via the ``keyring`` library."""

    def __init__(self) -> None:
        import keyring

        self._kr = keyring
        backend = keyring.get_keyring()
        self.description = f"OS keyring ({type(backend).__module__}.{type(backend).__name__})"

    def get(self, name: str) -> str | None:
        try:
            value = self._kr.get_password(SERVICE, name)
        except Exception as exc:  # noqa: BLE001 - any backend failure: one clear message
            raise UserError(f"{self.description}: cannot read {name!r}: {exc}") from None
        if value is None:
            return None
        register_secret_document(str(value))
        return str(value)

    def set(self, name: str, value: str) -> None:
        register_secret_document(value)
        try:
            self._kr.set_password(SERVICE, name, value)
        except Exception as exc:  # noqa: BLE001 - any backend failure: one clear message
            raise UserError(f"{self.description}: cannot store {name!r}: {exc}") from None

    def delete(self, name: str) -> None:
        import keyring.errors

        try:
            self._kr.delete_password(SERVICE, name)
        except keyring.errors.PasswordDeleteError:
            pass
        except Exception as exc:  # noqa: BLE001 - any backend failure: one clear message
            raise UserError(f"{self.description}: cannot delete {name!r}: {exc}") from None


def keyring_problem() -> str | None:
    """Why the keyring cannot be used here, or ``None`` when it can."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - any import/backend failure means "unusable"
        return f"the keyring library failed to load: {exc}"
    if isinstance(backend, fail.Keyring):
        return "no keyring backend is available (no Secret Service, Keychain or Windows vault)"
    priority = getattr(backend, "priority", 1)
    if isinstance(priority, int | float) and priority < 1:
        return f"the only keyring backend ({type(backend).__name__}) is not a secure store"
    try:  # a Secret Service without a D-Bus session or unlocked collection fails only when used
        backend.get_password(SERVICE, "__probe__")
    except Exception as exc:  # noqa: BLE001 - any failure here means "unusable"
        return f"the keyring backend {type(backend).__name__} does not answer ({exc})"
    return None


SCRYPT_HEADER = b"idealweek-secrets:v2:scrypt:"
"""Files encrypted with a passphrase-like key start with this header and the scrypt salt, then a newline."""
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


def scrypt_key(secret: bytes, salt: bytes) -> bytes:
    """A Fernet key derived from ``secret`` with scrypt (the file store and passphrase-encrypted exports)."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    derived = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(secret)
    return base64.urlsafe_b64encode(derived)


class FileStore:
    """An encrypted JSON file; unreadable without the key.

    A Fernet key (``idealweek secrets new-key``) encrypts the file directly.  Any other key is a
    passphrase: it goes through scrypt with a random salt kept in the file's first line.  Files
    written by older versions (one unsalted SHA-256 of such a key) are still read, and rewritten
    with scrypt on the next write.
    """

    def __init__(self, path: Path, key: bytes, key_source: str) -> None:
        self.path = path
        self._raw = _checked_key(key, key_source)
        self._is_fernet = _is_fernet_key(self._raw)
        self._derived: dict[bytes, bytes] = {}
        self._salt: bytes | None = None
        self._legacy = False
        """The file on disk still uses the old unsalted key derivation (rewritten on the next write)."""
        self.description = f"encrypted file {path} (key from {key_source})"

    def _fernet_for(self, salt: bytes | None) -> Fernet:
        from cryptography.fernet import Fernet

        if salt is None:
            return Fernet(self._raw if self._is_fernet else _legacy_key(self._raw))
        if salt not in self._derived:
            self._derived[salt] = scrypt_key(self._raw, salt)
        return Fernet(self._derived[salt])

    def _wrong_key(self) -> UserError:
        return UserError(
            f"{self.path}: cannot decrypt the secret store with the configured key (wrong key, or the file is "
            f"damaged); signing in again cannot help while it is there: move {self.path} aside (then sign in "
            "again) or restore the key it was written with"
        )

    def _load(self) -> dict[str, str]:
        from cryptography.fernet import InvalidToken

        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        salt: bytes | None = None
        if blob.startswith(SCRYPT_HEADER):
            head, _, blob = blob.partition(b"\n")
            try:
                salt = base64.urlsafe_b64decode(head[len(SCRYPT_HEADER) :])
            except ValueError:
                raise self._wrong_key() from None
        try:
            data = json.loads(self._fernet_for(salt).decrypt(blob.strip()))
        except (InvalidToken, ValueError):
            raise self._wrong_key() from None
        self._legacy = salt is None and not self._is_fernet
        self._salt = salt
        if not isinstance(data, dict):
            raise UserError(f"{self.path}: the secret store holds unexpected data")
        return {str(k): str(v) for k, v in data.items()}

    def _save(self, data: dict[str, str]) -> None:
        private_dir(self.path.parent)
        text = json.dumps(data, sort_keys=True).encode("utf-8")
        if self._is_fernet:
            blob = self._fernet_for(None).encrypt(text)
        else:
            salt = self._salt or os.urandom(16)
            self._salt = salt
            blob = SCRYPT_HEADER + base64.urlsafe_b64encode(salt) + b"\n" + self._fernet_for(salt).encrypt(text)
        atomic_write(self.path, blob)
        if self._legacy:
            log.info("secrets.migrated", store=str(self.path), kdf="scrypt")
            self._legacy = False

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write with other processes (the daemon, ``auth import``)."""
        import fcntl

        private_dir(self.path.parent)
        fd = open_private(self.path.with_name(self.path.name + ".lock"))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def get(self, name: str) -> str | None:
        value = self._load().get(name)
        if value is not None:
            register_secret_document(value)
        return value

    def set(self, name: str, value: str) -> None:
        register_secret_document(value)
        with self._locked():
            data = self._load()
            if data.get(name) == value and not self._legacy:
                return
            data[name] = value
            self._save(data)

    def delete(self, name: str) -> None:
        with self._locked():
            data = self._load()
            if name in data:
                del data[name]
                self._save(data)


MIN_KEY_BYTES = 16


def _checked_key(raw: bytes, source: str = "the key") -> bytes:
    """The key without surrounding white space; an empty or short one is refused."""
    raw = raw.strip()
    if len(raw) < MIN_KEY_BYTES:
        raise UserError(
            f"{source} is {'empty' if not raw else 'too short'}: use at least {MIN_KEY_BYTES} bytes, "
            "best a key made by `idealweek secrets new-key`"
        )
    return raw


def _is_fernet_key(raw: bytes) -> bool:
    try:
        return len(base64.urlsafe_b64decode(raw)) == 32
    except ValueError:
        return False


def _legacy_key(raw: bytes) -> bytes:
    """How idealweek ≤ 0.1 turned a non-Fernet key into one (one unsalted SHA-256): read old files only."""
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def generate_key() -> str:
    """A new random key for the file store."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def _file_key(key_file: str, credential: str) -> tuple[bytes, str] | None:
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        p = Path(cred_dir) / credential
        if p.is_file():
            return p.read_bytes(), f"systemd credential {credential!r}"
    if key_file:
        p = Path(os.path.expanduser(key_file))
        try:
            key = p.read_bytes()
        except OSError as exc:
            raise UserError(f"secrets.key_file: cannot read {p}: {exc.strerror or exc}") from None
        problem = key_file_problem(p)
        if problem:
            log.warning("secrets.key_file_readable", path=str(p), problem=problem)
        return key, f"key file {p}"
    return None


def key_file_problem(path: Path) -> str | None:
    """Why the key file is not private (group or others may read it), or ``None``."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return f"{path} has mode {mode:o}: group or others can read the key; run `chmod 600 {path}`"
    return None


def choose_store(
    store: str, state_dir: Path, key_file: str = "", credential: str = "idealweek-key"
) -> tuple[SecretStore, str]:
    """The secret store for ``secrets.store`` and why it was chosen; a UserError saying what to do when none works."""
    if store == "keyring":
        problem = keyring_problem()
        if problem:
            raise UserError(
                f'secrets.store = "keyring" but {problem}. Install and unlock a Secret Service '
                '(e.g. gnome-keyring) or use secrets.store = "file" with a key (see docs/service.md).'
            )
        return KeyringStore(), 'secrets.store = "keyring"'
    key = _file_key(key_file, credential)
    if store == "file":
        if key is None:
            raise UserError(
                'secrets.store = "file" needs a key: set secrets.key_file, or run under systemd with '
                f"LoadCredential={credential}:/path/to/key (create one with `idealweek secrets new-key`)"
            )
        return FileStore(state_dir / "secrets.enc", key[0], key[1]), 'secrets.store = "file"'
    if store != "auto":
        raise UserError(f'secrets.store: unknown store {store!r}; use "auto", "keyring" or "file"')
    problem = keyring_problem()
    if problem is None:
        return KeyringStore(), 'secrets.store = "auto" and a keyring backend works'
    if key is not None:
        return (
            FileStore(state_dir / "secrets.enc", key[0], key[1]),
            f'secrets.store = "auto", {problem}, and a key is available ({key[1]})',
        )
    raise UserError(
        f"no secret store: {problem}, and no key for the encrypted file store. Either install a keyring "
        "backend (Secret Service, e.g. gnome-keyring), or set secrets.key_file / a systemd credential "
        f"{credential!r} (create a key with `idealweek secrets new-key`; see docs/service.md)."
    )


def open_store(store: str, state_dir: Path, key_file: str = "", credential: str = "idealweek-key") -> SecretStore:
    """Open the configured secret store and log which one is in use and why (at debug: `doctor` says it too)."""
    chosen, why = choose_store(store, state_dir, key_file, credential)
    log.debug("secrets.store", store=chosen.description, why=why)
    return chosen


def write_new_key(path: Path) -> None:
    """Write a new key to ``path`` with mode 600; refuses to replace an existing file (its tokens would be lost)."""
    key = generate_key().encode("ascii") + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        create_new(path, key)
    except FileExistsError:
        raise UserError(
            f"{path} exists already; a new key would make the secrets encrypted with the old one unreadable. "
            "Remove it first if you really mean to replace it."
        ) from None
    except OSError as exc:
        raise UserError(f"cannot create {path}: {exc.strerror or exc}") from None
