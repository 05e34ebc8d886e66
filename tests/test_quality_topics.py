"""Discovered topics are the same in every process: the key word a longer one folds into is chosen
by a total order (shortest, most frequent, code-point order), never by a set's iteration order,
which changes with Python's hash seed (the same archive's report once named its topics differently
from one run to the next, and a Spark driver's could differ from the single machine's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chataudit.quality.topics import discover

# 直播退款 contains two frequent words of the same length, as often as each other
UNFILED = [("直播退款", "s1", ["直播", "退款"]), ("直播 退款", "s2", ["直播", "退款"]),
           ("直播间退款流程", "s3", ["直播退款", "流程"]), ("直播退款怎么弄", "s4", ["直播退款", "流程"])]
SCRIPT = ("import json, sys; from chataudit.quality.topics import discover; "
          "print(json.dumps([(t.name, t.count, t.sessions) for t in discover(json.loads(sys.argv[1]))]))")


def test_a_longer_word_folds_into_the_shortest_most_frequent_then_first_contained_word() -> None:
    topics = discover(UNFILED)
    assert [(t.name, t.count, t.sessions) for t in topics] == [("直播/退款", 2, ["s1", "s2"]),
                                                              ("流程/直播", 2, ["s3", "s4"])]
    more = UNFILED + [("退款", "s5", ["退款"])]  # 退款 now more frequent than 直播: it wins the tie of length
    assert [t.name for t in discover(more)][-1] == "流程/退款"


def test_discovered_topics_do_not_depend_on_the_hash_seed() -> None:
    outputs = set()
    for seed in ("1", "2", "6", "11"):
        run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(UNFILED, ensure_ascii=False)],
                             env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True)
        outputs.add(run.stdout)
    assert len(outputs) == 1


def test_grouping_only_counts_questions_filed_where_they_were_found(monkeypatch) -> None:
    """The fold files each question (its taxonomy topic, or its key words) where it runs — on Spark the
    executors — so grouping on the driver classifies and splits nothing again."""
    from chataudit.quality import topics as topics_module
    from chataudit.quality.topics import TopicFinder

    finder = TopicFinder({"退款": ["退款"]})
    monkeypatch.setattr(TopicFinder, "classify", lambda self, text: pytest.fail("classified again"))
    monkeypatch.setattr(topics_module, "keywords", lambda text: pytest.fail("split again"))
    ranked, session_topic = finder.group([("怎么退款", "1-1", "退款", None), ("直播几点", "1-2", None, ["直播", "几点"]),
                                          ("直播几点开始", "2-1", None, ["直播", "几点", "开始"]),
                                          ("？", "2-2", None, [])], 10)
    assert [(t["topic"], t["count"], t["source"]) for t in ranked] == [("几点/直播", 2, "discovered"),
                                                                        ("退款", 1, "taxonomy")]
    assert session_topic == {"1-1": "退款", "1-2": "几点/直播", "2-1": "几点/直播"}
