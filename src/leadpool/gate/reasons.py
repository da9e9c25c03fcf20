"""The gate's answer: stable reason codes, their human sentences, and the decision shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# The order here is the order reasons are listed in a decision (who/what first, then the person,
# then volume, then time of day, then the gate itself).
REASON_CODES: tuple[str, ...] = (
    "agency_inactive",
    "campaign_not_active",
    "campaign_bounce_guard",
    "campaign_complaint_guard",
    "channel_not_in_campaign",
    "not_owned",
    "not_enrolled",
    "no_address",
    "email_unverified",
    "unsubscribed",
    "complained",
    "email_bounced",
    "erased",
    "blocklisted",
    "domain_blocked",
    "no_consent",
    "replied",
    "cooling",
    "paused_ooo",
    "converted",
    "rest_period",
    "company_paused",
    "lead_daily_cap",
    "lead_weekly_cap",
    "company_daily_cap",
    "company_weekly_cap",
    "sender_daily_cap",
    "sender_weekly_cap",
    "sender_paused",
    "sender_not_owned",
    "agency_daily_cap",
    "quiet_hours",
    "unknown_timezone",
    "gate_error",
)
_ORDER = {code: i for i, code in enumerate(REASON_CODES)}

# One line per code for documentation and `leadpool send reasons`; the sentence inside a decision
# is more specific (it names the counts, dates and zone that applied).
REASON_SUMMARIES: dict[str, str] = {
    "agency_inactive": "The campaign's agency is not active (cancelled).",
    "campaign_not_active": "The campaign is not active (draft, paused or finished) or does not exist.",
    "campaign_bounce_guard": "The campaign was paused by the bounce guard until the agency resumes it.",
    "campaign_complaint_guard": "The campaign was paused by the complaint guard (spam reports) until the agency resumes it.",
    "channel_not_in_campaign": "The campaign does not use this channel.",
    "not_owned": "The lead is not owned by the campaign's agency (or does not exist).",
    "not_enrolled": "The lead has no active enrollment in this campaign.",
    "no_address": "The lead has no address for this channel (email, LinkedIn URL or phone).",
    "email_unverified": "The email's status is not one the policy allows (default: verified only).",
    "unsubscribed": "The person unsubscribed: nobody contacts them again on any channel.",
    "complained": "The person complained (spam report): nobody contacts them again on any channel.",
    "email_bounced": "The lead's current email address hard-bounced (nobody emails it again), or a bounce said its domain accepts no mail (nobody emails an address there until that ends).",
    "erased": "The person's data was erased on request.",
    "blocklisted": "The person is on the platform blocklist.",
    "domain_blocked": "The lead's email or company domain is on the platform's or the agency's blocked domains.",
    "no_consent": "The lead's country needs the person's consent for this channel (policy consent_required) and the agency holds none that is live.",
    "replied": "The person replied (or said wrong person): automated touches stop everywhere.",
    "cooling": "The person said not interested: no agency may contact them until the cooling ends.",
    "paused_ooo": "The person is out of office: automation is paused until the return date.",
    "converted": "The lead converted: it stays with its agency and automation stops.",
    "rest_period": "The lead's last enrollment ended without a reply: no campaign may touch it until the rest ends.",
    "company_paused": "A colleague at the lead's company replied or opted out: automated touches wait.",
    "lead_daily_cap": "The lead has had its touches for its local calendar day (all agencies/channels).",
    "lead_weekly_cap": "The lead has had its touches for the rolling 7 days (all agencies/channels).",
    "company_daily_cap": "The lead's company has had its touches for the day across its people.",
    "company_weekly_cap": "The lead's company has had its touches for the rolling 7 days (all agencies/channels).",
    "sender_daily_cap": "The sender (mailbox, LinkedIn account, number) has reached its daily cap.",
    "sender_weekly_cap": "The sender has reached its cap for the rolling 7 days (default: a LinkedIn account 100).",
    "sender_paused": "The sender (or its sending domain) was paused by a sender guard (its hard bounces, spam complaints or policy blocks passed their limit).",
    "sender_not_owned": "The sender (or its sending domain) belongs to another agency; over the API a campaign sends only from its own agency's accounts.",
    "agency_daily_cap": "The agency has reached its daily cap for this channel.",
    "quiet_hours": "Outside the channel's send window in the lead's time zone.",
    "unknown_timezone": "SMS and phone need the lead's time zone, and it is not known.",
    "gate_error": "The gate could not decide (internal error or database unavailable); fail closed.",
}

Verdict = Literal["allow", "deny"]


@dataclass(frozen=True)
class Reason:
    """One reason a check was denied: a stable code, a sentence, and when it may pass again."""

    code: str
    message: str
    retry_after: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "retry_after": self.retry_after.isoformat() if self.retry_after else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reason:
        ra = d.get("retry_after")
        return cls(
            code=str(d["code"]),
            message=str(d["message"]),
            retry_after=datetime.fromisoformat(ra) if ra else None,
        )


@dataclass
class GateDecision:
    """The gate's answer to one check."""

    decision: Verdict
    reasons: list[Reason] = field(default_factory=list)
    touch_id: int | None = None
    decision_id: int | None = None
    replayed: bool = False  # True when an idempotency key returned an earlier decision

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    @property
    def retry_after(self) -> datetime | None:
        """When every reason of a deny has passed (the latest of theirs); None when one of them
        never passes by itself (an opt-out, a reply, not owned...) or for an allow."""
        times = [r.retry_after for r in self.reasons]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def as_dict(self) -> dict[str, Any]:
        retry = self.retry_after
        return {
            "decision": self.decision,
            "retry_after": retry.isoformat() if retry else None,
            "reasons": [r.as_dict() for r in self.reasons],
            "touch_id": self.touch_id,
            "decision_id": self.decision_id,
            "replayed": self.replayed,
        }


def sort_reasons(reasons: list[Reason]) -> list[Reason]:
    return sorted(reasons, key=lambda r: _ORDER[r.code])


def gate_error(message: str) -> GateDecision:
    """The fail-closed answer."""
    return GateDecision("deny", [Reason("gate_error", message)])
