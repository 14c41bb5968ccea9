"""`POST /slack/interactions`: Slack's button clicks, verified before anything is read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.errors import problem
from api.routes.approvals import get_services
from gateway.channels.slack import SlackRefused

router = APIRouter(tags=["slack"])
MAX_SLACK_BODY = 32 * 1024


@router.post(
    "/slack/interactions",
    summary="Slack interactivity endpoint (block_actions)",
    description=(
        "Verifies X-Slack-Signature (v0, HMAC-SHA256 over `v0:{timestamp}:{body}`, 5-minute "
        "window) and answers 401 otherwise; maps the Slack user to a portal user and applies the "
        "approval rules. Acknowledges at once; the message is updated with the outcome after."
    ),
    response_model=None,
)
async def interactions(request: Request, background: BackgroundTasks) -> Any:
    services = get_services(request)
    body = await request.body()
    if len(body) > MAX_SLACK_BODY:
        return problem(request, 413, "body-too-large", "Slack payloads are smaller than this")
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    try:
        # Deciding may run the approved workflow: off the event loop, like any sync route.
        reply = await run_in_threadpool(services.desk.slack_interaction, body, timestamp, signature)
    except SlackRefused as e:
        status = 400 if e.reason == "malformed" else 401
        return problem(request, status, f"slack-{e.reason}", e.message, e.field)
    if reply.view is not None and reply.view.status != "pending":
        # Acknowledged first; then run what was approved and update the message with the outcome.
        background.add_task(services.desk.gateway.run_approved, reply.view.id)
        background.add_task(services.outbox.sweep)
    return JSONResponse({"ok": reply.ok, "text": reply.text})
