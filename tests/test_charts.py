"""Charts a head opens on a phone: PNG pictures 1080 px wide, in the reader's language, with no
overlapping labels even for a team of 50, every text with room of its own; and no picture at
all when there is nothing to show. (Drawing them in the worker: tests/test_render.py.)"""

from __future__ import annotations

import io
import struct
from datetime import date, timedelta
from itertools import combinations

import pytest
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from PIL import Image

from bot import charts, render
from bot.render import Chart, Picture, picture

LOCALES = ["ru", "en"]
FOOTER = "November 2026 · for Olga Admin"
NOVEMBER = [date(2026, 11, 1) + timedelta(days=n) for n in range(18)]


def png_size(data: bytes | None) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    assert data is not None
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def every_picture(locale: str) -> dict[str, Picture]:
    """Each chart with a small realistic data set."""
    cumulative = [n * 4_500_000 for n in range(1, len(NOVEMBER) + 1)]
    return {
        "revenue": picture(
            Chart.REVENUE_VS_PLAN,
            NOVEMBER,
            cumulative,
            150_000_000,
            "RUB",
            locale,
            "Revenue",
            FOOTER,
            "Plan",
            "Fact",
        ),
        "activity": picture(
            Chart.ACTIVITY_BY_DAY,
            NOVEMBER,
            [("Calls", [n % 5 for n in range(18)]), ("Visits", [n % 3 for n in range(18)])],
            locale,
            "Activity",
            FOOTER,
        ),
        "funnel": picture(
            Chart.PIPELINE_FUNNEL,
            [("New", 40, 400_000_000), ("Proposal", 12, 150_000_000), ("Won", 3, 9_000_000)],
            "RUB",
            locale,
            "Pipeline",
            FOOTER,
        ),
        "leaderboard": picture(
            Chart.LEADERBOARD, team(7), "RUB", locale, "Team", FOOTER, "% of plan"
        ),
        "breakdown": picture(
            Chart.BREAKDOWN,
            [(f"Region {n}", 1_000_000 * n) for n in range(1, 13)],
            locale,
            "By region",
            FOOTER,
            "Other",
            money=("RUB",),
        ),
        "satisfaction": picture(
            Chart.SATISFACTION_TREND,
            [(date(2026, 1, 5) + timedelta(weeks=n), 10.0 * n - 30, 3 + n / 10) for n in range(12)],
            locale,
            "NPS and CSAT",
            FOOTER,
            "NPS",
            "CSAT",
        ),
    }


def every_chart(locale: str) -> dict[str, bytes | None]:
    """Each chart drawn here, in the test's process."""
    return {name: render.draw(item) for name, item in every_picture(locale).items()}


def team(size: int) -> list[tuple[str, int, int | None]]:
    """Managers with long names, varied sums, some without a plan."""
    return [
        (f"Konstantin Konstantinopolsky-Vasilyevsky {n}", 7_919 * n**3, None if n % 4 else n * 3)
        for n in range(1, size + 1)
    ]


def crowded_charts(locale: str) -> dict[str, Figure]:
    """Each chart at its most crowded: titles long enough to wrap, names past NAME_CHARS, sums
    past a billion, seven-figure counts, six kinds of activity, long panel titles."""
    ru = locale == "ru"
    title = "Активность команды по дням: звонки, встречи, письма и задачи за декабрь 2026 года"
    footer = "1–31 декабря 2026 · для Ольга Петрова" if ru else "Dec 1–31, 2026 · for Olga Petrova"
    billion = 123_456_789_000  # 1 234 567 890 ₽ in kopecks
    kinds = ["Входящие звонки", "Исходящие звонки", "Встречи с клиентами"]
    kinds += ["Коммерческие предложения", "Письма клиентам", "Демонстрации продукта"]
    if not ru:
        kinds = ["Incoming calls", "Outgoing calls", "Client meetings"]
        kinds += ["Commercial proposals", "Letters to clients", "Product demonstrations"]
    month = [date(2026, 12, 1) + timedelta(days=n) for n in range(31)]  # a label on the last day
    names = [f"Констанция Брониславовна {n}" for n in range(1, 26)]  # 26 characters and more
    return {
        "revenue": charts.build_revenue_vs_plan(
            month,
            [billion // 31 * n for n in range(1, 32)],
            billion,
            "RUB",
            locale,
            title,
            footer,
            "План продаж" if ru else "Sales plan",
            "Факт" if ru else "Actual",
        ),
        "activity": charts.build_activity_by_day(
            month,
            [
                (kind, [(n * (k + 2)) % 7 * 150_000 for n in range(31)])
                for k, kind in enumerate(kinds)
            ],
            locale,
            title,
            footer,
        ),
        "funnel": charts.build_pipeline_funnel(
            [(name, 1_000_000 // n, billion // n) for n, name in enumerate(names[:6], start=1)],
            "RUB",
            locale,
            title,
            footer,
        ),
        "leaderboard": charts.build_leaderboard(
            [
                (name, billion - n * 4_000_000_000, 250 - n * 9 if n % 5 else None)
                for n, name in enumerate(names)
            ],
            "RUB",
            locale,
            title,
            footer,
            "Выполнение плана, %" if ru else "% of plan",
        ),
        "breakdown": charts.build_breakdown(
            [(name, billion // n) for n, name in enumerate(names[:12], start=1)],
            locale,
            title,
            footer,
            "Прочие регионы" if ru else "Other regions",
            money=("RUB",),
        ),
        "satisfaction": charts.build_satisfaction_trend(
            [
                (date(2026, 1, 5) + timedelta(weeks=n), -100.0 + 18 * n, 1 + n * 0.36)
                for n in range(12)
            ],
            locale,
            title,
            footer,
            "NPS: готовность рекомендовать нас" if ru else "NPS: would recommend us",
            "CSAT: оценка обслуживания, 1–5" if ru else "CSAT: service score, 1–5",
        ),
    }


def drawn_tick_labels(axis: Axis) -> list[Text]:
    """The tick labels an axis draws: those of ticks within its view, when shown."""
    low, high = sorted(axis.get_view_interval())
    return [
        tick.label1
        for tick in axis.get_major_ticks()
        if low <= tick.get_loc() <= high and tick.label1.get_visible() and tick.label1.get_text()
    ]


def drawn_text(figure: Figure) -> tuple[list[Text], list[Text]]:
    """Every text the figure draws, as (tick labels, the rest: title, footer, notes, legends)."""
    figure.draw_without_rendering()
    ticks = {
        id(label)
        for ax in figure.axes
        for axis in (ax.xaxis, ax.yaxis)
        for tick in axis.get_major_ticks() + axis.get_minor_ticks()
        for label in (tick.label1, tick.label2)
    }
    labels = [
        label
        for ax in figure.axes
        for axis in (ax.xaxis, ax.yaxis)
        for label in drawn_tick_labels(axis)
        if axis.get_visible()
    ]
    rest = [
        text
        for text in figure.findobj(Text)
        if id(text) not in ticks and text.get_visible() and text.get_text()
    ]
    return labels, rest


def all_text(figure: Figure) -> str:
    figure.canvas.draw()  # tick labels exist only once drawn
    texts = [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]
    return "\n".join(texts)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_chart_is_a_png_1080_px_wide(locale: str) -> None:
    for name, png in every_chart(locale).items():
        width, height = png_size(png)
        assert width == 1080, name
        assert 700 <= height <= 1200, name


@pytest.mark.parametrize(
    ("locale", "month", "money", "count"),
    [("ru", "нояб.", "млн\u00a0₽", "1\u00a0234"), ("en", "Nov", "M\u00a0₽", "1,234")],
)
def test_months_money_and_counts_read_in_the_viewers_language(
    locale: str, month: str, money: str, count: str
) -> None:
    revenue = all_text(
        charts.build_revenue_vs_plan(
            NOVEMBER,
            [n * 9_000_000 for n in range(18)],
            200_000_000,
            "RUB",
            locale,
            "Revenue",
            FOOTER,
            "Plan",
            "Fact",
        )
    )
    assert month in revenue
    assert money in revenue
    assert FOOTER in revenue
    assert "Plan: 2" in revenue  # the plan's sum in the legend
    funnel = all_text(
        charts.build_pipeline_funnel([("New", 1234, 500)], "RUB", locale, "Pipeline", FOOTER)
    )
    assert count in funnel


@pytest.mark.parametrize("locale", LOCALES)
def test_the_fixed_layout_leaves_every_text_room(locale: str) -> None:
    """No layout engine sizes the axes (it would draw each chart twice): this is its promise
    kept by hand, with the longest text there is."""
    for name, figure in crowded_charts(locale).items():
        labels, rest = drawn_text(figure)
        renderer = figure.canvas.get_renderer()
        boxes = {text: text.get_window_extent(renderer) for text in labels + rest}
        whole = figure.bbox
        for text, box in boxes.items():
            inside = whole.x0 <= box.x0 and box.x1 <= whole.x1
            assert inside and whole.y0 <= box.y0 and box.y1 <= whole.y1, (name, text.get_text())
        for (first, one), (second, other) in combinations(boxes.items(), 2):
            assert not one.overlaps(other), (name, first.get_text(), second.get_text())
        # Tick labels, titles and the footer keep off every plot, their own and a neighbour's;
        # only notes and legends are written on one.
        on_plots = {text for ax in figure.axes for text in ax.texts}
        on_plots |= {text for legend in figure.findobj(Legend) for text in legend.get_texts()}
        for text, box in boxes.items():
            for ax in figure.axes:
                assert text in on_plots or not box.overlaps(ax.bbox), (name, text.get_text())
        assert "\n" in figure.get_suptitle(), name  # the title did wrap


def test_a_count_axis_labels_each_tick_once() -> None:
    for most in (1, 2, 3, 7, 1234):
        figure = charts.build_activity_by_day(
            NOVEMBER[:3], [("Calls", [0, most, 1])], "en", "Activity", FOOTER
        )
        figure.draw_without_rendering()
        (ax,) = figure.axes
        labels = [label.get_text() for label in drawn_tick_labels(ax.yaxis)]
        counts = [int(label.replace(",", "")) for label in labels]  # whole numbers only
        assert counts[0] == 0 and len(counts) >= 2, labels
        assert counts == sorted(set(counts)), labels  # none repeated
    tiny = charts.build_revenue_vs_plan(
        NOVEMBER[:2], [0, 1], None, "RUB", "en", "Revenue", FOOTER, "Plan", "Fact"
    )
    tiny.draw_without_rendering()
    labels = [label.get_text() for label in drawn_tick_labels(tiny.axes[0].yaxis)]
    assert labels == ["0\xa0₽", "0.01\xa0₽"]


def test_the_fastest_compression_still_makes_whole_pngs() -> None:
    rows = [(f"Менеджер Фамилия{n} Имя", 100_000_000 - n * 3_000_000, 90) for n in range(25)]
    picture = charts.leaderboard(rows, "RUB", "ru", "Рейтинг", FOOTER, "План, %")
    image = Image.open(io.BytesIO(picture))
    image.load()  # decodes every row: a truncated or corrupt stream raises
    assert image.size == png_size(picture)
    assert len(picture) < 1_000_000  # the fastest zlib level costs size: still far from 10 MB


def test_a_chart_with_no_data_is_no_picture() -> None:
    empty = dict(locale="en", title="Title", footer=FOOTER)
    revenue = dict(currency="RUB", plan_label="Plan", fact_label="Fact", **empty)
    assert charts.revenue_vs_plan([], [], None, **revenue) is None
    assert charts.revenue_vs_plan(NOVEMBER[:2], [0, 0], None, **revenue) is None
    assert charts.activity_by_day([], [], **empty) is None
    assert charts.activity_by_day(NOVEMBER[:2], [("Calls", [0, 0])], **empty) is None
    assert charts.pipeline_funnel([], "RUB", **empty) is None
    assert charts.pipeline_funnel([("New", 0, 0)], "RUB", **empty) is None
    assert charts.leaderboard([], "RUB", plan_label="%", **empty) is None
    assert charts.leaderboard([("Anna", 0, None)], "RUB", plan_label="%", **empty) is None
    assert charts.breakdown([], other_label="Other", **empty) is None
    assert charts.breakdown([("North", 0)], other_label="Other", **empty) is None
    assert charts.satisfaction_trend([], nps_label="NPS", csat_label="CSAT", **empty) is None
    nothing = [(NOVEMBER[0], None, None)]
    assert charts.satisfaction_trend(nothing, nps_label="NPS", csat_label="CSAT", **empty) is None


def test_a_plan_with_no_sales_yet_is_still_drawn() -> None:
    picture = charts.revenue_vs_plan(
        NOVEMBER[:1], [0], 100_000_000, "RUB", "en", "Revenue", FOOTER, "Plan", "Fact"
    )
    assert png_size(picture)[0] == 1080


def test_a_leaderboard_of_50_grows_taller_and_no_labels_overlap() -> None:
    small = png_size(charts.leaderboard(team(5), "RUB", "ru", "Team", FOOTER, "% плана"))
    large = png_size(charts.leaderboard(team(50), "RUB", "ru", "Team", FOOTER, "% плана"))
    assert large[0] == small[0] == 1080
    assert large[1] > small[1] + 1500
    assert sum(large) <= 10_000 and large[1] <= 20 * large[0]  # Telegram's photo limits

    figure = charts.build_leaderboard(team(50), "RUB", "ru", "Team", FOOTER, "% плана")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    (ax,) = figure.axes
    names = [label for label in ax.get_yticklabels() if label.get_text()]
    assert len(names) == 50
    assert names[0].get_text().startswith("1. ")
    assert all(len(label.get_text()) <= charts.NAME_CHARS for label in names)
    assert any(label.get_text().endswith("…") for label in names)
    boxes = [text.get_window_extent(renderer) for text in [*names, *ax.texts]]
    for first, second in combinations(boxes, 2):
        assert not first.overlaps(second)
    whole = figure.bbox
    assert all(whole.x0 <= box.x0 and box.x1 <= whole.x1 for box in boxes)


def test_breakdown_shows_the_top_and_sums_the_rest_into_other() -> None:
    rows = [(f"Region {n}", n) for n in range(1, 13)]  # counts 1..12: the top 3 are 12, 11, 10
    figure = charts.build_breakdown(rows, "en", "By region", FOOTER, "Other", top_n=3)
    (ax,) = figure.axes
    figure.canvas.draw()
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        "Region 12",
        "Region 11",
        "Region 10",
        "Other",
    ]
    assert [text.get_text() for text in ax.texts][-1] == "45 · 58%"  # 1 + ... + 9 = 45 of 78


def test_dollar_signs_are_drawn_as_typed() -> None:
    rows = [("$mart $ales", 150_000_000, 100), ("Bob", 90_000_000, 80)]
    figure = charts.build_leaderboard(rows, "USD", "en", "Team", FOOTER, "% of plan")
    text = all_text(figure)
    assert r"\$" in text  # escaped, so "$…$" is not read as a formula
    assert png_size(charts.to_png(figure))[0] == 1080
