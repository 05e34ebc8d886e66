"""Evidence packages: export → verify round trips; any changed byte named by file; withheld and redacted
fields that still verify and leave no trace; tampered proofs, wrong keys and replaced checkpoints named;
zip-slip and zip bombs refused — and the standalone verify.py, run as `python verify.py PKG.zip` in a
subprocess, agreeing with `evidence verify` on every case."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.evidence import export_package, parse_withhold, verify_package
from chataudit.evidence import standalone_verify as S
from chataudit.evidence.commands import evidence
from chataudit.errors import ChatAuditError
from chataudit.importer import import_paths
from chataudit.ledger import Ledger
from chataudit.ledger.keys import load_key
from chataudit.ledger.note import Signer, sign
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path("/usr/bin/chromium")
ARGV = ["chataudit", "evidence", "export"]


# ---- the archive and its packages (built once) ---------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evidence")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHATAUDIT_KEYS", str(folder / "keys"))
        shutil.copytree(FIXTURES / "whatsapp" / "ios_group", folder / "ios_group")
        (folder / "agreement.pdf").write_bytes(b"%PDF-1.4\n% a scanned, signed agreement\n" + bytes(range(256)))
        db = folder / "a.db"
        with Archive(db) as archive:
            summary = import_paths(archive, [FIXTURES / "generic" / "service_chat.csv", folder / "ios_group",
                                             FIXTURES / "pii" / "dispute.jsonl",
                                             FIXTURES / "statements" / "chat_zhang_wang.jsonl",
                                             FIXTURES / "wechat" / "memotrace" / "梅梅_utf8.csv"],
                                   tz="Asia/Shanghai")
            assert not summary.errors, summary.errors
            ids = {c.native_id: c.id for c in archive.conversations()}
            rows = {ref: list(archive.timeline(cid)) for ref, cid in ids.items()}
            photo = next(m for m in rows["Family 🏡"] if m["attachments"] and m["attachments"][0].get("sha256"))
            zhang = rows["wxid_wangjianguo"]
            held_texts = [zhang[0], zhang[4]]  # "首付30万，这周内要付给开发商", "首付30万已经从招行转给你了，查一下"
            packages = {
                "plain": export_package(archive, folder / "plain.zip", conversation="shop-1001", pdf=False,
                                        argv=ARGV + ["--conversation", "shop-1001"]),
                "family": export_package(archive, folder / "family.zip", conversation="Family 🏡", pdf=False,
                                         argv=ARGV),
                "meimei": export_package(archive, folder / "meimei.zip", conversation="wxid_hanmeimei01", pdf=False,
                                         argv=ARGV),
                "extras": export_package(archive, folder / "extras.zip", conversation="wxid_hanmeimei01", pdf=False,
                                         argv=ARGV, withhold=["extras:all", "sender_id:all"]),
                "withheld": export_package(
                    archive, folder / "withheld.zip", conversation="wxid_wangjianguo", pdf=False, argv=ARGV,
                    withhold=[f"text:{held_texts[0]['id']},{held_texts[1]['id']}", "sender_name:all"]),
                "photo": export_package(archive, folder / "photo.zip", conversation="Family 🏡", pdf=False, argv=ARGV,
                                        withhold=[f"text:{photo['id']}", f"attachments:{photo['id']}"]),
                "redacted": export_package(archive, folder / "redacted.zip", conversation=str(ids["wxid_zhangwei88"]),
                                           redact="default", pdf=False, argv=ARGV + ["--redact"]),
                "statements": export_package(
                    archive, folder / "statements.zip", conversation="wxid_wangjianguo", pdf=False, argv=ARGV,
                    attach=[folder / "agreement.pdf"],
                    statements=[FIXTURES / "statements" / "bank_statement.csv",
                                FIXTURES / "statements" / "wechat_pay.csv"]),
            }
    return {"folder": folder, "db": db, "ids": ids, "rows": rows, "photo": photo, "held_texts": held_texts,
            "packages": packages, "key": load_key(Path(str(db) + ".key"))}


def pkg(world, name: str) -> Path:
    return Path(world["packages"][name].path)


# ---- helpers: the two verifiers, rewriting members, resealing ------------------------------------------

def standalone(package: Path, *args: str, python: list[str] | None = None) -> tuple[int, dict, str]:
    """`python verify.py PKG.zip --json`, with the verify.py a pristine package carries."""
    script = package.parent / "verify.py"  # what every package carries (test_layout… checks they are the same)
    if not script.exists():
        script.write_bytes(Path(S.__file__).read_bytes())
    done = subprocess.run([*(python or [sys.executable]), str(script), str(package), *args, "--json"],
                          capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout), done.stderr


def both(package: Path, pubkey: str | None = None) -> tuple[dict, dict]:
    """Both verifiers' reports; they must agree on the verdict, the files and the messages they name."""
    ours = verify_package(package, pubkey)
    code, theirs, _ = standalone(package, *(["--pubkey", pubkey] if pubkey else []))
    assert theirs["ok"] == ours["ok"], (ours["problems"], theirs["problems"])
    assert code == (0 if ours["ok"] else 1)
    assert named_files(theirs) == named_files(ours), (ours["problems"], theirs["problems"])
    assert named_messages(theirs) == named_messages(ours), (ours["problems"], theirs["problems"])
    assert {p["kind"] for p in theirs["problems"]} == {p["kind"] for p in ours["problems"]}
    return ours, theirs


def named_files(report: dict) -> set[str]:
    return {p["file"] for p in report["problems"] if p.get("file")}


def named_messages(report: dict) -> set:
    return {p["message"]["id"] for p in report["problems"] if p.get("message")}


def members(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def rewrite(package: Path, out: Path, changes: dict[str, bytes | None]) -> Path:
    """A copy of the package with some members replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in changes:
                if changes[info.filename] is not None:
                    dst.writestr(info, changes[info.filename])
                continue
            dst.writestr(info, src.read(info))
        for name, data in changes.items():
            if name not in src.namelist() and data is not None:
                dst.writestr(name, data)
    return out


def reseal(package: Path, out: Path, changes: dict[str, bytes], signer: Signer) -> Path:
    """Change members and make the manifest (and its signature) agree: only the deeper checks can tell."""
    files = members(package)
    files.update(changes)
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        data = files[entry["path"]]
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest())
    manifest["self_digest"] = S.manifest_digest(manifest)
    raw = S.canonical_manifest(manifest)
    return rewrite(package, out, {**changes, "manifest.json": raw,
                                  "manifest.sig": sign(S.manifest_note_text(raw), signer).encode()})


def flip(data: bytes, at: int | None = None) -> bytes:
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 0x01 if data[at] not in (0x0A,) else 0x20]) + data[at + 1:]


# ---- round trip --------------------------------------------------------------------------------------------

def test_a_fresh_package_verifies_with_both_verifiers(world) -> None:
    ours, theirs = both(pkg(world, "plain"))
    assert ours["ok"] and ours["problems"] == []
    assert set(ours) >= {"ok", "checked", "problems", "messages", "withheld", "checkpoint", "timestamp"}
    assert ours["messages"] == 8 == ours["checked"]["proofs"] == theirs["checked"]["proofs"]
    assert ours["checked"]["files"] == theirs["checked"]["files"] == 8
    assert ours["checked"]["signatures"] == 2  # checkpoint + manifest
    with Archive(world["db"]) as archive:
        latest = Ledger(archive).latest_checkpoint()
        origin = Ledger(archive).origin
    assert ours["checkpoint"] == {"origin": origin, "tree_size": latest.tree_size, "root": latest.root.hex(),
                                  "signed_by": f"{world['key'].name}+{world['key'].key_id:08x}"}
    assert theirs["checkpoint"] == ours["checkpoint"] and theirs["signature_checked"] is True
    assert ours["withheld"] == {"messages": 0, "fields": {}} and ours["timestamp"] is None
    # checked against the archive's key given independently: still fine, no note about the package's own key
    key = str(world["key"].verifier)
    ours, _ = both(pkg(world, "plain"), pubkey=key)
    assert ours["ok"] and not any("pubkey.txt" in n for n in ours["notices"])


def test_layout_manifest_and_custody_log(world) -> None:
    files = members(pkg(world, "plain"))
    assert set(files) == {"README.txt", "manifest.json", "manifest.sig", "custody.json", "messages.html",
                          "messages.jsonl", "proofs.jsonl", "checkpoint.txt", "pubkey.txt", "verify.py"}
    assert list(files)[0] == "README.txt"
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json", "manifest.sig"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest()
        assert entry["md5"] == hashlib.md5(files[name]).hexdigest()
        assert entry["size"] == len(files[name])
    assert manifest["pdf"] == {"included": False, "reason": "not requested (--no-pdf)"}
    assert files["verify.py"] == Path(S.__file__).read_bytes()
    custody = json.loads(files["custody.json"])
    event = custody["events"][0]
    assert event["action"] == "exported" and event["at"] == manifest["created_at"]
    assert event["command_line"] == "chataudit evidence export --conversation shop-1001"
    assert event["tool"]["name"] == "chataudit" and event["tool"]["version"]
    assert event["operator"]
    with Archive(world["db"], create=False) as archive:  # the file's resolved path (a database's URL)
        assert custody["archive"]["path"] == archive.location()
        assert archive.location() in (str(world["db"].resolve()), getattr(archive, "url", None))
    assert custody["archive"]["verifier_key"] == files["pubkey.txt"].decode().strip()
    assert custody["selection"]["conversation"]["native_id"] == "shop-1001"
    assert custody["selection"]["messages"] == 8 == len(files["messages.jsonl"].splitlines())
    lines = [json.loads(line) for line in files["messages.jsonl"].splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, 9))
    assert lines[0]["text"] == "你好，我买的外套有瑕疵，想退货" and lines[0]["sender_name"] == "王女士"
    assert lines[4]["kind"] == "transfer" and lines[4]["amount"] == "299.00"
    proofs = [json.loads(line) for line in files["proofs.jsonl"].splitlines()]
    assert [p["id"] for p in proofs] == [line["id"] for line in lines]
    assert files["checkpoint.txt"].decode().startswith(custody["archive"]["origin"] + "\n")
    assert "python verify.py plain.zip" in files["README.txt"].decode()


# ---- any changed byte is named ---------------------------------------------------------------------------------

def test_any_changed_byte_of_any_file_is_named(world, tmp_path) -> None:
    original = pkg(world, "family")
    files = members(original)
    assert any(name.startswith("attachments/") for name in files)
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    for name, data in files.items():
        for at in sorted({len(data) // 3, len(data) // 2, len(data) - 3}):
            damaged = rewrite(original, tmp_path / "damaged.zip", {name: flip(data, at)})
            ours, theirs = both(damaged)
            assert not ours["ok"], (name, at)
            assert name in named_files(ours), (name, at, ours["problems"])
    # a byte changed in the zip itself, not through zipfile: the member's CRC no longer matches
    raw = bytearray(original.read_bytes())
    with zipfile.ZipFile(original) as z:
        info = z.getinfo("messages.jsonl")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0x40
    (tmp_path / "crc.zip").write_bytes(bytes(raw))
    ours, _ = both(tmp_path / "crc.zip")
    assert not ours["ok"] and "messages.jsonl" in named_files(ours)


def test_random_damage_never_crashes_a_verifier_and_both_agree(world, tmp_path) -> None:
    """JSON values swapped for odd types and random bytes: always a report, never a traceback."""
    rng = random.Random(7)
    odd = [None, 0, 1, True, -1, 1.5, "", "x", [], {}, [1], {"a": 1}, "A" * 43, 10 ** 30]
    files = members(pkg(world, "redacted"))

    def mutate(value):
        if isinstance(value, (dict, list)) and value:
            key = rng.choice(list(value)) if isinstance(value, dict) else rng.randrange(len(value))
            value[key] = rng.choice(odd) if rng.random() < 0.5 else mutate(value[key])
            return value
        return rng.choice(odd)

    for _ in range(150):
        name = rng.choice(sorted(files))
        data = files[name]
        if name.endswith(".jsonl"):
            lines = data.splitlines()
            i = rng.randrange(len(lines))
            lines[i] = json.dumps(mutate(json.loads(lines[i])), ensure_ascii=False).encode()
            changed = b"\n".join(lines) + b"\n"
        elif name.endswith(".json"):
            changed = json.dumps(mutate(json.loads(data)), ensure_ascii=False, indent=2).encode()
        else:
            changed = flip(data, rng.randrange(len(data)))
        if changed == data:
            continue
        damaged = rewrite(pkg(world, "redacted"), tmp_path / "r.zip", {name: changed})
        ours, theirs = verify_package(damaged), S.verify(damaged).as_dict()
        assert not ours["ok"] and not theirs["ok"] and name in named_files(ours)
        assert named_files(ours) == named_files(theirs) and named_messages(ours) == named_messages(theirs)


def test_removed_and_added_files_are_named(world, tmp_path) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    ours, _ = both(rewrite(pkg(world, "family"), tmp_path / "x.zip", {"messages.html": None}))
    assert any(p["kind"] == "missing_file" and p["file"] == "messages.html" for p in ours["problems"])
    ours, _ = both(rewrite(pkg(world, "family"), tmp_path / "y.zip", {"extra/note.txt": b"added later"}))
    assert [p["kind"] for p in ours["problems"]] == ["unlisted_file"] and named_files(ours) == {"extra/note.txt"}


# ---- withheld fields ----------------------------------------------------------------------------------------------

def test_withheld_fields_verify_and_their_values_are_nowhere(world) -> None:
    package = pkg(world, "withheld")
    ours, theirs = both(package)
    assert ours["ok"], ours["problems"]
    rows = world["rows"]["wxid_wangjianguo"]
    names = {m["sender_name"] for m in rows}
    assert ours["withheld"] == theirs["withheld"] == {"messages": len(rows), "fields": {"text": 2, "sender_name": len(rows)}}
    assert world["packages"]["withheld"].warnings == []
    secrets = [m["text"] for m in world["held_texts"]] + sorted(names)
    files = members(package)
    for name, data in files.items():
        for secret in secrets:
            assert secret.encode() not in data, (secret, name)
            assert secret not in name
    for secret in secrets:
        assert secret.encode() not in package.read_bytes()
    lines = {json.loads(line)["id"]: json.loads(line) for line in files["messages.jsonl"].splitlines()}
    held = lines[world["held_texts"][0]["id"]]
    assert held["text"] is None and "text" not in held["disclosures"] and len(held["withheld"]["text"]) == 43
    assert held["withheld_reason"] == {"text": "withhold", "sender_name": "withhold"}
    assert all(line["sender_name"] is None for line in lines.values())
    assert lines[rows[2]["id"]]["text"] == rows[2]["text"]  # the others are disclosed as they were
    html = files["messages.html"].decode()
    assert "text withheld" in html and html.count('class="withheld"') >= len(rows)
    custody = json.loads(files["custody.json"])
    assert custody["withheld"]["fields"] == {"text": 2, "sender_name": len(rows)}
    assert custody["selection"]["conversation"]["title"] == "[withheld]"  # the chat is named after a withheld name


def test_wechat_extras_disclosed_and_withheld(world) -> None:
    ours, _ = both(pkg(world, "meimei"))
    assert ours["ok"] and ours["messages"] == 20
    lines = [json.loads(line) for line in members(pkg(world, "meimei"))["messages.jsonl"].splitlines()]
    assert lines[10]["extras"]["pay_memo"] == "房租" and lines[10]["amount"] == "5000.00"
    ours, _ = both(pkg(world, "extras"))
    assert ours["ok"] and ours["withheld"]["fields"]["extras"] == 20
    files = members(pkg(world, "extras"))
    for secret in ("1000050001202603120612345678901", "0c1f9a5d2b7e4c3a8f6e1d0b9a8c7e6f", "wxid_lilei2024"):
        assert all(secret.encode() not in data for data in files.values()), secret


def test_a_withheld_attachment_travels_as_its_digest_only(world) -> None:
    package = pkg(world, "photo")
    ours, _ = both(package)
    assert ours["ok"] and ours["withheld"] == {"messages": 1, "fields": {"text": 1, "attachments": 1}}
    photo = world["photo"]
    attachment = photo["attachments"][0]
    image = (world["folder"] / "ios_group" / attachment["path"]).read_bytes()
    for name, data in members(package).items():
        assert not name.startswith("attachments/")
        assert data != image
        for secret in (attachment["name"], attachment["sha256"]):
            assert secret.encode() not in data and secret not in name, (secret, name)


# ---- redaction ----------------------------------------------------------------------------------------------------

def test_redacted_package_holds_no_personal_data_and_verifies(world) -> None:
    package = pkg(world, "redacted")
    ours, theirs = both(package)
    assert ours["ok"], ours["problems"]
    found = json.loads((FIXTURES / "pii" / "dispute.expected.json").read_text(encoding="utf-8"))
    values = {f["value"] for f in found}
    assert len(values) >= 15
    files = members(package)
    for name, data in files.items():
        for value in values:
            assert value.encode() not in data, (value, name)
            assert value not in name
    lines = [json.loads(line) for line in files["messages.jsonl"].splitlines()]
    third = lines[2]  # 身份证…，银行卡…，手机…
    assert third["text"] is None and third["withheld_reason"]["text"] == "redact"
    assert "<身份证>" in third["redacted"]["text"] and third["redacted"]["text"].endswith("8000")
    assert all(line["sender_name"] is None and line["sender_id"] is None for line in lines)
    assert lines[0]["text"].startswith("你好，我上周买的空调坏了")  # nothing personal: disclosed as it is
    html = files["messages.html"].decode()
    assert "Redacted rendering" in html and "不能证明原文措辞" in html and "已去标识" in html
    assert json.loads(files["manifest.json"])["redacted_rendering"] is True
    assert ours["withheld"]["fields"]["text"] == theirs["withheld"]["fields"]["text"] >= 5


# ---- deeper tampering: proofs, keys, checkpoints, custody ---------------------------------------------------------------

def test_a_tampered_proof_is_named_by_message(world, tmp_path) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    files = members(pkg(world, "plain"))
    proofs = [json.loads(line) for line in files["proofs.jsonl"].splitlines()]
    victim = proofs[3]
    victim["proof"][0] = ("0" if victim["proof"][0][0] != "0" else "1") + victim["proof"][0][1:]
    data = b"".join(json.dumps(p).encode() + b"\n" for p in proofs)
    ours, _ = both(reseal(pkg(world, "plain"), tmp_path / "p.zip", {"proofs.jsonl": data}, world["key"]))
    assert [(p["kind"], p.get("file"), p["message"]["id"]) for p in ours["problems"]] == \
        [("proof", "proofs.jsonl", victim["id"])]


def test_changed_text_with_a_resealed_manifest_is_named_by_message(world, tmp_path) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    files = members(pkg(world, "plain"))
    lines = [json.loads(line) for line in files["messages.jsonl"].splitlines()]
    lines[1]["text"] = lines[1]["text"].replace("很高兴", "不高兴")
    data = b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)
    ours, _ = both(reseal(pkg(world, "plain"), tmp_path / "t.zip", {"messages.jsonl": data}, world["key"]))
    assert [(p["kind"], p["message"]["id"]) for p in ours["problems"]] == [("message", lines[1]["id"])]
    assert "disclosure" in ours["problems"][0]["detail"]
    # the same text change with a forged disclosure and digest: the leaf no longer matches the signed one
    lines[1]["disclosures"]["text"] = base64.urlsafe_b64encode(
        json.dumps(["0" * 32, "text", lines[1]["text"]], ensure_ascii=False, separators=(",", ":")).encode()
    ).decode().rstrip("=")
    data = b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)
    ours, _ = both(reseal(pkg(world, "plain"), tmp_path / "u.zip", {"messages.jsonl": data}, world["key"]))
    assert [(p["kind"], p["message"]["id"]) for p in ours["problems"]] == [("message", lines[1]["id"])]
    assert "_sd.text" in ours["problems"][0]["detail"]


def test_a_wrong_pubkey_is_named(world, tmp_path) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    other = str(Signer.generate("someone-else").verifier)
    ours, theirs = both(pkg(world, "plain"), pubkey=other)
    kinds = {(p["kind"], p.get("file")) for p in ours["problems"]}
    assert {("pubkey", "pubkey.txt"), ("checkpoint_signature", "checkpoint.txt"),
            ("manifest_signature", "manifest.sig")} <= kinds
    assert ours["checkpoint"] is None and theirs["checkpoint"] is None


def test_a_replaced_checkpoint_is_named(world, tmp_path) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    copy = tmp_path / "copy.db"
    shutil.copy(world["db"], copy)
    shutil.copy(str(world["db"]) + ".key", str(copy) + ".key")
    with Archive(copy) as archive:
        assert not import_paths(archive, [FIXTURES / "generic" / "family.jsonl"]).errors
        newer = Ledger(archive).latest_checkpoint()
    package = reseal(pkg(world, "plain"), tmp_path / "c.zip", {"checkpoint.txt": newer.note.encode()}, world["key"])
    ours, theirs = both(package)
    kinds = {p["kind"] for p in ours["problems"]}
    assert kinds == {"proof", "custody"}
    assert len(named_messages(ours)) == 8  # every proof is for a tree the checkpoint no longer is
    assert any("tree_size" in p["detail"] for p in ours["problems"] if p["kind"] == "custody")
    # a checkpoint signed by another key, with that key as pubkey.txt: only a trusted --pubkey tells
    forger = Signer.generate(json.loads(members(pkg(world, "plain"))["custody.json"])["archive"]["origin"])
    forged = sign(newer.note.split("\n\n")[0] + "\n", forger)
    package = reseal(pkg(world, "plain"), tmp_path / "f.zip",
                     {"checkpoint.txt": forged.encode(), "pubkey.txt": (str(forger.verifier) + "\n").encode()},
                     world["key"])
    ours, _ = both(package, pubkey=str(world["key"].verifier))
    assert ("checkpoint_signature", "checkpoint.txt") in {(p["kind"], p.get("file")) for p in ours["problems"]}
    assert ("pubkey", "pubkey.txt") in {(p["kind"], p.get("file")) for p in ours["problems"]}


def test_custody_log_must_agree_with_the_package(world, tmp_path) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    files = members(pkg(world, "statements"))
    custody = json.loads(files["custody.json"])
    custody["documents"][0]["sha256"] = "0" * 64
    custody["selection"]["messages"] += 1
    ours, _ = both(reseal(pkg(world, "statements"), tmp_path / "s.zip",
                          {"custody.json": json.dumps(custody).encode()}, world["key"]))
    details = [p["detail"] for p in ours["problems"] if p["kind"] == "custody"]
    assert named_files(ours) == {"custody.json"} and len(details) == 2
    assert any("documents" in d for d in details) and any("messages were exported" in d for d in details)


# ---- zip-slip, zip bombs, junk ----------------------------------------------------------------------------------------

def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            z.writestr(info, data)
    return path


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize("entries,expected", [
    ([("../evil.txt", b"x")], "path traversal"),
    ([("docs/../../evil.txt", b"x")], "path traversal"),
    ([("/etc/evil.txt", b"x")], "absolute path"),
    ([("C:/evil.txt", b"x")], "absolute path"),
    ([("docs\\..\\evil.txt", b"x")], "backslash"),
    ([(_symlink("pubkey.txt"), b"/etc/passwd")], "symbolic link"),
    ([("a.txt", b"1"), ("A.TXT", b"2")], "appears twice"),
    ([("messages.jsonl", bytes(40 << 20))], "zip bomb"),
])
def test_unsafe_packages_are_refused(tmp_path, entries, expected) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    package = _zip(tmp_path / "bad.zip", entries)
    ours, theirs = both(package)
    assert [p["kind"] for p in ours["problems"]] == ["unsafe_package"]
    assert expected in ours["problems"][0]["detail"] and expected in theirs["problems"][0]["detail"]
    assert not (tmp_path.parent / "evil.txt").exists() and not Path("/etc/evil.txt").exists()


def test_too_many_entries_big_members_and_junk_are_refused(tmp_path) -> None:
    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    many = _zip(tmp_path / "many.zip", [(f"f{i}", b"") for i in range(S.Limits().max_entries + 1)])
    ours, _ = both(many)
    assert "entries, more than the limit" in ours["problems"][0]["detail"]
    big = _zip(tmp_path / "big.zip", [("messages.jsonl", os.urandom(3 << 20))])
    report = verify_package(big, limits=S.Limits(max_member_bytes=1 << 20))
    assert report["problems"][0]["kind"] == "unsafe_package" and "limit of 1.0 MiB per file" in report["problems"][0]["detail"]
    report = verify_package(big, limits=S.Limits(max_total_bytes=2 << 20))
    assert "in total" in report["problems"][0]["detail"]
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    ours, _ = both(tmp_path / "junk.zip")
    assert "not a readable zip" in ours["problems"][0]["detail"]


# ---- attachments, documents, statements, timestamp, PDF -------------------------------------------------------------------

def test_attachments_beside_the_export_are_copied_and_checked(world, tmp_path) -> None:
    files = members(pkg(world, "family"))
    photo = world["photo"]
    name = next(n for n in files if n.startswith("attachments/"))
    assert name == f"attachments/{photo['id']}-0-{photo['attachments'][0]['name']}"
    assert files[name] == (world["folder"] / "ios_group" / photo["attachments"][0]["path"]).read_bytes()
    entry = next(f for f in json.loads(files["manifest.json"])["files"] if f["path"] == name)
    assert entry == dict(entry, role="attachment", message=photo["id"], index=0, committed=True)
    assert verify_package(pkg(world, "family"))["checked"]["attachments"] == 1
    custody = json.loads(files["custody.json"])
    assert custody["attachments"]["included"] == 1
    assert [a["reason"] for a in custody["attachments"]["not_included"]] == ["the export gave no file path"]
    # the file beside the export changed after the import: it is not taken, and the log says why
    folder = tmp_path / "ios_group"
    shutil.copytree(FIXTURES / "whatsapp" / "ios_group", folder)
    with Archive(tmp_path / "b.db") as archive:
        assert not import_paths(archive, [folder], tz="Asia/Shanghai").errors
        (folder / photo["attachments"][0]["path"]).write_bytes(b"a different picture")
        result = export_package(archive, tmp_path / "b.zip", conversation="Family 🏡", pdf=False)
    assert result.attachments == {"included": 0, "not_included": 2}
    custody = json.loads(members(tmp_path / "b.zip")["custody.json"])
    assert "recorded at import" in custody["attachments"]["not_included"][0]["reason"]
    assert verify_package(tmp_path / "b.zip")["ok"]


def test_documents_statements_and_matches_travel_along(world) -> None:
    package = pkg(world, "statements")
    ours, _ = both(package)
    assert ours["ok"], ours["problems"]
    files = members(package)
    assert files["documents/agreement.pdf"] == (world["folder"] / "agreement.pdf").read_bytes()
    assert files["statements/bank_statement.csv"] == (FIXTURES / "statements" / "bank_statement.csv").read_bytes()
    matches = json.loads(files["statements/matches.json"])
    assert matches["summary"]["matched"] >= 3
    ids = {json.loads(line)["id"] for line in files["messages.jsonl"].splitlines()}
    first = matches["matched"][0]
    assert first["message"]["in_package"] and first["message"]["id"] in ids
    assert first["transaction"]["path"].startswith("statements/")
    assert all(s["path"].startswith("statements/") for s in matches["summary"]["statements"])
    custody = json.loads(files["custody.json"])
    assert [d["path"] for d in custody["documents"]] == ["documents/agreement.pdf"]
    assert {s["format"] for s in custody["statements"]} == {"bank-csv", "wechat-pay"}
    assert "资金流水比对" in files["messages.html"].decode()


def test_the_timestamp_token_travels_and_is_checked(world, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from test_ledger_tsa import Responder, make_ca, make_tsa_cert

    from chataudit.ledger.tsa import stamp_latest

    shutil.copy(Path(S.__file__), tmp_path / "verify.py")
    ca_key, ca_cert = make_ca()
    tsa_key, tsa_cert = make_tsa_cert(ca_key, ca_cert)
    responder = Responder(tsa_key, tsa_cert)
    copy = tmp_path / "copy.db"
    shutil.copy(world["db"], copy)
    shutil.copy(str(world["db"]) + ".key", str(copy) + ".key")
    try:
        with Archive(copy) as archive:
            stamp_latest(Ledger(archive), responder.url, ca_cert.public_bytes(serialization.Encoding.PEM).decode())
            # a later import: the package still proves against the time-stamped checkpoint
            assert not import_paths(archive, [FIXTURES / "generic" / "family.jsonl"]).errors
            result = export_package(archive, tmp_path / "ts.zip", conversation="shop-1001", pdf=False)
            stamped = Ledger(archive).checkpoints()[-2]
    finally:
        responder.close()
    assert result.checkpoint["id"] == stamped.id and result.timestamp["tsa"] == responder.url
    ours, theirs = both(tmp_path / "ts.zip")
    assert ours["ok"] and ours["timestamp"]["chain_verified"] is True
    assert ours["timestamp"]["gen_time"][:16] == result.timestamp["gen_time"][:16]
    assert theirs["timestamp"] == {"imprint_found": True, "signature_checked": False}
    files = members(tmp_path / "ts.zip")
    assert {"checkpoint.tsr", "tsa-ca.pem"} <= set(files)
    # the token's signature broken (manifest resealed): chataudit names it; verify.py cannot check CMS and says so
    token = files["checkpoint.tsr"]
    broken = reseal(tmp_path / "ts.zip", tmp_path / "b.zip", {"checkpoint.tsr": flip(token, len(token) - 10)},
                    world["key"])
    ours = verify_package(broken)
    assert [(p["kind"], p["file"]) for p in ours["problems"]] == [("timestamp", "checkpoint.tsr")]
    code, theirs, _ = standalone(broken)
    assert code == 0 and any("openssl ts -verify" in n for n in theirs["notices"])
    # a token for another checkpoint: both verifiers see the imprint is not this checkpoint's
    other = reseal(tmp_path / "ts.zip", tmp_path / "o.zip", {"checkpoint.tsr": token.replace(
        hashlib.sha256(files["checkpoint.txt"]).digest(), bytes(32))}, world["key"])
    ours, _ = both(other)
    assert ("timestamp", "checkpoint.tsr") in {(p["kind"], p["file"]) for p in ours["problems"]}


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_pdf_is_printed_with_chromium(world, tmp_path) -> None:
    with Archive(world["db"]) as archive:
        result = export_package(archive, tmp_path / "pdf.zip", conversation="shop-1001", pdf=True)
    assert result.pdf == {"included": True}
    files = members(tmp_path / "pdf.zip")
    assert files["messages.pdf"].startswith(b"%PDF-") and len(files["messages.pdf"]) > 20_000
    assert verify_package(tmp_path / "pdf.zip")["ok"]


def test_without_chromium_the_pdf_is_skipped_and_said(world, tmp_path) -> None:
    with Archive(world["db"]) as archive:
        result = export_package(archive, tmp_path / "nopdf.zip", conversation="shop-1001", pdf=True,
                                chromium=tmp_path / "no-chromium")
    assert not result.pdf["included"] and "no Chromium" in result.pdf["reason"]
    files = members(tmp_path / "nopdf.zip")
    assert "messages.pdf" not in files
    assert json.loads(files["manifest.json"])["pdf"] == result.pdf
    assert "no Chromium" in files["README.txt"].decode()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_rendering_in_chromium(world, tmp_path) -> None:
    from playwright import sync_api as playwright

    shots = Path(os.environ.get("CHATAUDIT_SCREENSHOTS", tmp_path))
    for name in ("redacted", "withheld", "family"):
        folder = tmp_path / name
        with zipfile.ZipFile(pkg(world, name)) as z:
            z.extractall(folder)
        requests = []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto((folder / "messages.html").as_uri())
            rows = page.locator("table.transcript tr[id^=m]").count()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.screenshot(path=str(shots / f"evidence-{name}.png"), full_page=True)
            page.emulate_media(media="print")
            page.set_viewport_size({"width": 794, "height": 1123})
            print_overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.screenshot(path=str(shots / f"evidence-{name}-print.png"))
            browser.close()
        assert rows == world["packages"][name].messages
        assert overflow <= 0 and print_overflow <= 0
        assert all(url.startswith("file:") for url in requests), requests


# ---- the standalone verifier on its own ----------------------------------------------------------------------------------

def test_standalone_without_cryptography_says_the_signatures_were_not_checked(world, tmp_path) -> None:
    package = tmp_path / "plain.zip"
    shutil.copy(pkg(world, "plain"), package)
    (tmp_path / "verify.py").write_bytes(members(package)["verify.py"])
    blocker = ("import runpy, sys; sys.modules['cryptography'] = None; "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    code, report, _ = standalone(package, python=[sys.executable, "-c", blocker])
    assert code == 2 and report["ok"] and report["signature_checked"] is False
    assert any("NOT checked" in n for n in report["notices"])
    text = subprocess.run([sys.executable, "-c", blocker, str(tmp_path / "verify.py"), str(package)],
                          capture_output=True, text=True).stdout
    assert "INCOMPLETE (signatures not checked)" in text
    # a damaged package still fails without it
    damaged = rewrite(package, tmp_path / "d.zip", {"messages.jsonl": flip(members(package)["messages.jsonl"])})
    code, report, _ = standalone(damaged, python=[sys.executable, "-c", blocker])
    assert code == 1 and "messages.jsonl" in named_files(report)


def test_standalone_uses_the_standard_library_only() -> None:
    source = Path(S.__file__).read_text(encoding="utf-8")
    imported = {line.split()[1].split(".")[0] for line in source.splitlines()
                if line.lstrip().startswith(("import ", "from ")) and "__future__" not in line}
    assert imported <= set(sys.stdlib_module_names) | {"cryptography"}
    assert "from chataudit" not in source and "import chataudit" not in source and "from ." not in source


# ---- command line ----------------------------------------------------------------------------------------------------------

def test_cli_export_and_verify(world, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CHATAUDIT_KEYS", str(tmp_path / "keys"))
    runner = CliRunner()
    message = world["rows"]["shop-1001"][1]["id"]
    out = tmp_path / "cli.zip"
    result = runner.invoke(cli, ["--db", str(world["db"]), "--operator", "Li Lei (paralegal)", "evidence",
                                         "export", "--conversation", "shop-1001",
                                         "--since", "2026-03-12", "--until", "2026-03-12", "--withhold", f"text:{message}",
                                         "--no-pdf", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "text × 1" in result.output
    custody = json.loads(members(out)["custody.json"])
    assert custody["events"][0]["operator"] == "Li Lei (paralegal)"
    assert custody["selection"]["since"] == "2026-03-12" and custody["selection"]["until_ms"] is not None
    result = runner.invoke(cli, ["evidence", "verify", str(out), "--json", "--pubkey", str(world["key"].verifier)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["withheld"] == {"messages": 1, "fields": {"text": 1}}
    damaged = rewrite(out, tmp_path / "damaged.zip", {"custody.json": flip(members(out)["custody.json"])})
    result = runner.invoke(cli, ["evidence", "verify", str(damaged)])
    assert result.exit_code == 1 and "FILE_HASH: custody.json" in result.output and "FAILED" in result.output


@pytest.mark.parametrize("spec,error", [
    ("text", "use FIELD:IDS"), ("colour:1", "use FIELD:IDS"), ("text:one", "message ids are numbers"),
    ("text:999999", "not among the 8 exported messages"),
])
def test_cli_refuses_bad_withhold_specs(world, tmp_path, spec, error) -> None:
    result = CliRunner().invoke(cli, ["--db", str(world["db"]), "evidence", "export", "--conversation",
                                              "shop-1001", "--withhold", spec, "--no-pdf", "--out", str(tmp_path / "x.zip")])
    assert result.exit_code == 1 and error in result.output and not (tmp_path / "x.zip").exists()


def test_parse_withhold() -> None:
    assert parse_withhold(["text:1,2", "text:3", "sender:all", "attachments:7"]) == {
        "text": {1, 2, 3}, "sender_id": None, "sender_name": None, "attachments": {7}}
    assert parse_withhold(["text:all", "text:4"]) == {"text": None}
    with pytest.raises(ChatAuditError):
        parse_withhold(["sender_name"])


def test_an_archive_without_messages_in_the_period_is_an_error(world, tmp_path) -> None:
    with Archive(world["db"]) as archive, pytest.raises(ChatAuditError, match="no messages"):
        export_package(archive, tmp_path / "e.zip", conversation="shop-1001", since_ms=0, until_ms=1, pdf=False)
