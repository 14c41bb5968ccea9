"""One readable line for a settings value that failed validation (CLI exit 2)."""

from __future__ import annotations

from pydantic_core import ErrorDetails


def settings_error(error: ErrorDetails) -> str:
    """`settings: FIELD: message`, or `settings: message` when the error is about the settings
    as a whole (a model validator): never an empty field, never pydantic's "Value error, "."""
    where = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"settings: {where}: {message}" if where else f"settings: {message}"
