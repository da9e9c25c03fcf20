"""Reading one lead returns of each raw payload its metadata and only this person's own object,
whatever the size of the import it came in; the whole body is only at GET /v1/raw-payloads/{id},
for the admin."""

from __future__ import annotations

import hashlib

import httpx
import orjson
import pytest
from sqlalchemy import text

from api.conftest import ADMIN_TOKEN
from leadpool.apollo.generate import generate_people
from leadpool.client import ApiError
from leadpool.db import Database, session_scope
from leadpool.models import Lead, LeadRawPayload, RawPayload


def _own(db: Database, lead_id: int, agency_id: int) -> None:
    with db.engine.begin() as c:
        c.execute(
            text("INSERT INTO ownerships (lead_id, agency_id) VALUES (:l, :a)"),
            {"l": lead_id, "a": agency_id},
        )


def test_a_lead_from_a_large_import_reads_small(api, db):
    people = list(generate_people(120, seed=5))
    body = orjson.dumps({"people": people})
    assert len(body) > 500_000
    result = api.admin.import_leads(body)
    # a person the import holds once (the generator repeats a few, to be merged)
    i = next(i for i in range(60, 120) if result.lead_ids.count(result.lead_ids[i]) == 1)
    agency = api.admin.create_agency("Reader")
    lead_id = result.lead_ids[i]
    _own(db, lead_id, agency.id)

    r = httpx.get(f"{api.url}/v1/leads/{lead_id}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code == 200
    assert len(r.content) < 40_000, len(r.content)  # the import was over 500 KB
    detail = r.json()
    (payload,) = detail["raw_payloads"]
    assert detail["raw_payloads_total"] == 1
    assert payload["person"] == people[i]  # this person's own object, nobody else's
    assert payload["body_bytes"] == len(body) and payload["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert "body" not in payload and payload["body_url"] == f"/v1/raw-payloads/{payload['id']}"
    assert payload["endpoint"] == "api:leads/import" and payload["source_name"]

    whole = api.admin.get_raw_payload(payload["id"])
    assert whole.body.encode() == body and whole.body_bytes == len(body)
    assert whole.apollo_person_ids and people[i]["id"] in whole.apollo_person_ids

    with api.client(agency.api_key) as mine:
        seen = mine.get_lead(lead_id).raw_payloads
        assert seen == [
            {k: v for k, v in payload.items() if k != "body_url"} | {"source_name": None}
        ]  # the same person, no body, no way to it
        for pid in (payload["id"], 987654):
            with pytest.raises(ApiError) as e:
                mine.get_raw_payload(pid)
            assert e.value.status == 404 and e.value.detail == f"raw payload {pid} not found"
    with pytest.raises(ApiError) as e:
        api.admin.get_raw_payload(987654)
    assert e.value.status == 404


def test_the_person_is_found_in_every_shape_and_a_bad_body_breaks_nothing(api, db):
    bodies = {
        "contacts": '{"contacts": [{"id": "c-9", "person_id": "ap-2"}, '
        '{"id": "c-1", "person_id": "ap-1", "name": "Contact"}]}',
        "matches": '{"matches": [null, {"id": "ap-2"}, {"id": "ap-1", "name": "Match"}]}',
        "bom list": '\ufeff  [{"id": "zz"}, {"email": "ONE@x.example", "name": "By email"}]',
        "bare": '{"id": "ap-1", "first_name": "Bare"}',
        "people and person": '{"people": [{"id": "ap-3"}], "person": {"id": "ap-1", "name": "Person"}}',
        "truncated": '{"people": [{"id": "ap-1"',
        "nul": '{"people": [{"id": "ap-1", "note": "\\u0000"}]}',
        "csv": "ap-1,one@x.example,One",
        "empty": "",
        "someone else": '{"people": [{"id": "ap-2"}]}',
    }
    expected = {
        "contacts": {"id": "ap-1", "contact_id": "c-1", "name": "Contact"},
        "matches": {"id": "ap-1", "name": "Match"},
        "bom list": {"email": "ONE@x.example", "name": "By email"},
        "bare": {"id": "ap-1", "first_name": "Bare"},
        "people and person": {"id": "ap-1", "name": "Person"},
    }
    with session_scope(db) as s:
        lead = Lead(apollo_id="ap-1", email="one@x.example")
        s.add(lead)
        s.flush()
        ids = {}
        for name, body in bodies.items():
            p = RawPayload(
                endpoint="file:csv" if name == "csv" else "people/match",
                body=body,
                body_sha256=hashlib.sha256(body.encode()).hexdigest(),
            )
            s.add(p)
            s.flush()
            s.add(LeadRawPayload(lead_id=lead.id, raw_payload_id=p.id))
            ids[p.id] = name
        lead_id = lead.id
    detail = api.admin.get_lead(lead_id)
    assert detail.raw_payloads_total == len(bodies)
    got = {ids[p["id"]]: p for p in detail.raw_payloads}
    assert set(got) == set(bodies)
    for name, p in got.items():
        assert p["person"] == expected.get(name), name
        assert p["body_bytes"] == len(bodies[name].encode())
        assert p["body"] == bodies[name]  # small bodies still come inline for the admin
