"""Small server-rendered SVG charts for the dashboard (no JavaScript, no charting library).

Every text that reaches the SVG is escaped; every chart has a <title> for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563")
INK, MUTED, GRID = "#111827", "#6b7280", "#e5e7eb"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: object, *, anchor: str = "start", fill: str = INK, size: int = 12,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" font-size="{size}" '
            f'font-weight="{weight}">{escape(str(text))}</text>')


def line_chart(
    title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
    *, width: int = 620, height: int = 260, percent: bool = True,
) -> Markup:
    """Lines over shared x labels (e.g. days); None is a gap. The first series is drawn bold."""
    left, right, top, bottom = 44, 150, 14, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, ys in series for v in ys if v is not None]
    y_max = 1.0 if percent else max(values or [1.0]) * 1.1 or 1.0
    body: list[str] = []
    for i in range(5):
        frac = i / 4
        y = top + plot_h * (1 - frac)
        label = f"{frac * y_max:.0%}" if percent else f"{frac * y_max:.0f}"
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, label, anchor="end", fill=MUTED, size=11))
    n = len(x_labels)

    def x_at(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    step = max(1, n // 6)
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == n - 1:
            body.append(_text(x_at(i), height - bottom + 16, label, anchor="middle", fill=MUTED, size=11))
    for k, (name, ys) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        stroke = 3 if k == 0 else 1.6
        segments: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(ys):
            if v is None:
                segments.append([])
                continue
            segments[-1].append((x_at(i), top + plot_h * (1 - min(v, y_max) / y_max)))
        for seg in segments:
            if len(seg) > 1:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
                body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{stroke}" '
                            'stroke-linejoin="round"/>')
            for x, y in seg:
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{2.6 if k == 0 else 2}" fill="{color}"/>')
        ly = top + 6 + k * 17
        body.append(f'<rect x="{left + plot_w + 14}" y="{ly - 8}" width="10" height="10" rx="2" fill="{color}"/>')
        body.append(_text(left + plot_w + 30, ly + 1, name, size=11, weight="bold" if k == 0 else "normal"))
    return _svg(width, height, title, body)


def hbar_chart(
    title: str, rows: Sequence[tuple[str, float, str]], *, max_value: float | None = None,
    width: int = 620, bar_color: str = PALETTE[0], label_width: int = 200,
) -> Markup:
    """Horizontal bars: (label, value, caption shown after the bar, e.g. "41% · 52/127")."""
    row_h, top = 24, 6
    height = top * 2 + row_h * max(len(rows), 1)
    biggest = max_value if max_value is not None else max((v for _, v, _ in rows), default=1.0) or 1.0
    plot_w = width - label_width - 150
    body: list[str] = []
    if not rows:
        body.append(_text(width / 2, height / 2 + 4, "no data yet", anchor="middle", fill=MUTED))
    for i, (label, value, caption) in enumerate(rows):
        y = top + i * row_h
        w = max(plot_w * (value / biggest), 1.5 if value else 0)
        short = label if len(label) <= 27 else label[:26] + "…"  # ~7 px a character at 12 px
        body.append(_text(label_width - 8, y + 15, short, anchor="end", size=12))
        body.append(f'<rect x="{label_width}" y="{y + 4}" width="{plot_w}" height="{row_h - 8}" rx="3" fill="{GRID}"/>')
        body.append(f'<rect x="{label_width}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" rx="3" '
                    f'fill="{bar_color}"/>')
        body.append(_text(label_width + plot_w + 8, y + 15, caption, fill=INK, size=11))
    return _svg(width, height, title, body)


def column_pairs(
    title: str, x_labels: Sequence[str], first: tuple[str, Sequence[int]], second: tuple[str, Sequence[int]],
    *, width: int = 620, height: int = 240,
) -> Markup:
    """Two overlaid columns per x (e.g. shown, and acted on in front of it)."""
    left, right, top, bottom = 44, 130, 14, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    biggest = max([*first[1], 1])
    n = max(len(x_labels), 1)
    slot = plot_w / n
    body: list[str] = []
    for i in range(5):
        y = top + plot_h * (1 - i / 4)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, f"{biggest * i / 4:.0f}", anchor="end", fill=MUTED, size=11))
    step = max(1, n // 6)
    for i, label in enumerate(x_labels):
        x = left + slot * i + slot * 0.15
        w = slot * 0.7
        for (_, values), color in ((first, "#bfdbfe"), (second, PALETTE[0])):
            h = plot_h * values[i] / biggest
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                        f'fill="{color}"/>')
        if i % step == 0 or i == n - 1:
            body.append(_text(x + w / 2, height - bottom + 16, label, anchor="middle", fill=MUTED, size=11))
    for k, ((name, _), color) in enumerate(((first, "#bfdbfe"), (second, PALETTE[0]))):
        ly = top + 6 + k * 17
        body.append(f'<rect x="{left + plot_w + 14}" y="{ly - 8}" width="10" height="10" rx="2" fill="{color}"/>')
        body.append(_text(left + plot_w + 30, ly + 1, name, size=11))
    return _svg(width, height, title, body)


_REACHES = (0.02, 0.04, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 10.0)


def interval_chart(
    title: str, rows: Sequence[tuple[str, float | None, float | None, float | None, str]],
    *, width: int = 620, label_width: int = 190, caption_width: int = 170, points: bool = False,
) -> Markup:
    """Estimates with their 95 % intervals around a zero line: (label, estimate, low, high, caption).
    A row without an estimate shows only its caption (e.g. "not enough data yet").  `points`: the axis
    in percentage points (a difference of two rates), not percent."""
    row_h, top, axis_h = 26, 8, 22
    height = top + row_h * max(len(rows), 1) + axis_h
    plot_w = width - label_width - caption_width
    bounds = [abs(v) for _, e, lo, hi, _ in rows for v in (e, lo, hi) if v is not None]
    # A round axis end, so the ticks at its half read as round numbers too.
    reach = next((r for r in _REACHES if r >= max(bounds, default=0.0) * 1.05), max(bounds, default=1.0) * 1.05)
    zero = label_width + plot_w / 2

    def x_at(value: float) -> float:
        return zero + plot_w / 2 * max(-1.0, min(1.0, value / reach))

    body = [f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top}" y2="{height - axis_h}" stroke="{MUTED}" '
            'stroke-dasharray="3 3"/>']
    for frac in (-1, -0.5, 0, 0.5, 1):
        tick = f"{100 * frac * reach:+.0f} pp" if points else f"{frac * reach:+.0%}"
        body.append(_text(x_at(frac * reach), height - 6, tick if frac else "0",
                          anchor="middle", fill=MUTED, size=10))
    if not rows:
        body.append(_text(width / 2, top + 16, "no data yet", anchor="middle", fill=MUTED))
    for i, (label, estimate, low, high, caption) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        fits = (label_width - 12) // 7  # ~7 px a character at 12 px
        short = label if len(label) <= fits else label[:fits - 1] + "…"
        body.append(_text(label_width - 8, y + 4, short, anchor="end", weight="bold" if i == len(rows) - 1 else "normal"))
        if estimate is not None and low is not None and high is not None:
            color = PALETTE[1] if low > 0 else PALETTE[2] if high < 0 else PALETTE[0]
            body.append(f'<line x1="{x_at(low):.1f}" x2="{x_at(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                        f'stroke="{color}" stroke-width="3" stroke-linecap="round"/>')
            body.append(f'<circle cx="{x_at(estimate):.1f}" cy="{y:.1f}" r="5" fill="{color}"/>')
        body.append(_text(label_width + plot_w + 10, y + 4, caption, fill=INK if estimate is not None else MUTED,
                          size=11))
    return _svg(width, height, title, body)
