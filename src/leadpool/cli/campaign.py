"""``leadpool campaign`` and ``leadpool allocate-round``: campaigns and allocation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from leadpool.allocation import agencies, campaigns
from leadpool.allocation.allocate import allocate
from leadpool.allocation.icp import load_icp_file
from leadpool.allocation.rounds import allocate_round
from leadpool.cli.common import JsonOption, console, database, handle_errors, print_json, spinner
from leadpool.cli.policy import ActorOption, ClearOption, PolicyArgument, set_policy
from leadpool.db import session_scope
from leadpool.limits import MAX_ID, MAX_REQUEST_COUNT
from leadpool.models import Campaign

app = typer.Typer(no_args_is_help=True, help="Campaigns: ICP, channels, daily quota, status.")

# ids bounded as the database holds them, so one too big is named here, not refused by PostgreSQL
_CAMPAIGN_ID = typer.Argument(..., min=1, max=MAX_ID, help="Campaign id.")


def campaign_json(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "agency_id": c.agency_id,
        "name": c.name,
        "status": c.status,
        "channels": list(c.channels),
        "daily_quota": c.daily_quota,
        "icp": c.icp,
        "paused_reason": c.paused_reason,
        "activated_at": c.activated_at,
        "finished_at": c.finished_at,
    }


def _print_campaign(c: dict[str, Any], verb: str) -> None:
    console.print(
        f"campaign {c['id']} ({c['name']}, agency {c['agency_id']}) {verb}: status {c['status']}, "
        f"channels {','.join(c['channels'])}, daily quota {c['daily_quota']}"
    )


@app.command("create")
def create_cmd(
    agency: int = typer.Option(..., "--agency", min=1, max=MAX_ID, help="Agency id."),
    name: str = typer.Option(..., "--name", help="Campaign name."),
    channels: str = typer.Option("email", "--channels", help="Comma-separated: email,linkedin,sms,phone."),
    icp: Path = typer.Option(..., "--icp", help="ICP filter file (.yaml, .yml or .json)."),
    daily_quota: int = typer.Option(..., "--daily-quota", help="New leads per day."),
    activate: bool = typer.Option(False, "--activate", help="Activate right away."),
    json_out: bool = JsonOption,
) -> None:
    """Create a campaign (draft unless --activate) from an ICP file."""
    with handle_errors():
        model = load_icp_file(icp)
        with database() as db, session_scope(db) as s:
            c = campaigns.create_campaign(
                s, agency_id=agency, name=name, channels=channels, icp=model, daily_quota=daily_quota
            )
            if activate:
                c = campaigns.activate_campaign(s, c.id)
            out = campaign_json(c)
    if json_out:
        print_json(out)
    else:
        _print_campaign(out, "created")


@app.command("list")
def list_cmd(
    agency: int | None = typer.Option(
        None, "--agency", min=1, max=MAX_ID, help="Only this agency's campaigns."
    ),
    json_out: bool = JsonOption,
) -> None:
    """List campaigns."""
    with handle_errors(), database() as db, session_scope(db) as s:
        if agency is not None:
            agencies.get_agency(s, agency)  # an unknown one is not found, not an empty list
        rows = [campaign_json(c) for c in campaigns.list_campaigns(s, agency)]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "agency", "name", "status", "channels", "daily quota")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["agency_id"]),
            r["name"],
            r["status"],
            ",".join(r["channels"]),
            str(r["daily_quota"]),
        )
    console.print(table)


def _move(campaign_id: int, action: str, json_out: bool) -> None:
    with handle_errors(), database() as db, session_scope(db) as s:
        fn = {
            "activate": campaigns.activate_campaign,
            "pause": campaigns.pause_campaign,
            "resume": campaigns.resume_campaign,
            "finish": campaigns.finish_campaign,
        }[action]
        out = campaign_json(fn(s, campaign_id))
    if json_out:
        print_json(out)
    else:
        _print_campaign(
            out, {"activate": "activated", "pause": "paused", "resume": "resumed"}.get(action, "finished")
        )


@app.command("activate")
def activate_cmd(campaign_id: int = _CAMPAIGN_ID, json_out: bool = JsonOption) -> None:
    """draft -> active."""
    _move(campaign_id, "activate", json_out)


@app.command("pause")
def pause_cmd(campaign_id: int = _CAMPAIGN_ID, json_out: bool = JsonOption) -> None:
    """active -> paused."""
    _move(campaign_id, "pause", json_out)


@app.command("resume")
def resume_cmd(campaign_id: int = _CAMPAIGN_ID, json_out: bool = JsonOption) -> None:
    """paused -> active."""
    _move(campaign_id, "resume", json_out)


@app.command("finish")
def finish_cmd(campaign_id: int = _CAMPAIGN_ID, json_out: bool = JsonOption) -> None:
    """-> finished; its enrollments end (their leads rest), the agency keeps the leads."""
    _move(campaign_id, "finish", json_out)


@app.command("end-enrollment")
def end_enrollment_cmd(
    campaign_id: int = _CAMPAIGN_ID,
    lead_id: int = typer.Argument(..., min=1, max=MAX_ID, help="Lead id."),
    reason: str = typer.Option(
        "sequence_finished", "--reason", help="sequence_finished (no steps left) or removed (taken out)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """End the lead's enrollment without a reply; the lead then rests (no campaign of any agency)."""
    with handle_errors(), database() as db, session_scope(db) as s:
        res = campaigns.end_enrollment(s, campaign_id, lead_id, reason=reason, actor="cli")
    if json_out:
        print_json(res.as_dict())
        return
    if res.ended:
        assert res.rest_until is not None
        console.print(
            f"lead {lead_id}: enrollment in campaign {campaign_id} ended ({reason}); "
            f"resting until {res.rest_until:%Y-%m-%d %H:%M} UTC"
        )
    else:
        console.print(f"lead {lead_id} has no active enrollment in campaign {campaign_id}; nothing changed")


@app.command("allocate")
def allocate_cmd(
    campaign_id: int = _CAMPAIGN_ID,
    count: int = typer.Option(
        ...,
        "--count",
        "-n",
        min=1,
        max=MAX_REQUEST_COUNT,
        help="Leads wanted (capped by the daily quota left).",
    ),
    show_leads: bool = typer.Option(False, "--show-leads", help="List the lead ids (always in --json)."),
    idempotency_key: str | None = typer.Option(
        None,
        "--idempotency-key",
        help="Retry-safe: the same key on this campaign shows the first run's answer and allocates "
        "nothing more (another --count under it is refused).",
    ),
    json_out: bool = JsonOption,
) -> None:
    """Give the campaign up to COUNT leads now; a shortfall queues a refill job."""
    with handle_errors(), database() as db, session_scope(db) as s:
        res = allocate(s, campaign_id, count, actor="cli", idempotency_key=idempotency_key)
    if json_out:
        print_json(res.to_json())
        return
    if res.replayed:
        console.print("replayed: the first answer under this idempotency key; nothing more was allocated")
    console.print(
        f"campaign {campaign_id}: {len(res.lead_ids)} leads allocated ({res.reused} re-used, "
        f"{res.taken_from_pool} from the pool) of {res.granted} granted ({res.requested} asked)"
    )
    if res.shortfall:
        job = (
            f"refill job {res.refill_job_id} queued"
            if res.refill_job_id
            else f"no refill possible: {res.refill_unavailable}"
        )
        console.print(f"shortfall {res.shortfall}: {job}")
    if show_leads:
        console.print(" ".join(map(str, res.lead_ids)))


def allocate_round_cmd(json_out: bool = JsonOption) -> None:
    """Serve every active campaign's outstanding daily quota together, fairly."""
    with (
        handle_errors(),
        database() as db,
        spinner(json_out) as progress,  # no total is known before the round ends
        session_scope(db) as s,
    ):
        progress.add_task("allocating a round", total=None)
        res = allocate_round(s, actor="cli")
    if json_out:
        print_json(res.to_json())
        return
    table = Table("campaign", "asked", "target", "allocated", "re-used", "shortfall", "refill job")
    for c in res.campaigns:
        table.add_row(
            str(c.campaign_id),
            str(c.granted),
            str(res.targets.get(c.campaign_id, "")),
            str(len(c.lead_ids)),
            str(c.reused),
            str(c.shortfall),
            str(c.refill_job_id or ""),
        )
    console.print(table)
    console.print(f"{sum(len(c.lead_ids) for c in res.campaigns)} leads allocated; pool supply {res.supply}")
    why = next((c.refill_unavailable for c in res.campaigns if c.refill_unavailable), None)
    if why:
        console.print(f"shortfalls queued no refill: {why}")
    for cid, error in sorted(res.skipped.items()):
        console.print(f"campaign {cid} skipped: {error}", markup=False)


@app.command("set-policy")
def set_policy_cmd(
    campaign_id: int = _CAMPAIGN_ID,
    policy: str | None = PolicyArgument,
    clear: bool = ClearOption,
    actor: str = ActorOption,
    json_out: bool = JsonOption,
) -> None:
    """Set the campaign's gate policy override (caps, windows, allowed email statuses...), validated
    against the levels above; it holds from the next check. `send policy --campaign ID` shows it merged."""
    set_policy("campaign", campaign_id, policy, clear, actor, json_out)
