"""The HTML report renders in a real browser: charts drawn, no external request, links resolve."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chataudit.quality import config, report, sample
from chataudit.quality.html import write_report
from chataudit.store import Archive, SourceInfo

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    truth = sample.generate(160, seed=3)
    (folder / "roster.csv").write_text(truth.roster_csv, encoding="utf-8")
    with Archive(folder / "a.db") as archive:
        archive.import_records(SourceInfo("g", "d" * 64, 1, "generic"),
                               [*sample.conversations_of(truth.messages), *truth.messages])
        options = config.QualityOptions(roster=config.load_roster(folder / "roster.csv"))
        result = report.analyze(archive, options)
        before = report.analyze(archive, config.replace_period(options, 0, 1_772_700_000_000))
        result["compare"] = report.compare(result, before)
        path = folder / "report.html"
        with open(path, "w", encoding="utf-8") as handle:
            write_report(result, handle, archive)
    return path, result


def test_report_is_self_contained_and_links_resolve(page_file):
    path, result = page_file
    html = path.read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html
    assert html.count("<svg") >= 7
    ids = set(__import__("re").findall(r'id="([^"]+)"', html))
    for target in set(__import__("re").findall(r'href="#([^"]+)"', html)):
        assert target in ids, target
    for suggestion in result["suggestions"]:
        assert suggestion["text"].split(":")[0][:20] in html.replace("&#39;", "'")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_report_renders_in_chromium(page_file, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    path, result = page_file
    requests = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=False)
        # every chart has a real size and the KPI cards sit four in a row
        boxes = page.eval_on_selector_all("svg", "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])")
        cards = page.eval_on_selector_all(".kpi", "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
        font = page.evaluate("getComputedStyle(document.body).fontFamily")
        # a link from a figure opens the session it names
        first = page.eval_on_selector(".suggestions a", "a => a.getAttribute('href')")
        page.click(".suggestions a")
        opened = page.evaluate("location.hash")
        page.emulate_media(media="print")
        pdf_ok = page.pdf(path=str(tmp_path / "report.pdf")) is not None
        browser.close()
    assert shot.stat().st_size > 20_000
    assert len(boxes) >= 7 and all(w > 200 and h > 40 for w, h in boxes)
    assert len(set(cards[:4])) == 1 and len(cards) == 8
    assert "Noto Sans CJK SC" in font
    assert opened == first
    assert pdf_ok
    assert all(url.startswith("file://") for url in requests)
