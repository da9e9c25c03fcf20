"""Shared helpers for ingestion tests: the reference person fixture and small person dicts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

# a copy of shared/reference/apollo_person_fixture.json (invented data), so tests need nothing outside the repo
FIXTURE = Path(__file__).parent / "data" / "apollo_person_fixture.json"


@pytest.fixture(scope="session")
def fixture_person_text() -> str:
    return FIXTURE.read_text()


@pytest.fixture
def fixture_person(fixture_person_text: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads(fixture_person_text))
