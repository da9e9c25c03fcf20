"""Event policy: cooling, bounce thresholds, the campaign, sender and sending-domain guards, dead
domains, how long a reply pauses colleagues.

Read from ``LEADPOOL_EVENTS_*`` (e.g. ``LEADPOOL_EVENTS_COOLING_DAYS=180``) by ``get_event_settings``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EventSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADPOOL_EVENTS_", extra="ignore")

    cooling_days: int = Field(365, ge=1, description="Cooling after a not-interested reply, every agency.")
    ooo_default_days: int = Field(7, ge=1, description="Pause after an out-of-office with no return date.")
    ooo_max_days: int = Field(
        365, ge=1, description="A return date further away than this is ignored as a misreading."
    )
    soft_bounce_threshold: int = Field(3, ge=1, description="Soft bounces of one address that count as hard.")
    soft_bounce_window_days: int = Field(30, ge=1, description="...within this many days.")
    bounce_guard_rate: float = Field(
        0.03, gt=0, lt=1, description="Pause a campaign whose hard-bounce rate passes this."
    )
    bounce_guard_window: int = Field(
        200, ge=1, description="Measured over the campaign's last N email sends."
    )
    bounce_guard_min_sends: int = Field(50, ge=1, description="...once it has at least this many sends.")
    complaint_guard_rate: float = Field(
        0.003,
        gt=0,
        lt=1,
        description="Pause a campaign whose spam-complaint rate over the same window passes this "
        "(Gmail: never reach 0.3%).",
    )
    complaint_guard_min_complaints: int = Field(
        2, ge=1, description="...and only once it has at least this many complaints (one is no rate)."
    )
    sender_bounce_guard_rate: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="Pause an email sender (mailbox) whose hard-bounce rate over its last N sends (the "
        "bounce guard's window and minimum) passes this, until someone resumes it.",
    )
    sender_complaint_guard_rate: float = Field(
        0.001,
        gt=0,
        le=1,
        description="Pause an email sender (mailbox) whose spam-complaint rate over its last N sends passes "
        "this (Gmail/Yahoo: keep below 0.1%), once it has the complaint guard's minimum of complaints and "
        "the bounce guard's minimum of sends, until someone resumes it; 1 turns it off.",
    )
    sender_complaint_guard_window: int = Field(
        2000,
        ge=1,
        description="...measured over the sender's last N email sends; below the minimum of complaints "
        "divided by the rate (2 / 0.001 = 2000), any 2 complaints in the window pass the rate.",
    )
    sender_block_guard_count: int = Field(
        3, ge=1, description="Pause an email sender once it has this many policy blocks (SMTP 5.7.x)..."
    )
    sender_block_guard_hours: int = Field(
        24, ge=1, le=720, description="...within this many hours; the pause lasts as long after the last one."
    )
    sending_domain_guard_days: int = Field(
        7,
        ge=1,
        le=90,
        description="The sending-domain guard measures the email sends of the last this many days, all "
        "mailboxes of a sending domain together (the compliance reference: a complaint rate over 7 days).",
    )
    sending_domain_guard_min_sends: int = Field(
        200, ge=1, description="...once the domain has at least this many sends in that window."
    )
    sending_domain_bounce_guard_rate: float = Field(
        0.03,
        gt=0,
        le=1,
        description="Pause every mailbox of a sending domain whose hard-bounce rate over the window passes "
        "this (the reference: auto-pause a domain at 3%), until someone resumes it; 1 turns it off.",
    )
    sending_domain_complaint_guard_rate: float = Field(
        0.001,
        gt=0,
        le=1,
        description="...or whose spam-complaint rate passes this (the reference: a global stop at 0.1% "
        "over 7 days), with at least the complaint guard's minimum of complaints; 1 turns it off.",
    )
    dead_domain_days: int = Field(
        90,
        ge=0,
        le=3650,
        description="A hard bounce saying the recipient's domain accepts no mail (SMTP 5.1.2, 5.1.10) closes "
        "that domain to email, for every lead and agency, for this many days after the latest such bounce; "
        "0 turns it off.",
    )
    sender_claims: Literal["first_use", "operator"] = Field(
        "first_use",
        description="Who gives a sending account to an agency: first_use, the first reserving check over "
        "the API naming it claims it for its campaign's agency; operator, only an operator (leadpool send "
        "claim-sender): an API check naming an account that was neither given to its agency nor marked "
        "shared is denied sender_not_owned.",
    )
    company_pause_reply_days: int = Field(
        14, ge=0, description="An interested or neutral reply pauses the replier's colleagues, every agency."
    )
    company_pause_not_interested_days: int = Field(
        90, ge=0, description="A not-interested reply pauses the replier's colleagues, every agency."
    )
    company_pause_opt_out_days: int = Field(
        30, ge=0, description="An unsubscribe or complaint pauses the person's colleagues, every agency."
    )


@lru_cache(maxsize=1)
def get_event_settings() -> EventSettings:
    return EventSettings()
