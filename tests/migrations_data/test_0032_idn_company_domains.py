"""0032 rewrites the company domains stored in their ``xn--`` form (or an unmapped Unicode one) in
the form imports now give them, the form email domains and domain blocks are stored in, so a
block of the name covers the companies imported before the upgrade. A row whose Unicode form is
another company's domain is left as it is (``companies.domain`` is unique; merging is not done),
and so is a name IDNA refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from tests.migrations_data._scratch import scratch_db

from leadpool.db.migrate import upgrade
from leadpool.ingestion.normalize import normalize_domain
from leadpool.privacy.domains import canonical_domain

BEFORE = "0031_sender_weekly_caps"
STORED = {
    1: "xn--mnchen-firma-dlb.de",  # converted
    2: "shop.xn--e1afmkfd.xn--p1ai",  # every label converted
    3: "müller.example",  # the Unicode form, stored by a CSV: kept, and it holds the name
    4: "xn--mller-kva.example",  # müller.example: taken by 3, left
    5: "ｂücher.example",  # Unicode, but not mapped as email-validator maps it: bücher.example
    6: "xn--bcher-kva.example",  # bücher.example too: 5 (the lower id) takes it, this one is left
    7: "xn--zz.example",  # not valid IDNA: left as it is
    8: "acme.example",  # plain ASCII: untouched
    9: "fooxn--bar.example",  # xn-- not at a label's start: untouched
}
EXPECTED = {
    1: "münchen-firma.de",
    2: "shop.пример.рф",
    3: "müller.example",
    4: "xn--mller-kva.example",
    5: "bücher.example",
    6: "xn--bcher-kva.example",
    7: "xn--zz.example",
    8: "acme.example",
    9: "fooxn--bar.example",
}


@pytest.mark.parametrize(
    "options",
    ["", "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"],
    ids=["default", "c-ctype"],
)
def test_0032_stores_company_domains_in_the_form_imports_and_blocks_use(
    database_uri: str, options: str
) -> None:
    with scratch_db(database_uri, BEFORE, create_options=options) as db:
        with db.engine.begin() as c:
            for company_id, domain in STORED.items():
                c.execute(
                    text("INSERT INTO companies (id, domain) VALUES (:i, :d)"), {"i": company_id, "d": domain}
                )
            c.execute(text("INSERT INTO companies (id, domain) VALUES (10, NULL)"))
        upgrade(db)
        with db.engine.connect() as c:
            rows = dict(c.execute(text("SELECT id, domain FROM companies ORDER BY id")).all())
    assert rows == {**EXPECTED, 10: None}
    for company_id in (1, 2, 3, 5):  # what an import of the stored name gives now, and a block of it
        assert (
            rows[company_id] == normalize_domain(STORED[company_id]) == canonical_domain(STORED[company_id])
        )
