"""The GeoNames city map's cache: data only, never code, and never trusted blindly."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from resolver import places


def test_the_cache_is_json_and_holds_the_map() -> None:
    built = places.city_names()
    name = f"cities-{places._cache_key()}.json"
    kept = [folder / name for folder in places._cache_dirs() if (folder / name).exists()]
    assert kept, "city_names() kept no cache"
    assert json.loads(kept[0].read_text(encoding="utf-8")) == built
    assert built["wien"] == built["vienna"]


def test_a_cache_that_is_not_a_map_of_strings_is_ignored(tmp_path: Path) -> None:
    bad = {
        "pickle": pickle.dumps({"wien": "vienna"}),
        "list": b'["wien", "vienna"]',
        "numbers": b'{"wien": 1}',
        "truncated": b'{"wien": "vien',
    }
    for label, content in bad.items():
        (tmp_path / label).write_bytes(content)
        assert places._read_cache(tmp_path / label) is None, label
    (tmp_path / "good").write_text('{"wien": "vienna"}', encoding="utf-8")
    assert places._read_cache(tmp_path / "good") == {"wien": "vienna"}
    assert places._read_cache(tmp_path / "missing") is None
