"""Lead scores: stored per channel with the model version, private backoff, and allocation by score."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from tests.allocation.factories import NOW, make_agency, make_campaign, make_company, make_leads

from insights.factrows import add_facts
from leadpool.allocation import pool
from leadpool.allocation.allocate import allocate, lock_campaigns
from leadpool.db import session_scope
from leadpool.insights import score
from leadpool.insights.privacy import is_safe
from leadpool.insights.rates import count_cells


def _history(s) -> None:
    # three agencies: owners at construction companies answer positively far more than managers
    for a in (101, 102, 103):
        add_facts(s, 100, replies=20, positives=15, agency_id=a, industry="construction", seniority="owner")
        add_facts(s, 100, replies=5, positives=1, agency_id=a, industry="construction", seniority="manager")
    # one agency alone in a segment: too thin to be used for anyone's score
    add_facts(s, 200, replies=100, positives=100, agency_id=104, industry="construction", seniority="intern")


def test_scores_are_stored_with_model_version_and_respect_privacy(db):
    with session_scope(db) as s:
        _history(s)
        co = make_company(s, industry="Construction", estimated_num_employees=120)
        owner = make_leads(
            s, 1, company_id=co, seniority="owner", linkedin_url="https://www.linkedin.com/in/o1"
        )
        manager = make_leads(s, 1, company_id=co, seniority="manager")
        intern = make_leads(s, 1, company_id=co, seniority="intern")
    with session_scope(db) as s:
        res = score.score_leads(s, at=datetime(2026, 4, 1, tzinfo=UTC))
        assert res.model_version.startswith("seg-v1-")
        rows = s.execute(text("SELECT lead_id, channel, score, model_version FROM lead_scores")).all()
        assert {r.model_version for r in rows} == {res.model_version}
        by = {(r.lead_id, r.channel): r.score for r in rows}
        # reachable channels only: the owner has email and LinkedIn, the others email only
        assert set(by) == {
            (owner[0], "email"),
            (owner[0], "linkedin"),
            (manager[0], "email"),
            (intern[0], "email"),
        }
        assert by[(owner[0], "email")] > 0.1 > by[(manager[0], "email")]
        # the intern segment (50% positive) is one agency's: its lead gets the rate of the deepest
        # safe ancestor, (email, construction), not anything fitted on agency 104's segment alone
        model = score.fit_model(s)
        assert ("email", "construction", "intern") not in model.rates
        assert by[(intern[0], "email")] == model.rates[("email", "construction")] < 0.25
        best = dict(s.execute(text("SELECT id, insight_score FROM leads")).tuples().all())
        assert best[owner[0]] == max(by[(owner[0], "email")], by[(owner[0], "linkedin")])
        assert score.scores_of(s, owner[0])[0]["model_version"] == res.model_version


def test_allocation_prefers_higher_score_within_the_same_rank(db):
    with session_scope(db) as s:
        _history(s)
        co = make_company(s, industry="Construction", estimated_num_employees=120)
        managers = make_leads(s, 4, company_id=co, seniority="manager")  # lower ids: first without scores
        owners = make_leads(s, 4, company_id=co, seniority="owner")
        agency = make_agency(s)
        camp = make_campaign(s, agency)
        other = make_campaign(s, make_agency(s))
    with session_scope(db) as s:
        before = allocate(s, other, 2, at=NOW)
        assert before.lead_ids == managers[:2]  # no scores yet: id order within the rank
        s.rollback()
    with session_scope(db) as s:
        score.score_leads(s)
    with session_scope(db) as s:
        res = allocate(s, camp, 4, at=NOW)
    assert sorted(res.lead_ids) == sorted(owners)


def test_candidates_are_read_in_index_order(db):
    with session_scope(db) as s:
        co = make_company(s)
        make_leads(s, 3, company_id=co)
        agency = make_agency(s)
        camp = make_campaign(s, agency)
    with session_scope(db) as s:
        (locked,) = lock_campaigns(s, [camp])
        stmt = pool.pool_candidates(locked.target, NOW, 10, company_exclusive=False)
        s.execute(text("SET LOCAL enable_seqscan = off"))
        s.execute(text("SET LOCAL enable_sort = off"))
        compiled = stmt.compile(dialect=s.get_bind().dialect, compile_kwargs={"render_postcompile": True})
        plan = "\n".join(
            r[0] for r in s.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
        )
    # the order is served by the index (no sort of every matching lead), as before the score
    assert "Index Scan using ix_leads_insight_rank on leads" in plan
    assert "Sort" not in plan


def test_scoring_survives_a_safe_cell_under_an_unsafe_parent(db):
    with session_scope(db) as s:
        # LinkedIn: delivered by three agencies (the whole platform is safe)
        for a in (1, 2, 3):
            add_facts(s, 30, replies=3, positives=1, agency_id=a, channel="linkedin", industry="retail")
        # email, construction: three agencies, 60 leads, every send bounced (a bad list)
        for a in (1, 2, 3):
            add_facts(s, 20, bounces=20, agency_id=a, channel="email", industry="construction")
        # email, retail: delivered by agencies 1 and 2 only
        for a in (1, 2):
            add_facts(s, 40, replies=4, positives=2, agency_id=a, channel="email", industry="retail")
        co = make_company(s, industry="Construction", estimated_num_employees=120)
        make_leads(s, 1, company_id=co)
    with session_scope(db) as s:
        cells = {c.key: c for c in count_cells(s, score.SCORE_DIMS[:2])}
        assert is_safe(cells[()].counts) and is_safe(cells[("email", "construction")].counts)
        assert not is_safe(cells[("email",)].counts)  # the premise: a safe child, an unsafe parent
    with session_scope(db) as s:
        result = score.score_leads(s)  # KeyError: ('email',) in shrink_cells
    assert result.leads >= 1
