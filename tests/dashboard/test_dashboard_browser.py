"""The dashboard in a real browser: Playwright driving Debian's chromium against the live server.

Opens every page, follows links from the overview to a lead's timeline, checks what a person
would see, and saves screenshots (under the test's tmp dir; also copied to
``$LEADPOOL_SCREENSHOT_DIR`` when that is set).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from api.conftest import ADMIN_TOKEN
from dashboard.scenes import busy_world

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_NO_CHROMIUM = "Debian's chromium is not at /usr/bin/chromium (install it: apt-get install -y chromium)"
# A machine without chromium skips these; CI sets LEADPOOL_REQUIRE_BROWSER=1 (.ci/run installs
# chromium), so there a missing browser fails the run instead of silently skipping the tests.
if not CHROMIUM.exists() and os.environ.get("LEADPOOL_REQUIRE_BROWSER") == "1":
    pytest.fail(_NO_CHROMIUM + "; LEADPOOL_REQUIRE_BROWSER=1 requires it", pytrace=False)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=_NO_CHROMIUM),
]


@pytest.fixture
def world(api):
    w = busy_world(api.admin, api.url)
    yield w
    w.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path):
    out = tmp_path / "screenshots"
    out.mkdir()
    yield out
    target = os.environ.get("LEADPOOL_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for png in out.glob("*.png"):
            shutil.copy(png, Path(target) / png.name)


def test_admin_walks_from_the_overview_to_a_lead_timeline(api, world, browser, shots):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(api.url + "/")
    expect(page).to_have_url(api.url + "/login?next=/")
    page.fill("input[name=token]", ADMIN_TOKEN)
    page.click("button[type=submit]")

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("leads in the pool")).to_be_visible()
    expect(page.get_by_text("signed in as platform admin")).to_be_visible()
    for chart in (
        "Leads by industry",
        "Leads by country",
        "Suppressions by kind",
        "Decisions per day by reason",
    ):
        expect(page.locator(f'svg[aria-label="{chart}"]')).to_be_visible()
    assert page.locator('svg[aria-label="Decisions per day by reason"] polyline').count() >= 1
    page.screenshot(path=shots / "01-overview.png", full_page=True)

    page.click("header >> text=Agencies")
    expect(page.get_by_role("cell", name="Agency A")).to_be_visible()
    expect(page.get_by_role("cell", name="Agency B")).to_be_visible()
    page.screenshot(path=shots / "02-agencies.png", full_page=True)

    page.click("header >> text=Campaigns")
    page.click("text=A construction")
    expect(page.get_by_role("heading", name="Campaign: A construction")).to_be_visible()
    expect(page.get_by_text("email_statuses")).to_be_visible()
    page.screenshot(path=shots / "03-campaign.png", full_page=True)

    page.click("header >> text=Jobs")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    page.screenshot(path=shots / "04-jobs.png", full_page=True)

    # from the overview, follow a recently allocated lead to its timeline
    page.click("header >> text=Overview")
    first = world.alloc_a.allocated[0]
    link = page.locator(f'a[href="/leads/{first}"]').first
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(f"{api.url}/leads/{first}")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    timeline = page.locator("h2#timeline + table")
    expect(timeline).to_contain_text("ownership.acquired")
    expect(timeline).to_contain_text("decision")
    expect(timeline).to_contain_text("event.reply")
    expect(page.get_by_role("heading", name="Raw Apollo payloads")).to_be_visible()
    expect(page.get_by_role("cell", name="employment_history", exact=True)).to_be_visible()
    page.screenshot(path=shots / "05-lead-timeline.png", full_page=False)
    page.screenshot(path=shots / "06-lead-full.png", full_page=True)
    page.close()
    # no CDN, no internet: every request the pages made went to the service itself
    assert requested and all(url.startswith(api.url + "/") for url in requested), requested


def test_an_agency_token_sees_only_its_own_agency(api, world, browser, shots):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{api.url}/agencies")
    expect(page).to_have_url(api.url + "/login?next=/agencies")
    page.get_by_label("token").fill(world.b.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(api.url + "/agencies")
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["leadpool_session"]["httpOnly"] is True
    expect(page.get_by_role("cell", name="Agency B")).to_be_visible()
    expect(page.get_by_role("cell", name="Agency A")).to_have_count(0)
    page.screenshot(path=shots / "07-agency-b-agencies.png", full_page=True)

    page.goto(api.url + "/")
    expect(page.get_by_text("leads you own")).to_be_visible()
    expect(page.get_by_text("leads in the pool")).to_have_count(0)
    page.goto(f"{api.url}/campaigns/{world.camp_a.id}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.screenshot(path=shots / "08-agency-b-foreign-campaign.png", full_page=True)
    context.close()
