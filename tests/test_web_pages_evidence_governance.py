"""The Evidence and Governance pages: they show what the CLI shows, their forms change state through
the same governed functions (with the page's CSRF token), role limits hold, and text is inert."""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from web_support import add_user, app_for, cli_json, demo_archive, login, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "governance"
CHATS, ROSTER, SCAN = FIXTURES / "staff_chats.csv", FIXTURES / "roster.csv", FIXTURES / "authorization_scan.pdf"
WECOM = "wecom:cust-001"
HTML = {"Accept": "text/html"}


def enterprise(tmp_path: Path) -> Path:
    db = tmp_path / "g.db"
    run_cli(db, "import", str(CHATS), "--tz", "Asia/Shanghai")
    run_cli(db, "roster", "set", str(ROSTER))
    run_cli(db, "init", "--mode", "enterprise")
    return db


def test_governance_pages_change_state_through_the_forms(tmp_path: Path) -> None:
    db = enterprise(tmp_path)
    add_user(db, "admin-zhao", "admin")
    client = TestClient(app_for(db))
    csrf = login(client, "admin-zhao")
    for path in ("/governance", "/governance/roster", "/governance/auth", "/governance/audit", "/governance/holds",
                 "/governance/retention"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200 and 'class="subnav"' in page.text, path
    assert "王芳" in client.get("/governance/roster").text
    added = client.post("/governance/auth", data={"csrf_token": csrf, "subject": ["E001"], "purpose": "<script>x</script>",
                                                  "expires": "2099-12-31", "granted_by": "HR", "scope": f"conversation:{WECOM}\n"},
                        files={"document": ("scan.pdf", SCAN.read_bytes())})
    assert added.status_code == 200 and "&lt;script&gt;x&lt;/script&gt;" in added.text and "<script>x" not in added.text
    assert cli_json(db, "auth", "list")[0]["purpose"] == "<script>x</script>"
    assert cli_json(db, "audit", "--command", "auth add")[-1]["operator"] == "admin-zhao"
    held = client.post("/governance/holds", data={"csrf_token": csrf, "conversation": WECOM, "reason": "dispute 17"})
    assert "dispute 17" in held.text and cli_json(db, "hold", "list")[0]["reason"] == "dispute 17"
    client.post("/governance/retention", data={"csrf_token": csrf, "selector": "default", "keep": "30d"})
    assert [(r["selector"], r["keep"]) for r in cli_json(db, "retention", "show")] == [("default", "30d")]
    dry = client.post("/governance/retention/apply", data={"csrf_token": csrf, "as_of": "2026-12-01"})
    assert dry.status_code == 200 and 'class="held"' in dry.text  # the hold keeps the wecom chat
    purge = cli_json(db, "retention", "apply", "--dry-run", "--as-of", "2026-12-01")
    assert f"Would purge {len(purge['purge'])}" in dry.text
    trail = client.get("/governance/audit", params={"command": "hold add"})
    assert trail.text.count('data-outcome="ok"') == len(cli_json(db, "audit", "--command", "hold add"))
    refused = client.post("/governance/holds", data={"conversation": WECOM, "reason": "no token"})
    assert refused.status_code == 403 and len(cli_json(db, "hold", "list")) == 1


def test_governance_pages_role_limits(tmp_path: Path) -> None:
    db = enterprise(tmp_path)
    add_user(db, "lead-lee", "lead")
    add_user(db, "auditor-qian", "auditor")
    lead = TestClient(app_for(db))
    login(lead, "lead-lee")
    assert lead.get("/governance/audit", headers=HTML).status_code == 403
    assert 'href="/governance"' not in lead.get("/conversations").text
    auditor = TestClient(app_for(db))
    csrf = login(auditor, "auditor-qian")
    page = auditor.get("/governance/retention")
    assert page.status_code == 200 and 'id="dry-run"' in page.text and 'name="confirm"' not in page.text
    assert 'action="/governance/holds"' not in auditor.get("/governance/holds").text
    assert auditor.post("/governance/holds", data={"csrf_token": csrf, "conversation": WECOM,
                                                   "reason": "x"}).status_code == 403
    assert auditor.get("/evidence", headers=HTML).status_code == 403  # builds need `evidence`
    assert auditor.get("/evidence/verify").status_code == 200


def test_evidence_pages_build_download_and_verify(tmp_path: Path) -> None:
    db = demo_archive(tmp_path)
    add_user(db, "lead-lee", "lead")
    client = TestClient(app_for(db))
    csrf = login(client, "lead-lee")
    page = client.get("/evidence")
    conversation = str(cli_json(db, "conversations")[0]["id"])
    assert page.status_code == 200 and f'<option value="{conversation}"' in page.text
    started = client.post("/evidence", data={"csrf_token": csrf, "conversation": conversation,
                                             "withhold_all": ["sender_id"], "withhold": ""}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 30
    while (job := client.get(f"/api/v1/jobs/{job_id}").json())["state"] not in ("done", "failed") \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job["state"] == "done", job
    link = re.search(r'class="download" href="([^"]+)"', client.get(f"/jobs/{job_id}").text).group(1)
    data = client.get(link).content
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "manifest.sig" in z.namelist()
    shown = client.post("/evidence/verify", data={"csrf_token": csrf}, files={"package": ("<b>p</b>.zip", data)})
    assert shown.status_code == 200 and 'class="verdict ok"' in shown.text and "&lt;b&gt;p&lt;/b&gt;.zip" in shown.text
    assert "not authenticated" in shown.text
    package = tmp_path / "p.zip"
    package.write_bytes(data)
    last_line = run_cli(db, "evidence", "verify", str(package)).stdout.splitlines()[-1]
    assert last_line.replace("'", "&#39;") in shown.text  # the CLI's verdict line, word for word
    broken = client.post("/evidence/verify", data={"csrf_token": csrf}, files={"package": ("x.zip", b"PK junk")})
    assert 'class="verdict failed"' in broken.text and "unsafe_package" in broken.text
