"""``leadpool settings``: every setting of every domain, in one place, with its value and default.

Secrets are never printed: a set secret shows as ``(set)``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_settings import BaseSettings
from rich.table import Table
from rich.text import Text

from leadpool.cli.common import JsonOption, console, handle_errors, print_json

_SECRET_WORDS = ("key", "secret", "token", "auth", "password", "database_url")


def _is_secret(name: str) -> bool:
    return any(w in name for w in _SECRET_WORDS)


def _shown(name: str, value: Any) -> Any:
    if _is_secret(name):
        return "(set)" if value else None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _groups() -> list[tuple[str, str, BaseModel]]:
    from leadpool.config import env_prefix, settings_models
    from leadpool.gate.policy import ENV_PREFIX, platform_policy

    groups: list[tuple[str, str, BaseModel]] = [(g, env_prefix(m), m()) for g, m in settings_models()]
    # the gate's platform policy is read from the environment by the gate itself (validated as a whole)
    gate = ("gate (platform level; agencies and campaigns may override)", ENV_PREFIX, platform_policy())
    return [*groups[:3], gate, *groups[3:]]


def collect() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for group, prefix, model in _groups():
        for name, field in type(model).model_fields.items():
            default = field.get_default(call_default_factory=True)
            rows.append(
                {
                    "group": group,
                    "env": f"{prefix}{name.upper()}" if isinstance(model, BaseSettings | BaseModel) else None,
                    "value": _shown(name, getattr(model, name)),
                    "default": _shown(name, default),
                    "description": field.description or "",
                }
            )
    return rows


def settings_cmd(json_out: bool = JsonOption) -> None:
    """List every setting: environment variable, current value, default and meaning."""
    with handle_errors():
        rows = collect()
    if json_out:
        print_json({"settings": rows})
        return
    table = Table(show_lines=False)
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("default", overflow="fold")
    table.add_column("meaning")
    group = None
    for r in rows:
        if r["group"] != group:
            group = r["group"]
            table.add_row(Text(group, style="bold"), "", "", "")
        table.add_row(r["env"], str(r["value"]), str(r["default"]), r["description"])
    console.print(table)
