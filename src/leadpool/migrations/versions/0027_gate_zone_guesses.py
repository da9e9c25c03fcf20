"""A zone that is only a guess is no zone where quiet hours are law; stored guesses recomputed

Imports put a lead in the zone of the most populous place its location could name: Portland
without a state became Los Angeles, a town in a state split between zones took the state's big
city's zone (Ontario, Oregon: Pacific, though it keeps Mountain time). The gate then texted by
that guess: an SMS at 19:30 Pacific reached a Maine number at 22:30. Such zones are now stored
with ``time_zone_source = 'guess'`` (``leadpool.ingestion.timezone``), kept for an email's
working hours, and the gate treats them as unknown on the channels that need the lead's own
time (sms, phone: ``unknown_timezone``).

This recreates ``gate_fast_check`` (0023's function with one join condition more: a guessed
zone on a channel that needs one goes to the full check, which denies it; CREATE OR REPLACE
resets the function's settings, so 0023's are applied again) and recomputes the zones the
importer derived before (sources ``city`` and ``state``) with the new rules and each lead's
number.

Revision ID: 0027_gate_zone_guesses
Revises: 0026_previous_emails
"""

from __future__ import annotations

import importlib
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0027_gate_zone_guesses"
down_revision = "0026_previous_emails"
branch_labels = None
depends_on = None

_JOIN = "LEFT JOIN gate_time_zones z ON z.name = l.time_zone"
_JOIN_KNOWN = (
    "LEFT JOIN gate_time_zones z ON z.name = l.time_zone "
    "AND NOT (p_tz_required AND l.time_zone_source IS NOT DISTINCT FROM 'guess')"
)


def _functions() -> tuple[str, str, str]:
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    _older, live, signature = utc._functions()  # 0023's function, the one live before this
    if live.count(_JOIN) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return live, live.replace(_JOIN, _JOIN_KNOWN), signature


def _recompute_zones(which: str = "time_zone_source IN ('city', 'state')") -> None:
    """Resolve again, with each lead's number, the zones of the leads ``which`` names (SQL)."""
    conn = op.get_bind()
    last = 0
    resolve = None
    while True:  # a page of leads at a time: a large pool is never held in memory whole
        rows = conn.execute(
            sa.text(
                "SELECT id, city, state, country, phone, time_zone, time_zone_source FROM leads "
                f"WHERE {which} AND id > :last ORDER BY id LIMIT 5000"
            ),
            {"last": last},
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        if resolve is None:  # the geographic index is loaded only when a zone was derived
            from leadpool.ingestion.timezone import resolve_time_zone as resolve
        changed: dict[tuple[str | None, str | None], list[int]] = defaultdict(list)
        for lead_id, city, state, country, phone, zone, source in rows:
            new = resolve(None, city, state, country, phone)
            if new != (zone, source) and new[0] is not None:
                changed[new].append(lead_id)
        for (zone, source), ids in changed.items():
            conn.execute(
                sa.text("UPDATE leads SET time_zone = :z, time_zone_source = :s WHERE id = ANY(:ids)"),
                {"z": zone, "s": source, "ids": ids},
            )


def upgrade() -> None:
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    _before, changed, signature = _functions()
    op.execute(changed)
    utc._settings(signature, utc=True)
    _recompute_zones()


def downgrade() -> None:
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    before, _changed, signature = _functions()
    op.execute(before)
    utc._settings(signature, utc=True)
