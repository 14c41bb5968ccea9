"""The audit chain: appends stay ordered under concurrency; any edit, deletion or swap is named."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway import audit
from gateway.checkpoints import CheckpointSink
from gateway.store import AuditEntry, AuditHead, Store


def _fill(store: Store, n: int = 6) -> None:
    for i in range(1, n + 1):
        with store.transaction() as session:
            audit.append(session, "test", {"i": i, "note": "héllo"}, action_id=f"a{i % 2}",
                         actor="key:k1")  # fmt: skip


def _verify(store: Store) -> audit.AuditVerification:
    with store.transaction() as session:
        return audit.verify(session)


def _sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})


def test_empty_chain_verifies(store: Store) -> None:
    assert _verify(store) == audit.AuditVerification(ok=True, entries=0)


def test_appended_chain_verifies(store: Store) -> None:
    _fill(store)
    assert _verify(store) == audit.AuditVerification(ok=True, entries=6)


def test_rolled_back_append_leaves_no_trace(store: Store) -> None:
    _fill(store, 2)
    with pytest.raises(RuntimeError), store.transaction() as session:
        audit.append(session, "test", {"i": 3})
        raise RuntimeError("the state change failed")
    _fill(store, 1)
    assert _verify(store).ok
    with store.transaction() as session:
        assert [e.seq for e in audit.entries(session)] == [1, 2, 3]


def test_entries_of_one_action(store: Store) -> None:
    _fill(store)
    with store.transaction() as session:
        got = [audit.as_dict(e)["data"]["i"] for e in audit.entries(session, action_id="a1")]
    assert got == [1, 3, 5]


def test_concurrent_appends_keep_one_chain(store: Store) -> None:
    def append_many(worker: int) -> None:
        for i in range(10):
            with store.transaction() as session:
                audit.append(session, "concurrent", {"worker": worker, "i": i})

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(append_many, range(6)))
    assert _verify(store) == audit.AuditVerification(ok=True, entries=60)


@pytest.mark.parametrize(
    ("tamper", "first_bad", "problem"),
    [
        pytest.param("UPDATE audit_entries SET data = :v WHERE seq = 3", 3, "edited",
                     id="edited-data"),
        pytest.param("UPDATE audit_entries SET actor = 'key:admin' WHERE seq = 2", 2, "edited",
                     id="edited-actor"),
        pytest.param("UPDATE audit_entries SET data = 'not json' WHERE seq = 4", 4, "unreadable",
                     id="garbage-data"),
        pytest.param("DELETE FROM audit_entries WHERE seq = 3", 3, "missing", id="deleted-middle"),
        pytest.param("DELETE FROM audit_entries WHERE seq = 1", 1, "missing", id="deleted-first"),
        pytest.param("DELETE FROM audit_entries WHERE seq = 6", 6, "missing", id="deleted-last"),
    ],
)  # fmt: skip
def test_tampering_is_named(store: Store, tamper: str, first_bad: int, problem: str) -> None:
    _fill(store)
    _sql(store, tamper, v='{"i":99}')
    verdict = _verify(store)
    assert not verdict.ok
    assert verdict.first_bad_seq == first_bad
    assert problem in (verdict.problem or "")


def test_reordered_entries_are_named(store: Store) -> None:
    _fill(store)
    # Swap entries 2 and 4 wholesale (hashes included), as a careless "fix" would.
    _sql(store, "UPDATE audit_entries SET seq = 100 WHERE seq = 2")
    _sql(store, "UPDATE audit_entries SET seq = 2 WHERE seq = 4")
    _sql(store, "UPDATE audit_entries SET seq = 4 WHERE seq = 100")
    verdict = _verify(store)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 2)
    assert "re-ordered" in (verdict.problem or "")


def test_rehashed_edit_breaks_the_next_link(store: Store) -> None:
    _fill(store)
    with store.transaction() as session:
        entry = audit.entries(session, after_seq=2, limit=1)[0]
        entry.data = '{"i":99}'
        entry.hash = audit.entry_hash(entry.prev_hash, entry)
    verdict = _verify(store)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)


def test_forged_tail_with_head_edit_still_fails_on_its_own_hash(store: Store) -> None:
    _fill(store)
    _sql(store, "UPDATE audit_entries SET kind = 'other' WHERE seq = 6")
    verdict = _verify(store)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 6)


# -- the keyed chain (HMAC under a key from outside the database) ------------------------------
CHAIN_KEY = b"k" * 32


def _keyed(store_url: str, tmp_path: Path, chain_key: bytes = CHAIN_KEY) -> Store:
    """The same database, opened as the app opens it: with the audit key's chain key."""
    sink = CheckpointSink(tmp_path / "checkpoints.jsonl", b"c" * 32, chain_key=chain_key)
    return Store.open(store_url, checkpoints=sink)


def _schemes(store: Store) -> list[str | None]:
    with store.transaction() as session:
        return [e.scheme for e in audit.entries(session, limit=1000)]


def _rehash_from(store: Store, start: int, *, actor: str, downgrade: bool) -> None:
    """What a database writer without the key can do: edit, then recompute SHA-256 hashes."""
    with store.transaction() as session:
        rows = audit.entries(session, after_seq=start - 1, limit=1000)
        prev = rows[0].prev_hash
        for entry in rows:
            entry.actor = actor if entry.seq == start else entry.actor
            entry.scheme = None if downgrade else entry.scheme
            plain = AuditEntry(seq=entry.seq, at=entry.at, kind=entry.kind,
                               action_id=entry.action_id, actor=entry.actor,
                               data=entry.data)  # fmt: skip
            entry.prev_hash, entry.hash = prev, audit.entry_hash(prev, plain)
            prev = entry.hash
        head = session.get_one(AuditHead, audit.HEAD_ID)
        head.hash = prev


def test_a_keyed_chain_continues_an_old_plain_one_and_both_verify(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    _fill(store, 3)
    keyed = _keyed(store_url, tmp_path)
    _fill(keyed, 3)
    assert _schemes(keyed) == [None] * 3 + [audit.HMAC_SCHEME] * 3
    assert _verify(keyed) == audit.AuditVerification(ok=True, entries=6)
    with keyed.transaction() as session:
        assert audit.as_dict(audit.entries(session)[3])["scheme"] == "hmac-sha256"
    keyed.close()


@pytest.mark.parametrize(
    ("downgrade", "problem"),
    [
        pytest.param(False, "entry 3 does not match its hash (edited)", id="rehash"),
        pytest.param(True, "entry 3 has a plain SHA-256 hash after keyed entries", id="downgrade"),
    ],
)
def test_rewriting_an_actor_and_recomputing_sha256_hashes_is_found(
    store_url: str, tmp_path: Path, downgrade: bool, problem: str
) -> None:
    keyed = _keyed(store_url, tmp_path)
    _fill(keyed, 6)
    assert _verify(keyed).ok
    _rehash_from(keyed, 3, actor="key:someone-else", downgrade=downgrade)
    verdict = _verify(keyed)
    assert (verdict.ok, verdict.first_bad_seq, verdict.entries) == (False, 3, 2)
    assert verdict.problem is not None and problem in verdict.problem
    keyed.close()


def test_a_keyed_chain_is_not_verified_without_its_key_or_with_another(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    keyed = _keyed(store_url, tmp_path)
    _fill(keyed, 2)
    verdict = _verify(store)  # opened without the audit key
    assert (verdict.ok, verdict.first_bad_seq) == (False, 1)
    assert verdict.problem is not None and "no audit key is configured" in verdict.problem
    other = _keyed(store_url, tmp_path, chain_key=b"o" * 32)
    verdict = _verify(other)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 1)
    _fill(store, 1)  # a process without the key appends: a plain entry after keyed ones
    verdict = _verify(keyed)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 3)
    keyed.close()
    other.close()
