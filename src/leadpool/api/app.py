"""The HTTP service: the REST API under ``/v1``, ops endpoints, and the dashboard at ``/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from leadpool import __version__
from leadpool.api import problems
from leadpool.api.auth import ADMIN_TOKEN_FILE, announce_admin_token, resolve_admin_token
from leadpool.api.limits import BodySizeLimitMiddleware
from leadpool.api.metrics import LatencyMiddleware
from leadpool.api.proxy import ForwardedProtoMiddleware
from leadpool.api.routes import ROUTERS
from leadpool.api.routes import companies as companies_routes
from leadpool.api.routes import enrollments as enrollments_routes
from leadpool.api.routes import insights as insights_routes
from leadpool.api.settings import ApiSettings
from leadpool.api.throttle import FailedAuth
from leadpool.config import Settings, check_settings, get_settings
from leadpool.dashboard.pages import router as dashboard_router
from leadpool.db import Database, open_database
from leadpool.insights.dashboard import router as insights_dashboard_router
from leadpool.startup import prepare_database


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    api_settings: ApiSettings | None = None,
    *,
    migrate: bool = True,
) -> FastAPI:
    """Build the app. With ``db`` given the caller owns it; otherwise the app opens the configured
    database on startup (applying migrations) and disposes of it on shutdown."""
    settings = settings or get_settings()
    api_settings = api_settings or ApiSettings()
    check_settings()
    admin_token, generated = resolve_admin_token(settings, api_settings)
    if generated:
        announce_admin_token(admin_token, str(settings.resolved_home() / ADMIN_TOKEN_FILE))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = db is None
        # requests run in a threadpool of 40: let a good share of them hold a connection at once
        database = db if db is not None else open_database(settings, pool_size=10, max_overflow=20)
        try:
            if owned and migrate:
                prepare_database(database)
            if owned:  # a database the caller gave is the caller's to configure
                database.limit_statements(api_settings.api_statement_timeout_seconds)
            app.state.db = database
            yield
        finally:
            if owned:
                database.dispose()

    app = FastAPI(
        title="leadpool",
        version=__version__,
        description=(
            "The lead pool service: one deduplicated pool of Apollo leads, exclusive ownership per "
            "agency, and the pre-send gate. Authenticate with `Authorization: Bearer <token>`: the "
            "platform admin token or an agency API key. Errors are RFC 9457 problem+json."
        ),
        lifespan=lifespan,
        # the interactive docs pages load their scripts from a CDN; the service uses none
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.api_settings = api_settings
    app.state.admin_token = admin_token
    app.state.failed_auth = FailedAuth(admin_token)
    if db is not None:
        app.state.db = db
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(insights_routes.router)
    app.include_router(insights_routes.campaign_router)
    app.include_router(companies_routes.router)
    app.include_router(enrollments_routes.router)
    app.include_router(dashboard_router)
    app.include_router(insights_dashboard_router)
    _document_problems(app)
    # outermost last: latency sees every answer, including a 413 from the size limit
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=api_settings.max_body_bytes)
    app.add_middleware(ForwardedProtoMiddleware)
    app.add_middleware(LatencyMiddleware)
    return app


def _document_problems(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.add_components(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (one app per worker process, settings from the env)."""
    return create_app()
