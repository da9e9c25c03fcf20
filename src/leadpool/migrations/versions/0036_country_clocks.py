"""Country clocks: a lead whose own zone is unknown is emailed only in hours open on every clock
of its country; a country on one clock gives its zone

A lead with a country but no city or state had no zone, and the gate read its email window in
UTC: 07:00-19:00 UTC is 02:00-14:00 in New York and 15:00-03:00 in Beijing. ``country_clocks``
holds, per country, one zone for each clock its places keep (``leadpool.ingestion.timezone.
country_clocks``); the gate now opens such a lead's window only while it is open in all of
them (fail closed: the person is somewhere in that country). Channels that need the lead's own
time (sms, phone) still deny ``unknown_timezone``.

This recreates ``gate_fast_check`` (0035's function with one condition more: a lead without a
zone whose country the table knows, on a channel with a window, goes to the full check, which
reads the window on each clock; CREATE OR REPLACE resets the function's settings, so 0023's are
applied again). Ingestion now also gives a country whose zone names all keep one clock its most
populous city's zone (Argentina's twelve names, Kazakhstan's seven), so the zones of leads
without one are resolved again.

Revision ID: 0036_country_clocks
Revises: 0035_consents
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

from leadpool.gate.places import country_clock_rows

revision = "0036_country_clocks"
down_revision = "0035_consents"
branch_labels = None
depends_on = None

_BEFORE = (
    "       -- a zone the list does not hold goes to the full check; no zone at all is read as UTC\n"
    "       AND (z.name IS NOT NULL OR (l.time_zone IS NULL AND NOT p_tz_required))\n"
)
_AFTER = (
    "       -- a zone the list does not hold goes to the full check; no zone at all is read as UTC,\n"
    "       -- unless the lead's country is known: the full check opens the window on all its clocks\n"
    "       AND (z.name IS NOT NULL OR (l.time_zone IS NULL AND NOT p_tz_required\n"
    "            AND (p_win_start IS NULL OR NOT EXISTS (SELECT 1 FROM country_names cn\n"
    "                 JOIN country_clocks cc ON cc.code = cn.code\n"
    "                 WHERE cn.name = leadpool_country_key(l.country)))))\n"
)


def _functions() -> tuple[str, str, str]:
    """(0035's function, this one, their signature)."""
    consents = importlib.import_module("leadpool.migrations.versions.0035_consents")
    _older, live, _older_signature, signature = consents._functions()  # the one live before this
    if live.count(_BEFORE) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return live, live.replace(_BEFORE, _AFTER), signature


def upgrade() -> None:
    op.create_table(
        "country_clocks",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("zone", sa.Text(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", "zone", name=op.f("pk_country_clocks")),
    )
    clocks = sa.table(
        "country_clocks",
        sa.column("code", sa.Text()),
        sa.column("zone", sa.Text()),
        sa.column("rank", sa.Integer()),
    )
    op.bulk_insert(clocks, country_clock_rows())
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    _before, changed, signature = _functions()
    op.execute(changed)
    utc._settings(signature, utc=True)
    guesses = importlib.import_module("leadpool.migrations.versions.0027_gate_zone_guesses")
    guesses._recompute_zones("time_zone IS NULL AND country IS NOT NULL")


def downgrade() -> None:
    # the zones resolved on the way up stay: they are right, and the older gate reads them as well
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    before, _changed, signature = _functions()
    op.execute(before)
    utc._settings(signature, utc=True)
    op.drop_table("country_clocks")
