"""PyWxDump-layout CSVs whose CreateTime went through a spreadsheet (issue #11).

WeClone's documented sample (``2024/10/4 11:42``), a Chinese Excel GBK re-save
(``2024/10/04 09:05:30``), an en-US Excel re-save (``10/4/2024 11:42``: the day/month order is
learnt from the whole file) and a Number-formatted column (Excel serials ``45569.4875``), all in --tz.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_format_wechat import SHANGHAI, as_dict, messages

from chataudit.errors import ParseError
from chataudit.formats import ParseOptions, wechat_csv
from chataudit.formats.dates import excel_serial, wall_clock
from chataudit.formats.generic import parse as parse_generic
from chataudit.model import Message

FIX = Path(__file__).parent / "fixtures" / "wechat" / "spreadsheet"
NAMES = ["6789z5qlxzfj22_0_4.csv", "wxid_liuyang_0_3.csv", "wxid_chen_0_4.csv", "wxid_zhou_0_2.csv"]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_matches_expected(name: str) -> None:
    got = [as_dict(m) for m in messages(wechat_csv, FIX / name, tz=SHANGHAI, tz_given=True)]
    expected = json.loads((FIX / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert got == expected


@pytest.mark.parametrize("name", NAMES)
def test_detected_as_wechat_csv(name: str) -> None:
    head = (FIX / name).read_bytes()[:65536]
    assert wechat_csv.detect(FIX / name, head) >= 0.9


def test_weclone_sample_times_are_wall_clock_in_tz() -> None:
    got = [m.sent_at.isoformat() for m in messages(wechat_csv, FIX / NAMES[0], tz=SHANGHAI, tz_given=True)]
    assert got == ["2024-10-04T11:42:00+08:00"] * 2 + ["2024-10-04T11:43:00+08:00"] * 2


def test_us_order_is_learnt_from_a_later_row() -> None:
    got = messages(wechat_csv, FIX / "wxid_chen_0_4.csv", tz=SHANGHAI, tz_given=True)
    assert got[0].sent_at.isoformat() == "2024-10-04T11:42:00+08:00"  # not 10 April
    assert "date_order_source" not in got[0].extras


def test_excel_serials() -> None:
    got = [m.sent_at.isoformat() for m in messages(wechat_csv, FIX / "wxid_zhou_0_2.csv", tz=SHANGHAI, tz_given=True)]
    assert got == ["2024-10-04T11:42:00+08:00", "2024-10-04T11:42:30+08:00"]


def _page(tmp_path: Path, times: list[str]) -> Path:
    path = tmp_path / "wxid_a_0_9.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(wechat_csv.PYWXDUMP)
        for number, moment in enumerate(times, 1):
            writer.writerow([number, 100 + number, "文本", 0, "wxid_a", "wxid_a", f"m{number}", "", moment])
    return path


def test_undecided_order_says_it_guessed_and_option_overrides(tmp_path: Path) -> None:
    path = _page(tmp_path, ["04/10/2024 11:42", "05/10/2024 11:42"])
    guessed = messages(wechat_csv, path, tz=SHANGHAI, tz_given=True)
    assert guessed[0].sent_at.isoformat() == "2024-04-10T11:42:00+08:00"
    assert guessed[0].extras["date_order"] == "MDY" and guessed[0].extras["date_order_source"] == "default"
    told = messages(wechat_csv, path, tz=SHANGHAI, tz_given=True, extra={"date_order": "DMY"})
    assert told[0].sent_at.isoformat() == "2024-10-04T11:42:00+08:00" and "date_order" not in told[0].extras


def test_a_time_that_is_no_date_still_names_its_line(tmp_path: Path) -> None:
    path = _page(tmp_path, ["2024/10/4 11:42", "2024/13/4 11:42"])
    with pytest.raises(ParseError) as caught:
        messages(wechat_csv, path, tz=SHANGHAI)
    assert caught.value.line == 3 and "CreateTime" in caught.value.message


@given(st.datetimes(min_value=__import__("datetime").datetime(1971, 1, 1),
                    max_value=__import__("datetime").datetime(2099, 12, 31)).map(lambda d: d.replace(microsecond=0)))
def test_every_spreadsheet_shape_reads_back(moment) -> None:
    shapes = {
        f"{moment:%Y-%m-%d %H:%M:%S}": "YMD",
        f"{moment.year}/{moment.month}/{moment.day} {moment:%H:%M:%S}": "YMD",
        f"{moment:%Y/%m/%d %H:%M:%S}": "YMD",
        f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment:%M:%S}": "MDY",
        f"{moment:%d/%m/%Y %H:%M:%S}": "DMY",
        f"{moment:%d.%m.%Y %H:%M:%S}": "DMY",
    }
    for text, order in shapes.items():
        assert wall_clock(text, order) == moment, text
    serial = (moment - __import__("datetime").datetime(1899, 12, 30)).total_seconds() / 86400
    assert abs((excel_serial(f"{serial:.10f}") - moment).total_seconds()) <= 1


def test_generic_csv_reads_year_first_spreadsheet_times(tmp_path: Path) -> None:
    """The same class in the generic format: a re-saved sent_at column in Y/M/D with minutes only."""
    path = tmp_path / "chat.csv"
    path.write_text("sent_at,sender_name,text\n2024/10/4 11:42,Ann,hi\n13/10/2024 09:05,Bob,yo\n", encoding="utf-8")
    got = [r for r in parse_generic(path, ParseOptions(tz=SHANGHAI, tz_given=True)) if isinstance(r, Message)]
    assert [m.sent_at.isoformat() for m in got] == ["2024-10-04T11:42:00+08:00", "2024-10-13T09:05:00+08:00"]


def test_ids_and_unix_times_a_spreadsheet_shortened(tmp_path: Path) -> None:
    """Excel shows 19-digit ids and 10-digit times in scientific notation and saves them so: the id
    is lost (kept as found, never used as an id); MemoTrace's StrTime still gives the time."""
    page = _page(tmp_path, ["2024/10/4 11:42"])
    page.write_text(page.read_text(encoding="utf-8").replace(",101,", ",7.43727E+18,"), encoding="utf-8")
    (message,) = messages(wechat_csv, page, tz=SHANGHAI, tz_given=True)
    assert message.message_id is None and message.extras["MsgSvrID_as_found"] == "7.43727E+18"
    memotrace = tmp_path / "梅梅_utf8.csv"
    memotrace.write_text(
        "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"
        "2,1,1,0,0,1.7733E+09,2,周末有空吗？,2026/3/12 15:23,梅梅,韩梅梅,wxid_hanmeimei01\n", encoding="utf-8")
    (message,) = messages(wechat_csv, memotrace, tz=SHANGHAI, tz_given=True)
    assert message.sent_at.isoformat() == "2026-03-12T15:23:00+08:00"
