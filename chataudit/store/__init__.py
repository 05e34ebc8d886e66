"""The archive store. SQLite is the embedded default; callers use :class:`Archive` only."""

from .sqlite import Archive, ConversationRow, ImportResult, SourceInfo, database_error_line, default_db_path

__all__ = ["Archive", "ConversationRow", "ImportResult", "SourceInfo", "database_error_line", "default_db_path"]
