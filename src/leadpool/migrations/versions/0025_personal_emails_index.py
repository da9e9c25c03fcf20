"""personal emails in the spelling events name them in, and indexed for them

An unsubscribe or complaint from one of a person's personal emails (the address Apollo lists
besides the work one) reached no lead until the person's next import: events looked leads up by
their current email, phone and LinkedIn URL only, and the personal emails were stored as they
came (``Jo.Home@Gmail.com``). Imports now store them normalised; this rewrites the rows already
stored the same way (the importer's normalisation at this revision, copied so a later change to
it cannot change what this migration did) and indexes the column for ``@>`` lookups.

An opt-out recorded before this upgrade still reaches such a lead at its next import (the
importer applies the suppressions of a person's own addresses), as it did.

Created plainly (migrations run in one transaction); on a large installation build the index
first with ``CREATE INDEX CONCURRENTLY`` under the same name and definition: this migration then
skips it (``IF NOT EXISTS``).

Revision ID: 0025_personal_emails_index
Revises: 0024_gate_zones_agree
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision = "0025_personal_emails_index"
down_revision = "0024_gate_zones_agree"
branch_labels = None
depends_on = None

_PLACEHOLDER = "email_not_unlocked@domain.com"


def _spell(value: str) -> str | None:
    """``leadpool.ingestion.normalize.normalize_email`` as of this revision; an address it refuses
    is kept as it was, the placeholder dropped."""
    email = value.strip().lower()
    if not email or email == _PLACEHOLDER:
        return None
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return value


def upgrade() -> None:
    conn = op.get_bind()
    last = 0
    while True:  # a page of leads at a time: a large pool is never held in memory whole
        rows = conn.execute(
            sa.text(
                "SELECT id, personal_emails FROM leads WHERE personal_emails IS NOT NULL AND id > :last "
                "ORDER BY id LIMIT 5000"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        changed = []
        for lead_id, emails in rows:
            spelled: list[str] = []
            for e in emails:
                s = _spell(e) if e is not None else None
                if s is not None and s not in spelled:
                    spelled.append(s)
            if spelled != emails:
                changed.append({"v": spelled or None, "id": lead_id})
        if changed:
            conn.execute(sa.text("UPDATE leads SET personal_emails = :v WHERE id = :id"), changed)
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_leads_personal_emails ON leads USING gin (personal_emails) "
        "WHERE personal_emails IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_leads_personal_emails")
