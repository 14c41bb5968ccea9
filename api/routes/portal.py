"""The approval portal: server-rendered pages under `/portal` (Jinja2, autoescaped, no CDN).

Sign-in with a password (argon2) opens a server-side session (HttpOnly, SameSite cookie); every
form carries the session's CSRF token (the sign-in form a double-submit cookie), and a post
without a valid one is refused and audited. Email links land on `/portal/email`: GET shows
what the link would decide, only POST decides. Pages forbid framing, inline scripts and
referrers (a link's token must not leak to another site).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.approvals_setup import ApprovalServices
from api.errors import status_of
from api.routes.approvals import get_services
from gateway.channels.links import LinkRefused
from gateway.channels.portal import PortalLogin, csrf_ok
from gateway.errors import GatewayError, NotAuthenticated
from gateway.resolutions import may_resolve
from gateway.resolutions_desk import decision_of
from gateway.throttle import Throttled

router = APIRouter(prefix="/portal", include_in_schema=False)
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SESSION_COOKIE, LOGIN_CSRF_COOKIE = "canon_session", "canon_login_csrf"
#: The same session for the quality dashboard (a cookie's path cannot cover both prefixes).
DASHBOARD_SESSION_COOKIE = "canon_dashboard_session"
STATUSES = ("pending", "decided", "approved", "rejected", "expired", "all")
RISKS = ("read", "low_risk", "high_risk", "irreversible")
LINK_STATUS = {"malformed": 400, "tampered": 400, "rotated": 410, "expired": 410, "used": 410,
               "unknown-user": 403, "changed": 409}  # fmt: skip
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
_ENV.filters["when"] = _when

Services = Annotated[ApprovalServices, Depends(get_services)]
Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=200)]


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page, with the portal's security headers."""
    context = {"login": None, "notice": None, "error": None, **values}
    html = _ENV.get_template(f"portal/{template}").render(context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _message(heading: str, text: str, status: int, login: PortalLogin | None = None) -> Response:
    return render("message.html", status, heading=heading, text=text, view=None, login=login)


def _refusal(error: GatewayError, login: PortalLogin | None = None) -> Response:
    if isinstance(error, LinkRefused):
        status = LINK_STATUS.get(error.reason, 400)
    else:
        status = status_of(error)[0]
    return render("message.html", status, heading="Not done", text=error.message, view=None,
                  login=login, error=None)  # fmt: skip


def current_login(request: Request, services: Services) -> PortalLogin | None:
    """The signed-in portal user of this request, if any."""
    return services.sessions.resume(request.cookies.get(SESSION_COOKIE))


LoginDep = Annotated[PortalLogin | None, Depends(current_login)]


#: Where a signed-in user may be sent back to: this site's portal and dashboard pages only.
_BACK_TO = re.compile(r"/(portal|dashboard)(/[A-Za-z0-9/_.~-]*)?(\?[A-Za-z0-9=&_.~%+-]*)?")


def back_to(target: str | None) -> str:
    """`target` when it is a local portal or dashboard page, else the queue: never another
    site (`//evil.example`), never a script (`javascript:`), never a header (newlines)."""
    if target and len(target) <= 500 and ".." not in target and _BACK_TO.fullmatch(target):
        return target
    return "/portal"


def _to_login(going: str | None = None) -> Response:
    """To the sign-in page, which sends the user on to `going` once signed in."""
    there = back_to(going)
    url = "/portal/login" if there == "/portal" else f"/portal/login?{urlencode({'next': there})}"
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def _going(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _unsigned_form(
    request: Request,
    services: ApprovalServices,
    login: PortalLogin | None,
    csrf_token: str,
    going: str | None = None,
) -> Response | None:
    """The answer to a decision form posted without a session (sign in, then on to `going`)
    or without the session's CSRF token (refused, audited); None when it may proceed."""
    if login is None:
        return _to_login(going)
    if not csrf_ok(login, csrf_token):
        services.sessions.refuse(login, "csrf", request.url.path)
        return _message("Refused", "The form did not come from this site.", 403, login)
    return None


@router.get("/static/portal.css")
def stylesheet() -> Response:
    css = (TEMPLATES / "portal" / "portal.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
def login_page(
    login: LoginDep, next: Annotated[str, Query(max_length=500)] = "/portal"
) -> Response:
    if login is not None:
        return RedirectResponse(back_to(next), status_code=303, headers=HEADERS)
    token = secrets.token_urlsafe(32)
    page = render("login.html", csrf_token=token, username="", next=back_to(next))
    page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/portal")
    return page


@router.post("/login")
def login_submit(
    request: Request,
    services: Services,
    username: Short,
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Short = "",
    next: Annotated[str, Form(max_length=500)] = "/portal",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        services.sessions.refuse(None, "csrf", request.url.path)
        return _message("Refused", "The form expired or did not come from this site.", 403)
    source = request.client.host if request.client else "unknown"
    try:
        login = services.sessions.login(username, password, source)
    except Throttled as e:
        page = _message("Too many attempts", e.message, 429)
        page.headers["Retry-After"] = str(e.retry_after)
        return page
    except NotAuthenticated as e:
        token = secrets.token_urlsafe(32)
        page = render("login.html", 401, csrf_token=token, username=username, error=e.message,
                      next=back_to(next))  # fmt: skip
        page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/portal")
        return page
    response = RedirectResponse(back_to(next), status_code=303, headers=HEADERS)
    for name, path in ((SESSION_COOKIE, "/portal"), (DASHBOARD_SESSION_COOKIE, "/dashboard")):
        response.set_cookie(
            name, login.cookie, httponly=True, samesite="lax", path=path,
            secure=services.secure_cookies, max_age=int(services.sessions.ttl.total_seconds()),
        )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/portal")
    return response


@router.post("/logout")
def logout(
    request: Request, services: Services, login: LoginDep, csrf_token: Short = ""
) -> Response:
    if login is None:
        return _to_login()
    if not csrf_ok(login, csrf_token):
        services.sessions.refuse(login, "csrf", request.url.path)
        return _message("Refused", "The form did not come from this site.", 403, login)
    services.sessions.logout(request.cookies.get(SESSION_COOKIE))
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE, path="/portal")
    response.delete_cookie(DASHBOARD_SESSION_COOKIE, path="/dashboard")
    return response


@router.get("")
def queue(
    request: Request,
    services: Services,
    login: LoginDep,
    status: Annotated[str, Query(max_length=16)] = "pending",
    action: Annotated[str, Query(max_length=100)] = "",
    risk: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    if login is None:
        return _to_login(_going(request))
    status = status if status in STATUSES else "pending"
    rows = services.desk.list(login.principal, status, action or None, risk or None, limit=200)
    filters = {"status": status, "action": action, "risk": risk}
    actions = sorted(services.desk.gateway.catalog.actions)
    return render("queue.html", login=login, rows=rows, filters=filters, statuses=STATUSES,
                  actions=actions, risks=RISKS)  # fmt: skip


@router.get("/approvals/{approval_id}")
def detail(
    request: Request,
    approval_id: str,
    services: Services,
    login: LoginDep,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    if login is None:
        return _to_login(_going(request))
    try:
        view = services.desk.get(login.principal, approval_id[:36])
    except GatewayError as e:
        return _refusal(e, login)
    notice = {"approve": "Your approval is recorded.", "reject": "Your rejection is recorded."}
    try:
        revert = services.desk.gateway.revert_card(login.principal, view.action_id)
    except GatewayError:
        revert = None
    return render("detail.html", login=login, view=view, d=view.details,
                  can_decide=services.desk.may_decide(login.principal, view),
                  notice=notice.get(done), revert=revert)  # fmt: skip


@router.post("/approvals/{approval_id}/decision")
def decide(
    request: Request,
    approval_id: str,
    services: Services,
    login: LoginDep,
    decision: Short,
    csrf_token: Short = "",
    reason: Short = "",
    comment: Text = "",
    payload_hash: Short = "",
) -> Response:
    page = f"/portal/approvals/{quote(approval_id[:36])}"  # where a lapsed session returns
    refused = _unsigned_form(request, services, login, csrf_token, page)
    if refused is not None or login is None:
        return refused or _to_login(page)
    try:
        services.desk.gateway.decide(
            login.principal, approval_id[:36], decision == "approve", reason, comment,
            seen_hash=payload_hash or None, channel="portal",
        )  # fmt: skip
    except GatewayError as e:
        return _refusal(e, login)
    done = "approve" if decision == "approve" else "reject"
    url = f"/portal/approvals/{approval_id[:36]}?done={done}"
    return RedirectResponse(url, status_code=303, headers=HEADERS)


@router.get("/email")
def link_page(services: Services, token: Annotated[str, Query(max_length=2048)] = "") -> Response:
    try:
        page = services.desk.open_link(token)
    except GatewayError as e:
        return _refusal(e)
    return render("link.html", page=page, token=token)


@router.post("/email")
def link_decide(
    services: Services,
    token: Annotated[str, Form(max_length=2048)] = "",
    reason: Short = "",
    comment: Text = "",
) -> Response:
    try:
        view = services.desk.decide_by_link(token, reason, comment)
    except GatewayError as e:
        return _refusal(e)
    text = "Your decision is recorded."
    return render("message.html", heading="Thank you", text=text, view=view)


# -- resolution requests -------------------------------------------------------------------
RESOLUTION_STATUSES = ("pending", "decided", "expired", "all")


@router.get("/resolutions")
def resolutions_queue(
    request: Request,
    services: Services,
    login: LoginDep,
    status: Annotated[str, Query(max_length=16)] = "pending",
) -> Response:
    if login is None:
        return _to_login(_going(request))
    status = status if status in RESOLUTION_STATUSES else "pending"
    rows = services.resolutions.list_requests(login.principal, status, limit=200)
    return render("resolutions.html", login=login, rows=rows, current=status,
                  statuses=RESOLUTION_STATUSES)  # fmt: skip


@router.get("/resolutions/email")
def resolution_link_page(
    services: Services, token: Annotated[str, Query(max_length=2048)] = ""
) -> Response:
    try:
        page = services.resolutions.open_link(token)
    except GatewayError as e:
        return _refusal(e)
    return render("resolution_link.html", page=page, token=token)


@router.post("/resolutions/email")
def resolution_link_decide(
    services: Services,
    token: Annotated[str, Form(max_length=2048)] = "",
    comment: Text = "",
) -> Response:
    try:
        view = services.resolutions.decide_by_link(token, comment)
    except GatewayError as e:
        return _refusal(e)
    text = f"Your decision is recorded: {view.canonical_id or view.choice}."
    return render("message.html", heading="Thank you", text=text, view=None)


@router.get("/resolutions/{request_id}")
def resolution_detail(
    request: Request,
    request_id: str,
    services: Services,
    login: LoginDep,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    if login is None:
        return _to_login(_going(request))
    try:
        view = services.resolutions.get(login.principal, request_id[:36])
    except GatewayError as e:
        return _refusal(e, login)
    can_decide = view.status == "pending" and may_resolve(login.principal)
    notice = "Your decision is recorded." if done else None
    return render("resolution.html", login=login, r=view, can_decide=can_decide, notice=notice)


@router.post("/resolutions/{request_id}/decision")
def resolution_decide(
    request: Request,
    request_id: str,
    services: Services,
    login: LoginDep,
    choice: Short,
    csrf_token: Short = "",
    comment: Text = "",
    payload_hash: Short = "",
) -> Response:
    page = f"/portal/resolutions/{quote(request_id[:36])}"  # where a lapsed session returns
    refused = _unsigned_form(request, services, login, csrf_token, page)
    if refused is not None or login is None:
        return refused or _to_login(page)
    try:
        decision = decision_of(choice, payload_hash or None, comment)
        services.resolutions.decide(login.principal, request_id[:36], decision, channel="portal")
    except GatewayError as e:
        return _refusal(e, login)
    url = f"/portal/resolutions/{request_id[:36]}?done=1"
    return RedirectResponse(url, status_code=303, headers=HEADERS)
