"""Dashboard sign-in: the API's bearer token, exchanged for a signed session cookie.

A token arrives by the login form only: never in a URL, where proxies log it and browsers keep it,
and never from a link, which could sign a victim's browser in as someone else (login CSRF; an
``?token=`` link once did). The form's POST must come from this site (its Origin, or else its
Referer, names this host). The cookie is HttpOnly, SameSite=Strict and, over HTTPS, Secure:
scripts cannot read it and other sites cannot make the browser send it.

The cookie holds no token: it names who signed in, until when (12 hours), and a keyed hash of
the credential as it is stored now (the agency's key hash, the admin token), signed with a key
derived from the platform's secret key. A cookie that leaks (a shared machine, a backup of a
browser profile) opens the dashboard until it expires, never the API, and rotating the agency's
key or the admin token ends every session made with the old one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadpool.api.auth import ADMIN, Principal
from leadpool.models import Agency

COOKIE = "leadpool_session"
#: the cookie of earlier releases, which held the token itself: deleted wherever the browser shows it
LEGACY_COOKIE = "leadpool_token"
MAX_AGE = 12 * 3600


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


def _key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "session_key", None)
    if key is None:
        secret = request.app.state.settings.resolved_secret_key()
        key = hmac.new(secret, b"leadpool dashboard session", hashlib.sha256).digest()
        request.app.state.session_key = key
    return key


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _credential(session: Session, request: Request, principal: Principal) -> str | None:
    """What the principal signs in with, as stored now (rotation changes it)."""
    if principal.is_admin:
        return str(request.app.state.admin_token)
    return session.scalar(select(Agency.api_key_hash).where(Agency.id == principal.agency_id))


def session_value(session: Session, request: Request, principal: Principal) -> str:
    key = _key(request)
    who = "admin" if principal.is_admin else f"agency:{principal.agency_id}"
    credential = _credential(session, request, principal) or ""
    payload = f"{who}|{int(time.time()) + MAX_AGE}|{_mac(key, credential)[:32]}"
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(key, payload)}"


def principal_from_cookie(request: Request, session: Session) -> Principal:
    value = request.cookies.get(COOKIE) or ""
    encoded, _, signature = value.partition(".")
    if not encoded or not signature or len(value) > 400:
        raise LoginRequired
    key = _key(request)
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise LoginRequired from None
    if not hmac.compare_digest(_mac(key, payload).encode(), signature.encode("utf-8", "replace")):
        raise LoginRequired
    who, _, rest = payload.partition("|")
    expires, _, bound = rest.partition("|")
    if not expires.isdigit() or int(expires) < time.time():
        raise LoginRequired
    if who == "admin":
        principal = ADMIN
    elif who.startswith("agency:") and who[7:].isdigit():
        principal = Principal(kind="agency", agency_id=int(who[7:]))
    else:
        raise LoginRequired
    credential = _credential(session, request, principal)
    if credential is None or not hmac.compare_digest(_mac(key, credential)[:32].encode(), bound.encode()):
        raise LoginRequired  # the key was rotated (or the agency is gone) since sign-in
    return principal


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    if LEGACY_COOKIE in request.cookies:
        response.delete_cookie(LEGACY_COOKIE, path="/")
    response.set_cookie(
        COOKIE,
        value,
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
