"""The pure matcher's rules one by one: scopes, personal data to external contacts, attachments,
business hours, near rules, and the plain-dict entry point a Spark job would call."""

from __future__ import annotations

from chataudit.supervision import engine, policies
from chataudit.supervision.matcher import Matcher

POLICY = """\
policies:
  - name: pii
    category: pii
    scope: {senders: agent, chats: external}
    rules:
      - pii: [id_card, mobile]
  - name: files
    category: attachment
    scope: {senders: agent, platforms: [wecom]}
    rules:
      - attachments: [exe, application/zip]
  - name: night
    category: after_hours
    scope: {senders: agent, chats: external}
    rules:
      - after_hours: {start: "09:00", end: "18:00", days: [mon, tue, wed, thu, fri], tz: Asia/Shanghai}
  - name: promise
    category: promise
    rules:
      - near: {a: [保证], b: [收益], within: 3, ordered: true, not_after: [不能]}
"""
MATCHER = Matcher(policies.parse(POLICY, "p.yaml"))
MONDAY_10H_SHANGHAI = 1767578400000  # 2026-01-05 10:00 +08:00


def rules(text: str = "", **fields) -> list[tuple[str, str, str | None]]:
    return [(h.policy, h.rule, h.matched) for h in MATCHER.evaluate(text, **fields)]


def test_personal_data_counts_only_from_an_agent_to_an_external_contact() -> None:
    text = "客户身份证11010519491231002X，电话13812345678"
    assert rules(text, sender="agent", external=True) == [("pii", "pii:id_card", "11010519491231002X"),
                                                          ("pii", "pii:mobile", "13812345678")]
    assert rules(text, sender="agent", external=False) == []
    assert rules(text, sender="customer", external=True) == []
    assert rules(text, sender="unknown", external=True) != []  # nobody can tell: watched
    assert rules("订单 11010519491231002", sender="agent", external=True) == []  # no valid check digit


def test_attachments_by_extension_or_mime_on_the_platforms_named() -> None:
    files = [{"name": "setup.EXE"}, {"name": "报价.pdf"}, {"name": "data", "mime": "application/zip"}]
    assert rules(sender="agent", platform="wecom", attachments=files) == [
        ("files", "attachment:exe", "setup.EXE"), ("files", "attachment:application/zip", "data")]
    assert rules(sender="agent", platform="wechat", attachments=files) == []


def test_business_hours_in_the_policy_zone() -> None:
    assert rules(sender="agent", external=True, sent_at_ms=MONDAY_10H_SHANGHAI) == []
    late = rules(sender="agent", external=True, sent_at_ms=MONDAY_10H_SHANGHAI + 13 * 3600 * 1000)
    assert late == [("night", "after_hours", "2026-01-05 23:00 Mon")]
    saturday = MONDAY_10H_SHANGHAI - 2 * 86400 * 1000
    assert rules(sender="agent", external=True, sent_at_ms=saturday)[0][1] == "after_hours"


def test_near_rules_keep_order_distance_and_negation() -> None:
    assert rules("我保证您的收益", sender="agent") == [("promise", "near:保证~收益", "保证您的收益")]
    assert rules("我保证您一年的收益", sender="agent") == []  # 5 characters apart
    assert rules("收益保证", sender="agent") == []  # ordered: a before b
    assert rules("我们不能保证收益", sender="agent") == []
    assert rules("我保证\n收益", sender="agent") == []  # not across lines


def test_plain_dicts_in_plain_hits_out() -> None:
    hits = engine.evaluate_messages(policies.default_definition(), [
        {"text": "加我wx", "sender": "agent"}, {"text": "您好"}, {"text": "違 約了", "sender": "customer"}])
    assert [[h.rule for h in found] for found in hits] == [["加我wx"], [], ["违约"]]
    assert hits[2][0].matched == "違 約" and (hits[2][0].start, hits[2][0].end) == (0, 3)
