"""``leadpool demo``: a month of two agencies' outreach through the gate, and the proof."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from leadpool.cli.common import JsonOption, console, handle_errors, print_json

if TYPE_CHECKING:
    from leadpool.simulation.run import DemoSummary


def demo(
    people: int = typer.Option(20000, "--people", "-n", min=100, help="Generated people in the pool."),
    days: int = typer.Option(30, "--days", min=1, max=365, help="Simulated days of sending."),
    seed: int = typer.Option(7, "--seed", "-s", help="Random seed (the run is deterministic for it)."),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for the HTML report (default: LEADPOOL_HOME/demo)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Simulate two agencies' outreach through the gate and check every rule on the database.

    Starts the API (in a fresh database, leadpool_demo, on the embedded PostgreSQL unless
    LEADPOOL_DATABASE_URL is set) and a fake Apollo; loads a generated pool; Agency A runs five
    near-identical campaigns over email, LinkedIn, SMS and phone, Agency B sells to the same
    companies and cancels on day 20; sending engines ask the gate through the API before every
    touch and report bounces, replies, unsubscribes, complaints and conversions. Prints the
    summary and the invariants (violations must all be 0) and writes an HTML report.
    """
    from leadpool.simulation.run import run_demo

    with handle_errors():
        summary = run_demo(people=people, days=days, seed=seed, out=out, progress=not json_out)
    if json_out:
        print_json(summary.as_dict())
    else:
        print_summary(summary)
    if summary.violations:
        raise typer.Exit(1)


def print_summary(s: DemoSummary) -> None:
    console.print(
        Text.from_markup("[bold]leadpool demo[/bold]"),
        f": {s.days} simulated days ({s.simulated_from[:10]} to "
        f"{s.simulated_to[:10]}), {s.people:,} generated people, seed {s.seed}, {s.wall_seconds:.1f} s",
        sep="",
    )
    console.print(
        f"pool: {s.pool.get('leads', 0):,} leads ({s.pool.get('duplicates_merged', 0):,} duplicates merged), "
        f"{s.pool.get('companies', 0):,} companies; {s.enrolled:,} leads enrolled in "
        f"{len(s.campaigns)} campaigns of {len(s.agencies)} agencies"
    )
    t = Table(title="touches", show_header=False)
    t.add_column("what")
    t.add_column("count", justify="right")
    for label, value in (
        ("attempted (gate checks)", s.touches_attempted),
        ("allowed", s.touches_allowed),
        ("sent (confirmed)", s.touches_sent),
        ("denied", s.touches_denied),
        ("retried after a temporary denial", s.retries),
    ):
        t.add_row(label, f"{value:,}")
    for ch, n in sorted(s.sent_by_channel.items()):
        t.add_row(f"  sent by {ch}", f"{n:,}")
    console.print(t)
    r = Table(title="denied by reason (first reason / any reason)")
    r.add_column("reason")
    r.add_column("first", justify="right")
    r.add_column("any", justify="right")
    for code, n in s.denied_by_reason.items():
        r.add_row(code, f"{s.denied_by_first_reason.get(code, 0):,}", f"{n:,}")
    console.print(r)
    o = Table(title="outcomes reported (events)")
    o.add_column("event")
    o.add_column("count", justify="right")
    for k, v in s.events.items():
        o.add_row(k, f"{v:,}")
    console.print(o)
    b = ", ".join(
        f"{k} {v['bounced']}/{v['sent']} ({v['rate'] * 100:.1f}%)"
        for k, v in s.bounce_rate_by_email_status.items()
    )
    console.print(f"hard bounces by email_status: {b or '-'}")
    facts = s.database
    console.print(
        f"dead domains closed (a bounce said: accepts no mail): {facts.get('dead_domains', 0)}, "
        f"emails the gate then refused to their other people: {facts.get('emails_refused_at_dead_domains', 0)}; "
        f"campaigns paused by the bounce guard: {facts.get('campaigns_paused_by_bounce_guard', 0)}"
    )
    ref = s.refills
    console.print(
        f"refills: {ref.get('jobs', 0)} job(s) {ref.get('by_status', {})}, {ref.get('enriched', 0)} people "
        f"enriched from Apollo, {ref.get('allocated', 0)} allocated; credits spent: {s.credits:g}"
    )
    c = s.cancellation
    if c:
        console.print(
            f"{c['agency']} cancelled on day {c['day']}: {c['released']} leads released (quarantined until "
            f"{str(c['quarantine_until'])[:10]}), {c['kept_converted']} converted leads kept"
        )
    console.print(
        Text.assemble(
            (
                f"a sender without the gate would have made {s.naive_sender_extra_touches:,} touches the gate refused",
                "bold",
            ),
            f" (including {s.poach_attempts} attempts by Agency B on leads Agency A owns)",
        )
    )
    inv = Table(title="invariants checked on the database")
    inv.add_column("invariant")
    inv.add_column("violations", justify="right")
    for i in s.invariants:
        style = "green" if i["violations"] == 0 else "red"
        inv.add_row(i["description"], Text(str(i["violations"]), style=style))
    console.print(inv)
    console.print(f"report: {s.report_path}")
