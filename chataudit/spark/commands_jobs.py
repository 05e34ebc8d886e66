"""``spark quality``, ``spark pii`` and ``spark supervise``: the single-machine jobs on Spark."""

from __future__ import annotations

from .commands import spark  # noqa: F401
