"""Trends over time (JSON, CSV, HTML), computed set-based, and a quality page that reads on a phone."""

from __future__ import annotations

import csv
import io
import json
import os
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.importer import import_paths
from chataudit.quality import config, report, sample, trends
from chataudit.quality.html import write_report
from chataudit.store import Archive, SourceInfo

SAMPLES = Path(__file__).parent.parent / "samples"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trends")
    truth = sample.generate(160, seed=5)
    (folder / "roster.csv").write_text(truth.roster_csv, encoding="utf-8")
    with Archive(folder / "a.db") as archive:
        archive.import_records(SourceInfo("g", "e" * 64, 1, "generic"),
                               [*sample.conversations_of(truth.messages), *truth.messages])
        options = config.QualityOptions(roster=config.load_roster(folder / "roster.csv"), tz="Asia/Shanghai")
        result = report.analyze(archive, options)
        page = folder / "report.html"
        with open(page, "w", encoding="utf-8") as handle:
            write_report(result, handle, archive)
    return folder, result, page


def test_trend_rows_add_up_to_the_report_and_cover_every_day(generated) -> None:
    _, result, _ = generated
    days, weeks = result["trends"]["day"], result["trends"]["week"]
    assert days and weeks
    starts = [datetime.fromisoformat(d["start"]) for d in days]
    assert all((b - a).days == 1 for a, b in zip(starts, starts[1:]))  # gaps are rows too
    assert all(datetime.fromisoformat(w["start"]).weekday() == 0 for w in weeks)  # ISO weeks start Monday
    for rows in (days, weeks):
        assert sum(r["sessions"] for r in rows) == result["sessions"]
        assert sum(r["first_responses"] for r in rows) == result["first_response"]["responses"]
        assert sum(r["resolution_sessions"] for r in rows) == result["resolution"]["sessions"]
        assert sum(r["resolved"] for r in rows) == result["resolution"]["resolved"]
    # the per-day mean first response is the mean of that day's sessions' first responses
    by_day = defaultdict(list)
    for row in result["session_rows"]:
        if row["first_response_s"] is not None:
            by_day[row["start"][:10]].append(row["first_response_s"])
    for day in days:
        values = by_day.get(day["start"], [])
        assert day["first_responses"] == len(values)
        if values:
            assert day["first_response_mean_s"] == pytest.approx(sum(values) / len(values), abs=0.01)
        else:
            assert day["first_response_mean_s"] is None


def test_trends_carry_satisfaction_where_ratings_exist_and_reach_csv(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(SAMPLES), "--tz", "Asia/Shanghai"]).exit_code == 0
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("conversation,time,rating\nshop-1001,2026-03-12 08:10,5\nshop-1002,2026-03-13 22:00,2\n",
                       encoding="utf-8")
    out = tmp_path / "trends.csv"
    result = runner.invoke(cli, ["--db", str(db), "quality", "--roster", str(SAMPLES / "roster.csv"),
                                 "--ratings", str(ratings), "--json", "--trends-csv", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output[result.output.index("{"):])
    days = {d["start"]: d for d in document["trends"]["day"]}
    assert days["2026-03-12"]["satisfied_rate"] == 1.0 and days["2026-03-13"]["satisfied_rate"] == 0.0
    assert days["2026-03-14"]["sessions"] == 0 and days["2026-03-14"]["ratings"] == 0
    week = document["trends"]["week"][0]
    assert week["start"] == "2026-03-09" and week["ratings"] == 2 and week["satisfied_rate"] == 0.5
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert list(rows[0]) == trends.COLUMNS
    assert [r["period"] for r in rows].count("day") == len(document["trends"]["day"])
    assert next(r for r in rows if r["start"] == "2026-03-12" and r["period"] == "day")["satisfied_rate"] == "1.0"


def test_the_html_report_shows_trends_and_why_conversations_were_taken(generated) -> None:
    _, result, page = generated
    html = page.read_text(encoding="utf-8")
    assert 'id="trends"' in html and 'id="trend-table"' in html
    assert "Mean first response per day" in html or "Mean first response per week" in html
    assert 'id="conversations"' in html and result["conversations"][0]["why"] in html


def _measure(page_path: Path, width: int) -> dict:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(page_path.as_uri())
        measured = page.evaluate("""() => {
          const visible = e => e.getClientRects().length > 0;
          const texts = [...document.querySelectorAll('svg text')].filter(visible);
          const sizes = texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
          const hour = [...document.querySelectorAll('svg')].find(s => s.getAttribute('aria-label').startsWith('Mean first response by hour'));
          const axis = hour ? [...hour.querySelectorAll('text')].filter(t => t.getAttribute('text-anchor') === 'end'
                                 && parseFloat(t.getAttribute('x')) < 60).map(t => t.textContent) : [];
          const overlaps = [];
          for (const legend of document.querySelectorAll('.legend')) {
            const boxes = [...legend.children].map(c => c.getBoundingClientRect());
            for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
              const a = boxes[i], b = boxes[j];
              if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps.push(legend.textContent);
            }
          }
          const scrollers = [...document.querySelectorAll('.scroll')].filter(s => s.scrollWidth > s.clientWidth).length;
          return {scrollWidth: document.documentElement.scrollWidth, sizes, axis, overlaps, scrollers,
                  tables: document.querySelectorAll('table').length,
                  boxed: document.querySelectorAll('.scroll > table').length};
        }""")
        browser.close()
    return measured


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
@pytest.mark.parametrize("source", ["generated", "samples"])
def test_quality_page_reads_on_a_390px_phone(generated, tmp_path: Path, source: str) -> None:
    if source == "generated":
        page = generated[2]
    else:  # the shipped samples: long WeCom ids, a roster, ratings-free
        with Archive(tmp_path / "s.db") as archive:
            assert not import_paths(archive, [SAMPLES], tz="Asia/Shanghai").errors
            options = config.QualityOptions(roster=config.load_roster(SAMPLES / "roster.csv"), tz="Asia/Shanghai",
                                            scripts=config.load_scripts(SAMPLES / "scripts.yaml"))
            page = tmp_path / "samples.html"
            with open(page, "w", encoding="utf-8") as handle:
                write_report(report.analyze(archive, options), handle, archive)
    measured = _measure(page, 390)
    assert measured["scrollWidth"] <= 390
    assert len(measured["sizes"]) > 50 and min(measured["sizes"]) >= 11, min(measured["sizes"])
    assert len(measured["axis"]) >= 3 and measured["axis"][0] == "0"  # the hour chart's y axis
    assert not measured["overlaps"]
    assert measured["boxed"] == measured["tables"]  # every table scrolls in its own box


def test_an_empty_archive_has_empty_trends_and_no_conversations(tmp_path: Path) -> None:
    with Archive(tmp_path / "empty.db") as archive:
        result = report.analyze(archive, config.QualityOptions())
    assert result["trends"] == {"day": [], "week": []} and result["conversations"] == [] and result["sessions"] == 0
