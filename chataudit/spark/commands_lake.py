"""``spark import`` and ``spark verify``: building and checking a lake on the executors."""

from __future__ import annotations

from .commands import spark  # noqa: F401
