"""Renderers: every listing goes through :func:`emit` (JSON, JSON lines, CSV or a terminal table)."""

from .output import emit, emit_json, write_csv, write_jsonl

__all__ = ["emit", "emit_json", "write_csv", "write_jsonl"]
