"""The master secret and the keys derived from it: one key per purpose, none known by default.

Canon signs resolution tokens and approval links (and keys the audit chain) with keys derived from
one master secret by HKDF-SHA256, each under its own `info` label, so that a signature made for
one purpose can never be replayed as another. The master secret comes from the settings
(`CANON_TOKEN_SECRET`) or from a file: by default `<workdir>/secret.key`, created with 32 random
bytes and mode 0600 on first use. `rotate_secret_file` replaces it and records the old key's id
(a fingerprint, never the secret) as retired, so that tokens signed before the rotation are refused
with that reason rather than as forgeries. A running server notices a rotated file by its
modification time and size on the next signature it makes or checks.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.errors import SecretError
from resolver.atomic import atomic_write_text

SECRET_BYTES = 32
RETIRED_SUFFIX = ".retired"
#: HKDF `info` labels, one per purpose; never reuse one for something else.
RESOLUTION_TOKENS = b"canon resolution token v2"
APPROVAL_LINKS = b"canon approval link v2"
AUDIT_CHAIN = b"canon audit chain v1"  # the checkpoints' signatures
AUDIT_ENTRIES = b"canon audit entry hmac v1"  # the chain's own hashes
_KEY_ID = b"canon key id v1"


def derive(secret: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 of the master secret for one purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def key_id_of(secret: bytes) -> str:
    """A short public fingerprint of a master secret (names it in tokens; reveals nothing)."""
    return derive(secret, _KEY_ID)[:8].hex()


@dataclass(frozen=True)
class KeyRing:
    """One master secret, where it came from, and the ids of the secrets it replaced."""

    secret: bytes = field(repr=False)
    source: str
    retired: frozenset[str] = frozenset()
    _derived: dict[bytes, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key_id(self) -> str:
        return self.key(_KEY_ID)[:8].hex()

    def key(self, info: bytes) -> bytes:
        """The key for one purpose (an HKDF `info` label), derived once per ring."""
        found = self._derived.get(info)
        if found is None:
            found = self._derived[info] = derive(self.secret, info)
        return found


class KeySource(Protocol):
    """Where signers get the current key ring from (read again after a rotation)."""

    def current(self) -> KeyRing: ...


class StaticKeys:
    """A key ring that never changes (a secret given in the settings, or in a test)."""

    def __init__(self, secret: str | bytes, source: str = "configured") -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self._ring = KeyRing(raw, source)

    def current(self) -> KeyRing:
        return self._ring


def as_key_source(keys: KeySource | str) -> KeySource:
    """A plain string is a static secret (tests, scripts); anything else is already a source."""
    return StaticKeys(keys) if isinstance(keys, str) else keys


def _check_private(path: Path, info: os.stat_result) -> None:
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"{path}: the secret file is readable by others (mode {stat.S_IMODE(info.st_mode):o});"
            f" run `chmod 600 {path}`"
        )


def create_secret_file(path: Path) -> bool:
    """Create `path` with a random secret, mode 0600, unless it exists; True if created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(SECRET_BYTES) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return True


def read_secret_file(path: Path) -> KeyRing:
    """The key ring of a secret file (and its retired ids); SecretError if unsafe or empty."""
    try:
        info = path.stat()
        _check_private(path, info)
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise SecretError(f"{path}: cannot read the secret file: {e.strerror or e}") from e
    if len(text) < 32:
        raise SecretError(f"{path}: the secret file holds fewer than 32 characters")
    retired_path = path.with_name(path.name + RETIRED_SUFFIX)
    retired: frozenset[str] = frozenset()
    if retired_path.exists():
        retired = frozenset(
            line.strip() for line in retired_path.read_text(encoding="ascii").splitlines() if line
        )
    return KeyRing(text.encode(), f"file {path}", retired)


def rotate_secret_file(path: Path) -> tuple[str, str]:
    """Replace the secret in `path` by a new random one; the old id is retired. (old, new) ids."""
    old = read_secret_file(path)
    new_secret = secrets.token_hex(SECRET_BYTES)
    retired_path = path.with_name(path.name + RETIRED_SUFFIX)
    # The retired id goes first: a crash between the two writes leaves the old key retired
    # and still current, which refuses nothing it should accept.
    with retired_path.open("a", encoding="ascii") as f:
        f.write(old.key_id + "\n")
        f.flush()
        os.fsync(f.fileno())
    atomic_write_text(path, new_secret + "\n")  # mode 0600, as the file it replaces
    return old.key_id, key_id_of(new_secret.encode())


class SecretFile:
    """A secret file, read again whenever it changes on disk (so a rotation takes effect)."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self.created = create_secret_file(path) if create else False
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._ring: KeyRing | None = None
        self.current()  # fail now, at start-up, if the file is missing or unsafe

    def current(self) -> KeyRing:
        try:
            info = self.path.stat()
        except OSError as e:
            raise SecretError(f"{self.path}: cannot read the secret file: {e.strerror}") from e
        # A rotation retires the old id first, then replaces the file (new inode).
        seen = (info.st_mtime_ns, info.st_size, info.st_ino)
        with self._lock:
            if self._ring is None or seen != self._seen:
                self._ring = read_secret_file(self.path)
                self._seen = seen
            return self._ring
