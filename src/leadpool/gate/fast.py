"""The single check's fast path: one call to ``gate_fast_check`` (migration 0009) on the server.

A clean allow (the common answer) is decided, reserved and recorded in that one statement. Any
other answer (a reason applies, a counter at its cap, a replayed idempotency key, a campaign whose
policy this process has not resolved yet) comes back empty, having written nothing, and the full
check decides in the same transaction: it finds every reason, words it and counts exactly. The
fast path therefore never allows what the full check would deny; the model test drives both.

The policy is resolved and validated in Python by the full check, which leaves it here keyed by
campaign with a stamp of the settings it came from; the function compares the stamp with the
current settings, so an agency or campaign whose settings changed falls back until resolved again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadpool.gate import caps
from leadpool.gate.policy import GatePolicy, platform_policy
from leadpool.gate.request import sender_key

if TYPE_CHECKING:
    from psycopg import Connection as PgConnection

# Called only in a READ COMMITTED transaction: the function counts touches after taking the lead's
# lock, which needs each statement's own snapshot. The condition has no column in it, so the plan
# tests it once before the call and never makes the call when it fails: then nothing comes back
# and the full check refuses to decide (batch.py).
_SQL = (
    "SELECT touch_id, decision_id FROM gate_fast_check(%s::bigint, %s::bigint, %s::text, %s::text, "
    "%s::timestamptz, %s::text, %s::bigint[], %s::text, %s::int, %s::int, %s::int, %s::int, %s::int, "
    "%s::int, %s::text[], %s::time, %s::time, %s::int[], %s::boolean, %s::int, %s::int, %s::bigint, "
    "%s::text[]) "
    "WHERE current_setting('transaction_isolation') = 'read committed'"
)


@dataclass(frozen=True)
class _Resolved:
    stamp: str
    platform: GatePolicy
    # channel -> the policy's arguments to gate_fast_check: those before the sender's lock, the last
    params: dict[str, tuple[tuple[Any, ...], str]]


_policies: dict[int, _Resolved] = {}


def _array(values: list[Any]) -> str:
    """A PostgreSQL array literal (the SQL casts it), made once per policy: psycopg's list
    adaptation inspects every element on every call (measured: a third of a fast allow's client
    CPU)."""
    return "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def settings_stamp(agency_settings_text: str | None, campaign_settings_text: str | None) -> str:
    """The stamp gate_fast_check computes from ``agencies.settings`` and ``campaigns.settings``."""
    # md5: a change detector, not a security control
    return hashlib.md5(f"{agency_settings_text or ''}|{campaign_settings_text or ''}".encode()).hexdigest()


def remember(campaign_id: int, stamp: str, policy: GatePolicy) -> None:
    """Keep the policy the full check resolved for a campaign, for the next fast checks."""
    current = _policies.get(campaign_id)
    platform = platform_policy()
    if current is not None and current.stamp == stamp and current.platform is platform:
        return
    params = {}
    for channel in ("email", "linkedin", "sms", "phone"):
        window = policy.window_for(channel)
        head = (
            stamp,
            policy.lead_daily_cap,
            policy.lead_weekly_cap,
            policy.company_daily_cap,
            policy.company_weekly_cap,
            policy.sender_cap(channel),
            policy.agency_daily_cap,
            _array(list(policy.allowed_email_statuses)),
            window.start.isoformat() if window else None,
            window.end.isoformat() if window else None,
            _array(sorted(window.days)) if window else None,
            channel in policy.timezone_required_channels,
            policy.reservation_ttl_seconds,
            policy.sender_weekly_cap(channel),
        )
        params[channel] = (head, _array(list(policy.consent_countries(channel))))
    if len(_policies) > 10_000:  # campaigns come and go; a process should not hold them all
        _policies.clear()
    _policies[campaign_id] = _Resolved(stamp, platform, params)


def try_allow(
    dbapi: PgConnection[Any],
    *,
    lead_id: int,
    campaign_id: int,
    channel: str,
    sender: str | None,
    at: datetime,
    idempotency_key: str | None,
) -> tuple[int, int] | None:
    """(touch id, decision id) of a clean allow with its reservation, or None: ask the full check."""
    resolved = _policies.get(campaign_id)
    if resolved is None or resolved.platform is not platform_policy():
        return None
    keys = [caps.lock_key("lead", lead_id)]
    if idempotency_key is not None:
        keys.append(caps.lock_key("idem", idempotency_key))
        keys.sort()
    head, consent = resolved.params[channel]
    # the sender's lock, keyed as the full check keys it (a hash of channel:sender): taken whether
    # this campaign caps the sender's week or not, so a capped check of the sender counts this one
    sender_lock = caps.lock_key("sender_week", sender_key(channel, sender)) if sender is not None else None
    with dbapi.cursor() as cur:
        cur.execute(
            _SQL,
            (
                lead_id,
                campaign_id,
                channel,
                sender,
                at,
                idempotency_key,
                _array(keys),
                *head,
                sender_lock,
                consent,
            ),
        )
        row = cur.fetchone()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])
