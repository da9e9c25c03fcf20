"""Upgrading must leave every stored sender in the spelling the running code gives it (0017, then 0021).

The point of 0017 (its docstring): a mailbox that spent its daily cap as ``Anna@Agency.com`` before
the upgrade must not get a second cap as the spelling ``normalize_sender`` produces afterwards, and
its policy blocks must count together. The migration re-implements ``normalize_sender``
(``str.strip()`` + ``str.lower()``) in SQL as ``btrim(s, ' \\t\\n\\r\\f\\v')`` + ``lower(s)``, which
are not the same function: Python strips every Unicode whitespace character (a no-break space from
a spreadsheet, an ideographic space from a Japanese IME), and PostgreSQL's ``lower()`` on a
database whose LC_CTYPE is ``C`` only lower-cases ASCII. For those senders the rows stored before
the upgrade keep a spelling that no check made afterwards will ever use again.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.migrations_data._scratch import scratch_db

from leadpool.db.migrate import upgrade
from leadpool.gate.request import normalize_sender

BEFORE = "0016_scale_indexes"

CASES = [
    # (id, sender as the previous release stored it, CREATE DATABASE options)
    ("no-break-space", "Anna@Agency.com\u00a0", ""),
    ("ideographic-space", "\u3000Anna@Agency.com", ""),
    (
        "c-ctype-database",
        "ÄNNA@BÜRO.DE",
        "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
    ),
]


@pytest.mark.parametrize(("stored", "options"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_0017_stores_the_same_sender_spelling_as_normalize_sender(
    database_uri: str, stored: str, options: str
) -> None:
    canonical = normalize_sender(stored)  # what every check after the upgrade stores and looks up
    assert canonical != stored
    with scratch_db(database_uri, BEFORE, create_options=options) as db:
        with db.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO touches (lead_id, agency_id, campaign_id, channel, sender, state, at, local_date) "
                    "VALUES (1, 1, 1, 'email', :s, 'sent', '2025-01-06 10:00+00', '2025-01-06')"
                ),
                {"s": stored},
            )
            c.execute(
                text(
                    "INSERT INTO decisions (channel, sender, allowed, reasons) VALUES ('email', :s, true, '[]')"
                ),
                {"s": stored},
            )
            c.execute(
                text(
                    "INSERT INTO events (type, occurred_at, source, provider_event_id, sender) "
                    "VALUES ('reply', '2025-01-06 11:00+00', 'smartlead', 'r-1', :s)"
                ),
                {"s": stored},
            )
            # the cap the mailbox spent before the upgrade, and one row already in the new spelling
            c.execute(
                text(
                    "INSERT INTO gate_counters (scope, key, day, n) VALUES "
                    "('sender', :old, '2025-01-06', 3), ('sender', :new, '2025-01-06', 1)"
                ),
                {"old": f"email:{stored}", "new": f"email:{canonical}"},
            )

        upgrade(db)  # to head, as `leadpool db upgrade` does

        with db.engine.connect() as c:
            senders = {
                t: c.execute(text(f"SELECT sender FROM {t}")).scalar_one()
                for t in ("touches", "decisions", "events")
            }
            counters = [
                tuple(r)
                for r in c.execute(text("SELECT key, n FROM gate_counters WHERE scope = 'sender'")).all()
            ]
    assert senders == {"touches": canonical, "decisions": canonical, "events": canonical}
    # one cap per mailbox: the rows merged and summed under the key the gate now reads
    assert counters == [(f"email:{canonical}", 4)]
