"""`chataudit serve` itself: a real uvicorn process on a free loopback port, its printed login URL,
the token as a Bearer credential; stopped by the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from web_support import free_port
from web_support import demo_archive


def test_serve_prints_a_token_url_that_logs_in_and_serves_the_api(tmp_path: Path) -> None:
    db = demo_archive(tmp_path)
    port = free_port()
    env = {**os.environ, "CHATAUDIT_TOKEN": "fixed-token-for-the-test-0123456789"}
    process = subprocess.Popen([sys.executable, "-m", "chataudit.cli", "--db", str(db), "serve", "--port", str(port),
                                "--no-open"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
    try:
        lines = [process.stderr.readline() for _ in range(2)]
        assert f"http://127.0.0.1:{port}/?token=fixed-token-for-the-test-0123456789" in lines[1]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/conversations",
                                         headers={"Authorization": "Bearer fixed-token-for-the-test-0123456789"})
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    body = json.loads(response.read())
                    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.1)
        assert {c["platform"] for c in body} >= {"telegram", "whatsapp"}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)
