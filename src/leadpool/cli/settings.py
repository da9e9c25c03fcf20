"""``leadpool settings``: every setting of every domain, in one place, with its value and default.

Secrets are never printed: a set secret shows as ``(set)``. With ``--json`` each value is the
JSON the variable takes (lists as arrays, numbers as numbers); the text form gives each group a
heading and each setting its own lines, so the meaning stays readable on an 80-column terminal.
"""

from __future__ import annotations

import json
import os
import textwrap
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from rich.console import Group
from rich.text import Text

from leadpool.cli.common import JsonOption, console, handle_errors, print_json

_SECRET_WORDS = ("key", "secret", "token", "auth", "password", "database_url")

GATE_POLICY_MEANING = (
    "The platform gate policy as one JSON object (the fields below, e.g. "
    '{"lead_daily_cap": 1, "windows": {"linkedin": null}}); the per-field LEADPOOL_GATE_* variables '
    "are applied over it. Agencies and campaigns may override it (docs/gate.md)."
)


def _is_secret(name: str) -> bool:
    return any(w in name for w in _SECRET_WORDS)


def _jsonable(value: Any) -> Any:
    """The value as JSON data: tuples and sets as lists, Decimals as numbers, models as objects."""
    if isinstance(value, BaseModel):
        return _jsonable(value.model_dump())
    if isinstance(value, bool | str | int | float | type(None)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=str)
    return to_jsonable_python(value)  # paths, times: their JSON text


def _shown(name: str, value: Any) -> Any:
    if _is_secret(name):
        return "(set)" if value else None
    return _jsonable(value)


def _groups() -> list[tuple[str, str, BaseModel]]:
    from leadpool.config import env_prefix, settings_models
    from leadpool.gate.policy import ENV_PREFIX, platform_policy

    groups: list[tuple[str, str, BaseModel]] = [(g, env_prefix(m), m()) for g, m in settings_models()]
    # the gate's platform policy is read from the environment by the gate itself (validated as a whole)
    gate = ("gate (platform level; agencies and campaigns may override)", ENV_PREFIX, platform_policy())
    return [*groups[:3], gate, *groups[3:]]


def _gate_policy_row(group: str, prefix: str) -> dict[str, Any]:
    """``LEADPOOL_GATE_POLICY``: the whole platform policy in one variable (read by the gate
    before the per-field ones; ``platform_policy()`` has already refused it if it is not valid)."""
    env = f"{prefix}POLICY"
    raw = os.environ.get(env)
    value: Any = None
    if raw:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
    return {"group": group, "env": env, "value": value, "default": None, "description": GATE_POLICY_MEANING}


def collect() -> list[dict[str, Any]]:
    from leadpool.gate.policy import ENV_PREFIX

    rows: list[dict[str, Any]] = []
    for group, prefix, model in _groups():
        if prefix == ENV_PREFIX:
            rows.append(_gate_policy_row(group, prefix))
        for name, field in type(model).model_fields.items():
            default = field.get_default(call_default_factory=True)
            rows.append(
                {
                    "group": group,
                    "env": f"{prefix}{name.upper()}",
                    "value": _shown(name, getattr(model, name)),
                    "default": _shown(name, default),
                    "description": field.description or "",
                }
            )
    return rows


def _text(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


def _render(rows: list[dict[str, Any]], width: int) -> Group:
    """One heading per group; per setting, ``NAME = value`` (and the default when it differs),
    then its meaning indented on the lines below, wrapped to the terminal's width."""
    parts: list[Any] = []
    group = None
    for r in rows:
        if r["group"] != group:
            group = r["group"]
            if parts:
                parts.append(Text(""))
            parts.append(Text(group, style="bold underline"))
        line = Text.assemble((r["env"], "bold"), " = ", _text(r["value"]))
        if r["value"] == r["default"]:
            line.append(" (default)", style="dim")
        else:
            default = "not set" if r["default"] is None else _text(r["default"])
            line.append(f" (default: {default})", style="dim")
        parts.append(line)
        # indented by hand: rich would pad every wrapped line with spaces to the full width
        parts.extend(Text(f"    {part}") for part in textwrap.wrap(r["description"], width))
    return Group(*parts)


def settings_cmd(json_out: bool = JsonOption) -> None:
    """List every setting: environment variable, current value, default and meaning."""
    with handle_errors():
        rows = collect()
    if json_out:
        print_json({"settings": rows})
        return
    console.print(_render(rows, max(30, console.width - 4)))
