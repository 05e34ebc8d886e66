"""Issue #10 (ledger items): a cut tail is caught by the witness file, a checkpoint's signing time is
signed, verify names which checkpoints are time-stamped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from chataudit.governance.audit import record
from chataudit.importer import import_paths
from chataudit.ledger import Ledger, merkle
from chataudit.ledger.keys import create_key, load_key
from chataudit.ledger.note import Checkpoint, open_note, sign
from chataudit.ledger.verify import summary_lines, verify_archive
from chataudit.store import Archive
from chataudit.store.sqlite import ROWID_SHIFT
from chataudit.textindex import index_body

from test_ledger import cli_group

HEADER = "conversation_id,sent_at,sender_name,text\n"


def write(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    db = tmp_path / "a.db"
    first = write(tmp_path / "one.csv", "c1,2026-03-20T09:00:00+08:00,王女士,你好\n",
                  "c1,2026-03-20T09:01:00+08:00,客服小李,您好，请问有什么可以帮您\n")
    second = write(tmp_path / "two.csv", "c1,2026-03-21T10:00:00+08:00,王女士,退款到账了吗\n",
                   "c1,2026-03-21T10:02:00+08:00,客服小李,已经全额退款\n")
    with Archive(db) as archive:
        assert not import_paths(archive, [first]).errors
    with Archive(db) as archive:
        assert not import_paths(archive, [second]).errors
    return db


def sql(db: Path, *statements: str, params: tuple = ()) -> None:
    connection = sqlite3.connect(db)
    for statement in statements:
        connection.execute(statement, params if "?" in statement else ())
    connection.commit()
    connection.close()


def drop_guards(db: Path) -> None:
    connection = sqlite3.connect(db)
    for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        connection.execute(f"DROP TRIGGER {name}")
    connection.commit()
    connection.close()


def cut_last_import(db: Path) -> None:
    """What an attacker holding only the archive does: delete the last source, everything it brought,
    its leaves and the checkpoints that signed them."""
    drop_guards(db)
    connection = sqlite3.connect(db)
    (source,) = connection.execute("SELECT max(id) FROM sources").fetchone()
    (first_leaf,) = connection.execute("SELECT idx FROM ledger_leaves WHERE kind = 0 AND ref = ?", (source,)).fetchone()
    for statement in ("DELETE FROM sightings WHERE source = ?", "DELETE FROM ledger_sightings WHERE source = ?",
                      "DELETE FROM ledger_conversations WHERE source = ?"):
        connection.execute(statement, (source,))
    connection.create_function("index_body", 1, index_body)
    connection.execute("INSERT INTO message_fts (message_fts, rowid, body) SELECT 'delete',"
                       f" (sent_at_ms / 1000) * {ROWID_SHIFT} + id, index_body(text) FROM messages WHERE source = ?",
                       (source,))
    connection.execute("DELETE FROM messages WHERE source = ?", (source,))
    connection.execute("DELETE FROM sources WHERE id = ?", (source,))
    connection.execute("DELETE FROM ledger_leaves WHERE idx >= ?", (first_leaf,))
    connection.execute("DELETE FROM ledger_checkpoints WHERE tree_size > ?", (first_leaf,))
    connection.commit()
    connection.close()


def report_of(db: Path, **kwargs):
    with Archive(db) as archive:
        return verify_archive(archive, **kwargs)


def kinds(report) -> list[str]:
    return [p["kind"] for p in report.problems]


def test_every_signed_checkpoint_reaches_the_witness_file_beside_the_key(db: Path) -> None:
    witness = db.with_suffix(".db.witness")
    assert witness == Path(str(db) + ".witness")
    doc = orjson.loads(witness.read_bytes())
    with Archive(db) as archive:
        ledger = Ledger(archive)
        assert ledger.witness_path == witness
        latest = ledger.latest_checkpoint()
        assert doc["logs"][ledger.origin]["checkpoint"] == latest.note
    report = report_of(db)
    assert report.ok, report.problems
    assert report.witness["status"] == "consistent" and report.witness["tree_size"] == latest.tree_size


def test_cutting_the_last_import_is_caught_by_the_witness(db: Path) -> None:
    cut_last_import(db)
    # the archive alone is a shorter, valid log: what the witness is for
    assert report_of(db, witness_path=db.parent / "elsewhere.witness").ok
    report = report_of(db)
    assert kinds(report) == ["truncated"], report.problems
    assert "was cut" in report.problems[0]["detail"] and report.witness["status"] == "truncated"
    result = CliRunner().invoke(cli_group(), ["--db", str(db), "verify"], catch_exceptions=False)
    assert result.exit_code == 1 and "TRUNCATED" in result.output


def test_cutting_the_last_audit_entries_is_caught(db: Path) -> None:
    with Archive(db) as archive:
        signed_before = Ledger(archive).latest_checkpoint().tree_size
        for n in range(2):
            record(archive, operator="auditor", command="search", params={"q": f"退款{n}"})
    assert report_of(db).ok
    drop_guards(db)
    sql(db, "DELETE FROM governance_audit", f"DELETE FROM ledger_leaves WHERE idx >= {signed_before}",
        f"DELETE FROM ledger_checkpoints WHERE tree_size > {signed_before}")
    assert kinds(report_of(db)) == ["truncated"]


def test_a_rewritten_tail_signed_again_with_the_key_diverges_from_the_witness(db: Path, tmp_path: Path) -> None:
    cut_last_import(db)
    other = write(tmp_path / "three.csv", "c1,2026-03-21T10:00:00+08:00,王女士,我不要退款\n",
                  "c1,2026-03-21T10:02:00+08:00,客服小李,好的\n", "c1,2026-03-21T10:03:00+08:00,王女士,谢谢\n")
    with Archive(db) as archive:  # the attacker also holds the key: the new tail is validly signed
        assert not import_paths(archive, [other]).errors
    witness = orjson.loads(Path(str(db) + ".witness").read_bytes())
    report = report_of(db)
    assert not report.ok and set(kinds(report)) <= {"truncated", "witness"}, report.problems
    with Archive(db) as archive:  # and the witness did not follow the rewritten log
        ledger = Ledger(archive)
        assert orjson.loads(ledger.witness_path.read_bytes()) == witness
        assert ledger.sync_witness().startswith("refused")
        with pytest.raises(Exception, match="tail was cut or rewritten"):
            ledger.witness_checkpoint(1)


def test_no_witness_is_a_notice_and_a_witness_of_another_key_is_a_problem(db: Path, tmp_path: Path) -> None:
    Path(str(db) + ".witness").unlink()
    report = report_of(db)
    assert report.ok and report.witness["status"] == "none"
    assert any(n["kind"] == "witness" and "would go unnoticed" in n["detail"] for n in report.notices)
    with Archive(db) as archive:
        ledger = Ledger(archive)
        origin, latest = ledger.origin, ledger.latest_checkpoint()
    forger = create_key(tmp_path / "other.key", origin)
    forged = sign(Checkpoint(origin, latest.tree_size + 5, b"\x01" * 32).text(), forger)
    Path(str(db) + ".witness").write_bytes(orjson.dumps({"v": 1, "logs": {origin: {"checkpoint": forged}}}))
    assert kinds(report_of(db)) == ["witness"]
    Path(str(db) + ".witness").write_text("{not json", encoding="utf-8")
    assert kinds(report_of(db)) == ["witness"]


def test_a_lagging_witness_is_proven_consistent(db: Path, tmp_path: Path) -> None:
    with Archive(db) as archive:
        first = Ledger(archive).checkpoints()[0]
    witness = tmp_path / "w.witness"
    witness.write_bytes(orjson.dumps({"v": 1, "logs": {first.note.split("\n", 1)[0]: {"checkpoint": first.note}}}))
    report = report_of(db, witness_path=witness)
    assert report.ok and report.witness["status"] == "consistent_behind", report.problems


def test_witness_checkpoint_for_evidence_packages_proves_consistency(db: Path) -> None:
    with Archive(db) as archive:
        ledger = Ledger(archive)
        first, latest = ledger.checkpoints()[0], ledger.latest_checkpoint()
        doc = ledger.witness_checkpoint(first.tree_size)
        verifier = load_key(ledger.key_path).verifier
    head = Checkpoint.from_text(open_note(doc["note"], verifier).text)
    assert (head.size, head.root.hex()) == (latest.tree_size, doc["root"])
    merkle.verify_consistency(first.tree_size, head.size, [bytes.fromhex(h) for h in doc["consistency"]],
                              first.root, head.root)


def test_moving_a_signing_time_backwards_names_the_checkpoint_not_the_messages(db: Path) -> None:
    drop_guards(db)
    sql(db, "UPDATE ledger_checkpoints SET signed_at = '2020-01-01T00:00:00.000Z', signed_at_ms = 1577836800000")
    report = report_of(db)
    assert report.problems and set(kinds(report)) == {"checkpoint_time"}, report.problems
    assert all("checkpoint" in p["detail"] and "signed note says" in p["detail"] for p in report.problems)


def test_a_legacy_checkpoint_with_an_unsigned_time_moved_back_is_named_too(db: Path) -> None:
    """Checkpoints signed before the time was under the signature: the imports they sign bound them."""
    drop_guards(db)
    with Archive(db) as archive:
        ledger = Ledger(archive)
        signer, origin = load_key(ledger.key_path), ledger.origin
        rows = archive.db.execute("SELECT id, tree_size, root FROM ledger_checkpoints").fetchall()
    connection = sqlite3.connect(db)
    for cid, size, root in rows:  # re-sign each head as the code before signed times did
        note = sign(Checkpoint(origin, size, root).text(), signer)
        connection.execute("UPDATE ledger_checkpoints SET note = ?, signed_at = '2020-01-01T00:00:00.000Z',"
                           " signed_at_ms = 1577836800000 WHERE id = ?", (note, cid))
    connection.commit()
    connection.close()
    Path(str(db) + ".witness").unlink()
    report = report_of(db)
    assert set(kinds(report)) == {"checkpoint_time"} and "future_instant" not in kinds(report)
    assert any(n["kind"] == "checkpoint_time_unsigned" for n in report.notices)
    assert any("before the import it signs" in p["detail"] for p in report.problems)


def test_summary_names_timestamped_checkpoints_and_the_witness(db: Path) -> None:
    lines = summary_lines(report_of(db))
    assert "timestamped checkpoints: none" in lines
    assert any(line.startswith("witness ") and line.endswith(")") and "consistent" in line for line in lines)


# ---- item 6: the full-text index is checked against the messages -----------------------------------

def fts(db: Path, *statements: str) -> None:
    connection = sqlite3.connect(db)
    connection.create_function("index_body", 1, index_body)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def search_ids(db: Path, query: str) -> list[int]:
    from chataudit.search import search_messages

    with Archive(db) as archive:
        return [row["id"] for row in search_messages(archive, query)]


ROWID = f"(sent_at_ms / 1000) * {ROWID_SHIFT} + id"


def test_a_dropped_index_row_is_named(db: Path) -> None:
    assert search_ids(db, "全额退款") == [4]
    fts(db, f"INSERT INTO message_fts (message_fts, rowid, body) SELECT 'delete', {ROWID}, index_body(text)"
            " FROM messages WHERE id = 4")
    assert search_ids(db, "全额退款") == []  # hidden from search
    report = report_of(db)
    assert kinds(report) == ["search_index"] and report.problems[0]["message"]["id"] == 4
    assert report.problems[0]["detail"] == "full-text index: search cannot find it"
    assert report_of(db, check_index=False).ok


def test_a_poisoned_index_row_is_named_with_the_words(db: Path) -> None:
    fts(db, f"INSERT INTO message_fts (message_fts, rowid, body) SELECT 'delete', {ROWID}, index_body(text)"
            " FROM messages WHERE id = 1",
        f"INSERT INTO message_fts (rowid, body) SELECT {ROWID}, index_body(text || ' 同意赔偿') FROM messages WHERE id = 1")
    assert search_ids(db, "同意赔偿") == [1]  # the index makes it match what it never said
    (problem,) = report_of(db).problems
    assert problem["kind"] == "search_index" and problem["message"]["id"] == 1
    assert "does not contain" in problem["detail"] and "'赔偿'" in problem["detail"]


def test_an_index_row_under_another_instant_poisons_its_message_and_is_named(db: Path) -> None:
    fts(db, f"INSERT INTO message_fts (rowid, body) VALUES ({5 * ROWID_SHIFT + 2}, 'refund approved')")
    assert 2 in search_ids(db, "refund approved")
    (problem,) = report_of(db).problems
    assert problem["message"]["id"] == 2 and "'approved'" in problem["detail"]
    fts(db, f"INSERT INTO message_fts (rowid, body) VALUES ({5 * ROWID_SHIFT + 999}, 'ghost')")
    assert any("for no message" in p["detail"] and "'ghost'" in p["detail"] for p in report_of(db).problems)


def test_purge_and_redaction_keep_the_index_true(db: Path) -> None:
    with Archive(db) as archive:
        ledger = Ledger(archive)
        ledger.purge(1, "retention")
        ledger.redact(4, ["text"], "privacy")
    report = report_of(db)
    assert report.ok and report.index_checked, report.problems


# ---- issue #11: verify names the field that changed ------------------------------------------------

@pytest.mark.parametrize(("statement", "field"), [
    ("UPDATE messages SET text = '我同意全额退款' WHERE id = 2", "text"),
    ("UPDATE messages SET amount = 900.0, currency = 'CNY' WHERE id = 2", "amount, currency"),
    ("UPDATE messages SET kind = 'transfer' WHERE id = 2", "kind"),
    ("UPDATE messages SET attachments = '[{\"name\":\"a.jpg\",\"size\":1}]' WHERE id = 2", "attachments"),
    ("UPDATE messages SET utc_offset_min = 0 WHERE id = 2", "utc_offset_min"),
])
def test_verify_names_the_changed_field(db: Path, statement: str, field: str) -> None:
    sql(db, statement)
    problems = [p for p in report_of(db, check_index=False).problems if p["kind"] == "modified"]
    assert [p["detail"] for p in problems] == [f"differs in {field}"]
    assert problems[0]["message"]["id"] == 2


def test_a_moved_message_names_its_locator_and_the_other_fields(db: Path) -> None:
    sql(db, "UPDATE messages SET sent_at_ms = sent_at_ms + 60000, text = '改过' WHERE id = 2")
    (problem,) = [p for p in report_of(db, check_index=False).problems if p["kind"] == "modified"]
    assert problem["detail"].startswith("instant changed from ") and problem["detail"].endswith("; differs in text")


# ---- item 5: a conversation's title, type and members are under the ledger -------------------------

@pytest.mark.parametrize(("statement", "field"), [
    ("UPDATE conversations SET title = '全额退款确认群'", "title"),
    ("UPDATE conversations SET type = 'group'", "type"),
    ("UPDATE conversations SET members = '[[\"wxid_x\",\"假客服\"]]'", "members"),
])
def test_a_changed_conversation_is_named_with_the_field(db: Path, statement: str, field: str) -> None:
    with Archive(db) as archive:
        assert set(Ledger(archive).conversation_states().values()) == {"signed"}
    sql(db, statement)
    (problem,) = report_of(db, check_index=False).problems
    assert problem["kind"] == "modified" and problem["detail"].startswith("conversation generic:c1 ")
    assert problem["detail"].endswith(f"differs in {field}")
    with Archive(db) as archive:
        assert set(Ledger(archive).conversation_states().values()) == {"changed"}


def test_a_later_export_that_retitles_the_chat_is_signed_again(db: Path, tmp_path: Path) -> None:
    export = tmp_path / "titled.json"  # a Telegram export names the chat
    export.write_text(orjson.dumps({"name": "售后群", "type": "private_group", "id": 42, "messages": [
        {"id": 1, "type": "message", "date": "2026-03-22T10:00:00", "date_unixtime": "1774144800",
         "from": "王女士", "from_id": "user1", "text": "在吗"}]}).decode(), encoding="utf-8")
    with Archive(db) as archive:
        assert not import_paths(archive, [export]).errors
    again = export.with_name("renamed.json")
    again.write_text(export.read_text(encoding="utf-8").replace("售后群", "售后群（已解决）"), encoding="utf-8")
    with Archive(db) as archive:
        assert not import_paths(archive, [again]).errors
        titles = [t for (t,) in archive.db.execute("SELECT title FROM conversations WHERE title IS NOT NULL")]
    assert titles == ["售后群（已解决）"]
    report = report_of(db)
    assert report.ok and report.unsigned_conversations == [], report.problems


def test_a_conversation_signed_before_it_was_covered_is_marked_unverified(db: Path) -> None:
    drop_guards(db)
    sql(db, "DELETE FROM ledger_conversations")
    with Archive(db) as archive:
        states = Ledger(archive).conversation_states()
    assert set(states.values()) == {"unsigned"}
    report = report_of(db, check_index=False)
    assert report.unsigned_conversations == list(states)
    assert any(n["kind"] == "conversations_unsigned" and "unverified" in n["detail"] for n in report.notices)


# ---- the evidence package carries the latest checkpoint and marks the unproven conversation fields --

def custody_of(package: Path) -> dict:
    import zipfile

    with zipfile.ZipFile(package) as z:
        return orjson.loads(z.read("custody.json"))


def test_a_package_carries_the_latest_checkpoint_and_a_consistency_proof_to_it(db: Path, tmp_path: Path) -> None:
    from chataudit.evidence.package import export_package

    with Archive(db) as archive:
        first = Ledger(archive).checkpoints()[1]  # a package proving against an earlier checkpoint
        record(archive, operator="auditor", command="search", params={"q": "退款"})  # the log grows after it
        latest = Ledger(archive).latest_checkpoint()
        export_package(archive, tmp_path / "p.zip", conversation="c1", pdf=False, argv=["chataudit"])
    custody = custody_of(tmp_path / "p.zip")
    carried = custody["archive"]["latest_checkpoint"]
    assert carried["note"] == latest.note and carried["from_size"] == custody["archive"]["tree_size"]
    assert custody["archive"]["tree_size"] in (first.tree_size, latest.tree_size)
    merkle.verify_consistency(carried["from_size"], carried["tree_size"],
                              [bytes.fromhex(h) for h in carried["consistency"]],
                              bytes.fromhex(custody["archive"]["root"]), latest.root)
    conversation = custody["selection"]["conversation"]
    assert conversation["unverified"] == ["title", "type"] and conversation["archive_ledger"] == "signed"


def test_no_package_from_a_cut_archive_or_a_changed_conversation(db: Path, tmp_path: Path) -> None:
    from chataudit.errors import ChatAuditError
    from chataudit.evidence.package import export_package

    sql(db, "UPDATE conversations SET title = '假群名'")
    with Archive(db) as archive, pytest.raises(ChatAuditError, match="title, type or members"):
        export_package(archive, tmp_path / "p.zip", conversation="c1", pdf=False, argv=["chataudit"])
    sql(db, "UPDATE conversations SET title = NULL")
    cut_last_import(db)
    with Archive(db) as archive, pytest.raises(ChatAuditError, match="tail was cut"):
        export_package(archive, tmp_path / "p.zip", conversation="c1", pdf=False, argv=["chataudit"])


def test_an_unwritable_witness_keeps_the_import_and_says_so_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("CHATAUDIT_WITNESS", str(blocker / "w.witness"))
    source = write(tmp_path / "one.csv", "c1,2026-03-20T09:00:00+08:00,王女士,你好\n")
    with Archive(tmp_path / "a.db") as archive:
        assert not import_paths(archive, [source]).errors
    err = capsys.readouterr().err
    assert err.startswith("chataudit: witness file not updated: ") and err.count("\n") == 1 and "Traceback" not in err
    report = report_of(tmp_path / "a.db")
    assert kinds(report) == ["witness"] and report.witness["status"] == "unreadable"
