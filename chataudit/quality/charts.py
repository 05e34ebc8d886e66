"""Inline SVG charts for the HTML report: no script, no external asset, printable.

Every chart is drawn for a phone first: a 360-unit wide viewBox with labels of 12 units, so that on
a 390 px screen (360 px of content) a label is at least 12 px, and the page caps a chart's width
(``max-width``) so that on a desktop it grows at most by half. Labels that would collide are
thinned or wrapped; legends are HTML below the chart (:func:`legend`), where they can wrap.
"""

from __future__ import annotations

import math
import unicodedata
from html import escape
from typing import Any, Callable, Sequence

from markupsafe import Markup

from .score import fmt_s

INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
BLUE, ORANGE, GREEN, RED, GREY = "#2f6fde", "#e8833a", "#2f9e6b", "#d64545", "#9aa5b1"
FONT = "font-family=\"'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif\""
WIDTH = 360  # viewBox width of every chart
SIZE = 12  # label size in viewBox units: ≥ 12 px on a 390 px phone
MAX_SCALE = 1.5  # a chart grows to at most 1.5 × its viewBox on wide screens


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width * MAX_SCALE:.0f}px;display:block" '
        f'role="img" aria-label="{escape(label)}" {FONT} font-size="{SIZE}">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", color: str = INK, size: int = SIZE,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}" font-size="{size}" '
            f'font-weight="{weight}">{escape(str(text))}</text>')


def _link(href: str | None, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def text_width(text: str, size: int = SIZE) -> float:
    """Roughly how wide ``text`` is drawn: wide (CJK) characters a full em, others ~0.58 em."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.58 for c in str(text))


def _fit(text: str, width: float, size: int = SIZE) -> str:
    text = str(text)
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def legend(items: Sequence[tuple[str, str]]) -> Markup:
    """An HTML legend (colour, meaning) that wraps on a narrow screen instead of running together."""
    return Markup('<p class="legend">' + "".join(
        f'<span><i style="background:{escape(color)}"></i>{escape(label)}</span>' for color, label in items) + "</p>")


def _nice(peak: float) -> float:
    """A round axis maximum at or above ``peak`` (1, 2, 2.5 or 5 × a power of ten)."""
    if peak <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(peak))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= peak:
            return step * power
    return 10 * power


_ROUND_SECONDS = (5, 10, 15, 20, 30, 60, 90, 120, 180, 240, 300, 600, 900, 1200, 1800, 2400, 3600, 7200,
                  10800, 14400, 21600, 28800, 43200, 86400)


def nice_seconds(peak: float) -> float:
    """A round duration at or above ``peak`` (an axis of times reads 0 · 2.0 min · 4.0 min)."""
    return next((s for s in _ROUND_SECONDS if s >= peak), _nice(peak))


def columns(items: Sequence[dict[str, Any]], label_key: str, value_key: str, *, title: str,
            value_fmt=str, width: int = WIDTH, height: int = 210, color: str = BLUE,
            href_key: str | None = None) -> Markup:
    """Vertical bars with their value on top, e.g. the response-time distribution; a label that
    does not fit its slot breaks after its dash (``10m–`` / ``30m``)."""
    left, bottom, top = 4, 40, 36
    n = max(len(items), 1)
    slot = (width - 2 * left) / n
    peak = max((float(i[value_key] or 0) for i in items), default=0) or 1
    # labels break after their dash, all alike, as soon as one would crowd its neighbours
    split = any(text_width(str(i[label_key])) > slot - 4 and "–" in str(i[label_key]) for i in items)
    body = [_text(0, 14, title, weight="bold")]
    for k, item in enumerate(items):
        value = float(item[value_key] or 0)
        h = (height - bottom - top) * value / peak
        x = left + k * slot + slot * 0.12
        y = height - bottom - h
        bar = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.76:.1f}" height="{max(h, 0.5):.1f}" fill="{color}">'
               f'<title>{escape(str(item[label_key]))}: {escape(value_fmt(item[value_key]))}</title></rect>')
        body.append(_link(item.get(href_key) if href_key else None, bar))
        middle = x + slot * 0.38
        body.append(_text(middle, y - 4, value_fmt(item[value_key]), "middle", MUTED))
        label = str(item[label_key])
        if split and "–" in label:
            head, tail = label.split("–", 1)
            body.append(_text(middle, height - bottom + 16, head + "–", "middle"))
            body.append(_text(middle, height - bottom + 31, tail, "middle"))
        else:
            body.append(_text(middle, height - bottom + 16, _fit(label, slot), "middle"))
    body.append(f'<line x1="{left}" x2="{width - left}" y1="{height - bottom}" y2="{height - bottom}" stroke="{GRID}"/>')
    return _svg(width, height, body, title)


def bars(items: Sequence[dict[str, Any]], label_key: str, value_key: str, *, title: str, value_fmt=str,
         width: int = WIDTH, color: str = BLUE, href_key: str | None = None, target: float | None = None,
         target_label: str = "", color_key: str | None = None, colors: dict[str, str] | None = None) -> Markup:
    """Horizontal bars with labels on the left, e.g. agents or top questions."""
    row, label_w, top, value_w = 26, 112, 28, 52
    height = top + row * max(len(items), 1) + (22 if target else 8)
    peak = max([float(i[value_key] or 0) for i in items] + [target or 0]) or 1
    span = width - label_w - value_w
    body = [_text(0, 14, title, weight="bold")]
    for k, item in enumerate(items):
        value = float(item[value_key] or 0)
        y = top + k * row
        w = span * value / peak
        fill = (colors or {}).get(item.get(color_key), color) if color_key else color
        label = _fit(item[label_key], label_w - 10)
        body.append(_link(item.get(href_key) if href_key else None, _text(label_w - 8, y + 16, label, "end")))
        body.append(f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 0.5):.1f}" height="{row - 8}" fill="{fill}" rx="2">'
                    f'<title>{escape(str(item[label_key]))}: {escape(value_fmt(item[value_key]))}</title></rect>')
        body.append(_text(label_w + w + 5, y + 16, value_fmt(item[value_key]), color=MUTED))
    if target:
        x = label_w + span * target / peak
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 18}" stroke="{RED}" '
                    f'stroke-dasharray="4 3"/>')
        anchor = "end" if x + text_width(target_label) / 2 > width else "middle"
        body.append(_text(x, height - 4, target_label, anchor, RED))
    return _svg(width, height, body, title)


def heatmap(cells: Sequence[dict[str, Any]], *, title: str, target: float, width: int = WIDTH) -> Markup:
    """Hour of day × weekday, colour = mean response against the target (green ≤ target, red ≥ 4×);
    the colour key is :func:`heatmap_legend`."""
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    left, top = 34, 38
    cell_w = (width - left - 2) / 24
    cell_h = 20
    height = top + 7 * cell_h + 4
    body = [_text(0, 14, title, weight="bold")]
    for h in range(0, 24, 3):
        body.append(_text(left + h * cell_w + cell_w / 2, top - 6, f"{h:02d}", "middle", MUTED))
    for d, name in enumerate(names):
        body.append(_text(left - 5, top + d * cell_h + 14, name, "end", MUTED))
    lookup = {(c["weekday"], c["hour"]): c for c in cells}
    for d in range(7):
        for h in range(24):
            c = lookup.get((d, h))
            x, y = left + h * cell_w, top + d * cell_h
            if not c:
                body.append(f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" fill="#f0f2f5"/>')
                continue
            ratio = min(max((c["mean_response_s"] / target - 1) / 3, 0), 1) if target else 0
            body.append(_link(f"#hour-{h}",
                              f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                              f'fill="{_mix(ratio)}"><title>{name} {h:02d}:00 — mean {fmt_s(c["mean_response_s"])}, '
                              f'{c["responses"]} responses</title></rect>'))
    return _svg(width, height, body, title)


def heatmap_legend(target: float) -> Markup:
    return legend([(_mix(0), f"mean ≤ {fmt_s(target)} (target)"), (_mix(0.5), f"≈ {fmt_s(2.5 * target)}"),
                   (_mix(1), f"≥ {fmt_s(4 * target)}"), ("#f0f2f5", "no responses")])


def _mix(ratio: float) -> str:
    low, high = (0x2f, 0x9e, 0x6b), (0xd6, 0x45, 0x45)
    mid = (0xf2, 0xc9, 0x4c)
    if ratio < 0.5:
        a, b, t = low, mid, ratio * 2
    else:
        a, b, t = mid, high, (ratio - 0.5) * 2
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def axis_bars(values: Sequence[float | None], labels: Sequence[str], *, title: str, value_fmt: Callable[[float], str],
              width: int = WIDTH, height: int = 220, color: Callable[[float], str] | str = BLUE,
              target: float | None = None, target_label: str = "", hrefs: Sequence[str | None] | None = None,
              tips: Sequence[str] | None = None, nice: Callable[[float], float] | None = None) -> Markup:
    """Bars over a labelled y axis (0, half, a round maximum) with thinned x labels — one bar per
    hour, day or week; an optional dashed target line. ``None`` is no bar (no data), not zero."""
    left, right, bottom, top = 50, 6, 24, 28
    n = max(len(values), 1)
    plot_w, plot_h = width - left - right, height - bottom - top
    slot = plot_w / n
    peak = (nice or _nice)(max([v for v in values if v is not None] + [target or 0, 0]))
    body = [_text(0, 14, title, weight="bold")]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 5, y + 4, value_fmt(peak * fraction), "end", MUTED))
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    every = max(1, math.ceil((max((text_width(label) for label in labels), default=0) + 6) / slot))
    for k, value in enumerate(values):
        x = left + k * slot
        if k % every == 0 and k < len(labels):
            body.append(_text(x + slot / 2, height - 6, labels[k], "middle", MUTED))
        if value is None:
            continue
        bar_h = plot_h * value / peak
        fill = color(value) if callable(color) else color
        tip = tips[k] if tips else f"{labels[k]}: {value_fmt(value)}"
        bar = (f'<rect x="{x + slot * 0.12:.1f}" y="{top + plot_h - bar_h:.1f}" width="{max(slot * 0.76, 1):.1f}" '
               f'height="{max(bar_h, 0.5):.1f}" fill="{fill}"><title>{escape(tip)}</title></rect>')
        body.append(_link(hrefs[k] if hrefs else None, bar))
    if target:
        y = top + plot_h * (1 - target / peak)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{INK}" '
                    f'stroke-dasharray="4 3"/>')
        body.append(_text(width - right, y - 4, target_label, "end", INK)
                    .replace("<text ", '<text stroke="#ffffff" stroke-width="3" paint-order="stroke" ', 1))
    return _svg(width, height, body, title)


def hour_line(hours: Sequence[dict[str, Any]], *, title: str, target: float, width: int = WIDTH) -> Markup:
    """Mean first response per hour of day (bars, red above the target) on a y axis of time, with the
    SLA target dashed."""
    values = [h["first_response_mean_s"] for h in hours]
    tips = [f"{h['hour']:02d}:00 — mean first response {fmt_s(h['first_response_mean_s'])} "
            f"({h['first_responses']} sessions)" for h in hours]
    return axis_bars(values, [f"{h:02d}" for h in range(24)], title=title, value_fmt=_axis_s, width=width,
                     color=lambda v: RED if v > target else GREEN, target=target,
                     target_label=f"target {fmt_s(target)}", hrefs=[f"#hour-{h}" for h in range(24)], tips=tips,
                     nice=nice_seconds)


def _axis_s(seconds: float) -> str:
    return "0" if not seconds else fmt_s(seconds)


def trend(rows: Sequence[dict[str, Any]], key: str, *, title: str, value_fmt: Callable[[float], str],
          color: str = BLUE, target: float | None = None, target_label: str = "",
          nice: Callable[[float], float] | None = None) -> Markup:
    """One figure of the trend rows (per day or week) as bars on a y axis; a day without data has
    no bar."""
    labels = [row["start"][5:] for row in rows]  # MM-DD
    return axis_bars([row[key] for row in rows], labels, title=title, value_fmt=value_fmt, color=color,
                     target=target, target_label=target_label, nice=nice,
                     tips=[f"{row['start']} ({row['period']}): {'–' if row[key] is None else value_fmt(row[key])}"
                           for row in rows])


def sentiment_bar(improved: int, unchanged: int, worsened: int, *, title: str, width: int = WIDTH) -> Markup:
    """One bar split in three; the key is an HTML legend (:func:`legend`)."""
    total = improved + unchanged + worsened or 1
    body = [_text(0, 14, title, weight="bold")]
    x = 0.0
    for value, color, label in ((improved, GREEN, "improved"), (unchanged, GREY, "unchanged"),
                                (worsened, RED, "worsened")):
        w = width * value / total
        if value:
            body.append(f'<rect x="{x:.1f}" y="24" width="{w:.1f}" height="26" fill="{color}">'
                        f'<title>{label}: {value}</title></rect>')
            share = f"{value / total:.0%}"
            if w > text_width(share) + 8:
                body.append(_text(x + w / 2, 42, share, "middle", "#ffffff"))
        x += w
    return _svg(width, 56, body, title)


def sentiment_legend(improved: int, unchanged: int, worsened: int) -> Markup:
    return legend([(GREEN, f"improved {improved}"), (GREY, f"unchanged {unchanged}"), (RED, f"worsened {worsened}")])
