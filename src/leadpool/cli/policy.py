"""``leadpool agency set-policy`` and ``leadpool campaign set-policy``: a level's gate policy override."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import typer

from leadpool.cli.common import console, database, handle_errors, print_json
from leadpool.db import session_scope
from leadpool.errors import InvalidInput
from leadpool.gate import overrides

PolicyArgument = typer.Argument(
    None,
    help="The override, a JSON object of the shape of LEADPOOL_GATE_POLICY (docs/gate.md), e.g. "
    '\'{"allowed_email_statuses": ["verified", "extrapolated"]}\', or @FILE to read it from a file. '
    "It replaces the level's whole override.",
)
ClearOption = typer.Option(False, "--clear", help="Remove the override (the level above holds).")
ActorOption = typer.Option(..., "--actor", help="Who changes it (kept in the audit log).")


def set_policy(
    level: Literal["agency", "campaign"],
    id_: int,
    policy: str | None,
    clear: bool,
    actor: str,
    json_out: bool,
) -> None:
    with handle_errors():
        value = _read(policy, clear)
        with database() as db, session_scope(db) as s:
            at = datetime.now(UTC)
            if level == "agency":
                view = overrides.set_agency_policy(s, id_, value, actor=actor, at=at)
            else:
                view = overrides.set_campaign_policy(s, id_, value, actor=actor, at=at)
    if json_out:
        print_json(view.as_dict())
        return
    what = json.dumps(view.overrides, sort_keys=True) if view.overrides else "none (the level above holds)"
    console.print(f"{level} {id_}: gate policy override {what}")
    if view.effective is None:
        console.print(f"in force: none, its checks deny gate_error: {view.error}")
    else:
        console.print(f"in force: {json.dumps(view.effective.model_dump(mode='json'), sort_keys=True)}")


def _read(policy: str | None, clear: bool) -> dict[str, Any] | None:
    if clear:
        if policy is not None:
            raise InvalidInput("give an override or --clear, not both")
        return None
    if policy is None:
        raise InvalidInput("give the override (a JSON object, or @FILE), or --clear to remove it")
    text = policy
    if policy.startswith("@"):
        path = Path(policy[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"{path}: cannot read the override ({e.__class__.__name__}: {e})") from e
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"the override is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    except (RecursionError, ValueError) as e:  # nested too deep; an integer of thousands of digits
        raise InvalidInput(f"the override is not a policy: {type(e).__name__}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"the override must be a JSON object, not {type(value).__name__}")
    return value
