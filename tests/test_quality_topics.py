"""Discovered topics are the same in every process: the key word a longer one folds into is chosen
by a total order (shortest, most frequent, code-point order), never by a set's iteration order,
which changes with Python's hash seed (the same archive's report once named its topics differently
from one run to the next, and a Spark driver's could differ from the single machine's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
