"""End to end in Chromium at desktop (1280 px) and phone (390 px) width: a lead assigns an item from the
review queue, the reviewer escalates it, the second reviewer closes it for good; the report draws its
charts. axe-core on the queue, item and report pages: no serious or critical violation, and no
sideways scrolling. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervision_support import queue_archive, raise_alert
from web_support import ARGS, ARTIFACTS, CHROMIUM, PASSWORD, add_user, axe_violations, cli_json, run_cli, serving


@pytest.fixture
def served(tmp_path: Path):
    db = queue_archive(tmp_path)
    raise_alert(db, "c-101", "加我微信", policy="off_platform", category="off_platform",
                raised_at="2026-01-01T00:00:00.000Z")  # long overdue
    raise_alert(db, "c-102", "私下转账", policy="off_platform", category="off_platform")
    raise_alert(db, "c-102", "赔偿", policy="legal", category="legal")
    run_cli(db, "supervise", "queue")
    for name, role in (("lead_wu", "lead"), ("qa_chen", "reviewer"), ("qa_lin", "lead")):
        add_user(db, name, role)
    with serving(db) as url:
        yield url, db


def check(page, width: int, name: str, problems: list[str]) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name  # no sideways scrolling
    page.screenshot(path=str(ARTIFACTS / f"web-supervision-{name}.png"), full_page=True)
    problems += [f"{name}: {v}" for v in axe_violations(page)]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_work_an_item_from_queue_to_close_with_escalation_on_desktop_and_phone(served) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    server, db = served
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def as_user(name: str, width: int, height: int):
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server + "/supervision")
            page.fill("#name", name)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/supervision")
            return context, page, errors

        try:
            for (width, height, label), item in zip(((1280, 900, "desktop"), (390, 844, "phone")), (1, 2)):
                # the lead assigns the item from the queue
                context, page, errors = as_user("lead_wu", width, height)
                row = page.locator(f"li.sup-item:has(a[href='/supervision/items/{item}'])")
                if item == 1:
                    assert "overdue" in (row.get_attribute("class") or "")
                    assert row.locator(".badge.overdue").count() == 1
                check(page, width, f"{label}-queue", problems)
                row.locator("a").click()
                page.wait_for_selector("mark.hit")
                check(page, width, f"{label}-item-lead", problems)
                page.fill("#assign-to", "qa_chen")
                page.click("#assign-form button[type=submit]")
                page.wait_for_selector("#item-reviewer:has-text('qa_chen')")
                assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
                context.close()
                # the reviewer finds it under "mine" and escalates it to a second reviewer
                context, page, errors = as_user("qa_chen", width, height)
                page.click(f"a[href='/supervision/items/{item}']")
                page.wait_for_selector("#escalate-form")
                page.fill("#escalate-reason", "可能私下交易，请主管复核")
                page.fill("#escalate-to", "qa_lin")
                page.click("#escalate-form button[type=submit]")
                page.wait_for_selector("#item-status:has-text('已升级')")
                assert page.locator("#close-form").count() == 0  # now the second reviewer's
                check(page, width, f"{label}-item-escalated", problems)
                context.close()
                # the second reviewer closes it for good
                context, page, errors = as_user("qa_lin", width, height)
                page.click(f"a[href='/supervision/items/{item}']")
                page.wait_for_selector("#close-form")
                options = page.locator("#disposition option").evaluate_all("els => els.map(e => e.value)")
                assert options == ["no issue", "coaching", "reported"]  # an escalated item is closed for good
                page.select_option("#disposition", "reported")
                page.fill("#reason", "已上报合规部")
                page.click("#close-form button[type=submit]")
                page.wait_for_selector("#item-disposition")
                assert "reported" in page.inner_text("#item-disposition")
                assert page.locator("#close-form").count() == 0
                history = page.inner_text("ol.sup-history")
                assert "qa_chen" in history and "qa_lin" in history
                context.close()
            # the report draws its charts
            context, page, errors = as_user("lead_wu", 1280, 900)
            page.goto(server + "/supervision/report")
            page.wait_for_selector("#sup-charts .chart svg")
            assert page.inner_text("#open-items") == "0"  # both worked to the end
            check(page, 1280, "desktop-report", problems)
            context.close()
            context, page, errors = as_user("lead_wu", 390, 844)
            page.goto(server + "/supervision/report")
            page.wait_for_selector("#sup-charts .chart svg")
            check(page, 390, "phone-report", problems)
            assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
            context.close()
        finally:
            browser.close()
    closed = cli_json(db, "supervise", "queue", "--status", "closed")
    assert [(i["id"], i["disposition"], i["first_reviewer"], i["closed_by"]) for i in closed] == \
        [(1, "reported", "qa_chen", "qa_lin"), (2, "reported", "qa_chen", "qa_lin")]
    assert run_cli(db, "verify").exit_code == 0
    assert problems == []
