"""The Spark jobs compute what the single-machine commands compute, on the same data: `spark quality`
key by key against `quality --json`, `spark pii` against `pii scan`, `spark supervise` against
`supervise run`. One shared local[2] session (the `spark` fixture); the shipped samples as data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.importer import import_paths
from chataudit.store import Archive

from lake_support import write_lake

SAMPLES = Path(__file__).parent.parent / "samples"
# the run's own bookkeeping, not figures: how long it took and how many texts the NLP cache held
VOLATILE = {"seconds", "timing_seconds", "nlp"}


@pytest.fixture(scope="module", autouse=True)
def small_data_settings(spark):
    """Samples-sized data: one shuffle partition and no adaptive re-planning halve the CPU of a run
    (bench/bench_spark_jobs.py measures the default settings, several partitions)."""
    settings = {"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "1"}
    before = {key: spark.conf.get(key) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    yield
    for key, value in before.items():
        spark.conf.set(key, value)


@pytest.fixture(scope="module")
def archive_and_lake(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("sparkjobs")
    db = base / "a.db"
    with Archive(db) as archive:
        assert not import_paths(archive, [SAMPLES], tz="Asia/Shanghai").errors
    return db, write_lake(db, base / "lake")


def _run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_same(single: Any, spark: Any, path: str = "") -> int:
    """Equal key by key (lists item by item); returns how many leaves were compared."""
    if isinstance(single, dict):
        assert isinstance(spark, dict), path
        assert set(single) - VOLATILE == set(spark) - VOLATILE, path
        return sum(assert_same(single[k], spark[k], f"{path}.{k}") for k in single if k not in VOLATILE)
    if isinstance(single, list):
        assert isinstance(spark, list) and len(single) == len(spark), path
        return sum(assert_same(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(single, spark)))
    assert single == spark, f"{path}: single machine {single!r}, Spark {spark!r}"
    return 1


def test_spark_quality_with_the_demo_roster_and_scripts_equals_quality_key_by_key(spark, archive_and_lake) -> None:
    db, lake = archive_and_lake
    demo = ["--roster", str(SAMPLES / "roster.csv"), "--scripts", str(SAMPLES / "scripts.yaml"), "--json"]
    single = _run("--db", str(db), "quality", *demo)
    on_spark = _run("--db", str(db), "spark", "quality", "--lake", str(lake), *demo)
    assert single["sessions"] > 0 and single["responses"] > 0 and single["session_rows"]
    assert assert_same(single, on_spark) > 500
    assert on_spark["nlp"]["messages"] > 0  # the texts were read (on the executors)
    # results landed in the lake: the executors' sessions and waits, and the report
    sessions = spark.read.parquet(str(lake / "results" / "quality" / "sessions"))
    assert sessions.count() == single["sessions"]
    stored = spark.read.parquet(str(lake / "results" / "quality" / "report")).collect()
    assert json.loads(stored[0]["report"])["sessions"] == single["sessions"]


def test_spark_quality_without_session_lists_equals_quality_and_keeps_the_rows_in_the_lake(spark, archive_and_lake) -> None:
    db, lake = archive_and_lake
    demo = ["--roster", str(SAMPLES / "roster.csv"), "--scripts", str(SAMPLES / "scripts.yaml"), "--no-session-lists",
            "--json"]
    single = _run("--db", str(db), "quality", *demo)
    lean = _run("--db", str(db), "spark", "quality", "--lake", str(lake), *demo)
    assert lean["session_rows"] is None and lean["sessions"] == single["sessions"] > 0
    assert assert_same(single, lean) > 500
    written = spark.read.parquet(str(lake / "results" / "quality" / "session_rows"))
    assert written.count() == single["sessions"]  # the executors' rows are still there
    refused = CliRunner().invoke(cli, ["--db", str(db), "spark", "quality", "--lake", str(lake), "--no-session-lists",
                                       "--html", str(lake.parent / "r.html")])
    assert refused.exit_code == 2 and "--html" in refused.output


def test_spark_quality_with_filters_business_hours_an_agent_and_redact_equals_quality(spark, archive_and_lake) -> None:
    from chataudit.quality import build
    from chataudit.spark import quality_job

    db, lake = archive_and_lake
    options = dict(roster=str(SAMPLES / "roster.csv"), scripts=str(SAMPLES / "scripts.yaml"), tz="+08:00",
                   hours="09:00-18:00", session_gap="30m", sla=("service=20",), since="2020-01-01",
                   agent_refs=("客服小李",), no_nlp=True,  # the texts: the test above
                   redact_policy="default")
    with Archive(db) as archive:
        plain = build.build(archive, **{**options, "redact_policy": None}).result
        single = build.build(archive, **options).result
        on_spark = build.build(archive, **options, analyze=lambda opts, progress: quality_job.analyze(
            spark, lake, opts, db=archive.db, on_progress=progress)).result
    assert single["sessions"] > 0 and single["period"]["agents"] == ["客服小李"]
    assert assert_same(single, on_spark) > 100
    named = {row["customer"] for row in plain["session_rows"]} - {None}
    shown = {row["customer"] for row in on_spark["session_rows"]} - {None}
    assert named and shown and not named & shown  # --redact hid the customers, as `quality --redact` does


def test_spark_pii_finds_what_pii_scan_finds(spark, archive_and_lake) -> None:
    db, lake = archive_and_lake
    single = _run("--db", str(db), "pii", "scan", "--json")
    on_spark = _run("spark", "pii", "--lake", str(lake), "--json")
    key = lambda f: (f["message_id"], f["type"], f["value"], f["start"], f["end"], f["sensitive"])  # noqa: E731
    assert single["findings"] and on_spark["total"] == len(single["findings"])
    stored = {key(r.asDict()) for r in spark.read.parquet(on_spark["results"]).collect()}
    assert stored == {key(f) for f in single["findings"]}
    assert on_spark["counts"] == single["counts"] and on_spark["findings"] == single["findings"]


def test_spark_supervise_raises_the_alerts_supervise_run_raises(spark, archive_and_lake, tmp_path) -> None:
    import shutil
    import sqlite3

    db, lake = archive_and_lake
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    shutil.copy(f"{db}.key", f"{copy}.key")  # the archive's signing key lives beside it
    _run("--db", str(copy), "supervise", "run", "--json")
    columns = "conversation, message, kind, policy, category, rule, matched, start, \"end\""
    with sqlite3.connect(copy) as con:
        single = con.execute(f"SELECT {columns} FROM supervision_alerts WHERE kind = 'policy'").fetchall()
    on_spark = _run("--db", str(copy), "spark", "supervise", "--lake", str(lake), "--json")
    assert on_spark["version"] == 1 and on_spark["alerts"] == len(single) > 0
    stored = [tuple(r) for r in spark.read.parquet(on_spark["results"]).collect()]
    assert sorted(stored, key=repr) == sorted(single, key=repr)


def test_a_missing_lake_is_one_clear_line(spark, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["spark", "pii", "--lake", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: ") and "not a lake table" in result.output
    assert len(result.output.strip().splitlines()) == 1


# per session: (customer, agent, customer, agent, customer) texts; every answer comes 60 s late
TURNS = [("您好，我想退货", "您好，很高兴为您服务，已为您申请退款", "快递什么时候到？", "稍等，我帮您查询一下", "好的，谢谢"),
         ("物流信息一直没更新", "非常抱歉给您带来不便", "如果明天还不到我就要投诉", "我们可以赠送一些小礼品", "售后电话是多少？"),
         ("请问发票开了吗？", "发票已经开好了", "颜色和图片不一样", "请提供一下订单号", "收到，谢谢")]


def test_spark_quality_over_many_sessions_per_conversation_with_ties_equals_quality(spark, tmp_path,
                                                                                   monkeypatch) -> None:
    """30 conversations of 8 sessions each, all alike in their timing (so the slowest lists, the
    lowest scores and the counters tie), tallied by several Spark tasks and merged: still key by key
    the single machine's report. At most 30 sessions a task: more tasks than the shuffle's 4."""
    from datetime import datetime, timedelta, timezone

    from chataudit.quality import build
    from chataudit.spark import quality_job

    data, roster = tmp_path / "chats.jsonl", tmp_path / "roster.csv"
    roster.write_text("id,name,role\nagent0,客服0,service\nagent1,客服1,service\nagent2,客服2,service\n",
                      encoding="utf-8")
    base = datetime(2025, 3, 3, 9, tzinfo=timezone(timedelta(hours=8)))
    with open(data, "w", encoding="utf-8") as out:
        for conv in range(30):
            for session in range(8):
                start = base + timedelta(days=session, minutes=conv)
                for turn, text in enumerate(TURNS[(conv + session) % 3]):
                    agent = turn % 2 == 1
                    out.write(json.dumps({
                        "sent_at": (start + timedelta(seconds=60 * turn)).isoformat(), "platform": "wecom",
                        "conversation_id": f"c{conv}", "conversation_title": f"客户{conv}",
                        "sender_id": f"agent{conv % 3}" if agent else f"cust{conv}",
                        "sender_name": f"客服{conv % 3}" if agent else f"客户{conv}", "text": text},
                        ensure_ascii=False) + "\n")
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        assert not import_paths(archive, [data], format_name="generic", label="ties", tz="Asia/Shanghai").errors
    lake = write_lake(db, tmp_path / "lake")
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    monkeypatch.setattr(quality_job, "SESSIONS_PER_TASK", 30)
    tallies: list[int] = []
    judged_partitions = spark.sparkContext.accumulator(0)
    judge = quality_job._judge

    def counted(opts: Any, agents: Any) -> Any:
        run = judge(opts, agents)

        def partition(rows: Any) -> Any:
            judged_partitions.add(1)
            yield from run(rows)
        return partition

    monkeypatch.setattr(quality_job, "_judge", counted)
    merged = quality_job._merged_tally
    monkeypatch.setattr(quality_job, "_merged_tally", lambda judged, *rest: (
        tallies.append(judged.where("conv IS NULL").count()), merged(judged, *rest))[1])
    try:
        with Archive(db) as archive:
            options = dict(roster=str(roster), scripts=str(SAMPLES / "scripts.yaml"), sla=("service=30",))
            single = build.build(archive, **options).result
            on_spark = build.build(archive, **options, analyze=lambda opts, progress: quality_job.analyze(
                spark, lake, opts, db=archive.db, on_progress=progress)).result
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "1")
    assert single["sessions"] == 240 and single["responses"] == 480
    slow = [a["slow_sessions"] for a in single["by_agent"]]
    assert [len(s) for s in slow] == [20, 20, 20]  # 80 sessions each beyond the SLA by the same 30 s: ties
    assert slow[0][:3] == ["1-1", "1-2", "1-3"]  # …broken by conversation and session
    assert len(single["scores"]["lowest"]) == 20 and single["scripts"][0]["missed_sessions"]
    assert tallies[0] >= 8  # 240 sessions at most 30 a task (not the shuffle's 4), merged on the driver
    # each partition judged once: the trends (which name `waits` twice) re-judged them all when they
    # read cached plans; they now read the judged sessions from Parquet
    assert judged_partitions.value == tallies[0]
    assert assert_same(single, on_spark) > 2000
    assert [p.name for p in (lake / "results" / "quality").iterdir() if p.name.startswith("_work")] == []
