"""The scheme a TLS-terminating proxy on this host reports, and never the client address it claims.

uvicorn's own proxy handling (on by default) takes the client address from ``X-Forwarded-For``
when the peer is 127.0.0.1, and a proxy that passes the client's headers through (nginx does,
unless told to set the header) let any client name any address: the sign-in throttle's only key.
So the servers run with it off, and this middleware keeps its other use: a dashboard behind
``https://`` on a local proxy needs the request's scheme to be https (its same-site check compares
the form's Origin with it, and its cookie is then Secure). The address stays the connection's peer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = frozenset({"127.0.0.1", "::1"})
_SCHEMES = {b"http": "http", b"https": "https"}


class ForwardedProtoMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and client[0] in LOOPBACK:
            for name, value in scope.get("headers", ()):
                if name == b"x-forwarded-proto":
                    # the last hop's word: a list reads "client-said, proxy-said"
                    scheme = _SCHEMES.get(value.rpartition(b",")[2].strip().lower())
                    if scheme is not None:
                        scope = dict(scope, scheme=scheme)
                    break
        await self.app(scope, receive, send)
