"""Accuracy and speed of reading chat screenshots, on a rendered set (figures in README).

    .venv/bin/python bench/bench_screenshots.py --count 100 --out /tmp/shots

Renders COUNT random screenshots of nine layouts in turn — six phone apps, WeChat (transfers),
WhatsApp, WeCom, DingTalk, Feishu (read receipts) and Telegram, light and dark; and three desktop
clients, WeChat, WeCom and Telegram Desktop at 150 % or 200 % — private chats and groups, with quoted
replies, file cards and bubbles the writer broke into lines, with tests/fixtures/screenshots/render.py,
reads each and reports, per layout and in all, against the expected reading:
character error rate (Levenshtein over the comparison form, emoji excluded: the OCR does not read
them), message-level accuracy (text, side, kind, instant and amount all right), sender side
accuracy, time separators read, line breaks, quoted replies, group senders and file cards read,
seconds per screenshot, and image signals raised on the untouched
screenshots (false alarms). Then it doctors them as an editor would — one line retyped two pixels
larger, one of the owner's bubbles pasted on the other side — and counts how many the image
signals catch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from concurrent.futures import as_completed
from datetime import datetime
from difflib import SequenceMatcher
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "screenshots"))

from rapidfuzz.distance import Levenshtein  # noqa: E402

import render  # noqa: E402
from chataudit.compare.align import normalize  # noqa: E402
from chataudit.model import Message  # noqa: E402
from chataudit.screenshots import records  # noqa: E402
from chataudit.screenshots.reader import parse_separator, read_image  # noqa: E402
from chataudit.screenshots.signals import image_signals  # noqa: E402


def plain(text: str) -> str:
    return "".join(ch for ch in normalize(text) if unicodedata.category(ch) != "So")


def side_of(message: Message) -> str:
    return "right" if message.is_me else ("center" if message.is_me is None else "left")


def measure(folder: Path, names: list[str]) -> dict:
    totals = dict(chars=0, errors=0, messages=0, exact=0, sides=0, separators=0, separators_read=0, seconds=0.0,
                  images=0, false_alarms=0, broken=0, breaks_right=0, break_count=0, quotes=0, quotes_read=0,
                  named=0, names_right=0, files=0, files_read=0, cpu=0.0)
    alarms = []
    for name in names:
        truth = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        started, cpu = time.perf_counter(), time.process_time()
        reading = read_image(folder / f"{name}.png")
        read = [r for r in records([folder / f"{name}.png"], None) if isinstance(r, Message)]
        totals["seconds"] += time.perf_counter() - started
        totals["cpu"] += time.process_time() - cpu
        totals["images"] += 1
        want = truth["messages"]
        matcher = SequenceMatcher(a=[plain(m["text"]) + m["side"] for m in want],
                                  b=[plain(m.text) + side_of(m) for m in read], autojunk=False)
        paired: dict[int, int] = {}
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op in ("equal", "replace"):
                for k in range(min(a1 - a0, b1 - b0)):
                    paired[a0 + k] = b0 + k
        for index, expected in enumerate(want):
            totals["messages"] += 1
            totals["chars"] += len(plain(expected["text"]))
            if index not in paired:
                totals["errors"] += len(plain(expected["text"]))
                continue
            got = read[paired[index]]
            totals["errors"] += Levenshtein.distance(plain(got.text), plain(expected["text"]))
            # line breaks: every message, so a wrapped line read as a break counts against it too
            totals["break_count"] += got.text.count("\n") == expected["text"].count("\n")
            if "\n" in expected["text"]:
                totals["broken"] += 1
                totals["breaks_right"] += [plain(p) for p in got.text.split("\n")] == \
                    [plain(p) for p in expected["text"].split("\n")]
            if expected.get("quote"):
                quote = got.extras["screenshot"].get("quote") or {}
                totals["quotes"] += 1
                totals["quotes_read"] += (
                    Levenshtein.distance(plain(quote.get("sender", "")), plain(expected["quote"]["sender"])) <= 1
                    and Levenshtein.normalized_distance(plain(quote.get("text", "")),
                                                        plain(expected["quote"]["text"])) <= 0.1)
            if truth.get("group") and expected["side"] == "left":
                totals["named"] += 1
                totals["names_right"] += Levenshtein.distance(plain(got.sender_name or ""), plain(expected["sender"])) <= 1
            if expected["kind"] == "file":
                totals["files"] += 1
                totals["files_read"] += (str(got.kind) == "file"
                                         and got.extras["screenshot"].get("file_size") == expected["size"])
            same_side = side_of(got) == expected["side"]
            totals["sides"] += same_side
            totals["exact"] += (same_side and plain(got.text) == plain(expected["text"])
                                and str(got.kind) == expected["kind"] and got.amount == expected.get("amount")
                                and got.sent_at.replace(tzinfo=None) == datetime.fromisoformat(expected["at"]))
        for extra in range(len(read)):
            if extra not in paired.values():
                totals["errors"] += len(plain(read[extra].text))
        spec_times = [datetime.fromisoformat(item["at"]) for item in truth.get("separators", [])]
        anchor = datetime.fromisoformat(truth["captured"]).date()
        got_times = [parse_separator(b.text, anchor) for b in reading.blocks if b.role == "time"]
        totals["separators"] += len(spec_times)
        totals["separators_read"] += sum(1 for t in spec_times if t in got_times)
        signals = image_signals(reading, anchor_day=anchor)
        if signals:
            totals["false_alarms"] += 1
            alarms.append((name, [s["detail"] for s in signals]))
    totals["alarms"] = alarms
    return totals


def retype(folder: Path, name: str, truth: dict, reading) -> tuple[Path, dict] | None:
    """One Han body line painted over with the bubble's colour and typed again in the same family two
    pixels larger, as an editor's text tool does (no hinting, grey anti-aliasing): the doctored file and
    what was retyped, or None when the screen has fewer than three such lines."""
    from PIL import Image, ImageDraw, ImageFont

    texts = [b for b in reading.blocks if b.role == "message" and b.kind == "text" and not b.cut]
    lines = [(b, line) for b in texts for line in b.lines if sum(1 for ch in line.text if "\u4e00" <= ch <= "\u9fff") >= 4
             and not (b.clock and line is b.lines[-1])]  # a body line, not the one ending with the bubble's time
    if len(lines) < 3:
        return None
    block, line = lines[len(lines) // 2]
    image = Image.open(folder / f"{name}.png").convert("RGB")
    x, y, w, h = line.box
    draw = ImageDraw.Draw(image)
    draw.rectangle([x, y + 2, x + w, y + h - 2], fill=block.fill)
    size = 34 if reading.client == "phone" else round(14 * truth.get("scale", 2)) + 2  # the body's size + 2 px
    draw.text((x + 2, y + 2), line.text, font=ImageFont.truetype(render.CJK_FONT, size, index=2),
              fill=(17, 17, 17) if sum(block.fill) > 380 else (213, 213, 213))
    target = folder / f"{name}_retyped.png"
    image.save(target, exif=render._exif(truth["captured"]))
    return target, {"text": line.text, "bbox": list(line.box), "side": block.side, "size": size}


def move(folder: Path, name: str, truth: dict, reading) -> tuple[Path, dict] | None:
    """The first of the owner's text bubbles cut and pasted where the other side's bubbles sit."""
    from PIL import Image, ImageDraw

    texts = [b for b in reading.blocks if b.role == "message" and b.kind == "text" and not b.cut]
    mine = [b for b in texts if b.side == "right"]
    if not mine:
        return None
    block = mine[0]
    image = Image.open(folder / f"{name}.png").convert("RGB")
    bx, by, bw, bh = block.box
    if block.quote and block.quote.get("bbox"):  # WeChat's quote block under it moves with it
        qx, qy, qw, qh = block.quote["bbox"]
        bx, bw, bh = min(bx, qx), max(bx + bw, qx + qw) - min(bx, qx), max(by + bh, qy + qh) - by
    piece = image.crop((bx, by, bx + bw, by + bh))
    ImageDraw.Draw(image).rectangle([bx, by, image.width - 1, by + bh], fill=reading.background)
    lefts = [b.box[0] for b in reading.blocks if b.role == "message" and b.side == "left"]
    pane = reading.pane[0] if reading.pane else 0
    usual = (124 if reading.avatars else 16) if reading.client == "phone" else int(68 * truth.get("scale", 2))
    image.paste(piece, (min(lefts) if lefts else pane + usual, by))  # where left bubbles sit
    target = folder / f"{name}_moved.png"
    image.save(target, exif=render._exif(truth["captured"]))
    return target, {"text": block.text, "bbox": list(block.box)}


def doctor_all(folder: Path, names: list[str]) -> dict:
    """Retype one CJK line 2 px larger; paste one owner's bubble on the left. Caught by the signals?"""
    caught = dict(retyped=0, retyped_caught=0, moved=0, moved_caught=0, misses=[])
    for name in names:
        truth = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        reading = read_image(folder / f"{name}.png")
        anchor = datetime.fromisoformat(truth["captured"]).date()
        for kind, make, checks in (("retyped", retype, ("font_consistency", "text_padding")), ("moved", move, ("bubble_geometry",))):
            made = make(folder, name, truth, reading)
            if made is None:
                continue
            target, what = made
            signals = image_signals(read_image(target), anchor_day=anchor)
            caught[kind] += 1
            if any(s["check"] in checks for s in signals):
                caught[f"{kind}_caught"] += 1
            else:
                caught["misses"].append((target.name, reading.theme, what))
    return caught


def _warm() -> None:
    """A worker's start: the OCR engine loaded outside the timing, as the single process does."""
    from chataudit.screenshots import ocr

    ocr.engine()


def _layout(folder: Path, names: list[str]) -> tuple[dict, dict]:
    """One layout's figures: its untouched shots measured, then doctored (a worker's unit)."""
    return measure(folder, names), doctor_all(folder, names)


CHUNK = 5  # shots a worker reads, then doctors, as one piece (--jobs)


def _render_chunk(specs: dict[str, dict], out: Path) -> dict[str, dict]:
    render.render(specs, out)
    return specs  # as rendered: a chat taller than the screen lost its oldest runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--out", type=Path, default=Path("/tmp/chataudit-shots"))
    parser.add_argument("--seed", type=int, default=17, help="the render's seed (17: the main set; another: a hold-out)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes: the render in chunks and the layouts "
                        "read in parallel (the CPU per shot is still each read's own process time)")
    parser.add_argument("--reuse", action="store_true", help="read the shots an earlier run of this seed and count "
                        "rendered into --out (each NAME.json with its separators) instead of rendering them again")
    args = parser.parse_args()
    specs = render.random_specs(args.count, args.seed)
    pool = None
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_warm)
    if args.reuse:
        for name in specs:
            if "separators" not in json.loads((args.out / f"{name}.json").read_text(encoding="utf-8")):
                parser.error(f"{args.out / name}.json was not written by a finished render of this set")
    elif pool:
        names = list(specs)
        chunks = [{n: specs[n] for n in names[k::args.jobs]} for k in range(args.jobs)]
        for done in pool.map(_render_chunk, chunks, [args.out] * len(chunks)):
            specs.update(done)
    else:
        render.render(specs, args.out)
    for name, spec in specs.items() if not args.reuse else ():  # the separators each screen shows, for the figure
        doc = json.loads((args.out / f"{name}.json").read_text(encoding="utf-8"))
        doc["separators"] = [item for item in spec["items"] if item["type"] == "time"]
        (args.out / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    load_before = os.getloadavg()
    if pool is None:
        read_image(args.out / f"{next(iter(specs))}.png")  # load the engine outside the timing
        from chataudit.screenshots import reader

        reader._READINGS.clear()
    def layout(spec: dict) -> str:
        return spec["app"] + (" desktop" if spec.get("client") == "desktop" else "")

    apps = list(dict.fromkeys(layout(spec) for spec in specs.values()))
    shots = [[n for n, spec in specs.items() if layout(spec) == app] for app in apps]
    if pool:
        # pieces of CHUNK shots, every layout's first piece before any second one; each piece's figures are
        # printed as it ends (a run stopped early still says what it measured) and summed per layout
        tasks = sorted(((k, app, names[k: k + CHUNK]) for app, names in zip(apps, shots)
                        for k in range(0, len(names), CHUNK)), key=lambda t: (t[0], apps.index(t[1])))
        by_app, doctored_by_app = {}, {}
        with pool:
            running = {pool.submit(_layout, args.out, names): (app, names) for _, app, names in tasks}
            for future in as_completed(running):
                app, names = running[future]
                t, d = future.result()
                print(f"piece {app} {names[0]}..{names[-1]}: CER {t['errors']}/{t['chars']}, side {t['sides']}/"
                      f"{t['messages']}, separators {t['separators_read']}/{t['separators']}, alarms "
                      f"{t['false_alarms']}, retyped {d['retyped_caught']}/{d['retyped']}, moved {d['moved_caught']}/"
                      f"{d['moved']}, CPU {t['cpu']:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
                for mine, theirs in ((by_app.setdefault(app, {}), t), (doctored_by_app.setdefault(app, {}), d)):
                    for key, value in theirs.items():
                        mine[key] = mine.get(key, [] if isinstance(value, list) else 0) + value
    else:
        by_app = {app: measure(args.out, names) for app, names in zip(apps, shots)}
        doctored_by_app = {app: doctor_all(args.out, names) for app, names in zip(apps, shots)}
    print(f"{'layout':16} {'shots':>5} {'dark':>4} {'CER':>7} {'exact':>7} {'side':>7} {'separators':>10} "
          f"{'s/shot':>6} {'alarms':>6} {'retyped':>8} {'moved':>8}")
    for app in apps:
        t, d = by_app[app], doctored_by_app[app]
        dark = sum(1 for s in specs.values() if layout(s) == app and s["theme"] == "dark")
        print(f"{app:16} {t['images']:>5} {dark:>4} {t['errors'] / max(1, t['chars']):>7.2%} "
              f"{t['exact'] / max(1, t['messages']):>7.1%} {t['sides'] / max(1, t['messages']):>7.1%} "
              f"{t['separators_read']:>4}/{t['separators']:<5} {t['seconds'] / max(1, t['images']):>6.2f} "
              f"{t['false_alarms']:>6} {d['retyped_caught']:>3}/{d['retyped']:<4} {d['moved_caught']:>3}/{d['moved']:<4}")
    totals = {key: sum(t[key] for t in by_app.values()) for key in by_app[apps[0]] if key != "alarms"}
    totals["alarms"] = [a for t in by_app.values() for a in t["alarms"]]
    doctored = {key: sum(d[key] for d in doctored_by_app.values()) for key in doctored_by_app[apps[0]] if key != "misses"}
    print(f"screenshots: {totals['images']} ({sum(1 for s in specs.values() if s['theme'] == 'dark')} dark)")
    print(f"character error rate: {totals['errors'] / max(1, totals['chars']):.2%} "
          f"({totals['errors']} of {totals['chars']} characters)")
    print(f"messages fully right (text, side, kind, instant, amount): {totals['exact'] / max(1, totals['messages']):.1%} "
          f"of {totals['messages']}")
    print(f"sender side right: {totals['sides'] / max(1, totals['messages']):.1%}")
    print(f"time separators read: {totals['separators_read']} of {totals['separators']}")
    print(f"line breaks: {totals['breaks_right']} of {totals['broken']} multi-line bubbles split exactly; "
          f"{totals['break_count']} of {totals['messages']} messages with the right number of breaks")
    print(f"quoted replies read (name, text ≥ 90 %) on the replying message: {totals['quotes_read']} of {totals['quotes']}")
    print(f"group senders inside or above bubbles right: {totals['names_right']} of {totals['named']}")
    print(f"file cards read (kind file, size): {totals['files_read']} of {totals['files']}")
    print(f"seconds per screenshot: {totals['seconds'] / max(1, totals['images']):.2f} wall clock, "
          f"{totals['cpu'] / max(1, totals['images']):.2f} CPU (this process, all threads)")
    print(f"untouched screenshots with an image signal (false alarms): {totals['false_alarms']}")
    for name, details in totals["alarms"][:10]:
        print(f"   {name}: {details}")
    print(f"retyped line caught (font_consistency or text_padding): {doctored['retyped_caught']} of {doctored['retyped']}")
    print(f"bubble moved to the other side caught (bubble_geometry): {doctored['moved_caught']} of {doctored['moved']}")
    for target, theme, what in [m for d in doctored_by_app.values() for m in d["misses"]]:
        print(f"   missed: {target} ({theme}): {what}")
    print("load average (1/5/15 min) before reading: %.1f %.1f %.1f, after: %.1f %.1f %.1f on %d cores"
          % (*load_before, *os.getloadavg(), os.cpu_count() or 0))


if __name__ == "__main__":
    main()
