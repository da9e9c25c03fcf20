"""Dashboard sign-in: the same bearer token as the API, kept in an HttpOnly cookie.

A token arrives by the login form only: never in a URL, where proxies log it and browsers keep it,
and never from a link, which could sign a victim's browser in as someone else (login CSRF; an
``?token=`` link once did). The form's POST must come from this site (its Origin, or else its
Referer, names this host). The cookie is HttpOnly, SameSite=Strict and, over HTTPS, Secure:
scripts cannot read it and other sites cannot make the browser send it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import Response
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
        secure=bool(request.app.state.api_settings.cookie_secure) or request.url.scheme == "https",
        path="/",
    )


def same_site(request: Request) -> bool:
    """Whether a form POST comes from a page of this site: a browser sends Origin (or at least
    Referer) with one; a non-browser client sends neither and cannot be a CSRF victim."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    parts = urlsplit(source)
    return (parts.scheme, parts.netloc) == (request.url.scheme, request.url.netloc)


def form_field(body: bytes, name: str) -> str:
    values = parse_qs(body.decode("utf-8", "replace")).get(name) or [""]
    return values[0].strip()


def safe_next(target: str) -> str:
    """Only same-site paths after login (never an absolute URL elsewhere)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
