"""Consents: where the law wants one, a touch needs the person's permission to the agency

Germany wants prior consent even for B2B email, Canada's CASL express or implied consent for
email and texts (the compliance reference). ``consents`` holds each permission (lead, agency,
channel or every channel, basis, source, evidence, validity, revocation); ``country_names`` maps
the spellings of a country ingestion reads (name, alpha-2, alpha-3, lower-case) to its alpha-2
code, so the gate reads a lead's jurisdiction from ``leads.country`` in SQL, through
``leadpool_country_key`` (lower-case, trimmed of the whitespace Python's ``str.strip`` trims).

This recreates ``gate_fast_check`` with one argument more (the countries where this channel needs
a consent under the campaign's policy; empty: none): a lead in one of them without a live consent
goes to the full check, which denies it ``no_consent``. A new signature, so the old function is
dropped; 0023's settings are applied to the new one. Downgrade refuses while consents are
held: they are the proof of what a person agreed to.

Revision ID: 0035_consents
Revises: 0034_sender_complaint_guard
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

from leadpool.gate.places import country_name_rows

revision = "0035_consents"
down_revision = "0034_sender_complaint_guard"
branch_labels = None
depends_on = None

# Python's whitespace (str.strip, which ingestion reads a country with): btrim alone strips spaces
# only, and "Germany\t" or a no-break space would make a German lead's country unknown
# (every character whose str.isspace() is true; a test checks the list against Python's own)
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
COUNTRY_KEY = (
    "CREATE FUNCTION leadpool_country_key(country text) RETURNS text\n"
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT lower(btrim(country, "
    + "'"
    + WHITESPACE
    + "')) $fn$"
)

_ANCHOR = "AND NOT EXISTS (SELECT 1 FROM company_pauses cp"
_CONSENT = (
    "AND (cardinality(p_consent) = 0\n"
    "            OR NOT ('*' = ANY (p_consent) OR coalesce((SELECT cn.code FROM country_names cn\n"
    "                    WHERE cn.name = leadpool_country_key(l.country)) = ANY (p_consent), false))\n"
    "            OR EXISTS (SELECT 1 FROM consents k WHERE k.lead_id = l.id AND k.agency_id = c.agency_id\n"
    "                    AND (k.channel IS NULL OR k.channel = p_channel) AND k.revoked_at IS NULL\n"
    "                    AND k.granted_at <= p_at AND (k.expires_at IS NULL OR k.expires_at > p_at)))\n"
    "       "
)
_EDITS = (
    (
        "p_sender_week int, p_sender_lock bigint,\n    OUT touch_id",
        "p_sender_week int, p_sender_lock bigint, p_consent text[],\n    OUT touch_id",
    ),
    (_ANCHOR, _CONSENT + _ANCHOR),
)


def _functions() -> tuple[str, str, str, str]:
    """(0031's function, this one, 0031's signature, this one's)."""
    weekly = importlib.import_module("leadpool.migrations.versions.0031_sender_weekly_caps")
    _older, live, _older_signature, signature = weekly._functions()  # the one live before this
    changed = live
    for old, new in _EDITS:
        if changed.count(old) != 1:
            raise RuntimeError("gate_fast_check is not the function this migration expects")
        changed = changed.replace(old, new)
    return live, changed, signature, signature.removesuffix(")") + ", text[])"


def upgrade() -> None:
    op.create_table(
        "country_names",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_country_names")),
    )
    names = sa.table("country_names", sa.column("name", sa.Text()), sa.column("code", sa.Text()))
    op.bulk_insert(names, country_name_rows())
    op.execute(COUNTRY_KEY)
    op.create_table(
        "consents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("agency_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('email', 'linkedin', 'sms', 'phone')",
            name=op.f("ck_consents_channel"),
        ),
        sa.CheckConstraint("basis IN ('express', 'implied')", name=op.f("ck_consents_basis")),
        sa.CheckConstraint("expires_at IS NULL OR expires_at > granted_at", name=op.f("ck_consents_expiry")),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_consents_agency_id_agencies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_consents_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_lead_agency", "consents", ["lead_id", "agency_id"])
    op.create_index("ix_consents_agency_id", "consents", ["agency_id"])
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    _before, changed, old_signature, signature = _functions()
    op.execute(f"DROP FUNCTION {old_signature}")
    op.execute(changed)
    utc._settings(signature, utc=True)


def downgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM consents")).scalar_one()
    if held:
        # they are the proof a touch was allowed: dropping them would lose it for good
        raise RuntimeError(
            f"0035 downgrade refused: consents holds {held} rows (the proof of permissions given); "
            "keep a dump of the table (pg_dump -t consents) and delete them first"
        )
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    before, _changed, old_signature, signature = _functions()
    op.execute(f"DROP FUNCTION {signature}")
    op.execute(before)
    utc._settings(old_signature, utc=True)
    op.drop_table("consents")
    op.execute("DROP FUNCTION leadpool_country_key(text)")
    op.drop_table("country_names")
