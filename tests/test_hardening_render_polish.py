"""Terminal tables keep instants on one line and name every sender; the timeline shows a file once;
the compare page names a chat by its title, gives a changed amount its own line and fits a phone."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from chataudit.cli import cli
from chataudit.render.compare_html import number_changes
from chataudit.render.output import emit

SAMPLES = Path(__file__).parent.parent / "samples"
CHROMIUM = "/usr/bin/chromium"
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?[+-]\d{2}")


def run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    # compare exits as diff(1) does: 1 means differences found, not an error
    assert result.exit_code in ((0, 1) if args[0] == "compare" else (0,)), result.output
    return result.output


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("polish") / "a.db"
    run(path, "import", str(SAMPLES), "--tz", "Asia/Shanghai", "--label", "mine")
    return path


def _wecom_group(db: Path) -> str:
    rows = json.loads(run(db, "conversations", "--json"))
    return str(next(r["id"] for r in rows if r["platform"] == "wecom" and r["type"] == "group"))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("width", [80, 100, 120, 160])
def test_instants_stay_on_one_line_and_senders_without_a_name_show_their_id(db: Path, width: int,
                                                                            monkeypatch) -> None:
    rows = json.loads(run(db, "messages", "--conversation", _wecom_group(db), "--json"))
    assert all(r["sender_name"] is None for r in rows)  # WeCom gives ids only
    monkeypatch.setenv("COLUMNS", str(width))
    out = Terminal()
    emit(rows, ["id", "sent_at", "sender_name", "kind", "text", "amount"], out=out, title="t")
    lines = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()).splitlines()
    assert max(cell_len(line) for line in lines) <= width
    shown = [m.group() for line in lines for m in INSTANT.finditer(line)]
    assert len(shown) == len(rows)  # every instant whole on one line, none folded
    assert shown[0].startswith(rows[0]["sent_at"][:10] + " " + rows[0]["sent_at"][11:16])
    table = "\n".join(lines)
    assert "ZhangWei" in table and "LiNa" in table  # the sender id where there is no name
    assert "T10:" not in table  # the short form in tables …
    assert "T10:02:00.500+08:00" in json.dumps(rows)  # … the full ISO instant in --json


def test_search_hits_name_their_sender_and_keep_iso_in_json(db: Path) -> None:
    table = run(db, "search", "滤网")
    assert "woJ7ijBwAA" in table  # the customer's id, where the sender column was blank
    assert INSTANT.search(table)
    hits = json.loads(run(db, "search", "滤网", "--json"))
    assert hits and hits[0]["sent_at"].count("T") == 1 and hits[0]["sender_name"] is None


def test_the_timeline_shows_a_file_name_once(db: Path, tmp_path: Path) -> None:
    rows = json.loads(run(db, "conversations", "--json"))
    private = str(next(r["id"] for r in rows if r["platform"] == "wecom" and r["type"] == "private"))
    page = tmp_path / "t.html"
    run(db, "export", "--conversation", private, "--format", "html", "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert html.count("KJ500-E3故障排查指引.pdf") == 1
    assert "📎 KJ500-E3故障排查指引.pdf (240 KB)" in html
    assert "[图片]\n📎 image (129 KB)" in html  # a nameless attachment on its own line, named by its kind
    if os.path.exists(CHROMIUM):
        playwright = pytest.importorskip("playwright.sync_api")
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            view = browser.new_page(viewport={"width": 390, "height": 800})
            view.goto(page.as_uri())
            width = view.evaluate("document.documentElement.scrollWidth")
            browser.close()
        assert width <= 390  # the WeCom chat's long id in the header wraps


def test_number_changes_are_read_whole() -> None:
    assert number_changes("[转账] ￥5000.00 房租", "[转账] ￥500.00 房租") == [("5000.00", "500.00")]
    assert number_changes("首付30万，5号前", "首付30万，5号前") == []
    assert number_changes("共3件", "共3件，另付200元") == [("", "200")]


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("compare")
    db = folder / "c.db"
    run(db, "import", str(SAMPLES / "wechat"), "--tz", "Asia/Shanghai", "--label", "mine")
    theirs = folder / "theirs" / "梅梅_utf8.csv"
    theirs.parent.mkdir()
    text = (SAMPLES / "wechat" / "梅梅_utf8.csv").read_text(encoding="utf-8-sig")
    theirs.write_text(text.replace("￥5000.00", "￥500.00").replace("5000.00元", "500.00元"), encoding="utf-8-sig")
    run(db, "import", str(theirs), "--tz", "Asia/Shanghai", "--label", "theirs")
    conversation = str(json.loads(run(db, "conversations", "--json"))[0]["id"])
    plain, redacted = folder / "plain.html", folder / "redacted.html"
    run(db, "compare", conversation, "theirs", "--html", str(plain))
    run(db, "compare", "mine", "theirs", "--redact", "--html", str(redacted), "--context", "-1")
    return db, plain, redacted


def test_compare_page_names_the_chat_and_gives_a_changed_amount_its_own_line(compared) -> None:
    _, plain, redacted = compared
    html = plain.read_text(encoding="utf-8")
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
    assert "梅梅" in heading and ">1<" not in heading  # the chat's title, not the archive id
    assert "conversation #1" in html
    page = redacted.read_text(encoding="utf-8")
    changes = re.findall(r'<div class="change"[^>]*><span>([^<]*)</span> → <span>([^<]*)</span>', page)
    assert ("5000.00", "500.00") in changes


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_the_redacted_compare_page_fits_a_390px_phone(compared) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    _, plain, redacted = compared
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        widths = []
        for path in (redacted, plain):
            page = browser.new_page(viewport={"width": 390, "height": 800})
            page.goto(path.as_uri())
            widths.append(page.evaluate("document.documentElement.scrollWidth"))
            # no sender name spills over the next cell
            spills = page.evaluate("""() => [...document.querySelectorAll('table.timeline td')].filter(td =>
                [...td.querySelectorAll('*')].some(e => e.getBoundingClientRect().right > td.getBoundingClientRect().right + 1)).length""")
            assert spills == 0, path.name
            page.close()
        browser.close()
    assert widths == [390, 390]


def test_compare_verdict_names_a_conversation_copy_by_its_title(compared) -> None:
    db, _, _ = compared
    conversation = str(json.loads(run(db, "conversations", "--json"))[0]["id"])
    verdict = run(db, "compare", conversation, "theirs").splitlines()[0]
    assert verdict.startswith(f"DIFFERENT: {conversation} “梅梅” ("), verdict
    redacted = run(db, "compare", conversation, "theirs", "--redact").splitlines()[0]
    assert "梅梅" not in redacted, redacted


def test_compare_terminal_and_json_give_a_changed_amount_its_own_line(compared) -> None:
    db, _, _ = compared
    text = run(db, "compare", "mine", "theirs")
    assert "    number: 5000.00 → 500.00" in text, text
    report = json.loads(run(db, "compare", "mine", "theirs", "--json"))
    amounts = [entry["numbers_changed"] for entry in report["altered"] if "5000" in entry["a"]["text"]]
    assert amounts and all(changed == [["5000.00", "500.00"]] for changed in amounts), amounts
