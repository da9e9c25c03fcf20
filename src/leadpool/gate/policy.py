"""The gate's policy: validated settings with defaults from practice, merged in three levels.

platform (``LEADPOOL_GATE_*`` environment variables, or one JSON in ``LEADPOOL_GATE_POLICY``)
-> ``agencies.settings["gate"]`` -> ``campaigns.settings["gate"]``. Each level is a partial dict
deep-merged over the one before; the merged result is validated as a whole. The caps that protect
the person (lead and company caps) can only be lowered below the platform's value by an agency or
campaign: one agency's settings must not let it contact a person more than the platform allows.
Likewise the sms and phone send windows (legal quiet hours) can only narrow, and those channels
stay denied without a known time zone.
Every field and default is listed in docs/gate.md.
"""

from __future__ import annotations

import json
import os
from datetime import time
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadpool.errors import InvalidInput
from leadpool.gate.windows import WEEKDAYS, SendWindow

Channel = Literal["email", "linkedin", "sms", "phone"]
CHANNELS: tuple[str, ...] = ("email", "linkedin", "sms", "phone")
PERSON_CAPS = ("lead_daily_cap", "lead_weekly_cap", "company_daily_cap", "company_weekly_cap")
ENV_PREFIX = "LEADPOOL_GATE_"
_LIST_FIELDS = ("allowed_email_statuses", "timezone_required_channels", "days")
# caps are stored and compared in PostgreSQL int columns and arguments
_INT4 = 2**31 - 1
# the issue: verified only, unless a campaign allows guessed or extrapolated ("likely to engage"
# is Apollo's verified and recently active); never an address Apollo says is bad or unknown
EMAIL_STATUSES = ("verified", "likely to engage", "guessed", "extrapolated")
# Texts and calls have legal quiet hours (the reference: TCPA 08:00-21:00 in the person's own
# zone, some states 08:00-20:00) and fail closed on an unknown zone: below the platform, their
# windows may only narrow and they stay zone-required
LEGAL_WINDOW_CHANNELS = ("sms", "phone")
LEGAL_START, LEGAL_END = time(8, 0), time(21, 0)


class WindowSettings(BaseModel):
    """A send window: local wall-clock hours on some weekdays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(description="Local time the window opens (inclusive), HH:MM.")
    end: time = Field(description="Local time the window closes (exclusive), HH:MM; after start.")
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = Field(
        default=("mon", "tue", "wed", "thu", "fri"), min_length=1, description="Weekdays the window is open."
    )

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, v: time) -> time:
        # a window is the lead's own wall clock; an offset would mean another zone's
        if v.tzinfo is not None:
            raise ValueError("a local wall-clock time without a UTC offset (HH:MM)")
        return v

    def narrower_than(self, other: WindowSettings) -> bool:
        return self.start >= other.start and self.end <= other.end and set(self.days) <= set(other.days)

    @model_validator(mode="after")
    def _start_before_end(self) -> WindowSettings:
        if self.start >= self.end:
            raise ValueError(f"start {self.start:%H:%M} must be before end {self.end:%H:%M}")
        return self

    def window(self) -> SendWindow:
        return SendWindow(self.start, self.end, frozenset(WEEKDAYS.index(d) for d in self.days))


class SenderCaps(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: int = Field(50, ge=0, le=_INT4, description="Touches per mailbox per UTC day.")
    linkedin: int = Field(25, ge=0, le=_INT4, description="Touches per LinkedIn account per UTC day.")
    sms: int = Field(200, ge=0, le=_INT4, description="Texts per sending number per UTC day.")
    phone: int = Field(100, ge=0, le=_INT4, description="Calls per calling number per UTC day.")


class SenderWeeklyCaps(BaseModel):
    """Rolling-week caps per sender; null: none. LinkedIn publishes no limit, and going over the
    one it applies restricts the account for about a week: practitioners keep a seat to about
    80-100 invitations a week (the compliance reference), which 25 a day alone would not keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: int | None = Field(None, ge=0, le=_INT4, description="Touches per mailbox per rolling 7 days.")
    linkedin: int | None = Field(
        100, ge=0, le=_INT4, description="Touches per LinkedIn account per rolling 7 days."
    )
    sms: int | None = Field(None, ge=0, le=_INT4, description="Texts per sending number per rolling 7 days.")
    phone: int | None = Field(
        None, ge=0, le=_INT4, description="Calls per calling number per rolling 7 days."
    )


def _country_codes() -> frozenset[str]:
    from leadpool.ingestion.timezone import country_spellings  # what ingestion reads countries with

    return frozenset(country_spellings().values())


class ConsentRequired(BaseModel):
    """Per channel, the countries (ISO 3166 alpha-2, or ``*`` for every lead wherever it is) where
    a touch needs the person's consent to the campaign's agency (``leadpool consent grant``). A
    lead whose country is not known needs none unless the list holds ``*``. The defaults are the
    reference's: Germany wants prior consent even for B2B email (UWG), Canada's CASL express or
    implied consent for email and texts. An agency's or campaign's list adds to the one above it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: tuple[str, ...] = Field(("CA", "DE"), description="Countries where email needs a consent.")
    linkedin: tuple[str, ...] = Field((), description="Countries where LinkedIn needs a consent.")
    sms: tuple[str, ...] = Field(("CA",), description="Countries where texts need a consent.")
    phone: tuple[str, ...] = Field((), description="Countries where calls need a consent.")

    @field_validator("email", "linkedin", "sms", "phone", mode="before")
    @classmethod
    def _comma_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            if not v.strip():
                # an unset variable of a templated deployment, not a decision to ask for none
                raise ValueError("empty: give country codes (DE,CA), or [] to ask for consent nowhere")
            return v.split(",")
        return v

    @field_validator("email", "linkedin", "sms", "phone")
    @classmethod
    def _codes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(sorted({c.strip().upper() for c in v if c.strip()}))
        known = _country_codes()
        for code in out:
            if code != "*" and code not in known:
                hint = " (the United Kingdom is GB)" if code == "UK" else ""
                raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 country code{hint}, nor '*'")
        return ("*",) if "*" in out else out

    def union(self, above: ConsentRequired) -> ConsentRequired:
        """These countries and the level above's: an agency or campaign adds to the platform's
        list, never removes from it (and a country the platform adds later holds for it too)."""
        merged: dict[str, Any] = {}
        for channel in CHANNELS:
            both = set(getattr(self, channel)) | set(getattr(above, channel))
            merged[channel] = ("*",) if "*" in both else tuple(sorted(both))
        return ConsentRequired.model_validate(merged)


class Windows(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: WindowSettings | None = WindowSettings(start=time(7), end=time(19))
    linkedin: WindowSettings | None = None
    sms: WindowSettings | None = WindowSettings(start=time(9), end=time(20))
    phone: WindowSettings | None = WindowSettings(start=time(9), end=time(20))


class GatePolicy(BaseModel):
    """Every rule the gate applies that is not a fact about the lead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lead_daily_cap: int = Field(
        1,
        ge=0,
        le=_INT4,
        description="Touches per lead per local calendar day, all agencies/campaigns/channels.",
    )
    lead_weekly_cap: int = Field(
        3, ge=0, le=_INT4, description="Touches per lead per rolling 7 days, everything."
    )
    company_daily_cap: int = Field(
        2,
        ge=0,
        le=_INT4,
        description="Touches per company per day across its people (each lead's local day).",
    )
    company_weekly_cap: int = Field(
        5,
        ge=0,
        le=_INT4,
        description="Touches per company per rolling 7 days across its people, every agency/channel.",
    )
    sender_daily_caps: SenderCaps = Field(
        SenderCaps(),
        description="Touches per sender per UTC day, per channel: a JSON object {email, linkedin, sms, "
        "phone}, or one variable per channel (LEADPOOL_GATE_SENDER_DAILY_CAPS__EMAIL=40). "
        "A check without a sender counts no sender cap.",
    )
    sender_weekly_caps: SenderWeeklyCaps = Field(
        SenderWeeklyCaps(),
        description="Touches per sender per rolling 7 days, per channel, null for none (an addition): "
        "a JSON object {email, linkedin, sms, phone}, or one variable per channel "
        "(LEADPOOL_GATE_SENDER_WEEKLY_CAPS__LINKEDIN=80). A check without a sender counts none.",
    )
    agency_daily_cap: int = Field(
        5000, ge=0, le=_INT4, description="Touches per agency per channel per UTC day."
    )
    allowed_email_statuses: tuple[str, ...] = Field(
        ("verified",), description="Apollo email_status values that may be emailed."
    )
    windows: Windows = Field(
        Windows(),
        description="Send windows in the lead's own zone, per channel: a JSON object of "
        '{start: "HH:MM", end: "HH:MM", days: [mon..sun]} or null (any time), or one variable per '
        "field (LEADPOOL_GATE_WINDOWS__EMAIL__START=08:00). Agencies and campaigns may only narrow "
        "the sms and phone windows.",
    )
    timezone_required_channels: tuple[Channel, ...] = Field(
        ("sms", "phone"),
        description="Channels denied unknown_timezone when the lead's zone is unknown or only a guess.",
    )
    consent_required: ConsentRequired = Field(
        ConsentRequired(),
        description="Per channel, the countries (ISO alpha-2, or * for all) where a touch needs the "
        "person's consent to the agency, else no_consent (an addition): a JSON object {email, "
        "linkedin, sms, phone} of lists, or one variable per channel "
        "(LEADPOOL_GATE_CONSENT_REQUIRED__EMAIL=DE,AT,CA). An agency's or campaign's list adds to it.",
    )
    reservation_ttl_seconds: int = Field(
        900, ge=1, le=86400, description="How long a reservation counts if never confirmed or cancelled."
    )

    @field_validator("allowed_email_statuses")
    @classmethod
    def _statuses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(s.strip().lower() for s in v)
        for status in out:
            if status not in EMAIL_STATUSES:
                raise ValueError(f"{status!r} is not one of {', '.join(EMAIL_STATUSES)}")
        return out

    def window_for(self, channel: str) -> SendWindow | None:
        ws: WindowSettings | None = getattr(self.windows, channel)
        return ws.window() if ws else None

    def sender_cap(self, channel: str) -> int:
        cap: int = getattr(self.sender_daily_caps, channel)
        return cap

    def sender_weekly_cap(self, channel: str) -> int | None:
        cap: int | None = getattr(self.sender_weekly_caps, channel)
        return cap

    def consent_countries(self, channel: str) -> tuple[str, ...]:
        countries: tuple[str, ...] = getattr(self.consent_required, channel)
        return countries


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(e: ValidationError, where: str) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return f"invalid gate policy in {where}: " + "; ".join(parts)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """``LEADPOOL_GATE_POLICY`` (JSON) first, then one variable per field (``__`` for nesting).

    Example: ``LEADPOOL_GATE_SENDER_DAILY_CAPS__EMAIL=40``; list fields take JSON or a comma list.
    """
    out: dict[str, Any] = {}
    raw = environ.get(ENV_PREFIX + "POLICY")
    if raw:
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"{ENV_PREFIX}POLICY is not valid JSON: {e}") from e
        if not isinstance(parsed, dict):
            raise InvalidInput(f"{ENV_PREFIX}POLICY must be a JSON object")
        out = parsed
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "POLICY":
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        parsed_value: Any
        try:
            parsed_value = json.loads(value)
        except json.JSONDecodeError:
            is_list = "," in value or path[-1] in _LIST_FIELDS
            parsed_value = [s.strip() for s in value.split(",")] if is_list else value
        node: dict[str, Any] = {}
        cursor = node
        for part in path[:-1]:
            cursor[part] = {}
            cursor = cursor[part]
        cursor[path[-1]] = parsed_value
        out = deep_merge(out, node)
    return out


@lru_cache(maxsize=1)
def _platform() -> tuple[GatePolicy, str]:
    overrides = _env_overrides(dict(os.environ))
    try:
        policy = GatePolicy.model_validate(deep_merge(GatePolicy().model_dump(mode="json"), overrides))
    except ValidationError as e:
        raise InvalidInput(_describe(e, f"the platform settings ({ENV_PREFIX}*)")) from e
    _check_legal_floor(policy)
    return policy, policy.model_dump_json()


def _check_legal_floor(policy: GatePolicy) -> None:
    """The platform itself may not widen texts' and calls' quiet hours past the law (TCPA: 08:00 to
    21:00 in the person's own zone), nor send them without knowing that zone."""
    where = f"the platform settings ({ENV_PREFIX}*)"
    for channel in LEGAL_WINDOW_CHANNELS:
        window: WindowSettings | None = getattr(policy.windows, channel)
        if window is None or window.start < LEGAL_START or window.end > LEGAL_END:
            shown = "none" if window is None else f"{window.start:%H:%M}-{window.end:%H:%M}"
            raise InvalidInput(
                f"invalid gate policy in {where}: windows.{channel}: {shown} is outside the legal quiet "
                f"hours' bounds ({LEGAL_START:%H:%M}-{LEGAL_END:%H:%M} in the person's own zone)"
            )
        if channel not in policy.timezone_required_channels:
            raise InvalidInput(
                f"invalid gate policy in {where}: timezone_required_channels: must keep {channel} "
                "(quiet hours need the person's own zone)"
            )


def platform_policy() -> GatePolicy:
    """The platform level, read from the environment once (``clear_policy_cache()`` to re-read)."""
    return _platform()[0]


def clear_policy_cache() -> None:
    _platform.cache_clear()
    _resolve_json.cache_clear()


def _gate_part(settings: dict[str, Any] | None, where: str) -> dict[str, Any]:
    if not settings:
        return {}
    part = settings.get("gate")
    if part is None:
        return {}
    if not isinstance(part, dict):
        raise InvalidInput(f"invalid gate policy in {where}: settings.gate must be an object")
    return part


def _merge_level(
    policy: GatePolicy, override: dict[str, Any], where: str, *, over_agency: bool = False
) -> GatePolicy:
    """``override`` merged over ``policy`` and held to the level rules; ``over_agency``: ``policy``
    is the campaign's agency's (only then is the daily cap's ceiling known)."""
    if not override:
        return policy
    try:
        merged = GatePolicy.model_validate(deep_merge(policy.model_dump(mode="json"), override))
    except ValidationError as e:
        raise InvalidInput(_describe(e, where)) from e
    except (TypeError, ValueError) as e:  # a shape pydantic passed on to a comparison
        raise InvalidInput(f"invalid gate policy in {where}: {e}") from e
    for channel in LEGAL_WINDOW_CHANNELS:
        above: WindowSettings | None = getattr(policy.windows, channel)
        mine: WindowSettings | None = getattr(merged.windows, channel)
        if above is not None and (mine is None or not mine.narrower_than(above)):
            raise InvalidInput(
                f"invalid gate policy in {where}: windows.{channel}: may only narrow the window above it "
                f"({above.start:%H:%M}-{above.end:%H:%M} {','.join(above.days)}): {channel} has legal quiet hours"
            )
        if channel in policy.timezone_required_channels and channel not in merged.timezone_required_channels:
            raise InvalidInput(
                f"invalid gate policy in {where}: timezone_required_channels: must keep {channel} "
                "(quiet hours need the person's own zone)"
            )
    # consent is the law where it is asked: a level's countries are added to those above it
    merged = merged.model_copy(
        update={"consent_required": merged.consent_required.union(policy.consent_required)}
    )
    if over_agency and merged.agency_daily_cap > policy.agency_daily_cap:
        # the agency's volume is the platform's say (its admin sets the agency level): a campaign
        # shares its agency's counter and may only keep less of it
        raise InvalidInput(
            f"invalid gate policy in {where}: agency_daily_cap: a campaign may only lower its "
            f"agency's value {policy.agency_daily_cap} (got {merged.agency_daily_cap})"
        )
    for name in PERSON_CAPS:
        if getattr(merged, name) > getattr(policy, name):
            raise InvalidInput(
                f"invalid gate policy in {where}: {name}: may only be lowered below the platform "
                f"value {getattr(policy, name)} (got {getattr(merged, name)})"
            )
    return merged


def resolve(agency_settings: dict[str, Any] | None, campaign_settings: dict[str, Any] | None) -> GatePolicy:
    """The policy for one campaign: platform -> agency -> campaign, validated.

    Raises InvalidInput naming the level and the field when an override is not valid.
    """
    return _resolve_json(
        json.dumps(_gate_part(agency_settings, "agency settings"), sort_keys=True),
        json.dumps(_gate_part(campaign_settings, "campaign settings"), sort_keys=True),
    )


@lru_cache(maxsize=1024)
def _resolve_json(agency_json: str, campaign_json: str) -> GatePolicy:
    # cached by the JSON text: the hot path resolves the same few policies over and over
    policy = platform_policy()
    policy = _merge_level(policy, json.loads(agency_json), "agency settings")
    return _merge_level(policy, json.loads(campaign_json), "campaign settings", over_agency=True)


def validate_overrides(settings: dict[str, Any] | None, *, level: Literal["agency", "campaign"]) -> None:
    """Refuse an agency's or campaign's ``settings`` whose ``gate`` part is not valid.

    For the services that save agencies and campaigns, so a bad override is refused when it is
    written, not discovered at send time (where it makes every check deny with gate_error). A
    campaign's is judged over the platform alone; ``resolve`` judges it over its agency too.
    """
    where = f"{level} settings"
    _merge_level(platform_policy(), _gate_part(settings, where), where)
