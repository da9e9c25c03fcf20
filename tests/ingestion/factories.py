"""Small Apollo-shaped people for ingestion tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from leadpool.db import Database


def person(n: int, **fields: Any) -> dict[str, Any]:
    """A small Apollo-shaped person; ``n`` makes ids, emails and LinkedIn slugs unique."""
    base: dict[str, Any] = {
        "id": f"p{n:023d}",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "name": f"First{n} Last{n}",
        "email": f"person{n}@company{n % 7}.example",
        "linkedin_url": f"http://www.linkedin.com/in/person-{n}",
        "title": "Engineer",
        "city": "Denver",
        "state": "Colorado",
        "country": "United States",
        "seniority": "senior",
        "email_status": "verified",
        "organization": {
            "id": f"o{n % 7:023d}",
            "name": f"Company {n % 7}",
            "primary_domain": f"company{n % 7}.example",
            "industry": "computer software",
        },
    }
    base.update(fields)
    return base


#: one person with no location, refreshed with one location after another by the zone tests
KIM = {"id": "apollo-kim", "first_name": "Kim", "email": "kim@example.com", "email_status": "verified"}


def zone_of(db: Database, lead_id: int) -> tuple[str | None, str | None]:
    """The lead's (time_zone, time_zone_source)."""
    with db.engine.connect() as c:
        row = c.execute(
            text("SELECT time_zone, time_zone_source FROM leads WHERE id = :i"), {"i": lead_id}
        ).one()
    return row[0], row[1]
