"""Charts a phone shows well: PNG bytes exactly 1080 px wide, drawn with matplotlib's
object-oriented API (Figure + Agg canvas, never pyplot).

Callers pass plain data and text that is already translated; this module formats numbers, money
and month names for the locale ("ru" or "en") and returns None when there is nothing to draw, so
the caller answers with one line of text instead. Every chart has a `build_*` twin returning the
Figure (tests measure its text). The bot never imports this module: it describes a picture and
bot/render.py has it drawn in the chart worker, one at a time (matplotlib is not thread-safe).
"""

from __future__ import annotations

import calendar
import functools
import io
import math
import textwrap
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from itertools import pairwise
from typing import ParamSpec

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal, format_percent
from matplotlib import text as mtext
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.patches import Patch
from matplotlib.text import Annotation
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from bot.services.money import format_money

DPI = 100
WIDTH_PX = 1080
HEIGHT_PX = 720
# Okabe–Ito: told apart with every common colour-vision deficiency. Yellow goes last: pale on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
FACT, PLAN, GOOD, OTHER = PALETTE[0], PALETTE[3], PALETTE[2], "#999999"
INK, MUTED, GRID = "#222222", "#666666", "#E3E3E3"
# Sizes in pixels of the 1080-px picture; a phone shows it at about a third of that.
TITLE_PX, TEXT_PX, FOOTER_PX = 34, 24, 20
TITLE_CHARS = 52  # a title wraps at this many characters, or fewer when they are wide letters
EDGE_PX = 22  # the empty border left and right: the title and the footer start here
GAP_PX = 20  # above the title, under it, and between stacked panels
TICK_PAD_PX = 11  # between a tick label and its axis
LINE_SPACING = 1.2  # matplotlib's, between the baselines of a multi-line text
ROW_PX = 46  # one bar of a horizontal chart: a 24-px label with air around it
ROWS_OVERHEAD_PX = 220  # title, footer and margins around those bars
NAME_CHARS = 22

P = ParamSpec("P")


# --- the two helpers every chart uses ---------------------------------------------------------


def styled_figure(
    title: str, footer: str, height_px: int = HEIGHT_PX, panels: int = 1
) -> tuple[Figure, list[Axes]]:
    """A white 1080-px Figure: bold title on top, the footer (period, who it is for) in a band at
    the bottom, `panels` Axes stacked on a shared x axis, without boxes or tick marks. There is no
    layout engine (it would draw every chart twice): the chart places its axes with `_fit` once
    everything is on them."""
    figure = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    figure.suptitle(
        _plain(_wrap_title(figure.canvas.get_renderer(), title)),
        x=EDGE_PX / WIDTH_PX,
        y=1 - GAP_PX / height_px,
        ha="left",
        va="top",
        fontsize=_pt(TITLE_PX),
        fontweight="bold",
        color=INK,
    )
    figure.text(
        EDGE_PX / WIDTH_PX,
        FOOTER_PX / height_px,
        _plain(footer),
        va="center",
        fontsize=_pt(FOOTER_PX),
        color=MUTED,
    )
    axes = list(figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0])
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.spines[["left", "bottom"]].set_color(MUTED)
        ax.tick_params(labelsize=_pt(TEXT_PX), colors=INK, length=0, pad=_pt(TICK_PAD_PX))
        ax.set_axisbelow(True)
    return figure, axes


def _fit(figure: Figure, axes: Sequence[Axes], outside: Sequence[Artist] = ()) -> None:
    """Places `axes` by hand, stacked top to bottom on one width, leaving the text around them the
    room it takes: the title band on top, the footer band at the bottom, the tick labels (measured
    from the strings the axes will draw) and `outside`, the few artists drawn past their axes (a
    legend or a note above, a panel title, the last value right of a line), measured where they
    stand. Those move with the axes, so the placing is redone until nothing needs more room:
    twice, in practice, and each time is arithmetic and a few text sizes, not a drawing."""
    renderer = figure.canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    label_height, label_descent = _line_px(renderer, TEXT_PX)
    title_lines = figure.get_suptitle().count("\n") + 1
    # a little more air under the title than above it: it heads everything below
    title_band = 2.5 * GAP_PX + _lines_px(renderer, title_lines, TITLE_PX, bold=True)
    footer_band = 2 * FOOTER_PX + GAP_PX / 2
    y_labels = {ax: _labels_px(renderer, ax.yaxis) for ax in axes}
    x_labels = {ax: _labels_px(renderer, ax.xaxis) for ax in axes}
    widest = max((w for labels in y_labels.values() for _, w in labels), default=0)
    left = EDGE_PX + (widest + TICK_PAD_PX if widest else 0)
    right = float(EDGE_PX)
    above = dict.fromkeys(axes, 0.0)
    x_pad = dict.fromkeys(axes, float(TICK_PAD_PX))

    def place() -> None:
        below = {ax: x_pad[ax] + label_height if x_labels[ax] else 0 for ax in axes}
        free = height - title_band - footer_band - GAP_PX * (len(axes) - 1)
        panel = max(1, (free - sum(above.values()) - sum(below.values())) / len(axes))
        top = height - title_band
        for ax in axes:
            top -= above[ax]
            ax.set_position(
                (
                    left / width,
                    (top - panel) / height,
                    (width - left - right) / width,
                    panel / height,
                )
            )
            top -= panel + below[ax] + GAP_PX

    for _attempt in range(4):
        place()
        before = (*above.values(), *x_pad.values())
        # Where text ends left and right: margins grow by as much as it runs past the borders.
        edges_x = [EDGE_PX, width - EDGE_PX]
        for ax in axes:
            box = ax.bbox
            for place_y, _ in y_labels[ax]:
                # Centred on its tick's baseline, a y label overhangs an end of the axes.
                y = ax.transData.transform((0, place_y))[1]
                above[ax] = max(above[ax], y + (label_height - label_descent) / 2 - box.y1)
                if x_labels[ax]:  # x labels go below the lowest one, not into its corner
                    under = box.y0 - y + (label_height + label_descent) / 2
                    x_pad[ax] = max(x_pad[ax], under + 4)
            for place_x, label_width in x_labels[ax]:
                # Centred on its tick, the first or last x label may overhang the axes.
                x = ax.transData.transform((place_x, 0))[0]
                edges_x += [x - label_width / 2, x + label_width / 2]
        for artist in outside:
            extent = artist.get_window_extent(renderer)
            above[artist.axes] = max(above[artist.axes], extent.y1 - artist.axes.bbox.y1)
            edges_x += [extent.x0, extent.x1]
        past_left = max(0, EDGE_PX - min(edges_x))
        past_right = max(0, max(edges_x) - (width - EDGE_PX))
        left, right = left + past_left, right + past_right
        after = (*above.values(), *x_pad.values())
        grown = [
            past_left,
            past_right,
            *(new - old for new, old in zip(after, before, strict=True)),
        ]
        if max(grown) < 0.5:
            break
    else:
        place()
    for ax in axes:
        ax.xaxis.set_tick_params(pad=_pt(x_pad[ax]))


def to_png(figure: Figure | None) -> bytes | None:
    if figure is None:
        return None
    buffer = io.BytesIO()
    # zlib's fastest level: the PNG takes 40% less time to encode and about as many bytes
    figure.savefig(
        buffer,
        format="png",
        dpi=DPI,
        facecolor=figure.get_facecolor(),
        pil_kwargs={"compress_level": 1},
    )
    return buffer.getvalue()


def _as_png(build: Callable[P, Figure | None]) -> Callable[P, bytes | None]:
    """The chart as PNG bytes, from its `build_*` function."""

    @functools.wraps(build)
    def chart(*args: P.args, **kwargs: P.kwargs) -> bytes | None:
        return to_png(build(*args, **kwargs))

    chart.__name__ = chart.__qualname__ = build.__name__.removeprefix("build_")
    return chart


# --- the charts -----------------------------------------------------------------------------


def build_revenue_vs_plan(
    days: list[date],
    cumulative_minor: list[int],
    plan_minor: int | None,
    currency: str,
    locale: str,
    title: str,
    footer: str,
    plan_label: str,
    fact_label: str,
) -> Figure | None:
    """Revenue won so far this month (cumulative) against the plan. The plan is a pace line from
    zero to the full plan on the month's last day rather than a flat target: wherever the fact
    line runs above it the manager is ahead of pace, which a flat line shows only at month end.
    The x axis spans the whole month of `days[0]`, so the days still to come are visible."""
    _same_length(days, cumulative_minor)
    if not days or (not any(cumulative_minor) and not plan_minor):
        return None
    start = days[0].replace(day=1)
    month_end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
    month = _date_range(start, max(month_end, days[-1]))
    figure, (ax,) = styled_figure(title, footer)
    money = functools.partial(format_money, currency=currency, locale=locale, compact=True)
    if plan_minor:
        pace = [plan_minor * (n + 1) / len(month) for n in range(len(month))]
        ax.plot(
            _x(month),
            pace,
            color=PLAN,
            linewidth=3,
            linestyle="--",
            label=_plain(f"{plan_label}: {money(plan_minor)}"),
        )
    ax.plot(
        _x(days),
        cumulative_minor,
        color=FACT,
        linewidth=4.5,
        label=_plain(f"{fact_label}: {money(cumulative_minor[-1])}"),
    )
    ax.plot(_x(days[-1:]), cumulative_minor[-1:], "o", color=FACT, markersize=11)
    ax.set_ylim(0, max(*cumulative_minor, plan_minor or 0) * 1.15 or 1)
    _value_axis(ax.yaxis, lambda value: money(round(value)))
    _date_axis(ax, month, locale)
    ax.grid(axis="y", color=GRID)
    ax.legend(loc="best", frameon=False, fontsize=_pt(TEXT_PX), labelcolor=INK)
    _fit(figure, [ax])
    return figure


def build_activity_by_day(
    days: list[date],
    series: list[tuple[str, list[int]]],
    locale: str,
    title: str,
    footer: str,
) -> Figure | None:
    """Bars per day stacked by kind. A kind keeps its colour by its place in `series` (pass the
    kinds in a fixed order); kinds with nothing in the period are left out of the legend."""
    for _, values in series:
        _same_length(days, values)
    if not days or not any(any(values) for _, values in series):
        return None
    figure, (ax,) = styled_figure(title, footer)
    gap = min(((b - a).days for a, b in pairwise(days)), default=1)
    bottom, legend = [0] * len(days), []
    for index, (name, values) in enumerate(series):
        if any(values):
            color = PALETTE[index % len(PALETTE)]
            _bars(ax, _x(days), values, bottom, color, thickness=0.8 * gap)
            legend.append(Patch(color=color, label=_plain(name)))
            bottom = [total + value for total, value in zip(bottom, values, strict=True)]
    ax.set_ylim(0, max(bottom) * 1.05)
    _value_axis(ax.yaxis, lambda value: format_decimal(round(value), locale=locale))
    _date_axis(ax, days, locale)
    ax.grid(axis="y", color=GRID)
    _fit(figure, [ax], [_legend_above(ax, legend)])
    return figure


def build_pipeline_funnel(
    stages: list[tuple[str, int, int]],
    currency: str,
    locale: str,
    title: str,
    footer: str,
) -> Figure | None:
    """Stages top to bottom as bars centred like a funnel, width by the number of deals; each
    bar says "count · amount" in its middle (dark on a light bar, still readable past a narrow
    bar's ends)."""
    if not any(count for _, count, _ in stages):
        return None
    figure, (ax,) = styled_figure(title, footer, _rows_height(len(stages)))
    counts = [count for _, count, _ in stages]
    widest = max(counts)
    rows = range(len(stages))
    _bars(ax, rows, counts, [-count / 2 for count in counts], PALETTE[4], across=True)
    for row, (_, count, amount) in zip(rows, stages, strict=True):
        note = f"{format_decimal(count, locale=locale)} · " + format_money(
            amount, currency, locale, compact=True
        )
        ax.text(0, row, _plain(note), ha="center", va="center", fontsize=_pt(TEXT_PX), color=INK)
    ax.set_xlim(-widest / 2 * 1.02, widest / 2 * 1.02)
    _bar_labels(ax, [label for label, _, _ in stages])
    _fit(figure, [ax])
    return figure


def build_leaderboard(
    rows: list[tuple[str, int, int | None]],
    currency: str,
    locale: str,
    title: str,
    footer: str,
    plan_label: str,
) -> Figure | None:
    """Managers by revenue, best on top: numbered names (long ones cut with "…"), a bar with the
    sum after it, and a right-hand column of plan attainment headed by `plan_label` (green and
    bold at 100% and above, "—" without a plan). The picture grows 46 px taller per manager, so
    50 names never overlap; Telegram takes photos up to about 190 rows this way."""
    if not any(revenue or percent is not None for _, revenue, percent in rows):
        return None
    rows = sorted(rows, key=lambda row: -row[1])
    figure, (ax,) = styled_figure(title, footer, _rows_height(len(rows)))
    positions = range(len(rows))
    revenues = [revenue for _, revenue, _ in rows]
    _bars(ax, positions, revenues, [0] * len(rows), FACT, thickness=0.7, across=True)
    for row, revenue in zip(positions, revenues, strict=True):
        _after_bar(ax, row, revenue, format_money(revenue, currency, locale, compact=True))
    column = ax.get_yaxis_transform()  # x in axes fractions, y in rows
    for row, (_, _, percent) in zip(positions, rows, strict=True):
        good = percent is not None and percent >= 100
        text = "—" if percent is None else format_percent(percent / 100, locale=locale)
        ax.text(
            1,
            row,
            text,
            transform=column,
            ha="right",
            va="center",
            fontsize=_pt(TEXT_PX),
            color=GOOD if good else INK,
            fontweight="bold" if good else "normal",
        )
    heading = ax.text(
        1,
        1,
        _plain(plan_label),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=_pt(FOOTER_PX),
        color=MUTED,
    )
    ax.set_xlim(0, (max(revenues) or 1) / 0.55)  # bars take 55%: room for sums and the column
    _bar_labels(ax, [f"{rank}. {name}" for rank, (name, _, _) in enumerate(rows, start=1)])
    _fit(figure, [ax], [heading])
    return figure


def build_breakdown(
    rows: list[tuple[str, int]],
    locale: str,
    title: str,
    footer: str,
    other_label: str,
    top_n: int = 8,
    money: tuple[str] | None = None,
) -> Figure | None:
    """The biggest `top_n` slices (product lines, regions, industries...) as bars, the rest
    summed into one grey `other_label` bar; each bar says its value and share of the total.
    Values are money in minor units of `money[0]` when `money=(currency,)`, else counts."""
    rows = sorted(((label, value) for label, value in rows if value > 0), key=lambda r: -r[1])
    if not rows:
        return None
    rest = rows[top_n:]
    shown = rows[:top_n] + ([(other_label, sum(value for _, value in rest))] if rest else [])
    total = sum(value for _, value in shown)
    figure, (ax,) = styled_figure(title, footer, _rows_height(len(shown)))
    colors = [FACT] * min(len(rows), top_n) + [OTHER] * bool(rest)
    values = [value for _, value in shown]
    _bars(ax, range(len(shown)), values, [0] * len(shown), colors, thickness=0.7, across=True)
    notes = []
    for row, (_, value) in enumerate(shown):
        if money:
            amount = format_money(value, money[0], locale, compact=True)
        else:
            amount = format_decimal(value, locale=locale)
        share = format_percent(value / total, locale=locale)
        notes.append(_after_bar(ax, row, value, f"{amount} · {share}"))
    ax.set_xlim(0, max(value for _, value in shown) / 0.65)  # room for the value and share
    _bar_labels(ax, [label for label, _ in shown])
    _fit(figure, [ax], notes)  # a long note after the longest bar may still need more
    return figure


def build_satisfaction_trend(
    points: list[tuple[date, float | None, float | None]],
    locale: str,
    title: str,
    footer: str,
    nps_label: str,
    csat_label: str,
) -> Figure | None:
    """NPS (−100..100) on top and CSAT (1..5) below, two panels on one time axis with full fixed
    scales (a small wobble does not look like a collapse). A missing value breaks the line; the
    latest value of each is written right of its last point, clear of the line."""
    points = sorted(points, key=lambda point: point[0])
    if not any(nps is not None or csat is not None for _, nps, csat in points):
        return None
    figure, (top, bottom) = styled_figure(title, footer, 900, panels=2)
    days = [day for day, _, _ in points]
    outside: list[Artist] = []  # the panel titles above, the last values right of the lines
    panels = (
        (top, 1, nps_label, (-100, -50, 0, 50, 100), 8, "#,##0"),
        (bottom, 2, csat_label, (1, 2, 3, 4, 5), 0.2, "0.0"),
    )
    for ax, column, label, ticks, pad, pattern in panels:
        color = PALETTE[column - 1]
        values = [point[column] for point in points]
        ax.plot(
            _x(days),
            [math.nan if v is None else v for v in values],
            color=color,
            linewidth=4,
            marker="o",
            markersize=9,
        )
        known = [(day, value) for day, value in zip(days, values, strict=True) if value is not None]
        if known:
            day, value = known[-1]
            last = ax.annotate(
                format_decimal(value, format=pattern, locale=locale),
                (day.toordinal(), value),
                xytext=(12, 0),
                textcoords="offset points",
                va="center",
                fontsize=_pt(TEXT_PX),
                fontweight="bold",
                color=color,
            )
            outside.append(last)
        outside.append(ax.set_title(_plain(label), loc="left", fontsize=_pt(TEXT_PX), color=INK))
        ax.set_yticks(ticks, [format_decimal(tick, locale=locale) for tick in ticks])
        ax.set_ylim(ticks[0] - pad, ticks[-1] + pad)
        ax.grid(axis="y", color=GRID)
    top.axhline(0, color=MUTED, linewidth=1.5)
    _date_axis(bottom, days, locale)
    _fit(figure, [top, bottom], outside)
    return figure


revenue_vs_plan = _as_png(build_revenue_vs_plan)
activity_by_day = _as_png(build_activity_by_day)
pipeline_funnel = _as_png(build_pipeline_funnel)
leaderboard = _as_png(build_leaderboard)
breakdown = _as_png(build_breakdown)
satisfaction_trend = _as_png(build_satisfaction_trend)


# --- small pieces -----------------------------------------------------------------------------


def _pt(px: float) -> float:
    return px * 72 / DPI


def _font(px: float, bold: bool = False) -> FontProperties:
    return FontProperties(size=_pt(px), weight="bold" if bold else "normal")


def _text_px(renderer: RendererAgg, text: str, px: float, bold: bool = False) -> float:
    """The width of one line of text as drawn. Text.draw measures through the same cache, so a
    label measured here is not measured again (a tenth of a leaderboard's time); the cache is
    private to matplotlib, which pyproject pins to 3.10.x."""
    text = text.replace(r"\$", "$")  # as drawn: see _plain
    width, _, _ = mtext._get_text_metrics_with_cache(
        renderer, text, _font(px, bold), ismath=False, dpi=renderer.dpi
    )
    return width


def _line_px(renderer: RendererAgg, px: float, bold: bool = False) -> tuple[float, float]:
    """Height and descent of a line of text, as matplotlib reckons them (from "lp")."""
    _, line_height, descent = mtext._get_text_metrics_with_cache(
        renderer, "lp", _font(px, bold), ismath=False, dpi=renderer.dpi
    )
    return line_height, descent


def _lines_px(renderer: RendererAgg, lines: int, px: float, bold: bool = False) -> float:
    """The height of a text of `lines` lines."""
    line_height, descent = _line_px(renderer, px, bold)
    return (line_height - descent) * (1 + LINE_SPACING * (lines - 1)) + descent


def _wrap_title(renderer: RendererAgg, title: str) -> str:
    """The title in lines of at most TITLE_CHARS characters; fewer where the letters are wide
    (bold Cyrillic), so that no line runs past the right edge."""
    room = WIDTH_PX - 2 * EDGE_PX
    for chars in range(TITLE_CHARS, 10, -1):
        lines = textwrap.wrap(title, chars)
        if all(_text_px(renderer, line, TITLE_PX, bold=True) <= room for line in lines):
            break
    return "\n".join(lines)


def _labels_px(renderer: RendererAgg, axis: Axis) -> list[tuple[float, float]]:
    """(Place, width) of each tick label the axis will draw: its locator's ticks within the view,
    as its formatter writes them. None at all when the axis or its labels are hidden."""
    shown = axis.get_tick_params().get("labelbottom" if axis.axis_name == "x" else "labelleft")
    if not axis.get_visible() or shown is False:
        return []
    places = axis.get_majorticklocs()
    texts = axis.get_major_formatter().format_ticks(places)
    low, high = sorted(axis.get_view_interval())
    slack = (high - low) * 1e-9  # as Axis does: a tick on the limit counts
    return [
        (place, _text_px(renderer, text, TEXT_PX))
        for place, text in zip(places, texts, strict=True)
        if text and low - slack <= place <= high + slack
    ]


def _plain(text: str) -> str:
    """Text drawn as typed: a pair of "$" (dollar sums, names) would turn on matplotlib's maths."""
    return text.replace("$", r"\$")


def _shorten(text: str, limit: int = NAME_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _x(days: Sequence[date]) -> list[int]:
    return [day.toordinal() for day in days]


def _date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _same_length(days: Sequence[date], values: Sequence[object]) -> None:
    if len(days) != len(values):
        raise ValueError(f"{len(days)} days but {len(values)} values")


def _rows_height(rows: int) -> int:
    return max(HEIGHT_PX, ROWS_OVERHEAD_PX + ROW_PX * rows)


def _date_axis(ax: Axes, days: Sequence[date], locale: str) -> None:
    """At most seven date ticks with localized month names: data days ("5 нояб." / "Nov 5")
    over up to 200 days, else the first days of months ("нояб." / "Nov", with the year when the
    period crosses one)."""
    first, last = days[0], days[-1]
    if (last - first).days <= 200:
        shown = list(days[:: math.ceil(len(days) / 7)])
        labels = [format_skeleton("MMMd", day, locale=locale) for day in shown]
    else:
        months = [d for d in _date_range(first, last) if d.day == 1] or [first]
        shown = months[:: math.ceil(len(months) / 7)]
        same_year = first.year == last.year
        labels = [
            format_date(day, "LLL", locale=locale)
            if same_year
            else format_skeleton("yMMM", day, locale=locale)
            for day in shown
        ]
    ax.set_xticks(_x(shown), [_plain(label) for label in labels])
    ax.set_xlim(first.toordinal() - 0.6, last.toordinal() + 0.6)


def _value_axis(axis: Axis, label: Callable[[float], str]) -> None:
    """Up to six ticks on whole numbers (counts, minor units of money), each labelled once."""
    # min_n_ticks=3 would let a 0..1 axis fall back to steps of 0.25: "0, 0, 0, 1, 1" once rounded
    axis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=2))
    axis.set_major_formatter(FuncFormatter(lambda value, _position: _plain(label(value))))


def _bar_labels(ax: Axes, labels: Sequence[str]) -> None:
    """Rows of horizontal bars named on the left, first on top; no value axis: bars are labelled."""
    ax.set_yticks(range(len(labels)), [_plain(_shorten(label)) for label in labels])
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.xaxis.set_visible(False)
    ax.spines[:].set_visible(False)


def _legend_above(ax: Axes, handles: list[Patch]) -> Legend:
    """The legend in a block right above the axes, from the left edge of the picture (under the
    title), four to a row or as many as fit the width."""
    figure = ax.get_figure(root=True)
    renderer = figure.canvas.get_renderer()
    edge_and_top = blended_transform_factory(figure.transFigure, ax.transAxes)
    for columns in range(min(len(handles), 4), 0, -1):
        legend = ax.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(EDGE_PX / WIDTH_PX, 1.01),
            bbox_transform=edge_and_top,
            ncols=columns,
            frameon=False,
            fontsize=_pt(TEXT_PX),
            labelcolor=INK,
            borderaxespad=0,
            handlelength=1,
        )
        if legend.get_window_extent(renderer).width <= WIDTH_PX - 2 * EDGE_PX:
            break
    return legend


def _bars(
    ax: Axes,
    places: Sequence[float],
    lengths: Sequence[float],
    starts: Sequence[float],
    color: str | list[str],
    thickness: float = 0.8,
    across: bool = False,
) -> None:
    """Bars as one PolyCollection: a patch per bar (`ax.bar`) is about 15 times slower to build.
    Vertical at x = `places`, or `across` (horizontal) at y = `places`; the caller sets limits."""
    half = thickness / 2
    boxes = []
    for place, length, start in zip(places, lengths, starts, strict=True):
        box = [(place - half, start), (place - half, start + length)]
        box += [(place + half, start + length), (place + half, start)]
        boxes.append([(y, x) for x, y in box] if across else box)
    bars = PolyCollection(boxes, facecolors=color, edgecolors="white", linewidths=0.5)
    ax.add_collection(bars, autolim=False)


def _after_bar(ax: Axes, row: int, value: float, text: str) -> Annotation:
    return ax.annotate(
        _plain(text),
        (value, row),
        xytext=(8, 0),
        textcoords="offset points",
        va="center",
        fontsize=_pt(TEXT_PX),
        color=INK,
    )
