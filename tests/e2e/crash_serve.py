"""`canon serve` for the crash test, with workflows stopped after a named step outcome.

Test code only: production has no way to make a workflow wait. The workflow runner tells its
`observer` of each call's committed outcome (the rollback drill checks the ERP there); this
launcher builds the app as `canon serve` does and gives its runner an observer that, once the
outcome named by `--pause-at` (`step.<status>:<position>`, e.g. `step.succeeded:1` or
`step.compensated:0`) is committed, says so on stderr and blocks that workflow's thread for good,
for the test to kill the process there.

    python -m tests.e2e.crash_serve --workdir W --erp-kind protheus --erp-url U --port P \
        --pause-at step.succeeded:1
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from gateway.workflow import StepEvent

#: The outcomes a workflow can be stopped after (`step.<status>:<position>`).
OUTCOMES = ("succeeded", "failed", "compensated")


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
    parser.add_argument("--pause-at", type=PauseAfter, required=True)
    args = parser.parse_args(argv)
    settings = Settings().model_copy(update={"workdir": args.workdir})  # as `canon serve`
    settings = Settings(
        **{**settings.model_dump(), "erp_kind": args.erp_kind, "erp_url": args.erp_url}
    )
    app = create_app(settings)
    app.state.gateway.runner.observer = args.pause_at
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
