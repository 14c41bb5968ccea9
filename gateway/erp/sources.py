"""Where an ERP keeps an entity type's records: the `source:` its profile declares.

A connector's `extract` reads whatever the source names (a resource, an entity set with its
filter…) and knows the ERP's objects, never the profile's entity types: a profile that declares
a new entity type over an object the connector can read needs no code. `source_fields` checks a
source against the keys a connector reads, so a mistyped profile is an error that says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.errors import ErpError, ErpUnsupported

#: An entity type's source as its profile declares it (`{resource: suppliers}`).
Source = Mapping[str, str]


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
