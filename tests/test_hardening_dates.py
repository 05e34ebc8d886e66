"""Instants outside 1900-01-01 … 2100-01-01 (UTC) are refused at their line by every format, and one
such file never stops the other files of the same import.

The full-text index keys a message by sent_at seconds × 2³¹ in a 64-bit rowid: a date after
2106-02-07 or before 1833 once crashed the store with "datatype mismatch" and aborted the import.
Each case takes a real fixture of one format, moves its years (and Unix stamps) out of range, and
imports it together with a good file.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from chataudit.importer import import_paths
from chataudit.model import EARLIEST_INSTANT, LATEST_INSTANT, Message, instant_problem
from chataudit.store import Archive, SourceInfo

FIXTURES = Path(__file__).parent / "fixtures"
CASES = {
    "telegram-json": "telegram/personal_result.json",
    "whatsapp-txt": "whatsapp/WhatsApp Chat with Alice.txt",
    "wechat-csv memotrace": "wechat/memotrace/梅梅_utf8.csv",
    "wechat-csv pywxdump": "wechat/pywxdump_old/wxid_hanmeimei01_0_6.csv",
    "wechat-csv folder": "wechat/pywxdump/20877654321@chatroom",
    "wechat-txt": "wechat/txt/项目组.txt",
    "wechat-db": "wechat/db",
    "wecom-archive": "wecom/archive.jsonl",
    "feishu-json": "feishu/pages.jsonl",
    "dingtalk-json": "dingtalk/callbacks.jsonl",
    "email mbox": "email/thread_en.mbox",
    "email eml": "email/quote_cn.eml",
    "slack-export": "slack/acme_export",
    "generic jsonl": "generic/family.jsonl",
    "generic csv": "generic/service_chat.csv",
}
# (year written for 20xx, prefix replacing the "16"/"17" of 10- and 13-digit Unix stamps, shift of WeChat DB seconds)
SHIFTS = {"after 2106": (b"2107", b"43", 2_600_000_000), "before 1833": (b"1800", b"-61", -6_000_000_000)}


def shifted(data: bytes, year: bytes, stamp: bytes) -> bytes:
    data = re.sub(rb"(?<![0-9])20(2[0-9])(?=[-/\s,])", year, data)
    data = re.sub(rb"(?<![0-9])(\d{2}/\d{2}/)20\d\d", rb"\g<1>" + year, data)
    return re.sub(rb"(?<![0-9.])1[67](\d{8}(?:\d{3})?)(?![0-9])", stamp + rb"\1", data)


def out_of_range_copy(source: Path, target: Path, shift: tuple[bytes, bytes, int]) -> Path:
    year, stamp, seconds = shift
    if source.is_file():
        target.write_bytes(shifted(source.read_bytes(), year, stamp))
        return target
    shutil.copytree(source, target)
    for file in target.rglob("*"):
        if file.suffix in (".json", ".csv"):
            file.write_bytes(shifted(file.read_bytes(), year, stamp))
    for database in target.rglob("MSG*.db"):
        with sqlite3.connect(database) as db:
            db.execute("UPDATE MSG SET CreateTime = CreateTime + ?", (seconds,))
        db.close()
    return target


@pytest.mark.parametrize("shift", SHIFTS, ids=list(SHIFTS))
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_an_out_of_range_date_is_refused_at_its_line_and_the_next_file_still_imports(
        tmp_path: Path, case: str, shift: str) -> None:
    source = FIXTURES / CASES[case]
    bad = out_of_range_copy(source, tmp_path / source.name, SHIFTS[shift])
    good = tmp_path / "good.jsonl"
    good.write_text('{"sent_at": "2024-01-01T10:00:00+00:00", "sender_name": "a", "text": "still here"}\n',
                    encoding="utf-8")
    with Archive(tmp_path / "a.db") as archive:
        summary = import_paths(archive, [bad, good]).as_dict()
        assert archive.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 1  # nothing half-imported
    assert len(summary["errors"]) == 1, summary["errors"]
    error = summary["errors"][0]
    assert re.match(re.escape(str(bad)) + (r"/[^:]+\.json:\d+: " if case == "slack-export" else r"(/[^:]+)?:\d+: "), error), error
    assert "outside the supported range" in error or "no valid 'ts'" in error, error
    assert summary["sources"][-1]["messages"] == 1 and summary["sources"][-1]["error"] is None


def _message(moment: datetime) -> Message:
    return Message(platform="generic", conversation_id="c", sent_at=moment, text="x", position=1)


def test_the_range_is_one_rule_with_exact_edges() -> None:
    assert instant_problem(_message(EARLIEST_INSTANT)) is None
    assert instant_problem(_message(LATEST_INSTANT - timedelta(microseconds=1))) is None
    assert "outside the supported range" in instant_problem(_message(LATEST_INSTANT))
    assert "outside the supported range" in instant_problem(_message(EARLIEST_INSTANT - timedelta(seconds=1)))
    # the extremes Python can hold, in zones that push them over the edge of datetime itself
    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))
    assert "outside" in instant_problem(_message(far))
    assert "outside" in instant_problem(_message(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))))
    edited = Message(platform="generic", conversation_id="c", sent_at=EARLIEST_INSTANT, text="x",
                     edited_at=datetime(2200, 1, 1, tzinfo=timezone.utc))
    assert "edit date" in instant_problem(edited)


def test_the_store_refuses_out_of_range_records_from_api_callers_too(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        source = SourceInfo(path="api", sha256="0" * 64, size=1, format="generic", label=None)
        with pytest.raises(ValueError, match="outside the supported range"):
            archive.import_records(source, iter([_message(datetime(2106, 2, 8, tzinfo=timezone.utc))]))
        assert archive.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_values_the_archive_cannot_hold_are_refused_at_their_line(tmp_path: Path) -> None:
    """A 65-bit integer in an extra field, or a CreateTime beyond any calendar, names its line."""
    wecom = tmp_path / "archive.jsonl"
    lines = (FIXTURES / "wecom" / "archive.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace('"seq":', '"seq":99999999999999999999', 1)
    wecom.write_text("".join(lines), encoding="utf-8")
    memotrace = tmp_path / "梅梅_utf8.csv"
    rows = (FIXTURES / "wechat" / "memotrace" / "梅梅_utf8.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    rows[2] = rows[2].replace(",1773300185,", ",99999999999999999999,")
    memotrace.write_text("".join(rows), encoding="utf-8")
    with Archive(tmp_path / "a.db") as archive:
        summary = import_paths(archive, [wecom, memotrace]).as_dict()
    assert [e.split(": ", 1)[0] for e in summary["errors"]] == [f"{wecom}:3", f"{memotrace}:3"], summary["errors"]
    assert "cannot store" in summary["errors"][0] and "no instant a calendar holds" in summary["errors"][1]
