"""An operator's journey: erasing a person from the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from typer.testing import CliRunner

from leadpool.cli import app
from leadpool.db import Database
from leadpool.models import Lead

from .conftest import World


def test_the_human_output_of_an_erasure_names_the_other_leads_it_erased(
    db: Database, world: World, get_lead: Callable[[int], Lead]
) -> None:
    """`leadpool leads erase ID --actor WHO` also erases every other lead of the same person
    (docs/events.md: "is erased too, with its own audit row (`same_person_as`) and listed in
    `same_person_erased`"). `--json` lists them; the human output prints only "erased lead N: 3
    suppressions added, ..." and never says that lead M was erased as well, so an operator
    answering a data-subject request from the text output cannot report every record erased,
    and does not learn that an irreversible action reached a second lead. The text output should
    carry the same facts as --json, at least this one."""
    first = world.lead(personal_emails=["pat.home@example.net"])
    for _ in range(40):  # an id no count in the summary line can be mistaken for
        world.lead()
    second = world.lead(email="pat.home@example.net", linkedin_url=None, phone=None)
    res = CliRunner().invoke(app, ["leads", "erase", str(first), "--actor", "dpo", "--yes"])
    assert res.exit_code == 0, res.output
    assert get_lead(second).erased_at is not None  # the rule applied
    rest = res.stdout.replace(f"lead {first}", "")
    assert re.search(rf"(?<!\d){second}(?!\d)", rest), res.stdout
    # the JSON of a repeat says it was already done, and the first run's JSON named it
    again = CliRunner().invoke(app, ["leads", "erase", str(first), "--actor", "dpo", "--yes", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["already_erased"] is True
