"""Dead domains over HTTP: the operators list them and revive one (admin only); an agency is
refused; a revive is audited, idempotent and reads a domain as the CLI does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from api.conftest import ADMIN_TOKEN
from leadpool.client import ApiError
from leadpool.db import session_scope
from leadpool.models import AuditLog, DeadDomain


def _bounce(api, email: str, status: str, event_id: str) -> list[str]:
    result = api.admin.record_event(
        {
            "type": "hard_bounce",
            "email": email,
            "channel": "email",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "source": "sendgrid",
            "provider_event_id": event_id,
            "detail": {"smtp_status": status},
        }
    )
    return result.effects


def test_the_admin_lists_and_revives_a_dead_domain_and_an_agency_is_refused(api, world, db) -> None:
    assert api.admin.dead_domains() == []
    assert "domain:dead" in _bounce(api, "jane@gone.example", "5.1.2", "dd-1")
    assert "domain:dead" not in _bounce(api, "kim@gmail.com", "5.1.2", "dd-2")  # a mailbox provider

    listed = api.admin.dead_domains()
    assert [(d.domain, d.smtp_status, d.bounces) for d in listed] == [("gone.example", "5.1.2", 1)]
    assert listed[0].until - listed[0].since == timedelta(days=90)

    for client in (world.ca, world.cb):
        for call in (client.dead_domains, lambda c=client: c.revive_domain("gone.example")):
            with pytest.raises(ApiError) as refused:
                call()
            assert refused.value.status == 403
    assert [d.domain for d in api.admin.dead_domains()] == ["gone.example"]  # the refusal changed nothing

    # a URL is read as its host's domain, as `leadpool send revive-domain` reads it
    revived = api.admin.revive_domain("https://www.Gone.example/")
    assert revived.revived is True and revived.domain is not None
    assert (revived.domain.domain, revived.domain.cause_event_id) == (
        "gone.example",
        listed[0].cause_event_id,
    )
    assert api.admin.dead_domains() == []
    for n, name in enumerate(("c.example", "a.example", "b.example")):
        _bounce(api, f"x@{name}", "5.1.10", f"dd-page-{n}")
    first = api.admin.dead_domains(limit=2)
    assert [d.domain for d in first] == ["a.example", "b.example"]
    paged = httpx.get(
        f"{api.url}/v1/dead-domains", params={"limit": 2}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert paged.headers["link"] == '</v1/dead-domains?limit=2&after=b.example>; rel="next"'
    whole = httpx.get(f"{api.url}/v1/dead-domains", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert "link" not in whole.headers and len(whole.json()) == 3
    assert [d.domain for d in api.admin.dead_domains(limit=2, after=first[-1].domain)] == ["c.example"]
    for bad, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"after": "x" * 301}, "after")):
        r = httpx.get(
            f"{api.url}/v1/dead-domains", params=bad, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert r.status_code == 422 and field in r.json()["detail"], r.text
    assert len(api.admin.dead_domains()) == 3  # the refusals changed nothing
    for name in ("a.example", "b.example", "c.example"):
        api.admin.revive_domain(name)
    again = api.admin.revive_domain("gone.example")
    assert (again.revived, again.domain) == (False, None)
    with session_scope(db) as s:
        assert s.scalars(select(DeadDomain)).all() == []
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "domain.revive")).all()
        assert {(a.subject_id, a.actor) for a in audit} == {
            (d, "admin") for d in ("gone.example", "a.example", "b.example", "c.example")
        }


def test_reviving_something_that_is_not_a_domain_says_so_and_changes_nothing(api, db) -> None:
    _bounce(api, "li@closed.example", "5.1.10", "dd-3")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for bad in ("not a domain", " ", "a@b@c", "x" * 301):
        answer = httpx.post(
            f"{api.url}/v1/dead-domains/revive", headers=headers, json={"domain": bad}, timeout=30
        )
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    with session_scope(db) as s:
        assert [r.domain for r in s.scalars(select(DeadDomain))] == ["closed.example"]
        assert s.scalars(select(AuditLog).where(AuditLog.action == "domain.revive")).all() == []
