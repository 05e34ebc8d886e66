"""The pages: search filters as the CLI's, a long conversation in pages, jump to a date, permalinks,
the two languages, the PWA manifest."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web_support import TOKEN, app_for, cli_json, demo_archive, run_cli


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return demo_archive(tmp_path)


def browser(db: Path) -> TestClient:
    client = TestClient(app_for(db))
    client.get(f"/?token={TOKEN}")
    return client


def hit_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'\?at=(\d+)', html)]


def test_search_page_filters_give_the_cli_results(db: Path) -> None:
    client = browser(db)
    for params, args in (({"q": "退款"}, []), ({"q": "退款", "platform": "generic"}, ["--platform", "generic"]),
                         ({"q": "退款", "since": "2026-03-16", "until": "2026-03-31"}, ["--since", "2026-03-16", "--until", "2026-03-31"])):
        page = client.get("/search/hits", params=params).text
        assert hit_ids(page) == [row["id"] for row in cli_json(db, "search", params["q"], *args)], params
    full = client.get("/search", params={"q": "退款", "platform": "generic"}).text
    assert "<details class=\"filters\" open>" in full and 'value="generic"' in full
    bad = client.get("/search/hits", params={"q": "-退款"}).text
    assert 'role="alert"' in bad


def long_chat(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "long.jsonl"
    start = datetime(2026, 1, 1, 9, 0)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            sent = start + timedelta(hours=3 * i)
            out.write(json.dumps({"conversation": "long", "sender": "me" if i % 3 == 0 else "them",
                                  "sent_at": sent.isoformat() + "+08:00", "text": f"message {i}",
                                  "is_me": i % 3 == 0}) + "\n")
    return path


def test_a_long_conversation_pages_and_jumps(db: Path, tmp_path: Path) -> None:
    run_cli(db, "import", str(long_chat(tmp_path, 450)), "--format", "generic")
    conversation = next(c["id"] for c in cli_json(db, "conversations") if c["native_id"] == "long")
    timeline = cli_json(db, "messages", "--conversation", str(conversation))
    client = browser(db)
    newest = client.get(f"/conversations/{conversation}").text
    shown = [int(i) for i in re.findall(r'id="m(\d+)"', newest)]
    assert shown == [row["id"] for row in timeline[-200:]]
    older = re.search(r'href="\?before=(\d+)"', newest).group(1)
    assert 'href="?after=' not in newest  # the newest page has nothing newer
    page = client.get(f"/conversations/{conversation}?before={older}").text
    assert [int(i) for i in re.findall(r'id="m(\d+)"', page)] == [row["id"] for row in timeline[-400:-200]]
    first = client.get(f"/conversations/{conversation}?before={timeline[50]['id']}").text
    assert [int(i) for i in re.findall(r'id="m(\d+)"', first)] == [row["id"] for row in timeline[:50]]
    assert "?before=" not in first
    target = timeline[300]["id"]
    around = client.get(f"/conversations/{conversation}?at={target}").text
    assert f'id="m{target}" class="bubble' in around and "target" in around.split(f'id="m{target}"')[1][:40]
    jumped = client.get(f"/conversations/{conversation}?date=2026-02-10").text
    first_of_day = next(row for row in timeline if row["sent_at"] >= "2026-02-10")
    assert f'id="m{first_of_day["id"]}" class="bubble them target"' in jumped or \
        f'id="m{first_of_day["id"]}" class="bubble me target"' in jumped
    assert newest.count('class="bubble me') and newest.count('class="bubble them')
    assert newest.count('<h2 class="day">') >= 20  # 8 messages a day: a separator per day


def test_languages_and_the_manifest(db: Path) -> None:
    client = browser(db)
    assert "搜索" in client.get("/search", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    english = client.get("/search", headers={"Accept-Language": "en-US"}).text
    assert ">Search<" in english and 'lang="en"' in english
    chosen = client.get("/search?lang=zh", headers={"Accept-Language": "en-US"})
    assert 'lang="zh-CN"' in chosen.text and "chataudit_lang=zh" in chosen.headers["set-cookie"]
    assert 'lang="zh-CN"' in client.get("/conversations", headers={"Accept-Language": "en-US"}).text  # remembered
    back = client.get("/conversations?lang=en", headers={"Accept-Language": "zh-CN"})  # a governed page sets it too
    assert ">Conversations<" in back.text and "chataudit_lang=en" in back.headers["set-cookie"]
    folder = Path(__file__).parent.parent / "chataudit/web/messages"
    for english in folder.glob("en*.json"):  # every catalogue file has its Chinese twin, with the same keys
        chinese = folder / ("zh" + english.name[2:])
        assert set(json.loads(english.read_text("utf-8"))) == set(json.loads(chinese.read_text("utf-8"))), english.name
    manifest = client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    for icon in manifest.json()["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_message_kinds_are_named_in_the_page_language(db: Path) -> None:
    client = browser(db)
    telegram_or_wechat = [c["id"] for c in cli_json(db, "conversations")]
    kinds = {row["kind"] for c in telegram_or_wechat for row in cli_json(db, "messages", "--conversation", str(c))}
    assert "image" in kinds
    conversation = next(c for c in telegram_or_wechat
                        if any(r["kind"] == "image" for r in cli_json(db, "messages", "--conversation", str(c))))
    assert '<p class="kind">图片' in client.get(f"/conversations/{conversation}?lang=zh").text
    assert '<p class="kind">image' in client.get(f"/conversations/{conversation}?lang=en").text
