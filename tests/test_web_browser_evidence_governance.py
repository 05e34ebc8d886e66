"""End to end in Chromium at desktop and phone width: build an evidence package from the Evidence
page, download it and verify it with the STANDALONE verifier (it must print OK), verify it on the
Verify page, and walk the Governance pages. axe-core on each: no serious or critical violation, and
no sideways scrolling at 390 px. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from web_support import ARGS, ARTIFACTS, CHROMIUM, PASSWORD, add_user, axe_violations, demo_archive, run_cli, serving

STANDALONE = Path(__file__).parent.parent / "chataudit" / "evidence" / "standalone_verify.py"
ROSTER = Path(__file__).parent / "fixtures" / "governance" / "roster.csv"
GOVERNANCE = ("/governance", "/governance/roster", "/governance/auth", "/governance/audit", "/governance/holds",
              "/governance/retention")


@pytest.fixture
def server(tmp_path: Path):
    db = demo_archive(tmp_path)
    run_cli(db, "roster", "set", str(ROSTER))
    run_cli(db, "hold", "add", "--conversation", "1", "--reason", "dispute <b>17</b>")
    run_cli(db, "retention", "set", "default", "30d")
    run_cli(db, "auth", "add", "--document", str(ROSTER.with_name("authorization_scan.pdf")), "--purpose", "review",
            "--expires", "2099-12-31", "--granted-by", "HR", "--subject", "E001", "--scope", "conversation:1")
    add_user(db, "ada", "admin")
    with serving(db) as url:
        yield url


def check(page, width: int, name: str, problems: list[str]) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name  # no sideways scrolling
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)
    problems += [f"{name}: {v}" for v in axe_violations(page)]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_build_download_and_verify_a_package_and_walk_governance(server: str, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
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
                page.goto(server + "/login")
                page.fill("#name", "ada")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(server + "/search")
                page.goto(server + "/evidence")
                check(page, width, f"{name}-evidence-1-form", problems)
                page.check("input[name=withhold_all][value=sender_id]")
                page.click("#build")
                page.wait_for_url(f"{server}/jobs/*")
                page.wait_for_selector("a.download", timeout=30000)  # the job page follows the build live
                check(page, width, f"{name}-evidence-2-built", problems)
                with page.expect_download() as download:
                    page.click("a.download")
                package = tmp_path / f"{name}-{download.value.suggested_filename}"
                download.value.save_as(package)
                standalone = subprocess.run([sys.executable, str(STANDALONE), str(package)], capture_output=True,
                                            text=True, timeout=60)
                assert standalone.returncode == 0, standalone.stdout + standalone.stderr
                assert standalone.stdout.splitlines()[-1].startswith("OK"), standalone.stdout
                page.goto(server + "/evidence/verify")
                page.set_input_files("#package", str(package))
                page.click("form.card button[type=submit]")
                page.wait_for_selector("h2.verdict.ok")
                assert page.locator("ul.problems").count() == 0
                check(page, width, f"{name}-evidence-3-verified", problems)
                for path in GOVERNANCE:
                    page.goto(server + path)
                    check(page, width, f"{name}-gov{path.replace('/', '-')}", problems)
                page.goto(server + "/governance/holds")
                assert "dispute <b>17</b>" in page.inner_text("ul.list")  # shown as text, not markup
                page.goto(server + "/governance/retention")
                page.click("#dry-run")
                page.wait_for_selector("#plan")
                check(page, width, f"{name}-gov-retention-dry-run", problems)
                assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
                context.close()
        finally:
            browser.close()
    assert problems == []
