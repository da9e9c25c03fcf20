"""Sender weekly caps: a LinkedIn account sends at most so many touches in any rolling 7 days

LinkedIn publishes no limit; going over the one it applies restricts the account for about a
week, and practitioners keep a seat to about 80-100 invitations a week (the compliance
reference). A daily cap of 25 alone allows 175. The cap is lock + count, like the company's
rolling week: an advisory lock on the sender (after the company's, before the counter rows),
then a count of its live touches of the last 7 days (index ``ix_touches_sender_at``).

This recreates ``gate_fast_check`` with two arguments more (the channel's weekly cap, null for
none, and the sender's lock key, which Python computes as for the full check): a new signature,
so the old function is dropped; 0023's settings are applied to the new one.

Revision ID: 0031_sender_weekly_caps
Revises: 0030_reconcile_marks
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0031_sender_weekly_caps"
down_revision = "0030_reconcile_marks"
branch_labels = None
depends_on = None

_EDITS = (
    (
        "p_tz_required boolean, p_ttl_seconds int,\n    OUT touch_id",
        "p_tz_required boolean, p_ttl_seconds int,\n    p_sender_week int, p_sender_lock bigint,\n    OUT touch_id",
    ),
    (
        "OR p_agency_cap < 1 OR (p_sender IS NOT NULL AND p_sender_cap < 1) THEN",
        "OR p_agency_cap < 1 OR (p_sender IS NOT NULL AND (p_sender_cap < 1 OR p_sender_week < 1)) THEN",
    ),
    (
        "    IF NOT FOUND THEN\n        RETURN;\n    END IF;\n",
        (
            "    IF NOT FOUND THEN\n        RETURN;\n    END IF;\n"
            "    -- the sender's lock after the company's (whatever this campaign's weekly cap: a capped\n"
            "    -- check of the sender must count this one's touch), its week counted in the next statement\n"
            "    IF p_sender_lock IS NOT NULL THEN\n"
            "        PERFORM pg_advisory_xact_lock(p_sender_lock);\n"
            "    END IF;\n"
        ),
    ),
    (
        "    ), v(s, k, d, ord) AS (",
        (
            "    ), sweek AS (\n"
            "        SELECT count(*) AS n FROM touches t\n"
            "         WHERE p_sender IS NOT NULL AND p_sender_week IS NOT NULL\n"
            "           AND t.sender = p_sender AND t.channel = p_channel AND t.at > p_at - interval '7 days'\n"
            "           AND (t.state = 'sent' OR (t.state = 'reserved' AND t.expires_at > least(p_at, now())))\n"
            "    ), v(s, k, d, ord) AS ("
        ),
    ),
    (
        "WHERE v.k IS NOT NULL AND (SELECT week.n FROM week) < p_company_week",
        (
            "WHERE v.k IS NOT NULL AND (SELECT week.n FROM week) < p_company_week\n"
            "           AND (p_sender_week IS NULL OR (SELECT sweek.n FROM sweek) < p_sender_week)"
        ),
    ),
)


def _functions() -> tuple[str, str, str, str]:
    """(0029's function, this one, 0029's signature, this one's)."""
    blocks = importlib.import_module("leadpool.migrations.versions.0029_domain_blocks")
    _older, live, signature = blocks._functions()  # 0029's function, the one live before this
    changed = live
    for old, new in _EDITS:
        if changed.count(old) != 1:
            raise RuntimeError("gate_fast_check is not the function this migration expects")
        changed = changed.replace(old, new)
    return live, changed, signature, signature.removesuffix(")") + ", int, bigint)"


def upgrade() -> None:
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    _before, changed, old_signature, signature = _functions()
    op.execute(f"DROP FUNCTION {old_signature}")
    op.execute(changed)
    utc._settings(signature, utc=True)


def downgrade() -> None:
    utc = importlib.import_module("leadpool.migrations.versions.0023_gate_fast_utc")
    before, _changed, old_signature, signature = _functions()
    op.execute(f"DROP FUNCTION {signature}")
    op.execute(before)
    utc._settings(old_signature, utc=True)
