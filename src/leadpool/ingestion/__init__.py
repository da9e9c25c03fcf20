"""Ingestion: bringing Apollo people and companies into the pool (normalise, dedupe, upsert, keep raw).

Entry points: ``import_people`` (API responses, used by enrichment and the HTTP API) and
``import_files`` (``leadpool import``). Modules: ``normalize`` (emails, LinkedIn URLs, phones,
domains), ``timezone`` (countries and IANA zones from GeoNames), ``records`` (person/organization
objects -> typed columns, what counts as "no data"), ``formats`` and ``csv_export`` (file readers),
``importer`` (the set-based batch loader and the identity rules), ``resolve`` (identities and
merge rules of one batch, in memory), ``phones`` (ranking and merging a person's numbers),
``hashing`` (suppression HMACs).
"""

from leadpool.ingestion.importer import IdentityConflict, ImportResult, Rejection
from leadpool.ingestion.service import import_files, import_people

__all__ = ["IdentityConflict", "ImportResult", "Rejection", "import_files", "import_people"]
