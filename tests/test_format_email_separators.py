"""mbox separators as real mail programs write them (issue #11).

Fixtures in ``fixtures/email/separators/`` follow the writers' public behaviour: Gmail Takeout's
``From <thread-id>@xxx <ctime with +0000 before the year>`` over CRLF, Thunderbird's ``From - <ctime>``
and bare ``From -`` before its ``X-Mozilla-Status`` headers (a local folder file has no suffix),
a UTF-8 BOM before the first separator, mbox(5)'s mboxcl2 (``Content-Length``, unquoted ``From ``
in the body, a zone name in the separator date), and Apple Mail's ``Name.mbox/mbox`` export folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_format_email import as_dict, records

from chataudit.formats import detect as detect_format
from chataudit.formats import email_mbox
from chataudit.importer import import_paths
from chataudit.store import Archive

FIX = Path(__file__).parent / "fixtures" / "email" / "separators"
NAMES = ["takeout.mbox", "Inbox", "bom.mbox", "mboxcl2.mbox", "Projects.mbox"]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_matches_expected(name: str) -> None:
    got = [as_dict(r) for r in records(FIX / name)]
    expected = json.loads((FIX / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert got == expected


@pytest.mark.parametrize("name", ["takeout.mbox", "Inbox", "bom.mbox", "mboxcl2.mbox"])
def test_every_separator_shape_is_detected_as_email(name: str) -> None:
    module, confidence = detect_format(FIX / name)
    assert module is email_mbox and confidence >= 0.9


@pytest.mark.parametrize("separator", [
    b"From -",  # Thunderbird, no date
    b"From - Fri Aug 23 10:11:12 2024",  # Thunderbird
    b"From 1844347792267117879@xxx Fri Sep 26 17:18:40 +0000 2025",  # Gmail Takeout
    b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011",  # Python mailbox, mutt
    b"From alice@example.com Thu Jan  1 00:00:00 MST 2015",
    b"From alice@example.com Sat, 06 Jun 2020 12:00:00 +0000",
    b"From alice@example.com",  # no date at all
])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_separator_shapes_import(tmp_path: Path, separator: bytes, bom: bytes, newline: bytes) -> None:
    lines = [separator, b"From: Ann <ann@example.com>", b"Date: Mon, 2 Mar 2026 10:00:00 +0000",
             b"Message-ID: <m1@example.com>", b"Subject: hi", b"", b"first", b"",
             separator, b"From: Bob <bob@example.com>", b"Date: Mon, 2 Mar 2026 11:00:00 +0000",
             b"Message-ID: <m2@example.com>", b"In-Reply-To: <m1@example.com>", b"Subject: Re: hi", b"", b"second", b""]
    path = tmp_path / "box.mbox"
    path.write_bytes(bom + newline.join(lines))
    with Archive(tmp_path / "a.db") as archive:
        summary = import_paths(archive, [path])
    assert summary.as_dict()["errors"] == []
    assert summary.as_dict()["messages"] == 2


def test_separator_date_with_zone_name_is_used_without_date_header() -> None:
    first = [r for r in records(FIX / "mboxcl2.mbox") if hasattr(r, "sent_at")][0]
    assert first.sent_at.isoformat() == "2026-03-03T09:00:00-07:00"
    assert first.extras["date_source"] == "mbox separator"


def test_wrong_content_length_is_not_trusted(tmp_path: Path) -> None:
    """A stale Content-Length (the body was edited since) must not swallow the next message."""
    text = (FIX / "mboxcl2.mbox").read_text()
    text = text.replace("From 10:00 to 11:00 Tue Mar  3 2026 we", "We").replace("Content-Length: 70", "Content-Length: 500")
    path = tmp_path / "stale.mbox"
    path.write_text(text)
    assert [m.text for m in records(path) if hasattr(m, "text")] == ["Minutes:\n\nWe reviewed the budget.", "Thanks."]


def test_a_body_line_from_without_header_after_it_stays_text() -> None:
    texts = [m.text for m in records(FIX / "Inbox") if hasattr(m, "text")]
    assert len(texts) == 2 and "From the desk of the organisers:" in texts[0]
