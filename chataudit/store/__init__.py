"""The archive store. SQLite is the embedded default, PostgreSQL the team store (a postgresql://
connection string as --db); callers use :class:`Archive` only, which opens the right one."""

from .sqlite import (DATABASE_ERRORS, OPERATIONAL_ERRORS, SQLITE_ERRORS, Archive, ConversationRow, ImportResult,
                     SourceInfo, archive_exists, database_error_line, db_location, default_db_path, is_postgres)

__all__ = ["DATABASE_ERRORS", "OPERATIONAL_ERRORS", "SQLITE_ERRORS", "Archive", "ConversationRow", "ImportResult", "SourceInfo",
           "archive_exists", "database_error_line", "db_location", "default_db_path", "is_postgres"]
