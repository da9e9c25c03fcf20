"""The demo's HTML report: one self-contained file (inline CSS and SVG, no script, no CDN)."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadpool.dashboard.svg import bar_chart, line_chart, stacked_bar_chart

if TYPE_CHECKING:
    from leadpool.simulation.run import DemoSummary

CHANNELS = ("email", "linkedin", "sms", "phone")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#111827;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .7rem;border-bottom:1px solid #f3f4f6;
text-align:left;font-size:.9rem}th{background:#f9fafb}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}.grid{display:flex;flex-wrap:wrap;gap:2rem}
.note{color:#4b5563;font-size:.9rem}svg.chart{margin:.5rem 0}
"""


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(
        f"<tr><th>{escape(str(k))}</th><td class='n'>{escape(_fmt(v))}</td></tr>" for k, v in pairs
    )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def render(summary: DemoSummary) -> str:
    """The report's HTML for a finished run."""
    s = summary
    start = datetime.fromisoformat(s.simulated_from)
    day_labels = [(start + timedelta(days=d)).strftime("%a %d %b") for d in range(s.days)]
    sent_series = {ch: [float(row[ch]) for row in s.sent_by_day] for ch in CHANNELS}
    per_day = stacked_bar_chart(day_labels, sent_series, title="Touches sent per day, by channel", width=760)
    sent_total = [sum(row[ch] for ch in CHANNELS) for row in s.sent_by_day]
    versus = line_chart(
        [str(d + 1) for d in range(s.days)],
        {"sent": [float(v) for v in sent_total], "denied by the gate": [float(v) for v in s.denied_by_day]},
        title="Allowed and sent vs denied, per simulated day",
        width=760,
    )
    reasons = bar_chart(
        [(k, float(v)) for k, v in s.denied_by_reason.items()],
        title="Denials by reason (a denial may have several)",
        width=620,
    )
    outcomes = bar_chart(
        [(k, float(v)) for k, v in s.events.items()], title="Outcomes reported as events", width=620
    )
    bounce = "".join(
        f"<tr><th>{escape(status)}</th><td class='n'>{v['sent']:,}</td><td class='n'>{v['bounced']:,}</td>"
        f"<td class='n'>{v['rate'] * 100:.1f}%</td></tr>"
        for status, v in s.bounce_rate_by_email_status.items()
    )
    inv = "".join(
        f"<tr><th>{escape(i['name'])}</th><td>{escape(i['description'])}</td>"
        f"<td class='n {'ok' if i['violations'] == 0 else 'bad'}'>{i['violations']:,}</td></tr>"
        for i in s.invariants
    )
    campaigns = "".join(
        f"<tr><th>{escape(c['key'])}</th><td>{escape(c['agency'])}</td><td>{escape(c['name'])}</td>"
        f"<td>{escape(', '.join(c['channels']))}</td><td class='n'>{c['id']}</td></tr>"
        for c in s.campaigns
    )
    cancel = s.cancellation or {}
    verdict = (
        "<span class='ok'>every invariant holds (0 violations)</span>"
        if s.violations == 0
        else f"<span class='bad'>{s.violations} violations</span>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadpool demo report (seed {s.seed})</title>
<style>{_CSS}</style></head><body>
<h1>leadpool demo: {s.days} simulated days, {s.people:,} generated people, seed {s.seed}</h1>
<p class="note">Simulated {escape(s.simulated_from)} to {escape(s.simulated_to)}; ran in {
        s.wall_seconds:.1f} s.
Two agencies sell to construction companies; Agency A runs five near-identical campaigns over email,
LinkedIn, SMS and phone. Every touch was checked with the gate through the API first. Verdict: {verdict}.</p>
<h2>Summary</h2>
<div class="grid"><table>{
        _rows(
            [
                ("touches attempted (gate checks)", s.touches_attempted),
                ("allowed", s.touches_allowed),
                ("sent (confirmed)", s.touches_sent),
                ("denied", s.touches_denied),
                ("touches a sender without the gate would have made", s.naive_sender_extra_touches),
                ("retries after a temporary denial", s.retries),
                ("leads enrolled", s.enrolled),
                ("refill jobs", s.refills.get("jobs", 0)),
                ("people enriched by refills", s.refills.get("enriched", 0)),
                ("Apollo credits spent", s.credits),
            ]
        )
    }</table><table>{
        _rows(
            [
                ("pool leads imported", s.pool.get("leads", 0)),
                ("duplicates merged", s.pool.get("duplicates_merged", 0)),
                ("companies", s.pool.get("companies", 0)),
                (f"{cancel.get('agency', 'agency')} cancelled on day", cancel.get("day", "-")),
                ("leads released to the pool (quarantined)", cancel.get("released", 0)),
                ("converted leads it keeps", cancel.get("kept_converted", 0)),
                ("poaching attempts by Agency B", s.poach_attempts),
                ("consents recorded (leads where the law asks for one)", s.consents_recorded),
                (
                    "campaigns paused by the bounce guard",
                    s.database.get("campaigns_paused_by_bounce_guard", 0),
                ),
                (
                    "campaigns paused by the complaint guard",
                    s.database.get("campaigns_paused_by_complaint_guard", 0),
                ),
                ("dead domains closed (a bounce said: accepts no mail)", s.database.get("dead_domains", 0)),
                (
                    "emails refused to colleagues at dead domains",
                    s.database.get("emails_refused_at_dead_domains", 0),
                ),
            ]
        )
    }</table></div>
<h2>Invariants checked on the database afterwards</h2>
<table><tr><th>invariant</th><th>what would be a violation</th><th>violations</th></tr>{inv}</table>
<h2>Touches</h2>
{per_day}
{versus}
<h2>Why the gate said no</h2>
<div class="grid">{reasons}</div>
<h2>Outcomes</h2>
<div class="grid">{outcomes}
<table><tr><th>email_status</th><th>emails sent</th><th>hard bounces</th><th>rate</th></tr>{
        bounce
    }</table></div>
<h2>Campaigns</h2>
<table><tr><th>key</th><th>agency</th><th>name</th><th>channels</th><th>id</th></tr>{campaigns}</table>
<p class="note">Database: {escape(_safe_uri(s.database_uri))}. Hidden truth per segment (for backtests):
{escape(s.truth_path or "-")}.</p>
</body></html>
"""


def _safe_uri(uri: str | None) -> str:
    if not uri:
        return "-"
    from sqlalchemy.engine import make_url

    return make_url(uri).render_as_string(hide_password=True)


def write_report(summary: DemoSummary, path: Path) -> Path:
    """Write the report (atomically) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(render(summary), encoding="utf-8")
    tmp.replace(path)
    return path
