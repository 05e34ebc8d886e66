"""Realistic generated customer-service chats with planted facts (tests, demo and benchmark).

Deterministic for a seed. Planted: slower new agents, a slow 08:00–09:00 hour, sessions without the
standard greeting or closing, question topics (one outside the default taxonomy), customers'
legal threats and abuse, an agent's forbidden promise, typos, unanswered sessions, bots and system
lines that must be ignored. :class:`Truth` says what was planted, for the tests to check against.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..model import Conversation, ConversationType, Kind, Message

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, tzinfo=TZ)  # a Monday

ROSTER = [
    # id, name, role, hired_on, team
    ("zhangwei", "张伟", "service", "2024-05-01", "A"),
    ("lina", "李娜", "service", "2023-11-15", "A"),
    ("wangfang", "王芳", "service", "2025-02-10", "B"),
    ("liuyang", "刘洋", "service", "2026-02-01", "B"),   # new
    ("chenjing", "陈静", "service", "2026-02-20", "B"),  # new
    ("zhaolei", "赵磊", "sales", "2024-08-01", "A"),
]
NEW_AGENTS = {"liuyang", "chenjing"}
GREETING = "您好，很高兴为您服务"
GREETING_VARIANTS = ["您好，很高兴为您服务~", "您好!很高兴为您服务", "亲，您好，很高兴为你服务哦", "您好，很高兴为您服务。"]
CLOSING = "请问还有其他可以帮您的吗"
CLOSING_VARIANTS = ["请问还有其他可以帮您的吗？", "请问还有其他可以帮您的吗~", "请问还有什么其他可以帮您的吗"]

TOPICS = {
    "退货退款": ["我想退货", "这个能退货吗？", "退款什么时候到账？", "申请退款了怎么还没处理"],
    "物流快递": ["快递什么时候到？", "物流信息一直没更新", "快递单号查不到啊", "发货了吗？"],
    "发票": ["发票怎么开？", "可以开增值税发票吗", "发票抬头写错了能改吗？"],
    "尺码规格": ["这个尺码偏大吗？", "我170穿多大码", "有没有大一号的尺寸？"],
    "直播抽奖": ["直播间抽奖的奖品什么时候发", "直播抽奖中了怎么领取？", "直播间抽奖名单在哪看"],  # not in the taxonomy
}
AGENT_ANSWERS = ["稍等，我帮您查询一下", "已经为您登记了，请您耐心等待", "好的，这边马上为您处理",
                 "您的订单已经发货了，预计明天送达", "可以的，您在订单页面申请就可以", "建议您选大一号"]
CUSTOMER_FOLLOWUPS = ["嗯", "那要多久", "好吧", "订单号是 2026030112345", "麻烦快一点"]
CONFIRMATIONS = ["好的，谢谢", "明白了，谢谢你", "收到，辛苦了", "好的好的"]
THREAT = "再不处理我就去12315投诉"
ABUSE = "你们就是骗子，垃圾服务"
PROMISE = "保证没问题，百分百保证给您退款"
TYPO_MESSAGES = [("以经为您加急处理了", "以经", "已经"), ("这个问题我们处理的很快的", "的", "得")]


@dataclass
class PlantedSession:
    conversation: str
    platform: str
    agent: str
    start: datetime
    greeting: bool
    closing: bool
    topic: str
    resolved: bool
    unanswered: bool
    threat: bool = False
    abuse: bool = False
    promise: bool = False
    typo: tuple[str, str] | None = None


@dataclass
class Truth:
    roster_csv: str
    sessions: list[PlantedSession] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


def roster_csv() -> str:
    return "id,name,role,hired_on,team\n" + "".join(f"{i},{n},{r},{h},{t}\n" for i, n, r, h, t in ROSTER)


def generate(sessions: int = 240, seed: int = 11, days: int = 14) -> Truth:
    rng = random.Random(seed)
    truth = Truth(roster_csv())
    customers = max(sessions // 2, 1)
    records: list[Message] = []
    last_end: dict[str, datetime] = {}
    for index in range(sessions):
        customer = index % customers
        platform = "wecom" if customer % 2 == 0 else "wechat"
        conversation = f"c{customer:04d}"
        customer_id = f"wo_cust{customer:04d}" if platform == "wecom" else f"wxid_cust{customer:04d}"
        customer_name = f"客户{customer:04d}"
        agent_id, agent_name, role, _, _ = ROSTER[rng.randrange(len(ROSTER))]
        day = rng.randrange(days)
        hour = rng.choice([8, 8, 9, 10, 11, 13, 14, 15, 16, 19, 20, 21])
        start = START + timedelta(days=day, hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
        previous = last_end.get(conversation)
        if previous is not None and start < previous + timedelta(hours=3):
            start = previous + timedelta(hours=3, minutes=rng.randrange(120))
        topic = rng.choice(list(TOPICS))
        planted = PlantedSession(
            conversation, platform, agent_id, start,
            greeting=rng.random() > 0.15, closing=rng.random() > 0.3, topic=topic,
            resolved=False, unanswered=rng.random() < 0.08,
            threat=rng.random() < 0.06, abuse=rng.random() < 0.03,
            promise=agent_id == "zhaolei" and rng.random() < 0.25,
            typo=(rng.choice(TYPO_MESSAGES)[1:] if agent_id in ("wangfang", "liuyang") and rng.random() < 0.5 else None),
        )

        def delay() -> float:
            base = 14.0 if role == "service" else 28.0
            if agent_id in NEW_AGENTS:
                base *= 1.6
            if 8 <= planted.start.hour < 9:
                base += 55.0
            return base * rng.uniform(0.5, 1.5)

        moment = start
        lines: list[tuple[str, str, datetime, Kind]] = []  # (who, text, at, kind)

        def say(who: str, text: str, after: float, kind: Kind = Kind.TEXT) -> None:
            nonlocal moment
            moment = moment + timedelta(seconds=after)
            lines.append((who, text, moment, kind))

        say("c", rng.choice(TOPICS[topic]), 0)
        if rng.random() < 0.4:
            say("c", "在吗？", rng.uniform(2, 8))  # a second message in the same wait
        if platform == "wecom" and rng.random() < 0.3:
            say("bot", "【自动回复】客服正在接入，请稍候", 1)
        if planted.unanswered and rng.random() < 0.5:
            # the very first wait goes unanswered: nothing else of the plan is said
            planted.threat = planted.abuse = planted.promise = planted.closing = False
            planted.typo = None
        else:
            opener = rng.choice(GREETING_VARIANTS) if planted.greeting else "在的"
            say("a", opener, delay())
            say("a", rng.choice(AGENT_ANSWERS), rng.uniform(5, 20))
            if planted.typo:
                text = next(t for t, w, r in TYPO_MESSAGES if (w, r) == planted.typo)
                say("a", text, rng.uniform(3, 10))
            for _ in range(rng.randint(0, 2)):
                say("c", rng.choice(CUSTOMER_FOLLOWUPS), rng.uniform(10, 60))
                if rng.random() < 0.1:
                    say("sys", "客户已被转接", 1, Kind.SYSTEM)
                say("a", rng.choice(AGENT_ANSWERS), delay())
            if planted.threat:
                say("c", THREAT, rng.uniform(10, 40))
                say("a", "非常抱歉给您带来不便，马上为您加急处理", delay())
            if planted.abuse:
                say("c", ABUSE, rng.uniform(10, 40))
                say("a", "非常抱歉，我们会尽快解决", delay())
            if planted.promise:
                say("a", PROMISE, rng.uniform(5, 15))
            if planted.unanswered:
                say("c", "怎么又不回了？", rng.uniform(30, 90))
            else:
                if planted.closing:
                    say("a", rng.choice(CLOSING_VARIANTS), rng.uniform(10, 30))
                if rng.random() < 0.75:
                    say("c", rng.choice(CONFIRMATIONS), rng.uniform(10, 60))
                    planted.resolved = True
        last_end[conversation] = moment
        for who, text, at, kind in lines:
            if who == "c":
                sender_id, sender_name, extras = customer_id, customer_name, ({"side": "external"} if platform == "wecom" else {})
            elif who == "a":
                sender_id, sender_name, extras = agent_id, agent_name, ({"side": "internal"} if platform == "wecom" else {})
            elif who == "bot":
                sender_id, sender_name, extras = "wb_autoreply", "自动回复", {"side": "bot"}
            else:
                sender_id, sender_name, extras = None, None, {}
            records.append(Message(
                platform=platform, conversation_id=conversation, sent_at=at, kind=kind, text=text,
                sender_id=sender_id, sender_name=sender_name, conversation_title=customer_name, extras=extras,
            ))
        truth.sessions.append(planted)
    records.sort(key=lambda m: (m.conversation_id, m.sent_at))
    truth.messages = records
    return truth


def conversations_of(messages: list[Message]) -> list[Conversation]:
    seen = {}
    for m in messages:
        seen.setdefault((m.platform, m.conversation_id), Conversation(m.platform, m.conversation_id,
                                                                      m.conversation_title, ConversationType.PRIVATE))
    return list(seen.values())


def hired(entry_date: str) -> date:
    return date.fromisoformat(entry_date)
