"""The command line end to end: import, conversations, messages, search, export, formats."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from conftest import both_stores

GENERIC = Path(__file__).parent / "fixtures" / "generic"
ROSTER = Path(__file__).parent.parent / "samples" / "roster.csv"


def run(db: Path, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def db(new_archive) -> Path:
    path = new_archive("cli.db")
    run(path, "import", str(GENERIC), "--tz", "Asia/Shanghai", "--label", "mine")
    return path


@both_stores
def test_import_json_summary_keys_and_reimport(new_archive) -> None:
    db = new_archive("x.db")
    first = json.loads(run(db, "import", str(GENERIC), "--tz", "Asia/Shanghai", "--json").output)
    assert set(first) == {"files", "messages", "new", "duplicates", "already_imported", "skipped", "errors", "failed",
                          "warnings", "seconds", "sources"}
    assert (first["files"], first["messages"], first["new"]) == (2, 14, 14)
    again = json.loads(run(db, "import", str(GENERIC), "--json").output)
    assert (again["new"], again["already_imported"]) == (0, 2)


@both_stores
def test_conversations_json(db: Path) -> None:
    rows = json.loads(run(db, "conversations", "--json").output)
    by_id = {r["native_id"]: r for r in rows}
    assert by_id["shop-1001"]["message_count"] == 8
    assert by_id["shop-1001"]["title"] == "客户王女士"
    assert set(rows[0]) == {"id", "platform", "native_id", "title", "type", "message_count", "senders",
                            "first_at", "last_at"}


@both_stores
def test_timeline_is_ordered_and_window_uses_archive_zone(db: Path) -> None:
    rows = json.loads(run(db, "messages", "--conversation", "shop-1001", "--json").output)
    assert [r["sent_at"] for r in rows] == sorted(r["sent_at"] for r in rows)
    assert rows[3]["text"] == "感谢您的配合！已为您申请退款。\n退款会在1-3个工作日原路返回。"
    assert rows[3]["position"] == 5  # the line where the multi-line CSV record starts
    window = json.loads(run(db, "messages", "--conversation", "shop-1001", "--since", "2026-03-12T08:04",
                            "--until", "2026-03-12T08:06", "--json").output)
    assert [r["kind"] for r in window] == ["text", "transfer"]
    assert window[1]["amount"] == "299.00" and window[1]["currency"] == "CNY"


@both_stores
def test_search_json_has_snippet_and_highlights(db: Path) -> None:
    rows = json.loads(run(db, "search", "赔偿", "--json").output)
    assert len(rows) == 1
    assert rows[0]["snippet"].endswith("要求<mark>赔偿</mark>")
    assert rows[0]["highlights"] == [[rows[0]["text"].index("赔偿"), rows[0]["text"].index("赔偿") + 2]]
    assert rows[0]["source_label"] == "mine"


@both_stores
def test_search_table_output_shows_brackets(db: Path) -> None:
    assert "[退货]" in run(db, "search", "退货").output


@both_stores
def test_export_formats(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    run(db, "export", "--conversation", "shop-1001", "--format", "csv", "--out", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 CSV correctly only with a BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 8 and rows[0]["sender_name"] == "王女士"
    lines = run(db, "export", "--conversation", "shop-1001", "--format", "jsonl").output.splitlines()
    assert len(lines) == 8 and json.loads(lines[4])["amount"] == "299.00"
    html_out = tmp_path / "c.html"
    run(db, "export", "--conversation", "shop-1001", "--format", "html", "--out", str(html_out))
    page = html_out.read_text(encoding="utf-8")
    assert page.count('class="msg') == 8 and "客户王女士" in page and "8 messages" in page


def test_formats_lists_names_and_descriptions(tmp_path: Path) -> None:
    rows = json.loads(run(tmp_path / "f.db", "formats", "--json").output)
    names = {r["name"] for r in rows}
    assert "generic" in names
    assert all(r["description"] for r in rows)


def test_unknown_format_is_one_line_and_exit_1(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just some notes\nnothing to see\n", encoding="utf-8")
    result = run(tmp_path / "u.db", "import", str(junk), ok=False)
    assert result.exit_code == 1
    assert f"{junk}: unknown format" in result.output


def test_missing_path_and_bad_zone(tmp_path: Path) -> None:
    result = run(tmp_path / "m.db", "import", str(tmp_path / "nope.json"), ok=False)
    assert result.exit_code == 1 and "no such file" in result.output
    result = run(tmp_path / "m.db", "import", str(GENERIC), "--tz", "Mars/Olympus", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output


@both_stores
def test_truncated_csv_names_file_and_line_and_imports_nothing(tmp_path: Path, new_archive) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sent_at,sender_name,text\n2026-03-12 10:00:00,张三,你好\n2026-03-12 10:01:00,张三\n",
                   encoding="utf-8")
    db = new_archive("b.db")
    result = run(db, "import", str(bad), ok=False)
    assert result.exit_code == 1
    assert f"{bad}:3: expected 3 columns, found 2" in result.output
    assert json.loads(run(db, "conversations", "--json").output) == []


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16", "utf-8-sig"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / f"chat-{encoding}.csv"
    path.write_text("sent_at,sender_name,text\n2026-03-12 10:00:00,张三,首付按我说的办，别动\n", encoding=encoding)
    db = tmp_path / "e.db"
    run(db, "import", str(path), "--tz", "+08:00")
    rows = json.loads(run(db, "search", "首付", "--json").output)
    assert rows[0]["text"] == "首付按我说的办，别动" and rows[0]["sender_name"] == "张三"


def test_bad_gbk_byte_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes('{"sent_at": "2026-03-12T10:00:00+08:00", "text": "好"}\n'.encode()
                     + b'{"sent_at": "2026-03-12T10:00:00+08:00", "text": "\xff\xfe\xfd"}\n')
    result = run(tmp_path / "g.db", "import", str(path), ok=False)
    assert f"{path}:2: cannot decode" in result.output


@both_stores
def test_zip_of_an_export(tmp_path: Path, new_archive) -> None:
    bundle = tmp_path / "export.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.write(GENERIC / "service_chat.csv", "export/service_chat.csv")
        zf.writestr("export/photo.jpg", b"\xff\xd8\xff\xe0 not a chat")
    db = new_archive("z.db")
    summary = json.loads(run(db, "import", str(bundle), "--tz", "Asia/Shanghai", "--json").output)
    assert (summary["files"], summary["new"], summary["skipped"]) == (1, 11, 1)
    assert summary["sources"][0]["path"] == f"{bundle}!export/photo.jpg" or summary["sources"][1]["path"] == f"{bundle}!export/service_chat.csv"
    sources = json.loads(run(db, "sources", "--json").output)
    assert sources[0]["path"] == f"{bundle}!export/service_chat.csv"


def test_redact_flag_hides_personal_data_in_every_output(tmp_path: Path) -> None:
    chat = tmp_path / "pii.csv"
    chat.write_text("sent_at,sender_name,text\n"
                    "2026-03-12 10:00:00,王女士,我的手机是13812345678，退货地址写这个\n"
                    "2026-03-12 10:01:00,客服,好的，已登记退货\n", encoding="utf-8")
    db = tmp_path / "r.db"
    run(db, "import", str(chat), "--tz", "+08:00")
    outputs = [
        run(db, "search", "退货", "--redact", "--json").output,
        run(db, "messages", "--conversation", "pii", "--redact", "--json").output,
        run(db, "export", "--conversation", "pii", "--format", "jsonl", "--redact").output,
    ]
    for output in outputs:
        assert "13812345678" not in output and "退货" in output
    assert "13812345678" in run(db, "search", "退货", "--json").output  # without --redact nothing is hidden


@both_stores
def test_governance_commands_same_json_on_either_store(db: Path) -> None:
    """roster, hold, retention, audit, mode, init and `key export` on either store: the same answers."""
    roster = json.loads(run(db, "roster", "set", str(ROSTER), "--json").output)
    assert (roster["members"], roster["audit_entry"]) == (5, 1)
    assert [r["id"] for r in json.loads(run(db, "roster", "show", "--json").output)][:2] == ["LiNa", "ZhangWei"]
    hold = json.loads(run(db, "hold", "add", "--conversation", "generic:shop-1001", "--reason", "dispute 7",
                          "--json").output)
    assert (hold["id"], hold["conversation"], hold["active"], hold["tampered"]) == (1, 2, True, None)
    run(db, "retention", "set", "default", "6m")
    applied = json.loads(run(db, "retention", "apply", "--as-of", "2026-12-01", "--json").output)
    assert (applied["purged"], applied["counts"]["held"], applied["counts"]["by_hold"]) == (6, 8, {"1": 8})
    assert sorted(p["message"] for p in applied["purge"]) == [1, 2, 3, 12, 13, 14]
    assert sum(c["message_count"] for c in json.loads(run(db, "conversations", "--json").output)) == 8
    assert json.loads(run(db, "auth", "list", "--json").output) == []
    assert [e["command"] for e in json.loads(run(db, "audit", "--json").output)] == [
        "roster set", "hold add", "retention set", "retention apply"]
    assert json.loads(run(db, "mode", "--json").output) == {
        "mode": "personal", "admin": None, "reads_audited": False, "roster": 5, "authorizations_active": 0,
        "holds_active": 1, "retention_rules": 1, "audit_entries": 4}
    run(db, "init")
    assert run(db, "key", "export").output.startswith("chataudit/")
    assert json.loads(run(db, "verify", "--json").output)["ok"] is True
