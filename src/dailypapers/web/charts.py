"""Small charts drawn on the server as SVG: bars (papers per day or month) and a rising line
(a paper's upvotes over time). No script and nothing fetched: the SVG is part of the page.

Each chart is an image with a title and a description for screen readers (``role="img"``,
``<title>``, ``<desc>``), a tooltip per bar, and its numbers as a table the template shows
under it (web/templates/_chart.html). The drawing scales to its box (``viewBox``), so one
SVG serves a 390 px phone and a desktop column alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 480, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 10, 24
BAR, LINE, AXIS, TEXT = "#f59e0b", "#b45309", "#d1d5db", "#4b5563"


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart and the table of what it draws."""

    svg: Markup
    title: str
    columns: tuple[str, str]
    rows: list[tuple[str, int]]


def _nice_max(value: int) -> int:
    """The top of the value axis: ``value`` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 4:
        return max(value, 1)
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _frame(ident: str, title: str, description: str, body: list[str], top: int) -> Markup:
    number = escape(ident)
    plot_bottom = HEIGHT - BOTTOM
    ticks = []
    for value in sorted({0, top // 2 if top >= 2 else 0, top}):
        y = plot_bottom - (plot_bottom - TOP) * value / top
        ticks.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{AXIS}"'
            f' stroke-width="1"/><text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value}</text>"
        )
    # Every value interpolated is a number or passed through ``escape``.
    return Markup(  # noqa: S704
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-labelledby="chart-{number}-title chart-{number}-desc"'
        f' xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif"'
        f' font-size="12" fill="{TEXT}">'
        f'<title id="chart-{number}-title">{escape(title)}</title>'
        f'<desc id="chart-{number}-desc">{escape(description)}</desc>'
        + "".join(ticks)
        + "".join(body)
        + "</svg>"
    )


def _x_labels(labels: Sequence[str], x_of: list[float]) -> list[str]:
    """First, middle and last labels under the axis (all of them when there are few)."""
    n = len(labels)
    shown = range(n) if n <= 3 else sorted({0, n // 2, n - 1})
    out = []
    for i in shown:
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        out.append(
            f'<text x="{x_of[i]:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
            f"{escape(labels[i])}</text>"
        )
    return out


def bars(
    points: Sequence[tuple[str, int]],
    *,
    title: str,
    unit: str,
    short: Sequence[str] | None = None,
    ident: str = "bars",
    column: str = "Day",
) -> Chart:
    """A bar per point (label, count); ``short`` labels go under the axis (default: the
    labels), ``unit`` names what is counted (``papers``); ``ident`` makes the element ids
    unique on the page."""
    labels = [label for label, _ in points]
    short = list(short or labels)
    values = [value for _, value in points]
    top = _nice_max(max(values, default=0))
    total = sum(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points), 1)
    gap = min(2.0, step * 0.2)
    body, centres = [], []
    for i, (label, value) in enumerate(points):
        height = plot_h * value / top
        x = LEFT + i * step
        centres.append(x + step / 2)
        body.append(
            f'<rect x="{x + gap / 2:.1f}" y="{TOP + plot_h - height:.1f}"'
            f' width="{max(step - gap, 0.5):.1f}" height="{height:.1f}" fill="{BAR}">'
            f"<title>{escape(label)}: {value} {escape(unit)}</title></rect>"
        )
    if points:
        centres[0] = LEFT
        centres[-1] = WIDTH - RIGHT
    body += _x_labels(short, centres)
    busiest = max(points, key=lambda p: p[1]) if points else ("", 0)
    description = (
        f"Bar chart of {unit} from {labels[0]} to {labels[-1]}: {total} in all, at most "
        f"{busiest[1]} ({busiest[0]})."
        if points
        else f"No {unit}."
    )
    return Chart(_frame(ident, title, description, body, top), title, (column, unit), list(points))


def cumulative(
    times: Sequence[dt.datetime],
    *,
    start: dt.date,
    before: int,
    title: str,
    unit: str,
    ident: str = "line",
) -> Chart:
    """A rising line: the running total per day from ``start`` to the last event, counting
    ``before`` events at the start (ones stored without a time, such as imported upvotes)."""
    last = max([t.date() for t in times] + [start])
    first = min([t.date() for t in times] + [start])
    days = (last - first).days + 1
    if days > 366:  # a long history: its last year, with everything before as the start
        first = last - dt.timedelta(days=365)
        days = 366
    per_day = [0] * days
    for t in times:
        offset = (t.date() - first).days
        if offset < 0:
            before += 1
        else:
            per_day[offset] += 1
    running, rows = before, []
    for i, n in enumerate(per_day):
        running += n
        rows.append(((first + dt.timedelta(days=i)).isoformat(), running))
    top = _nice_max(running)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [LEFT + plot_w * i / max(days - 1, 1) for i in range(days)]
    ys = [TOP + plot_h - plot_h * value / top for _, value in rows]
    if days == 1:  # one day: a flat line across, so there is something to see
        xs, ys = [LEFT, WIDTH - RIGHT], ys * 2
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    area = f"{xs[0]:.1f},{TOP + plot_h} {path} {xs[-1]:.1f},{TOP + plot_h}"
    body = [
        f'<polygon points="{area}" fill="{BAR}" fill-opacity="0.25"/>',
        f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>',
    ]
    labels = [label for label, _ in rows]
    body += _x_labels(labels, xs)
    description = (
        f"Line chart of {unit} over time, from {before} on {rows[0][0]} to {running} on "
        f"{rows[-1][0]}."
    )
    return Chart(_frame(ident, title, description, body, top), title, ("Day", unit), rows)
