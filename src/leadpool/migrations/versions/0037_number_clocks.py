"""Number clocks: a text or call must be inside its window on the clock of the lead's number too

Quiet hours are the called party's local time (47 CFR 64.1200(c)(1)), and the compliance
reference has the gate resolve it "from the number and address". The gate read the address's
zone alone: a lead in Chicago with a Los Angeles number was texted at 09:00 Central, 07:00 on
the number's clock. ``phone_prefix_clocks`` holds, for every North American (+1) prefix
libphonenumber maps to time zones, one zone per clock of that prefix (the longest prefix of a
number wins, as libphonenumber reads it); a prefix on more than three clocks (+1
itself, toll-free ranges) says nothing about where the person is and holds none. Only +1: there a
mobile keeps its area code's region (libphonenumber types it fixed line or mobile, a geographic
number), and that is where quiet hours are law (the TCPA, Florida's and Oklahoma's); elsewhere a
mobile range names no place (libphonenumber gives it the whole country) and landlines are mostly
on one clock. A text or call is now allowed only while its window is open on the lead's zone and
on each of its number's clocks (fail closed); a lead without a zone is still denied
``unknown_timezone`` (a number does not stand in for an address).

This recreates ``gate_fast_check`` (0036's function with one condition more: on sms and phone, a
number whose clocks are not just the lead's zone goes to the full check; CREATE OR REPLACE resets
the function's settings, so 0023's are applied again) and adds ``leadpool_phone_prefixes(text)``,
the prefixes of an E.164 number longest first.

Revision ID: 0037_number_clocks
Revises: 0036_country_clocks
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

from leadpool.gate.places import number_clock_rows

revision = "0037_number_clocks"
down_revision = "0036_country_clocks"
branch_labels = None
depends_on = None

PHONE_PREFIXES = (
    "CREATE FUNCTION leadpool_phone_prefixes(phone text) RETURNS text[]\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT ARRAY(SELECT left(ltrim(phone, '+'), n)\n"
    "    FROM generate_series(least(length(ltrim(phone, '+')), 9), 1, -1) AS n) $fn$"
)

_ANCHOR = "       AND (p_win_start IS NULL OR (extract(isodow FROM lt.local)"
_NUMBER = (
    "       -- a text or call whose number keeps another clock than the lead's zone: full check\n"
    "       AND (p_channel NOT IN ('sms', 'phone') OR NOT EXISTS (SELECT 1 FROM (SELECT pc.zones\n"
    "                 FROM phone_prefix_clocks pc WHERE pc.prefix = ANY (leadpool_phone_prefixes(l.phone))\n"
    "                 ORDER BY length(pc.prefix) DESC LIMIT 1) n WHERE NOT n.zones <@ ARRAY[l.time_zone]))\n"
)


def _functions() -> tuple[str, str, str]:
    """(0036's function, this one, their signature)."""
    clocks = importlib.import_module("leadpool.migrations.versions.0036_country_clocks")
    _older, live, signature = clocks._functions()  # the one live before this
    if live.count(_ANCHOR) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return live, live.replace(_ANCHOR, _NUMBER + _ANCHOR), signature


def upgrade() -> None:
    op.create_table(
        "phone_prefix_clocks",
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("zones", sa.ARRAY(sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_phone_prefix_clocks")),
    )
    table = sa.table(
        "phone_prefix_clocks", sa.column("prefix", sa.Text()), sa.column("zones", sa.ARRAY(sa.Text()))
    )
    op.bulk_insert(table, number_clock_rows())
    op.execute(PHONE_PREFIXES)
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    _before, changed, signature = _functions()
    op.execute(changed)
    utc._settings(signature, utc=True)


def downgrade() -> None:
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    before, _changed, signature = _functions()
    op.execute(before)
    utc._settings(signature, utc=True)
    op.execute("DROP FUNCTION leadpool_phone_prefixes(text)")
    op.drop_table("phone_prefix_clocks")
