"""compare: two or more copies of one conversation held against each other.

Fixtures (tests/fixtures/compare/):

* ``wang_phone.csv`` (generic CSV, wall clock of Asia/Shanghai) is the customer's own export;
  ``shop_console.jsonl`` (generic JSON Lines, UTC instants) is the shop's export of the same chat,
  with its own ids and contact names, other spellings (half-width punctuation, full-width digits,
  rich text, an entity, an emoji variation selector, image placeholders in English) and these
  planted differences: one message deleted, one inserted, one altered, one re-timed (+13 min), two
  swapped (reordered), one recalled.
* ``alice_result.json`` (Telegram Desktop, date_unixtime) is Alice's export; ``bob_result.json`` is
  Bob's older export of the same chat (wall clock only, Asia/Shanghai) read with the wrong ``--tz UTC``
  (so +8 h off), with other contact names, plain text where Alice's has rich-text fragments, and one
  deletion, one insertion, one alteration, one re-timing (+25 min).
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chataudit.cli import cli
from chataudit.compare import Side, char_diff, compare_copies, normalize
from chataudit.compare.align import align
from chataudit.compare.commands import compare

FIXTURES = Path(__file__).parent / "fixtures" / "compare"
cli.add_command(compare)  # as cli.py registers it


def run(db: Path, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    if ok:  # compare exits as diff does: 0 identical, 1 different (tests/test_exit_codes.py), 2 error
        assert result.exit_code in ((0, 1) if args[0] == "compare" else (0,)), result.output
    return result


def texts(entries: list[dict]) -> set[str]:
    return {e["a"]["text"] if "a" in e else e["text"] for e in entries}


# ---- normalization and diff --------------------------------------------------------------------

@pytest.mark.parametrize("one, other", [
    ("你好，我想退货。", "你好,我想退货."),                      # full-/half-width punctuation
    ("订单号 20260305-8812", "订单号 ２０２６０３０５－８８１２"),   # full-width digits (NFKC)
    ("好的 谢谢", "好的  谢谢\n"),                               # whitespace
    ("地址：上海市浦东新区", "地址：<b>上海市</b>浦东新区"),          # rich-text fragments
    ("Tom & Jerry", "Tom &amp; Jerry"),                          # entities
    ("好的👍", "好的👍\ufe0f"),                                   # emoji variation selector
    ("“合同”《第一条》", '"合同"<第一条>'),                        # CJK quotes and brackets
    ("ｅｘａｍｐｌｅ", "example"),
])
def test_normalize_ignores_how_an_exporter_spelled_it(one: str, other: str) -> None:
    assert normalize(one) == normalize(other)


@pytest.mark.parametrize("one, other", [("同意", "不同意"), ("5000元", "500元"), ("Yes", "yes")])
def test_normalize_keeps_what_was_said(one: str, other: str) -> None:
    assert normalize(one) != normalize(other)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(
    st.characters(), st.sampled_from(list("，。！？：；（）、“”‘’「」【】《》—～　\u200b\ufe0f\u00adＡ１＃ｶﾞ①㈱ﬁ"))), max_size=40))
def test_fast_normalize_equals_plain_nfkc_mapping(text: str) -> None:
    from chataudit.compare.align import _PUNCTUATION

    if "<" in text or "&" in text:
        return  # markup is removed first in both; not what this property is about
    import unicodedata

    assert normalize(text) == "".join(unicodedata.normalize("NFKC", text).translate(_PUNCTUATION).split())


def test_char_diff_marks_deletions_and_insertions() -> None:
    diff = char_diff("我们同意全额退款1299元。", "我们同意部分退款299元。")
    assert "".join(s["text"] for s in diff if s["op"] != "insert") == "我们同意全额退款1299元。"
    assert "".join(s["text"] for s in diff if s["op"] != "delete") == "我们同意部分退款299元。"
    assert {"op": "delete", "text": "全额"} in diff and {"op": "insert", "text": "部分"} in diff


# ---- two parties, two formats, two time zones ----------------------------------------------------

@pytest.fixture
def two_party_db(tmp_path: Path) -> Path:
    db = tmp_path / "wang.db"
    run(db, "import", str(FIXTURES / "wang_phone.csv"), "--tz", "Asia/Shanghai", "--label", "wang-phone")
    return db


def test_generic_two_parties_every_planted_difference_and_nothing_else(two_party_db: Path) -> None:
    # B is given as a file: imported on the fly, labelled with its file name
    report = json.loads(run(two_party_db, "compare", "wang-phone", str(FIXTURES / "shop_console.jsonl"),
                            "--json").output)
    assert report["clock_offset_seconds"] == 0  # +08:00 wall clock and UTC are the same instants
    assert report["sender_mapping"] == {"我": "王芳（客户）", "优衣旗舰店": "客服小李"}
    assert texts(report["missing_in_b"]) == {"运费由我们承担，您放心。"}
    assert texts(report["missing_in_a"]) == {"根据平台规则，破损需在签收后48小时内反馈。"}
    assert report["missing_in_a"][0]["sent_at"] == "2026-03-12T06:15:00+00:00"  # as the shop's export showed it
    [altered] = report["altered"]
    assert altered["a"]["text"] == "核实了，确实是质量问题，我们同意全额退款1299元。"
    assert altered["b"]["text"] == "核实了，确实是质量问题，我们同意部分退款299元。"
    assert {"op": "delete", "text": "全额"} in altered["diff"] and {"op": "insert", "text": "部分"} in altered["diff"]
    [retimed] = report["retimed"]
    assert retimed["a"]["text"] == "退货单已生成，单号 RT-5521。" and retimed["delta_seconds"] == 780
    assert retimed["a"]["sender"] == "优衣旗舰店" and retimed["b"]["sender"] == "客服小李"
    [reordered] = report["reordered"]
    assert reordered["a"]["text"] in {"没有了", "再见"} and abs(reordered["delta_seconds"]) == 5
    [recalled] = report["kind_changed"]
    assert recalled["a"]["text"] == "如果7天内没收到退款我会投诉"
    assert (recalled["a"]["kind"], recalled["b"]["kind"]) == ("text", "recall")
    assert report["matched"] == 26 - 5  # the other 21, including repeated 好的 / 收到，谢谢 and both images
    assert report["verdict"].startswith("DIFFERENT")
    assert set(report) >= {"matched", "missing_in_a", "missing_in_b", "altered", "retimed", "reordered",
                           "kind_changed", "verdict", "sender_mapping", "clock_offset_seconds"}
    for entry in report["missing_in_b"]:
        assert set(entry) >= {"sender", "sent_at", "text"}


def test_telegram_wrong_time_zone_found_once_and_compensated(tmp_path: Path) -> None:
    db = tmp_path / "tg.db"
    run(db, "import", str(FIXTURES / "alice_result.json"), "--label", "alice")
    run(db, "import", str(FIXTURES / "bob_result.json"), "--label", "bob", "--tz", "UTC")  # really Asia/Shanghai
    report = json.loads(run(db, "compare", "alice", "bob", "--json").output)
    assert report["clock_offset_seconds"] == 8 * 3600
    assert sum("wrong time zone" in f for f in report["findings"]) == 1
    assert report["sender_mapping"] == {"Alice Schmidt": "Alice (Berlin)", "Bob Jones": "Bob"}
    assert texts(report["missing_in_b"]) == {"Please send the signed PDF by Friday."}
    assert texts(report["missing_in_a"]) == {"Also, I never agreed to the penalty clause."}
    [altered] = report["altered"]
    assert (altered["a"]["text"], altered["b"]["text"]) == ("Agreed on €5,000. I'll sign tonight.",
                                                            "Agreed on €3,000. I'll sign tonight.")
    [retimed] = report["retimed"]
    assert retimed["a"]["text"] == "One more thing: the keys are with the neighbour."
    assert retimed["delta_seconds"] == 25 * 60  # the re-timing, not the clock offset
    assert report["reordered"] == [] and report["kind_changed"] == []
    # the rich-text message (entity fragments on Alice's side, plain on Bob's) and the repeated "ok"s match
    assert report["matched"] == 15 - 3


def test_text_output_starts_with_the_verdict_and_counts(two_party_db: Path) -> None:
    lines = run(two_party_db, "compare", "wang-phone", str(FIXTURES / "shop_console.jsonl")).output.splitlines()
    assert lines[0].startswith("DIFFERENT: wang-phone (26 messages)")
    assert any(line.strip().startswith("matched 21") for line in lines[:4])
    assert any("[-全额-]{+部分+}" in line for line in lines)


def test_a_copy_against_itself_is_identical(two_party_db: Path) -> None:
    report = json.loads(run(two_party_db, "compare", "wang-phone", "wang-phone", "--json").output)
    assert report["verdict"].startswith("IDENTICAL") and report["matched"] == 26
    assert all(report[key] == [] for key in ("missing_in_a", "missing_in_b", "altered", "retimed",
                                             "reordered", "kind_changed"))


def test_copies_named_by_conversation(two_party_db: Path) -> None:
    run(two_party_db, "import", str(FIXTURES / "shop_console.jsonl"))
    report = json.loads(run(two_party_db, "compare", "youyi-store", "generic:cust-wang-88", "--json").output)
    assert report["summary"]["altered"] == 1 and report["summary"]["missing_in_b"] == 1
    assert [c["conversation"]["native_id"] for c in report["copies"]] == ["youyi-store", "cust-wang-88"]


def test_evidence_copy_deduplicated_by_the_archive_is_read_in_full(tmp_path: Path, two_party_db: Path) -> None:
    # a copy of the same export with one message changed and one removed: the archive stores its
    # 24 unchanged messages once (under wang-phone), yet the copy must still hold them
    lines = (FIXTURES / "wang_phone.csv").read_text(encoding="utf-8-sig").splitlines()
    evidence = tmp_path / "evidence.csv"
    kept = [line.replace("全额退款1299元", "全额退款129元") for line in lines if "运费由我们承担" not in line]
    evidence.write_text("\n".join(kept) + "\n", encoding="utf-8")
    run(two_party_db, "import", str(evidence), "--label", "evidence")
    report = json.loads(run(two_party_db, "compare", "wang-phone", "evidence", "--json").output)
    assert report["copies"][1]["messages"] == 25
    assert texts(report["missing_in_b"]) == {"运费由我们承担，您放心。"}
    assert [d for d in report["altered"][0]["diff"] if d["op"] != "equal"] == [{"op": "delete", "text": "9"}]
    assert report["matched"] == 24 and report["missing_in_a"] == []
    assert all(e["b"]["id"] is not None for e in report["altered"])
    # the archive recorded the copy's sightings: the file is no longer needed
    evidence.unlink()
    again = json.loads(run(two_party_db, "compare", "wang-phone", "evidence", "--json").output)
    assert (again["matched"], len(again["altered"]), len(again["missing_in_b"])) == (24, 1, 1)


def test_a_copy_holding_several_conversations_asks_for_one(tmp_path: Path) -> None:
    db = tmp_path / "many.db"
    export = tmp_path / "two_chats.jsonl"
    export.write_text("".join(
        json.dumps({"sent_at": f"2026-03-0{day}T10:00:00+08:00", "conversation_id": chat, "sender_name": "甲",
                    "text": f"{chat} 第{day}条"}, ensure_ascii=False) + "\n"
        for chat in ("chat-1", "chat-2") for day in (1, 2, 3)), encoding="utf-8")
    run(db, "import", str(export), "--label", "both")
    failed = run(db, "compare", "both", str(FIXTURES / "wang_phone.csv"), "--tz", "Asia/Shanghai", ok=False)
    assert failed.exit_code == 2 and "holds 2 conversations" in failed.output and "both@CONVERSATION" in failed.output
    assert "generic:chat-1" in failed.output  # the names to use
    report = json.loads(run(db, "compare", "both@chat-1", "both@generic:chat-1", "--json").output)
    assert report["verdict"].startswith("IDENTICAL") and report["matched"] == 3
    report = json.loads(run(db, "compare", "both@chat-1", f"{export}@chat-2", "--json").output)
    assert report["matched"] == 0 and len(report["altered"]) == 3  # same sender, same instants, other words
    assert any("hardly overlap" in finding for finding in report["findings"])


def test_unknown_copy_is_one_line(two_party_db: Path) -> None:
    failed = run(two_party_db, "compare", "wang-phone", "no-such-thing", ok=False)
    assert failed.exit_code == 2 and "no copy 'no-such-thing'" in failed.output and "Traceback" not in failed.output
    assert run(two_party_db, "compare", "wang-phone", ok=False).exit_code == 2


def test_three_copies_presence_matrix(tmp_path: Path, two_party_db: Path) -> None:
    third = tmp_path / "forwarded.jsonl"  # a third copy: the shop's, missing its first two lines
    third.write_text("".join((FIXTURES / "shop_console.jsonl").read_text(encoding="utf-8").splitlines(True)[2:]),
                     encoding="utf-8")
    report = json.loads(run(two_party_db, "compare", "wang-phone", str(FIXTURES / "shop_console.jsonl"),
                            str(third), "--json").output)
    assert [c["name"] for c in report["copies"]][0] == "wang-phone" and len(report["copies"]) == 3
    rows = {(r["sender"], r["text"]): r for r in report["rows"]}
    assert rows[("我", "你好，我上周买的羊毛大衣有破洞，想申请退货。")]["present"] == [True, True, False]
    assert rows[("优衣旗舰店", "运费由我们承担，您放心。")]["present"] == [True, False, False]
    inserted = [r for r in report["rows"] if r["text"] == "根据平台规则，破损需在签收后48小时内反馈。"]
    assert [r["present"] for r in inserted] == [[False, True, True]]
    assert rows[("优衣旗舰店", "核实了，确实是质量问题，我们同意全额退款1299元。")]["status"] == ["same", "altered", "altered"]
    assert rows[("我", "明白")]["status"] == ["same", "same", "same"]
    assert report["copies"][1]["sender_mapping"]["我"] == "王芳（客户）"
    assert report["verdict"].startswith("DIFFERENT")
    text = run(two_party_db, "compare", "wang-phone", str(FIXTURES / "shop_console.jsonl"), str(third)).output
    assert text.splitlines()[0] == report["verdict"]


# ---- the alignment itself ---------------------------------------------------------------------------

def side(rows: list[tuple[int, str, str, str]]) -> Side:
    return Side([r[0] * 1000 for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                ids=list(range(len(rows))))


def test_a_clock_offset_is_found_when_half_the_messages_were_retimed() -> None:
    """Found by Hypothesis: of six messages eight hours apart, three were moved by 18, 19 and 8
    minutes; the three that agree exactly decide the offset (before, no offset and nothing paired)."""
    texts = ["罏菕匮漤", "謁篔颬槵", "娣鴦渐鈫", "鰱栬钹謎", "鐻俌姰脌", "碤洸瞠嘏"]
    a_times = [1, 2, 3, 365, 802, 1163]
    b_times = [1, 2, 3, 365 - 1083, 802 - 1159, 1163 + 452]
    a = side([(t, "s0", "text", x) for t, x in zip(a_times, texts)])
    b = side([(t + 8 * 3600, "s0", "text", x) for t, x in zip(b_times, texts)])
    result = align(a, b, 60)
    assert result.clock_offset_ms == 8 * 3600 * 1000
    assert result.count("retimed") == 3 and result.count("matched") == 3


def test_no_offset_is_claimed_when_two_values_tie() -> None:
    texts = ["一二三四", "五六七八", "九十百千", "甲乙丙丁"]
    a = side([(t, "s0", "text", x) for t, x in zip([10, 20, 30, 40], texts)])
    b = side([(t, "s0", "text", x) for t, x in zip([10, 20, 30 + 3600, 40 + 3600], texts)])
    assert align(a, b, 60).clock_offset_ms == 0


def test_repeated_short_texts_do_not_confuse_the_alignment() -> None:
    rows = []
    for n in range(60):  # a chat that is mostly 好的 and 收到，谢谢, sometimes twice in the same minute
        rows.append((n * 40, "客户", "text", "好的" if n % 3 else "收到，谢谢"))
        if n % 10 == 0:
            rows.append((n * 40 + 2, "客户", "text", "好的"))
            rows.append((n * 40 + 3, "客服", "text", f"第{n}号工单已处理"))
    deleted = {5, 31, 32}  # a 好的, and a 好的 right after another 好的
    other = [(t, {"客户": "王女士", "客服": "小李"}[s], k, x) for n, (t, s, k, x) in enumerate(rows) if n not in deleted]
    result = align(side(rows), side(other))
    assert set(result.only_a) == deleted or {rows[i] for i in result.only_a} == {rows[i] for i in deleted}
    assert result.only_b == [] and result.count("matched") == len(rows) - len(deleted)
    assert result.count("altered") == result.count("retimed") == result.count("reordered") == 0


def test_large_gaps_stay_bounded() -> None:
    # 3,000 messages of A absent from B between two anchors, plus 3,000 new ones in B: no quadratic blow-up
    rows_a = [(n, "a", "text", f"原文{n:05d}") for n in range(3000)]
    rows_b = [(n, "a", "text", f"新文{n:05d}乙") for n in range(3000)]
    anchor = [(5000, "a", "text", "结束语，谢谢大家")]
    result = align(side([(0, "a", "text", "开场白")] + rows_a + anchor), side([(0, "a", "text", "开场白")] + rows_b + anchor))
    assert result.count("matched") == 2 and result.count("altered") == 3000  # same sender, same instants


SHORT = ["好的", "收到，谢谢", "嗯", "OK", "👍"]
SENDERS = ["s0", "s1", "s2"]
RENAMED = {"s0": "王女士", "s1": "客服小李", "s2": "张经理"}
TOLERANCE = 60


def _unique_text(rng: random.Random) -> str:
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(8))


@st.composite
def planted_case(draw):
    """A random conversation, and the other copy with random edits whose places do not interact."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    n = draw(st.integers(6, 45))
    time, rows = 0, []
    for index in range(n):
        time += draw(st.one_of(st.integers(1, TOLERANCE), st.integers(TOLERANCE + 1, 900)))
        sender = SENDERS[index] if index < 3 else draw(st.sampled_from(SENDERS))
        short = index >= 3 and draw(st.booleans()) and draw(st.booleans())
        rows.append([time, sender, "text", rng.choice(SHORT) if short else _unique_text(rng)])
    unique = [i for i in range(3, n) if rows[i][3] not in SHORT]
    planned = draw(st.lists(st.tuples(st.sampled_from(["delete", "alter", "retime", "recall", "insert", "reorder"]),
                                      st.integers(3, n - 1), st.integers(1, 3 * 3600)), min_size=1, max_size=8))
    sites: list[int] = []  # instants (in both copies) an edit touches; kept apart so edits don't interact
    used: set[int] = set()
    edits = []

    def free(*instants: int) -> bool:
        return all(abs(x - y) > 2 * TOLERANCE + 240 for x in instants for y in sites)

    def eligible(action: str, i: int) -> bool:
        if i in used or (action not in ("delete", "insert") and i not in unique):
            return False
        if action == "reorder":  # the next message too, close enough in time to swap within the tolerance
            return i + 1 < n and i + 1 not in used and i + 1 in unique and rows[i + 1][0] - rows[i][0] <= TOLERANCE
        return True

    for action, index, amount in planned:
        index = next((i for i in list(range(index, n)) + list(range(3, index)) if eligible(action, i)), None)
        if index is None:
            continue
        t = rows[index][0]
        if action == "retime":
            shift = (TOLERANCE + 1 + amount) * (1 if amount % 2 else -1)
            if not free(t, t + shift):
                continue
            sites += [t, t + shift]
            edits.append((action, index, shift))
        elif action == "reorder":
            if not free(t, rows[index + 1][0]):
                continue
            sites += [t, rows[index + 1][0]]
            used.add(index + 1)
            edits.append((action, index, 0))
        elif action == "insert":
            moment = t + 1 + amount % 60
            if not free(t, moment) or any(abs(moment - r[0]) < 1 for r in rows):
                continue
            sites += [t, moment]
            edits.append((action, index, moment))
        else:
            if not free(t):
                continue
            sites.append(t)
            edits.append((action, index, amount))
        used.add(index)
    offset = draw(st.sampled_from([0, 0, 8 * 3600, -5 * 3600 - 1800]))
    return rows, edits, offset, rng


def _apply(rows, edits, rng):
    other = [list(r) + [i] for i, r in enumerate(rows)]  # last field: index in A (None for inserted)
    inserted = []
    for action, index, value in edits:
        row = other[index]
        if action == "delete":
            row[3] = None
        elif action == "alter":
            text = list(row[3])
            for place in rng.sample(range(len(text)), 2):
                text[place] = "〇"
            row[3] = "".join(text)
        elif action == "retime":
            row[0] += value
        elif action == "recall":
            row[2], row[3], row[0] = "recall", "对方撤回了一条消息", row[0] + rng.randrange(0, 30)
        elif action == "reorder":
            following = other[index + 1]
            row[1:4], following[1:4] = following[1:4], row[1:4]
            row[4], following[4] = following[4], row[4]
        elif action == "insert":
            text = "插入" + _unique_text(rng)
            inserted.append(text)
            other.append([value, rows[index][1], "text", text, None])
    kept = sorted((r for r in other if r[3] is not None), key=lambda r: r[0])
    return kept, inserted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted_case())
def test_alignment_recovers_exactly_the_planted_edits(case) -> None:
    rows, edits, offset, rng = case
    other, inserted = _apply(rows, edits, rng)
    a = side([tuple(r) for r in rows])
    b = Side([(r[0] + offset) * 1000 for r in other], [RENAMED[r[1]] for r in other], [r[2] for r in other],
             [r[3] for r in other], ids=[r[4] for r in other])
    result = align(a, b, TOLERANCE)

    assert result.clock_offset_ms == offset * 1000
    assert result.sender_mapping == {s: RENAMED[s] for s in set(r[1] for r in rows)}
    by_status: dict[str, set[int]] = {}
    for i, j, status in result.pairs:
        by_status.setdefault(status, set()).add(i)
        if status != "reordered":
            assert b.ids[j] == i, (status, i, j)  # each message paired with its own copy
    expect = {action: {index for a_, index, _ in edits if a_ == action} for action in
              ("delete", "alter", "retime", "recall", "insert", "reorder")}
    assert set(result.only_a) == expect["delete"]
    assert sorted(b.text[j] for j in result.only_b) == sorted(inserted)
    assert by_status.get("altered", set()) == expect["alter"]
    assert by_status.get("retimed", set()) == expect["retime"]
    assert by_status.get("kind_changed", set()) == expect["recall"]
    reordered = by_status.get("reordered", set())
    assert len(reordered) == len(expect["reorder"])
    for index in expect["reorder"]:
        assert reordered & {index, index + 1}
    shifts = {index: value for action, index, value in edits if action == "retime"}
    for i, j, status in result.pairs:
        if status == "retimed":
            assert b.ms[j] - offset * 1000 - a.ms[i] == shifts[i] * 1000


# ---- HTML ----------------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def test_html_report_is_self_contained_and_marks_differences(two_party_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run(two_party_db, "compare", "wang-phone", str(FIXTURES / "shop_console.jsonl"), "--html", str(out))
    page = out.read_text(encoding="utf-8")
    assert "<del>全额</del>" in page and "<ins>部分</ins>" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page  # nothing fetched
    assert "@media print" in page and "Noto Sans CJK SC" in page
    shown = re.findall(r'data-status="(\w+)"', page)
    assert sorted(s for s in shown if s != "matched") == sorted(
        ["altered", "missing_in_b", "missing_in_a", "retimed", "reordered", "kind_changed"])


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium "
                                                  "(apt-get install -y chromium fonts-noto-cjk)")
def test_html_report_screenshot(two_party_db: Path, tmp_path: Path) -> None:
    from playwright import sync_api as playwright  # a test extra: missing is an install error, not a skip
    out = tmp_path / "report.html"
    run(two_party_db, "compare", "wang-phone", str(FIXTURES / "shop_console.jsonl"), "--html", str(out),
        "--context", "-1")
    shot = tmp_path / "report.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(out.as_uri())
            page.screenshot(path=str(shot), full_page=True)
            verdict = page.inner_text("#verdict")
            counts = {el.get_attribute("data-key"): el.inner_text() for el in page.query_selector_all("#summary .count")}
            deleted = page.inner_text("tr.altered td.a del")
            inserted = page.inner_text("tr.altered td.b ins")
            highlight = page.eval_on_selector("tr.altered td.a del", "e => getComputedStyle(e).backgroundColor")
            statuses = [el.get_attribute("data-status") for el in page.query_selector_all("#timeline tbody tr[data-status]")]
            cjk_width = page.evaluate("""() => { const s = document.createElement('span');
                s.style.font = '20px "Noto Sans CJK SC"'; s.textContent = '退款退款'; document.body.append(s);
                const w = s.getBoundingClientRect().width; s.remove(); return w; }""")
        finally:
            browser.close()
    assert shot.exists() and shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert verdict.startswith("DIFFERENT")
    assert counts["matched"].split()[0] == "21" and counts["altered"].split()[0] == "1"
    assert (deleted, inserted) == ("全额", "部分")
    assert highlight not in ("rgba(0, 0, 0, 0)", "transparent")
    assert sorted(s for s in statuses if s != "matched") == sorted(
        ["altered", "missing_in_b", "missing_in_a", "retimed", "reordered", "kind_changed"])
    assert len(statuses) == 27  # every message of both copies, on one timeline (21 matched + 6 differences)
    assert cjk_width > 60  # Chinese glyphs are rendered with a real CJK font, not tofu


def test_html_three_copies_matrix(tmp_path: Path, two_party_db: Path) -> None:
    out = tmp_path / "matrix.html"
    copy = tmp_path / "copy.jsonl"
    shutil.copy(FIXTURES / "shop_console.jsonl", copy)
    run(two_party_db, "compare", "wang-phone", str(FIXTURES / "shop_console.jsonl"), str(copy), "--html", str(out))
    page = out.read_text(encoding="utf-8")
    assert 'id="matrix"' in page and page.count("<tr class=") >= 27


# ---- API ---------------------------------------------------------------------------------------------

def test_api_compare_copies(archive, tmp_path: Path) -> None:
    from chataudit.importer import import_paths

    import_paths(archive, [FIXTURES / "wang_phone.csv"], label="mine", tz="Asia/Shanghai")
    comparison = compare_copies(archive, ["mine", str(FIXTURES / "shop_console.jsonl")], tolerance_s=60,
                                keep=True)
    assert comparison.report["summary"]["retimed"] == 1
    rows = list(comparison.timeline(context=1))
    assert any(r["status"] == "folded" for r in rows)
    assert sum(r.get("count", 1) for r in rows if r["status"] in ("folded", "matched")) == 21
    # the file given directly with keep is now a source labelled with its name
    assert [s["label"] for s in archive.sources()] == ["mine", "shop_console.jsonl"]
    # within a tolerance larger than the re-timing, the moved message is no longer retimed but out of order
    wide = compare_copies(archive, ["mine", "shop_console.jsonl"], tolerance_s=900)
    assert wide.report["retimed"] == [] and len(wide.report["reordered"]) == 2


def test_redact_hides_personal_data_but_still_finds_the_alteration(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    header = "sent_at,conversation_id,sender_id,sender_name,text\n"
    a.write_text(header + "2026-03-12 10:00:00,c,13812345678,王建国,我的手机是13812345678，身份证11010519491231002X\n"
                 "2026-03-12 10:01:00,c,agent,客服,好的收到\n", encoding="utf-8")
    b.write_text(header + "2026-03-12 10:00:00,c,13812345678,王建国,我的手机是13812345679，身份证11010519491231002X\n"
                 "2026-03-12 10:01:00,c,agent,客服,好的收到\n", encoding="utf-8")
    db = tmp_path / "r.db"
    run(db, "import", str(a), "--label", "A", "--tz", "+08:00")
    run(db, "import", str(b), "--label", "B", "--tz", "+08:00")
    html = tmp_path / "r.html"
    outputs = [run(db, "compare", "A", "B", "--redact", "--json").output,
               run(db, "compare", "A", "B", "--redact", "--html", str(html)).output]
    outputs.append(html.read_text(encoding="utf-8"))
    for output in outputs:
        for secret in ("13812345678", "13812345679", "11010519491231002X", "王建国"):
            assert secret not in output
    report = json.loads(outputs[0])
    assert len(report["altered"]) == 1 and report["matched"] == 1  # found on the real text
