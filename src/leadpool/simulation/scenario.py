"""The cast of the demo: two agencies selling to construction companies, their campaigns, senders
and cadences, and the calendar (who cancels when).

Agency A runs five near-identical campaigns over email, LinkedIn, SMS and phone: exactly the
set-up that, without the gate, lets one person be emailed on Monday, messaged on Tuesday, texted
on Wednesday and called on Thursday. Agency B sells to the same companies, and cancels on day 20.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DECISION_MAKERS = ["owner", "founder", "c_suite", "partner", "vp", "head", "director"]
CONSTRUCTION: dict[str, Any] = {"industries": ["construction"], "seniorities": DECISION_MAKERS}

# Day offsets (from enrollment) of each channel's steps. Every engine runs its own cadence and
# knows nothing of the others', so on some days two engines want the same person.
CADENCE: dict[str, tuple[int, ...]] = {
    "email": (0, 4, 9, 16),
    "linkedin": (1, 7),
    "sms": (5,),
    "phone": (2, 12),
}
# The local hours (in the engine's own zone) of each engine's send waves: tools send in scheduled
# waves, a few a day. The engines are naive: they send every day of the week, in US hours,
# without looking at the lead's time zone.
ENGINE_WAVES: dict[str, tuple[str, tuple[int, ...]]] = {
    "email": ("America/New_York", (9, 11, 14, 16)),
    "linkedin": ("America/New_York", (10, 15)),
    "sms": ("America/Chicago", (10, 14)),
    "phone": ("America/Chicago", (9, 11, 13, 15)),
}


@dataclass(frozen=True)
class CampaignPlan:
    key: str
    agency: str
    name: str
    channels: tuple[str, ...]
    icp: dict[str, Any]
    new_per_day: int  # leads per simulated day the agency asks allocation for (every other day)
    quota: int  # the campaign's daily_quota (see run.py: the API allocates on the real clock)


@dataclass(frozen=True)
class Scenario:
    people: int
    days: int
    seed: int
    start: datetime  # midnight UTC of simulated day 0
    agencies: tuple[str, ...]
    campaigns: tuple[CampaignPlan, ...]
    senders: dict[tuple[str, str], tuple[str, ...]]  # (agency, channel) -> senders
    cancel_agency: str
    cancel_day: int
    poach_day: int  # the day Agency B's engine tries leads from its own old list that A owns
    poach_count: int
    apollo_people: int  # people generated for the fake Apollo (refill source)
    cadence: dict[str, tuple[int, ...]] = field(default_factory=lambda: dict(CADENCE))
    engine_waves: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=lambda: dict(ENGINE_WAVES))

    def day_start(self, day: int) -> datetime:
        return self.start + timedelta(days=day)

    @property
    def end(self) -> datetime:
        return self.day_start(self.days)


def build_scenario(
    people: int = 20000,
    days: int = 30,
    seed: int = 7,
    *,
    supply: int | None = None,
    now: datetime | None = None,
) -> Scenario:
    """The demo's scenario. ``supply``: pool leads the campaigns' ICP matches (verified emails);
    campaigns ask for new leads each day so that it runs dry a little before halfway and the
    allocation falls short, which queues refills from (the fake) Apollo."""
    if people < 100:
        raise ValueError(f"people must be at least 100, got {people}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    # The simulated month ends at the start of the current UTC day: its history is in the past,
    # like a real one, and the service's own clock (allocation, quarantine) comes after it.
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days)
    # without a measured supply: ~16% of generated people are in construction, about a third of
    # them decision makers with a verified email
    verified_supply = supply if supply is not None else people * 0.16 * 0.3
    per_day = max(2, round(verified_supply / (days * 0.4) / 8))
    all_channels = ("email", "linkedin", "sms", "phone")
    a = "Agency A"
    b = "Agency B"
    campaigns = [
        CampaignPlan("A1", a, "Construction owners: full sequence", all_channels, CONSTRUCTION, per_day, 0),
        CampaignPlan(
            "A2", a, "Construction owners: full sequence (copy)", all_channels, CONSTRUCTION, per_day, 0
        ),
        CampaignPlan(
            "A3", a, "Construction: email + LinkedIn", ("email", "linkedin"), CONSTRUCTION, per_day, 0
        ),
        CampaignPlan(
            "A4",
            a,
            "Construction: phone + SMS (+ extrapolated emails)",
            ("sms", "phone", "email"),
            {**CONSTRUCTION, "email_statuses": ["verified", "extrapolated"]},
            per_day,
            0,
        ),
        CampaignPlan(
            "A5",
            a,
            "Construction: cheap list (guessed emails)",
            all_channels,
            {**CONSTRUCTION, "email_statuses": ["guessed"]},
            per_day,
            0,
        ),
        CampaignPlan("B1", b, "Builders: full sequence", all_channels, CONSTRUCTION, per_day * 2, 0),
        CampaignPlan("B2", b, "Builders: email + phone", ("email", "phone"), CONSTRUCTION, per_day, 0),
    ]
    # allocation runs on the service's real clock (the API has no simulated time for it), so all
    # of a run's allocations fall on one real day: the quota covers the whole run
    campaigns = [
        CampaignPlan(c.key, c.agency, c.name, c.channels, c.icp, c.new_per_day, c.new_per_day * days + 50)
        for c in campaigns
    ]
    senders: dict[tuple[str, str], tuple[str, ...]] = {}
    area = {"a": "01", "b": "02"}
    for agency, tag in ((a, "a"), (b, "b")):
        senders[(agency, "email")] = tuple(f"sdr{i}@mail.agency-{tag}.example" for i in range(1, 4))
        senders[(agency, "linkedin")] = tuple(f"linkedin:agency-{tag}-rep{i}" for i in range(1, 5))
        senders[(agency, "sms")] = tuple(f"+1512555{area[tag]}{i:02d}" for i in range(1, 3))
        senders[(agency, "phone")] = tuple(f"+1737555{area[tag]}{i:02d}" for i in range(1, 3))
    return Scenario(
        people=people,
        days=days,
        seed=seed,
        start=start,
        agencies=(a, b),
        campaigns=tuple(campaigns),
        senders=senders,
        cancel_agency=b,
        cancel_day=min(20, max(0, days - 1)) if days > 1 else 0,
        poach_day=min(5, days - 1),
        poach_count=25,
        apollo_people=max(200, people // 4),
    )
