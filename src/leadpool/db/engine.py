"""Engines and the one place that decides which PostgreSQL the program talks to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
import sqlalchemy as sa
from psycopg.conninfo import conninfo_to_dict, timeout_from_conninfo
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from leadpool.config import Settings, get_settings
from leadpool.db import embedded
from leadpool.errors import InvalidInput


def _parsed(url: str) -> URL:
    try:
        return make_url(url)
    except ValueError:  # a port that is not a number; its message may quote any part of the URL
        raise InvalidInput(
            "LEADPOOL_DATABASE_URL is not a database URL: a part of it cannot be read (a port that "
            "is not a number?)"
        ) from None


def libpq_uri(url: str) -> str:
    """A URI psycopg and libpq accept (drops SQLAlchemy's ``+driver`` suffix); InvalidInput naming
    the setting when one of its options is not one libpq knows or has a value psycopg cannot read."""
    u = _parsed(url)
    bare = URL.create("postgresql", host=u.host, port=u.port, database=u.database, query=u.query)
    uri = bare.render_as_string()
    if u.username is not None:
        # SQLAlchemy leaves a space in the user or password raw, and libpq refuses a URI with one
        userinfo = quote(u.username, safe="")
        if u.password is not None:
            userinfo += ":" + quote(str(u.password), safe="")
        uri = uri.replace("://", f"://{userinfo}@", 1)
    try:
        # at connect time these are a ProgrammingError, the same as a bad statement's: a traceback
        timeout_from_conninfo(conninfo_to_dict(uri))
    except psycopg.ProgrammingError as e:  # names the option, or a connect_timeout's value
        raise InvalidInput(f"LEADPOOL_DATABASE_URL has an option libpq refuses: {e}") from None
    return uri


def display_uri(url: str) -> str:
    """The URI as shown to a person: its password masked."""
    return _parsed(url).render_as_string(hide_password=True)


def sqlalchemy_url(url: str) -> str:
    libpq_uri(url)  # its options checked
    u = _parsed(url)
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@dataclass
class Database:
    """A connection target: the SQLAlchemy engine plus the libpq URI for COPY, pgbench and the queue."""

    uri: str
    engine: Engine
    sessionmaker: sessionmaker[Session]

    @classmethod
    def from_uri(cls, uri: str, **engine_kwargs: object) -> Database:
        # Every guarantee taken under a lock (the gate counts a lead's touches after taking its
        # lock; allocation's conditional updates) needs each statement to see what committed
        # before it: a server, database or role default of repeatable read must not change that.
        engine_kwargs.setdefault("isolation_level", "READ COMMITTED")
        # an error's message (logged, or shown by a caller) must not carry the statement's values:
        # emails, phone numbers, reply text
        engine_kwargs.setdefault("hide_parameters", True)
        engine = sa.create_engine(
            sqlalchemy_url(uri),
            pool_pre_ping=True,
            **engine_kwargs,
        )
        return cls(
            uri=libpq_uri(uri), engine=engine, sessionmaker=sessionmaker(engine, expire_on_commit=False)
        )

    def dispose(self) -> None:
        self.engine.dispose()

    def limit_statements(self, seconds: float) -> None:
        """Have the server cancel any statement of this database's connections (a wait for a lock
        included) that runs past ``seconds``; 0 leaves them unlimited.

        A request stuck behind a lock otherwise holds its pooled connection, and its client, for
        as long as the lock's holder likes. Set by a committed SET on each new connection rather
        than a startup option, which connection poolers may refuse; connections already pooled are
        closed so none is left without it.
        """
        if seconds <= 0:
            return
        ms = max(1, round(seconds * 1000))

        def _set(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {ms}")
            dbapi_conn.commit()

        sa.event.listen(self.engine, "connect", _set)
        self.engine.dispose()


def resolve_uri(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded.server_uri(settings.resolved_home())


def open_database(settings: Settings | None = None, **engine_kwargs: object) -> Database:
    """Open the configured database (starting the embedded server when no URL is set)."""
    return Database.from_uri(resolve_uri(settings or get_settings()), **engine_kwargs)
