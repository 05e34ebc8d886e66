"""``supervise run`` and ``supervise sample``: raise alerts in the archive.

A run evaluates the current policy version on the messages it has not evaluated yet: those with an
id above the last message of the latest run *of that version* (messages.id only grows). So a new
version starts from the first message again and re-evaluates the whole archive once; an alert it
finds that an older version already raised (same message, policy, rule and start) is not raised
twice, and alerts of older versions stay as they were (they are history, not a cache). ``--since``
leaves out messages sent before it — they are not evaluated under this version by a later run
either (the run's audit entry records the --since it ran with).

The messages are streamed in id order in one transaction (all of a run's alerts, its row and its
audit entry, or none of them); the matcher (:mod:`.matcher`) is pure and knows nothing of this.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from pathlib import Path
from typing import Any, Callable

import orjson

from ..errors import ChatAuditError
from ..governance import audit, clock
from ..store import Archive, is_postgres
from . import policies, queue
from .matcher import Hit, Matcher

RUN_COMMAND, SAMPLE_COMMAND = "supervise run", "supervise sample"
RUN_KEYS = ("id", "version", "first_message", "last_message", "messages", "alerts", "started_at", "finished_at",
            "operator", "audit_entry")
ALERT_COLUMNS = ("conversation", "message", "kind", "policy", "category", "rule", "matched", "start", "end",
                 "version", "run", "raised_at")
BATCH = 20_000
SAMPLE_METHOD = ("random.Random(int(sha256(seed), 16)).sample(sorted ids of the conversations with a message in "
                 "[since, until), k = ceil(rate × their number))")


# ---- who wrote a message --------------------------------------------------------------------------

def sender_roles(archive: Archive) -> dict[tuple[str, str, str], str]:
    """(platform, sender_id, sender_name) → agent | customer | bot | unknown, by the rule the quality
    report uses (chataudit.quality.sessions.classify_senders: roster, else the exporter's own and
    WeCom/DingTalk internal staff are agents). A sender is *unknown* when nothing tells: no roster,
    and no own or internal messages anywhere in the archive."""
    from ..governance.roster import roster
    from ..quality.config import RosterEntry
    from ..quality.sessions import classify_senders

    entries = [RosterEntry(r["id"], r["name"], r["role"], None, r["team"]) for r in roster(archive)]
    senders, _agents = classify_senders(archive.db, entries, None, 0)
    return roles_of(senders, bool(entries), archive.db.execute(
        "SELECT DISTINCT platform, sender_id, sender_name FROM quality_senders"))


def roles_of(senders: Any, with_roster: bool, keys: Any) -> dict[tuple[str, str, str], str]:
    """:func:`sender_roles` of classified ``senders`` for each (platform, sender_id, sender_name) of
    ``keys``, whichever engine listed them (the archive, or Spark over a lake)."""
    from ..quality.sessions import CUSTOMER, IGNORED

    someone_placed = with_roster or any(s.basis in ("me", "staff", "roster") for s in senders)
    by_key = {(s.sender_id, s.sender_name): s for s in senders}
    roles: dict[tuple[str, str, str], str] = {}
    for platform, sender_id, sender_name in keys:
        sender = by_key.get((sender_id, sender_name))
        if sender is None or sender.code == IGNORED:
            role = "bot" if sender is not None and sender.basis == "ignored" and (sender_id or sender_name) else "unknown"
        elif sender.code == CUSTOMER:
            role = "customer" if sender.basis == "external" or someone_placed else "unknown"
        else:
            role = "agent"
        roles[(platform, sender_id, sender_name)] = role
    return roles


def external_conversations(archive: Archive, roles: dict[tuple[str, str, str], str]) -> set[int]:
    """Conversations in which a customer, or a sender nobody can place, wrote: the chats with an
    external contact. Each conversation's messages are read only up to its first such sender."""
    db = archive.db
    db.execute("CREATE TEMP TABLE IF NOT EXISTS supervision_inside (platform TEXT, sender_id TEXT, sender_name TEXT,"
               " PRIMARY KEY (platform, sender_id, sender_name)) WITHOUT ROWID")
    db.execute("DELETE FROM temp.supervision_inside")
    db.executemany("INSERT OR IGNORE INTO temp.supervision_inside VALUES (?, ?, ?)",
                   [key for key, role in roles.items() if role in ("agent", "bot")])
    return {row[0] for row in db.execute(
        "SELECT c.id FROM conversations c WHERE EXISTS (SELECT 1 FROM messages m WHERE m.conversation = c.id"
        " AND NOT EXISTS (SELECT 1 FROM temp.supervision_inside i WHERE i.platform = m.platform"
        " AND i.sender_id = coalesce(m.sender_id, '') AND i.sender_name = coalesce(m.sender_name, '')))")}


# ---- runs -----------------------------------------------------------------------------------------

def ensure_policy(archive: Archive, *, operator: str) -> tuple[int, dict[str, Any]]:
    """The current version; the shipped default policy is stored as version 1 (with its audit entry)
    the first time supervision runs on an archive that has none."""
    found = policies.current(archive)
    if found is None:
        policies.set_policies(archive, policies.default_text(), "default_policy.yaml", operator=operator,
                              params={"file": "(default policy)"})
        found = policies.current(archive)
    return found  # type: ignore[return-value]


def run(archive: Archive, *, operator: str, params: dict[str, Any], since_ms: int | None = None,
        progress: Callable[[int], None] | None = None, batch: int = BATCH,
        workers: int | None = None) -> dict[str, Any]:
    """Evaluate the current policy version on the messages it has not evaluated; returns the run.
    ``workers``: processes that match (None: one per core for a large run, see :func:`default_workers`;
    1: all in this process). The alerts are the same either way."""
    version, definition = ensure_policy(archive, operator=operator)
    matcher = Matcher(definition)
    db = archive.db
    started_at = clock.iso()
    roles = sender_roles(archive)  # refreshes the quality report's sender cache: its own transaction
    with audit.transaction(db):
        mark = db.execute("SELECT coalesce(max(last_message), 0) FROM supervision_runs WHERE version = ?",
                          (version,)).fetchone()[0]
        top = db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
        if top <= mark:
            return {"run": None, "version": version, "messages": 0, "alerts": 0, "first_message": None,
                    "last_message": mark, "note": "every message was already evaluated under this version"}
        external = external_conversations(archive, roles)
        run_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM supervision_runs").fetchone()[0]
        db.execute("INSERT INTO supervision_runs (id, version, first_message, last_message, messages, alerts,"
                   " started_at, finished_at, operator) VALUES (?, ?, NULL, ?, 0, 0, ?, ?, ?)",
                   (run_id, version, top, started_at, started_at, operator))
        counts = _evaluate(archive, matcher, roles, external, version, run_id, mark, top, since_ms, started_at,
                           progress, batch, workers)
        finished_at = clock.iso()
        facts = {"run": run_id, "version": version, "first_message": counts["first"], "last_message": top,
                 "messages": counts["messages"], "alerts": counts["alerts"], "since_ms": since_ms,
                 "started_at": started_at, "finished_at": finished_at}
        entry = audit.record(archive, operator=operator, command=RUN_COMMAND, params=params, facts=facts,
                             records=counts["alerts"])
        db.execute("UPDATE supervision_runs SET first_message = ?, messages = ?, alerts = ?, finished_at = ?,"
                   " audit_entry = ? WHERE id = ?",
                   (counts["first"], counts["messages"], counts["alerts"], finished_at, entry, run_id))
        queued = queue.intake(archive, operator=operator, params=params)  # the new alerts wait in the queue
    return {**run_record(archive, run_id), "queued": {k: queued[k] for k in ("opened", "joined")}}


def _evaluate(archive: Archive, matcher: Matcher, roles: dict[tuple[str, str, str], str], external: set[int],
              version: int, run_id: int, mark: int, top: int, since_ms: int | None, raised_at: str,
              progress: Callable[[int], None] | None, batch: int, workers: int | None = None) -> dict[str, Any]:
    """Stream the messages (mark, top] through the matcher and write the alerts, in id order.

    With ``workers`` > 1 (the default on a machine with several cores, for an archive file and
    enough messages) the id range is cut into slices that worker processes read and match, each
    on its own read connection; this process writes their hits in slice order, so the alerts (and
    their ids) are those of the plain path, in the same order."""
    db = archive.db
    insert = (f"INSERT OR IGNORE INTO supervision_alerts ({', '.join(ALERT_COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(ALERT_COLUMNS))})")
    messages = alerts = 0
    first = None
    tail = (version, run_id, raised_at)
    for found, count, low in _slices(archive, matcher, roles, external, mark, top, since_ms, batch, workers):
        if first is None and low is not None:
            first = low
        messages += count
        if found:
            before = db.total_changes
            db.executemany(insert, [hit + tail for hit in found])
            alerts += db.total_changes - before
        if progress is not None:
            progress(messages)
    return {"messages": messages, "alerts": alerts, "first": first}


PARALLEL_FROM = 100_000  # fewer messages than this: starting worker processes costs more than it saves
SLICE = 100_000  # message ids per worker task


def default_workers(messages: int) -> int:
    """Worker processes for a run over ``messages`` ids: one per core (at most 4), none for few."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 4) if messages >= PARALLEL_FROM else 1


def _slices(archive: Archive, matcher: Matcher, roles: dict[tuple[str, str, str], str], external: set[int],
            mark: int, top: int, since_ms: int | None, batch: int, workers: int | None):  # type: ignore[no-untyped-def]
    """(hits, messages read, first id) per batch or slice, in id order: here, or in worker processes."""
    if workers is None:
        workers = default_workers(top - mark)
    in_memory = str(archive.path) == ":memory:" or not (is_postgres(archive.path) or Path(archive.path).is_file())
    if workers <= 1 or in_memory:
        cursor = archive.db.cursor()
        cursor.row_factory = None  # plain tuples: a sqlite3.Row per message costs more than the prefilter
        cursor.execute(*_select(mark, top, since_ms))
        while rows := cursor.fetchmany(batch):
            yield _match_rows(matcher, rows, roles, external), len(rows), rows[0][0]
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork (the workers inherit the built matcher: no start-up) unless the caller runs threads (the web
    # app's jobs), which a fork would copy mid-step; then spawn (the matcher pickles as its definition)
    import threading

    context = multiprocessing.get_context("fork" if threading.active_count() == 1 and hasattr(os, "fork") else "spawn")
    setup = (str(archive.path), archive.key, matcher, roles, external, since_ms, batch)
    bounds = [(low, min(low + SLICE, top)) for low in range(mark, top, SLICE)]
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_setup, initargs=setup) as pool:
        futures = [pool.submit(_worker_slice, low, high) for low, high in bounds]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _select(mark: int, top: int, since_ms: int | None) -> tuple[str, list[Any]]:
    sql = ("SELECT id, conversation, platform, coalesce(sender_id, ''), coalesce(sender_name, ''), sent_at_ms, text,"
           " attachments FROM messages WHERE id > ? AND id <= ? AND kind NOT IN ('system', 'recall')")
    args: list[Any] = [mark, top]
    if since_ms is not None:
        sql += " AND sent_at_ms >= ?"
        args.append(since_ms)
    return sql + " ORDER BY id", args


def _match_rows(matcher: Matcher, rows: list[tuple[Any, ...]], roles: dict[tuple[str, str, str], str],
                external: set[int]) -> list[tuple[Any, ...]]:
    """The hits of one batch of rows, as alert columns up to ``end`` (the caller adds version, run, time)."""
    # the batch prefilter picks the messages that may hit; only they are evaluated one by one
    chosen = dict(matcher.candidates([row[6] or "" for row in rows]))
    for index, row in enumerate(rows):
        if row[7] and index not in chosen:
            chosen[index] = None
    found: list[tuple[Any, ...]] = []
    evaluate = matcher.evaluate
    for index in sorted(chosen):
        message, conversation, platform, sender_id, sender_name, sent_at_ms, text, attachments = rows[index]
        hits = evaluate(text, sender=roles.get((platform, sender_id, sender_name), "unknown"),
                        external=conversation in external, platform=platform, sent_at_ms=sent_at_ms,
                        attachments=orjson.loads(attachments) if attachments else None, folded=chosen[index])
        for hit in hits:
            found.append((conversation, message, "policy", hit.policy, hit.category, hit.rule, hit.matched,
                          hit.start, hit.end))
    return found


_WORKER: dict[str, Any] = {}


def _worker_setup(path: str, key: bytes | None, matcher: Matcher, roles: dict[tuple[str, str, str], str],
                  external: set[int], since_ms: int | None, batch: int) -> None:
    """A worker process: its own read connection and matcher, for every slice it is given."""
    if is_postgres(path):
        from ..store.pgsql import PgConnection

        db: Any = PgConnection(path)
    else:
        from ..store.sqlite import connect

        db = connect(path, key, create=False)
    db.row_factory = None
    _WORKER.update(db=db, matcher=matcher, roles=roles, external=external, since_ms=since_ms, batch=batch)


def _worker_slice(low: int, high: int) -> tuple[list[tuple[Any, ...]], int, int | None]:
    """(hits, messages read, first id) of the messages with ids in (low, high]."""
    w = _WORKER
    cursor = w["db"].cursor()
    cursor.execute(*_select(low, high, w["since_ms"]))
    found: list[tuple[Any, ...]] = []
    count, first = 0, None
    while rows := cursor.fetchmany(w["batch"]):
        if first is None:
            first = rows[0][0]
        count += len(rows)
        found.extend(_match_rows(w["matcher"], rows, w["roles"], w["external"]))
    return found, count, first


def run_record(archive: Archive, run_id: int) -> dict[str, Any]:
    row = archive.db.execute(f"SELECT {', '.join(RUN_KEYS)} FROM supervision_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise ChatAuditError(f"no supervision run {run_id} (see `chataudit supervise runs`)")
    return {"run": row[0], **dict(zip(RUN_KEYS[1:], tuple(row)[1:]))}


def runs(archive: Archive) -> list[dict[str, Any]]:
    """Every run, newest first."""
    return [{"run": row[0], **dict(zip(RUN_KEYS[1:], tuple(row)[1:]))} for row in archive.db.execute(
        f"SELECT {', '.join(RUN_KEYS)} FROM supervision_runs ORDER BY id DESC")]


def evaluate_messages(definition: dict[str, Any], messages: list[dict[str, Any]]) -> list[list[Hit]]:
    """The matcher over plain message dicts (text, sender, external, platform, sent_at_ms,
    attachments): what a Spark job runs on each partition."""
    matcher = Matcher(definition)
    return [matcher.evaluate(m.get("text"), sender=m.get("sender", "unknown"), external=m.get("external", True),
                             platform=m.get("platform", ""), sent_at_ms=m.get("sent_at_ms"),
                             attachments=m.get("attachments")) for m in messages]


# ---- random sample ----------------------------------------------------------------------------------

def parse_rate(value: str | float) -> float:
    """'2%' or 0.02 → 0.02."""
    text = str(value).strip()
    try:
        rate = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ChatAuditError(f"--rate {value!r} is not a rate (e.g. 2% or 0.02)") from None
    if not 0 < rate <= 1:
        raise ChatAuditError(f"--rate {value!r} must be above 0 and at most 100%")
    return rate


def checkpoint_seed(archive: Archive) -> tuple[str, str]:
    """(seed, how it was chosen): the latest signed checkpoint's root, which nobody chose to suit a draw."""
    from ..ledger.log import Ledger

    latest = Ledger(archive).latest_checkpoint()
    if latest is None:
        raise ChatAuditError("no signed checkpoint to derive the seed from: give --seed, or run `chataudit init`")
    root = latest.root.hex() if isinstance(latest.root, (bytes, bytearray)) else str(latest.root)
    return f"checkpoint:{latest.id}:{root}", f"the root of signed checkpoint {latest.id} (tree size {latest.tree_size})"


def draw(conversation_ids: list[int], rate: float, seed: str) -> list[int]:
    """The sample: reproducible from (ids, rate, seed) alone — see :data:`SAMPLE_METHOD`."""
    ordered = sorted(set(conversation_ids))
    if not ordered:
        return []
    k = min(len(ordered), math.ceil(rate * len(ordered)))
    generator = random.Random(int(hashlib.sha256(seed.encode()).hexdigest(), 16))
    return sorted(generator.sample(ordered, k))


def sample(archive: Archive, *, rate: float, since_ms: int | None, until_ms: int | None, seed: str | None,
           operator: str, params: dict[str, Any]) -> dict[str, Any]:
    """Raise kind='sample' alerts for a random sample of the conversations active in [since, until)."""
    db = archive.db
    where, args = "1", []
    if since_ms is not None:
        where += " AND sent_at_ms >= ?"
        args.append(since_ms)
    if until_ms is not None:
        where += " AND sent_at_ms < ?"
        args.append(until_ms)
    with audit.transaction(db):
        if seed is None:
            seed, seed_source = checkpoint_seed(archive)
        else:
            seed_source = "given with --seed"
        active = [row[0] for row in db.execute(f"SELECT DISTINCT conversation FROM messages WHERE {where}", args)]
        drawn = draw(active, rate, seed)
        version = policies.current(archive)
        raised_at = clock.iso()
        facts = {"rate": rate, "since_ms": since_ms, "until_ms": until_ms, "seed": seed, "seed_source": seed_source,
                 "method": SAMPLE_METHOD, "population": len(set(active)),
                 "population_sha256": hashlib.sha256(",".join(map(str, sorted(set(active)))).encode()).hexdigest(),
                 "conversations": drawn, "raised_at": raised_at}
        entry = audit.record(archive, operator=operator, command=SAMPLE_COMMAND, params=params, facts=facts,
                             records=len(drawn))
        db.executemany(f"INSERT INTO supervision_alerts ({', '.join(ALERT_COLUMNS)}) "
                       f"VALUES ({', '.join('?' * len(ALERT_COLUMNS))})",
                       [(c, None, "sample", None, "sample", f"sample:{entry}", None, None, None,
                         version[0] if version else None, None, raised_at) for c in drawn])
        queued = queue.intake(archive, operator=operator, params=params)
    return {"queued": {k: queued[k] for k in ("opened", "joined")}, "audit_entry": entry, "rate": rate, "seed": seed, "seed_source": seed_source, "method": SAMPLE_METHOD,
            "population": len(set(active)), "conversations": drawn, "alerts": len(drawn)}


# ---- verify -----------------------------------------------------------------------------------------------

def discrepancies(archive: Archive) -> list[str]:
    """Policy versions, runs and samples that disagree with the audit entries that recorded them."""
    found = policies.discrepancies(archive)
    db = archive.db
    recorded: dict[int, tuple[int, dict[str, Any]]] = {}
    samples: dict[int, dict[str, Any]] = {}
    for entry_id, command, facts_text in db.execute(
            "SELECT id, command, facts FROM governance_audit WHERE command IN (?, ?) AND json_valid(facts) ORDER BY id",
            (RUN_COMMAND, SAMPLE_COMMAND)):
        facts = orjson.loads(facts_text)
        if command == RUN_COMMAND and isinstance(facts.get("run"), int):
            recorded[facts["run"]] = (entry_id, facts)
        elif command == SAMPLE_COMMAND:
            samples[entry_id] = facts
    rows = {row[0]: dict(zip(RUN_KEYS, row)) for row in db.execute(
        f"SELECT {', '.join(RUN_KEYS)} FROM supervision_runs ORDER BY id")}
    raised = dict(db.execute("SELECT run, count(*) FROM supervision_alerts WHERE run IS NOT NULL GROUP BY run"))
    for run_id in sorted(set(rows) | set(recorded)):
        row, entry = rows.get(run_id), recorded.get(run_id)
        if row is None:
            found.append(f"supervision run {run_id}: `supervise run` recorded it (audit entry {entry[0]}), but it "  # type: ignore[index]
                         "is missing from supervision_runs")
            continue
        if entry is None:
            found.append(f"supervision run {run_id}: no `supervise run` entry of the audit trail records it: added "
                         "behind the tool's back")
            continue
        entry_id, facts = entry
        changed = [key for key in ("version", "first_message", "last_message", "messages", "alerts")
                   if row[key] != facts.get(key)]
        if row["audit_entry"] != entry_id:
            changed.append("audit_entry")
        if changed:
            found.append(f"supervision run {run_id}: its {', '.join(changed)} differ from what `supervise run` "
                         f"recorded (audit entry {entry_id})")
        elif raised.get(run_id, 0) != facts.get("alerts"):
            found.append(f"supervision run {run_id}: it raised {facts.get('alerts')} alerts (audit entry {entry_id}), "
                         f"{raised.get(run_id, 0)} are in supervision_alerts: alerts were deleted or added behind "
                         "the tool's back")
    drawn_rows: dict[int, list[int]] = {}
    for rule, conversation in db.execute("SELECT rule, conversation FROM supervision_alerts WHERE kind = 'sample'"):
        try:
            drawn_rows.setdefault(int(str(rule).split(":", 1)[1]), []).append(conversation)
        except (IndexError, ValueError):
            found.append(f"a sample alert of conversation {conversation} names no `supervise sample` entry ({rule!r})")
    for entry_id in sorted(set(samples) | set(drawn_rows)):
        facts = samples.get(entry_id)
        if facts is None:
            found.append(f"sample alerts name audit entry {entry_id}, which is no `supervise sample` entry: added "
                         "behind the tool's back")
        elif sorted(drawn_rows.get(entry_id, [])) != sorted(facts.get("conversations") or []):
            found.append(f"the sample of audit entry {entry_id}: its alerts name other conversations than the "
                         "entry drew")
    return found
