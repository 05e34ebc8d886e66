"""A generic JSON Lines chat for the tests of reading a file by spans (formats, spark import)."""

from __future__ import annotations


def chat_jsonl(count: int, start: int = 0) -> str:
    """Lines ``start``…``start + count`` of a chat: blocks of ten lines per conversation (three of
    them, whose titles change every 50 lines), five lines per instant, and in each block three
    identical 好的 at one instant (the archive numbers them 0, 1, 2), multi-line text, emoji and
    blank lines (skipped, still counted)."""
    rows = []
    for n in range(start, start + count):
        same = n % 10 in (2, 3, 4)
        text = "好的" if same else f"第{n}条 message {n} 😀\\n多行"
        rows.append(f'{{"conversation_id": "c{(n // 10) % 3}", "conversation_title": "T{(n // 10) % 3}-{n // 50}",'
                    f' "sender_name": "{"u1" if same else f"u{n % 4}"}", "sent_at": {1_700_000_000 + (n // 5) * 60},'
                    f' "text": "{text}"}}')
        if n % 17 == 0:
            rows.append("")
    return "\n".join(rows) + "\n"
