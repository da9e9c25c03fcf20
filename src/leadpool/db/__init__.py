"""Database access: the embedded server, engines, sessions and migrations."""

from leadpool.db.engine import Database, open_database
from leadpool.db.session import session_scope

__all__ = ["Database", "open_database", "session_scope"]
