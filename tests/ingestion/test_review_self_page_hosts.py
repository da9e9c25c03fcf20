"""Review of this stop's "a website that is a page on a shared service is no company domain"
(``ingestion.normalize.company_domain`` / ``PAGE_HOSTS``): the rule matches the listed host names
exactly, so the same services' other host names and old page URLs still merge unrelated
businesses into one company.

Why it matters: a company domain makes one company of everyone who has it (company caps and the
company pause after a reply, for every agency; docs/apollo.md). Two plumbers whose "website" is
their Facebook page are not one company, as the commit itself says.
"""

from __future__ import annotations

import pytest

from leadpool.ingestion.normalize import company_domain


@pytest.mark.parametrize(
    "website",
    [
        # Facebook serves pages under regional and "web." hosts (links copied from a browser in
        # many countries look like this)
        "https://web.facebook.com/joesplumbing",
        "https://en-gb.facebook.com/joesplumbing",
        # LinkedIn's country hosts, YouTube's mobile host, a Google Maps listing
        "https://uk.linkedin.com/company/joesplumbing",
        "https://m.youtube.com/@joesplumbing",
        "https://maps.google.com/maps?cid=1234567890",
        # an old Facebook page link: the page is in the fragment, the path is "/"
        "http://www.facebook.com/#!/pages/JoesPlumbing/123456",
    ],
)
def test_a_page_on_a_shared_service_gives_no_company_domain(website: str) -> None:
    """``_page_on_a_shared_host`` requires ``domain in PAGE_HOSTS`` (exact host name) and a
    non-empty path. Observed: ``web.facebook.com``, ``en-gb.facebook.com``, ``uk.linkedin.com``,
    ``m.youtube.com``, ``maps.google.com`` are returned as the company's domain, and a
    ``facebook.com/#!/pages/...`` link gives ``facebook.com`` (the page is in the fragment), so
    every business listing such a page becomes one company. Expected: None, as for
    ``https://www.facebook.com/joesplumbing``. A host that is a subdomain of a listed service
    (or a fragment/query naming a page) should count as a page on it."""
    assert company_domain(None, website) is None
