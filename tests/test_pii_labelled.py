"""Precision and recall per type on the labelled set (tests/fixtures/pii/labelled.jsonl).

The set is generated with a fixed seed by ``tests/fixtures/pii/labelled.py`` (valid numbers with
real check digits in chat sentences, plus look-alike decoys); run that script to print the table
the README shows. ``pytest -s`` prints it too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chataudit.privacy.recognizers import TYPES, find

HERE = Path(__file__).parent / "fixtures" / "pii"
sys.path.insert(0, str(HERE))
import labelled  # noqa: E402


@pytest.fixture(scope="module")
def table() -> dict:
    examples = [json.loads(line) for line in open(HERE / "labelled.jsonl", encoding="utf-8")]
    result = labelled.evaluate(examples, find)
    print("\n" + labelled.markdown(result))
    return result


def test_the_labelled_set_is_what_the_generator_makes() -> None:
    examples = [json.loads(line) for line in open(HERE / "labelled.jsonl", encoding="utf-8")]
    assert examples == labelled.generate()
    assert sum(1 for e in examples if not e["entities"]) >= 1000  # decoy-only messages
    for example in examples:
        for entity in example["entities"]:
            assert 0 <= entity["start"] < entity["end"] <= len(example["text"])


CHECKSUM_TYPES = [name for name, t in TYPES.items() if t.validation == "checksum"]


@pytest.mark.parametrize("kind", CHECKSUM_TYPES)
def test_checksum_validated_types_reach_095(table: dict, kind: str) -> None:
    row = table[kind]
    assert row["tp"] + row["fn"] >= 200
    assert row["precision"] >= 0.95, row["errors"][:5]
    assert row["recall"] >= 0.95, row["errors"][:5]


@pytest.mark.parametrize("kind", [n for n, t in TYPES.items() if t.validation in ("structure", "context", "lexicon")])
def test_pattern_and_context_types_reach_095(table: dict, kind: str) -> None:
    row = table[kind]
    assert row["precision"] >= 0.95, row["errors"][:5]
    assert row["recall"] >= 0.95, row["errors"][:5]


def test_names_and_addresses_are_measured(table: dict) -> None:
    # jieba-based: names said without any cue word are the known gap (see README)
    assert table["person"]["precision"] >= 0.9
    assert table["person"]["recall"] >= 0.6
    assert table["address"]["precision"] >= 0.9
    assert table["address"]["recall"] >= 0.9


def test_no_decoy_is_flagged_as_a_checksum_type(table: dict) -> None:
    examples = [json.loads(line) for line in open(HERE / "labelled.jsonl", encoding="utf-8")]
    for example in examples:
        if example["entities"]:
            continue
        flagged = [f for f in find(example["text"]) if f.type in CHECKSUM_TYPES]
        assert flagged == [], example["text"]
