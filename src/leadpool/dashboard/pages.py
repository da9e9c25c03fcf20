"""Dashboard pages, server-rendered with Jinja2; charts are inline SVG drawn here.

Every page runs as the signed-in principal: an agency token sees only its own agency, campaigns
and leads (other ids answer 404 exactly as if absent), the admin token sees the platform.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from leadpool.allocation.refill import list_refill_jobs
from leadpool.api import tenancy
from leadpool.api.auth import Principal, authenticate
from leadpool.api.deps import client_address, database
from leadpool.api.leadview import lead_detail
from leadpool.api.throttle import FailedAuth
from leadpool.api.timelineview import timeline_page
from leadpool.dashboard import queries, svg
from leadpool.dashboard.session import (
    COOKIE,
    LEGACY_COOKIE,
    LoginRequired,
    form_field,
    principal_from_cookie,
    safe_next,
    same_site,
    session_value,
    set_session_cookie,
)
from leadpool.db import session_scope
from leadpool.errors import InvalidInput, NotFound
from leadpool.limits import MAX_ID

router = APIRouter(include_in_schema=False)
templates = Environment(
    loader=PackageLoader("leadpool.dashboard", "templates"), autoescape=select_autoescape(default=True)
)
templates.filters["pct"] = lambda v: "–" if v is None else f"{v * 100:.1f}%"


def _utc(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored instant in UTC, whatever the database session's zone (days are UTC days here)."""
    if value is None:
        return ""
    return (value.astimezone(UTC) if value.tzinfo is not None else value).strftime(fmt)


templates.filters["utc"] = _utc
templates.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)


def _pretty_text(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


templates.filters["pretty_text"] = _pretty_text

Build = Callable[[Session, Principal], dict[str, Any]]


# Every page shows people's data to whoever is signed in: kept in no cache (the Back button after
# signing out on a shared machine, a proxy), framed by no other site, never sniffed as another
# type, and running no script and loading nothing (the pages need none: styles and charts are
# inline). same-origin, not no-referrer: a sign-in's Origin must name this site (same_site).
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
}


def _html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        templates.get_template(template).render(**context), status_code=status, headers=_HEADERS
    )


def render_page(request: Request, template: str, build: Build) -> Response:
    try:
        with session_scope(database(request)) as session:
            principal = principal_from_cookie(request, session)
            context = build(session, principal)
            viewer = "platform admin" if principal.is_admin else _agency_name(session, principal)
    except LoginRequired:
        response = RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if LEGACY_COOKIE in request.cookies:  # it held the API key itself
            response.delete_cookie(LEGACY_COOKIE, path="/")
        return response
    except NotFound as e:
        return _html("error.html", 404, title="Not found", message=e.message, viewer=None)
    return _html(template, viewer=viewer, path=request.url.path, **context)


def _agency_name(session: Session, principal: Principal) -> str:
    assert principal.agency_id is not None
    return f"agency {tenancy.agency(session, principal, principal.agency_id).name}"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _html("login.html", next=safe_next(next), error=None, viewer=None)


@router.post("/login")
async def login(request: Request) -> Response:
    body = await request.body()
    token, target = form_field(body, "token"), safe_next(form_field(body, "next") or "/")
    if not same_site(request):
        return _html("login.html", 403, next=target, error="Sign in from this site's own form.", viewer=None)
    throttle: FailedAuth = request.app.state.failed_auth
    address = client_address(request)

    def attempt() -> tuple[int | None, str | None]:
        """(seconds to wait, None) when locked out, else (None, the session cookie's value or
        None when the token is not valid)."""
        with session_scope(database(request)) as session:
            wait = throttle.retry_after(session, address, token or None)
            if wait is not None:
                return wait, None
            principal = authenticate(session, token, request.app.state.admin_token) if token else None
            if principal is None:
                throttle.failed(session, address)
                return None, None
            throttle.succeeded(session, address, token)
            return None, session_value(session, request, principal)

    wait, value = await run_in_threadpool(attempt)
    if wait is not None:
        page = _html(
            "login.html", 429, next=target, error=f"Too many attempts; try again in {wait} s.", viewer=None
        )
        page.headers["Retry-After"] = str(wait)
        return page
    if value is None:
        return _html("login.html", 401, next=target, error="That token is not valid.", viewer=None)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, value)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if not same_site(request):  # another site must not sign the user out either
        return _html("error.html", 403, title="Forbidden", message="Sign out from this site.", viewer=None)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    if LEGACY_COOKIE in request.cookies:
        response.delete_cookie(LEGACY_COOKIE, path="/")
    return response


@router.get("/")
def overview_page(request: Request) -> Response:
    def build(session: Session, principal: Principal) -> dict[str, Any]:
        o = queries.overview(session, principal.agency_id)
        owned_label = "owned" if principal.is_admin else "owned by you"
        series_names = [owned_label, "free"] if principal.is_admin else [owned_label]

        def split(rows: list[tuple[str, int, int]], title: str) -> Any:
            series = {series_names[0]: [r[1] for r in rows]}
            if principal.is_admin:
                series["free"] = [r[2] for r in rows]
            return svg.stacked_bar_chart([r[0] for r in rows], series, title=title)

        return {
            "o": o,
            "industry_chart": split(o.by_industry, "Leads by industry"),
            "country_chart": split(o.by_country, "Leads by country"),
            "suppression_chart": svg.bar_chart(o.suppressions, title="Suppressions by kind"),
            "decisions_chart": svg.line_chart(
                o.days, o.decisions_by_reason, title="Decisions per day by reason"
            ),
        }

    return render_page(request, "overview.html", build)


@router.get("/agencies")
def agencies_page(request: Request) -> Response:
    return render_page(request, "agencies.html", lambda s, p: {"agencies": queries.agencies(s, p.agency_id)})


@router.get("/campaigns")
def campaigns_page(request: Request) -> Response:
    return render_page(
        request, "campaigns.html", lambda s, p: {"campaigns": queries.campaigns(s, p.agency_id)}
    )


@router.get("/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: int = Path(ge=1, le=MAX_ID)) -> Response:
    def build(session: Session, principal: Principal) -> dict[str, Any]:
        campaign = tenancy.campaign(session, principal, campaign_id)
        detail = queries.campaign_detail(session, campaign_id, principal.agency_id)
        days, series = queries.decisions_per_day(session, agency_id=None, campaign_id=campaign_id, days=30)
        return {
            "c": campaign,
            "d": detail,
            "codes_chart": svg.bar_chart(detail["decision_codes"], title="Decisions by outcome"),
            "decisions_chart": svg.line_chart(days, series, title="Decisions per day"),
        }

    return render_page(request, "campaign.html", build)


# the lead page shows the newest entries of the timeline, and links to the older ones
LEAD_PAGE_TIMELINE = 200


@router.get("/leads/{lead_id}")
def lead_page(
    request: Request,
    lead_id: int = Path(ge=1, le=MAX_ID),
    before: str | None = Query(None),
) -> Response:
    def build(session: Session, principal: Principal) -> dict[str, Any]:
        lead = tenancy.lead(session, principal, lead_id)
        try:
            page = timeline_page(
                session, lead_id, principal, limit=LEAD_PAGE_TIMELINE, cursor=before, newest_first=True
            )
        except InvalidInput:  # a hand-edited link: start from the newest
            page = timeline_page(session, lead_id, principal, limit=LEAD_PAGE_TIMELINE, newest_first=True)
        return {
            "lead": lead_detail(session, lead, principal),
            "timeline": page.entries,
            "timeline_older": page.next_cursor,
            "timeline_paged": before is not None,
        }

    return render_page(request, "lead.html", build)


@router.get("/jobs")
def jobs_page(request: Request) -> Response:
    def build(session: Session, principal: Principal) -> dict[str, Any]:
        # an agency's own jobs, filtered in SQL: not the platform's newest with theirs picked out
        agency = None if principal.is_admin else principal.agency_id
        return {"jobs": list_refill_jobs(session, limit=200, agency_id=agency)}

    return render_page(request, "jobs.html", build)
