"""The chart worker: pictures are drawn in a process of its own, one at a time, which holds
matplotlib so that the bot does not; a failing chart is an error for its caller only, and a
dead worker is replaced by the next picture."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot import charts, render
from bot.render import Chart, RenderError, picture
from tests.test_charts import FOOTER, every_picture, png_size, team


def test_every_chart_name_is_a_chart_of_bot_charts() -> None:
    for chart in Chart:
        assert callable(getattr(charts, chart.value)), chart


async def test_pictures_are_drawn_in_another_process_one_after_another() -> None:
    pictures = [
        picture(Chart.LEADERBOARD, team(10), "RUB", "ru", "Команда", FOOTER, "% плана"),
        picture(Chart.BREAKDOWN, [("North", 5), ("South", 3)], "en", "By region", FOOTER, "Other"),
        *(
            picture(Chart.BREAKDOWN, [("A", n), ("B", 1)], "en", "T", FOOTER, "Other")
            for n in (2, 3)
        ),
    ]
    drawn = await asyncio.gather(*(render.render(item) for item in pictures))
    assert [png_size(png)[0] for png in drawn] == [1080] * 4
    assert len(set(drawn)) == 4  # each its own picture, in the order asked
    assert drawn[0] == charts.leaderboard(team(10), "RUB", "ru", "Команда", FOOTER, "% плана")
    nothing = await render.render(picture(Chart.PIPELINE_FUNNEL, [], "RUB", "en", "P", FOOTER))
    assert nothing is None
    status = await render.worker_status()
    assert status.pid != os.getpid()
    assert "matplotlib.figure" in status.modules
    assert not {"matplotlib.pyplot", "aiogram", "sqlalchemy"} & status.modules
    assert 40 < status.peak_mb < 250


async def test_a_failing_chart_is_an_error_and_the_worker_goes_on() -> None:
    before = (await render.worker_status()).pid
    with pytest.raises(RenderError, match="TypeError"):
        await render.render(picture(Chart.LEADERBOARD, "not rows"))
    png = await render.render(picture(Chart.BREAKDOWN, [("A", 1)], "en", "T", FOOTER, "Other"))
    assert png_size(png)[0] == 1080
    assert (await render.worker_status()).pid == before


async def test_a_dead_worker_is_replaced_by_the_next_picture() -> None:
    dead = (await render.worker_status()).pid
    os.kill(dead, signal.SIGKILL)
    png = await render.render(picture(Chart.BREAKDOWN, [("A", 1)], "ru", "T", FOOTER, "Другое"))
    assert png_size(png)[0] == 1080
    assert (await render.worker_status()).pid != dead


def test_the_bot_never_imports_matplotlib() -> None:
    """The whole bot imported and a chart drawn: matplotlib is only in the worker."""
    script = (
        "import sys, asyncio\n"
        "import bot.app, bot.scheduler, bot.digest\n"
        "from bot import render\n"
        "from bot.render import Chart, picture\n"
        "item = picture(Chart.BREAKDOWN, [('A', 1)], 'en', 'T', 'F', 'O')\n"
        "png = asyncio.run(render.render(item))\n"
        "assert png.startswith(bytes.fromhex('89504e47')), png[:8]\n"
        "loaded = [name for name in sys.modules if name.startswith('matplotlib')]\n"
        "assert not loaded, loaded\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("locale", ["ru", "en"])
async def test_every_chart_comes_back_from_the_worker_as_drawn_here(locale: str) -> None:
    pictures = every_picture(locale)
    drawn = [await render.render(item) for item in pictures.values()]
    here = [render.draw(item) for item in pictures.values()]
    assert [png_size(png)[0] for png in drawn] == [1080] * len(pictures)
    assert drawn == here  # the worker draws what the charts module draws, byte for byte
    assert "matplotlib.pyplot" not in (await render.worker_status()).modules


async def test_a_worker_that_does_not_answer_is_killed_and_replaced(monkeypatch) -> None:
    stuck = (await render.worker_status()).pid
    monkeypatch.setattr(render, "ANSWER_TIMEOUT_S", 1.0)
    os.kill(stuck, signal.SIGSTOP)  # as if a chart never finished
    try:
        with pytest.raises(RenderError, match="no answer within"):
            await render.render(picture(Chart.BREAKDOWN, [("A", 1)], "en", "T", FOOTER, "O"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stuck, signal.SIGCONT)
    png, drawn = await render.render_or_skip(
        picture(Chart.BREAKDOWN, [("A", 1)], "en", "T", FOOTER, "O")
    )
    assert drawn and png_size(png)[0] == 1080
    assert (await render.worker_status()).pid != stuck
    failed = await render.render_or_skip(picture(Chart.LEADERBOARD, "not rows"))
    assert failed == (None, False)  # logged; the caller sends its text without the chart
