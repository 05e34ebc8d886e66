"""The one place governance reads the time, so that expiry and retention can be tested at any date."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def now_ms() -> int:
    return int(now().timestamp() * 1000)


def iso(moment: datetime | None = None) -> str:
    """ISO 8601 UTC with milliseconds and a Z, e.g. 2026-03-12T07:01:02.345Z (sorts as it reads)."""
    moment = moment or now()
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
