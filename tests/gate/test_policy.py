"""Policy: defaults, the three-level merge, validation with the field named, environment."""

from __future__ import annotations

from datetime import time

import pytest

from leadpool.errors import InvalidInput
from leadpool.gate.policy import GatePolicy, clear_policy_cache, platform_policy, resolve, validate_overrides


@pytest.fixture(autouse=True)
def _fresh_policy(fresh_policy: None) -> None:
    """Every test here starts from the defaults."""


def test_defaults_from_the_issue() -> None:
    p = resolve(None, None)
    assert (p.lead_daily_cap, p.lead_weekly_cap, p.company_daily_cap) == (1, 3, 2)
    assert [p.sender_cap(c) for c in ("email", "linkedin", "sms", "phone")] == [50, 25, 200, 100]
    assert p.agency_daily_cap == 5000 and p.allowed_email_statuses == ("verified",)
    assert p.reservation_ttl_seconds == 900 and p.timezone_required_channels == ("sms", "phone")


def test_agency_then_campaign_override() -> None:
    p = resolve(
        {"gate": {"sender_daily_caps": {"email": 30}, "agency_daily_cap": 100}},
        {"gate": {"allowed_email_statuses": ["verified", "Extrapolated"], "agency_daily_cap": 80}},
    )
    assert p.sender_cap("email") == 30 and p.sender_cap("sms") == 200  # deep merge keeps the rest
    assert p.agency_daily_cap == 80
    assert p.allowed_email_statuses == ("verified", "extrapolated")
    p2 = resolve(None, {"gate": {"windows": {"linkedin": {"start": "08:00", "end": "18:00"}, "email": None}}})
    assert p2.windows.linkedin is not None and p2.windows.linkedin.start == time(8)
    assert p2.window_for("email") is None


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"lead_daily_cap": -1}, "lead_daily_cap"),
        ({"sender_daily_caps": {"email": "many"}}, "sender_daily_caps.email"),
        ({"windows": {"sms": {"start": "21:00", "end": "09:00"}}}, "windows.sms"),
        ({"windows": {"sms": {"start": "09:00", "end": "20:00", "days": ["caturday"]}}}, "windows.sms.days"),
        ({"lead_daily_caps": 2}, "lead_daily_caps"),
        ({"reservation_ttl_seconds": 0}, "reservation_ttl_seconds"),
        ({"lead_weekly_cap": 10}, "lead_weekly_cap"),  # person caps may only be lowered
        ({"timezone_required_channels": ["fax"]}, "timezone_required_channels"),
    ],
)
def test_bad_override_is_refused_with_the_field_named(override: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        validate_overrides({"gate": override}, level="campaign")
    assert field in e.value.message and "campaign settings" in e.value.message
    with pytest.raises(InvalidInput, match="agency settings"):
        resolve({"gate": override}, None)


def test_person_caps_can_be_lowered() -> None:
    assert resolve({"gate": {"lead_weekly_cap": 2}}, {"gate": {"lead_daily_cap": 0}}).lead_daily_cap == 0
    with pytest.raises(InvalidInput, match="gate must be an object"):
        validate_overrides({"gate": 3}, level="agency")


def test_platform_level_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_GATE_POLICY", '{"lead_weekly_cap": 5, "company_daily_cap": 4}')
    monkeypatch.setenv("LEADPOOL_GATE_SENDER_DAILY_CAPS__EMAIL", "40")
    monkeypatch.setenv("LEADPOOL_GATE_ALLOWED_EMAIL_STATUSES", "verified")
    monkeypatch.setenv("LEADPOOL_GATE_WINDOWS__EMAIL__START", "08:00")
    clear_policy_cache()
    p = platform_policy()
    assert p.lead_weekly_cap == 5 and p.company_daily_cap == 4 and p.sender_cap("email") == 40
    assert p.windows.email is not None and p.windows.email.start == time(8)
    assert p.allowed_email_statuses == ("verified",)
    # the platform raised the person caps, so an agency may now go up to them
    assert resolve({"gate": {"lead_weekly_cap": 5}}, None).lead_weekly_cap == 5


def test_bad_platform_setting_names_the_variable_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPOOL_GATE_LEAD_DAILY_CAP", "lots")
    clear_policy_cache()
    with pytest.raises(InvalidInput, match=r"LEADPOOL_GATE_.*lead_daily_cap"):
        platform_policy()


def test_policy_model_is_strict() -> None:
    with pytest.raises(ValueError, match="extra"):
        GatePolicy.model_validate({"nope": 1})


@pytest.mark.parametrize(
    ("name", "value", "names"),
    [
        ("LEADPOOL_GATE_WINDOWS__SMS__START", "07:00", "windows.sms: 07:00-20:00 is outside"),
        ("LEADPOOL_GATE_WINDOWS__PHONE__END", "22:00", "windows.phone: 09:00-22:00 is outside"),
        ("LEADPOOL_GATE_POLICY", '{"windows": {"sms": null}}', "windows.sms: none is outside"),
        ("LEADPOOL_GATE_TIMEZONE_REQUIRED_CHANNELS", '["phone"]', "must keep sms"),
    ],
)
def test_the_platform_may_not_widen_texts_and_calls_past_the_law(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, names: str
) -> None:
    """Agencies and campaigns could only narrow sms/phone windows, but the platform's own setting
    could remove quiet hours altogether (TCPA: 08:00-21:00 in the person's zone)."""
    monkeypatch.setenv(name, value)
    clear_policy_cache()
    with pytest.raises(InvalidInput, match=names):
        platform_policy()
    monkeypatch.delenv(name)
    clear_policy_cache()
    assert platform_policy().windows.sms is not None
