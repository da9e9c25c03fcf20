"""``leadpool insights``: segment rates with intervals, suggestions, refresh, backtest, re-enrichment."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from leadpool.cli.common import (
    JsonOption,
    console,
    database,
    handle_errors,
    print_fields,
    print_json,
    spinner,
)
from leadpool.db import session_scope
from leadpool.insights.backtest import run_backtest
from leadpool.insights.facts import rebuild_facts, refresh_facts
from leadpool.insights.rates import DIMENSIONS
from leadpool.insights.reenrich import queue_reenrichment, reenrichment_candidates
from leadpool.insights.report import DEFAULT_DIMS, insights_report
from leadpool.insights.score import score_leads
from leadpool.insights.suggest import campaign_suggestions
from leadpool.limits import MAX_ID

app = typer.Typer(
    invoke_without_command=True,
    help="Platform intelligence: what answers, when, and which data is bad (admin view).",
)


def _dims(value: str) -> list[str]:
    return [d.strip() for d in value.split(",") if d.strip()]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


def _rate_text(r: dict[str, Any]) -> str:
    lo, hi = r["credible"]
    return f"{_pct(r['shrunk'])} [{_pct(lo)}-{_pct(hi)}] ({r['x']}/{r['n']})"


def _table(title: str, cells: list[dict[str, Any]], metrics: tuple[str, ...]) -> Table:
    t = Table(title=title)
    t.add_column("segment")
    t.add_column("sends", justify="right")
    for m in metrics:
        t.add_column(f"{m} (shrunk [95% CrI] x/n)")
    for c in cells:
        seg = ", ".join(f"{k}={v}" for k, v in c["segment"].items()) or "(all)"
        t.add_row(seg, str(c["sends"]), *(_rate_text(c["rates"][m]) for m in metrics))
    return t


@app.callback()
def show(
    ctx: typer.Context,
    dims: str = typer.Option(
        ",".join(DEFAULT_DIMS), "--dims", help=f"Comma-separated dimensions, any of: {', '.join(DIMENSIONS)}."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Segments, rates with intervals (raw Wilson and shrunk Beta posterior), and suggestions."""
    if ctx.invoked_subcommand is not None:
        return
    with handle_errors(), database() as db, session_scope(db) as s:
        report = insights_report(s, agency_id=None, dims=_dims(dims))
    if json_out:
        print_json(report)
        return
    view = report["all"]
    print_fields(report["status"], "status.")
    console.print(
        _table("top segments by positive-reply rate", view["top_segments"]["positive"], ("positive", "reply"))
    )
    console.print(_table("bounce rate by email_status", view["bounce_by_email_status"], ("bounce",)))
    console.print(_table("bounce rate by data age", view["bounce_by_data_age"], ("bounce",)))
    console.print(_table("reply rate by local hour", view["reply_by_local_hour"], ("reply",)))
    sug = view["suggestions"]
    t = Table(title=f"suggested local send times per {sug['segment_dim']}")
    t.add_column(sug["segment_dim"])
    t.add_column("best hour")
    t.add_column("best weekday (1=Mon)")
    days = {str(x[sug["segment_dim"]]): x["local_weekday"] for x in sug["best_weekday"]}
    for x in sug["best_hour"]:
        seg = str(x[sug["segment_dim"]])
        t.add_row(seg, f"{x['local_hour']}:00 ({_pct(x['rate']['shrunk'])})", str(days.get(seg, "-")))
    console.print(t)


@app.command("refresh")
def refresh(
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Throw the facts away and rebuild them from scratch."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Bring outcome facts up to date (incrementally) and recompute every lead's score."""
    with handle_errors(), database() as db, spinner(json_out) as p:
        task = p.add_task("refreshing facts", total=None)
        with session_scope(db) as s:
            facts = (rebuild_facts if rebuild else refresh_facts)(s)
        p.update(task, description="scoring leads")
        with session_scope(db) as s:
            scored = score_leads(s)
    out = {"facts": facts.to_json(), "scores": scored.to_json()}
    if json_out:
        print_json(out)
    else:
        print_fields(out)


@app.command("backtest")
def backtest(
    seed: int = typer.Option(11, "--seed"),
    leads: int = typer.Option(20000, "--leads", min=500, help="Simulated leads (2 touches each)."),
    days: int = typer.Option(90, "--days", min=20),
    json_out: bool = JsonOption,
) -> None:
    """Score vs random vs fit score on a simulated history's held-out later period, and
    allocate() ranking with the score vs without it (positive replies for the same leads).

    The simulated rows are written in one transaction that is always rolled back."""
    with handle_errors(), database() as db, spinner(json_out) as p, db.sessionmaker() as s:
        p.add_task("simulating history and backtesting", total=None)
        try:
            result = run_backtest(s, seed=seed, leads=leads, days=days)
        finally:
            s.rollback()
    if json_out:
        print_json(result)
        return
    t = Table(
        title=f"held-out touches: {result['held_out_touches']} ({result['held_out_positives']} positive)"
    )
    for col in ("ranking", "AUC", "lift top 20%", "positives in top 20%", "expected (truth)"):
        t.add_column(col)
    for name in ("score", "fit_score", "random", "oracle"):
        r = result[name]
        t.add_row(
            name,
            str(r["auc"]),
            str(r["lift"]),
            str(r["positives_in_top"]),
            str(r["expected_positives_in_top"]),
        )
    console.print(t)
    a = result["allocation"]
    t = Table(
        title=f"allocate() on the {a['held_out_leads']} held-out leads, {a['allocated_each']} leads each "
        f"(expected gain {a['expected_gain']}, {a['expected_gain_pct']}%)"
    )
    for col in ("ranking", "leads", "positive replies", "expected (truth)"):
        t.add_column(col)
    for name, key in (("fit rank + score", "by_score"), ("fit rank only", "by_fit_score")):
        r = a[key]
        t.add_row(name, str(r["leads"]), str(r["positive_replies"]), str(r["expected_positive_replies"]))
    console.print(t)


@app.command("suggest")
def suggest(
    campaign_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The campaign to suggest send times for."),
    json_out: bool = JsonOption,
) -> None:
    """Best local send hour and weekday for a campaign's ICP segment (admin view: every fact)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        out = campaign_suggestions(s, campaign_id, agency_id=None)
    if json_out:
        print_json(out)
        return
    seg = out["segment"]
    view = out["all"]
    t = Table(
        title=f"campaign {campaign_id}: {seg['dimension'] or 'whole platform'} {', '.join(seg['values'])}"
    )
    for col in ("for", "best local hour", "best weekday (1=Mon)"):
        t.add_column(col)

    def cell(x: dict[str, Any] | None, key: str) -> str:
        return "-" if x is None else f"{x[key]} ({_pct(x['rate']['shrunk'])}, n={x['rate']['n']})"

    t.add_row("campaign", cell(view["best_hour"], "local_hour"), cell(view["best_weekday"], "local_weekday"))
    if seg["dimension"]:
        days = {str(x[seg["dimension"]]): x for x in view["by_segment"]["best_weekday"]}
        for x in view["by_segment"]["best_hour"]:
            value = str(x[seg["dimension"]])
            t.add_row(value, cell(x, "local_hour"), cell(days.get(value), "local_weekday"))
    console.print(t)


@app.command("reenrich")
def reenrich(
    limit: int = typer.Option(1000, "--limit", min=0),
    stale_days: int = typer.Option(365, "--stale-days", min=1, max=36500),
    recheck_days: int = typer.Option(
        30, "--recheck-days", min=1, max=36500, help="A guessed email is looked up again once it is this old."
    ),
    queue: bool = typer.Option(
        False, "--queue", help="Queue them for enrichment through refill (spends from the daily budget)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Leads whose data should be re-enriched (bounced with a new employer, guessed, stale),
    capped by today's remaining refill credit budget. Lists them; with --queue, defers one
    re-enrichment job that the worker (`leadpool worker`) runs within the budget."""
    with handle_errors(), database() as db, spinner(json_out) as p, session_scope(db) as s:
        p.add_task("queueing re-enrichment" if queue else "finding leads to re-enrich", total=None)
        if queue:
            out = queue_reenrichment(s, limit=limit, stale_days=stale_days, recheck_days=recheck_days)
        else:
            out = reenrichment_candidates(s, limit=limit, stale_days=stale_days, recheck_days=recheck_days)
    if json_out:
        print_json(out)
    else:
        print_fields({k: v for k, v in out.items() if k != "lead_ids"} | {"leads": len(out["lead_ids"])})
