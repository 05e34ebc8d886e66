"""What a quality report is asked for: filters, roster, scripts, taxonomy, lexicons and scorecard.

Everything here is read from small files the user edits (CSV, TSV, YAML); the defaults ship in
``chataudit/quality/data/``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ChatAuditError

ROLES = ("service", "sales")
DEFAULT_SLA_S = {"service": 30.0, "sales": 60.0}
LINE_S = 180.0  # the "answered within 3 minutes" line every report shows beside the SLA
DEFAULT_SESSION_GAP_S = 2 * 3600
DEFAULT_NEW_DAYS = 90


def data_text(name: str) -> str:
    return (resources.files(__package__) / "data" / name).read_text(encoding="utf-8")


def read_text(path: str | Path) -> str:
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ChatAuditError(f"{path}: not UTF-8 or GBK text")


def load_yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ChatAuditError(f"{where}{line}: not valid YAML ({getattr(error, 'problem', error)})") from None


@dataclass(frozen=True)
class RosterEntry:
    id: str
    name: str
    role: str  # service | sales | bot
    hired_on: date | None = None
    team: str | None = None


def load_roster(path: str | Path) -> list[RosterEntry]:
    """CSV ``id,name,role,hired_on[,team]`` (header optional). Role ``bot`` marks automated accounts."""
    text = read_text(path)
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0][:3]] == ["id", "name", "role"]:
        rows = rows[1:]
    entries = []
    for number, row in enumerate(rows, start=2 if text.lower().startswith("id,") else 1):
        if not row or not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 3:
            raise ChatAuditError(f"{path}:{number}: expected id,name,role,hired_on[,team]")
        ident, name, role = (c.strip() for c in row[:3])
        role = role.lower()
        if role not in ROLES + ("bot",):
            raise ChatAuditError(f"{path}:{number}: role must be service, sales or bot, not {role!r}")
        hired = None
        if len(row) > 3 and row[3].strip():
            try:
                hired = date.fromisoformat(row[3].strip().replace("/", "-"))
            except ValueError:
                raise ChatAuditError(f"{path}:{number}: hired_on {row[3]!r} is not a date like 2026-01-31") from None
        team = row[4].strip() or None if len(row) > 4 else None
        entries.append(RosterEntry(ident, name or ident, role, hired, team))
    if not entries:
        raise ChatAuditError(f"{path}: the roster lists nobody")
    return entries


@dataclass(frozen=True)
class ScriptCategory:
    name: str
    position: str  # first | last | any
    texts: tuple[str, ...]
    required: bool = True


def _position_for(category: str) -> str:
    return {"greeting": "first", "closing": "last"}.get(category, "any")


def parse_scripts(text: str, where: str) -> list[ScriptCategory]:
    """YAML ``category: {position, texts}`` / ``category: [texts]``, or TSV ``category<TAB>text``."""
    stripped = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if stripped and all("\t" in line for line in stripped):
        grouped: dict[str, list[str]] = {}
        for line in stripped:
            category, script = line.split("\t", 1)
            grouped.setdefault(category.strip(), []).append(script.strip())
        return [ScriptCategory(c, _position_for(c), tuple(t)) for c, t in grouped.items()]
    doc = load_yaml(text, where)
    if not isinstance(doc, dict):
        raise ChatAuditError(f"{where}: expected `category: [texts]` entries or TSV category<TAB>text lines")
    categories = []
    for name, value in doc.items():
        if isinstance(value, list):
            value = {"texts": value}
        if not isinstance(value, dict) or not value.get("texts"):
            raise ChatAuditError(f"{where}: category {name!r} has no texts")
        position = str(value.get("position") or _position_for(str(name)))
        if position not in ("first", "last", "any"):
            raise ChatAuditError(f"{where}: position of {name!r} must be first, last or any")
        categories.append(ScriptCategory(str(name), position, tuple(str(t) for t in value["texts"]),
                                         bool(value.get("required", True))))
    return categories


def load_scripts(path: str | Path | None) -> list[ScriptCategory]:
    if path is None:
        return parse_scripts(data_text("scripts.yaml"), "scripts.yaml")
    return parse_scripts(read_text(path), str(path))


def load_taxonomy(path: str | Path | None) -> dict[str, list[str]]:
    """Topic -> key words (YAML mapping, or TSV ``topic<TAB>word,word``)."""
    text, where = (data_text("topics.yaml"), "topics.yaml") if path is None else (read_text(path), str(path))
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if lines and all("\t" in line for line in lines):
        return {t.strip(): [w.strip() for w in re.split(r"[,，;；\s]+", ws) if w.strip()]
                for t, ws in (line.split("\t", 1) for line in lines)}
    doc = load_yaml(text, where) or {}
    if not isinstance(doc, dict) or not all(isinstance(v, list) for v in doc.values()):
        raise ChatAuditError(f"{where}: expected `topic: [key words]` entries")
    return {str(k): [str(w) for w in v] for k, v in doc.items()}


@dataclass(frozen=True)
class Lexicons:
    """Every word list the NLP parts use; its fingerprint keys the NLP cache."""

    sensitive: dict[str, dict[str, Any]]
    typos: list[tuple[str, str]]
    sentiment: dict[str, Any]
    resolution: dict[str, Any]
    source_text: str = ""

    @property
    def fingerprint(self) -> str:
        import hashlib

        return hashlib.sha256(self.source_text.encode()).hexdigest()[:16]


def load_lexicons(sensitive_path: str | Path | None = None) -> Lexicons:
    sensitive_text = data_text("sensitive.yaml") if sensitive_path is None else read_text(sensitive_path)
    sensitive = load_yaml(sensitive_text, str(sensitive_path or "sensitive.yaml")) or {}
    if not isinstance(sensitive, dict):
        raise ChatAuditError(f"{sensitive_path}: expected `category: {{who, words}}` entries")
    for name, value in list(sensitive.items()):
        if isinstance(value, list):
            value = {"words": value}
            sensitive[name] = value
        value.setdefault("who", "any")
        value.setdefault("label", name)
        value["words"] = [str(w) for w in value.get("words") or []]
    typos_text = data_text("typos.tsv")
    typos = []
    for line in typos_text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        typos.append((parts[0], parts[1]))
    sentiment_text = data_text("sentiment.yaml")
    resolution_text = data_text("resolution.yaml")
    return Lexicons(
        sensitive=sensitive,
        typos=typos,
        sentiment=load_yaml(sentiment_text, "sentiment.yaml"),
        resolution=load_yaml(resolution_text, "resolution.yaml"),
        source_text="\n".join([sensitive_text, typos_text, sentiment_text, resolution_text]),
    )


def load_scorecard(path: str | Path | None) -> dict[str, Any]:
    default = load_yaml(data_text("scorecard.yaml"), "scorecard.yaml")
    if path is None:
        return default
    custom = load_yaml(read_text(path), str(path)) or {}
    if not isinstance(custom, dict):
        raise ChatAuditError(f"{path}: expected a mapping like the default scorecard")
    merged = dict(default)
    for key, value in custom.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    unknown = set(merged["weights"]) - {"speed", "professionalism", "resolution", "experience", "emotion"}
    if unknown:
        raise ChatAuditError(f"{path}: unknown dimensions {sorted(unknown)}")
    return merged


def parse_hours(text: str | None) -> tuple[int, int] | None:
    """``08:00-23:00`` as minutes of the day (start, end)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ChatAuditError(f"--hours {text!r}: use e.g. 08:00-23:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < end <= 24 * 60):
        raise ChatAuditError(f"--hours {text!r}: the start must be before the end, within one day")
    return start, end


def parse_sla(values: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``service=30`` ``sales=60`` (seconds) over the defaults."""
    sla = dict(DEFAULT_SLA_S)
    for value in values:
        role, _, seconds = value.partition("=")
        role = role.strip().lower()
        if role not in ROLES or not seconds:
            raise ChatAuditError(f"--sla {value!r}: use service=30 or sales=60 (seconds)")
        try:
            sla[role] = float(seconds)
        except ValueError:
            raise ChatAuditError(f"--sla {value!r}: {seconds!r} is not a number of seconds") from None
    return sla


@dataclass
class QualityOptions:
    """One report's question. Instants are UTC milliseconds."""

    since_ms: int | None = None
    until_ms: int | None = None
    platforms: tuple[str, ...] = ()  # any of these (none: every platform)
    conversations: tuple[int, ...] = ()
    agents: tuple[str, ...] = ()
    team: str | None = None
    tz: str = "Asia/Shanghai"
    session_gap_s: float = DEFAULT_SESSION_GAP_S
    sla_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SLA_S))
    line_s: float = LINE_S
    new_days: int = DEFAULT_NEW_DAYS
    hours: tuple[int, int] | None = None
    roster: list[RosterEntry] = field(default_factory=list)
    scripts: list[ScriptCategory] = field(default_factory=lambda: load_scripts(None))
    taxonomy: dict[str, list[str]] = field(default_factory=lambda: load_taxonomy(None))
    lexicons: Lexicons = field(default_factory=load_lexicons)
    scorecard: dict[str, Any] = field(default_factory=lambda: load_scorecard(None))
    top: int = 10
    nlp: bool = True
    # the report's lists of every session (``session_rows``, the session ids of missed scripts, of
    # changed moods, of agents' typos, of topics): at millions of sessions gigabytes, held on the one
    # machine that prints them. Without: no ``session_rows`` (Spark keeps them in its Parquet
    # results) and each id list cut to its first LISTED, its count whole
    session_lists: bool = True


def parse_duration(text: str) -> float:
    """``2h``, ``30m``, ``90s``, ``1.5h`` or plain seconds."""
    import re as _re

    match = _re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(h|m|min|s)?\s*", str(text))
    if not match:
        raise ChatAuditError(f"--session-gap {text!r}: use e.g. 2h, 30m or 90s")
    value = float(match.group(1))
    return value * {"h": 3600, "m": 60, "min": 60, "s": 1, None: 1}[match.group(2)]


def replace_period(options: QualityOptions, since_ms: int, until_ms: int) -> QualityOptions:
    from dataclasses import replace

    return replace(options, since_ms=since_ms, until_ms=until_ms)
