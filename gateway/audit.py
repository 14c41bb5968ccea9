"""The audit log: append-only, each entry chained to the previous one by a keyed hash.

hash(n) = HMAC-SHA256(key, hash(n-1) + canonical JSON of {seq, at, kind, action_id, actor,
data}); the first entry chains to 64 zeros, and the `audit_head` row keeps the last seq and hash,
so that an edited, deleted (even the last), inserted or re-ordered entry breaks the chain where
it happened. The key is derived from the audit key file outside the database
(`keyring.AUDIT_ENTRIES`; the store's sessions carry it), so a database writer cannot recompute
the chain after rewriting an entry. Each entry names its scheme: entries written before the
chain was keyed (or by a store opened without the key) are plain SHA-256 (`scheme` NULL) and
stay verifiable; after the first keyed entry a plain one is a downgrade and fails verification,
as does a keyed entry checked without the key. Entries are appended inside the caller's
transaction: an entry exists exactly when the state change it describes was committed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import admin_notices
from gateway.checkpoints import CheckpointSink, note_append, verify_checkpoints
from gateway.redact import mask_bank_data
from gateway.store import AuditEntry, AuditHead, utcnow
from gateway.store.engine import AUDIT_CHAIN_KEY

GENESIS_HASH = "0" * 64
HMAC_SCHEME = "hmac-sha256"
HEAD_ID = 1
VERIFY_BATCH = 1000
#: The id of the HTTP request or MCP tool call being served; set by the API, kept in each entry.
REQUEST_ID: ContextVar[str | None] = ContextVar("canon_request_id", default=None)


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, entry: AuditEntry, key: bytes | None = None) -> str:
    """The hash an entry must carry, given the previous entry's hash: keyed (HMAC) when the
    entry's scheme says so (then `key` is needed), plain SHA-256 for entries from before."""
    body = {
        "seq": entry.seq,
        "at": entry.at,
        "kind": entry.kind,
        "action_id": entry.action_id,
        "actor": entry.actor,
        "data": json.loads(entry.data),
    }
    message = (prev_hash + canonical_json(body)).encode("utf-8")
    if entry.scheme is None:
        return hashlib.sha256(message).hexdigest()
    if entry.scheme != HMAC_SCHEME or key is None:
        raise KeyError(entry.scheme)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def chain_key(session: Session) -> bytes | None:
    """The chain's HMAC key this session was opened with (None: a store without it)."""
    found = session.info.get(AUDIT_CHAIN_KEY)
    return found if isinstance(found, bytes) else None


def append(
    session: Session,
    kind: str,
    data: dict[str, Any] | None = None,
    *,
    action_id: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add an entry at the end of the chain (in the caller's transaction)."""
    request_id = REQUEST_ID.get()
    if request_id is not None:
        data = {**(data or {}), "request_id": request_id}
    # The head row's lock serialises appends across processes and databases.
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()
    entry = AuditEntry(
        seq=head.seq + 1,
        at=(now or utcnow()).isoformat(),
        kind=kind,
        action_id=action_id,
        actor=actor,
        # Bank identifiers never enter the log in full (gateway.redact).
        data=canonical_json(mask_bank_data(json.loads(canonical_json(data or {})))),
        prev_hash=head.hash,
    )
    key = chain_key(session)
    entry.scheme = HMAC_SCHEME if key is not None else None
    entry.hash = entry_hash(head.hash, entry, key)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    note_append(session, entry.seq, entry.hash)  # checkpointed once the transaction commits
    if kind in admin_notices.ANNOUNCED:  # told to the other admins, in this same transaction
        admin_notices.queue(session, entry.seq, kind, actor, json.loads(entry.data),
                            now or utcnow())  # fmt: skip
    return entry


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as JSON values, for review."""
    return {
        "seq": entry.seq,
        "at": entry.at,
        "kind": entry.kind,
        "action_id": entry.action_id,
        "actor": entry.actor,
        "data": json.loads(entry.data),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "scheme": entry.scheme or "sha256",
    }


def entries(
    session: Session, *, action_id: str | None = None, after_seq: int = 0, limit: int = 100
) -> list[AuditEntry]:
    """Entries in chain order, optionally of one action, after a sequence number."""
    query = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if action_id is not None:
        query = query.where(AuditEntry.action_id == action_id)
    return list(session.scalars(query.order_by(AuditEntry.seq).limit(limit)))


@dataclass(frozen=True)
class AuditVerification:
    """The verdict on the chain: how many entries checked and the first bad one, if any."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(session: Session) -> AuditVerification:
    """Walk the chain from the start; stop at the first entry that breaks it."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    key, keyed = chain_key(session), False
    while True:
        batch = entries(session, after_seq=expected_seq - 1, limit=VERIFY_BATCH)
        for entry in batch:
            bad = _check(entry, expected_seq, prev_hash, key, keyed)
            if bad is not None:
                return AuditVerification(False, checked, bad[0], bad[1])
            expected_seq, prev_hash, checked = expected_seq + 1, entry.hash, checked + 1
            keyed = keyed or entry.scheme is not None
        if len(batch) < VERIFY_BATCH:
            break
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return AuditVerification(False, checked, None, "the audit head row is missing")
    if head.seq != checked:
        return AuditVerification(
            False, checked, checked + 1, f"entries {checked + 1}..{head.seq} are missing (deleted)"
        )
    if head.hash != prev_hash:
        return AuditVerification(
            False, checked, checked or None, "the last entry does not match the chain's head"
        )
    return AuditVerification(True, checked)


def verify_all(session: Session, sink: CheckpointSink | None) -> AuditVerification:
    """The chain, then the database against the signed checkpoints kept outside it (if any)."""
    verdict = verify(session)
    if not verdict.ok or sink is None:
        return verdict
    checked = verify_checkpoints(session, sink)
    if not checked.ok:
        return AuditVerification(False, verdict.entries, None, checked.problem)
    return verdict


def _check(
    entry: AuditEntry, expected_seq: int, prev_hash: str, key: bytes | None, keyed: bool
) -> tuple[int, str] | None:
    if entry.seq != expected_seq:
        return expected_seq, f"entry {expected_seq} is missing (deleted); next is {entry.seq}"
    if entry.prev_hash != prev_hash:
        return entry.seq, f"entry {entry.seq} does not follow entry {entry.seq - 1} (re-ordered?)"
    if entry.scheme is None and keyed:
        return entry.seq, (f"entry {entry.seq} has a plain SHA-256 hash after keyed entries "
                           "(downgraded: rewritten without the audit key)")  # fmt: skip
    if entry.scheme is not None and entry.scheme != HMAC_SCHEME:
        return entry.seq, f"entry {entry.seq} names an unknown hash scheme (edited)"
    if entry.scheme is not None and key is None:
        return entry.seq, (f"entry {entry.seq} is keyed (HMAC) and no audit key is configured "
                           "to check it (set CANON_AUDIT_KEY_FILE)")  # fmt: skip
    try:
        recomputed = entry_hash(prev_hash, entry, key)
    except ValueError:
        return entry.seq, f"entry {entry.seq} holds unreadable data (edited)"
    if recomputed != entry.hash:
        return entry.seq, f"entry {entry.seq} does not match its hash (edited)"
    return None
