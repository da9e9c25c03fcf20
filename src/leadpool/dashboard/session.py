"""Dashboard sign-in: the same bearer token as the API, kept in an HttpOnly cookie.

A token arrives once, by the login form or as ``?token=`` on any page (then the page redirects to
itself without it, so the token leaves the address bar and history). The cookie is HttpOnly and
SameSite=Strict: scripts cannot read it and other sites cannot make the browser send it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from leadpool.api.auth import Principal, authenticate

COOKIE = "leadpool_token"
MAX_AGE = 12 * 3600


class LoginRequired(Exception):
    """No valid token: the page redirects to the login form."""


def principal_from_cookie(request: Request, session: Session) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequired
    principal = authenticate(session, token, request.app.state.admin_token)
    if principal is None:
        raise LoginRequired
    return principal


def set_token_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=bool(request.app.state.api_settings.cookie_secure),
        path="/",
    )


def strip_token_redirect(request: Request) -> RedirectResponse:
    """Redirect to the same page without ``?token=``, setting the cookie from it."""
    token = request.query_params["token"]
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
    response = RedirectResponse(target, status_code=303)
    set_token_cookie(response, request, token)
    return response


def form_field(body: bytes, name: str) -> str:
    values = parse_qs(body.decode("utf-8", "replace")).get(name) or [""]
    return values[0].strip()


def safe_next(target: str) -> str:
    """Only same-site paths after login (never an absolute URL elsewhere)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
