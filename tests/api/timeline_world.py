"""A lead (and its company) with a long history, built set-based: every source of the timelines,
two agencies' rows mixed, and many entries at the same instant (only seven distinct instants), so
paging has ties to break at every page boundary.

``expected_sources`` lists the lead timeline's rows in order straight from SQL (instant, the
table's rank, row id), independently of ``leadpool.timeline``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from leadpool.config import get_settings
from leadpool.db import Database
from leadpool.ingestion.hashing import address_hmac

EMAIL = "pat@busy.example"
B_SECRET = "B-SECRET-DETAIL"
B_SENDER = "sdr-b@b.example"


@dataclass
class Busy:
    agency_a: int
    agency_b: int
    campaign_a: int
    campaign_b: int
    company_id: int
    lead_id: int  # owned by agency A
    colleague_id: int  # at the same company, owned by agency B


def busy_lead(db: Database, agency_a: int, agency_b: int, n: int = 300) -> Busy:
    """About 4.5 n timeline entries for the lead, 2 n touches and n/2 events for its colleague."""
    hmac = address_hmac("email", EMAIL, get_settings().resolved_secret_key())
    with db.engine.begin() as c:

        def one(sql: str, **params: object) -> int:
            return int(c.execute(text(sql), params).scalar_one())

        def run(sql: str, **params: object) -> None:
            c.execute(text(sql), params)

        camp = (
            "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
            "VALUES (:a, :n, 'active', ARRAY['email'], '{}'::jsonb, 10) RETURNING id"
        )
        ca = one(camp, a=agency_a, n="busy A")
        cb = one(camp, a=agency_b, n="busy B")
        co = one("INSERT INTO companies (domain, name) VALUES ('busy.example', 'Busy') RETURNING id")
        lead_sql = (
            "INSERT INTO leads (email, company_id, time_zone, email_status) "
            "VALUES (:e, :co, 'UTC', 'verified') RETURNING id"
        )
        lead = one(lead_sql, e=EMAIL, co=co)
        mate = one(lead_sql, e="mate@busy.example", co=co)
        run("INSERT INTO ownerships (lead_id, agency_id) VALUES (:l, :a)", l=lead, a=agency_a)
        run("INSERT INTO ownerships (lead_id, agency_id) VALUES (:l, :a)", l=mate, a=agency_b)
        at = "timestamptz '2025-03-01 12:00:00+00' + (g % 7) * interval '1 hour'"
        # agency A's rows on even g, agency B's on odd g
        agency = "CASE WHEN g % 2 = 0 THEN :a ELSE :b END"
        campaign = "CASE WHEN g % 2 = 0 THEN :ca ELSE :cb END"
        ids = {"a": agency_a, "b": agency_b, "ca": ca, "cb": cb, "n": n}
        run(
            "INSERT INTO lead_history (lead_id, at, action, agency_id, campaign_id, actor) "
            f"SELECT :l, {at}, 'enrolled', {agency}, {campaign}, 'allocation' "
            "FROM generate_series(1, :n) g",
            l=lead,
            **ids,
        )
        run(
            "INSERT INTO decisions (at, lead_id, campaign_id, agency_id, channel, sender, allowed, reasons) "
            f"SELECT {at}, :l, {campaign}, {agency}, 'email', "
            "CASE WHEN g % 2 = 0 THEN 'sdr-a@a.example' ELSE :sb END, false, "
            """'[{"code": "cap_lead", "message": "cap"}]'::jsonb FROM generate_series(1, :n) g""",
            l=lead,
            sb=B_SENDER,
            **ids,
        )
        for who in (lead, mate):
            run(
                "INSERT INTO touches (lead_id, company_id, agency_id, campaign_id, channel, state, at, "
                "local_date, sender) "
                f"SELECT :l, :co, {agency}, {campaign}, 'email', 'sent', {at}, date '2025-03-01', "
                "CASE WHEN g % 2 = 0 THEN 'sdr-a@a.example' ELSE :sb END FROM generate_series(1, :n) g",
                l=who,
                co=co,
                sb=B_SENDER,
                **ids,
            )
        # the lead's events: A's campaign, B's campaign, none; every fifth one reported by agency B
        run(
            "INSERT INTO events (type, lead_id, channel, occurred_at, source, provider_event_id, "
            "campaign_id, sender, detail, reported_by_agency_id, category) "
            f"SELECT (ARRAY['opened', 'reply', 'unsubscribe'])[g % 3 + 1], :l, 'email', {at}, 'busy', "
            "'ev-' || g, (ARRAY[:ca, :cb, NULL])[g % 3 + 1], "
            "CASE WHEN g % 5 = 0 THEN :sb END, "
            "CASE WHEN g % 5 = 0 THEN jsonb_build_object('secret', CAST(:secret AS text)) END, "
            "CASE WHEN g % 5 = 0 THEN :b END, CASE WHEN g % 3 = 1 THEN 'not_interested' END "
            "FROM generate_series(1, :n) g",
            l=lead,
            sb=B_SENDER,
            secret=B_SECRET,
            **ids,
        )
        # stored by address before the pool held the person; half of them reported by agency B
        run(
            "INSERT INTO events (type, lead_id, address_type, address_hmac, channel, occurred_at, "
            "source, provider_event_id, reported_by_agency_id) "
            f"SELECT 'hard_bounce', NULL, 'email', :h, 'email', {at}, 'busy', 'addr-' || g, "
            "CASE WHEN g % 2 = 1 THEN :b END FROM generate_series(1, :n / 4) g",
            h=hmac,
            **ids,
        )
        # the colleague's replies, which pause the company
        run(
            "INSERT INTO events (type, lead_id, channel, occurred_at, source, provider_event_id, campaign_id, "
            "category) "
            f"SELECT 'reply', :m, 'email', {at}, 'busy', 'mate-' || g, :cb, 'interested' "
            "FROM generate_series(1, :n / 2) g",
            m=mate,
            **ids,
        )
        run(
            "INSERT INTO company_pauses (company_id, lead_id, kind, cause_event_id, started_at, until) "
            "SELECT :co, :m, 'interested', e.id, e.occurred_at, e.occurred_at + interval '30 days' "
            "FROM events e WHERE e.lead_id = :m AND e.id % 5 = 0",
            co=co,
            m=mate,
        )
        run(
            "INSERT INTO rest_periods (lead_id, campaign_id, agency_id, reason, started_at, until) "
            f"SELECT :l, {campaign}, {agency}, 'sequence_finished', {at}, {at} + interval '30 days' "
            "FROM generate_series(1, :n / 10) g",
            l=lead,
            **ids,
        )
        run(
            "INSERT INTO audit_log (at, actor, action, subject_type, subject_id, detail) "
            f"SELECT {at}, 'admin', 'lead.note', 'lead', CAST(:l AS text), '{{}}'::jsonb "
            "FROM generate_series(1, :n / 10) g",
            l=lead,
            **ids,
        )
    return Busy(agency_a, agency_b, ca, cb, co, lead, mate)


def expected_sources(db: Database, busy: Busy) -> list[str]:
    """The lead timeline's ``source`` of every entry, in order, computed in SQL."""
    hmac = address_hmac("email", EMAIL, get_settings().resolved_secret_key())
    sql = """
        SELECT s FROM (
          SELECT at, 0 AS r, id, 'lead_history:' || id AS s FROM lead_history WHERE lead_id = :l
          UNION ALL SELECT started_at, 1, id, 'rest_periods:' || id FROM rest_periods WHERE lead_id = :l
          UNION ALL SELECT at, 2, id, 'decisions:' || id FROM decisions WHERE lead_id = :l
          UNION ALL SELECT at, 3, id, 'touches:' || id FROM touches WHERE lead_id = :l
          UNION ALL SELECT occurred_at, 4, id, 'events:' || id FROM events
                     WHERE lead_id = :l OR address_hmac = :h
          UNION ALL SELECT started_at, 5, id, 'company_pauses:' || id FROM company_pauses
                     WHERE company_id = :co AND (lead_id IS NULL OR lead_id <> :l)
          UNION ALL SELECT at, 6, id, 'audit_log:' || id FROM audit_log
                     WHERE subject_type = 'lead' AND subject_id = CAST(:l AS text)
        ) x ORDER BY at, r, id
    """
    with db.engine.connect() as c:
        return list(c.execute(text(sql), {"l": busy.lead_id, "h": hmac, "co": busy.company_id}).scalars())


def expected_company_sources(db: Database, busy: Busy) -> list[str]:
    """The company timeline's ``source`` of every entry, in order, computed in SQL."""
    sql = """
        SELECT s FROM (
          SELECT at, 3 AS r, id, 'touches:' || id AS s FROM touches WHERE company_id = :co
          UNION ALL SELECT occurred_at, 4, id, 'events:' || id FROM events
                     WHERE type IN ('reply', 'unsubscribe', 'complaint', 'converted')
                       AND (lead_id IN (SELECT id FROM leads WHERE company_id = :co)
                            OR id IN (SELECT cause_event_id FROM company_pauses WHERE company_id = :co))
          UNION ALL SELECT started_at, 5, id, 'company_pauses:' || id FROM company_pauses
                     WHERE company_id = :co
        ) x ORDER BY at, r, id
    """
    with db.engine.connect() as c:
        return list(c.execute(text(sql), {"co": busy.company_id}).scalars())
