"""Big tables built set-based for the review_e scale tests."""

from __future__ import annotations

from sqlalchemy import text

from leadpool.db import Database

N_LEADS = 30_000
N_EVENTS = 120_000
N_PAYLOADS = 30_000
N_COMPANIES = 300


def big_world(db: Database, *, events: bool = True, payloads: bool = True) -> None:
    """Agencies 1-3 with a campaign each; N_COMPANIES companies; N_LEADS leads spread over them
    (lead g at company g % N_COMPANIES + 1), each owned and enrolled; events about them; raw
    payloads linked one per lead."""
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO agencies (name) SELECT 'A' || g FROM generate_series(1, 3) g"))
        c.execute(
            text(
                "INSERT INTO campaigns (agency_id, name, status, channels, icp, daily_quota) "
                "SELECT g, 'c' || g, 'active', ARRAY['email'], '{}'::jsonb, 100 FROM generate_series(1, 3) g"
            )
        )
        c.execute(
            text(
                "INSERT INTO companies (domain, name) SELECT 'co' || g || '.example', 'Co' || g "
                "FROM generate_series(1, :n) g"
            ),
            {"n": N_COMPANIES},
        )
        c.execute(
            text(
                "INSERT INTO leads (email, company_id, linkedin_url, phone, email_status, time_zone) "
                "SELECT 'p' || g || '@x.example', g % :nc + 1, 'https://www.linkedin.com/in/p' || g, "
                "'+1212' || (2000000 + g), 'verified', 'America/New_York' "
                "FROM generate_series(1, :n) g"
            ),
            {"n": N_LEADS, "nc": N_COMPANIES},
        )
        c.execute(text("INSERT INTO ownerships (lead_id, agency_id) SELECT id, id % 3 + 1 FROM leads"))
        c.execute(
            text(
                "INSERT INTO enrollments (lead_id, campaign_id, agency_id, status, enrolled_at) "
                "SELECT id, id % 3 + 1, id % 3 + 1, 'active', now() - interval '5 days' FROM leads"
            )
        )
        if events:
            c.execute(
                text(
                    "INSERT INTO events (lead_id, occurred_at, source, provider_event_id, type, "
                    "address_type, address_hmac, channel) "
                    "SELECT g % :nl + 1, now() - g * interval '1 minute', 'bulk', 'e' || g, "
                    "(ARRAY['delivered','opened','clicked','reply'])[g % 4 + 1], 'email', md5(g::text), 'email' "
                    "FROM generate_series(1, :n) g"
                ),
                {"n": N_EVENTS, "nl": N_LEADS},
            )
        if payloads:
            c.execute(
                text(
                    "INSERT INTO raw_payloads (endpoint, body, body_sha256, apollo_person_ids) "
                    "SELECT 'file:jsonl', '{\"id\": \"ap' || g || '\"}', md5(g::text), "
                    "jsonb_build_array('ap' || g) FROM generate_series(1, :n) g"
                ),
                {"n": N_PAYLOADS},
            )
            c.execute(
                text(
                    "INSERT INTO lead_raw_payloads (lead_id, raw_payload_id) "
                    "SELECT l.id, p.id FROM leads l JOIN raw_payloads p ON p.id = l.id"
                )
            )
