"""How long the gate keeps its denials, from ``LEADPOOL_RETENTION_*`` (``leadpool.gate.retention``).

Not ``LEADPOOL_GATE_*``: every variable of that prefix is a field of the gate's policy
(``leadpool.gate.policy``), which refuses names it does not know, so an extra one there would
deny every check with ``gate_error`` in any process whose policy does not skip it (a release
before this one, during a rolling deploy). Retention is also no rule of the gate an agency or
campaign could override, which everything under that prefix is.

| variable | meaning |
|---|---|
| ``LEADPOOL_RETENTION_DENIALS_DAYS`` | denied decisions older than this are deleted daily, default 90 (30 to 3650) |
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The dashboard charts (and counts by code) the 30 days of decisions up to a scope's latest one:
# with less, its older days would show allows without their denials, an answer that looks
# better than it was. A shorter cut is for a person's one run (``MIN_DAYS``), not the daily job.
MIN_SETTING_DAYS = 30
# A run by hand may cut down to a week: well past any retry of one request under its idempotency
# key (the longest documented retry window we rely on is 72 h: SendGrid's deferred mail and its
# Inbound Parse retries), and a week of denials still answers "why was this not sent last week".
MIN_DAYS = 7
# ten years; a bound so a slip of the keyboard is an error, not an overflow of the date
MAX_DAYS = 3650


class RetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPOOL_RETENTION_", extra="ignore")

    denials_days: int = Field(
        90,
        description=f"Denied gate decisions older than this many days are deleted by a daily job "
        f"({MIN_SETTING_DAYS} to {MAX_DAYS}; the dashboard charts 30 days). Allowed decisions are kept "
        "as long as their touches, for ever; a pruned denial's idempotency key is forgotten.",
    )

    @field_validator("denials_days")
    @classmethod
    def _window(cls, v: int) -> int:
        if v < MIN_SETTING_DAYS:
            raise ValueError(
                f"at least {MIN_SETTING_DAYS} days (the dashboard charts the last 30 days of decisions; "
                f"got {v}); for a shorter cut once, leadpool send prune-decisions --older-than-days N "
                f"takes down to {MIN_DAYS}"
            )
        if v > MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days (got {v})")
        return v


def get_retention_settings() -> RetentionSettings:
    """Fresh each call: read once per run of the job or the command."""
    return RetentionSettings()
