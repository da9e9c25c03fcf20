"""Bounds every domain applies to what it stores: ids are PostgreSQL bigints, and instants stay in
a range every date computation can handle (a cooling period added to a year-9999 date overflows,
and a touch stored at one broke every timeline listing it)."""

from __future__ import annotations

from datetime import UTC, datetime

MAX_ID = 2**63 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
# an agency's or a campaign's name, as the API's models bound it (the CLI took 5,000 characters)
MAX_NAME = 200
# the most leads one allocation request may ask for (the API's ``count``, the CLI's ``--count``)
MAX_REQUEST_COUNT = 100_000
