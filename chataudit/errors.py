"""Errors that reach the user as one line."""

from __future__ import annotations


class ChatAuditError(Exception):
    """Base class: every error the CLI prints as a single line."""


class ParseError(ChatAuditError):
    """A source file is malformed; carries where, so the user can open the file at that line."""

    def __init__(self, path: str, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        # one line, whatever the file put in it (a quoted value may hold line breaks)
        self.message = message.replace("\r", "\\r").replace("\n", "\\n")
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {self.message}")


class UnknownFormatError(ChatAuditError):
    """No registered format recognised a file."""
