"""Review of dfe9093 (the dashboard's signed session cookie): a malformed cookie is a server error.

``session.principal_from_cookie`` compares the cookie's signature with
``hmac.compare_digest(_mac(key, payload), signature)`` on *str* values. ``compare_digest`` refuses
str arguments holding non-ASCII characters (``TypeError``), and the signature is whatever the
browser sent after the dot. Any cookie named ``leadpool_session`` whose signature part has a
non-ASCII character (a stale or mangled cookie, a bot, an extension) makes every dashboard page
answer 500 instead of sending the browser to the login form; the previous code compared bytes.
Comparing bytes (or refusing a non-hex signature first) keeps it a LoginRequired.
"""

from __future__ import annotations

import base64

import httpx


def _cookie_header(value: str) -> bytes:
    return f"leadpool_session={value}".encode("latin-1")


def test_a_cookie_with_a_non_ascii_signature_sends_the_browser_to_the_login_form(api) -> None:
    payload = base64.urlsafe_b64encode(b"admin|99999999999|" + b"0" * 32).decode().rstrip("=")
    with httpx.Client(base_url=api.url, follow_redirects=False) as b:
        r = b.get("/agencies", headers={"cookie": _cookie_header(f"{payload}.\u00e9")})
    assert r.status_code == 303, (r.status_code, r.text[:200])
    assert r.headers["location"] == "/login?next=/agencies"
