"""Per-format import speed: each real format's layout scaled to N messages (default 1,000,000).

For each format a file is written in that exporter's own layout (the shapes of the fixtures in
tests/fixtures/), then measured twice: the format's streaming parse() alone, and a full
`chataudit import` (parse + hash + store + index) in a child process with its peak RSS.

    python bench/bench_formats.py [N] [FORMAT…]
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))

import orjson  # noqa: E402

from bench_import import run_import  # noqa: E402
from generate import PHRASES  # noqa: E402

CST = timezone(timedelta(hours=8))
START = datetime(2025, 1, 1, 8, tzinfo=CST)


def _stream(count: int, seed: int = 3):
    rng = random.Random(seed)
    moment = START
    for i in range(count):
        moment += timedelta(seconds=rng.randint(1, 90))
        yield i, moment, rng.random() < 0.5, "，".join(rng.sample(PHRASES, rng.randint(1, 3))) + f" #{i}"


def write_wechat_csv(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        out.write("localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n")
        for i, moment, mine, text in _stream(count):
            sender = "wxid_me" if mine else "wxid_hanmeimei01"
            out.write(f"{i + 1},1,1,0,{int(mine)},{int(moment.timestamp())},2,{text},"
                      f"{moment.strftime('%Y-%m-%d %H:%M:%S')},梅梅,韩梅梅,{sender}\n")


def write_whatsapp(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for i, moment, mine, text in _stream(count):
            out.write(f"{moment.strftime('%d/%m/%Y, %H:%M')} - {'Bob' if mine else 'Alice'}: {text}\n")


def write_wecom(path: Path, count: int) -> None:
    with open(path, "wb") as out:
        for i, moment, mine, text in _stream(count):
            sender, other = ("ZhangWei", "wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ") if mine else (
                "wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ", "ZhangWei")
            out.write(orjson.dumps({"seq": i + 1, "msgid": f"{i}_external", "action": "send", "from": sender,
                                    "tolist": [other], "roomid": "", "msgtime": int(moment.timestamp() * 1000),
                                    "msgtype": "text", "text": {"content": text}}) + b"\n")


def write_telegram(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write('{\n "name": "Alice Schmidt",\n "type": "personal_chat",\n "id": 5550001111,\n "messages": [\n')
        for i, moment, mine, text in _stream(count):
            name, uid = ("Bob Jones", "user5550002222") if mine else ("Alice Schmidt", "user5550001111")
            record = {"id": i + 1, "type": "message", "date": moment.strftime("%Y-%m-%dT%H:%M:%S"),
                      "date_unixtime": str(int(moment.timestamp())), "from": name, "from_id": uid, "text": text,
                      "text_entities": [{"type": "plain", "text": text}]}
            out.write(("  " if i == 0 else ",\n  ") + json.dumps(record, ensure_ascii=False))
        out.write("\n ]\n}")


WRITERS = {
    "wechat-csv": ("梅梅_utf8.csv", write_wechat_csv),
    "whatsapp-txt": ("WhatsApp Chat with Alice.txt", write_whatsapp),
    "wecom-archive": ("wecom.jsonl", write_wecom),
    "telegram-json": ("result.json", write_telegram),
}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    chosen = sys.argv[2:] or list(WRITERS)
    from chataudit import formats
    from chataudit.formats import ParseOptions
    from chataudit.model import zone

    OUT.mkdir(exist_ok=True)
    print(f"per-format import of {count:,} messages (parse alone, then full import with hashing, dedup and FTS)")
    print(f"  {'format':<14} {'MB':>6} {'parse msg/s':>12} {'import s':>9} {'import msg/s':>13} {'peak RSS':>9}")
    for name in chosen:
        file_name, writer = WRITERS[name]
        folder = OUT / f"fmt-{name}-{count}"
        folder.mkdir(exist_ok=True)
        path = folder / file_name
        if not path.exists():
            writer(path, count)
        module = formats.get(name)
        started = time.perf_counter()
        parsed = sum(1 for _ in module.parse(path, ParseOptions(tz=zone("Asia/Shanghai"), tz_given=True)))
        parse_rate = parsed / (time.perf_counter() - started)
        result = run_import(OUT / f"fmt-{name}.db", path)
        print(f"  {name:<14} {path.stat().st_size / 1e6:6.0f} {parse_rate:12,.0f} {result['seconds']:9.1f}"
              f" {result['new'] / result['seconds']:13,.0f} {result['peak_rss_mb']:7.0f} MB")


if __name__ == "__main__":
    main()
