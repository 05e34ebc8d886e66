"""A small service archive for the review tests: three agents of the sample roster, each with four
service sessions in ISO week 2026-W11 (resolved, slow and unanswered, a complaint, a polite one), one
conversation holding two sessions an hour and a half apart, and customer ratings (CSAT)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from chataudit.cli import cli

SAMPLES = Path(__file__).parent.parent / "samples"
ROSTER = SAMPLES / "roster.csv"
AGENTS = {"agent_li": "客服小李", "agent_zhao": "客服小赵", "ZhangWei": "张伟"}
HEADER = ["sent_at", "platform", "conversation_id", "conversation_title", "sender_id", "sender_name", "kind", "text",
          "amount", "currency"]


def _session(day: int, hour: int, agent: str, customer: str, kind: str) -> list[tuple[str, str, str]]:
    """(time, who, text) of one session; who is 'agent' or 'customer'."""
    at = lambda minute, second=0: f"2026-03-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"  # noqa: E731
    if kind == "resolved":
        return [(at(0), "customer", "你好，我想查一下订单"), (at(0, 20), "agent", "您好，很高兴为您服务！请稍等"),
                (at(2), "agent", "已经查到了，明天送达"), (at(3), "customer", "好的，谢谢")]
    if kind == "slow":
        return [(at(0), "customer", "在吗？我的退款还没到"), (at(25), "agent", "您好，请问订单号是多少"),
                (at(40), "customer", "怎么还没有人回复我")]
    if kind == "complaint":
        return [(at(0), "customer", "质量太差了，我要投诉，要求赔偿"), (at(1), "agent", "您好，非常抱歉给您带来不便"),
                (at(3), "customer", "我要去消协投诉")]
    return [(at(0), "customer", "请问这个有货吗<script>alert(1)</script>"), (at(0, 30), "agent", "您好，有货的，请问还有其他可以帮您的吗？"),
            (at(2), "customer", "好的，谢谢")]


def write_chats(folder: Path) -> Path:
    rows = []
    kinds = ["resolved", "slow", "complaint", "polite"]
    for a, (agent, name) in enumerate(AGENTS.items()):
        for k, kind in enumerate(kinds):
            conv = f"c-{agent}-{k}"
            customer = f"cust_{a}{k}"
            for at, who, text in _session(9 + k, 9 + a, agent, customer, kind):
                sender = (agent, name) if who == "agent" else (customer, f"顾客{a}{k}")
                rows.append([at, "generic", conv, f"客户{a}{k}", *sender, "text", text, "", ""])
    # one conversation, two sessions 1.5 h apart: one session under the default 2 h gap, two under 1 h
    for at, who, text in [("2026-03-13 10:00:00", "customer", "你好，发票怎么开"),
                          ("2026-03-13 10:00:30", "agent", "您好，在订单页可以申请"),
                          ("2026-03-13 11:30:00", "customer", "申请好了，谢谢"),
                          ("2026-03-13 11:30:20", "agent", "不客气，请问还有其他可以帮您的吗？")]:
        sender = ("agent_li", "客服小李") if who == "agent" else ("cust_x", "顾客X")
        rows.append([at, "generic", "c-split", "客户X", *sender, "text", text, "", ""])
    path = folder / "service.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def write_ratings(folder: Path) -> Path:
    path = folder / "ratings.csv"
    path.write_text("conversation,time,rating\n"
                    "c-agent_li-0,2026-03-09 09:10,5\nc-agent_li-1,2026-03-10 10:00,2\n"
                    "c-agent_zhao-0,2026-03-09 10:10,4\n", encoding="utf-8")
    return path


def run(db: Path, *args: str, operator: str = "lead", ok: bool = True):
    result = CliRunner().invoke(cli, ["--db", str(db), "--operator", operator, *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def run_json(db: Path, *args: str, operator: str = "lead"):
    return json.loads(run(db, *args, "--json", operator=operator).stdout)


def service_archive(folder: Path) -> Path:
    db = folder / "reviews.db"
    run(db, "import", str(write_chats(folder)), "--tz", "Asia/Shanghai")
    run(db, "roster", "set", str(ROSTER))
    return db


def scores(value: float = 8) -> list[str]:
    return [arg for d in ("speed", "professionalism", "resolution", "experience", "emotion")
            for arg in (f"--{d}", str(value))]
