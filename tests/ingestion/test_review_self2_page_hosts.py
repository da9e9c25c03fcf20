"""Review of 901f808's "a page on a shared service's subdomain is no company domain"
(``ingestion.normalize.company_domain``): the primary domain still gives the service's domain.

``company_domain`` refuses ``primary_domain`` only when it normalises to exactly the website's host
(``domain != page_host``). With the website on the service's www host that works (``facebook.com``
== ``facebook.com`` once ``www.`` is stripped); with a page on one of its other hosts
(``m.facebook.com``, listed before; ``web.facebook.com``, ``uk.linkedin.com``, since 901f808), the
record's ``primary_domain`` (the service's own domain, as a record may give it) differs from the
host and is returned. Every business whose website is a Facebook page found that way becomes one
company ``facebook.com``: company caps and the company pause after a reply then span unrelated
businesses, for every agency (docs/apollo.md). The docstring says a ``primary_domain`` naming that
service's host gives no domain; the check should refuse a primary domain that is the page host or
the shared service the page host belongs to.
"""

from __future__ import annotations

import pytest

from leadpool.ingestion.normalize import company_domain


@pytest.mark.parametrize(
    ("primary", "website"),
    [
        ("facebook.com", "https://web.facebook.com/joesplumbing"),
        ("facebook.com", "https://m.facebook.com/joesplumbing"),
        ("linkedin.com", "https://uk.linkedin.com/company/joesplumbing"),
    ],
)
def test_the_service_as_primary_domain_beside_a_page_on_its_subdomain_is_no_company_domain(
    primary: str, website: str
) -> None:
    """Observed: the service's domain (``facebook.com``, ``linkedin.com``). Expected: None, as for
    ``company_domain("facebook.com", "https://www.facebook.com/joesplumbing")``."""
    assert company_domain("facebook.com", "https://www.facebook.com/joesplumbing") is None
    assert company_domain(primary, website) is None
