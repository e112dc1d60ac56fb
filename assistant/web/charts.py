"""The chart of weekly hours rising to full time, drawn on the server as inline SVG.

Presentation attributes only (no ``style``), so the strict Content-Security-Policy holds; the
SVG has a title and a description for screen readers, and the timetable grid beside it has the
same figures as a table.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from conversations.timetable import GraduatedTimetable

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 20, 44


def _fmt(hours: float) -> str:
    return f"{hours:.1f}".rstrip("0").rstrip(".")


def weekly_hours_svg(timetable: GraduatedTimetable, *, chart_id: str = "hours-chart") -> Markup:
    weeks = timetable.weeks
    full = timetable.full_time_hours
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = max(full, max(w.hours for w in weeks)) or 1.0
    slot = plot_w / len(weeks)
    bar_w = max(4.0, min(48.0, slot * 0.6))

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top_value

    summary = ", ".join(f"week of {w.week_beginning:%d %b}: {_fmt(w.hours)} hours" for w in weeks)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">Hours in school each week, rising to full time ({_fmt(full)} hours)</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}.</desc>',
    ]
    for tick in range(0, 5):
        value = top_value * tick / 4
        ty = y(value)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#d0d5dd" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#344054">{_fmt(value)}</text>')
    for index, week in enumerate(weeks):
        x = LEFT + slot * index + (slot - bar_w) / 2
        by = y(week.hours)
        colour = "#027a48" if week.full_time else "#1d4ed8"
        parts.append(f'<rect x="{x:.1f}" y="{by:.1f}" width="{bar_w:.1f}" height="{TOP + plot_h - by:.1f}" '
                     f'fill="{colour}"><title>Week of {week.week_beginning:%d %b %Y}: {_fmt(week.hours)} hours '
                     f'({week.percent_of_full_time:g}% of full time)</title></rect>')
        if len(weeks) <= 16 or index % max(1, len(weeks) // 12) == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                         f'font-size="11" fill="#344054">{week.week_beginning:%d %b}</text>')
    fy = y(full)
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{fy:.1f}" y2="{fy:.1f}" stroke="#b42318" '
                 'stroke-width="2" stroke-dasharray="6 4"/>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{fy - 6:.1f}" text-anchor="end" font-size="12" '
                 f'fill="#b42318">Full time {_fmt(full)} h</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="12" '
                 'fill="#344054">Week beginning</text>')
    parts.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" font-size="12" fill="#344054" '
                 f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">Hours</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
