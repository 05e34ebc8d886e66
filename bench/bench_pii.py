"""`pii scan` benchmark: messages/s over an archive of generated chats with planted personal data,
against a floor measured in the same run, and the cost of a second (incremental) scan.

The floor is one pass of the single precompiled regex alternation the recognizers use
(``recognizers.MASTER``: every candidate shape, context words and name/address cues) over the same
texts, already in memory, with no validation — the least any regex-based scanner of these patterns
can cost. The scan is the real thing: read the texts from SQLite, validate every candidate
(checksums, dates, regions, context), run jieba where a cue asks for names or addresses, and store
the findings.

    python bench/bench_pii.py [MESSAGES]    (default 1,000,000)
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "fixtures" / "pii"))

import orjson  # noqa: E402

from generate import generate  # noqa: E402

PLANTED_SHARE = 0.03  # messages given one value from the labelled set's sentences
DECOY_SHARE = 0.02  # messages given a look-alike (order, tracking number, timestamp, wrong check digit …)


def plant(source: Path, target: Path, seed: int = 11) -> dict[str, int]:
    """Copy the generated chats, putting labelled personal data and decoys into some messages."""
    import labelled

    rng = random.Random(seed)
    planted: dict[str, int] = {}
    kinds = list(labelled.TEMPLATES)
    with open(source, "rb") as src, open(target, "wb") as out:
        for line in src:
            record = orjson.loads(line)
            roll = rng.random()
            if roll < PLANTED_SHARE:
                kind = rng.choice(kinds)
                make, templates = labelled.TEMPLATES[kind]
                template = rng.choice(templates)
                if kind == "travel_permit":
                    value, word = labelled.permit(rng)
                    template = template.replace("{k}", word)
                else:
                    value = make(rng)
                sentence = template.replace("{order}", labelled._order(rng)).replace("{v}", value)
                record["text"] = record["text"] + "，" + sentence
                record["planted"] = [kind, value]
                planted[kind] = planted.get(kind, 0) + 1
            elif roll < PLANTED_SHARE + DECOY_SHARE:
                record["text"] = record["text"] + "，" + labelled._decoy(rng)
            out.write(orjson.dumps(record) + b"\n")
    return planted


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    OUT.mkdir(exist_ok=True)
    base = OUT / f"chats_{count}.jsonl"
    data = OUT / f"pii_{count}.jsonl"
    db = OUT / f"pii_{count}.db"
    from chataudit.importer import import_paths
    from chataudit.privacy.recognizers import find, floor_pass
    from chataudit.privacy.scan import update
    from chataudit.store import Archive

    if not db.exists():
        if not base.exists():
            generate(base, count)
        planted = plant(base, data)
        (OUT / f"pii_{count}.planted.json").write_text(json.dumps(planted))
        with Archive(db) as archive:
            summary = import_paths(archive, [data], tz="Asia/Shanghai")
            assert not summary.errors, summary.errors
    with Archive(db) as archive:
        archive.db.execute("DELETE FROM pii_findings")
        archive.db.execute("DELETE FROM pii_scan_state")
        archive.db.execute("VACUUM")
        started = time.perf_counter()
        texts = [r[0] for r in archive.db.execute("SELECT text FROM messages ORDER BY id")]
        read_s = time.perf_counter() - started
        gc.collect()
        started = time.perf_counter()
        candidates = floor_pass(texts)
        floor_s = time.perf_counter() - started
        started = time.perf_counter()
        in_memory = sum(len(find(t)) for t in texts)
        validate_s = time.perf_counter() - started
        del texts
        gc.collect()

        started = time.perf_counter()
        scanned = update(archive)
        scan_s = time.perf_counter() - started
        stored = archive.db.execute("SELECT count(*) FROM pii_findings").fetchone()[0]

        started = time.perf_counter()
        nothing_new = update(archive)
        second_empty_s = time.perf_counter() - started

        # 10,000 new messages arrive: only they are read
        extra = OUT / "pii_extra.jsonl"
        generate(extra, 10_000, seed=99)
        rows = [orjson.loads(line) for line in open(extra, "rb")]
        with open(extra, "wb") as handle:
            for row in rows:
                row["conversation_id"] = "new-" + row["conversation_id"]
                row["text"] += "，新手机13912345678"
                handle.write(orjson.dumps(row) + b"\n")
        import_paths(archive, [extra], tz="Asia/Shanghai")
        started = time.perf_counter()
        second_new = update(archive)
        second_new_s = time.perf_counter() - started
        # leave the archive as it was, for the next run
        archive.db.execute("DELETE FROM messages WHERE conversation IN"
                           " (SELECT id FROM conversations WHERE native_id LIKE 'new-%')")
        archive.db.execute("DELETE FROM conversations WHERE native_id LIKE 'new-%'")
        archive.db.execute("DELETE FROM sources WHERE path LIKE '%pii_extra.jsonl'")

        planted_recall = check_planted(archive, data)

    result = {
        "messages": scanned,
        "read_texts_s": round(read_s, 2),
        "floor_s": round(floor_s, 2),
        "floor_msgs_per_s": round(scanned / floor_s),
        "regex_candidates": candidates,
        "find_in_memory_s": round(validate_s, 2),
        "findings_in_memory": in_memory,
        "scan_s": round(scan_s, 2),
        "scan_msgs_per_s": round(scanned / scan_s),
        "ratio_scan_to_floor": round(scan_s / floor_s, 2),
        "ratio_find_to_floor": round(validate_s / floor_s, 2),
        "findings_stored": stored,
        "second_scan_nothing_new_s": round(second_empty_s, 4),
        "second_scan_nothing_new_read": nothing_new,
        "second_scan_10k_new_s": round(second_new_s, 3),
        "second_scan_10k_new_read": second_new,
        "planted": planted_recall,
    }
    (OUT / "pii.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def check_planted(archive, data: Path) -> dict[str, dict[str, float]]:
    """Per type: share of planted values found with their type (recall) in the stored findings."""
    stored: dict[str, set[tuple[str, str]]] = {}
    for position, kind, value in archive.db.execute(
            "SELECT m.position, f.type, f.value FROM pii_findings f JOIN messages m ON m.id = f.message"):
        stored.setdefault(position, set()).add((kind, value))
    totals: dict[str, list[int]] = {}
    with open(data, "rb") as handle:
        for line_number, line in enumerate(handle, 1):
            if b'"planted"' not in line:
                continue
            kind, value = orjson.loads(line)["planted"]
            row = totals.setdefault(kind, [0, 0])
            row[0] += 1
            row[1] += (kind, value) in stored.get(line_number, set())
    return {k: {"planted": v[0], "recall": round(v[1] / v[0], 3)} for k, v in sorted(totals.items())}


if __name__ == "__main__":
    main()
