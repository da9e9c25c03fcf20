"""Fuzz the whole API from its own /openapi.json (schemathesis): no 5xx, every answer as documented.

Bounded and deterministic: a fixed number of examples per operation, derandomized, no example
database, run against the real server with the admin token and with an agency key.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.conftest import ADMIN_TOKEN

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 5
pytestmark = pytest.mark.slow


def _fuzz(url: str, token: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    strategy = schema.as_strategy(mode)
    operations = sum(1 for _ in schema.get_all_operations())

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES * operations,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"]
)
def test_fuzz_as_admin(api, mode):
    api.admin.import_leads({"people": []})
    _fuzz(api.url, ADMIN_TOKEN, mode)


def test_fuzz_as_agency(api):
    key = api.admin.create_agency("Fuzzed Agency").api_key
    _fuzz(api.url, key, GenerationMode.POSITIVE)
