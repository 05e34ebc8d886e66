"""Compare benchmark: two copies of a 100k-message conversation, ~1 % and ~30 % different.

For each case it prints the seconds chataudit's alignment and report take (normalizing, clock and
sender detection, anchors, gaps, the JSON report), the seconds a plain ``difflib.SequenceMatcher``
takes over the same texts (an exact-match floor: it finds runs of equal texts, no alteration,
re-timing, sender mapping or clock offset), their ratio, and the peak memory the alignment
allocates (tracemalloc, in a separate run so it does not slow the timed one).

    python bench/bench_compare.py [--messages N] [--seed S] [--no-difflib]
"""

from __future__ import annotations

import argparse
import difflib
import gc
import random
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from chataudit.compare.align import Side, align  # noqa: E402
from chataudit.compare.copies import Copy  # noqa: E402
from chataudit.compare.report import pair_report  # noqa: E402

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SHORT = ["好的", "收到，谢谢", "嗯嗯", "谢谢", "OK", "👍", "在吗？", "好的，谢谢", "明白", "稍等"]
SUBJECTS = ["这件外套", "您的订单", "退款", "快递", "发票", "尺码", "颜色", "优惠券", "赠品", "售后"]
VERBS = ["已经", "还没有", "明天会", "今天下午", "预计三天内", "可能需要", "系统显示", "我们会尽快"]
OBJECTS = ["发出", "到账", "处理完毕", "重新寄送", "补开", "更换", "核实", "登记", "退回仓库"]


def conversation(count: int, rng: random.Random) -> list[tuple[int, str, str, str]]:
    """(ms, sender, kind, text): a customer-service chat with many repeated short replies."""
    rows = []
    now = START_MS
    for n in range(count):
        now += int(rng.expovariate(1 / 45) * 1000) // 1000 * 1000 + 1000
        sender = "customer" if rng.random() < 0.5 else "agent"
        if rng.random() < 0.18:
            text = rng.choice(SHORT)
        else:
            text = (f"{rng.choice(SUBJECTS)}{rng.choice(VERBS)}{rng.choice(OBJECTS)}，"
                    f"单号{rng.randrange(10**7, 10**8)}，{rng.choice(SUBJECTS)}请留意。")
        kind = "image" if rng.random() < 0.02 else "text"
        rows.append((now, sender, kind, "[图片]" if kind == "image" else text))
    return rows


def other_copy(rows, share: float, rng: random.Random, offset_ms: int):
    """The other party's copy: renamed senders, a clock offset, and ``share`` of messages edited.

    Returns the rows (ms, sender, kind, text, origin) — origin is the index in A, or None for an
    inserted message — and the planted edits as {index in A: edit} plus the inserted texts.
    """
    names = {"customer": "王女士", "agent": "客服小李"}
    out = []
    edits: dict[int, str] = {}
    inserted: set[str] = set()
    for index, (ms, sender, kind, text) in enumerate(rows):
        if rng.random() >= share:
            out.append((ms, names[sender], kind, text, index))
            continue
        choice = rng.random()
        distinctive = kind == "text" and len(text) > 6
        if choice < 0.3:
            edits[index] = "deleted"
        elif choice < 0.6 and distinctive:
            cut = rng.randrange(1, len(text) - 1)
            out.append((ms, names[sender], kind, text[:cut] + "不" + text[cut + 1:], index))
            edits[index] = "altered"
        elif choice < 0.7 and distinctive:
            out.append((ms + rng.choice([-1, 1]) * rng.randrange(300, 7200) * 1000, names[sender], kind, text, index))
            edits[index] = "retimed"
        elif choice < 0.75 and kind == "text":
            out.append((ms + 20_000, names[sender], "recall", f"{names[sender]}撤回了一条消息", index))
            edits[index] = "recalled"
        else:
            out.append((ms, names[sender], kind, text, index))
            text = f"插入的消息{rng.randrange(10**9)}"
            out.append((ms + 500, names[sender], "text", text, None))
            inserted.add(text)
    out.sort(key=lambda r: r[0])
    return [(ms + offset_ms, s, k, t, o) for ms, s, k, t, o in out], edits, inserted


def recovered(alignment, b_rows, edits: dict[int, str], inserted: set[str]) -> tuple[int, int]:
    """(planted edits the report states exactly, planted edits)."""
    status = {i: (s, b_rows[j][4]) for i, j, s in alignment.pairs}
    expected = {"altered": "altered", "retimed": "retimed", "recalled": "kind_changed"}
    hits = sum(1 for i in alignment.only_a if edits.get(i) == "deleted")
    for index, edit in edits.items():
        if edit in expected and status.get(index) == (expected[edit], index):
            hits += 1
    hits += sum(1 for j in alignment.only_b if b_rows[j][3] in inserted)
    return hits, len(edits) + len(inserted)


def side(rows) -> Side:
    return Side([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])


def run_compare(rows_a, rows_b):
    a, b = side(rows_a), side(rows_b)
    alignment = align(a, b, 60)
    report = pair_report(Copy("A", {}, [], a), Copy("B", {}, [], b), alignment)
    return alignment, report


def case(name: str, rows_a, rows_b, edits, inserted, with_difflib: bool) -> None:
    gc.collect()
    started = time.perf_counter()
    alignment, report = run_compare(rows_a, rows_b)
    seconds = time.perf_counter() - started
    counts = report["summary"]
    hits, planted = recovered(alignment, rows_b, edits, inserted)
    false = sum(v for k, v in counts.items() if k != "matched") - hits
    del alignment, report
    gc.collect()
    tracemalloc.start()
    run_compare(rows_a, rows_b)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    line = f"{name:<22} {len(rows_a):>7,} vs {len(rows_b):>7,}  chataudit {seconds:6.2f} s  peak {peak / 2**20:6.1f} MiB"
    if with_difflib:
        texts_a = [r[3] for r in rows_a]
        texts_b = [r[3] for r in rows_b]
        gc.collect()
        started = time.perf_counter()
        matcher = difflib.SequenceMatcher(None, texts_a, texts_b)
        blocks = matcher.get_matching_blocks()
        floor = time.perf_counter() - started
        equal = sum(block.size for block in blocks)
        line += f"  difflib {floor:6.2f} s (ratio chataudit/difflib {seconds / floor:4.2f}, {equal:,} equal)"
    print(line)
    kinds = {k: sum(1 for v in edits.values() if v == k) for k in ("deleted", "altered", "retimed", "recalled")}
    print(f"{'':<22} planted {planted:,} edits ({kinds}, inserted {len(inserted)}); "
          f"stated exactly {hits:,} ({hits / max(planted, 1):.2%}), other reported differences {false:,}")
    print(f"{'':<22} report  {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-difflib", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows_a = conversation(args.messages, rng)
    print(f"compare: two copies of a {args.messages:,}-message conversation (senders renamed in B; "
          f"B read 8 h off in the 1 % case), tolerance 60 s, Python {sys.version.split()[0]}")
    for name, share, offset in (("~1 % different", 0.01, 8 * 3_600_000), ("~30 % different", 0.30, 0)):
        rows_b, edits, inserted = other_copy(rows_a, share, random.Random(args.seed + 1), offset)
        case(name, rows_a, rows_b, edits, inserted, not args.no_difflib)


if __name__ == "__main__":
    main()
