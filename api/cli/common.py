"""What every `canon` command shares: the two consoles, how a message and a failure are printed,
how the errors a user can cause become one readable line, the `--workdir` options, the store.

Output meant for scripts goes to stdout (`out`), messages to stderr (`err`); bad input is one
readable line on stderr and exit code 2; a refusal by the rules is exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.settings_errors import settings_error
from calibration import CalibrationError
from resolver import ResolverError

if TYPE_CHECKING:
    from api.settings import Settings
    from gateway import Store

err = Console(stderr=True)
out = Console()

#: The workdir of the resolver's commands: a folder, `var` unless given.
WorkdirOpt = Annotated[Path, typer.Option("--workdir", "-w", help="Canon's working folder")]
#: The workdir of the gate's commands: the settings' (`CANON_WORKDIR` or `var`) unless given.
SettingsWorkdirOpt = Annotated[
    Path | None,
    typer.Option("--workdir", "-w", help="Canon's working folder (default: CANON_WORKDIR or var)"),
]


def say(message: str) -> None:
    """A message for the human, on stderr, never wrapped."""
    err.print(message, highlight=False, soft_wrap=True, markup=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """One readable line on stderr, then exit (2: bad input; 1: refused by the rules)."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


@contextmanager
def readable_errors(*, first_line: bool = False) -> Iterator[None]:
    """Turn the resolver's and calibration's errors a user can cause into one line on stderr
    (only the message's first line with `first_line`)."""
    try:
        yield
    except (ResolverError, CalibrationError) as e:
        if first_line:
            fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
        fail(str(e))
    except OSError as e:
        fail(f"{e.filename or ''}: {e.strerror or e}")


@contextmanager
def readable_gateway_errors() -> Iterator[None]:
    """Turn the gate's errors a user can cause (and bad settings) into one line on stderr."""
    from gateway import GatewayError
    from gateway.errors import PromotionRefused

    try:
        yield
    except PromotionRefused as e:
        fail(e.message, code=1)
    except GatewayError as e:
        fail(e.message)
    except ValidationError as e:
        first = e.errors()[0]
        fail(settings_error(first))
    except OSError as e:
        fail(f"{e.filename or ''}: {e.strerror or e}")


def progress_bar() -> Progress:
    """A transient progress bar on stderr (description, bar, n of m, time)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def load_settings(workdir: Path | None) -> Settings:
    """The settings (environment, `.env`), with `workdir` when given."""
    from api.settings import Settings

    settings = Settings()
    return settings.model_copy(update={"workdir": workdir}) if workdir else settings


@contextmanager
def open_store(workdir: Path | None) -> Iterator[Store]:
    """The store of the settings (with `workdir` when given), closed on exit."""
    from api.settings import audit_sink
    from gateway import Store

    settings = load_settings(workdir)
    store = Store.open(settings.store_url, checkpoints=audit_sink(settings))
    try:
        yield store
    finally:
        store.close()
