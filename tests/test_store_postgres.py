"""The PostgreSQL store against the SQLite one: same results, same --json; its own guarantees
(history guards, a DBA's edit caught by verify, concurrent imports, refusals). Runs on the
session's throwaway cluster (conftest.pg_cluster)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from chataudit.cli import POSTGRES_COMMANDS, cli
from chataudit.search import parse_query
from chataudit.store import Archive
from chataudit.store.pgsearch import tokens, tsquery_text
from chataudit.store.postgres import SEARCH_WINDOW
from chataudit.textindex import index_body

ROOT = Path(__file__).parent.parent
SOURCES = [ROOT / "samples", ROOT / "tests" / "fixtures" / "generic"]
QUERIES = ["退", "退货", "退款", "原路返回", "好的", "谢谢", "refund", "morn*", "lemon", "lem*", "退货 OR 换货", "退款 -退货", "👍", "首付",
           '"工作日"', "zzzrare"]


def run(db, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def listing(db, *args: str):
    return json.loads(run(db, *args, "--json").output)


@pytest.fixture(scope="module")
def both(pg_cluster, tmp_path_factory):
    """The same exports imported into an SQLite file and a PostgreSQL database."""
    folder = tmp_path_factory.mktemp("both")
    sqlite_db, pg_db = folder / "a.db", pg_cluster.create_database("same_results")
    for db in (sqlite_db, pg_db):
        for source in SOURCES:
            run(db, "import", str(source), "--tz", "Asia/Shanghai", "--label", "team")
    return sqlite_db, pg_db


def _sources(db):
    return [{k: v for k, v in row.items() if k != "imported_at"} for row in listing(db, "sources")]


def test_same_listings_and_json_as_sqlite(both) -> None:
    sqlite_db, pg_db = both
    conversations = listing(sqlite_db, "conversations")
    assert len(conversations) >= 5
    assert listing(pg_db, "conversations") == conversations
    assert _sources(pg_db) == _sources(sqlite_db)
    for conversation in conversations:
        ref = str(conversation["id"])
        assert listing(pg_db, "messages", "--conversation", ref) == listing(sqlite_db, "messages", "--conversation", ref)


@pytest.mark.parametrize("query", QUERIES)
def test_search_same_rows_in_same_order(both, query: str) -> None:
    sqlite_db, pg_db = both
    expected = listing(sqlite_db, "search", query)
    assert listing(pg_db, "search", query) == expected
    if query in ("退", "退货", "谢谢", "lemon", "lem*"):
        assert expected, query  # the comparison is not between two empty answers


def test_search_filters_same_as_sqlite(both) -> None:
    sqlite_db, pg_db = both
    for args in (["--since", "2026-03-12T08:04", "--until", "2026-03-12T08:06"], ["--platform", "generic"],
                 ["--conversation", "1"], ["--limit", "2"]):
        assert listing(pg_db, "search", "退", *args) == listing(sqlite_db, "search", "退", *args), args


def _beyond_the_window(path: Path) -> int:
    """SEARCH_WINDOW + 600 messages a minute apart (message n has id n + 1): 退货 in each; 换货 in
    every 100th and every 20th of the 600 oldest (41 among the newest SEARCH_WINDOW, 71 in all);
    违约金 only in the 10 oldest."""
    count = SEARCH_WINDOW + 600
    rows = []
    for n in range(count):
        words = ["我想退货"] + (["换货可以吗"] if n % 100 == 0 or (n < 600 and n % 20 == 0) else []) \
            + (["按合同支付违约金"] if n < 10 else [])
        rows.append(json.dumps({"sent_at": f"2026-03-{1 + n // 1440:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00+08:00",
                                "conversation_id": f"c{n % 4}", "sender_name": f"客户{n % 5}",
                                "text": "，".join(words) + f" #{n}"}, ensure_ascii=False))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return count


def test_search_beyond_the_newest_index_rows_same_as_sqlite(pg_cluster, tmp_path: Path) -> None:
    """Hits among the newest SEARCH_WINDOW index rows, further back only, and both, with and without
    filters: the same rows in the same order as SQLite, on a new connection and on a kept one whose
    prepared statement has a generic plan (what `serve`'s connections come to)."""
    from chataudit.search import parse_query

    count = _beyond_the_window(tmp_path / "many.jsonl")
    sqlite_db, pg_db = tmp_path / "a.db", pg_cluster.create_database("beyond_window")
    for db in (sqlite_db, pg_db):
        run(db, "import", str(tmp_path / "many.jsonl"), "--tz", "Asia/Shanghai")
    first_day = {"since_ms": 1772294400000, "until_ms": 1772380800000}  # 2026-03-01 (+08:00): 1,440 messages
    # half a second later: the first day's first message is out, the next day's first in (the index
    # rows keep whole seconds: the messages' own instants decide)
    shifted = {"since_ms": first_day["since_ms"] + 500, "until_ms": first_day["until_ms"] + 500, "limit": count}
    searches = [("退货", {}), ("换货", {}), ("违约金", {}), ("退货", {"limit": count}), ("退货", {"conversation": 2}),
                ("违约金", {"sender": "客户1"}), ("换货", first_day), ("退货", first_day),
                ("退货", first_day | {"limit": count}), ("退货", shifted)]
    with Archive(sqlite_db, create=False) as lite, Archive(pg_db, create=False) as pg:
        expected = [lite.search(parse_query(q).expression, **filters) for q, filters in searches]
        assert [len(rows) for rows in expected] == [50, 50, 10, count, 50, 2, 39, 50, 1440, 1440]
        assert sum(row["id"] <= count - SEARCH_WINDOW for row in expected[1]) == 9  # 41 newest, then 9 older
        assert (expected[-2][-1]["id"], expected[-1][-1]["id"], expected[-1][0]["id"]) == (1, 2, 1441)
        assert [pg.search(parse_query(q).expression, **f) for q, f in searches] == expected
        pg.db.raw.execute("SET plan_cache_mode = force_generic_plan")
        for _ in range(2):
            assert [pg.search(parse_query(q).expression, **f) for q, f in searches] == expected


PENDING = ("SELECT coalesce(sum(gin_clean_pending_list(i.indexrelid::regclass)), 0), count(*) FROM pg_index i"
           " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
           " JOIN pg_class t ON t.oid = i.indrelid WHERE a.amname = 'gin' AND t.relname LIKE 'message_fts_p%'")


def test_an_import_leaves_no_gin_pending_list_and_no_jit(pg_cluster, tmp_path: Path) -> None:
    """A search reads a GIN index's pending list whole until it is merged: the import merges the
    lists of the months it wrote once committed (so a second merge finds nothing), and the
    archive's connections do not JIT-compile (seconds per search over many partitions)."""
    url = pg_cluster.create_database("settled")
    for source in SOURCES:
        run(url, "import", str(source), "--tz", "Asia/Shanghai")
    with psycopg.connect(url, autocommit=True) as db:
        pending, indexes = db.execute(PENDING).fetchone()
    assert indexes >= 1 and pending == 0
    with Archive(url, create=False) as archive:
        assert archive.db.raw.execute("SHOW jit").fetchone()[0] == "off"
        assert archive.search(parse_query("退").expression)  # and the archive still searches


def test_reimport_adds_nothing_and_verify_passes(both) -> None:
    _, pg_db = both
    again = json.loads(run(pg_db, "import", str(SOURCES[1]), "--json").output)
    assert (again["new"], again["already_imported"]) == (0, 2)
    report = json.loads(run(pg_db, "verify", "--json").output)
    assert report["ok"] is True
    assert run(pg_db, "checkpoint").output.startswith("chataudit/")
    proof = json.loads(run(pg_db, "proof", "3", "--json").output)
    assert proof["leaf_index"] >= 0 and proof["root"]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("退货款好的 aAéÉß😀👍¥-_.,!ＡＢ１２İıǅ\u0301\u200d\n"), max_size=30))
def test_tokens_are_fts5_tokens(text: str) -> None:
    """The PostgreSQL index holds exactly the tokens FTS5's tokenizer makes of the same index body."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='unicode61 remove_diacritics 2 categories ''L* N* Co S*''')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, instance)")
    body = index_body(text)
    db.execute("INSERT INTO f (rowid, body) VALUES (1, ?)", (body,))
    assert tokens(body) == [term for (term,) in db.execute("SELECT term FROM v ORDER BY offset")]


def test_query_translation() -> None:
    assert tsquery_text('"退"*') == "('退':*)"
    assert tsquery_text('("要退 退货" AND "物流")') == "( ('要退' <-> '退货') & ('物流') )"
    assert tsquery_text('"Café" NOT ("it\'s")') == "('cafe') & ! ( ('it' <-> 's') )"


def test_a_dba_edit_is_caught_and_history_is_guarded(pg_cluster) -> None:
    url = pg_cluster.create_database("tamper")
    run(url, "import", str(SOURCES[1]), "--tz", "Asia/Shanghai")
    assert json.loads(run(url, "verify", "--json").output)["ok"] is True
    with psycopg.connect(url, autocommit=True) as dba:
        dba.execute("UPDATE messages SET text = '我没说过' WHERE id = 4")
        for statement in ("UPDATE ledger_leaves SET leaf_hash = 'x' WHERE idx = 0", "DELETE FROM ledger_checkpoints",
                          "UPDATE ledger_sightings SET hash = 'x'", "TRUNCATE ledger_leaves CASCADE",
                          "TRUNCATE governance_audit"):  # TRUNCATE fires no row trigger: a statement guard
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only|append"):
                dba.execute(statement)
    result = run(url, "verify", ok=False)
    assert result.exit_code != 0
    assert "message 4" in result.output and "text" in result.output


def test_history_guards_exist_for_every_sqlite_trigger(pg_cluster) -> None:
    url = pg_cluster.create_database("guards")
    with Archive(url) as archive:
        names = {r[0] for r in archive.db.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        assert {n for n, *_ in archive.db.raw.execute("SELECT number FROM schema_migrations").fetchall()} >= set(range(1, 24))
    sqlite_archive = Archive(Path(pg_cluster.folder).parent / f"guards-{pg_cluster.port}.db")
    try:
        with sqlite_archive:
            expected = {r[0] for r in sqlite_archive.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    finally:
        Path(sqlite_archive.path).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(sqlite_archive.path) + suffix).unlink(missing_ok=True)
    assert expected and expected <= names


def test_four_concurrent_imports_lose_and_duplicate_nothing(pg_cluster, tmp_path: Path) -> None:
    """Two different files and one file twice, in four processes at once: each message once, each
    source once, one consistent ledger (verify passes)."""
    url = pg_cluster.create_database("concurrent")
    run(url, "init")
    files = []
    for n in range(3):
        path = tmp_path / f"site{n}.jsonl"
        path.write_text("".join(json.dumps({"sent_at": f"2026-03-1{n + 1}T10:{i // 60:02d}:{i % 60:02d}+08:00",
                                            "conversation_id": f"site{n}", "sender_name": f"客户{i % 7}",
                                            "text": f"第{i}条 退货 {n}"}, ensure_ascii=False) + "\n"
                                for i in range(400)), encoding="utf-8")
        files.append(path)
    jobs = [files[0], files[1], files[2], files[2]]
    processes = [subprocess.Popen([sys.executable, "-m", "chataudit.cli", "--db", url, "import", str(path), "--json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for path in jobs]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    news = sorted(json.loads(out)["new"] for out, _ in outputs)
    assert news == [0, 400, 400, 400]
    with psycopg.connect(url) as db:
        assert db.execute("SELECT count(*), count(DISTINCT (conversation, sent_at_ms, content_key, occurrence))"
                          " FROM messages").fetchone() == (1200, 1200)
        assert db.execute("SELECT count(*) FROM sources").fetchone()[0] == 3
        assert db.execute("SELECT count(*) FROM sightings").fetchone()[0] == 1200
        assert db.execute("SELECT max(id) FROM messages").fetchone()[0] == 1200  # dense ids, as on SQLite
    assert json.loads(run(url, "verify", "--json").output)["ok"] is True
    assert len(listing(url, "search", "退货", "--limit", "2000")) == 1200


def test_commands_not_yet_on_postgresql_refuse_in_one_line(pg_cluster, tmp_path: Path) -> None:
    url = pg_cluster.create_database("refuse")
    result = run(url, "spark", "pii", "--lake", str(tmp_path), "--conversation", "1", ok=False)
    with Archive(url, create=False) as archive:  # the refusal was that command's, not the API's
        assert archive.stats()["messages"] == 0
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: `chataudit spark` does not run on a PostgreSQL archive yet (it runs on SQLite archive files);"
        f" on PostgreSQL: {', '.join(sorted(POSTGRES_COMMANDS))}"]
    assert {"quality", "serve", "supervise", "review", "people", "user", "retention"} <= POSTGRES_COMMANDS


def test_commands_about_the_archive_file_refuse_in_one_line_saying_what_to_use(pg_cluster, tmp_path: Path) -> None:
    """Encryption at rest and backups of an SQLite file have the server's own tools on PostgreSQL."""
    url = pg_cluster.create_database("file_only")
    disk = "on PostgreSQL encryption at rest is the server's: keep its data directory on an encrypted disk"
    for args, instead in [(["encrypt"], disk), (["decrypt", "--yes"], disk), (["init", "--encrypt"], disk),
                          (["key", "status"], disk), (["key", "change"], disk),
                          (["backup", "--to", str(tmp_path / "b")], "on PostgreSQL back it up with pg_dump (one database)"
                                                                    " or pg_basebackup with WAL archiving")]:
        result = run(url, *args, ok=False)
        (line,) = result.output.strip().splitlines()
        assert result.exit_code == 1 and line.startswith(f"Error: `chataudit {' '.join(args[:2] if args[0] in ('key', 'init') else args[:1])}` ")
        assert instead in line and "SQLite archive file" in line, line
    assert list(tmp_path.iterdir()) == []  # no key file, no backup folder
    run(url, "init")  # the signing key is the archive's on either store
    assert run(url, "key", "export").output.startswith("chataudit/")


def test_unreachable_server_is_one_line_without_the_password(pg_cluster) -> None:
    result = run(f"postgresql://someone:s3cret@127.0.0.1:{pg_cluster.port}/no_such_db", "conversations", ok=False)
    assert result.exit_code == 1
    assert "cannot connect to PostgreSQL" in result.output and "s3cret" not in result.output
    assert "Traceback" not in result.output


def test_readers_are_never_blocked_by_a_writer_and_writers_take_turns(pg_cluster) -> None:
    from chataudit.search import parse_query

    url = pg_cluster.create_database("readers")
    run(url, "import", str(SOURCES[1]), "--tz", "Asia/Shanghai")
    with Archive(url, create=False) as writer, Archive(url, create=False) as other:
        writer.db.execute("BEGIN IMMEDIATE")  # holds the archive's write lock, as an import does
        writer.db.execute("INSERT INTO settings (key, value) VALUES ('held', '1')")
        started = time.monotonic()
        assert other.search(parse_query("退").expression)
        assert other.stats()["messages"] == 14
        assert time.monotonic() - started < 2
        other.db.wait_limit_s = 0.3
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.db.execute("INSERT INTO settings (key, value) VALUES ('second', '1')")
        assert other.setting("held") is None  # the writer's row is not seen before its commit
        writer.db.execute("COMMIT")
        other.db.execute("INSERT INTO settings (key, value) VALUES ('second', '1')")  # its turn now
        assert (other.setting("held"), other.setting("second")) == ("1", "1")


def test_a_very_long_message_is_indexed_within_tsvector_limits(pg_cluster, tmp_path: Path) -> None:
    """Past 16,383 tokens positions repeat the last one, and a token over 2,046 bytes is left out;
    the message is stored and found by its words."""
    url = pg_cluster.create_database("long")
    chat = tmp_path / "long.jsonl"
    text = "退货 " * 17000 + "x" * 3000 + " 尾巴"
    chat.write_text(json.dumps({"sent_at": "2026-03-14T10:00:00+08:00", "conversation_id": "c", "sender_name": "a",
                                "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    run(url, "import", str(chat), "--format", "generic")
    assert [row["id"] for row in listing(url, "search", "尾巴")] == [1]
    assert json.loads(run(url, "verify", "--json").output)["ok"] is True


def _counts(db) -> dict[str, int]:
    with Archive(db, create=False) as archive:
        return {table: archive.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("messages", "sightings", "ledger_leaves", "ledger_checkpoints", "ledger_sightings",
                              "governance_audit", "conversation_aliases", "settings")}


def _latest_root(db) -> str:
    with Archive(db, create=False) as archive:
        return bytes(archive.db.execute("SELECT root FROM ledger_checkpoints ORDER BY id DESC LIMIT 1").fetchone()[0]).hex()


def test_migrate_sqlite_to_postgresql_and_back_keeps_ledger_governance_and_key(pg_cluster, tmp_path: Path) -> None:
    start, back = tmp_path / "start.db", tmp_path / "back.db"
    for source in SOURCES:
        run(start, "import", str(source), "--tz", "Asia/Shanghai")
    run(start, "init", "--mode", "enterprise")  # governance records: the mode's audit entry, a signed leaf
    root, counts = _latest_root(start), _counts(start)
    assert counts["governance_audit"] >= 1
    url = pg_cluster.create_database("migrated")
    moved = json.loads(CliRunner().invoke(cli, ["migrate", str(start), url, "--json"]).output)
    assert (moved["root"], moved["messages"]) == (root, counts["messages"])
    assert moved["key_copied_to"] and Path(moved["key_copied_to"]).read_bytes() == Path(f"{start}.key").read_bytes()
    assert _counts(url) == counts and _latest_root(url) == root
    assert listing(url, "search", "退") == listing(start, "search", "退")
    with psycopg.connect(url, autocommit=True) as db:
        assert db.execute(PENDING).fetchone()[0] == 0  # the copy's GIN pending lists merged
    result = CliRunner().invoke(cli, ["--db", url, "verify", "--json"])
    assert json.loads(result.output)["ok"] is True, result.output

    root, counts = _latest_root(url), _counts(url)  # verify in enterprise mode adds its own audit entry
    result = CliRunner().invoke(cli, ["migrate", url, str(back), "--json"])
    assert json.loads(result.output)["root"] == root, result.output
    assert _counts(back) == counts
    assert json.loads(CliRunner().invoke(cli, ["--db", str(back), "verify", "--json"]).output)["ok"] is True


def test_migrate_refuses_a_target_that_holds_an_archive(pg_cluster, tmp_path: Path) -> None:
    start = tmp_path / "start.db"
    run(start, "import", str(SOURCES[1]))
    url = pg_cluster.create_database("occupied")
    run(url, "import", str(SOURCES[1]))
    result = CliRunner().invoke(cli, ["migrate", str(start), url])
    assert result.exit_code == 1
    assert "Error: migrate: the target already holds an archive" in result.output
    assert _counts(url)["messages"] == 14


def test_facts_and_match_same_as_sqlite(pg_cluster, tmp_path: Path) -> None:
    """`facts` and `match` run on PostgreSQL through the SQL translation (their whole test files pass
    there with tests/pg_survey.py); here their --json against SQLite's on one story."""
    statements = ROOT / "tests" / "fixtures" / "statements"
    sqlite_db, pg_db = tmp_path / "story.db", pg_cluster.create_database("story")
    for db in (sqlite_db, pg_db):
        run(db, "import", str(statements / "chat_zhang_wang.jsonl"), "--format", "generic", "--tz", "Asia/Shanghai")
    facts = listing(sqlite_db, "facts")
    assert facts and listing(pg_db, "facts") == facts
    matched = listing(sqlite_db, "match", "--statement", str(statements / "alipay.csv"))
    assert matched["matched"] and listing(pg_db, "match", "--statement", str(statements / "alipay.csv")) == matched


def test_pii_scan_same_as_sqlite_and_rescans_an_edited_message(pg_cluster, tmp_path: Path) -> None:
    """`pii scan` on PostgreSQL: the same findings as on SQLite, and its SQLite triggers (translated
    to PL/pgSQL row triggers) rescan a message whose text changed, as they do on SQLite."""
    dispute = ROOT / "tests" / "fixtures" / "pii" / "dispute.jsonl"
    sqlite_db, pg_db = tmp_path / "pii.db", pg_cluster.create_database("pii")
    results = []
    for db in (sqlite_db, pg_db):
        run(db, "import", str(dispute), "--tz", "Asia/Shanghai")
        first = listing(db, "pii", "scan")
        with Archive(db, create=False) as archive:
            changed = archive.db.execute("SELECT min(message) FROM pii_findings WHERE type = 'mobile'").fetchone()[0]
            archive.db.execute("UPDATE messages SET text = '已清除' WHERE id = ?", (changed,))
        second = listing(db, "pii", "scan")
        results.append([{k: v for k, v in r.items() if k != "seconds"} for r in (first, second)])
    first, second = results[0]
    assert first["findings"] and first["scanned"] > 1
    assert second["scanned"] == 1 and second["counts"].get("mobile", 0) < first["counts"]["mobile"]
    assert results[1] == results[0]


def test_compare_and_check_same_as_sqlite(pg_cluster, tmp_path: Path) -> None:
    """`compare` and `check` on PostgreSQL (SQLite's bare columns of a grouped query, GLOB,
    date(…, 'unixepoch') and group_concat translated): the same --json as on SQLite."""
    compare_fixtures, check_fixtures = ROOT / "tests" / "fixtures" / "compare", ROOT / "tests" / "fixtures" / "check"
    sqlite_db, pg_db = tmp_path / "copies.db", pg_cluster.create_database("copies")
    reports = []
    for db in (sqlite_db, pg_db):
        run(db, "import", str(compare_fixtures / "wang_phone.csv"), "--tz", "Asia/Shanghai", "--label", "wang-phone")
        run(db, "import", str(check_fixtures / "tampered_wechat.jsonl"), "--tz", "Asia/Shanghai", "--label", "tampered")
        verified = lambda: {k: v for k, v in json.loads(run(db, "verify", "--json", ok=False).output).items()  # noqa: E731
                            if k in ("tree_size", "root", "checkpoints", "problem_count")}
        before = (_sources(db), verified())
        compared = run(db, "compare", "wang-phone", str(compare_fixtures / "shop_console.jsonl"), "--json", ok=False)
        checked = run(db, "check", "tampered", "--json", ok=False)
        assert (_sources(db), verified()) == before  # the file compared with was read, not imported
        assert (compared.exit_code, checked.exit_code) == (1, 1), compared.output + checked.output
        text = compared.output + "\n" + checked.output
        for imported in {row["imported_at"] for row in listing(db, "sources")}:  # the one thing that differs
            text = text.replace(imported, "IMPORTED_AT")
        reports.append(text)
    assert '"duplicate_ids"' in reports[0] and '"altered"' in reports[0]
    assert reports[1] == reports[0]


def test_evidence_package_same_messages_as_sqlite_and_verifies(pg_cluster, tmp_path: Path, monkeypatch) -> None:
    """`evidence export` on PostgreSQL: a package whose messages and proofs verify, with the same
    messages as the package of the same import on SQLite; its custody log names the database."""
    import zipfile

    monkeypatch.setenv("CHATAUDIT_KEYS", str(tmp_path / "keys"))
    sqlite_db, pg_db = tmp_path / "evidence.db", pg_cluster.create_database("evidence")
    contents = []
    for db, name in ((sqlite_db, "a.zip"), (pg_db, "b.zip")):
        run(db, "import", str(ROOT / "tests" / "fixtures" / "generic" / "service_chat.csv"), "--tz", "Asia/Shanghai")
        run(db, "evidence", "export", "--conversation", "shop-1001", "--no-pdf", "--out", str(tmp_path / name))
        report = json.loads(run(db, "evidence", "verify", str(tmp_path / name), "--json").output)
        assert report["ok"], report
        with zipfile.ZipFile(tmp_path / name) as package:
            custody = json.loads(package.read("custody.json"))
            records = [json.loads(line) for line in package.read("messages.jsonl").decode().splitlines()]
            contents.append([{k: v for k, v in r.items() if k != "disclosures"} for r in records])  # salted
    assert custody["archive"]["path"].startswith("postgresql://") and "@" in custody["archive"]["path"]
    assert contents[0] and contents[1] == contents[0]


def test_sqlite_only_sql_means_the_same_on_postgresql(pg_cluster) -> None:
    """The translation of SQLite's own SQL (GLOB, bare columns beside min/max, date(…, 'unixepoch'),
    group_concat of numbers, INDEXED BY) gives SQLite's answers, statement by statement."""
    from chataudit.store.pgsql import PgConnection

    pg, lite = PgConnection(pg_cluster.create_database("dialect")), sqlite3.connect(":memory:")
    rows = [(1, "a", 5, "7"), (1, "b", 3, "x7"), (1, "c", 9, "123"), (2, "d", 2, ""), (2, "e", 4, "9a")]
    for db in (pg, lite):
        db.execute("CREATE TABLE t (k INTEGER, name TEXT, n INTEGER, s TEXT)")
        db.executemany("INSERT INTO t (k, name, n, s) VALUES (?, ?, ?, ?)", rows)
        db.execute("CREATE INDEX t_k ON t (k)")
    for sql in ["SELECT k, name, min(n) FROM t GROUP BY k ORDER BY k",
                "SELECT k, name, max(n) FROM t INDEXED BY t_k GROUP BY k ORDER BY name",
                "SELECT name FROM t WHERE s GLOB '[0-9]*' AND NOT s GLOB '*[^0-9]*' ORDER BY name",
                "SELECT name FROM t WHERE s GLOB '?7' OR s GLOB '9*' ORDER BY name",
                "SELECT k, group_concat(n) FROM (SELECT * FROM t ORDER BY n) GROUP BY k ORDER BY k",
                "SELECT date(n * 86400 * 400, 'unixepoch') FROM t ORDER BY n",
                "SELECT X'00ff7f', zeroblob(3), length(zeroblob(n)) FROM t ORDER BY n"]:
        assert [tuple(r) for r in pg.execute(sql).fetchall()] == lite.execute(sql).fetchall(), sql
    pg.close()
