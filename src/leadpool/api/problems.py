"""RFC 9457 problem details for every error the API returns.

Every error leaves the service as ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``; validation errors add ``errors`` naming each field and what is wrong
with it. Database failures map to statuses a client can act on: a value PostgreSQL refuses is
422, a constraint conflict 409, a lost connection, a lost lock wait (lock timeout, deadlock) or a
statement past the timeout 503, each with its own problem type.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadpool.config import settings_error_message
from leadpool.db.refusals import busy
from leadpool.errors import LeadpoolError

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    location: str
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


def _problem_doc(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}}}


def add_components(openapi: dict[str, Any]) -> dict[str, Any]:
    """Put Problem (and FieldError) in the OpenAPI components the error responses refer to."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components.update(defs)
    components["Problem"] = schema
    return openapi


# documented on every route so clients (and the schemathesis run) know every answer's shape
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_doc("Malformed request"),
    401: _problem_doc("Missing or unknown bearer token"),
    403: _problem_doc("The caller may not do this"),
    404: _problem_doc("Not found (or not visible to the caller)"),
    409: _problem_doc("Conflicts with the current state"),
    413: _problem_doc("Request body too large"),
    422: _problem_doc("Invalid input; `errors` names each field"),
    429: {
        **_problem_doc("Too many invalid bearer tokens from this address; wait and try again"),
        "headers": {
            "Retry-After": {
                "description": "Seconds until a sign-in is tried again",
                "schema": {"type": "integer"},
            }
        },
    },
    503: _problem_doc(
        "The database cannot be reached, is busy (a lock wait lost), or a statement ran past the API's timeout"
    ),
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    title: str | None = None,
    errors: list[FieldError] | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    body = Problem(
        type=type_,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
    )
    return ProblemResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=dict(headers) if headers else None
    )


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        location = loc[0] if loc else "body"
        # a body that is not JSON at all has the character position as its "field"
        path = location if err.get("type") == "json_invalid" else ".".join(loc[1:]) or location
        out.append(FieldError(field=path, location=location, message=str(err.get("msg", "invalid"))))
    return out


def database_unreachable(exc: BaseException) -> bool:
    """True when the error means the database could not serve the request (not a bad statement):
    it cannot be reached, or the request lost a lock wait or ran past the statement timeout."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


def _on_validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
    return problem(
        422, detail, type_="urn:leadpool:problem:validation", errors=errors, instance=request.url.path
    )


def _on_http(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, detail, instance=request.url.path, headers=exc.headers)


def _on_leadpool(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, LeadpoolError)
    status = exc.status_code if 400 <= exc.status_code <= 599 else 500
    return problem(status, exc.message, instance=request.url.path)


def _on_database(request: Request, exc: Exception) -> ProblemResponse:
    if isinstance(getattr(exc, "orig", None), pg_errors.QueryCanceled):
        _log.warning("statement cancelled on %s %s", request.method, request.url.path)
        return problem(
            503,
            "The database cancelled a statement of this request: it ran past the API's statement "
            "timeout (LEADPOOL_API_STATEMENT_TIMEOUT_SECONDS), waiting for a lock held elsewhere or "
            "working; nothing of it was stored. Retry later.",
            type_="urn:leadpool:problem:statement-timeout",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    what = busy(exc)  # a lock wait lost (a statement past the timeout was answered above)
    if what is not None:
        _log.warning("database busy (%s) on %s %s", what, request.method, request.url.path)
        return problem(
            503,
            f"The database is busy ({what}): another transaction held what this request needed; "
            "nothing of it was stored. Retry later.",
            type_="urn:leadpool:problem:database-busy",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    if database_unreachable(exc):
        _log.warning("database unreachable: %s", type(exc).__name__)
        return problem(
            503,
            "The database cannot be reached; retry later.",
            type_="urn:leadpool:problem:database-unavailable",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, sa_exc.IntegrityError):
        return problem(409, "The request conflicts with stored data.", instance=request.url.path)
    if isinstance(exc, sa_exc.DataError):
        return problem(422, "The database refused a value of this request.", instance=request.url.path)
    return _on_unexpected(request, exc)


def _on_settings(request: Request, exc: Exception) -> ProblemResponse:
    message = settings_error_message(exc)
    if message is None:
        return _on_unexpected(request, exc)
    _log.error("%s (on %s %s)", message, request.method, request.url.path)  # names, never values
    return problem(
        503,
        f"The service is misconfigured: {message}.",
        type_="urn:leadpool:problem:misconfigured",
        instance=request.url.path,
    )


def _on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Internal error.", instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(LeadpoolError, _on_leadpool)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _on_database)
    app.add_exception_handler(ValidationError, _on_settings)  # a settings model read per request
    app.add_exception_handler(SettingsError, _on_settings)
    app.add_exception_handler(Exception, _on_unexpected)
