"""Signed audit checkpoints outside the database: what makes the audit log tamper-evident to
someone who can write the database.

The hash chain alone proves nothing to a database writer: they can delete the last entries and
rewind `audit_head`, or edit an entry and recompute every hash after it. So after every commit
that appended audit entries, the store's `CheckpointSink` records the chain's state, `{seq, hash,
at}`, HMAC-signed with the audit key (a secret file outside the database, `<workdir>/audit.key`
by default, never rotated with the token secret), on one line of an append-only file (the workdir
by default; ship it to an object store with object lock, or to syslog, in production).
`verify_checkpoints` checks the database against them: every checkpoint must be authentic, and
the entry at its `seq` must still carry its `hash`. A rewrite (which changes every later hash)
or a deletion (which loses the checkpointed entry) is found at the first checkpoint it crosses;
only what was appended after the last checkpoint is unprotected, and that is the last commit.
The chain's own hashes are HMACs too (`gateway.audit`), under a second key derived from the
same file: the sink carries it (`chain_key`) and `Store.open` hands it to every session
(`session.info[AUDIT_CHAIN_KEY]`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store import AuditEntry, utcnow

PENDING = "canon.audit_appended"
BATCH = 500


def _sign(key: bytes, seq: int, entry_hash: str, at: str) -> str:
    message = f"{seq}.{entry_hash}.{at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class CheckpointSink:
    """Appends signed checkpoints to a file (one JSON object per line, mode 0600)."""

    def __init__(self, path: Path, key: bytes, chain_key: bytes | None = None) -> None:
        self.path, self._key = path, key
        self.chain_key = chain_key
        self._lock = threading.Lock()

    def write(self, seq: int, entry_hash: str, at: datetime | None = None) -> None:
        stamp = (at or utcnow()).isoformat()
        line = {"seq": seq, "hash": entry_hash, "at": stamp,
                "sig": _sign(self._key, seq, entry_hash, stamp)}  # fmt: skip
        data = (json.dumps(line, sort_keys=True) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)  # one write of one short line: appends do not interleave
                os.fsync(fd)
            finally:
                os.close(fd)

    def attach(self, sessions: sessionmaker[Session]) -> None:
        """Checkpoint the chain after every commit that appended to it."""

        @event.listens_for(sessions, "after_commit")
        def _after_commit(session: Session) -> None:
            appended: tuple[int, str] | None = session.info.pop(PENDING, None)
            if appended is not None:
                self.write(*appended)

        @event.listens_for(sessions, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop(PENDING, None)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        out: list[dict[str, Any]] = []
        for n, text in enumerate(lines, start=1):
            try:
                found = json.loads(text)
            except ValueError:
                found = None
            out.append(found if isinstance(found, dict) else {"line": n, "unreadable": text})
        return out

    def authentic(self, checkpoint: dict[str, Any]) -> bool:
        try:
            expected = _sign(self._key, int(checkpoint["seq"]), str(checkpoint["hash"]),
                             str(checkpoint["at"]))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            return False
        return hmac.compare_digest(expected, str(checkpoint.get("sig", "")))


def note_append(session: Session, seq: int, entry_hash: str) -> None:
    """Remember the transaction's last appended entry, for the checkpoint after its commit."""
    session.info[PENDING] = (seq, entry_hash)


@dataclass(frozen=True)
class CheckpointVerdict:
    ok: bool
    checkpoints: int
    problem: str | None = None


def verify_checkpoints(session: Session, sink: CheckpointSink) -> CheckpointVerdict:
    """The database against the checkpoints: every one authentic, and every checkpointed entry
    present and unchanged. (Checking only the latest is not enough: entries appended after a
    rewrite chain onto it and are checkpointed as they are.)"""
    found = sink.read()
    expected: dict[int, tuple[str, str]] = {}
    for n, checkpoint in enumerate(found, start=1):
        if not sink.authentic(checkpoint):
            return CheckpointVerdict(
                False, n - 1, f"checkpoint {n} in {sink.path} is not authentic"
            )
        expected[int(checkpoint["seq"])] = (str(checkpoint["hash"]), str(checkpoint["at"]))
    seqs = sorted(expected)
    for start in range(0, len(seqs), BATCH):
        batch = seqs[start : start + BATCH]
        query = select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq.in_(batch))
        stored = dict(session.execute(query).tuples().all())
        for seq in batch:
            entry_hash, at = expected[seq]
            if seq not in stored:
                problem = f"entry {seq}, checkpointed at {at}, is missing (deleted)"
                return CheckpointVerdict(False, len(found), problem)
            if stored[seq] != entry_hash:
                problem = f"entry {seq} differs from its checkpoint of {at}: the log was rewritten"
                return CheckpointVerdict(False, len(found), problem)
    return CheckpointVerdict(True, len(found))
