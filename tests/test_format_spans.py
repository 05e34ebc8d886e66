"""A large JSON Lines file read in byte spans (for `spark import`'s tasks) gives exactly the lines and
records of the whole file, with the whole file's line numbers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chataudit.errors import ParseError
from chataudit.formats import LineSpan, ParseOptions, generic, line_spans, numbered_lines
from chataudit.model import zone
from spans_support import chat_jsonl

OPTIONS = ParseOptions(tz=zone("Asia/Shanghai"))

LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=40), ends=st.sampled_from(["\n", "\r\n"]), last_end=st.booleans(),
       bom=st.booleans(), span_bytes=st.integers(1, 300))
def test_spans_cover_the_file_in_whole_lines_numbered_as_in_it(tmp_path, lines, ends, last_end, bom, span_bytes) -> None:
    data = ("\ufeff" if bom else "") + ends.join(lines) + (ends if last_end and lines else "")
    path = tmp_path / "f.jsonl"
    path.write_bytes(data.encode("utf-8"))
    spans, sha256, size = line_spans(path, span_bytes)
    assert sha256 == hashlib.sha256(data.encode("utf-8")).hexdigest() and size == len(data.encode("utf-8"))
    assert spans[0].start == 0 and spans[-1].end == size
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    raw = path.read_bytes()
    assert all(s.start == 0 or raw[s.start - 1:s.start] == b"\n" for s in spans)  # each starts a line
    assert all(s.first_line == raw[:s.start].count(b"\n") + 1 for s in spans)
    if len(spans) > 1:  # each span but the last reaches the size asked for
        assert all(s.end - s.start >= span_bytes for s in spans[:-1])
    assert [line for s in spans for line in numbered_lines(path, span=s)] == list(numbered_lines(path))


def test_a_file_in_an_encoding_not_cut_by_bytes_is_one_span(tmp_path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes("\n".join(['{"a": 1}'] * 50).encode("utf-16"))
    spans, _, size = line_spans(path, 16)
    assert spans == [LineSpan(0, size, 1)]


@pytest.mark.parametrize("span_bytes", [1, 97, 1000, 10**6])
def test_generic_jsonl_records_by_spans_are_the_whole_files(tmp_path, span_bytes) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(chat_jsonl(200), encoding="utf-8")
    spans, _, _ = line_spans(path, span_bytes)
    assert (len(spans) > 1) == (span_bytes < path.stat().st_size)
    assert generic.spannable(path)
    assert [r for s in spans for r in generic.parse_span(path, OPTIONS, s)] == list(generic.parse(path, OPTIONS))


def test_a_bad_line_in_a_later_span_is_reported_at_its_line_in_the_file(tmp_path) -> None:
    path = tmp_path / "chat.jsonl"
    lines = chat_jsonl(120).splitlines()
    lines[101] = '{"sent_at": 1700000000, "text": "cut'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ParseError) as whole:
        list(generic.parse(path, OPTIONS))
    spans, _, _ = line_spans(path, 500)
    assert spans[0].first_line < 102 and len(spans) > 3
    with pytest.raises(ParseError) as spanned:
        for span in spans:
            list(generic.parse_span(path, OPTIONS, span))
    assert spanned.value.line == whole.value.line == 102
    assert spanned.value.message == whole.value.message


def test_a_csv_export_is_not_read_by_spans(tmp_path) -> None:
    path = tmp_path / "chat.csv"
    path.write_text('sent_at,text\n2024-01-01T00:00:00+08:00,"two\nlines"\n', encoding="utf-8")
    assert not generic.spannable(path)
    with pytest.raises(ValueError, match="JSON Lines"):
        list(generic.parse_span(path, OPTIONS, LineSpan(0, path.stat().st_size, 1)))
