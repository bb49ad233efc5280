"""Charts a head opens on a phone: PNG pictures 1080 px wide, in the reader's language, with no
overlapping labels even for a team of 50, drawn off the event loop one at a time, never through
pyplot; and no picture at all when there is nothing to show."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from bot import charts

LOCALES = ["ru", "en"]
FOOTER = "November 2026 · for Olga Admin"
NOVEMBER = [date(2026, 11, 1) + timedelta(days=n) for n in range(18)]


def png_size(data: bytes | None) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    assert data is not None
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def every_chart(locale: str) -> dict[str, bytes | None]:
    """Each chart drawn with a small realistic data set."""
    cumulative = [n * 4_500_000 for n in range(1, len(NOVEMBER) + 1)]
    return {
        "revenue": charts.revenue_vs_plan(
            NOVEMBER, cumulative, 150_000_000, "RUB", locale, "Revenue", FOOTER, "Plan", "Fact"
        ),
        "activity": charts.activity_by_day(
            NOVEMBER,
            [("Calls", [n % 5 for n in range(18)]), ("Visits", [n % 3 for n in range(18)])],
            locale,
            "Activity",
            FOOTER,
        ),
        "funnel": charts.pipeline_funnel(
            [("New", 40, 400_000_000), ("Proposal", 12, 150_000_000), ("Won", 3, 9_000_000)],
            "RUB",
            locale,
            "Pipeline",
            FOOTER,
        ),
        "leaderboard": charts.leaderboard(team(7), "RUB", locale, "Team", FOOTER, "% of plan"),
        "breakdown": charts.breakdown(
            [(f"Region {n}", 1_000_000 * n) for n in range(1, 13)],
            locale,
            "By region",
            FOOTER,
            "Other",
            money=("RUB",),
        ),
        "satisfaction": charts.satisfaction_trend(
            [(date(2026, 1, 5) + timedelta(weeks=n), 10.0 * n - 30, 3 + n / 10) for n in range(12)],
            locale,
            "NPS and CSAT",
            FOOTER,
            "NPS",
            "CSAT",
        ),
    }


def team(size: int) -> list[tuple[str, int, int | None]]:
    """Managers with long names, varied sums, some without a plan."""
    return [
        (f"Konstantin Konstantinopolsky-Vasilyevsky {n}", 7_919 * n**3, None if n % 4 else n * 3)
        for n in range(1, size + 1)
    ]


def all_text(figure: Figure) -> str:
    figure.canvas.draw()  # tick labels exist only once drawn
    texts = [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]
    return "\n".join(texts)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_chart_is_a_png_1080_px_wide(locale: str) -> None:
    for name, picture in every_chart(locale).items():
        width, height = png_size(picture)
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


async def test_render_runs_off_the_event_loop_one_chart_at_a_time() -> None:
    inside, most_inside, threads = 0, 0, set()

    def watched_chart(locale: str) -> bytes | None:
        nonlocal inside, most_inside
        inside += 1
        most_inside = max(most_inside, inside)
        threads.add(threading.get_ident())
        time.sleep(0.01)  # give another thread the chance to barge in
        try:
            return charts.breakdown([("North", 5), ("South", 3)], locale, "T", FOOTER, "Other")
        finally:
            inside -= 1

    pictures = await asyncio.gather(
        *(charts.render(watched_chart, locale) for locale in LOCALES * 3),
        charts.render(charts.leaderboard, team(10), "RUB", "ru", "Team", FOOTER, "% плана"),
    )
    assert most_inside == 1
    assert threading.get_ident() not in threads
    assert all(png_size(picture)[0] == 1080 for picture in pictures)
    nothing = await charts.render(charts.pipeline_funnel, [], "RUB", "en", "Pipeline", FOOTER)
    assert nothing is None


def test_pyplot_is_never_imported() -> None:
    script = (
        "import sys, asyncio\n"
        "from bot import charts\n"
        "from tests.test_charts import every_chart\n"
        "assert all(every_chart('ru').values())\n"
        "asyncio.run(charts.render(charts.breakdown, [('A', 1)], 'en', 'T', 'F', 'Other'))\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
