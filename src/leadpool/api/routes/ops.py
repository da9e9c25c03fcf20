"""Ops: health and Prometheus metrics (no authentication, no personal data)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from leadpool import __version__
from leadpool.api.deps import database
from leadpool.api.metrics import render
from leadpool.api.problems import COMMON_RESPONSES
from leadpool.client.models import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health, responses={503: COMMON_RESPONSES[503]})
def healthz(request: Request) -> Health:
    """200 when the service can reach its database; 503 (problem+json) when it cannot."""
    with database(request).engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Health(status="ok", database="ok", version=__version__)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> Response:
    """Prometheus exposition format."""
    body, content_type = render()
    return Response(body, media_type=content_type)
