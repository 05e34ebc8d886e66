"""fold() (regex passes over a whole batch) agrees with fold_map() (character by character) on the
gaps between latin letters, which fold() handles with look-behinds and plain replacements."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chataudit.supervision import normalize

ALPHABET = list("abvxzAＶ中违約微信 \u3000#*-.·\n，。") + ["\U0001F600"]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_fold_equals_the_character_by_character_fold(text: str) -> None:
    assert normalize.fold(text) == normalize.fold_map(text)[0]


def test_latin_gaps() -> None:
    assert normalize.fold("v x 加 我") == "vx加我"
    assert normalize.fold("where is my parcel #6") == "where is my parcel6"
    assert normalize.fold("u sb") == "u sb"
    assert normalize.fold("t m d，a  b") == "tmd，ab"
