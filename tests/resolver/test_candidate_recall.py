"""The name-candidate pass under a scan budget against brute force (no budget: every usable
posting scanned whole) on the committed sample, every query kind of its generator.

The sample is small, so the default budget never runs out there and the pass must equal brute
force exactly; the budget is then scaled to the sample as it stands to a 1 M-supplier master
(the same share of the master scanned), where it does run out, and the right records brute
force returns must still be returned (goal: 99.9 %); decisions that change are reported.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from resolver import Resolver
from resolver import index as index_module
from resolver.index import SCAN_BUDGET, ServingIndex, candidates_together
from resolver.recall import compare

#: The master size the default budget is set for (benchmarks/RESULTS.md, issue 17).
AT_SCALE = 1_000_000


def _report(name: str, report: object, record_property: Callable[[str, object], None]) -> None:
    print(f"\n{name}: {report}")  # noqa: T201 - the figures the test reports (pytest -s)
    record_property(name, repr(report))


def test_default_budget_equals_brute_force_on_the_sample(
    resolver: Resolver,
    queries: list[dict[str, object]],
    expected: dict[str, dict[str, object]],
    record_property: Callable[[str, object], None],
) -> None:
    # Every name posting of every type together is shorter than the budget: nothing to cap.
    for et in resolver.entity_types.values():
        assert int(np.diff(et.index.postings.starts).max()) < SCAN_BUDGET
    report = compare(resolver, queries, expected, SCAN_BUDGET)
    _report("default budget", report, record_property)
    assert report.queries == len(queries)
    assert report.answers_changed == 0
    assert report.changes == []
    assert report.capped_found == report.brute_found > 0.9 * report.with_right_record


def test_budget_at_scale_keeps_the_right_records(
    resolver: Resolver,
    queries: list[dict[str, object]],
    expected: dict[str, dict[str, object]],
    record_property: Callable[[str, object], None],
) -> None:
    suppliers = resolver.entity_types["supplier"].index.size
    budget = max(1, round(SCAN_BUDGET * suppliers / AT_SCALE))
    report = compare(resolver, queries, expected, budget)
    _report(f"budget {budget} (the default's share of a 1 M master)", report, record_property)
    kinds = {str(e["kind"]) for e in expected.values()}
    assert set(report.kinds) == kinds and len(kinds) >= 15  # every kind the generator makes
    # The budget does run out: answers differ (runners-up), else this proves nothing.
    assert report.answers_changed > 0.2 * report.queries
    assert report.recall >= 0.999, report
    assert report.recall_first >= 0.999, report
    # Fewer candidates must never make the resolver surer: no match brute force did not make.
    assert [c for c in report.changes if c.after.startswith("match")] == []


def _master(common: int) -> ServingIndex:
    """`common` records sharing the words 'comercio alimentos', and one 'souza comercio'."""
    names = [f"comercio alimentos n{i:05d}" for i in range(common)] + ["souza comercio"]
    frame = pd.DataFrame({"unique_id": [str(i) for i in range(len(names))], "name": names})
    return ServingIndex.build(frame, ["name"])


def test_a_posting_beyond_the_budget_adds_only_to_records_already_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_module, "ALWAYS_SCANNED", 1)
    index = _master(3000)
    query = {"name": "souza comercio alimentos"}
    exact = index.candidates(query, None)
    capped = index.candidates(query, 100)
    souza = index.size - 1
    assert exact[0] == capped[0] == souza  # rarest key first: found whatever the budget
    assert len(exact) == index_module.NAME_CANDIDATES
    # 'alimentos' (3,000 records) would exceed the budget: no record is found by it alone.
    assert capped.tolist() == [souza]
    assert set(exact.tolist()) > {souza}


def test_the_rarest_keys_are_scanned_whatever_the_budget() -> None:
    # Keys rarest first: p:souz, w:souza (1 record each), then p:alim (3,000): the third is
    # scanned although it overflows a budget of 1, so the records sharing 'alimentos' come in.
    assert index_module.ALWAYS_SCANNED == 3
    index = _master(3000)
    capped = index.candidates({"name": "souza comercio alimentos"}, 1)
    assert capped[0] == index.size - 1
    assert len(capped) == index_module.NAME_CANDIDATES


def test_one_pass_over_several_types_pools_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "ALWAYS_SCANNED", 1)
    small, large = _master(10), _master(3000)
    query = {"name": "souza comercio alimentos"}
    # Alone, the large index's 'alimentos' (3,000) overflows a budget of 2,000 …
    assert large.candidates(query, 2000).tolist() == [large.size - 1]
    # … pooled with a type whose keys are rare, it is scanned.
    both = candidates_together([(small, query), (large, query)], 2000)
    assert len(both[1]) == index_module.NAME_CANDIDATES
    assert both[0].tolist() == small.candidates(query, None).tolist()
