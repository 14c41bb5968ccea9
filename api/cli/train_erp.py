"""`canon train --source erp`: the master read through the ERP connector as the training input.

The connector is chosen as `canon serve` chooses it (`--erp-kind`, `--erp-url`, or the
`CANON_ERP_*` settings with the credentials); the extracts go to `--data` when given (kept) or
to a temporary folder (removed after training). Nothing is trained unless the whole read worked.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from api.cli.common import err, fail, readable_errors, readable_gateway_errors
from api.settings import Settings
from resolver.profiles import shipped_profile_path


@dataclass(frozen=True)
class ErpSource:
    """Where and how to read the master: the overrides of the `CANON_ERP_*` settings."""

    kind: str | None = None
    url: str | None = None
    username: str | None = None
    auth: str | None = None
    page_size: int = 500


def _settings(source: ErpSource) -> Settings:
    settings = Settings()
    chosen = {
        k: v
        for k, v in (
            ("erp_kind", source.kind),
            ("erp_url", source.url),
            ("erp_username", source.username),
            ("erp_auth", source.auth),
        )
        if v
    }
    return Settings(**{**settings.model_dump(), **chosen}) if chosen else settings


@contextmanager
def extracts_from_erp(
    source: ErpSource, profile: Path | None, data: Path | None
) -> Iterator[tuple[Path, Path]]:
    """Read the master through the connector; yield (extracts folder, profile of what was read)."""
    from api.app import build_connector
    from gateway.erp import fetch_extracts
    from gateway.erp.registry import kind as erp_kind
    from gateway.erp.registry import kinds

    with readable_gateway_errors(), readable_errors():  # a profile's errors are the resolver's
        settings = _settings(source)
        if not erp_kind(settings.erp_kind).remote:
            known = " | ".join(kinds(remote=True))
            fail(f"--source erp needs --erp-kind {known} (or CANON_ERP_KIND)")
        profile = profile or shipped_profile_path(settings.erp_kind)
        folder = data or Path(tempfile.mkdtemp(prefix="canon-erp-extracts-"))
        try:
            connector = build_connector(settings)
            with _progress() as bar:
                task = bar.add_task(f"reading {settings.erp_kind} at {settings.erp_url}")

                def tick(entity_type: str, rows: int, pages: int) -> None:
                    bar.update(task, description=f"reading {entity_type}: {rows:,} rows")

                fetched = fetch_extracts(
                    connector, profile, folder, page_size=source.page_size, progress=tick
                )
        except BaseException:
            if data is None:
                shutil.rmtree(folder, ignore_errors=True)
            raise
    read = ", ".join(f"{name} {rows:,}" for name, rows in fetched.rows.items())
    err.print(f"read from the ERP: {read} rows, into {folder}", highlight=False, soft_wrap=True)
    for name, why in fetched.skipped.items():
        note = f"[yellow]note[/yellow] {name} not trained: {why}"
        err.print(note, highlight=False, soft_wrap=True)
    try:
        yield folder, fetched.profile
    finally:
        if data is None:
            shutil.rmtree(folder, ignore_errors=True)


def _progress() -> Progress:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    # Off when stderr is no terminal: a failure is then one line, with no blank line before it.
    return Progress(*columns, console=err, transient=True, disable=not err.is_terminal)
