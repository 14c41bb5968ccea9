"""Protheus primary keys in URLs: a record's key fields at their widths, base64 (URL-safe,
unpadded), as the integration's custom service expects them (docs/ERP.md).

A module of its own, importing nothing of Canon, so that the sandbox ERP's Protheus face can
decode keys as the connector encodes them without importing the connector.
"""

from __future__ import annotations

import base64

#: Field widths of the primary keys, in key order (the filial's first: see `key_widths`).
KEY_WIDTHS = {"SA2": (2, 6, 2), "SA1": (2, 6, 2), "SC7": (2, 6), "CT2": (2, 8, 6, 3, 6, 3)}
#: The filial's width unless the installation says otherwise (the size of its branch code).
FILIAL_WIDTH = 2


def key_widths(prefix: str, filial_width: int = FILIAL_WIDTH) -> tuple[int, ...] | None:
    """The widths of a table's key fields, with the installation's filial width."""
    widths = KEY_WIDTHS.get(prefix)
    return None if widths is None else (filial_width, *widths[1:])


def pk_encode(canonical_id: str, filial_width: int = FILIAL_WIDTH) -> str:
    """The URL key of a record: its key fields at their widths, base64 (URL-safe)."""
    prefix, *values = canonical_id.split(":")
    widths = key_widths(prefix, filial_width)
    if widths is None or len(values) != len(widths):
        raise ValueError(f"{canonical_id!r} is not a Protheus id of SA2, SA1 or SC7")
    if any(len(v) > w for v, w in zip(values, widths, strict=True)):
        raise ValueError(f"{canonical_id!r}: a key field is wider than {widths}")
    raw = "".join(v.ljust(w) for v, w in zip(values, widths, strict=True))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def pk_decode(prefix: str, pk: str, filial_width: int = FILIAL_WIDTH) -> str:
    """The canonical id a URL key stands for; ValueError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(pk + "=" * (-len(pk) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{pk!r} is not a base64 primary key") from e
    widths, values, at = key_widths(prefix, filial_width) or (), [], 0
    if len(raw) != sum(widths):
        raise ValueError(f"{pk!r} is not a primary key of {prefix}")
    for width in widths:
        values.append(raw[at : at + width].strip())
        at += width
    return ":".join([prefix, *values])
