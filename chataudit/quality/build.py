"""The value ``chataudit quality --json`` prints, built from the command's options as given.

The click command, the REST API (``/api/v1/quality``) and the web app's background job all call
:func:`build`, so a figure is computed in one place whichever front end asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import ChatAuditError
from ..model import parse_user_time, utc_ms, zone
from ..store import Archive
from . import config, report as report_api

# Keys a redactor leaves alone are agents' (the roster: a team lead needs them); these hold customers.
REDACTED_KEYS = frozenset({"customer", "sender", "sender_name", "title"})


@dataclass
class Built:
    result: dict[str, Any]  # what `quality --json` prints
    redactor: Any | None  # the --redact Redactor (the HTML report needs it again), or None
    ratings: dict[str, int] | None  # what importing --ratings stored, or None


def period(text: str, tz_name: str) -> tuple[int, int]:
    """--compare-to SINCE..UNTIL as UTC ms (a bare UNTIL date includes that day)."""
    since, sep, until = text.partition("..")
    if not sep or not since or not until:
        raise ChatAuditError(f"--compare-to {text!r}: use SINCE..UNTIL, e.g. 2026-02-01..2026-02-28")
    tz = zone(tz_name)
    return utc_ms(parse_user_time(since, tz)), utc_ms(parse_user_time(until, tz, end_of_day=True))


def build(archive: Archive | None, *, roster: str | None = None, scripts: str | None = None, taxonomy: str | None = None,
          lexicon: str | None = None, scorecard: str | None = None, ratings: str | None = None,
          since: str | None = None, until: str | None = None, compare_to: str | None = None,
          platforms: Sequence[str] = (), conversation_refs: Sequence[str] = (), agent_refs: Sequence[str] = (),
          team: str | None = None, tz: str | None = None, session_gap: str = "2h", sla: Sequence[str] = (),
          new_days: int = config.DEFAULT_NEW_DAYS, hours: str | None = None, top: int = 10, no_nlp: bool = False,
          no_session_lists: bool = False, redact_policy: str | None = None, on_step: Callable[[int, str], None] | None = None,
          analyze: Callable[[config.QualityOptions, Callable[[int, str], None]], dict[str, Any]] | None = None) -> Built:
    """Every figure of ``chataudit quality`` for the options the command takes (file options are
    paths). ``on_step(count, note)`` reports progress (texts read so far, and the phase) between the
    report's phases and after each batch of texts: a web job's progress and cancel point.

    ``analyze(options, on_progress)`` computes one period's report (default: over ``archive``;
    ``spark quality`` passes Spark's over a lake). ``archive`` None (a lake without its archive):
    --conversation takes ids, and there are no ratings nor reviews to read."""
    step = on_step or (lambda _n, _note: None)
    if analyze is None:
        analyze = lambda opts, progress: report_api.analyze(archive, opts, progress)  # noqa: E731
    from ..queries import time_window

    tz_name = tz or (archive.setting("tz") if archive is not None else None) or "Asia/Shanghai"
    zone(tz_name)
    since_ms, until_ms = time_window(archive, since, until, tz_name)
    if archive is None and ratings:
        raise ChatAuditError("--ratings: ratings are stored in an archive; give --db")
    if not 1 <= new_days <= 3650:
        raise ChatAuditError(f"--new-days {new_days}: give 1 to 3650")
    if not 1 <= top <= 100:
        raise ChatAuditError(f"--top {top}: give 1 to 100")
    options = config.QualityOptions(
        since_ms=since_ms, until_ms=until_ms, platforms=tuple(dict.fromkeys(platforms)),
        conversations=tuple(_conversation_id(archive, r) for r in conversation_refs),
        agents=tuple(agent_refs), team=team, tz=tz_name, session_gap_s=config.parse_duration(session_gap),
        sla_s=config.parse_sla(tuple(sla)), new_days=new_days, hours=config.parse_hours(hours),
        roster=config.load_roster(roster) if roster else [],
        scripts=config.load_scripts(scripts), taxonomy=config.load_taxonomy(taxonomy),
        lexicons=config.load_lexicons(lexicon), scorecard=config.load_scorecard(scorecard),
        top=top, nlp=not no_nlp, session_lists=not no_session_lists,
    )
    imported = report_api.import_ratings(archive, ratings, tz_name) if ratings else None
    step(0, "files read")
    result = analyze(options, lambda n, phase: step(n, phase))
    if compare_to:
        before_since, before_until = period(compare_to, tz_name)
        before = analyze(config.replace_period(options, before_since, before_until),
                         lambda n, phase: step(n, f"compare-to: {phase}"))
        result["compare"] = report_api.compare(result, before)
    else:
        result["compare"] = None
    from ..reviews.report import four_scores

    # self, peer, automatic and customer scores per agent (0-10) with their gaps: chataudit.reviews
    result["review_scores"] = four_scores(archive, result, since_ms, until_ms)
    redactor = None
    if redact_policy is not None:
        from ..privacy import Redactor, load_policy

        redactor = Redactor(load_policy(redact_policy))
        # customers are people; agent names stay, a team lead needs them (they are the roster)
        # a conversation's title is its other party's name (or ids) in a one-to-one chat
        step(0, "redacting")
        result = redactor.tree(result, REDACTED_KEYS)
    return Built(result, redactor, imported)


def _conversation_id(archive: Archive | None, ref: str) -> int:
    if archive is not None:
        return archive.resolve_conversation(ref)["id"]
    if not str(ref).isdigit():
        raise ChatAuditError(f"--conversation {ref!r}: without an archive (--db) give a conversation id")
    return int(ref)
