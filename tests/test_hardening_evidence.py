"""Evidence packages against someone who holds the package (issue #10, items 4 and 11; issue #11):
a missing manifest.sig is not verified unless accepted, and then every file no signature covers is
named; a message dropped with its proof and manifest entry is caught; the signer is authenticated
only by --pubkey; a package's own verify.py cannot vouch for itself; deeply nested or oversized JSON
gives one clear error; the rendering prints no "None" and fits a phone. Every case runs both
verifiers (chataudit's and the standalone verify.py, the latter in a memory-limited subprocess)."""

from __future__ import annotations

import hashlib
import json
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chataudit.cli import cli
from chataudit.evidence import export_package, verify_package
from chataudit.evidence import standalone_verify as S
from chataudit.evidence.verify import summary_lines
from chataudit.importer import import_paths
from chataudit.ledger.keys import load_key
from chataudit.ledger.note import Signer, sign
from chataudit.store import Archive
from test_evidence import flip, members, named_files, reseal, rewrite

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path("/usr/bin/chromium")
PYTHON_38 = Path("/root/.pyenv/versions/3.8.18/bin/python")
LONG_ID = "wrkmsg_" + "9f3c2a7e1b" * 8  # a WeCom-style external chat id: 87 characters, no break opportunity


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardening")
    chat = folder / "long.jsonl"
    rows = [
        {"sent_at": "2026-03-14T10:00:00+08:00", "conversation_id": LONG_ID, "sender_name": "客服-" + "长" * 30,
         "sender_id": "ext_" + "7d1e" * 16, "text": "您的工单号是 " + "A1B2C3D4" * 12},
        {"sent_at": "2026-03-14T10:01:00+08:00", "conversation_id": LONG_ID, "sender_name": "王女士",
         "kind": "image", "attachments": [{"mime": "image/jpeg", "size": 48213}]},
        {"sent_at": "2026-03-14T10:02:00+08:00", "conversation_id": LONG_ID, "sender_name": "王女士",
         "text": "收到，谢谢"},
        {"sent_at": "2026-03-15T09:30:00+08:00", "conversation_id": LONG_ID, "sender_name": "王女士",
         "kind": "file", "text": "发票在这里", "attachments": [{"name": "发票.pdf", "size": 1024}]},
    ]
    chat.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHATAUDIT_KEYS", str(folder / "keys"))
        db = folder / "a.db"
        with Archive(db) as archive:
            summary = import_paths(archive, [FIXTURES / "generic" / "service_chat.csv", chat], tz="Asia/Shanghai")
            assert not summary.errors, summary.errors
            packages = {
                "signed": export_package(archive, folder / "signed.zip", conversation="shop-1001", pdf=False),
                # the exporter without the signing key at hand: the manifest goes unsigned
                "unsigned": export_package(archive, folder / "unsigned.zip", conversation="shop-1001", pdf=False,
                                           key_path=folder / "not-here.key"),
                "long": export_package(archive, folder / "long.zip", conversation=LONG_ID, pdf=False),
            }
    return {"folder": folder, "db": db, "packages": packages, "key": load_key(Path(str(db) + ".key"))}


def pkg(world, name: str) -> Path:
    return Path(world["packages"][name].path)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def standalone(package: Path, *args: str) -> tuple[int, dict]:
    """The installed standalone verifier as a third party runs it, in a subprocess limited to 1 GiB."""
    done = subprocess.run([sys.executable, S.__file__, str(package), *args, "--json"], capture_output=True,
                          text=True, timeout=60, preexec_fn=_limit_memory)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def both(package: Path, pubkey: str | None = None, allow_unsigned: bool = False) -> dict:
    """chataudit's report, after checking that the standalone verifier says the same."""
    ours = verify_package(package, pubkey, allow_unsigned=allow_unsigned)
    args = (["--pubkey", pubkey] if pubkey else []) + (["--allow-unsigned"] if allow_unsigned else [])
    code, theirs = standalone(package, *args)
    assert code == (0 if ours["ok"] else 1), (code, ours["problems"], theirs["problems"])
    assert theirs["ok"] == ours["ok"]
    for key in ("manifest_signed", "signer_authenticated", "unverified"):
        assert theirs[key] == ours[key], key
    assert named_files(theirs) == named_files(ours), (ours["problems"], theirs["problems"])
    assert sorted(p["kind"] for p in theirs["problems"]) == sorted(p["kind"] for p in ours["problems"])
    return ours


def kinds(report: dict) -> set[tuple[str, str | None]]:
    return {(p["kind"], p.get("file")) for p in report["problems"]}


def strip_signature(package: Path, out: Path, changes: dict[str, bytes | None] | None = None,
                    count: int | None = None) -> Path:
    """What someone holding a signed package does: change files, recompute the manifest (and its message
    count), drop manifest.sig."""
    files = members(package)
    files.update({k: v for k, v in (changes or {}).items() if v is not None})
    manifest = json.loads(files["manifest.json"])
    if count is not None:
        manifest["messages"] = count
    manifest["files"] = [e for e in manifest["files"] if (changes or {}).get(e["path"], b"") is not None]
    for entry in manifest["files"]:
        data = files[entry["path"]]
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest())
    manifest["self_digest"] = S.manifest_digest(manifest)
    return rewrite(package, out, {**(changes or {}), "manifest.json": S.canonical_manifest(manifest),
                                  "manifest.sig": None})


# ---- a missing signature is not "OK" -----------------------------------------------------------------------

def test_an_unsigned_package_fails_unless_accepted_and_then_names_what_is_unverified(world) -> None:
    package = pkg(world, "unsigned")
    assert not world["packages"]["unsigned"].manifest_signed
    assert any("--allow-unsigned" in w for w in world["packages"]["unsigned"].warnings)
    assert "THIS PACKAGE IS NOT SIGNED" in members(package)["README.txt"].decode()
    key = str(world["key"].verifier)
    report = both(package, pubkey=key)
    assert not report["ok"] and kinds(report) == {("unsigned", "manifest.sig")}
    result = CliRunner().invoke(cli, ["evidence", "verify", str(package), "--pubkey", key])
    assert result.exit_code == 1 and "FAILED" in result.output and "UNSIGNED: manifest.sig" in result.output
    # accepted explicitly: the messages are proven, everything else is named as unverified
    report = both(package, pubkey=key, allow_unsigned=True)
    assert report["ok"] and report["checked"]["proofs"] == 8 and report["manifest_signed"] is False
    assert report["unverified"] == sorted(set(members(package)) - {"checkpoint.txt", "messages.jsonl", "proofs.jsonl",
                                                                   "pubkey.txt"})  # the key given
    assert {"messages.html", "custody.json", "verify.py", "README.txt", "manifest.json"} <= set(report["unverified"])
    assert any("nothing proves that none was removed" in n for n in report["notices"])
    assert summary_lines(report)[-1].startswith("OK — UNSIGNED: 5 files unverified (README.txt, custody.json")
    result = CliRunner().invoke(cli, ["evidence", "verify", str(package), "--pubkey", key, "--allow-unsigned", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["unverified"] == report["unverified"]


@pytest.mark.parametrize("attack", ["edited rendering", "message removed", "custody rewritten", "verify.py replaced"])
def test_the_attacks_that_passed_before_are_caught(world, tmp_path, attack) -> None:
    """Each was reported 'OK' with a note once manifest.sig was dropped and the manifest recomputed."""
    signed = pkg(world, "signed")
    files = members(signed)
    if attack == "edited rendering":
        changes = {"messages.html": files["messages.html"].replace("外套有瑕疵".encode(), "外套很好".encode())}
        target = "messages.html"
    elif attack == "message removed":  # and the custody log and the manifest's count made to agree
        messages, proofs = files["messages.jsonl"].splitlines(True), files["proofs.jsonl"].splitlines(True)
        custody = json.loads(files["custody.json"])
        gone = json.loads(messages[3])["id"]
        custody["selection"]["messages"] -= 1
        custody["selection"]["message_ids"].remove(gone)
        html = re.sub(rf'<tr class="[^"]*" id="m{gone}">.*?</tr>'.encode(), b"", files["messages.html"], flags=re.S)
        changes = {"messages.jsonl": b"".join(messages[:3] + messages[4:]),
                   "proofs.jsonl": b"".join(proofs[:3] + proofs[4:]), "messages.html": html,
                   "custody.json": json.dumps(custody, ensure_ascii=False, indent=2).encode()}
        target = "messages.jsonl"
    elif attack == "custody rewritten":
        custody = json.loads(files["custody.json"])
        custody["events"][0]["operator"] = "someone else"
        changes = {"custody.json": json.dumps(custody, ensure_ascii=False, indent=2).encode()}
        target = "custody.json"
    else:
        changes = {"verify.py": b"print('OK')\n"}
        target = "verify.py"
    assert all(changes[name] != files[name] for name in changes)
    forged = strip_signature(signed, tmp_path / "forged.zip", changes,
                             count=7 if attack == "message removed" else None)
    key = str(world["key"].verifier)
    report = both(forged, pubkey=key)
    assert not report["ok"] and ("unsigned", "manifest.sig") in kinds(report)
    report = both(forged, pubkey=key, allow_unsigned=True)
    if attack == "edited rendering":  # the transcript is checked against the proven messages all the same
        first = json.loads(files["messages.jsonl"].splitlines()[0])["id"]
        assert [(p["kind"], p["file"], p["message"]["id"]) for p in report["problems"]] == \
            [("rendering", "messages.html", first)] and "text" in report["problems"][0]["detail"]
    elif attack == "message removed":  # each remaining message is proven; that none is missing is not
        assert report["ok"] and report["messages"] == 7 and "custody.json" in report["unverified"]
    else:
        assert report["ok"] and target in report["unverified"]
    # the same change with the signature kept: the signed manifest no longer matches
    kept = rewrite(forged, tmp_path / "kept.zip", {"manifest.sig": files["manifest.sig"]})
    report = both(kept, pubkey=key)
    assert ("manifest_signature", "manifest.sig") in kinds(report)


def test_a_message_dropped_from_messages_proofs_and_manifest_is_caught_by_the_committed_count(world, tmp_path) -> None:
    """Even resealed by someone holding the key (a dishonest exporter editing after the fact): the signed
    manifest's count and range, and the custody log, no longer agree with messages.jsonl."""
    signed = pkg(world, "signed")
    files = members(signed)
    messages, proofs = files["messages.jsonl"].splitlines(True), files["proofs.jsonl"].splitlines(True)
    for drop, expected in ((3, "8 messages were exported"), (7, "runs from message")):
        changes = {"messages.jsonl": b"".join(messages[:drop] + messages[drop + 1:]),
                   "proofs.jsonl": b"".join(proofs[:drop] + proofs[drop + 1:])}
        report = both(reseal(signed, tmp_path / "r.zip", changes, world["key"]))
        details = [p["detail"] for p in report["problems"] if p.get("file") == "manifest.json"]
        assert any(expected in d for d in details), report["problems"]
    manifest = json.loads(files["manifest.json"])
    ids = [json.loads(line)["id"] for line in messages]
    assert manifest["messages"] == 8 and manifest["selection"]["first_id"] == ids[0]
    assert manifest["selection"]["last_id"] == ids[-1]


def test_a_directory_entry_carrying_data_is_refused(world, tmp_path) -> None:
    """Every byte in the zip is in a file the manifest lists: a 'directory' holding data is refused."""
    import zipfile

    package = tmp_path / "dir.zip"
    package.write_bytes(pkg(world, "signed").read_bytes())
    with zipfile.ZipFile(package, "a") as z:
        z.writestr(zipfile.ZipInfo("hidden/"), b"a note no reader shows")
    report = both(package)
    assert [p["kind"] for p in report["problems"]] == ["unsafe_package"]
    assert "directory entry 'hidden/' carries" in report["problems"][0]["detail"]


# ---- who signed -----------------------------------------------------------------------------------------------------

def test_the_signer_is_authenticated_only_by_pubkey(world, tmp_path) -> None:
    package = pkg(world, "signed")
    report = both(package)
    assert report["ok"] and report["signer_authenticated"] is False
    assert any("NOT authenticated" in n for n in report["notices"])
    assert "signer NOT authenticated" in summary_lines(report)[-1]
    report = both(package, pubkey=str(world["key"].verifier))
    assert report["ok"] and report["signer_authenticated"] is True and report["manifest_signed"] is True
    assert summary_lines(report)[-1].startswith("OK: 8 messages")
    # wholly re-signed by another key (checkpoint, manifest and pubkey.txt): fine alone, caught by --pubkey
    files = members(package)
    forger = Signer.generate(json.loads(files["custody.json"])["archive"]["origin"])
    note = files["checkpoint.txt"].decode()
    forged = reseal(package, tmp_path / "f.zip", {"checkpoint.txt": sign(note.split("\n\n")[0] + "\n", forger).encode(),
                                                  "pubkey.txt": (str(forger.verifier) + "\n").encode()}, forger)
    report = both(forged)
    assert not report["signer_authenticated"]
    report = both(forged, pubkey=str(world["key"].verifier))
    assert not report["ok"] and {("pubkey", "pubkey.txt"), ("checkpoint_signature", "checkpoint.txt"),
                                 ("manifest_signature", "manifest.sig")} <= kinds(report)


# ---- verify.py cannot vouch for itself ---------------------------------------------------------------------------------

def test_a_trusted_verifier_is_documented_and_the_package_copy_is_compared(world, tmp_path) -> None:
    package = pkg(world, "signed")
    own = hashlib.sha256(Path(S.__file__).read_bytes()).hexdigest()
    readme = members(package)["README.txt"].decode()
    assert "cannot vouch for itself" in readme and own in readme
    assert "python -m chataudit.evidence.standalone_verify" in readme and "chataudit evidence verifier" in readme
    report = both(package)
    assert report["verify_py"] == {"sha256": own, "same_as_this_verifier": True}
    forged = reseal(package, tmp_path / "v.zip", {"verify.py": b"print('OK')\n"}, world["key"])
    report = verify_package(forged)
    assert report["verify_py"]["same_as_this_verifier"] is False
    assert any("cannot vouch for itself" in n for n in report["notices"])
    # the command that hands out a trusted copy, with its SHA-256
    result = CliRunner().invoke(cli, ["evidence", "verifier", "--out", str(tmp_path / "verify.py"), "--json"])
    info = json.loads(result.output)
    assert result.exit_code == 0 and info["sha256"] == own and info["python_requires"] == "3.8"
    assert (tmp_path / "verify.py").read_bytes() == Path(S.__file__).read_bytes()
    result = CliRunner().invoke(cli, ["evidence", "verifier", "--out", str(tmp_path / "no" / "such" / "verify.py")])
    assert result.exit_code == 1 and "cannot write the verifier" in result.output and result.exception is not None \
        and not isinstance(result.exception, OSError)
    done = subprocess.run([sys.executable, "-m", "chataudit.evidence.standalone_verify", str(package)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "signer NOT authenticated" in done.stdout


def test_one_python_requirement_and_it_holds() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    source = Path(S.__file__).read_text(encoding="utf-8")
    assert S.PYTHON_REQUIRES == (3, 8) and "Python (3.8 or later)" in source
    assert "verify.py` needs Python 3.8+" in readme and "3.7+" not in readme
    import ast

    ast.parse(source, feature_version=(3, 8))


@pytest.mark.skipif(not PYTHON_38.exists(), reason="needs a Python 3.8 interpreter (pyenv)")
def test_verify_py_runs_on_python_3_8(world) -> None:
    done = subprocess.run([str(PYTHON_38), S.__file__, str(pkg(world, "signed")), "--json"], capture_output=True,
                          text=True, timeout=60)
    report = json.loads(done.stdout)
    assert done.returncode in (0, 2) and report["ok"] and report["checked"]["proofs"] == 8, done.stderr


# ---- JSON readers: nesting depth and size ------------------------------------------------------------------------------

NESTED = b"[" * 400_000 + b"]" * 400_000


@pytest.mark.parametrize("name", ["messages.jsonl", "proofs.jsonl", "custody.json", "manifest.json"])
def test_deeply_nested_json_is_one_clear_error(world, tmp_path, name) -> None:
    """400 KB of [[[…]]] made both verifiers die with RecursionError."""
    signed = pkg(world, "signed")
    if name == "manifest.json":
        damaged = rewrite(signed, tmp_path / "n.zip", {name: NESTED})
    else:
        data = NESTED if name.endswith(".json") else members(signed)[name] + NESTED + b"\n"
        damaged = reseal(signed, tmp_path / "n.zip", {name: data}, world["key"])
    report = both(damaged)
    problem = next(p for p in report["problems"] if p.get("file") == name)
    assert f"nested deeper than {S.MAX_JSON_DEPTH} levels" in problem["detail"]
    result = CliRunner().invoke(cli, ["evidence", "verify", str(damaged)])
    assert result.exit_code == 1 and "nested deeper than" in result.output


def test_a_deeply_nested_disclosure_or_signed_leaf_is_named_by_message(world, tmp_path) -> None:
    import base64

    signed = pkg(world, "signed")
    files = members(signed)
    lines = [json.loads(line) for line in files["messages.jsonl"].splitlines()]
    value = "[" * 5000 + "]" * 5000
    lines[2]["disclosures"]["text"] = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    proofs = [json.loads(line) for line in files["proofs.jsonl"].splitlines()]
    proofs[5]["leaf"] = value
    data = {"messages.jsonl": b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines),
            "proofs.jsonl": b"".join(json.dumps(x).encode() + b"\n" for x in proofs)}
    report = both(reseal(signed, tmp_path / "d.zip", data, world["key"]))
    named = {p["message"]["id"]: p["detail"] for p in report["problems"] if p.get("message")}
    assert set(named) == {lines[2]["id"], lines[5]["id"]}
    assert "nested deeper than" in named[lines[2]["id"]] and "unreadable" in named[lines[5]["id"]]


def test_json_over_the_size_limit_is_refused_before_it_is_parsed(world, tmp_path) -> None:
    signed = pkg(world, "signed")
    limits = S.Limits(max_json_bytes=4096)
    files = members(signed)
    long_line = json.dumps({"id": 1, "pad": "x" * 10_000}).encode() + b"\n"
    damaged = reseal(signed, tmp_path / "l.zip", {"messages.jsonl": long_line + files["messages.jsonl"]}, world["key"])
    report = verify_package(damaged, limits=limits)
    assert (report["problems"][0]["kind"], report["problems"][0]["file"]) == ("unreadable", "messages.jsonl")
    assert report["problems"][0]["detail"] == "line 1 is longer than 4,096 bytes (the limit of a line)"
    assert report["messages"] == 8  # the lines after the long one are still read
    big = S.Limits(max_json_bytes=1024)
    report = S.verify(signed, limits=big).as_dict()
    assert any(p["file"] == "custody.json" and "over the limit of" in p["detail"] for p in report["problems"])
    with pytest.raises(S.JsonLimitError, match="over the limit"):
        S.load_json(b"[1]" * 10, max_bytes=8)
    assert S.load_json(b'{"a": "[[[[\\"[[[", "b": [[1]]}', max_depth=3) == {"a": '[[[["[[[', "b": [[1]]}
    with pytest.raises(S.JsonLimitError, match="deeper than 2"):
        S.load_json(b'{"b": [[1]]}', max_depth=2)


# ---- the rendering ---------------------------------------------------------------------------------------------------------

def test_an_attachment_without_a_name_is_not_printed_as_none(world) -> None:
    html = members(pkg(world, "long"))["messages.html"].decode()
    assert "None" not in html
    assert "unnamed attachment" in html and "image/jpeg" in html


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_long_ids_fit_a_phone(world, tmp_path) -> None:
    import zipfile

    from playwright import sync_api as playwright

    folder = tmp_path / "long"
    with zipfile.ZipFile(pkg(world, "long")) as z:
        z.extractall(folder)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto((folder / "messages.html").as_uri())
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            wide = page.evaluate("""[...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .map(e => e.tagName + '.' + e.className).slice(0, 5)""")
        finally:
            browser.close()
    assert overflow <= 0 and wide == [], wide


# ---- the transcript reader agrees with the template on any text ------------------------------------------------------

def _render(lines: list[dict]) -> bytes:
    """messages.html as export_package writes it, for synthetic package lines."""
    from chataudit.evidence.package import REASONS, _template, _view

    checkpoint = {"origin": "o", "tree_size": 1, "root": "0" * 64, "checkpoint_signed_at": None, "verifier_key": "k"}
    context = {"title": "t", "conversation": {"platform": "generic", "type": "private", "native_id": "c"},
               "since": None, "until": None, "first_at": lines[0]["sent_at"], "last_at": lines[-1]["sent_at"],
               "count": len(lines), "created_at": "2026-03-14T00:00:00Z", "operator": "o", "tool": "chataudit",
               "checkpoint": checkpoint, "timestamp": None, "withheld": {"messages": 0, "fields": {}},
               "redacted": False, "documents": [], "statements": [], "matches": [], "matches_summary": None,
               "not_included": [], "reasons": REASONS, "manifest_signed": True, "files": [], "package": "p.zip",
               "pdf_planned": False, "title_withheld": False}
    return "".join(_template().generate(messages=(_view(line, {}) for line in lines), **context)).encode()


class _Members:
    """Just enough of SafeZip for check_rendering: one member, streamed."""

    def __init__(self, html: bytes, tmp: Path):
        import zipfile

        path = tmp / "r.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("messages.html", html)
        self.zip = zipfile.ZipFile(path)
        self.members = {"messages.html": self.zip.getinfo("messages.html")}


TEXTS = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS, sender=TEXTS, amount=st.none() | st.sampled_from(["299.00", "0", "1,000"]),
       kind=st.sampled_from(["text", "transfer", "image", "system"]), name=st.none() | TEXTS)
@example(text="a\r\nb\x00 &amp; <i>x</i>\u2028 ", sender=" 王 ", amount="299.00", kind="transfer", name="")
def test_any_faithful_transcript_verifies(tmp_path, text, sender, amount, kind, name) -> None:
    line = {"seq": 1, "id": 7, "leaf_index": 3, "sent_at": "2026-03-14T10:00:00.250+08:00", "kind": kind,
            "amount": amount, "currency": "CNY" if amount else None, "is_me": False, "edited_at": None,
            "reply_to": None, "message_id": "x", "text": text or None, "sender_name": sender or None,
            "sender_id": None, "extras": None, "withheld": {},
            "attachments": [{"name": name, "size": 3, "mime": "application/pdf"}] if name is not None else []}
    report = S.Report()
    S.check_rendering(_Members(_render([line]), tmp_path), report, [7], {7: S.rendering_expectation(line)})
    assert report.problems == []
    changed = dict(line, text=(text or "") + "!")
    report = S.Report()
    S.check_rendering(_Members(_render([line]), tmp_path), report, [7], {7: S.rendering_expectation(changed)})
    assert [p["detail"] for p in report.problems] == ["the transcript shows a text other than the proven message's"]


def test_a_package_of_many_small_bombs_is_refused_by_both_verifiers(tmp_path: Path) -> None:
    """Each member under the per-member ratio floor, the whole zip far over the ratio: refused before
    anything is inflated (the same SafeZip check guards `import`)."""
    import zipfile

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for number in range(300):
            out.writestr(f"part{number}.bin", b"\0" * (1 << 20))
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(S.PackageError, match="ratio over"):
        S.SafeZip(bomb)
    result = CliRunner().invoke(cli, ["evidence", "verify", str(bomb)])
    assert result.exit_code != 0 and "zip bomb" in result.output, result.output
