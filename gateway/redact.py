"""Bank data out of the audit log and the logs: IBANs and account numbers masked to their last
four characters (`****2957`). The full value stays only where the workflow needs it (the
action's params, which the ERP write reads), never in an audit entry, a log line or an error."""

from __future__ import annotations

import re
from typing import Any

#: Keys whose values are bank account identifiers, whatever their shape.
BANK_KEYS = frozenset({"iban", "bank_account", "account_number", "bank_account_number"})
#: An IBAN in free text: country, check digits, 11 to 30 letters or digits (spaces allowed).
IBAN_IN_TEXT = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}\b")


def mask_value(value: str) -> str:
    """`****` and the last four letters or digits of an account identifier."""
    compact = re.sub(r"\s+", "", value)
    return "****" + compact[-4:] if len(compact) > 4 else "****"


def mask_text(text: str) -> str:
    """The text with every IBAN-shaped run masked."""
    return IBAN_IN_TEXT.sub(lambda m: mask_value(m.group(0)), text)


def mask_bank_data(value: Any, key: str | None = None) -> Any:
    """A copy of a JSON-like value with bank identifiers masked (by key, and IBANs in text)."""
    if isinstance(value, dict):
        return {k: mask_bank_data(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_bank_data(v, key) for v in value]
    if isinstance(value, str):
        if key is not None and key.lower() in BANK_KEYS:
            return mask_value(value)
        return mask_text(value)
    return value
