"""Scale checks without timing: what the statements a function runs read, and what they return.

``Capture`` records the driver-level statements (and parameters) a function runs; ``explain``
runs one of them again under EXPLAIN ANALYZE (rolled back) so a test can assert how many rows
the plan pulled out of a table. ``RowCounter`` records how many rows each statement handed back
to Python. Data is built with ``generate_series``, set-based, so tens of thousands of rows cost
a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import event, text

from leadpool.db import Database


@dataclass
class Tenant:
    agency_id: int
    campaign_id: int
    company_id: int
    lead_id: int


def tenant(db: Database, *, agencies: int = 1) -> Tenant:
    """``agencies`` agencies; the first has an active campaign and a lead it owns."""
    with db.engine.begin() as c:
        a = c.execute(text("INSERT INTO agencies (name) VALUES ('A0') RETURNING id")).scalar_one()
        c.execute(
            text("INSERT INTO agencies (name) SELECT 'A' || g FROM generate_series(1, :n) g"),
            {"n": agencies - 1},
        )
        camp = c.execute(
            text(
                "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
                "VALUES (:a, 'c', 'active', ARRAY['email','linkedin'], '{}'::jsonb, 100) RETURNING id"
            ),
            {"a": a},
        ).scalar_one()
        co = c.execute(
            text("INSERT INTO companies (domain, name) VALUES ('big.example', 'Big') RETURNING id")
        ).scalar_one()
        lead = c.execute(
            text(
                "INSERT INTO leads (email, company_id, time_zone, email_status) "
                "VALUES ('p@big.example', :co, 'America/New_York', 'verified') RETURNING id"
            ),
            {"co": co},
        ).scalar_one()
        c.execute(text("INSERT INTO ownerships (lead_id, agency_id) VALUES (:l, :a)"), {"l": lead, "a": a})
    return Tenant(a, camp, co, lead)


def campaign(db: Database, agency_id: int, name: str = "other") -> int:
    with db.engine.begin() as c:
        return int(
            c.execute(
                text(
                    "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
                    "VALUES (:a, :n, 'active', ARRAY['email'], '{}'::jsonb, 100) RETURNING id"
                ),
                {"a": agency_id, "n": name},
            ).scalar_one()
        )


def add_decisions(db: Database, *, lead_id: int, campaign_id: int, agency_id: int, n: int, days: int) -> None:
    """``n`` decisions (a third allowed, the rest denied ``cap_lead``) spread over ``days`` days."""
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, allowed, reasons) "
                "SELECT now() - (g % :days) * interval '1 day' - g * interval '1 second', :l, :c, :a, "
                "'email', g % 3 = 0, CASE WHEN g % 3 = 0 THEN '[]'::jsonb "
                'ELSE \'[{"code": "cap_lead"}]\'::jsonb END FROM generate_series(1, :n) g'
            ),
            {"l": lead_id, "c": campaign_id, "a": agency_id, "n": n, "days": days},
        )


def add_sent_emails(db: Database, w: Tenant, n: int) -> None:
    """``n`` sent email touches of the tenant's campaign, one a minute back from now."""
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO touches (lead_id, company_id, agency_id, campaign_id, channel, state, at, "
                "local_date, sent_at, provider_message_id) "
                "SELECT :l, :co, :a, :c, 'email', 'sent', now() - g * interval '1 minute', current_date, "
                "now() - g * interval '1 minute', 'msg-' || g FROM generate_series(1, :n) g"
            ),
            {"l": w.lead_id, "co": w.company_id, "a": w.agency_id, "c": w.campaign_id, "n": n},
        )


def add_leads(db: Database, n: int) -> None:
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO leads (email, seniority, email_status, linkedin_url, phone) "
                "SELECT 'p' || g || '@x.example', 'director', 'verified', "
                "'https://www.linkedin.com/in/p' || g, '+1212555' || lpad(g::text, 6, '0') "
                "FROM generate_series(1, :n) g"
            ),
            {"n": n},
        )


def analyze(db: Database) -> None:
    with db.engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


class Capture:
    """(statement, parameters) of everything run on the engine while active."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.calls: list[tuple[str, Any]] = []

    def __enter__(self) -> Self:
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def _on(self, conn: Any, cursor: Any, statement: str, parameters: Any, *a: Any) -> None:
        self.calls.append((statement, parameters))

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on)

    def one(self, needle: str) -> tuple[str, Any]:
        found = [c for c in self.calls if needle in c[0]]
        assert len(found) == 1, (needle, [c[0][:200] for c in self.calls])
        return found[0]


class RowCounter:
    """(statement, rows handed back to Python, parameters) of every statement that returns rows."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.calls: list[tuple[str, int, Any]] = []

    def __enter__(self) -> Self:
        event.listen(self.engine, "after_cursor_execute", self._on)
        return self

    def _on(self, conn: Any, cursor: Any, statement: str, parameters: Any, *a: Any) -> None:
        if cursor.description is not None:
            self.calls.append((statement, cursor.rowcount, parameters))

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "after_cursor_execute", self._on)

    def most_rows(self) -> int:
        return max((n for _, n, _ in self.calls), default=0)

    def largest_array(self) -> int:
        return max(
            (
                len(v)
                for _, _, p in self.calls
                if isinstance(p, dict)
                for v in p.values()
                if isinstance(v, list | tuple)
            ),
            default=0,
        )


def explain(db: Database, statement: str, parameters: Any) -> dict[str, Any]:
    """EXPLAIN ANALYZE a captured driver-level statement, in a transaction rolled back after."""
    with db.engine.connect() as c:
        raw = c.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters or None)
            row = cur.fetchone()
            assert row is not None
            doc = row[0]
        raw.rollback()
    if isinstance(doc, str):
        doc = json.loads(doc)
    return dict(doc[0])


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for p in plan.get("Plans", []):
        out += nodes(p)
    return out


def rows_read(plan_doc: dict[str, Any], relation: str) -> float:
    """Rows the plan pulled out of ``relation`` (scan output plus rows filtered out), all loops."""
    total = 0.0
    for n in nodes(plan_doc["Plan"]):
        if n.get("Relation Name") == relation:
            loops = float(n.get("Actual Loops", 1))
            total += (float(n.get("Actual Rows", 0)) + float(n.get("Rows Removed by Filter", 0))) * loops
    return total
