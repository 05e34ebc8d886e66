"""Peer review end to end in a real browser (Debian's chromium via Playwright) at 1280 and 390 px: a
reviewer opens a task from "My reviews", scores it blind (the automatic score hidden until then),
comments on a message and submits; a lead opens the Reviews report with its chart. axe-core finds
no serious or critical violation on these pages, and nothing scrolls sideways on a phone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reviews_support import run, service_archive
from web_support import ARGS, ARTIFACTS, CHROMIUM, add_user, axe_violations, log_in_browser, serving


@pytest.fixture
def server(tmp_path: Path):
    db = service_archive(tmp_path)
    add_user(db, "LiNa", "reviewer")
    add_user(db, "ZhangWei", "lead")
    run(db, "review", "assign", "--week", "2026-W11", "--per-agent", "1", "--rule", "lowest", "--reviewer", "LiNa",
        "--blind")
    with serving(db) as url:
        yield url


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_score_a_session_from_the_task_list_to_submitted_on_desktop_and_phone(server: str) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
                context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                log_in_browser(page, server, "LiNa", "/reviews")
                problems += [f"{name} my reviews: {v}" for v in axe_violations(page)]
                tasks = page.locator("#tasks a")
                before = tasks.count()
                assert before >= 1
                tasks.first.click()
                page.wait_for_selector("#score-form")
                assert page.locator("#auto-hidden").count() == 1  # blind: no automatic score yet
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                problems += [f"{name} scoring: {v}" for v in axe_violations(page)]
                for dimension, value in (("speed", "6"), ("professionalism", "7.5"), ("resolution", "5"),
                                         ("experience", "6"), ("emotion", "8")):
                    page.fill(f"#d-{dimension}", value)
                page.locator("details.add-comment summary").first.click()
                page.locator("details.add-comment textarea").first.fill("开场白规范")
                page.fill("#note", "回复偏慢")
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-reviews-1-scoring.png"), full_page=True)
                page.click("#submit-score")
                page.wait_for_selector("#total")
                assert page.locator("#total").inner_text() == "6.35"  # (25·6 + 20·7.5 + 25·5 + 15·6 + 15·8) / 100
                assert page.locator("#auto-hidden").count() == 0  # submitted: the automatic score shows
                assert "开场白规范" in page.locator("ol.messages").inner_text()
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-reviews-2-submitted.png"), full_page=True)
                problems += [f"{name} submitted: {v}" for v in axe_violations(page)]
                page.goto(server + "/reviews")
                assert page.locator("#tasks a").count() == before - 1
                page.click("form.inline button[type=submit]")  # log out
                log_in_browser(page, server, "ZhangWei", "/reviews/report")
                page.wait_for_function("document.querySelectorAll('#four-scores svg path').length > 0")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-reviews-3-report.png"), full_page=True)
                problems += [f"{name} report: {v}" for v in axe_violations(page)]
                assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
                context.close()
        finally:
            browser.close()
    assert problems == []
