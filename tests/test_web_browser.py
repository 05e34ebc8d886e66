"""End to end in a real browser (Debian's chromium via Playwright), at desktop and phone width: log in,
search 退货 as you type, open the hit in its conversation, open the message's detail. axe-core
(vendored) checks each page: no serious or critical accessibility violation. Screenshots go to
tests/artifacts/ (look at them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import both_stores
from web_support import (ARGS, ARTIFACTS, CHROMIUM, PASSWORD, add_user, axe_violations, demo_archive, run_cli,
                         serving)


@pytest.fixture
def server(tmp_path: Path, new_archive):
    db = demo_archive(tmp_path, new_archive("web.db"))
    add_user(db, "lee", "lead")
    with serving(db) as url:
        yield url


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
@both_stores
def test_log_in_search_and_open_the_conversation_on_desktop_and_phone(server: str, new_archive) -> None:
    """On PostgreSQL (issue 15) the desktop flow only: the phone layout does not depend on the store."""
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    sizes = ((1280, 900, "desktop"), (390, 844, "phone"))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, height, name in sizes if new_archive.store == "sqlite" else sizes[:1]:
                context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(server + "/search")
                assert page.url.startswith(server + "/login")
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-1-login.png"))
                problems += [f"{name} login: {v}" for v in axe_violations(page)]
                page.fill("#name", "lee")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(server + "/search")
                page.type("#q", "退货", delay=30)  # as you type: htmx fetches the hits, no submit
                page.wait_for_selector("ol.hits mark")
                assert page.url == server + "/search"  # no page load happened
                assert "退货" in page.inner_text("ol.hits mark")
                assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-2-search.png"), full_page=True)
                problems += [f"{name} search: {v}" for v in axe_violations(page)]
                page.click("ol.hits li a >> nth=0")
                page.wait_for_selector("article.bubble.target")
                assert "退货" in page.inner_text("article.bubble.target")
                assert page.locator("h2.day").count() >= 1
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-3-conversation.png"), full_page=True)
                problems += [f"{name} conversation: {v}" for v in axe_violations(page)]
                page.click("article.bubble.target a.time")
                page.wait_for_selector("dl.facts")
                assert len(page.inner_text("dl.facts code")) == 64  # the content hash
                page.wait_for_selector("dl.proof")  # the inclusion proof, fetched after the page shows
                assert "leaf_hash" in page.inner_text("dl.proof")
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-4-message.png"), full_page=True)
                problems += [f"{name} message: {v}" for v in axe_violations(page)]
                if name == "desktop":  # drop an export on the import form; its job runs and reports
                    page.goto(server + "/import")
                    page.evaluate("""() => {
                        const data = new DataTransfer();
                        data.items.add(new File(["[12/03/2026, 09:15:00] Alice: 退货 please\\n"], "chat.txt"));
                        document.querySelector("form.card").dispatchEvent(new DragEvent("drop", {dataTransfer: data}));
                    }""")
                    assert page.evaluate("document.querySelector('#files').files.length") == 1
                    problems += [f"{name} import: {v}" for v in axe_violations(page)]
                    page.click("form.card button[type=submit]")
                    page.wait_for_selector('[data-state="done"]')
                    assert "chat.txt" in page.inner_text("table.summary")
                    page.screenshot(path=str(ARTIFACTS / f"web-{name}-5-import-job.png"), full_page=True)
                    problems += [f"{name} job: {v}" for v in axe_violations(page)]
                    # the API docs: the vendored Swagger UI draws every operation
                    page.goto(server + "/api/docs")
                    page.wait_for_selector(".opblock")
                    assert page.locator(".opblock").count() >= 10
                assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
                context.close()
        finally:
            browser.close()
    assert problems == []


COMPARE_FIXTURES = Path(__file__).parent / "fixtures" / "compare"


@pytest.fixture
def compare_server(tmp_path: Path):
    db = demo_archive(tmp_path)
    run_cli(db, "import", str(COMPARE_FIXTURES / "wang_phone.csv"), "--tz", "Asia/Shanghai", "--label", "phone")
    run_cli(db, "import", str(COMPARE_FIXTURES / "shop_console.jsonl"), "--label", "shop")
    add_user(db, "lee", "lead")
    with serving(db) as url:
        yield url


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_compare_two_copies_check_and_a_person_on_desktop_and_phone(compare_server: str) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    server = compare_server
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for width, height, name in ((1280, 900, "desktop"), (390, 844, "phone")):
                context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                              accept_downloads=True)
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(server + "/compare")
                page.fill("#name", "lee")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(server + "/compare")
                page.check("input[name=copy][value=phone]")
                page.check("input[name=copy][value=shop]")
                page.click("form.compare-pick button[type=submit]")
                page.wait_for_selector("section.verdict.different")
                visible = page.locator("table.cmp tbody tr:visible").count()
                assert page.locator("table.cmp tr.st-altered del, table.cmp tr.st-altered ins").count() >= 1
                assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-5-compare.png"), full_page=True)
                problems += [f"{name} compare: {v}" for v in axe_violations(page)]
                page.uncheck("#only-diff")  # every message, the same ones too
                assert page.locator("table.cmp tbody tr:visible").count() > visible
                with page.expect_download() as download:
                    page.click("#cmp-download")
                report = Path(download.value.path()).read_text(encoding="utf-8")
                assert report.startswith("<!doctype html") or "<html" in report[:200]
                page.goto(server + "/check?source=phone")
                page.wait_for_selector("section.verdict")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-5b-check.png"), full_page=True)
                problems += [f"{name} check: {v}" for v in axe_violations(page)]
                page.goto(server + "/people")
                page.click("a:has-text('时间线') >> nth=0")
                page.wait_for_selector("article.bubble")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-6-person.png"), full_page=True)
                problems += [f"{name} person: {v}" for v in axe_violations(page)]
                assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
                context.close()
        finally:
            browser.close()
    assert problems == []


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_the_quality_dashboard_draws_its_charts_on_desktop_and_phone(server: str) -> None:
    """Log in as a lead, run the report from the dashboard's form (a background job), see it drawn:
    every chart holds a non-empty svg, no sideways scrolling at 390 px, a figure drills down to its
    sessions, and axe-core finds no serious or critical violation."""
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
                page.goto(server + "/login?next=/quality")
                page.fill("#name", "lee")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(server + "/quality")
                problems += [f"{name} quality form: {v}" for v in axe_violations(page)]
                page.fill("input[name=compare_to]", "2026-03-01..2026-03-15")
                page.click("form.quality-form button[type=submit]")
                page.wait_for_selector(".tiles", timeout=20000)  # the job ran; the page reloaded with its result
                page.wait_for_function("document.querySelectorAll('.chart svg path').length > 0")
                charts = page.locator(".chart")
                assert charts.count() == 6
                for i in range(charts.count()):
                    drawn = charts.nth(i).evaluate("c => { const s = c.querySelector('svg'); return s ? "
                                                   "[s.getBoundingClientRect().width, s.querySelectorAll('path,text').length] : null }")
                    assert drawn and drawn[0] > 0 and drawn[1] > 0, (name, i, drawn)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"web-{name}-5-quality.png"), full_page=True)
                problems += [f"{name} quality: {v}" for v in axe_violations(page)]
                page.click(".tiles .tile >> nth=0 >> a")
                page.wait_for_selector("#drill table a[href^='/quality/open']")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                problems += [f"{name} quality drill-down: {v}" for v in axe_violations(page)]
                page.click("#drill table a[href^='/quality/open'] >> nth=0")
                page.wait_for_selector("article.bubble.target")
                assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
                context.close()
        finally:
            browser.close()
    assert problems == []
