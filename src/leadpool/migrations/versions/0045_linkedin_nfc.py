"""LinkedIn profile URLs of leads in Unicode's composed form (NFC)

``normalize_linkedin_url`` lower-cased a profile's slug but kept the Unicode form it came in: an
accented slug written decomposed (NFD, as macOS and some exports write it) was stored and hashed
as a different address from the same slug composed. An erased person came back through the
other spelling, and two imports of one person in the two spellings made two leads. It now gives
the composed form; this rewrites ``leads.linkedin_url`` stored in another form, with that rule as
of this revision (copied, so a later change to it cannot change what this did), so that imports,
erasure's search for the person's other leads and a blocklisting by URL find these leads again.

Only rows with a character outside printable ASCII are read (a percent-encoded slug was stored
decoded). A row is left as it is when its composed form is already another lead's URL
(``leads.linkedin_url`` is unique): that lead is the one imports of either spelling find from
now on. Merging the two is not done here; ``SELECT id, linkedin_url FROM leads WHERE
linkedin_url IS NOT NFC NORMALIZED`` lists what was left.

Keyed hashes (suppressions, events) cannot be rewritten: a migration holds no key, and an erased
person's addresses survive only as their hashes. A live lead's suppressions need it not: an
import finds the lead by its URL, and its flags hold. Email addresses need nothing: email-validator
has always stored them composed.

Revision ID: 0045_linkedin_nfc
Revises: 0044_allocation_requests
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0045_linkedin_nfc"
down_revision = "0044_allocation_requests"
branch_labels = None
depends_on = None

# Set-based per page; a target taken by any lead (rewritten on an earlier page too) leaves the row
# as it is: linkedin_url is unique.
_UPDATE = (
    "UPDATE leads l SET linkedin_url = v.url "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:urls AS text[])) AS v(id, url) "
    "WHERE l.id = v.id AND NOT EXISTS (SELECT 1 FROM leads o WHERE o.linkedin_url = v.url)"
)


def upgrade() -> None:
    conn = op.get_bind()
    last = 0
    while True:  # a page of the affected leads at a time: never the whole table in memory
        rows = conn.execute(
            sa.text(
                "SELECT id, linkedin_url FROM leads WHERE id > :last AND linkedin_url ~ '[^ -~]' "
                "ORDER BY id LIMIT 5000"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        olds = {url for _id, url in rows}
        ids: list[int] = []
        urls: list[str] = []
        for lead_id, url in rows:
            form = unicodedata.normalize("NFC", url)
            # two rows of one profile on a page: the first (lowest id) takes it, as it would alone;
            # and never a URL another row of the page still holds (a unique violation mid-statement)
            if form == url or form in olds or form in urls:
                continue
            ids.append(lead_id)
            urls.append(form)
        if ids:
            conn.execute(sa.text(_UPDATE), {"ids": ids, "urls": urls})


def downgrade() -> None:
    # the composed form works with the old code (an import of the decomposed spelling would make
    # a second lead again, as it did before)
    pass
