"""From alignments to what the user reads: the JSON report, the verdict, the side-by-side timeline.

Two copies give a pairwise report (``matched`` … ``kind_changed``); three or more give a presence
matrix (``copies`` and ``rows``) built by merging each copy into the rows found so far.
"""

from __future__ import annotations

import re

from typing import Any, Iterator

from ..store.sqlite import iso_from_ms
from .align import (
    ALTERED, KIND_CHANGED, MATCHED, REORDERED, RETIMED, Alignment, Side, align, char_diff,
)
from .copies import Copy

DIFFERENCE_KEYS = ("missing_in_a", "missing_in_b", "altered", "retimed", "reordered", "kind_changed")
LABELS = {
    "missing_in_b": "missing in B",
    "missing_in_a": "missing in A",
    "altered": "altered",
    "retimed": "retimed",
    "reordered": "reordered",
    "kind_changed": "kind changed",
}


def message(side: Side, index: int) -> dict[str, Any]:
    """A message as the report shows it: in its copy's own words, names and printed offset."""
    return {
        "sender": side.names[index],
        "sent_at": iso_from_ms(side.ms[index], side.offsets[index]),
        "text": side.text[index],
        "kind": side.kind[index],
        "id": side.ids[index],
        "position": side.positions[index],
    }


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def number_changes(a: str | None, b: str | None) -> list[tuple[str, str]]:
    """The numbers an alteration changed, each as (in A, in B): "￥5000.00" → "￥500.00" is one
    change ``("5000.00", "500.00")``, not one struck digit. Numbers are paired in order when both
    texts hold as many; otherwise what only one side holds is paired with "" (missing)."""
    left = _NUMBER.findall(a or "")
    right = _NUMBER.findall(b or "")
    if len(left) == len(right):
        return [(x, y) for x, y in zip(left, right) if x.replace(",", "") != y.replace(",", "")]
    only_left = [x for x in left if x not in right]
    only_right = [y for y in right if y not in left]
    width = max(len(only_left), len(only_right))
    return list(zip(only_left + [""] * (width - len(only_left)), only_right + [""] * (width - len(only_right))))


def _seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def pair_report(a: Copy, b: Copy, alignment: Alignment) -> dict[str, Any]:
    """The two-copy report (stable keys, see README)."""
    sa, sb = a.side, b.side
    offset = alignment.clock_offset_ms
    lists: dict[str, list[dict[str, Any]]] = {key: [] for key in DIFFERENCE_KEYS}
    for i, j, status in alignment.pairs:
        if status == MATCHED:
            continue
        entry: dict[str, Any] = {"a": message(sa, i), "b": message(sb, j)}
        delta = sb.ms[j] - offset - sa.ms[i]
        if status == ALTERED:
            entry["diff"] = char_diff(sa.text[i], sb.text[j])
            entry["numbers_changed"] = [list(change) for change in number_changes(sa.text[i], sb.text[j])]
            if abs(delta) > alignment.tolerance_ms:
                entry["delta_seconds"] = _seconds(delta)
        elif status in (RETIMED, REORDERED, KIND_CHANGED):
            entry["delta_seconds"] = _seconds(delta)
        lists[status].append(entry)
    lists["missing_in_b"] = [message(sa, i) for i in alignment.only_a]
    lists["missing_in_a"] = [message(sb, j) for j in alignment.only_b]
    counts = {key: len(value) for key, value in lists.items()}
    counts["matched"] = alignment.count(MATCHED)
    mapping = {sa.display_name(k): sb.display_name(v) for k, v in sorted(alignment.sender_mapping.items())}
    findings = _findings(a, b, alignment, mapping)
    report: dict[str, Any] = {
        "verdict": verdict(a.shown_name, b.shown_name, counts, len(sa), len(sb), offset),
        "matched": counts["matched"],
        **lists,
        "summary": counts,
        "sender_mapping": mapping,
        "clock_offset_seconds": _seconds(offset),
        "tolerance_seconds": _seconds(alignment.tolerance_ms),
        "findings": findings,
        "copies": [a.describe(), b.describe()],
    }
    return report


def verdict(name_a: str, name_b: str, counts: dict[str, int], size_a: int, size_b: int, offset_ms: int) -> str:
    """One line: identical or not, and what differs."""
    clock = f" (after compensating a constant clock offset of {format_offset(offset_ms)})" if offset_ms else ""
    differences = [f"{counts[key]} {LABELS[key]}" for key in DIFFERENCE_KEYS if counts.get(key)]
    if not differences:
        return f"IDENTICAL: {name_a} and {name_b} hold the same {counts['matched']} messages{clock}"
    return (f"DIFFERENT: {name_a} ({size_a} messages) vs {name_b} ({size_b}): {counts['matched']} match, "
            + ", ".join(differences) + clock)


def format_offset(ms: int) -> str:
    sign = "-" if ms < 0 else "+"
    seconds = abs(ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"{sign}{hours} h" + (f" {minutes:02d} min" if minutes else "")


def _findings(a: Copy, b: Copy, alignment: Alignment, mapping: dict[str, str]) -> list[str]:
    found = []
    smaller = min(len(a.side), len(b.side))
    if smaller and alignment.count(MATCHED) < 0.1 * smaller:
        found.append(
            f"the copies hardly overlap ({alignment.count(MATCHED)} of {smaller} messages match): "
            "are they copies of the same conversation and the same period?"
        )
    if alignment.clock_offset_ms:
        found.append(
            f"{b.name} shows every message {format_offset(alignment.clock_offset_ms)} from {a.name}: "
            "one copy was probably read in the wrong time zone (--tz); compensated before comparing"
        )
    renamed = {k: v for k, v in mapping.items() if k != v}
    if renamed:
        found.append("senders named differently: " + ", ".join(f"{k} (A) = {v} (B)" for k, v in renamed.items()))
    unmapped = sorted({a.side.names[i] for i, s in enumerate(a.side.sender) if s not in alignment.sender_mapping})
    if unmapped:
        found.append("senders of A not recognised in B: " + ", ".join(unmapped))
    for copy in (a, b):
        for note in copy.notes:
            found.append(f"{copy.name}: {note}")
    return found


def compare_pair(a: Copy, b: Copy, tolerance_s: float) -> tuple[dict[str, Any], Alignment]:
    alignment = align(a.side, b.side, tolerance_s)
    return pair_report(a, b, alignment), alignment


# ---- the side-by-side timeline (HTML) ----------------------------------------------------------

def timeline_rows(a: Copy, b: Copy, alignment: Alignment, context: int = 3) -> Iterator[dict[str, Any]]:
    """Rows of the side-by-side view in timeline order; runs of matches beyond ``context`` fold into one row.

    ``context`` < 0 keeps every row.
    """
    sa, sb = a.side, b.side
    offset = alignment.clock_offset_ms
    events: list[tuple[int, int, int, str, int | None, int | None]] = []
    for i, j, status in alignment.pairs:
        events.append((sa.ms[i], 0, i, status, i, j))
    for i in alignment.only_a:
        events.append((sa.ms[i], 0, i, "missing_in_b", i, None))
    for j in alignment.only_b:
        events.append((sb.ms[j] - offset, 1, j, "missing_in_a", None, j))
    events.sort()

    def full(event) -> dict[str, Any]:
        _, _, _, status, i, j = event
        row: dict[str, Any] = {"status": status, "a": message(sa, i) if i is not None else None,
                               "b": message(sb, j) if j is not None else None}
        if status == ALTERED:
            row["diff"] = char_diff(sa.text[i], sb.text[j])
        if i is not None and j is not None and status != MATCHED:
            row["delta_seconds"] = _seconds(sb.ms[j] - offset - sa.ms[i])
        return row

    if context < 0:
        for event in events:
            yield full(event)
        return
    differs = [event[3] != MATCHED for event in events]
    keep = [False] * len(events)
    for index, different in enumerate(differs):
        if different:
            for near in range(max(0, index - context), min(len(events), index + context + 1)):
                keep[near] = True
    index = 0
    while index < len(events):
        if keep[index]:
            yield full(events[index])
            index += 1
            continue
        start = index
        while index < len(events) and not keep[index]:
            index += 1
        first, last = events[start], events[index - 1]
        yield {"status": "folded", "count": index - start,
               "from": iso_from_ms(first[0], sa.offsets[first[4]]),
               "until": iso_from_ms(last[0], sa.offsets[last[4]])}


# ---- three or more copies: the presence matrix -------------------------------------------------

def matrix_report(copies: list[Copy], tolerance_s: float) -> dict[str, Any]:
    """Which copy holds which message: each copy is aligned with the rows found so far.

    Rows start as the first copy's messages; every later copy is aligned against them (its clock
    offset and sender names compensated, so rows stay in the first copy's terms) and what it
    holds that no earlier copy did becomes new rows.
    """
    first = copies[0].side
    # row columns (in the first copy's clock and sender keys) and, per row, one cell per copy
    row_ms = list(first.ms)
    row_sender = list(first.sender)
    row_names = list(first.names)
    row_kind = list(first.kind)
    row_text = list(first.text)
    row_offsets = list(first.offsets)
    cells: list[list[dict[str, Any] | None]] = [[{"status": "same", "index": i}] for i in range(len(first))]
    pairwise = []
    for number, copy in enumerate(copies[1:], start=1):
        rows_side = Side(row_ms, row_sender, row_kind, row_text, names=row_names, offsets=row_offsets)
        alignment = align(rows_side, copy.side, tolerance_s)
        reverse = {v: k for k, v in alignment.sender_mapping.items()}
        for cell in cells:
            cell.append(None)
        for i, j, status in alignment.pairs:
            cells[i][number] = {"status": "same" if status == MATCHED else status, "index": j}
        for j in alignment.only_b:
            row_ms.append(copy.side.ms[j] - alignment.clock_offset_ms)
            known = reverse.get(copy.side.sender[j])  # named as the rows name that sender
            row_sender.append(known if known is not None else copy.side.sender[j])
            row_names.append(rows_side.display_name(known) if known is not None else copy.side.names[j])
            row_kind.append(copy.side.kind[j])
            row_text.append(copy.side.text[j])
            row_offsets.append(copy.side.offsets[j])
            cells.append([None] * number + [{"status": "same", "index": j}])
        # keep the rows in time order for the next copy's alignment
        order = sorted(range(len(row_ms)), key=lambda r: (row_ms[r], r))
        row_ms, row_sender, row_names, row_kind, row_text, row_offsets, cells = (
            [column[r] for r in order]
            for column in (row_ms, row_sender, row_names, row_kind, row_text, row_offsets, cells)
        )
        pairwise.append({
            "copy": copy.name,
            "clock_offset_seconds": _seconds(alignment.clock_offset_ms),
            "sender_mapping": {rows_side.display_name(k): copy.side.display_name(v)
                               for k, v in sorted(alignment.sender_mapping.items())},
        })
    rows = []
    everywhere = 0
    shown_offset = first.offsets[0] if len(first) else 0
    for r, row_cells in enumerate(cells):
        present = [cell is not None for cell in row_cells]
        status = [cell["status"] if cell else None for cell in row_cells]
        if all(s == "same" for s in status):
            everywhere += 1
        if present[0]:
            shown_offset = row_offsets[r]  # rows of the first copy print as it did; the others in its offset
        variants = [copies[c].side.text[cell["index"]] if cell and cell["status"] == ALTERED else None
                    for c, cell in enumerate(row_cells)]
        rows.append({
            "sent_at": iso_from_ms(row_ms[r], shown_offset),
            "sender": row_names[r],
            "text": row_text[r],
            "kind": row_kind[r],
            "present": present,
            "status": status,
            "texts": variants,
            "diffs": [char_diff(row_text[r], variant) if variant is not None else None for variant in variants],
        })
    described = []
    for number, copy in enumerate(copies):
        entry = copy.describe()
        entry["holds"] = sum(1 for row in rows if row["present"][number])
        if number:
            entry.update({k: v for k, v in pairwise[number - 1].items() if k != "copy"})
        described.append(entry)
    differing = len(rows) - everywhere
    names = ", ".join(c.shown_name for c in copies)
    if differing == 0:
        line = f"IDENTICAL: all {len(copies)} copies ({names}) hold the same {everywhere} messages"
    else:
        line = (f"DIFFERENT: of {len(rows)} messages across {len(copies)} copies ({names}), "
                f"{everywhere} are in every copy unchanged and {differing} are missing from or differ in some copy")
    return {
        "verdict": line,
        "copies": described,
        "rows": rows,
        "summary": {"messages": len(rows), "in_every_copy": everywhere, "differing": differing},
        "tolerance_seconds": _seconds(int(round(tolerance_s * 1000))),
    }
