"""`canon labels export`: the labels people gave, as the table `canon calibrate` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    SettingsWorkdirOpt,
    fail,
    open_store,
    readable_gateway_errors,
    say,
)

labels_app = typer.Typer(help="Labels people gave (picks, approvals).", no_args_is_help=True)


@labels_app.command("export")
def labels_export(
    out: Annotated[Path, typer.Option("--out", help="CSV to write (for canon calibrate --labels)")],
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Write the store's labels (resolution picks, approvals, wrong-entity rejections) as the
    labels table `canon calibrate --labels` reads."""
    from calibration.errors import LabelError
    from calibration.labels import labels_from_records, write_labels
    from gateway.labels import label_rows

    with readable_gateway_errors(), open_store(workdir) as store:
        with store.transaction() as session:
            rows = label_rows(session)
        try:
            labels = labels_from_records(rows, "store labels")
        except LabelError as e:
            fail(str(e))
        write_labels(out, labels)
    sources: dict[str, int] = {}
    for label in labels:
        sources[label.source] = sources.get(label.source, 0) + 1
    counts = ", ".join(f"{n} {source}" for source, n in sorted(sources.items())) or "none"
    say(f"wrote {len(labels)} labels to {out} ({counts})")


def register(app: typer.Typer) -> None:
    """Add `canon labels` to the `canon` app."""
    app.add_typer(labels_app, name="labels")
