"""Threads whose replies name only their parent (issue #11): jwz-style threading over the whole
reference graph, across the files of one import and, through the store's conversation aliases,
across imports.

``fixtures/email/threads/parent_only.mbox`` is written the way the clients write these headers:
Outlook zh-CN (``答复:``, Thread-Topic/Thread-Index, References = the parent only), a phone client
(``回复：`` with a full-width colon, In-Reply-To only), an Outlook forward (``转发:``, no references:
joins by subject), a second customer's thread with the same subject (kept apart), and German/Swedish
``AW:``/``SV: AW:`` replies naming only their parent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_format_email import as_dict, messages, records

from chataudit.formats.email_text import normalize_subject
from chataudit.importer import import_paths
from chataudit.model import Conversation
from chataudit.store import Archive

FIX = Path(__file__).parent / "fixtures" / "email" / "threads"
ENQUIRY = "20260302090500.4f1a@customer.example"


@pytest.mark.parametrize("name", ["parent_only.mbox", "parent_only_eml"])
def test_fixture_matches_expected(name: str) -> None:
    got = [as_dict(r) for r in records(FIX / name)]
    expected = json.loads((FIX / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert got == expected


def test_grandchild_that_names_only_its_parent_joins_the_thread() -> None:
    got = messages(FIX / "parent_only.mbox")
    threads = [m.conversation_id for m in got]
    assert threads[:4] == [ENQUIRY] * 4  # enquiry, Outlook answer, phone reply to the answer, forward
    assert threads[4] == "5e6f7a8b@other.example"  # same subject, another customer: not merged
    assert threads[5:] == ["a1b2c3@kunde.example"] * 3  # AW: then SV: AW:
    assert got[3].extras["thread_rule"] == "subject-reply"


def test_a_folder_of_eml_files_is_one_thread_whatever_the_order() -> None:
    got = messages(FIX / "parent_only_eml")
    assert {m.conversation_id for m in got} == {ENQUIRY}
    conversations = [r for r in records(FIX / "parent_only_eml") if isinstance(r, Conversation)]
    assert len(conversations) == 1 and ENQUIRY in conversations[0].aliases


def test_a_reply_imported_later_joins_its_parents_thread(tmp_path: Path) -> None:
    folder = FIX / "parent_only_eml"
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    shutil.copy(folder / "3-enquiry.eml", first)
    shutil.copy(folder / "2-outlook-answer.eml", first)
    shutil.copy(folder / "1-reply-from-phone.eml", later)
    with Archive(tmp_path / "a.db") as archive:
        import_paths(archive, [first])
        summary = import_paths(archive, [later / "1-reply-from-phone.eml"]).as_dict()
        assert summary["errors"] == [] and summary["new"] == 1
        rows = archive.conversations()
        assert [(r.native_id, r.message_count) for r in rows] == [(ENQUIRY, 3)]
        # the whole thread read again from one folder adds nothing: the same messages, the same hashes
        again = import_paths(archive, [folder]).as_dict()
        assert again["messages"] == 3 and again["new"] == 0


def test_thread_split_by_import_order_is_not_merged_after_the_fact(tmp_path: Path) -> None:
    """The phone reply alone first: it starts a thread under its parent's id; the answer and the
    enquiry then join it (the answer owns that id), so nothing is split."""
    folder = FIX / "parent_only_eml"
    with Archive(tmp_path / "a.db") as archive:
        for name in ("1-reply-from-phone.eml", "2-outlook-answer.eml", "3-enquiry.eml"):
            assert import_paths(archive, [folder / name]).as_dict()["errors"] == []
        rows = archive.conversations()
        assert sum(r.message_count for r in rows) == 3
        assert len(rows) == 1


def test_other_platforms_keep_their_conversations(tmp_path: Path) -> None:
    """The alias lookup is generic: a format without aliases keeps one conversation per native id."""
    chat = tmp_path / "chat.csv"
    chat.write_text("sent_at,conversation_id,sender_name,text\n2026-03-02T10:00:00+08:00,c1,Ann,hi\n"
                    "2026-03-02T10:01:00+08:00,c2,Bob,yo\n", encoding="utf-8")
    with Archive(tmp_path / "a.db") as archive:
        import_paths(archive, [chat])
        assert sorted(r.native_id for r in archive.conversations()) == ["c1", "c2"]
        aliases = archive.db.execute("SELECT alias FROM conversation_aliases ORDER BY alias").fetchall()
        assert [a[0] for a in aliases] == ["c1", "c2"]


@pytest.mark.parametrize(("subject", "normalized"), [
    ("回复：答复: 转发：询价", "询价"),
    ("RE[2]: AW: SV: Lieferung", "Lieferung"),
    ("Réf. : Contrat", "Contrat"),
    ("TR: Devis", "Devis"),
    ("RV: Presupuesto", "Presupuesto"),
    ("R: I: Preventivo", "Preventivo"),
    ("Odp: Oferta", "Oferta"),
    ("Re^2: x", "x"),
    ("Research: plan", "Research: plan"),
    ("Invoice 4471", "Invoice 4471"),
])
def test_reply_and_forward_prefixes_of_many_languages(subject: str, normalized: str) -> None:
    assert normalize_subject(subject) == normalized


# ---- property: any forest, any order, any way of naming ancestors ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from chataudit.formats.email_thread import Head, Threads  # noqa: E402


@st.composite
def forests(draw) -> tuple[list[int | None], list[str], list[int]]:
    """Parents of n messages (None: a thread starts), how each names its ancestry, a reading order."""
    size = draw(st.integers(1, 30))
    parents: list[int | None] = [None]
    for index in range(1, size):
        parents.append(draw(st.one_of(st.none(), st.integers(0, index - 1))))
    styles = draw(st.lists(st.sampled_from(["parent-irt", "parent-refs", "full-refs"]), min_size=size, max_size=size))
    order = draw(st.permutations(range(size)))
    return parents, styles, list(order)


def _ancestry(parents: list[int | None], index: int) -> list[int]:
    chain = []
    while parents[index] is not None:
        index = parents[index]
        chain.append(index)
    return chain[::-1]  # oldest first, as References lists them


@settings(max_examples=200, deadline=None)
@given(forests())
def test_every_tree_is_one_thread_named_by_its_root(forest) -> None:
    parents, styles, order = forest
    heads = []
    for index, parent in enumerate(parents):
        ancestry = [f"m{a}@x" for a in _ancestry(parents, index)]
        in_reply_to = (f"m{parent}@x",) if parent is not None and styles[index] == "parent-irt" else ()
        references = () if parent is None or styles[index] == "parent-irt" else (
            tuple(ancestry) if styles[index] == "full-refs" else (f"m{parent}@x",))
        heads.append(Head(f"m{index}@x", in_reply_to, references, f"topic {index}", parent is not None))
    threads = Threads()
    for index in order:
        threads.add(heads[index])
    for index in range(len(parents)):
        root = _ancestry(parents, index)[0] if parents[index] is not None else index
        thread_id, aliases = threads.thread(heads[index])
        assert thread_id == f"m{root}@x"
        members = {f"m{i}@x" for i in range(len(parents)) if (_ancestry(parents, i) or [i])[0] == root}
        assert set(aliases) == members
