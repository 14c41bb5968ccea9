"""`canon actions revert ID` and `canon rollout drill ACTION`: rollback as a feature.

`canon actions revert` asks the running API (`CANON_API_URL`, with the key in `CANON_API_KEY`)
for the revert of a succeeded action, as an agent or a person with a key would over HTTP: the
revert waits for approval like any write. `canon rollout drill` runs an action and its revert
against a staging ERP (by default a sandbox ERP started for the drill over the committed sample)
and stores the result with the action type's rollout, in the workdir's store.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from api.cli.common import (
    SettingsWorkdirOpt,
    fail,
    load_settings,
    open_store,
    out,
    readable_gateway_errors,
    say,
)
from api.cli.gateway import rollout_app

if TYPE_CHECKING:
    from gateway import ErpConnector
    from gateway.drill import DrillResult

actions_app = typer.Typer(help="Actions proposed through the gate.", no_args_is_help=True)

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus" / "data"


# -- canon actions revert -----------------------------------------------------------------------
def _problem(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"{response.status_code}: {detail or body}"


@actions_app.command("revert")
def actions_revert(
    action_id: Annotated[str, typer.Argument(help="The id of the succeeded action to revert")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it is reverted (for approvers; not with --plan)")
    ] = "",
    api_url: Annotated[
        str, typer.Option("--api-url", envvar="CANON_API_URL", help="The Canon API")
    ] = "http://127.0.0.1:8000",
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Makes a retried request safe")
    ] = None,
    plan: Annotated[
        bool, typer.Option("--plan", help="Only show what the revert would do")
    ] = False,
) -> None:
    """Propose the revert of a succeeded action (it then waits for approval)."""
    import httpx

    key = os.environ.get("CANON_API_KEY", "").strip()
    if not key:
        fail("CANON_API_KEY is not set: the revert is asked with your API key")
    if not reason.strip() and not plan:
        fail("--reason: say why the action is reverted")
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{api_url.rstrip('/')}/v1/actions/{action_id}/revert"
    try:
        with httpx.Client(timeout=60) as http:
            if plan:
                response = http.get(url, headers=headers)
            else:
                body: dict[str, Any] = {"reason": reason}
                if idempotency_key:
                    body["idempotency_key"] = idempotency_key
                response = http.post(url, headers=headers, json=body)
    except httpx.HTTPError as e:
        fail(f"{api_url}: cannot reach the Canon API: {e}")
    if response.status_code >= 400:
        fail(f"revert of {action_id} refused: {_problem(response)}", code=1)
    data = response.json()
    if plan:
        out.print(data["plan"], highlight=False, soft_wrap=True, markup=False)
        return
    waiting = (data.get("approval") or {}).get("approvals_needed")
    again = " (the same request was already made)" if data.get("replayed") else ""
    out.print(data["id"], highlight=False)
    say(f"revert {data['id']} of {action_id}: {data['status']}, needs {waiting} approval(s){again}")
    say(data["summary"])


# -- canon rollout drill ------------------------------------------------------------------------
@contextmanager
def _sandbox(data: Path) -> Iterator[str]:
    """A sandbox ERP over a fresh copy of `data`, served on 127.0.0.1 while the block runs."""
    from api.serving import serving
    from sandbox.erp import create_sandbox_app

    with tempfile.TemporaryDirectory(prefix="canon-drill-erp-") as folder:
        app = create_sandbox_app(Path(folder) / "sandbox-erp.sqlite", data)
        with serving(app) as url:
            yield url


def _connector(
    kind: str, url: str, user: str, password: str, *, auth: str, timeout: float
) -> ErpConnector:
    """The connector of ERP kind `kind` at `url` (`gateway.erp.registry`), built from the
    default settings but for its address, credentials, `auth` and `timeout`."""
    from pydantic import SecretStr

    from api.settings import Settings
    from gateway.erp.registry import kind as erp_kind

    given = {"erp_kind": kind, "erp_url": url, "erp_username": user,
             "erp_password": SecretStr(password), "erp_auth": auth,
             "erp_timeout_seconds": timeout}  # fmt: skip
    return erp_kind(kind).build(Settings.model_construct().model_copy(update=given))


def _report(result: DrillResult) -> None:
    where = f" on {result.record}" if result.record else ""
    out.print(f"drill {result.action_type} against {result.erp}{where}", highlight=False,
              soft_wrap=True)  # fmt: skip
    for check in result.checks:
        mark = "ok  " if check.ok else "FAIL"
        diff = "; ".join(
            f"{d['field']}: expected {d['left']!r}, found {d['now']!r}" for d in check.differences
        )
        out.print(f"  {mark} {check.stage}{': ' + diff if diff else ''}", highlight=False,
                  markup=False)  # fmt: skip
    if result.not_offered is not None:
        out.print(f"  {result.not_offered}", highlight=False, markup=False,
                  soft_wrap=True)  # fmt: skip
        return
    statuses = f"action {result.action_status or '-'}, revert {result.revert_status or '-'}"
    verdict = "passed" if result.passed else f"FAILED: {result.problem}"
    out.print(f"  {result.action_type}: drill {verdict} ({statuses})", highlight=False,
              markup=False, soft_wrap=True)  # fmt: skip


@rollout_app.command("drill")
def rollout_drill(
    action: Annotated[
        str | None, typer.Argument(help="Action type, e.g. supplier.block (or --all)")
    ] = None,
    all_actions: Annotated[
        bool, typer.Option("--all", help="Drill every action type of the catalog")
    ] = False,
    erp_url: Annotated[
        str | None,
        typer.Option("--erp-url", help="A staging ERP (default: a sandbox ERP for the drill)"),
    ] = None,
    wire: Annotated[
        str | None,
        typer.Option(
            "--format", help="protheus | sap | oracle (default: the ERP kind or protheus)"
        ),
    ] = None,
    record: Annotated[
        str | None, typer.Option("--record", help="The record to drill on (default: one picked)")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="The sandbox's CSVs (default: the sample)")
    ] = None,
    workdir: SettingsWorkdirOpt = None,
) -> None:
    """Run ACTION and then its revert against a staging ERP, checking it after each step; the
    result is stored with the action type's rollout (promotion needs a passing drill)."""
    from gateway import LOCAL_OPERATOR, load_catalog
    from gateway.drill import run_drill
    from gateway.erp.registry import kinds
    from gateway.rollout import record_drill
    from gateway.store import utcnow

    if (action is None) == (not all_actions):
        fail("name one ACTION, or --all")
    if record is not None and all_actions:
        fail("--record goes with one ACTION, not --all")
    if data is not None and not data.is_dir():
        fail(f"--data {data}: not a folder of CSV extracts")
    with readable_gateway_errors():
        settings = load_settings(workdir)
        chosen = wire or (settings.erp_kind if erp_url and settings.erp_kind != "ledger" else None)
        kind = chosen or "protheus"
        formats = kinds(remote=True)
        if kind not in formats:
            fail(f"--format {kind!r}: use {' | '.join(formats)}")
        catalog = load_catalog(settings.actions_file)
        names = list(catalog.actions) if all_actions else [catalog.get(str(action)).name]
        if erp_url is None:
            from sandbox.erp import DEFAULT_PASSWORD, DEFAULT_USER

            source = _sandbox(data or SAMPLE_DATA)
            user, password, label = DEFAULT_USER, DEFAULT_PASSWORD, "sandbox ERP"
            auth: Literal["basic", "oauth2"] = "basic"
        else:
            source = _given(erp_url)
            user = settings.erp_username or ""
            password = settings.erp_password.get_secret_value() if settings.erp_password else ""
            auth, label = settings.erp_auth, erp_url
        results = []
        with source as url:
            connector = _connector(kind, url, user, password, auth=auth,
                                   timeout=settings.erp_timeout_seconds)  # fmt: skip
            for name in names:
                result = run_drill(catalog, name, connector, erp=f"{label} ({kind})",
                                   record_id=record)  # fmt: skip
                _report(result)
                results.append(result)
        with open_store(workdir) as store, store.transaction() as session:
            for result in results:
                if result.not_offered is not None:
                    continue  # nothing was drilled: promotion is refused for that reason
                record_drill(session, catalog.get(result.action_type), passed=result.passed,
                             erp=result.erp, report=result.as_dict(), actor=LOCAL_OPERATOR.actor,
                             now=utcnow())  # fmt: skip
    failed = [r.action_type for r in results if r.failed]
    absent = [r.action_type for r in results if r.not_offered is not None]
    drilled = len(results) - len(absent)
    if absent:
        say(f"not offered on this ERP (not drilled): {', '.join(absent)}")
    if failed:
        say(f"{len(failed)} of {drilled} drill(s) failed: {', '.join(failed)}")
        raise typer.Exit(code=1)
    if not drilled:
        say("nothing drilled")
        raise typer.Exit(code=1)
    say(f"{drilled} drill(s) passed; stored with the rollout of each action type")


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


def register(app: typer.Typer) -> None:
    """Add `canon actions` (the rollout drill joins `canon rollout`)."""
    app.add_typer(actions_app, name="actions")
