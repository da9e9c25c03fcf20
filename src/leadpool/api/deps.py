"""Request-scoped dependencies: the database session (the transaction boundary) and the caller."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from leadpool.api.auth import Principal, authenticate
from leadpool.api.throttle import FailedAuth
from leadpool.db import Database

_bearer = HTTPBearer(auto_error=False, description="The admin token or an agency API key.")


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def app_secret(request: Request) -> bytes:
    """The platform secret key of this app's settings, read once (it may live in a file)."""
    secret: bytes | None = getattr(request.app.state, "secret_key", None)
    if secret is None:
        secret = request.app.state.settings.resolved_secret_key()
        request.app.state.secret_key = secret
    return secret


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back if it raises.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client
    is never told "stored" about something whose commit failed.
    """
    session = database(request).sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def token_from(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return None


def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return authenticate_request(session, request, credentials)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "Only the platform admin token may do this.")
    return principal


def require_agency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.is_admin:
        raise HTTPException(403, "This endpoint acts for one agency; call it with that agency's API key.")
    return principal


Caller = Annotated[Principal, Depends(get_principal)]
AdminCaller = Annotated[Principal, Depends(require_admin)]
AgencyCaller = Annotated[Principal, Depends(require_agency)]


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def authenticate_request(
    session: Session, request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller, for routes that manage their own transaction (gate, webhooks)."""
    token = token_from(request, credentials)
    if not token:
        raise _unauthorized("A bearer token is required (Authorization: Bearer <token>).")
    address = client_address(request)
    throttle: FailedAuth = request.app.state.failed_auth
    wait = throttle.retry_after(session, address, token)
    if wait is not None:
        raise HTTPException(
            429,
            f"Too many invalid tokens from this address; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    principal = authenticate(session, token, request.app.state.admin_token)
    if principal is None:
        throttle.failed(session, address)
        raise _unauthorized("The bearer token is not valid.")
    throttle.succeeded(session, address, token)
    return principal


def client_address(request: Request) -> str:
    """The connection's peer, as the sign-in throttle keys it: an IPv6 client by its /64 (one
    subscriber's network: each host in it has its own address), anything that is not an IP
    address (a Unix socket's peer) by a short hash."""
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return (
            "unknown"
            if not host
            else "peer:" + hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        )
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
