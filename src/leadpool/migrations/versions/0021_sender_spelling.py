"""senders stored in the spelling the running code gives them, computed by Python this time

0017 re-implemented ``normalize_sender`` (``str.strip()``, then ``str.lower()`` for a mailbox) in
SQL, and the two differ: ``btrim`` over six ASCII characters leaves the Unicode spaces Python
strips (a no-break space pasted from a spreadsheet, an ideographic space), and ``lower()`` on a
database whose LC_CTYPE is ``C`` lower-cases ASCII only. Rows stored before the upgrade kept a
spelling no later check uses: such a mailbox got a second daily cap, and its blocks counted apart.
This rewrites what is left with the Python function itself (its logic at this revision, copied so
a later change to it cannot change what this migration did), and merges sender counter rows.

Revision ID: 0021_sender_spelling
Revises: 0020_enrollments_by_agency
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_sender_spelling"
down_revision = "0020_enrollments_by_agency"
branch_labels = None
depends_on = None


def _spell(sender: str) -> str:
    """``leadpool.gate.request.normalize_sender`` as of this revision."""
    sender = sender.strip()
    return sender.lower() if "@" in sender else sender


def upgrade() -> None:
    conn = op.get_bind()
    for table in ("touches", "decisions", "events"):
        senders = conn.execute(
            sa.text(f"SELECT DISTINCT sender FROM {table} WHERE sender IS NOT NULL")
        ).scalars()
        for old, new in [(s, _spell(s)) for s in senders if _spell(s) != s]:
            conn.execute(
                sa.text(f"UPDATE {table} SET sender = :new WHERE sender = :old"), {"old": old, "new": new}
            )
    keys = conn.execute(sa.text("SELECT DISTINCT key FROM gate_counters WHERE scope = 'sender'")).scalars()
    for key in list(keys):
        channel, _, sender = key.partition(":")
        new_key = f"{channel}:{_spell(sender)}"
        if new_key == key:
            continue
        conn.execute(
            sa.text(
                """
                WITH moved AS (
                    DELETE FROM gate_counters WHERE scope = 'sender' AND key = :old RETURNING day, n
                )
                INSERT INTO gate_counters AS g (scope, key, day, n)
                SELECT 'sender', :new, day, n FROM moved
                ON CONFLICT (scope, key, day) DO UPDATE SET n = g.n + EXCLUDED.n
                """
            ),
            {"old": key, "new": new_key},
        )


def downgrade() -> None:
    # the old spellings are not known any more; normalised senders work with the old code
    pass
