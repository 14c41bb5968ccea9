"""`canon serve` for the crash test, started in a fraction of a second, with workflows stopped
after a named step outcome.

Test code only: production has no way to make a workflow wait. The workflow runner tells its
`observer` of each call's committed outcome (the rollback drill checks the ERP there); this
launcher builds the app as `canon serve` does and, when a pause point is named
(`step.<status>:<position>`, e.g. `step.succeeded:1` or `step.compensated:0`), gives its runner
an observer that, once that outcome is committed, says so on stderr and blocks that workflow's
thread for good, for the test to kill the process there.

Each server is its own OS process, killed with SIGKILL by the test, as `canon serve` would be.
It is forked from a multiprocessing fork server that imported the app once (`launcher`), so a
restart costs the app's construction, not the seconds of importing it again: the crash test
restarts dozens of times. Run alone, as a module, it serves once:

    python -m tests.e2e.crash_serve --workdir W --erp-kind protheus --erp-url U --port P \
        [--pause-at step.succeeded:1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
from multiprocessing.context import ForkServerContext
from pathlib import Path

from gateway.workflow import StepEvent

#: The outcomes a workflow can be stopped after (`step.<status>:<position>`).
OUTCOMES = ("succeeded", "failed", "compensated")
#: What the fork server imports once, before forking any server.
PRELOAD = ["api.app", "api.settings", "uvicorn", "tests.e2e.crash_serve"]
_context: ForkServerContext | None = None
_lock = threading.Lock()


class PauseAfter:
    """An observer that stops a workflow's thread for good after one committed outcome."""

    def __init__(self, point: str) -> None:
        kind, _, position = point.partition(":")
        status = kind.removeprefix("step.")
        if status not in OUTCOMES or not position.isdigit():
            raise ValueError(f"--pause-at {point!r}: expected step.<{'|'.join(OUTCOMES)}>:<n>")
        self.point, self.status, self.position = point, status, int(position)

    def __call__(self, event: StepEvent) -> None:
        if (event.status, event.position) != (self.status, self.position):
            return
        sys.stderr.write(f"canon: workflow {event.action_id} paused at {self.point}\n")
        sys.stderr.flush()
        threading.Event().wait()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--erp-kind", required=True)
    parser.add_argument("--erp-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pause-at", type=PauseAfter, default=None)
    args = parser.parse_args(argv)
    settings = Settings().model_copy(update={"workdir": args.workdir})  # as `canon serve`
    settings = Settings(
        **{**settings.model_dump(), "erp_kind": args.erp_kind, "erp_url": args.erp_url}
    )
    app = create_app(settings)
    if args.pause_at is not None:
        app.state.gateway.runner.observer = args.pause_at
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


def _serve_child(argv: list[str], env: dict[str, str], log: str) -> None:
    """The forked server: its own environment (what `canon serve` would be started with), its
    stdout and stderr to `log`, then `main`."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    main(argv)


def launcher() -> ForkServerContext:
    """The fork server context (started on first use, one per test process)."""
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


def start(argv: list[str], env: dict[str, str], log: Path) -> multiprocessing.process.BaseProcess:
    """A server process running `main(argv)` with `env`, logging to `log`."""
    process = launcher().Process(target=_serve_child, args=(argv, env, str(log)), daemon=True)
    process.start()
    return process


if __name__ == "__main__":
    main()
