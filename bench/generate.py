"""Generate a realistic customer-service archive as generic JSON Lines, streamed to disk.

Deterministic (seeded), mixed Chinese/English, several hundred conversations, agents and customers.

By default a message goes to a random one of 500 conversations every 1–90 s, so a conversation hears
from itself every ~6 h: 1.4 messages per session (a session ends after 2 h of silence). With
``--session-messages`` the chats come as service sessions of 10–30 messages (customer and agent
taking turns 5 s–3 min apart, sessions of a conversation days apart), what real service chats look like.

    python bench/generate.py OUT.jsonl N [--session-messages]
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

PHRASES = [
    "您好，很高兴为您服务", "请问有什么可以帮您", "我想退货", "快递什么时候到", "物流信息一直没更新",
    "这个商品的材质是什么", "亲肤舒适，适合日常穿着", "已为您申请退款", "请提供一下订单号", "好的",
    "收到，谢谢", "如果明天还不到我就要投诉", "按合同约定处理", "价格有点高，能不能再优惠点",
    "我们可以赠送一些小礼品", "发票已经开好了", "尺码偏小，建议选大一号", "请问还有其他可以帮您的吗",
    "where is my parcel", "refund please", "the tracking number is wrong", "thanks a lot",
    "颜色和图片不一样", "售后电话是多少", "稍等，我帮您查询一下", "非常抱歉给您带来不便",
]
RARE = "违约金"  # appears in about 1 of 20,000 messages: a rare-term query with a handful of hits
CST = timezone(timedelta(hours=8))


def generate(path: Path, count: int, seed: int = 7, sessions: bool = False) -> None:
    if sessions:
        return generate_sessions(path, count, seed)
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 8, tzinfo=CST)
    conversations = 500
    with open(path, "wb") as out:
        moment = start
        for i in range(count):
            moment += timedelta(seconds=rng.randint(1, 90))
            conversation = rng.randrange(conversations)
            agent = i % 7 == 0 or rng.random() < 0.45
            words = rng.sample(PHRASES, rng.randint(1, 3))
            if rng.random() < 1 / 20000:
                words.append(f"按合同支付{RARE}")
            out.write(_record(moment, conversation, agent, words, i))


def _record(moment: datetime, conversation: int, agent: bool, words: list[str], i: int) -> bytes:
    return orjson.dumps({
        "sent_at": moment.isoformat(),
        "platform": "wecom" if conversation % 3 else "wechat",
        "conversation_id": f"conv-{conversation}",
        "conversation_title": f"客户{conversation}",
        "sender_id": f"agent{conversation % 12}" if agent else f"cust{conversation}",
        "sender_name": f"客服{conversation % 12}" if agent else f"客户{conversation}",
        "text": "，".join(words) + f" #{i}",
    }) + b"\n"


def generate_sessions(path: Path, count: int, seed: int = 7) -> None:
    """Service sessions of 10–30 messages: one conversation per 200 messages, each of its sessions
    3 h–3 days after the last, the customer opening and the two sides taking turns."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 8, tzinfo=CST)
    conversations = max(1, count // 200)
    last = [start + timedelta(minutes=rng.randint(0, 600)) for _ in range(conversations)]
    with open(path, "wb") as out:
        i = 0
        while i < count:
            conversation = rng.randrange(conversations)
            moment = last[conversation] + timedelta(hours=rng.randint(3, 72))
            agent = False
            for _ in range(min(rng.randint(10, 30), count - i)):
                words = rng.sample(PHRASES, rng.randint(1, 3))
                if rng.random() < 1 / 20000:
                    words.append(f"按合同支付{RARE}")
                out.write(_record(moment, conversation, agent, words, i))
                i += 1
                moment += timedelta(seconds=rng.randint(5, 180))
                agent = not agent if rng.random() < 0.7 else agent
            last[conversation] = moment


if __name__ == "__main__":
    generate(Path(sys.argv[1]), int(sys.argv[2]), sessions="--session-messages" in sys.argv)
