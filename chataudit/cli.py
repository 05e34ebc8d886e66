"""The command line: each command opens the archive, calls one API function and renders the result."""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from . import formats, governance, importer, people as people_api, queries, search as search_api
from .errors import ChatAuditError
from .queries import CONVERSATION_COLUMNS, TIMELINE_COLUMNS, redactor_for, time_window  # noqa: F401 (used by capability modules)
from .render import emit, emit_json, write_csv, write_jsonl
from .render.output import records_written
from .store import DATABASE_ERRORS, Archive, database_error_line, db_location, default_db_path, is_postgres


def json_option(command: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys, see README).")(command)


def redact_option(command: Callable) -> Callable:
    return click.option(
        "--redact", "redact_policy", is_flag=False, flag_value="default", default=None, metavar="[POLICY]",
        help="De-identify personal data in the output (optional TOML policy; default: built-in policy).",
    )(command)


@contextlib.contextmanager
def one_line_errors() -> Any:
    """What a user did wrong, or what is wrong with their archive file or disk, becomes one
    ``Error:`` line and exit 1; anything else is a bug and keeps its traceback."""
    try:
        yield
    except ChatAuditError as error:
        raise click.ClickException(str(error)) from None
    except DATABASE_ERRORS as error:
        ctx = click.get_current_context(silent=True)
        db = (ctx.find_root().obj or {}).get("db") if ctx else None
        line = database_error_line(db or default_db_path(), error)
        if line is None:
            raise
        raise click.ClickException(line) from None


def friendly_errors(command: Callable) -> Callable:
    """Every user-facing failure is one line and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with one_line_errors():
                return command(*args, **kwargs)
        except ValueError as error:
            raise click.ClickException(str(error)) from None

    return wrapper


# What runs on a PostgreSQL archive today, each tested there (tests/test_store_postgres.py and the CLI tests
# run on both stores); any other command refuses there instead of half-working (README: "Team archive on PostgreSQL").
POSTGRES_COMMANDS = frozenset({"import", "init", "conversations", "messages", "search", "sources", "export",
                               "verify", "checkpoint", "proof", "formats", "migrate", "facts", "match", "pii",
                               "redact", "compare", "check", "evidence", "audit", "auth", "hold", "retention",
                               "roster", "mode", "key", "cosign", "timestamp", "watch", "lake", "serve", "user",
                               "quality", "supervise", "review", "people"})
# Commands about the archive *file* (its SQLCipher encryption, copies of it): what a PostgreSQL archive
# uses instead. `key change|status` is the file's encryption key (`key export`, the signing key, runs; so does
# `key new`, which writes a key file and never opens an archive).
_DISK = "encryption at rest is the server's: keep its data directory on an encrypted disk or filesystem"
SQLITE_ONLY = {
    "encrypt": ("encrypts an SQLite archive file (SQLCipher)", _DISK),
    "decrypt": ("decrypts an SQLite archive file (SQLCipher)", _DISK),
    "key change": ("changes an SQLite archive file's encryption key", _DISK),
    "key status": ("shows an SQLite archive file's encryption", _DISK),
    "init --encrypt": ("encrypts an SQLite archive file (SQLCipher)", _DISK),
    "backup": ("copies an SQLite archive file", "back it up with pg_dump (one database) or pg_basebackup with WAL"
               " archiving (the whole cluster, to a point in time)"),
}


def refuse_sqlite_only(command: str) -> None:
    """A command about the archive file refuses a PostgreSQL archive in one line saying what to use."""
    if command in SQLITE_ONLY:
        what, instead = SQLITE_ONLY[command]
        raise ChatAuditError(f"`chataudit {command}` {what}; on PostgreSQL {instead}")


def refuse_on_postgres(command: str | None) -> None:
    """Called as a PostgreSQL archive is opened: a command not yet tested there refuses (one that
    never opens the archive, e.g. `evidence verify`, runs as it does anywhere)."""
    if command:
        refuse_sqlite_only(command)
    if command and command not in POSTGRES_COMMANDS:
        raise ChatAuditError(f"`chataudit {command}` does not run on a PostgreSQL archive yet (it runs on SQLite"
                                   f" archive files); on PostgreSQL: {', '.join(sorted(POSTGRES_COMMANDS))}")


def open_archive(ctx: click.Context, *, create: bool = False) -> Archive:
    """The archive named by --db. Only the commands that fill an archive (import, init) pass
    ``create``: any other command given a mistyped --db says so instead of making an empty one.
    A write that must wait for another process says so on a terminal."""
    return Archive(ctx.find_root().obj["db"], create=create, on_wait=_waiting_note(ctx))


def _waiting_note(ctx: click.Context) -> Callable[[], None] | None:
    if not sys.stderr.isatty():
        return None
    db = ctx.find_root().obj["db"]
    return lambda: click.echo(f"waiting for another process (an import?) to finish writing to {db}… "
                              "(Ctrl-C to stop)", err=True)


class CapabilityGroup(click.Group):
    """Commands that live beside their capability's package are loaded when first asked for, so
    that `chataudit --help` stays fast and those modules may import this one's helpers."""

    lazy = {
        "check": "chataudit.check.commands:check_command",
        "compare": "chataudit.compare.commands:compare",
        "evidence": "chataudit.evidence.commands:evidence",
        "facts": "chataudit.facts.commands:facts_command",
        "match": "chataudit.match_command:match",
        "pii": "chataudit.privacy.commands:pii",
        "quality": "chataudit.quality.commands:quality",
        "init": "chataudit.ledger.commands:init",
        "verify": "chataudit.ledger.commands:verify",
        "proof": "chataudit.ledger.commands:proof",
        "checkpoint": "chataudit.ledger.commands:checkpoint",
        "key": "chataudit.ledger.commands:key",
        "timestamp": "chataudit.ledger.commands:timestamp",
        "cosign": "chataudit.ledger.commands:cosign",
        "redact": "chataudit.privacy.commands:redact",
        "mode": "chataudit.governance.commands:mode",
        "roster": "chataudit.governance.commands:roster",
        "auth": "chataudit.governance.commands:auth",
        "audit": "chataudit.governance.commands:audit",
        "retention": "chataudit.governance.commands:retention",
        "hold": "chataudit.governance.commands:hold",
        "supervise": "chataudit.supervision.commands:supervise",
        "serve": "chataudit.web.commands:serve",
        "encrypt": "chataudit.vault.commands:encrypt",
        "decrypt": "chataudit.vault.commands:decrypt",
        "backup": "chataudit.backup.commands:backup",
        "user": "chataudit.web.commands:user",
        "review": "chataudit.reviews.commands:review",
        "lake": "chataudit.lake.commands:lake",
        "spark": "chataudit.spark.commands:spark",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            import importlib

            module_name, attribute = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module_name), attribute), name)
        command = super().get_command(ctx, name)
        return governance.govern(command) if command is not None else None

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            refuse_repeated_options(ctx, command, rest)
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        """Every command runs as one audited session: in enterprise mode a read is checked against
        the authorizations before it runs, and reads, exports and changes are recorded after."""
        with governance.audited(ctx), one_line_errors():
            return super().invoke(ctx)


def refuse_repeated_options(ctx: click.Context, command: click.Command, args: list[str]) -> None:
    """A single-valued option given twice is an error, not silently its last value (`--since A --since
    B`, `--team A --team B`); options that take several say so in --help and keep them all. Checks
    the sub-commands of a group too."""
    options = {name: p for p in command.params if isinstance(p, click.Option) for name in p.opts + p.secondary_opts}
    seen: dict[str, list[str]] = {}
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            return
        name, inline = (token.split("=", 1)[0], True) if token.startswith("--") and "=" in token else (token, False)
        option = options.get(name)
        if option is None:
            if isinstance(command, click.Group) and not token.startswith("-"):
                sub = command.get_command(ctx, token)
                if sub is not None:
                    refuse_repeated_options(ctx, sub, args[index + 1:])
                return
            index += 1
            continue
        if not option.multiple and not option.count and not option.is_flag:
            seen.setdefault(option.name or name, []).append(name)
        takes_value = not option.is_flag and not inline and not option.count
        if takes_value and option._flag_needs_value and (index + 1 >= len(args) or args[index + 1].startswith("-")):
            takes_value = False  # an optional value left out (--redact)
        index += 2 if takes_value else 1
    for names in seen.values():
        if len(names) > 1:
            raise click.UsageError(f"{names[0]} was given {len(names)} times; it takes one value "
                                   "(options that take several say so in --help)", ctx)


@click.group(cls=CapabilityGroup)
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Archive file (default: $CHATAUDIT_DB, else ./chataudit.db).")
@click.option("--operator", envvar="CHATAUDIT_OPERATOR", default=None,
              help="Who asks, for authorizations and the audit trail (default: $CHATAUDIT_OPERATOR, else the OS user).")
@click.option("--db-key-file", type=click.Path(dir_okay=False), default=None,
              help="Key file of an encrypted archive (default: $CHATAUDIT_DB_KEY_FILE; a passphrase: $CHATAUDIT_DB_KEY, "
                   "else asked on a terminal).")
@click.version_option(package_name="chataudit")
@click.pass_context
def cli(ctx: click.Context, db: str | None, operator: str | None, db_key_file: str | None) -> None:
    """chataudit — find, compare, prove and judge what was said in chat records."""
    from .vault import keys

    ctx.ensure_object(dict)
    ctx.obj["db"] = db_location(db) if db else default_db_path()
    if is_postgres(ctx.obj["db"]):
        from .store import postgres

        command = ctx.invoked_subcommand
        with one_line_errors():
            refuse_sqlite_only(command or "")
        postgres.opening_check = lambda: refuse_on_postgres(command)
        ctx.call_on_close(lambda: setattr(postgres, "opening_check", None))  # this command's check only
    ctx.obj["operator"] = operator or governance.operator_of(None)
    with one_line_errors():
        keys.use(keys.key_file(db_key_file) if db_key_file else None)
    keys.prompt = ((lambda what: click.prompt(what, hide_input=True, err=True))
                   if sys.stdin.isatty() and sys.stderr.isatty() else None)


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "format_name", default="auto", show_default=True,
              help="Format name (see `chataudit formats`); auto detects per file.")
@click.option("--label", help="Source label, e.g. 'alice-phone' (used by compare and evidence).")
@click.option("--tz", help="Zone of wall-clock times in the export (IANA name or +08:00). "
                           "Default: $CHATAUDIT_TZ, $TZ, else the system zone.")
@click.option("--me", help="Your own display name in the export (marks your messages).")
@click.option("--date", "anchor_date", metavar="YYYY-MM-DD",
              help="Screenshots: the day they were taken, for relative times such as 昨天 14:32 "
                   "(default: the EXIF capture date, else the file's modification time).")
@click.option("--reread", "reread_source", metavar="SOURCE",
              help="Read this source's file (PATH, the same file) again in --tz and replace its messages; "
                   "recorded in the ledger and the audit trail.")
@json_option
@click.pass_context
@friendly_errors
def import_command(ctx: click.Context, paths: tuple[str, ...], format_name: str, label: str | None,
                   tz: str | None, me: str | None, anchor_date: str | None, reread_source: str | None,
                   as_json: bool) -> None:
    """Import export files, folders or .zip files into the archive (chat screenshots too)."""
    if reread_source is not None:
        return _reread(ctx, reread_source, paths, format_name, label, tz, me, as_json)
    with open_archive(ctx, create=True) as archive:
        show_progress = sys.stderr.isatty() and not as_json
        if show_progress:
            summary = _import_with_progress(archive, list(paths), format_name, label, tz, me, anchor_date)
        else:
            summary = importer.import_paths(archive, list(paths), format_name=format_name,
                                            label=label, tz=tz, me=me, anchor_date=anchor_date)
    result = summary.as_dict()
    if as_json:
        emit_json(result)
    else:
        for outcome in summary.files:
            if outcome.error:
                continue
            if outcome.skipped:
                click.echo(f"skipped {outcome.path}: {outcome.skipped}", err=True)
            elif outcome.already_imported:
                click.echo(f"{outcome.path}: already imported ({outcome.format}), nothing added")
            else:
                click.echo(f"{outcome.path}: {outcome.format}, {outcome.messages} messages, "
                           f"{outcome.new} new, {outcome.duplicates} duplicate")
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    for error in result["errors"]:  # errors first, so the summary below is the last word
        click.echo(f"Error: {error}", err=True)
    if not as_json:
        failed = f", {len(result['failed'])} failed" if result["failed"] else ""
        files = f"{result['files']} file{'' if result['files'] == 1 else 's'}"
        click.echo(f"{files}{failed}, {result['messages']:,} messages: {result['new']:,} new, "
                   f"{result['duplicates']:,} duplicate, in {result['seconds']:.2f} s")
    if result["errors"]:
        sys.exit(1)


def _reread(ctx: click.Context, source: str, paths: tuple[str, ...], format_name: str, label: str | None,
            tz: str | None, me: str | None, as_json: bool) -> None:
    from . import reread as reread_api

    if len(paths) != 1 or label:
        raise click.UsageError("--reread SOURCE takes the one file (or folder, or zip) that source was imported "
                               "from, and no --label (the source keeps its own)")
    with open_archive(ctx) as archive:
        done = reread_api.reread(archive, source, paths[0], tz or "", operator=governance.operator_of(ctx),
                                 format_name=None if format_name == "auto" else format_name, me=me,
                                 params={"source": source, "path": paths[0], "tz": tz, "format": format_name})
    if as_json:
        emit_json(done)
        return
    click.echo(f"{done['path']}: re-read in {done['tz']} as source {done['new_source']} ({done['format']}, "
               f"{done['messages']} messages, {done['new']} new); source {done['source']}'s {done['replaced']} "
               f"messages that no other source holds were purged through the ledger (audit entry "
               f"{done['audit_entry']})")


def _import_with_progress(archive: Archive, paths: list[str], format_name: str, label: str | None,
                          tz: str | None, me: str | None, anchor_date: str | None = None) -> importer.ImportSummary:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} messages"),
                  TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("importing", total=None)

        def on_progress(path: str, count: int, phase: str | None = None) -> None:
            name = Path(path).name
            progress.update(task, description=f"{name}: {phase}…" if phase else name, completed=count)

        return importer.import_paths(archive, paths, format_name=format_name, label=label, tz=tz,
                                     me=me, on_progress=on_progress, anchor_date=anchor_date)


@cli.command("watch")
@click.argument("folders", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--interval", default="60s", show_default=True, help="Time between looks (30s, 5m, 1h).")
@click.option("--settle", default="2s", show_default=True,
              help="A new or changed file is looked at again after this long; imported once unchanged.")
@click.option("--once", is_flag=True, help="One look, then exit (for a timer or cron).")
@click.option("--label", help="Source label for every file imported.")
@click.option("--tz", help="Zone of wall-clock times in the exports (as for import).")
@click.option("--me", help="Your own display name in the exports (as for import).")
@json_option
@click.pass_context
@friendly_errors
def watch_command(ctx: click.Context, folders: tuple[str, ...], interval: str, settle: str, once: bool,
                  label: str | None, tz: str | None, me: str | None, as_json: bool) -> None:
    """Import new and grown export files dropped in FOLDERS, until stopped (Ctrl-C, SIGTERM)."""
    import signal
    import threading

    from . import watch as watch_api

    every, wait = watch_api.parse_duration(interval), watch_api.parse_duration(settle)
    if tz:
        from .model import zone

        zone(tz)  # an unknown zone is an error before the first look, not a refusal of every file
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def log(event: watch_api.Event) -> None:
        if as_json:
            write_jsonl([event.as_dict()], sys.stdout)
        else:
            click.echo(event.line(), err=event.status in ("refused", "error"))
        sys.stdout.flush()

    with open_archive(ctx):
        pass  # an existing archive (a mistyped --db must not become a new one), migrated before the first look
    try:
        watch_api.watch(ctx.find_root().obj["db"], [Path(f) for f in folders], interval=every, once=once,
                        settle=wait, tz=tz, label=label, me=me, on_event=log, stop=stop)
    except KeyboardInterrupt:
        pass


@cli.command()
@json_option
@click.pass_context
@friendly_errors
def conversations(ctx: click.Context, as_json: bool) -> None:
    """List conversations with message counts and first/last instants."""
    with open_archive(ctx) as archive:
        rows = queries.conversations(archive)
    emit(rows, CONVERSATION_COLUMNS, as_json=as_json, title="Conversations")


@cli.command()
@click.option("--conversation", "conversation_ref", help="Conversation id (see `conversations`).")
@click.option("--person", "person_ref", help="A person (id or name from `people`) or identity platform:sender: "
                                             "one merged timeline across platforms.")
@click.option("--since", help="From this date/time (ISO; naive times in --tz).")
@click.option("--until", help="Up to this date/time (a bare date includes that whole day).")
@click.option("--tz", help="Zone for naive --since/--until.")
@redact_option
@json_option
@click.pass_context
@friendly_errors
def messages(ctx: click.Context, conversation_ref: str | None, person_ref: str | None, since: str | None,
             until: str | None, tz: str | None, redact_policy: str | None, as_json: bool) -> None:
    """The timeline of one conversation (or one person across platforms), oldest first."""
    if bool(conversation_ref) == bool(person_ref):
        raise click.UsageError("give exactly one of --conversation or --person")
    with open_archive(ctx) as archive:
        if person_ref:
            rows = queries.person_messages(archive, person_ref, since=since, until=until, tz=tz,
                                           redact_policy=redact_policy)
            emit(rows, queries.PERSON_TIMELINE_COLUMNS, as_json=as_json, title=person_ref)
            return
        since_ms, until_ms = time_window(archive, since, until, tz)
        conversation = archive.resolve_conversation(conversation_ref)
        rows = queries.timeline(archive, conversation["id"], since_ms, until_ms)
        redact = redactor_for(redact_policy, archive, conversation["id"])
        if redact:
            rows = map(redact, rows)
        title = conversation["title"] or conversation["native_id"]
        emit(rows, TIMELINE_COLUMNS, as_json=as_json, title="(redacted)" if redact else title)


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
@friendly_errors
def people(ctx: click.Context, as_json: bool) -> None:
    """Sender identities on every platform, the persons they are linked to, and suggested links."""
    if ctx.invoked_subcommand is not None:
        return
    with open_archive(ctx) as archive:
        listing = queries.people(archive)
    if as_json:
        emit_json(listing)
        return
    rows, suggested = listing["identities"], listing["suggestions"]
    # the table shows names as words (梅梅, May), not as the JSON list --json gives
    emit(({**row, "names": ", ".join(row["names"])} for row in rows),
         ["identity", "names", "message_count", "conversations", "person", "person_name"], title="Identities")
    if suggested:
        click.echo("Suggested links (apply with `chataudit people link A B`):")
        for s in suggested:
            click.echo(f"  {s['identities'][0]}  ~  {s['identities'][1]}   same {s['reason']}: {s['value']}")


@people.command("link")
@click.argument("identities", nargs=-1, required=True)
@click.option("--name", help="Name of the person (default: the most used display name).")
@click.pass_context
@friendly_errors
def people_link(ctx: click.Context, identities: tuple[str, ...], name: str | None) -> None:
    """Link identities (platform:sender, as `people` lists them) into one person."""
    with open_archive(ctx) as archive:
        person = people_api.link(archive, list(identities), name)
        linked = next(p for p in people_api.people(archive) if p["id"] == person)
    click.echo(f"person {person} ({linked['name']}): {', '.join(linked['identities'])}")


@people.command("unlink")
@click.argument("identities", nargs=-1, required=True)
@click.pass_context
@friendly_errors
def people_unlink(ctx: click.Context, identities: tuple[str, ...]) -> None:
    """Remove identities from the person they are linked to."""
    with open_archive(ctx) as archive:
        people_api.unlink(archive, list(identities))
    click.echo(f"unlinked {len(identities)} identities")


SEARCH_COLUMNS = ["id", "sent_at", "platform", "conversation_title", "sender_name", "snippet"]


@cli.command(context_settings={"ignore_unknown_options": True})  # QUERY may start with '-': -退货
@click.argument("query")
@click.option("--platform", help="Only this platform (telegram, whatsapp, wechat, …).")
@click.option("--sender", help="Only messages from this sender id or display name.")
@click.option("--conversation", "conversation_ref", help="Only this conversation.")
@click.option("--since", help="From this date/time.")
@click.option("--until", help="Up to this date/time.")
@click.option("--tz", help="Zone for naive --since/--until.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@redact_option
@json_option
@click.pass_context
@friendly_errors
def search(ctx: click.Context, query: str, platform: str | None, sender: str | None,
           conversation_ref: str | None, since: str | None, until: str | None, tz: str | None,
           limit: int, redact_policy: str | None, as_json: bool) -> None:
    """Full-text search, newest first. Chinese of any length, "phrases", -exclusions, OR, prefix*, emoji.

    QUERY may begin with '-' (or follow `--`); a query that only excludes is refused."""
    with open_archive(ctx) as archive:
        results = queries.search(archive, query, platform=platform, sender=sender, conversation_ref=conversation_ref,
                                 since=since, until=until, tz=tz, limit=limit, redact_policy=redact_policy)
        if not results and not as_json:
            since_ms, until_ms = time_window(archive, since, until, tz)
            conversation = archive.resolve_conversation(conversation_ref)["id"] if conversation_ref is not None else None
            counts = search_api.searched_scope(archive, platform=platform, sender=sender, conversation=conversation,
                                               since_ms=since_ms, until_ms=until_ms)
            click.echo(search_api.nothing_found(f"message matches {query!r}", counts, {
                "--platform": platform, "--sender": sender, "--conversation": conversation_ref,
                "--since": since, "--until": until}))
            return
    if not as_json:
        for row in results:
            row["snippet"] = search_api.snippet(row["text"], [tuple(s) for s in row["highlights"]], plain=True)
    # under --redact the query (which may be a name) is not echoed
    emit(results, SEARCH_COLUMNS, as_json=as_json,
         title=f"{len(results)} result{'' if len(results) == 1 else 's'}" + ("" if redact_policy else f" for {query}"))


EXPORT_COLUMNS = ["id", "sent_at", "platform", "conversation_native_id", "conversation_title",
                  "sender_id", "sender_name", "kind", "text", "amount", "currency", "reply_to",
                  "edited_at", "message_id", "attachments", "source_path", "position", "content_hash"]


@cli.command()
@click.option("--conversation", "conversation_ref", required=True)
@click.option("--format", "out_format", type=click.Choice(["jsonl", "csv", "html"]), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Output file (default: standard output).")
@click.option("--since")
@click.option("--until")
@click.option("--tz")
@redact_option
@click.pass_context
@friendly_errors
def export(ctx: click.Context, conversation_ref: str, out_format: str, out: str | None,
           since: str | None, until: str | None, tz: str | None, redact_policy: str | None) -> None:
    """Export one conversation as JSON Lines, CSV (UTF-8 with BOM, opens in Excel) or printable HTML."""
    from .render.html import write_timeline

    with open_archive(ctx) as archive:
        since_ms, until_ms = time_window(archive, since, until, tz)
        conversation = dict(archive.resolve_conversation(conversation_ref))
        rows = archive.timeline(conversation["id"], since_ms, until_ms)
        redact = redactor_for(redact_policy, archive, conversation["id"])
        if redact:
            rows = map(redact, rows)
            conversation.update(title="(redacted)", native_id="(redacted)")
        encoding = "utf-8-sig" if out_format == "csv" and out else "utf-8"
        handle = open(out, "w", encoding=encoding, newline="") if out else sys.stdout
        try:
            if out_format == "jsonl":
                count = write_jsonl(rows, handle)
            elif out_format == "csv":
                count = write_csv(rows, EXPORT_COLUMNS, handle)
            else:
                counted = _counting(rows)
                write_timeline(conversation, counted, handle)
                count = counted.count
                records_written(count)
        finally:
            if out:
                handle.close()
    if out:
        click.echo(f"wrote {count} messages to {out}", err=True)


class _counting:
    def __init__(self, rows: Any):
        self.rows, self.count = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


@cli.command("formats")
@json_option
def formats_command(as_json: bool) -> None:
    """List every import format and what it reads."""
    rows = [{"name": m.NAME, "platform": m.PLATFORM, "description": m.DESCRIPTION}
            for m in formats.registry().values()]
    emit(rows, ["name", "platform", "description"], as_json=as_json, title="Formats")


@cli.command()
@json_option
@click.pass_context
@friendly_errors
def sources(ctx: click.Context, as_json: bool) -> None:
    """List imported source files with their SHA-256, format, label and counts."""
    with open_archive(ctx) as archive:
        rows = queries.sources(archive)
    emit(rows, queries.SOURCE_COLUMNS,
         as_json=as_json, title="Sources")


@cli.command("migrate")
@click.argument("source")
@click.argument("target")
@json_option
@friendly_errors
def migrate_command(source: str, target: str, as_json: bool) -> None:
    """Copy an archive to another store (an SQLite file or postgresql://…) with its ledger, sightings,
    governance records and signing key; TARGET must be a new file or an empty database."""
    from .store.transfer import transfer

    result = transfer(db_location(source), db_location(target))
    if as_json:
        emit_json(result)
        return
    click.echo(f"migrated {result['rows']:,} rows of {result['tables']} tables ({result['messages']:,} messages) to "
               f"{result['target']} in {result['seconds']:.1f} s; checkpoint root {result['root']} (tree size "
               f"{result['tree_size']})" + (f"; signing key copied to {result['key_copied_to']}" if result["key_copied_to"] else ""))


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
