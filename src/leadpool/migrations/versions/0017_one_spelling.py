"""one spelling for what changed form: senders (trimmed, mailboxes lower-cased), Postmark bounce ids

Checks and events now name a sender as ``leadpool.gate.request.normalize_sender`` does. Touches,
decisions, events and counter rows stored before kept the caller's spelling, so on the day of the
upgrade a mailbox that had spent its daily cap as ``Anna@Agency.com`` would have been given a
second one as ``anna@agency.com``, and its policy blocks would have counted apart. Counter rows
that now share a key are merged by summing (a counter may over-count, never under-count).

Postmark bounce-family records are now keyed ``bounce:<ID>`` whatever their record type (the same
complaint arrives as both); stored ``Bounce:<ID>`` and ``SpamComplaint:<ID>`` ids are rewritten
so a provider's retry of an event stored before the upgrade is still a duplicate. Where both
spellings of one ID were stored (the double count this fixes), the second keeps its old id.

Revision ID: 0017_one_spelling
Revises: 0016_scale_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0017_one_spelling"
down_revision = "0016_scale_indexes"
branch_labels = None
depends_on = None

_WS = r"E' \t\n\r\f\v'"


def _norm(col: str) -> str:
    trimmed = f"btrim({col}, {_WS})"
    return f"CASE WHEN strpos({trimmed}, '@') > 0 THEN lower({trimmed}) ELSE {trimmed} END"


def statements() -> list[str]:
    """The upgrade's SQL (also run by the tests on data shaped as the previous release stored it)."""
    out: list[str] = []
    for table in ("touches", "decisions", "events"):
        out.append(
            f"UPDATE {table} SET sender = {_norm('sender')} WHERE sender IS DISTINCT FROM {_norm('sender')}"
        )
    rest = "substr(key, strpos(key, ':') + 1)"
    new_key = f"split_part(key, ':', 1) || ':' || {_norm(rest)}"
    out.append(
        f"""
        WITH moved AS (
            DELETE FROM gate_counters WHERE scope = 'sender' AND key <> {new_key}
            RETURNING scope, {new_key} AS key, day, n
        )
        INSERT INTO gate_counters AS g (scope, key, day, n)
        SELECT scope, key, day, sum(n) FROM moved GROUP BY scope, key, day
        ON CONFLICT (scope, key, day) DO UPDATE SET n = g.n + EXCLUDED.n
        """
    )
    id_part = "substr(provider_event_id, strpos(provider_event_id, ':') + 1)"
    out.append(
        f"""
        WITH legacy AS (
            SELECT id, 'bounce:' || {id_part} AS new_id,
                   row_number() OVER (PARTITION BY {id_part} ORDER BY id) AS n
            FROM events
            WHERE source = 'postmark'
              AND (provider_event_id LIKE 'Bounce:%' OR provider_event_id LIKE 'SpamComplaint:%')
        )
        UPDATE events e SET provider_event_id = l.new_id FROM legacy l
        WHERE e.id = l.id AND l.n = 1
          AND NOT EXISTS (SELECT 1 FROM events y WHERE y.source = 'postmark' AND y.provider_event_id = l.new_id)
        """
    )
    return out


def upgrade() -> None:
    for sql in statements():
        op.execute(sql)


def downgrade() -> None:
    # the old spellings are not known any more; normalised senders and ids work with the old code
    pass
