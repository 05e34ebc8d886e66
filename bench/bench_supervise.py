"""`supervise run` benchmark: messages/s and peak RSS over an archive of generated chats with
planted violations (some dodged: 违 约, 違約, 加V, ts …), against a floor measured in the same run.

The floor is the least any lexicon scan of the same archive can cost in Python: read the texts
from SQLite (ordered by id, as the run streams them) and pass each once through one pyahocorasick
automaton holding every term of the default policy — no folding, no scope, no alerts. The run is
the real thing in this process: roles of the senders, the external chats, the batch prefilter
(each batch of 20,000 texts folded and scanned as one string), the matcher on the candidates
(lexicons, pinyin, regexes, personal data for agents in external chats), writing the alerts, the
run row and its audit entry. Peak RSS (ru_maxrss) is read after the run, before the floor runs; it
includes SQLite's page cache (the archive opens with cache_size 128 MiB).

    python bench/bench_supervise.py [MESSAGES [WORKERS]]    (default 1,000,000; workers: the run's default)

The run's CPU time (this process and its worker processes) is printed beside its wall-clock time:
on a shared machine the wall clock says more about the neighbours than about the run.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import orjson  # noqa: E402

from generate import generate  # noqa: E402

PLANTED_SHARE = 0.02
PLANTS = ["你们这是违 约", "我要TS你们", "加我V详聊", "違約責任", "保证收益，稳赚不赔", "给你回扣", "私下转账吧", "傻逼客服",
          "加我wx", "一定退款给您", "ＶＸ：abc123", "好处费少不了"]


def plant(source: Path, target: Path, seed: int = 13) -> int:
    rng = random.Random(seed)
    planted = 0
    with open(source, "rb") as src, open(target, "wb") as out:
        for line in src:
            record = orjson.loads(line)
            if rng.random() < PLANTED_SHARE:
                record["text"] = record["text"] + "，" + rng.choice(PLANTS)
                planted += 1
            out.write(orjson.dumps(record) + b"\n")
    return planted


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children (the run's workers):
    what the run costs, whatever the neighbours' load does to its wall-clock time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    OUT.mkdir(exist_ok=True)
    base = OUT / f"chats_{count}.jsonl"
    data = OUT / f"supervise_{count}.jsonl"
    db = OUT / f"supervise_{count}.db"
    roster = OUT / "supervise_roster.csv"
    from chataudit.governance import roster as roster_api
    from chataudit.importer import import_paths
    from chataudit.store import Archive
    from chataudit.supervision import engine, policies

    if not db.exists():
        if not base.exists():
            generate(base, count)
        planted = plant(base, data)
        (OUT / f"supervise_{count}.planted").write_text(str(planted))
        roster.write_text("id,name,role,hired_on\n" + "".join(f"agent{i},客服{i},service,2024-01-01\n" for i in range(12)),
                          encoding="utf-8")
        with Archive(db) as archive:
            summary = import_paths(archive, [data], tz="Asia/Shanghai")
            assert not summary.errors, summary.errors
            roster_api.set_roster(archive, roster, operator="bench", params={})
    planted = int((OUT / f"supervise_{count}.planted").read_text())
    with Archive(db) as archive:  # start clean: the bench archive's earlier runs (and their queue) are dropped
        for table in ("supervision_item_alerts", "supervision_items", "supervision_alerts"):
            archive.db.execute(f"DELETE FROM {table}")
        archive.db.execute("DELETE FROM supervision_runs")
        rss_before = peak_rss_mb()
        workers = int(sys.argv[2]) if len(sys.argv) > 2 else None
        cpu_before = _cpu_s()
        started = time.perf_counter()
        result = engine.run(archive, operator="bench", params={}, workers=workers)
        run_s = time.perf_counter() - started
        run_cpu_s = _cpu_s() - cpu_before
        rss_run = peak_rss_mb()
        by_policy = dict(archive.db.execute("SELECT policy, count(*) FROM supervision_alerts GROUP BY policy"))

        # the floor: the same texts read from SQLite, one Aho-Corasick pass with every default term
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for policy in policies.default_definition()["policies"]:
            for rule in policy["rules"]:
                for term in rule.get("terms", ()):
                    automaton.add_word(term["term"], len(term["term"]))
        automaton.make_automaton()
        started = time.perf_counter()
        found = 0
        cursor = archive.db.cursor()
        cursor.row_factory = None  # tuples, as the run reads them
        cursor.execute("SELECT text FROM messages ORDER BY id")
        while rows := cursor.fetchmany(20_000):
            for (text,) in rows:
                for _ in automaton.iter(text):
                    found += 1
        floor_s = time.perf_counter() - started
    figures = {
        "messages": result["messages"],
        "planted_messages": planted,
        "alerts": result["alerts"],
        "alerts_by_policy": by_policy,
        "run_s": round(run_s, 2),
        "run_msgs_per_s": round(result["messages"] / run_s),
        "workers": workers if workers is not None else engine.default_workers(result["messages"]),
        "run_cpu_s": round(run_cpu_s, 2),
        "run_msgs_per_cpu_s": round(result["messages"] / run_cpu_s),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_mb_before_run": rss_before,
        "peak_rss_mb_after_run": rss_run,
        "floor_s": round(floor_s, 2),
        "floor_msgs_per_s": round(result["messages"] / floor_s),
        "floor_hits": found,
        "ratio_run_to_floor": round(run_s / floor_s, 2),
    }
    (OUT / "supervise.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
