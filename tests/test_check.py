"""`check`: authenticity signals of one copy, from realistic clean and tampered exports."""

from __future__ import annotations

import re

import hashlib
import json
import shutil
import tempfile
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit import check as check_api
from chataudit.check import ANOMALIES, CHECKS, NO_ANOMALY, check
from chataudit.check.commands import check_command
from chataudit.cli import cli
from chataudit.errors import ChatAuditError
from chataudit.importer import import_paths
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures" / "check"
cli.add_command(check_command)  # cli.py registers it too; adding the same command twice is harmless


def imported(archive: Archive, *paths: Path, label: str | None = None) -> None:
    summary = import_paths(archive, list(paths), tz="Asia/Shanghai", label=label)
    assert not summary.as_dict()["errors"], summary.as_dict()["errors"]


def by_check(report: dict, name: str) -> list[dict]:
    return [s for s in report["signals"] if s["check"] == name]


def texts(signal: dict) -> list[str]:
    return [m["text"] for m in signal["messages"]]


# ---- clean and tampered copies ----------------------------------------------------------------

def test_clean_copy_has_no_anomaly_and_says_what_was_checked(archive: Archive) -> None:
    imported(archive, FIXTURES / "clean_wechat.jsonl")
    report = check(archive, "1")
    assert report["verdict"] == NO_ANOMALY
    assert report["signals"] == []
    assert report["checked"] == list(CHECKS)
    assert report["scope"]["messages"] == report["scope"]["messages_with_sequence"] == 12
    data = (FIXTURES / "clean_wechat.jsonl").read_bytes()
    assert report["source"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert report["source"]["md5"] == hashlib.md5(data).hexdigest()
    assert report["source"]["sha256_matches_file"] is True


@pytest.fixture
def tampered(archive: Archive) -> dict:
    imported(archive, FIXTURES / "tampered_wechat.jsonl")
    return check(archive, "1")


def test_tampered_copy_moved_message_breaks_local_id_and_file_order(tampered: dict) -> None:
    assert tampered["verdict"] == ANOMALIES
    moved = "是的，型号和样板间一样"
    order = by_check(tampered, "sequence_order")
    assert order and all(moved in texts(s) for s in order)
    assert {s["severity"] for s in order} == {"medium"}  # WeChat local ids: a device sequence
    assert "local_id 1004" in order[0]["detail"]
    file_order = by_check(tampered, "file_order")
    assert len(file_order) == 1 and texts(file_order[0]) == [moved, "尾款什么时候付？"]
    assert file_order[0]["severity"] == "high"


def test_tampered_copy_reused_id_future_and_prehistoric_dates(tampered: dict) -> None:
    duplicates = by_check(tampered, "duplicate_ids")
    assert len(duplicates) == 1
    assert sorted(texts(duplicates[0])) == sorted(["验收合格后再付尾款", "验收前付一半尾款"])
    assert "local_id 1006" in duplicates[0]["detail"] and duplicates[0]["severity"] == "high"
    future = by_check(tampered, "future_instants")
    assert [texts(s) for s in future] == [["合同我这边有原件"]]
    assert future[0]["messages"][0]["sent_at"] == "2031-03-10T09:50:00+08:00"
    launch = by_check(tampered, "before_platform_launch")
    assert [texts(s) for s in launch] == [["你好，我是装修公司的陈经理"]]
    assert "2011-01-21" in launch[0]["detail"]


def test_tampered_copy_names_offsets_edits_recalls(tampered: dict) -> None:
    names = by_check(tampered, "sender_name_changes")
    assert len(names) == 2  # 陈经理 → 王总 and back
    assert "'陈经理', then as '王总'" in names[0]["detail"] and "'王总', then as '陈经理'" in names[1]["detail"]
    assert texts(names[0])[1] == "没问题"
    offsets = by_check(tampered, "utc_offset_changes")
    assert [s["severity"] for s in offsets] == ["medium", "medium"]
    assert "UTC+08:00 to UTC+05:30" in offsets[0]["detail"]
    assert texts(offsets[0])[1] == "阳台的防水做了几遍？"
    edits = by_check(tampered, "edits")
    assert [(s["severity"], texts(s)) for s in edits] == [("info", ["两遍，闭水试验48小时，照片晚点发您"])]
    recalls = by_check(tampered, "recalls")
    assert [s["severity"] for s in recalls] == ["info"] and "撤回" in texts(recalls[0])[0]
    assert by_check(tampered, "rhythm_gaps") == [] and by_check(tampered, "bursts") == []


def test_rhythm_gap_inside_an_active_day_and_a_burst(archive: Archive) -> None:
    imported(archive, FIXTURES / "rhythm.jsonl")
    report = check(archive, "1")
    gaps = by_check(report, "rhythm_gaps")
    assert len(gaps) == 1
    assert [t.split("：")[0] for t in texts(gaps[0])] == ["第45条", "第46条"]
    assert gaps[0]["detail"].startswith("2.0 h of silence")
    bursts = by_check(report, "bursts")
    assert len(bursts) == 1 and bursts[0]["detail"].startswith("12 messages within one second")
    assert all(t.startswith("自动回复") for t in texts(bursts[0]))
    assert by_check(report, "sequence_order") == []  # WeCom seq runs with time
    assert report["verdict"] == ANOMALIES and report["severity_counts"]["low"] == 2


def test_telegram_ids_against_dates(archive: Archive) -> None:
    imported(archive, FIXTURES / "telegram_reordered.json")
    report = check(archive, "1")
    order = by_check(report, "sequence_order")
    assert len(order) == 1 and order[0]["severity"] == "high"
    assert [m["message_id"] for m in order[0]["messages"]] == ["204", "205"]
    assert "message_id 204" in order[0]["detail"]


def test_daylight_saving_offset_change_is_information_only(archive: Archive, tmp_path: Path) -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
    rows = []
    for index in range(6):
        moment = start + timedelta(minutes=20 * index)
        offset = timezone(timedelta(hours=1 if moment < datetime(2026, 3, 29, 1, tzinfo=timezone.utc) else 2))
        rows.append({"sent_at": moment.astimezone(offset).isoformat(), "platform": "whatsapp",
                     "conversation_id": "lukas", "sender_name": "Lukas", "text": f"Nachricht {index}"})
    path = tmp_path / "berlin.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    imported(archive, path)
    report = check(archive, "1")
    offsets = by_check(report, "utc_offset_changes")
    assert [s["severity"] for s in offsets] == ["info"] and "daylight-saving" in offsets[0]["detail"]
    assert report["verdict"] == NO_ANOMALY


# ---- the file read again ----------------------------------------------------------------------

def test_changed_and_missing_source_file(archive: Archive, tmp_path: Path) -> None:
    copy = tmp_path / "chat.jsonl"
    shutil.copy(FIXTURES / "clean_wechat.jsonl", copy)
    imported(archive, copy)
    copy.write_text(copy.read_text(encoding="utf-8").replace("没问题", "没有问题"), encoding="utf-8")
    report = check(archive, str(copy))
    assert report["source"]["sha256_matches_file"] is False
    assert report["source"]["md5"] == hashlib.md5(copy.read_bytes()).hexdigest()
    changed = by_check(report, "source_file_hash")
    assert [s["severity"] for s in changed] == ["high"] and report["verdict"] == ANOMALIES
    copy.unlink()
    report = check(archive, str(copy))
    assert report["source"]["sha256_matches_file"] is None and report["source"]["md5"] is None
    assert [s["severity"] for s in by_check(report, "source_file_hash")] == ["info"]
    assert report["verdict"] == NO_ANOMALY


def test_zip_member_is_read_again(archive: Archive, tmp_path: Path) -> None:
    bundle = tmp_path / "export.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.write(FIXTURES / "clean_wechat.jsonl", "chat/clean_wechat.jsonl")
    imported(archive, bundle)
    report = check(archive, "1")
    assert report["source"]["path"].endswith("export.zip!chat/clean_wechat.jsonl")
    assert report["source"]["sha256_matches_file"] is True
    assert report["source"]["md5"] == hashlib.md5((FIXTURES / "clean_wechat.jsonl").read_bytes()).hexdigest()


# ---- naming the copy --------------------------------------------------------------------------

def test_refs_label_path_sha_prefix_and_conversation(archive: Archive) -> None:
    imported(archive, FIXTURES / "clean_wechat.jsonl", label="wang-phone")
    imported(archive, FIXTURES / "telegram_reordered.json", label="bob-laptop")
    sha = archive.sources()[1]["sha256"]
    assert check(archive, "bob-laptop")["source"]["id"] == 2
    assert check(archive, sha[:10])["source"]["id"] == 2
    assert check(archive, str(FIXTURES / "telegram_reordered.json"))["source"]["id"] == 2
    by_conversation = check(archive, "wechat:wxid_wang")
    assert by_conversation["scope"]["kind"] == "conversation" and by_conversation["scope"]["messages"] == 12
    assert check(archive, "conversation:2")["scope"]["description"].startswith("conversation 2 (telegram")
    with pytest.raises(ChatAuditError, match="no source or conversation 'nobody'"):
        check(archive, "nobody")


def test_a_copy_imported_after_its_clean_twin_is_checked_whole(archive: Archive, tmp_path: Path) -> None:
    """The archive stores shared messages once, but a copy is checked as it showed them (sightings):
    its renamed sender, changed offsets and edits are found even though its twin came first."""
    imported(archive, FIXTURES / "clean_wechat.jsonl")
    imported(archive, FIXTURES / "tampered_wechat.jsonl")
    report = check(archive, "2")
    assert report["scope"]["messages_in_sources"] == 16 and report["scope"]["messages"] == 16
    with Archive(tmp_path / "alone.db") as alone:
        imported(alone, FIXTURES / "tampered_wechat.jsonl")
        by_itself = check(alone, "1")
    # archive ids and import times differ between the two archives; the findings may not
    same = lambda detail: re.sub(r"\(\d{4}-\d\d-\d\dT[^)]*\)", "(…)", re.sub(r"#\d+", "#", detail))  # noqa: E731
    summary = lambda r: sorted((s["check"], s["severity"], same(s["detail"]))  # noqa: E731
                               for s in r["signals"] if s["check"] != "source_file_hash")
    assert summary(report) == summary(by_itself)
    assert by_check(report, "sender_name_changes") and by_check(report, "utc_offset_changes")
    assert check(archive, "1")["verdict"] == "no anomaly found"


# ---- the command ------------------------------------------------------------------------------

def test_cli_json_keys_and_text_verdict(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(db), "import", str(FIXTURES / "tampered_wechat.jsonl"),
                                 "--tz", "Asia/Shanghai"])
    assert result.exit_code == 0, result.output
    out = runner.invoke(cli, ["--db", str(db), "check", "1", "--json"])
    assert out.exit_code == 1, out.output  # anomalies found (as diff: 0 none, 1 found, 2 error)
    report = json.loads(out.output)
    assert {"verdict", "checked", "source", "signals"} <= set(report)
    assert {"path", "sha256", "md5", "sha256_matches_file"} <= set(report["source"])
    assert all(set(s) == {"check", "severity", "detail", "messages"} for s in report["signals"])
    assert {"id", "sender", "sent_at", "text"} <= set(report["signals"][0]["messages"][0])
    text = runner.invoke(cli, ["--db", str(db), "check", "1"])
    assert "Verdict: anomalies found" in text.output and "authentic" not in text.output.replace("not prove", "")
    assert "HIGH   duplicate_ids" in text.output
    missing = runner.invoke(cli, ["--db", str(db), "check", "nothing-like-this"])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert "no source or conversation" in missing.output


def test_cli_clean_copy_never_says_authentic(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    runner = CliRunner()
    runner.invoke(cli, ["--db", str(db), "import", str(FIXTURES / "clean_wechat.jsonl"), "--tz", "Asia/Shanghai"])
    out = runner.invoke(cli, ["--db", str(db), "check", "1"]).output
    assert "Verdict: no anomaly found" in out
    assert "does not prove the copy authentic" in out


# ---- properties -------------------------------------------------------------------------------

instants = st.integers(min_value=-2_000_000_000, max_value=4_000_000_000)
messages = st.lists(
    st.fixed_dictionaries({
        "sent_at": instants,
        "offset": st.sampled_from([0, 60, 330, 480, -300]),
        "platform": st.sampled_from(["wechat", "telegram", "wecom", "email", "generic", "slack"]),
        "conversation_id": st.sampled_from(["a", "b"]),
        "sender_id": st.sampled_from(["u1", "u2", None]),
        "sender_name": st.sampled_from(["甲", "乙", "Bob", None]),
        "message_id": st.one_of(st.none(), st.integers(0, 10**20).map(str), st.text(max_size=5)),
        "kind": st.sampled_from(["text", "recall", "system", "image"]),
        "text": st.text(max_size=20),
        "extras": st.one_of(st.none(), st.fixed_dictionaries({"local_id": st.integers(-5, 10**19)}),
                            st.fixed_dictionaries({"seq": st.one_of(st.integers(0, 50), st.text(max_size=3))})),
        "edited": st.one_of(st.none(), st.integers(-10**6, 10**6)),
    }),
    max_size=25,
)


def _write(rows: list[dict], path: Path) -> None:
    lines = []
    for r in rows:
        tz = timezone(timedelta(minutes=r["offset"]))
        sent = datetime.fromtimestamp(r["sent_at"], tz)
        doc = {k: r[k] for k in ("platform", "conversation_id", "sender_id", "sender_name", "message_id", "kind", "text")
               if r[k] is not None}
        doc["sent_at"] = sent.isoformat()
        if r["edited"] is not None:
            doc["edited_at"] = (sent + timedelta(seconds=r["edited"])).isoformat()
        if r["extras"]:
            doc["extras"] = r["extras"]
        lines.append(json.dumps(doc, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=messages)
def test_check_never_crashes_on_random_archives(rows: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.jsonl"
        _write(rows, path)
        with Archive(Path(folder) / "a.db") as archive:
            summary = import_paths(archive, [path], format_name="generic", tz="UTC")
            if summary.as_dict()["errors"] or not archive.sources():
                return
            report = check(archive, "1")
            assert report["verdict"] in (NO_ANOMALY, ANOMALIES)
            assert (report["verdict"] == ANOMALIES) == any(s["severity"] != "info" for s in report["signals"])
            stored = {r[0] for r in archive.db.execute("SELECT id FROM messages")}
            for signal in report["signals"]:
                assert signal["check"] in CHECKS and signal["severity"] in check_api.SEVERITIES
                assert {m["id"] for m in signal["messages"]} <= stored


@settings(max_examples=30, deadline=None)
@given(count=st.integers(min_value=3, max_value=30), data=st.data())
def test_one_swapped_pair_is_named_and_an_ordered_file_is_quiet(count: int, data: st.DataObject) -> None:
    gaps = data.draw(st.lists(st.integers(1, 3600), min_size=count, max_size=count))
    swap = data.draw(st.integers(0, count - 2))
    start = 1_773_300_000
    times = [start + sum(gaps[: i + 1]) for i in range(count)]
    with tempfile.TemporaryDirectory() as folder:
        for swapped in (False, True):
            stamps = list(times)
            if swapped:
                stamps[swap], stamps[swap + 1] = stamps[swap + 1], stamps[swap]
            rows = [{"sent_at": s, "platform": "telegram", "conversation_id": "c", "sender_name": "A",
                     "message_id": str(100 + i), "text": f"m{i}"} for i, s in enumerate(stamps)]
            path = Path(folder) / f"t{int(swapped)}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            with Archive(Path(folder) / f"a{int(swapped)}.db") as archive:
                import_paths(archive, [path], format_name="generic", tz="UTC")
                report = check(archive, "1")
            order = by_check(report, "sequence_order")
            if not swapped:
                assert report["verdict"] == NO_ANOMALY and order == []
            else:
                named = {m["message_id"] for s in order for m in s["messages"]}
                assert {str(100 + swap), str(101 + swap)} <= named
                assert by_check(report, "file_order")
