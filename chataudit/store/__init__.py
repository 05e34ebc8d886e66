"""The archive store. SQLite is the embedded default; callers use :class:`Archive` only."""

from .sqlite import (DATABASE_ERRORS, OPERATIONAL_ERRORS, SQLITE_ERRORS, Archive, ConversationRow, ImportResult,
                     SourceInfo, database_error_line, default_db_path)

__all__ = ["DATABASE_ERRORS", "OPERATIONAL_ERRORS", "SQLITE_ERRORS", "Archive", "ConversationRow", "ImportResult", "SourceInfo", "database_error_line", "default_db_path"]
