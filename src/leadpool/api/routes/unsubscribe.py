"""The one-click unsubscribe link (RFC 8058), answered without a login.

``POST`` unsubscribes: it is what a mailbox provider sends for its own unsubscribe button
(``List-Unsubscribe=One-Click``) and what the page's button sends. ``GET`` only shows that button:
mail scanners and link previews fetch every URL in a message, and a fetch must not unsubscribe
anyone. Any POST with a valid link unsubscribes, whatever its body: a person who reached it meant
it, and a mistaken stop harms no one. Pages name no one (a link forwarded with the message
tells the next reader nothing) and are neither cached, indexed nor sent on as a referrer.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from leadpool.api import metrics
from leadpool.api.deps import app_secret, database
from leadpool.api.problems import database_unreachable
from leadpool.db import session_scope
from leadpool.privacy import unsubscribe as one_click

# a page for people, like the dashboard: not part of the API's contract (no client calls it)
router = APIRouter(prefix=one_click.PATH, tags=["unsubscribe"], include_in_schema=False)
Token = Annotated[str, Path(description="The link's token, as the gate handed it out.")]

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;color:#111827}}
button{{font:inherit;padding:.5em 1.2em;border-radius:6px;border:1px solid #374151;background:#111827;color:#fff;cursor:pointer}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status, headers=_HEADERS)


def _not_valid() -> HTMLResponse:
    return _page(
        "This link is not valid",
        "<p>It may have been cut short when it was copied. Use the unsubscribe link of the message "
        "exactly as it is, or reply to the message asking to be removed: a reply is honoured too.</p>",
        404,
    )


@router.get("/{token}", response_class=HTMLResponse, summary="The unsubscribe page (asks to confirm)")
def confirm_page(token: Token, request: Request) -> HTMLResponse:
    """Show the unsubscribe button; a GET never unsubscribes (scanners fetch every link)."""
    if one_click.touch_of(token, app_secret(request)) is None:
        return _not_valid()
    return _page(
        "Unsubscribe",
        "<p>Stop all messages to you from this sender's outreach, on every channel.</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post("/{token}", response_class=HTMLResponse, summary="One-click unsubscribe (RFC 8058)")
async def unsubscribe(token: Token, request: Request) -> HTMLResponse:
    """Unsubscribe the person the link was sent to: nobody on this platform contacts them again,
    on any channel. Idempotent; no credentials (RFC 8058). 404 for a link this platform did not
    make; 503 when the database cannot be reached (nothing was recorded)."""
    touch_id = one_click.touch_of(token, app_secret(request))
    if touch_id is None:
        return _not_valid()

    def record() -> one_click.Unsubscribed | None:
        with session_scope(database(request)) as session:
            return one_click.unsubscribe(session, touch_id)

    try:
        done = await run_in_threadpool(record)
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        return _page(
            "Please try again in a few minutes",
            "<p>We could not record your request just now, and nothing was changed.</p>",
            503,
        )
    if done is None:  # a link made by this platform for a touch that is no longer stored
        return _not_valid()
    if done.event_id is not None and not done.duplicate:
        metrics.EVENTS.labels(type="unsubscribe", via=one_click.SOURCE).inc()
    return _page("You are unsubscribed", "<p>You will not be contacted again.</p>")
