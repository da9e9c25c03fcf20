"""Number regions: where a lead's own country is unknown, its phone number's country stands in

The consent rule and the send windows of a lead without a zone read the lead's country
(``leads.country`` through ``country_names``). A lead whose country Apollo left out was treated as
needing no consent anywhere, though its number may say Germany (+49) or Canada (+1 416), where the
law asks for one: not failing closed. ``phone_prefix_regions`` holds, per number prefix, the
country libphonenumber places it in (a calling code one country uses; for a shared one, its main
country with the others' plain leading digits; per +1 area code its country; toll-free and
premium area codes none), and ``gate_fast_check`` now reads a lead's country as its own, else its
number's (the longest prefix wins) for both rules. A country the lead names always wins: a
person keeps a number when they move.

This recreates ``gate_fast_check`` (0039's function with the country read in two places; CREATE
OR REPLACE resets the function's settings, so 0023's are applied again).

Revision ID: 0040_number_regions
Revises: 0039_sending_domain_guard
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

from leadpool.gate.places import number_region_rows

revision = "0040_number_regions"
down_revision = "0039_sending_domain_guard"
branch_labels = None
depends_on = None

# 0023 puts the fast function in place with its settings (a module name starting with a digit)
_UTC = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")

# the lead's country code: its own, else its number's
_CODE = (
    "coalesce((SELECT cn.code FROM country_names cn WHERE cn.name = leadpool_country_key(l.country)),\n"
    "                     (SELECT pr.code FROM phone_prefix_regions pr\n"
    "                       WHERE pr.prefix = ANY (leadpool_phone_prefixes(l.phone))\n"
    "                       ORDER BY length(pr.prefix) DESC LIMIT 1))"
)
_CLOCKS_BEFORE = (
    "            AND (p_win_start IS NULL OR NOT EXISTS (SELECT 1 FROM country_names cn\n"
    "                 JOIN country_clocks cc ON cc.code = cn.code\n"
    "                 WHERE cn.name = leadpool_country_key(l.country)))))\n"
)
_CLOCKS_AFTER = (
    "            AND (p_win_start IS NULL OR NOT EXISTS (SELECT 1 FROM country_clocks cc\n"
    f"                 WHERE cc.code = {_CODE}))))\n"
)
_CONSENT_BEFORE = (
    "            OR NOT ('*' = ANY (p_consent) OR coalesce((SELECT cn.code FROM country_names cn\n"
    "                    WHERE cn.name = leadpool_country_key(l.country)) = ANY (p_consent), false))\n"
)
_CONSENT_AFTER = f"            OR NOT ('*' = ANY (p_consent) OR coalesce({_CODE} = ANY (p_consent), false))\n"


def _functions() -> tuple[str, str, str]:
    """(0039's function, this one, their signature)."""
    guard = importlib.import_module("leadpool.migrations.versions.0039_sending_domain_guard")
    _older, live, signature = guard._functions()  # the one live before this
    if live.count(_CLOCKS_BEFORE) != 1 or live.count(_CONSENT_BEFORE) != 1:
        raise RuntimeError("gate_fast_check is not the function this migration expects")
    return (
        live,
        live.replace(_CLOCKS_BEFORE, _CLOCKS_AFTER).replace(_CONSENT_BEFORE, _CONSENT_AFTER),
        signature,
    )


def upgrade() -> None:
    op.create_table(
        "phone_prefix_regions",
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_phone_prefix_regions")),
    )
    table = sa.table("phone_prefix_regions", sa.column("prefix", sa.Text()), sa.column("code", sa.Text()))
    op.bulk_insert(table, number_region_rows())
    _before, changed, signature = _functions()
    _UTC.recreate(changed, signature)


def downgrade() -> None:
    before, _changed, signature = _functions()
    _UTC.recreate(before, signature)
    op.drop_table("phone_prefix_regions")
