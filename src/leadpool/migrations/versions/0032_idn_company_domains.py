"""company domains of international names in the Unicode form email domains are stored in

An international company domain was stored as it came: Apollo sends ``xn--mnchen-3ya.de``, a CSV
may say ``münchen.de``, while an email's domain and a domain block are stored in email-validator's
Unicode form (``münchen.de``). A block of the name therefore never covered a company stored in
its ``xn--`` form (the gate and allocation compare the stored strings), and two imports of one
company in the two spellings made two companies. ``normalize_domain`` now gives the Unicode form
(``leadpool.ingestion.normalize.idn_form``); this rewrites the rows already stored, with that
rule as of this revision (copied, so a later change to it cannot change what this did).

Only rows with an ``xn--`` label or a non-ASCII character are read. A row is left as it is when
its name is not valid IDNA (nothing stored is thrown away; an import now gives such a name no
domain at all), or when the Unicode form is already another company's domain
(``companies.domain`` is unique): that company is the one imports of either spelling find from
now on, and the row left keeps its ``xn--`` domain and its leads. Merging the two is not done
here; ``SELECT id, domain FROM companies WHERE domain ~ '(^|\\.)xn--'`` lists what was left.

Domain blocks need nothing: they were always stored in the Unicode form. The gate
(``gate_fast_check``, the full check) and allocation compare stored strings, so they need no
change either.

Revision ID: 0032_idn_company_domains
Revises: 0031_sender_weekly_caps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision = "0032_idn_company_domains"
down_revision = "0031_sender_weekly_caps"
branch_labels = None
depends_on = None

# an xn-- label, or a character outside printable ASCII
_AFFECTED = r"(domain ~ '(^|\.)xn--' OR domain ~ '[^ -~]')"

# Set-based per page; the id/domain pairs come as two arrays. A target taken by any company
# (converted on an earlier page too) leaves the row as it is: domain is unique.
_UPDATE = (
    "UPDATE companies c SET domain = v.domain "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:domains AS text[])) AS v(id, domain) "
    "WHERE c.id = v.id AND NOT EXISTS (SELECT 1 FROM companies o WHERE o.domain = v.domain)"
)


def _unicode_form(domain: str) -> str | None:
    """``normalize_domain``'s form of a stored (already lower-case, no ``www.``) domain as of this
    revision; None when IDNA refuses it."""
    try:
        host = validate_email("a@" + domain.lower(), check_deliverability=False).domain.lower()
    except EmailNotValidError:
        return None
    host = host.removeprefix("www.")
    return host if "." in host else None


def upgrade() -> None:
    conn = op.get_bind()
    last = 0
    while True:  # a page of the affected companies at a time: never the whole table in memory
        rows = conn.execute(
            sa.text(
                f"SELECT id, domain FROM companies WHERE id > :last AND {_AFFECTED} ORDER BY id LIMIT 5000"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        olds = {domain for _id, domain in rows}
        ids: list[int] = []
        domains: list[str] = []
        taken: set[str] = set()
        for company_id, domain in rows:
            form = _unicode_form(domain)
            # two rows of one name on a page: the first (lowest id) takes it, as it would alone;
            # and never a name another row of the page still holds (a unique violation mid-statement)
            if form is None or form == domain or form in olds or form in taken:
                continue
            ids.append(company_id)
            domains.append(form)
            taken.add(form)
        if ids:
            conn.execute(sa.text(_UPDATE), {"ids": ids, "domains": domains})


def downgrade() -> None:
    # which rows were xn-- is not known any more; the Unicode form works with the old code (an
    # import of the xn-- spelling would make a second company again, as it did before)
    pass
