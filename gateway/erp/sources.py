"""Where an ERP keeps an entity type's records: the `source:` its profile declares.

A connector's `extract` reads whatever the source names (a resource, an entity set with its
filter…) and knows the ERP's objects, never the profile's entity types: a profile that declares
a new entity type over an object the connector can read needs no code. `source_fields` checks a
source against the keys a connector reads, so a mistyped profile is an error that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from gateway.errors import ErpError, ErpUnsupported
from resolver.errors import ProfileError
from resolver.profiles import Profile, load_profile, shipped_profile_path

#: An entity type's source as its profile declares it (`{resource: suppliers}`).
Source = Mapping[str, str]


@cache
def shipped_profile(kind: str) -> Profile | None:
    """The shipped profile of an ERP kind (`config/profiles/<kind>.yaml`), None when there is
    none; what a connector maps the gateway's entity types to its ERP's objects with."""
    path = shipped_profile_path(kind)
    return load_profile(path) if kind and path.is_file() else None


def declared_source(profile: Profile | None, entity_type: str) -> Source | None:
    """Where the profile says the ERP keeps an entity type's records; None when it declares
    the entity type nowhere (or not at all)."""
    if profile is None:
        return None
    try:
        return profile.source(entity_type)
    except ProfileError:
        return None


def source_fields(
    erp: str,
    entity_type: str,
    source: Source | None,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> dict[str, str]:
    """The source's values, checked: ErpUnsupported when the profile declares none (the ERP is
    not read for that entity type), ErpError when it lacks a required key or has an unknown one.
    """
    if not source:
        raise ErpUnsupported(
            f"{erp}: the profile declares no source for {entity_type} (where the ERP keeps its "
            f"records: {', '.join(required)})"
        )
    missing = [k for k in required if not source.get(k)]
    unknown = sorted(set(source) - {*required, *optional})
    if missing or unknown:
        problems = [f"lacks {', '.join(missing)}"] if missing else []
        problems += [f"has unknown {', '.join(unknown)}"] if unknown else []
        keys = ", ".join([*required, *(f"{k} (optional)" for k in optional)])
        raise ErpError(
            f"{erp}: the profile's source of {entity_type} {' and '.join(problems)} "
            f"(a {erp} source has {keys})"
        )
    return {k: str(v) for k, v in source.items()}
