"""The rules that depend only on facts read in one snapshot: who, whom, which address, when.

Pure functions over plain data (no database), so they are tested on their own and the check
orchestration stays about locking and counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from leadpool.gate import windows
from leadpool.gate.policy import GatePolicy
from leadpool.gate.reasons import Reason


@dataclass
class Snapshot:
    """What one check needs to know about the lead, the campaign, its agency and the ownership."""

    lead_id: int
    campaign_id: int
    lead_exists: bool = False
    email: str | None = None
    email_status: str | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    time_zone: str | None = None
    time_zone_source: str | None = None  # "guess": the likeliest of several zones (see below)
    company_id: int | None = None
    replied_at: datetime | None = None
    converted_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    complained_at: datetime | None = None
    wrong_person_at: datetime | None = None
    email_bounced_at: datetime | None = None
    blocklisted_at: datetime | None = None
    erased_at: datetime | None = None
    cooling_until: datetime | None = None
    paused_until: datetime | None = None
    rest_until: datetime | None = None
    company_pause_until: datetime | None = None  # the longest pause not caused by this lead
    company_pause_kind: str | None = None
    company_pause_event_id: int | None = None
    sender_key: str | None = None  # channel:sender of the check, None without a sender
    sender_paused: bool = False  # a sender_pauses row exists (it may have ended: see until)
    sender_pause_until: datetime | None = None  # None: until someone resumes the sender
    sender_pause_reason: str | None = None
    blocked_domain: str | None = None  # a domain block that applies to the lead (the platform's first)
    blocked_by_agency: bool = False  # ...on the campaign's agency's own list
    # ISO alpha-2 of leads.country (country_names); where that is unknown, of the lead's number
    # (phone_prefix_regions: country_by_number); None: neither says
    country_code: str | None = None
    country_by_number: bool = False
    # when the lead has no zone: one zone per clock of its country (country_clocks), else empty
    country_zones: tuple[str, ...] = ()
    # a text or call: one zone per clock of the number's area (phone_prefix_clocks), else empty
    number_zones: tuple[str, ...] = ()
    # an email: the domain of the address a bounce said accepts no mail (dead_domains), until when
    dead_domain_until: datetime | None = None
    dead_domain_since: datetime | None = None
    dead_domain_status: str | None = None
    # the campaign's agency's unrevoked consents of the lead: (channel or None for all, from, until)
    consents: tuple[tuple[str | None, datetime, datetime | None], ...] = ()
    campaign_exists: bool = False
    agency_id: int | None = None
    campaign_status: str | None = None
    campaign_channels: tuple[str, ...] = ()
    paused_reason: str | None = None
    agency_status: str | None = None
    owner_agency_id: int | None = None
    owner_converted_at: datetime | None = None
    enrolled: bool = False


#: channels that reach the lead's number: their window is read on its area's clocks too
NUMBER_CHANNELS = ("sms", "phone")

#: ``leads.time_zone_source`` of a zone that is only the likeliest of several
#: (``leadpool.ingestion.timezone.GUESS``): kept for email hours, unknown where quiet hours are law
ZONE_GUESS = "guess"


@dataclass
class Placement:
    """Where a check sits in time for this lead: its zone, local day and the channel's window."""

    zone: ZoneInfo | None
    zone_known: bool
    local_date: date
    # the clocks a send window is read on: the lead's zone, and for a text or call the clocks of
    # its number's area (the called party's local time may be either); without a zone, every
    # clock of its country (the person is somewhere in it: fail closed); none known: UTC
    clocks: tuple[ZoneInfo, ...] = ()


def placement(snap: Snapshot, at: datetime, channel: str) -> Placement:
    zone = windows.zone_for(snap.time_zone)
    number: tuple[ZoneInfo, ...] = ()
    if zone is not None:
        clocks: tuple[ZoneInfo, ...] = (zone,)
        if channel in NUMBER_CHANNELS:
            number = tuple(z for z in map(windows.zone_for, snap.number_zones) if z is not None and z != zone)
    else:
        clocks = tuple(z for z in map(windows.zone_for, snap.country_zones) if z is not None)
    return Placement(zone, zone is not None, windows.local_date(at, zone), clocks + number)


def _address(snap: Snapshot, channel: str) -> str | None:
    if channel == "email":
        return snap.email
    if channel == "linkedin":
        return snap.linkedin_url
    return snap.phone


def campaign_reasons(
    campaign_id: int,
    agency_id: int | None,
    agency_status: str | None,
    campaign_status: str | None,
    paused_reason: str | None,
    channels: tuple[str, ...],
    channel: str,
) -> list[Reason]:
    """The reasons a campaign that exists cannot touch anyone on ``channel`` now (its agency's
    state, its own, its channels): facts about the caller's own campaign, never about the lead."""
    out: list[Reason] = []
    if agency_status != "active":
        out.append(Reason("agency_inactive", f"Agency {agency_id} is {agency_status}, not active."))
    if campaign_status == "paused" and paused_reason == "campaign_bounce_guard":
        out.append(
            Reason(
                "campaign_bounce_guard",
                f"Campaign {campaign_id} was paused by the bounce guard (too many hard bounces "
                "in its recent email sends); it stays paused until the agency resumes it.",
            )
        )
    elif campaign_status == "paused" and paused_reason == "campaign_complaint_guard":
        out.append(
            Reason(
                "campaign_complaint_guard",
                f"Campaign {campaign_id} was paused by the complaint guard (too many spam reports "
                "in its recent email sends); it stays paused until the agency resumes it.",
            )
        )
    elif campaign_status != "active":
        out.append(
            Reason(
                "campaign_not_active",
                f"Campaign {campaign_id} is {campaign_status}, not active.",
            )
        )
    if channel not in channels:
        used = ", ".join(channels) or "none"
        out.append(
            Reason(
                "channel_not_in_campaign",
                f"Campaign {campaign_id} does not use {channel} (its channels: {used}).",
            )
        )
    return out


def static_reasons(
    snap: Snapshot, channel: str, policy: GatePolicy, at: datetime, place: Placement
) -> list[Reason]:
    """Every reason that does not depend on counting touches."""
    out: list[Reason] = []
    if not snap.campaign_exists:
        out.append(Reason("campaign_not_active", f"Campaign {snap.campaign_id} does not exist."))
    else:
        out += campaign_reasons(
            snap.campaign_id,
            snap.agency_id,
            snap.agency_status,
            snap.campaign_status,
            snap.paused_reason,
            snap.campaign_channels,
            channel,
        )
    if not snap.lead_exists:
        out.append(Reason("not_owned", f"Lead {snap.lead_id} does not exist in the pool."))
        out.append(Reason("not_enrolled", f"Lead {snap.lead_id} does not exist in the pool."))
        return out
    if not snap.campaign_exists:
        # no campaign, so no agency to own it: say that, not "owned by another agency"
        out.append(
            Reason("not_owned", f"Lead {snap.lead_id} cannot be owned by a campaign that does not exist.")
        )
    elif snap.owner_agency_id is None or snap.owner_agency_id != snap.agency_id:
        whom = "no agency" if snap.owner_agency_id is None else "another agency"
        out.append(
            Reason("not_owned", f"Lead {snap.lead_id} is owned by {whom}, not by the campaign's agency.")
        )
    if not snap.enrolled:
        out.append(
            Reason(
                "not_enrolled",
                f"Lead {snap.lead_id} has no active enrollment in campaign {snap.campaign_id}.",
            )
        )
    if _address(snap, channel) is None:
        what = {"email": "email address", "linkedin": "LinkedIn URL"}.get(channel, "phone number")
        out.append(Reason("no_address", f"Lead {snap.lead_id} has no {what} for {channel}."))
    elif channel == "email" and (snap.email_status or "").lower() not in policy.allowed_email_statuses:
        allowed = ", ".join(policy.allowed_email_statuses) or "none"
        out.append(
            Reason(
                "email_unverified",
                f"The email's status is {snap.email_status or 'unknown'}; this campaign emails only: {allowed}.",
            )
        )
    if snap.unsubscribed_at is not None:
        out.append(Reason("unsubscribed", f"The person unsubscribed on {snap.unsubscribed_at:%Y-%m-%d}."))
    if snap.complained_at is not None:
        out.append(
            Reason("complained", f"The person complained (spam report) on {snap.complained_at:%Y-%m-%d}.")
        )
    if channel == "email" and snap.email_bounced_at is not None:
        out.append(
            Reason(
                "email_bounced", f"The lead's email address hard-bounced on {snap.email_bounced_at:%Y-%m-%d}."
            )
        )
    elif (
        channel == "email"
        and snap.email
        and snap.dead_domain_until is not None
        and snap.dead_domain_until > at
    ):
        # one reason per code: the address's own bounce never passes, so it alone is said above
        since = snap.dead_domain_since or snap.dead_domain_until
        out.append(
            Reason(
                "email_bounced",
                f"Mail to {snap.email.rpartition('@')[2]} bounced as a domain that accepts no mail "
                f"({snap.dead_domain_status}, {since:%Y-%m-%d}); no address at it is emailed until "
                f"{snap.dead_domain_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
                snap.dead_domain_until,
            )
        )
    if snap.erased_at is not None:
        out.append(Reason("erased", f"The person's data was erased on {snap.erased_at:%Y-%m-%d}."))
    if snap.blocklisted_at is not None:
        out.append(
            Reason(
                "blocklisted",
                f"The person was put on the platform blocklist on {snap.blocklisted_at:%Y-%m-%d}.",
            )
        )
    if snap.blocked_domain is not None:
        whose = "the agency's" if snap.blocked_by_agency else "the platform's"
        out.append(
            Reason(
                "domain_blocked",
                f"The lead is at {snap.blocked_domain}, on {whose} list of domains nobody contacts.",
            )
        )
    out.extend(consent_reasons(snap, channel, policy, at))
    if snap.replied_at is not None or snap.wrong_person_at is not None:
        if snap.wrong_person_at is not None:
            msg = f"The reply on {snap.wrong_person_at:%Y-%m-%d} said wrong person; automation stops."
        else:
            assert snap.replied_at is not None
            msg = f"The person replied on {snap.replied_at:%Y-%m-%d}; automated touches stop everywhere."
        out.append(Reason("replied", msg))
    if snap.cooling_until is not None and snap.cooling_until > at:
        out.append(
            Reason(
                "cooling",
                f"The person said not interested; no agency may contact them until "
                f"{snap.cooling_until:%Y-%m-%d}.",
                snap.cooling_until,
            )
        )
    if snap.paused_until is not None and snap.paused_until > at:
        out.append(
            Reason(
                "paused_ooo",
                f"The person is out of office; automation is paused until {snap.paused_until.isoformat()}.",
                snap.paused_until,
            )
        )
    if snap.converted_at is not None or snap.owner_converted_at is not None:
        out.append(Reason("converted", "The lead converted; it stays with its agency and automation stops."))
    out.extend(memory_reasons(snap, at))
    out.extend(sender_reasons(snap, at))
    out.extend(time_reasons(snap, channel, policy, at, place))
    return out


def consent_reasons(snap: Snapshot, channel: str, policy: GatePolicy, at: datetime) -> list[Reason]:
    """no_consent: the lead's country wants the person's permission for this channel and the
    campaign's agency holds none that is live at ``at``."""
    countries = policy.consent_countries(channel)
    if not snap.campaign_exists or not ("*" in countries or snap.country_code in countries):
        return []
    mine = [(start, end) for ch, start, end in snap.consents if ch is None or ch == channel]
    if any(start <= at and (end is None or end > at) for start, end in mine):
        return []
    if snap.country_code is None or (snap.country_by_number and "*" in countries):
        where = "any lead"
    elif snap.country_by_number:
        where = f"a lead in {snap.country_code} (its phone number's country; its own is unknown)"
    else:
        where = f"a lead in {snap.country_code}"
    later = [start for start, _end in mine if start > at]
    ended = [end for _start, end in mine if end is not None and end <= at]
    if later:
        held = f"; its consent starts {min(later).astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    elif ended:
        held = f"; its consent expired {max(ended).astimezone(UTC):%Y-%m-%d}"
    else:
        held = ", and it holds none (leadpool consent grant)"
    return [
        Reason(
            "no_consent",
            f"The policy wants the person's consent for {channel} to {where} (consent_required); "
            f"agency {snap.agency_id} has no live consent from lead {snap.lead_id}{held}.",
            min(later) if later else None,
        )
    ]


_PAUSE_CAUSE = {
    "interested": "replied (interested)",
    "other": "replied",
    "not_interested": "replied not interested",
    "unsubscribe": "unsubscribed",
    "complaint": "complained",
}


def memory_reasons(snap: Snapshot, at: datetime) -> list[Reason]:
    """rest_period and company_paused: what the pool remembers across enrollments and colleagues."""
    out: list[Reason] = []
    if snap.rest_until is not None and snap.rest_until > at:
        out.append(
            Reason(
                "rest_period",
                f"Lead {snap.lead_id}'s last enrollment ended without a reply; no campaign of any "
                f"agency may touch it until {snap.rest_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
                snap.rest_until,
            )
        )
    if snap.company_pause_until is not None and snap.company_pause_until > at:
        cause = _PAUSE_CAUSE.get(snap.company_pause_kind or "", "replied")
        out.append(
            Reason(
                "company_paused",
                f"A colleague at company {snap.company_id} {cause} (event {snap.company_pause_event_id}); "
                f"automated touches to its other people pause until "
                f"{snap.company_pause_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
                snap.company_pause_until,
            )
        )
    return out


_SENDER_GUARD = {
    "sender_bounce_guard": "its hard bounces passed the bounce guard's limit",
    "sender_complaint_guard": "recipients' spam complaints about its mail passed the complaint guard's limit",
    "sender_block_guard": "receiving servers refused its mail for policy reasons (SMTP 5.7.x blocks) too often",
    "domain_bounce_guard": "the hard bounces of its sending domain's mailboxes together passed the "
    "sending-domain guard's limit",
    "domain_complaint_guard": "recipients' spam complaints about its sending domain's mail passed the "
    "sending-domain guard's limit",
}


def sender_reasons(snap: Snapshot, at: datetime) -> list[Reason]:
    """sender_paused: the sending account's own health, whoever it sends to."""
    if not snap.sender_paused or (snap.sender_pause_until is not None and snap.sender_pause_until <= at):
        return []
    why = _SENDER_GUARD.get(snap.sender_pause_reason or "", "a sender guard paused it")
    resume = "leadpool send resume-sender"
    if (snap.sender_pause_reason or "").startswith("domain_") and snap.sender_key:
        resume += f" @{snap.sender_key.rpartition('@')[2]}"  # the domain's pause, not the mailbox's
    until = (
        f"until {snap.sender_pause_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        if snap.sender_pause_until is not None
        else f"until someone resumes it ({resume})"
    )
    return [
        Reason(
            "sender_paused",
            f"Sender {snap.sender_key} is paused: {why}; it sends nothing {until}.",
            snap.sender_pause_until,
        )
    ]


def time_reasons(
    snap: Snapshot, channel: str, policy: GatePolicy, at: datetime, place: Placement
) -> list[Reason]:
    """quiet_hours and unknown_timezone."""
    guessed = snap.time_zone_source == ZONE_GUESS
    if (not place.zone_known or guessed) and channel in policy.timezone_required_channels:
        if guessed:
            zone = (
                f"'{snap.time_zone}' is only the likeliest of the zones its location could be in "
                "(a city name without its state, or a state split between zones)"
            )
        elif snap.time_zone:
            zone = f"'{snap.time_zone}' is not a known time zone"
        else:
            zone = "the time zone is unknown"
        return [
            Reason(
                "unknown_timezone",
                f"{channel} needs the lead's local time and {zone}; quiet hours cannot be checked.",
            )
        ]
    window = policy.window_for(channel)
    if windows.open_on_all(window, at, place.clocks):
        return []
    assert window is not None
    opens = windows.next_open_on_all(window, at, place.clocks)
    if place.zone is not None and windows.is_open(window, at, place.zone):
        # open on the lead's own clock: closed on one of its number's
        closed = next(z for z in place.clocks if not windows.is_open(window, at, z))
        why = (
            f"Outside the {channel} send window ({window.describe()}) on the clock of the lead's "
            f"number ({closed.key}, where it is {at.astimezone(closed):%a %H:%M}), though open in "
            f"its own zone ({place.zone.key}): the called party's local time may be either"
            + ("." if opens is not None else "; no hour is inside the window on both.")
        )
    elif place.zone is not None or not place.clocks:
        zone_name = place.zone.key if place.zone else "UTC"
        why = (
            f"Outside the {channel} send window ({window.describe()} in {zone_name}); "
            f"it is {at.astimezone(place.zone or UTC):%a %H:%M} there."
        )
    else:
        closed = next(z for z in place.clocks if not windows.is_open(window, at, z))
        on_all = f"all {len(place.clocks)} clocks" if len(place.clocks) > 1 else "the clock"
        why = (
            f"Outside the {channel} send window ({window.describe()}): the lead's own time zone is "
            f"unknown, so the window must be open on {on_all} of {snap.country_code}, and it is "
            f"{at.astimezone(closed):%a %H:%M} in {closed.key}"
            + ("." if opens is not None else "; no hour is inside the window on all of them.")
        )
    return [Reason("quiet_hours", why, opens)]
