"""`canon learn`: refit the model's m-probabilities from labelled pairs; activate; roll back.

    canon learn --workdir W --labels F [--prior-pairs 500]   write a refit model version
    canon learn --workdir W --activate VERSION              serve it
    canon learn --workdir W --rollback                      serve the model active before

Tables go to stdout, messages to stderr; bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import fail, out, readable_errors, say
from calibration import read_labels
from calibration.learn import PRIOR_PAIRS, Refit, activate_model, refit_workdir, rollback_model


def print_refit(refit: Refit) -> None:
    """Weights before and after per level, then the replay of the labelled queries."""
    for name, t in sorted(refit.types.items()):
        table = Table(title=f"{name}: m refit from {t.pairs} labelled pairs")
        for col in ("comparison", "level", "labels", "before", "after", "change"):
            table.add_column(col, justify="left" if col in ("comparison", "level") else "right")
        for c in t.levels:
            table.add_row(c.comparison, c.level, str(c.labels), f"{c.before:+.2f}",
                          f"{c.after:+.2f}", f"{c.after - c.before:+.2f}")  # fmt: skip
        out.print(table)
        if t.pinned:
            say(f"{name}: pinned from domain knowledge (fixed_m), kept: {', '.join(t.pinned)}")
    r = refit.replay
    table = Table(title=f"the {r.queries} labelled queries replayed (in-sample)")
    for col in ("model", "matched right", "matched wrong", "halted"):
        table.add_column(col, justify="left" if col == "model" else "right")
    table.add_row(f"active {refit.parent}", str(r.right_before), str(r.wrong_before),
                  str(r.halted_before))  # fmt: skip
    table.add_row(f"refit {refit.version}", str(r.right_after), str(r.wrong_after),
                  str(r.halted_after))  # fmt: skip
    out.print(table)
    say(f"the refit would have resolved {r.resolved} of the {r.answerable_halts} halts a human"
        f" resolved to a record ({r.halted_before - r.answerable_halts} other halts: no labelled"
        " record is right)")  # fmt: skip


def learn_cmd(
    workdir: Annotated[Path, typer.Option("--workdir", "-w", help="Canon's working folder")] = Path(
        "var"
    ),
    labels: Annotated[Path | None, typer.Option(help="labels, CSV or Parquet")] = None,
    prior_pairs: Annotated[
        float, typer.Option(help="how many labelled pairs the current m is worth", min=0.0)
    ] = PRIOR_PAIRS,
    activate_version: Annotated[
        str | None, typer.Option("--activate", help="serve model VERSION")
    ] = None,
    rollback_flag: Annotated[
        bool, typer.Option("--rollback", help="serve the model active before the last activation")
    ] = False,
) -> None:
    """Refit m-probabilities per entity type from labelled pairs, as a new model version."""
    actions = [labels is not None, activate_version is not None, rollback_flag]
    if sum(actions) != 1:
        fail("give one of --labels FILE, --activate VERSION, --rollback")
    with readable_errors(first_line=True):
        if labels is not None:
            refit = refit_workdir(workdir, read_labels(labels), prior_pairs)
            print_refit(refit)
            say(f"wrote {refit.path}; serve it with: canon learn -w {workdir} --activate"
                f" {refit.version} (then recalibrate: canon calibrate --labels)")  # fmt: skip
        elif activate_version is not None:
            previous = activate_model(workdir, activate_version)
            say(f"active model: {activate_version} (was {previous})")
        else:
            before, after = rollback_model(workdir)
            say(f"rolled back: active model {after} (was {before})")


def register(app: typer.Typer) -> None:
    """Add `canon learn` to the app."""
    app.command("learn")(learn_cmd)
