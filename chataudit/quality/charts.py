"""Inline SVG charts for the HTML report: no script, no external asset, printable."""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from markupsafe import Markup

from .score import fmt_s

INK, MUTED, GRID = "#1f2933", "#7b8794", "#e4e7eb"
BLUE, ORANGE, GREEN, RED = "#2f6fde", "#e8833a", "#2f9e6b", "#d64545"
FONT = "font-family=\"'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif\""


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" {FONT} font-size="12">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", color: str = INK, size: int = 12,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}" font-size="{size}" '
            f'font-weight="{weight}">{escape(str(text))}</text>')


def _link(href: str | None, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def columns(items: Sequence[dict[str, Any]], label_key: str, value_key: str, *, title: str,
            value_fmt=str, width: int = 560, height: int = 220, color: str = BLUE,
            href_key: str | None = None) -> Markup:
    """Vertical bars, e.g. the response-time distribution."""
    left, bottom, top = 10, 40, 40
    n = max(len(items), 1)
    slot = (width - 2 * left) / n
    peak = max((float(i[value_key] or 0) for i in items), default=0) or 1
    body = [_text(left, 14, title, weight="bold")]
    for k, item in enumerate(items):
        value = float(item[value_key] or 0)
        h = (height - bottom - top) * value / peak
        x = left + k * slot + slot * 0.15
        y = height - bottom - h
        bar = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{max(h, 0.5):.1f}" fill="{color}">'
               f'<title>{escape(str(item[label_key]))}: {escape(value_fmt(item[value_key]))}</title></rect>')
        body.append(_link(item.get(href_key) if href_key else None, bar))
        body.append(_text(x + slot * 0.35, y - 4, value_fmt(item[value_key]), "middle", MUTED, 11))
        body.append(_text(x + slot * 0.35, height - bottom + 16, item[label_key], "middle", INK, 11))
    body.append(f'<line x1="{left}" x2="{width - left}" y1="{height - bottom}" y2="{height - bottom}" stroke="{GRID}"/>')
    return _svg(width, height, body, title)


def bars(items: Sequence[dict[str, Any]], label_key: str, value_key: str, *, title: str, value_fmt=str,
         width: int = 560, color: str = BLUE, href_key: str | None = None, target: float | None = None,
         target_label: str = "", color_key: str | None = None, colors: dict[str, str] | None = None) -> Markup:
    """Horizontal bars with labels on the left, e.g. agents or top questions."""
    row, label_w, top = 24, 150, 26
    height = top + row * max(len(items), 1) + 18
    peak = max([float(i[value_key] or 0) for i in items] + [target or 0]) or 1
    span = width - label_w - 70
    body = [_text(0, 14, title, weight="bold")]
    for k, item in enumerate(items):
        value = float(item[value_key] or 0)
        y = top + k * row
        w = span * value / peak
        fill = (colors or {}).get(item.get(color_key), color) if color_key else color
        label = str(item[label_key])
        if len(label) > 14:
            label = label[:13] + "…"
        body.append(_link(item.get(href_key) if href_key else None, _text(label_w - 8, y + 15, label, "end")))
        body.append(f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 0.5):.1f}" height="{row - 8}" fill="{fill}" rx="2">'
                    f'<title>{escape(str(item[label_key]))}: {escape(value_fmt(item[value_key]))}</title></rect>')
        body.append(_text(label_w + w + 6, y + 15, value_fmt(item[value_key]), color=MUTED, size=11))
    if target:
        x = label_w + span * target / peak
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 14}" stroke="{RED}" '
                    f'stroke-dasharray="4 3"/>')
        body.append(_text(x, height - 2, target_label, "middle", RED, 11))
    return _svg(width, height, body, title)


def heatmap(cells: Sequence[dict[str, Any]], *, title: str, target: float, width: int = 760) -> Markup:
    """Hour of day × weekday, colour = mean response against the target (green ≤ target, red ≥ 4×)."""
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    left, top = 40, 34
    cell_w = (width - left - 10) / 24
    cell_h = 22
    height = top + 7 * cell_h + 30
    body = [_text(0, 14, title, weight="bold")]
    for h in range(24):
        if h % 2 == 0:
            body.append(_text(left + h * cell_w + cell_w / 2, top - 6, f"{h:02d}", "middle", MUTED, 10))
    for d, name in enumerate(names):
        body.append(_text(left - 6, top + d * cell_h + 15, name, "end", MUTED, 11))
    lookup = {(c["weekday"], c["hour"]): c for c in cells}
    for d in range(7):
        for h in range(24):
            c = lookup.get((d, h))
            x, y = left + h * cell_w, top + d * cell_h
            if not c:
                body.append(f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" fill="#f5f7fa"/>')
                continue
            ratio = min(max((c["mean_response_s"] / target - 1) / 3, 0), 1) if target else 0
            body.append(_link(f"#hour-{h}",
                              f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                              f'fill="{_mix(ratio)}"><title>{name} {h:02d}:00 — mean {fmt_s(c["mean_response_s"])}, '
                              f'{c["responses"]} responses</title></rect>'))
    legend_y = top + 7 * cell_h + 16
    body.append(_text(left, legend_y, f"green: mean ≤ {fmt_s(target)} target   red: ≥ {fmt_s(4 * target)}   "
                                      "grey: no responses", color=MUTED, size=11))
    return _svg(width, height, body, title)


def _mix(ratio: float) -> str:
    low, high = (0x2f, 0x9e, 0x6b), (0xd6, 0x45, 0x45)
    mid = (0xf2, 0xc9, 0x4c)
    if ratio < 0.5:
        a, b, t = low, mid, ratio * 2
    else:
        a, b, t = mid, high, (ratio - 0.5) * 2
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def hour_line(hours: Sequence[dict[str, Any]], *, title: str, target: float, width: int = 760) -> Markup:
    """Mean first response per hour of day (bars) against the SLA target (dashed line)."""
    left, bottom, top = 40, 26, 24
    height = 200
    slot = (width - left - 10) / 24
    values = [h["first_response_mean_s"] for h in hours]
    peak = max([v for v in values if v is not None] + [target]) or 1
    plot_h = height - bottom - top
    body = [_text(0, 14, title, weight="bold")]
    for h, value in enumerate(values):
        x = left + h * slot
        if h % 2 == 0:
            body.append(_text(x + slot / 2, height - 8, f"{h:02d}", "middle", MUTED, 10))
        if value is None:
            continue
        bar_h = plot_h * value / peak
        fill = RED if value > target else GREEN
        body.append(_link(f"#hour-{h}", f'<rect x="{x + 2:.1f}" y="{height - bottom - bar_h:.1f}" width="{slot - 4:.1f}" '
                          f'height="{max(bar_h, 0.5):.1f}" fill="{fill}"><title>{h:02d}:00 — mean first response '
                          f'{fmt_s(value)} ({hours[h]["first_responses"]} sessions)</title></rect>'))
    y = height - bottom - plot_h * target / peak
    body.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{INK}" stroke-dasharray="4 3"/>')
    body.append(_text(width - 10, y - 4, f"target {fmt_s(target)}", "end", INK, 11))
    body.append(_text(left - 4, top + 4, fmt_s(peak), "end", MUTED, 10))
    return _svg(width, height, body, title)


def sentiment_bar(improved: int, unchanged: int, worsened: int, *, title: str, width: int = 560) -> Markup:
    total = improved + unchanged + worsened or 1
    body = [_text(0, 14, title, weight="bold")]
    x = 0.0
    for value, color, label in ((improved, GREEN, "improved"), (unchanged, "#9aa5b1", "unchanged"),
                                (worsened, RED, "worsened")):
        w = width * value / total
        if value:
            body.append(f'<rect x="{x:.1f}" y="24" width="{w:.1f}" height="26" fill="{color}">'
                        f'<title>{label}: {value}</title></rect>')
            if w > 60:
                body.append(_text(x + w / 2, 42, f"{label} {value / total:.0%}", "middle", "#ffffff", 11))
        x += w
    return _svg(width, 60, body, title)
