"""A fuzz target per parser: mutated bytes of each format's fixtures yield records the archive can
store, or a ParseError that names the file (and its line where there is one) — never another
exception, never a hang.

Mutations mix random bytes with the tokens parsers trip on (brackets, quotes, escapes, bad UTF-8,
huge or negative numbers, far years).  Each example runs under an alarm, so a hang fails the test.
"""

from __future__ import annotations

import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chataudit import formats
from chataudit.errors import ParseError
from chataudit.formats import ParseOptions
from chataudit.importer import storable
from chataudit.model import Conversation, Message, zone
from chataudit.store.sqlite import message_row

FIXTURES = Path(__file__).parent / "fixtures"
# the suite runs a fixed, quick sample; CHATAUDIT_FUZZ_EXAMPLES=2000 fuzzes for real (random seeds)
DEFAULT_EXAMPLES = 100
EXAMPLES = int(os.environ.get("CHATAUDIT_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))

# (format NAME, fixture, file to mutate inside a folder fixture)
TARGETS = [
    ("telegram-json", "telegram/personal_result.json", None),
    ("telegram-json", "telegram/control_chars_result.json", None),
    ("whatsapp-txt", "whatsapp/WhatsApp Chat with Alice.txt", None),
    ("wechat-csv", "wechat/memotrace/梅梅_utf8.csv", None),
    ("wechat-csv", "wechat/pywxdump_old/wxid_hanmeimei01_0_6.csv", None),
    ("wechat-txt", "wechat/txt/项目组.txt", None),
    ("wechat-db", "wechat/db", "MSG0.db"),  # the database is parsed; MicroMsg.db beside it gives names
    ("wecom-archive", "wecom/archive.jsonl", None),
    ("wecom-archive", "wecom/array_bom.json", None),
    ("feishu-json", "feishu/page_pretty.json", None),
    ("feishu-json", "feishu/pages.jsonl", None),
    ("dingtalk-json", "dingtalk/array_gbk.json", None),
    ("dingtalk-json", "dingtalk/callbacks.jsonl", None),
    ("email", "email/thread_en.mbox", None),
    ("email", "email/quote_cn.eml", None),
    ("slack-export", "slack/acme_export", "general/2024-03-04.json"),
    ("slack-export", "slack/acme_export", "users.json"),
    ("generic", "generic/family.jsonl", None),
    ("generic", "generic/service_chat.csv", None),
]
TOKENS = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b"\\u", b"\\ud800", b"\\x0b", b"\n", b"\r\n", b"\x00",
          b"\xff", b"\xe4\xb8", b"\xef\xbb\xbf", b"null", b"true", b"-1", b"0", b"1e999", b"99999999999999999999",
          b"-9999999999999", b"4354000000", b"9999", b"1800", b"0000", b"29/02/2023", b"25:61", b"From ",
          b"Date: ", b"=?utf-8?b?", b"--", b"[" * 600, b'"text":', b'"date":', b"\t", b"\xed\xa0\x80"]

mutation = st.one_of(
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(TOKENS)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("replace"), st.floats(0, 1), st.sampled_from(TOKENS)),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("repeat"), st.floats(0, 1), st.integers(2, 40)),
)


def mutate(data: bytes, steps: list[tuple]) -> bytes:
    for kind, where, arg in steps:
        at = int(where * len(data))
        if kind == "insert":
            data = data[:at] + arg + data[at:]
        elif kind == "replace":
            data = data[:at] + arg + data[at + len(arg):]
        elif kind == "delete":
            data = data[:at] + data[at + arg:]
        elif kind == "truncate":
            data = data[:at]
        else:  # repeat a short slice, e.g. a bracket or a line
            data = data[:at] + data[at:at + 16] * arg + data[at:]
    return data


@contextmanager
def alarm(seconds: float):
    def hung(*_):
        raise TimeoutError(f"parser still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_all(format_name: str, path: Path) -> int:
    """Every record, through what the importer applies to all formats and the store's row builder."""
    module = formats.get(format_name)
    count = 0
    for record in storable(module.parse(path, ParseOptions(tz=zone("Asia/Shanghai"))), str(path)):
        assert isinstance(record, (Message, Conversation))
        if isinstance(record, Message):
            message_row(record, 1, 1)
            count += 1
    return count


@pytest.mark.parametrize(("format_name", "fixture", "member"), TARGETS,
                         ids=[f"{name}:{Path(fixture).name}{'/' + member if member else ''}" for name, fixture, member in TARGETS])
def test_mutated_fixtures_yield_records_or_a_located_parse_error(tmp_path_factory, format_name: str, fixture: str,
                                                                 member: str | None) -> None:
    source = FIXTURES / fixture
    parse_member = format_name == "wechat-db"  # a file format that reads a sibling file
    assert read_all(format_name, source / member if parse_member else source) > 0  # the unmutated fixture parses

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES == DEFAULT_EXAMPLES, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.lists(mutation, min_size=1, max_size=4))
    def check(steps: list[tuple]) -> None:
        folder = tmp_path_factory.mktemp("fuzz")
        if member is None:
            target = path = folder / source.name
            target.write_bytes(mutate(source.read_bytes(), steps))
        else:
            path = folder / source.name
            shutil.copytree(source, path)
            target = path / member
            target.write_bytes(mutate(target.read_bytes(), steps))
            if parse_member:
                path = target
        try:
            with alarm(5):
                read_all(format_name, path)
        except ParseError as error:
            assert error.path and str(path) in error.path, error
            assert error.message and "\n" not in error.message.strip(), error
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    check()
