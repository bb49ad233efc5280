"""Charts are drawn in a worker process of their own, one at a time.

Why a process and not a thread: matplotlib and numpy cost ~50 MB just imported, and every
figure leaves garbage behind until a full collection; the worker holds all of that, so the
bot's own process stays small (bench/kpi measures both). Drawing there also runs on another
core while the bot answers updates and reads the next digest's figures.

The worker is `python -m bot.render`, started on the first picture (or at bot start-up, so the
first chart is not slow): a fresh interpreter that imports bot.charts and nothing of the bot,
unlike a fork of the bot, which would carry aiogram's 150 MB along. Requests and answers are
pickled over its stdin and stdout (our own child: nothing untrusted is unpickled). One worker
and one request at a time keep memory bounded; if it dies, the next picture starts another.

Callers describe a picture with plain data (`Picture`: a chart of bot.charts and its arguments,
text already translated); this module never imports matplotlib in the bot.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import importlib
import logging
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any

log = logging.getLogger(__name__)

CHARTS_MODULE = "bot.charts"
ANSWER_TIMEOUT_S = 30.0  # a chart takes ~0.1 s, a fresh worker's first one ~0.6 s


class Chart(StrEnum):
    """The charts of bot.charts, by the name of their PNG function."""

    REVENUE_VS_PLAN = "revenue_vs_plan"
    ACTIVITY_BY_DAY = "activity_by_day"
    PIPELINE_FUNNEL = "pipeline_funnel"
    LEADERBOARD = "leaderboard"
    BREAKDOWN = "breakdown"
    SATISFACTION_TREND = "satisfaction_trend"


@dataclass(frozen=True)
class Picture:
    """A chart to draw: which one and its arguments, pickled to the worker as they are."""

    chart: Chart
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def picture(chart: Chart, *args: Any, **kwargs: Any) -> Picture:
    return Picture(chart, args, kwargs)


class RenderError(RuntimeError):
    """The chart failed in the worker (the worker's traceback is the message)."""


async def render(item: Picture) -> bytes | None:
    """The picture as PNG bytes, or None when its chart has nothing to draw."""
    return await asyncio.get_running_loop().run_in_executor(_waiting, _ask, ("draw", item))


@dataclass(frozen=True)
class WorkerStatus:
    pid: int
    peak_mb: float
    modules: frozenset[str]  # what it has imported


async def render_or_skip(item: Picture) -> tuple[bytes | None, bool]:
    """(PNG or None, drawn): a chart that fails is logged and comes back as (None, False), so
    the text it goes with still goes out (a KPI screen, a digest) without it."""
    try:
        return await render(item), True
    except (RenderError, OSError, EOFError, pickle.UnpicklingError):
        log.exception("the chart %s was not drawn", Chart(item.chart).value)
        return None, False


async def worker_status() -> WorkerStatus:
    """The worker's process id, peak memory and modules (benchmarks and tests)."""
    return await asyncio.get_running_loop().run_in_executor(_waiting, _ask, ("status", None))


def start() -> None:
    """Starts the worker now, so that it has imported matplotlib by the first chart."""
    with _lock:
        _running()


def stop() -> None:
    """Ends the worker; the next picture starts another."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is not None:
        _end(worker)


# --- the bot's side -------------------------------------------------------------------------

_worker: subprocess.Popen[bytes] | None = None
_lock = threading.Lock()  # one request at a time, from whichever thread or event loop
# Pictures wait for the worker in a thread of their own: queued in asyncio's default executor
# they would hold the threads that aiohttp resolves Telegram's address with.
_waiting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")


def _ask(request: tuple[str, Any]) -> Any:
    """One request and its answer. A worker that died is replaced and asked again, once; one
    that does not answer within ANSWER_TIMEOUT_S is killed (the next picture starts another),
    so a stuck chart cannot hold up the digest and everything behind it."""
    global _worker
    with _lock:
        for attempt in (1, 2):
            worker = _running()
            try:
                assert worker.stdin is not None and worker.stdout is not None
                pickle.dump(request, worker.stdin)
                worker.stdin.flush()
                ready, _, _ = select.select([worker.stdout], [], [], ANSWER_TIMEOUT_S)
                if not ready:
                    _worker = None
                    worker.kill()
                    _end(worker)
                    raise RenderError(f"no answer within {ANSWER_TIMEOUT_S} s: worker killed")
                ok, answer = pickle.load(worker.stdout)
                break
            except (EOFError, OSError, pickle.UnpicklingError):
                _worker = None
                _end(worker)
                if attempt == 2:
                    raise
                log.warning("the chart worker died; starting another one")
    if not ok:
        raise RenderError(answer)
    return answer


def _running() -> subprocess.Popen[bytes]:
    """The worker, started when there is none (called under _lock)."""
    global _worker
    if _worker is None or _worker.poll() is not None:
        _worker = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
    return _worker


def _end(worker: subprocess.Popen[bytes]) -> None:
    """Closing its stdin ends the worker's loop; a stuck one is killed."""
    try:
        if worker.stdin is not None:
            worker.stdin.close()
        worker.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        worker.kill()
        worker.wait()


atexit.register(stop)


# --- the worker's side ----------------------------------------------------------------------


def draw(item: Picture) -> bytes | None:
    """The chart function, in the worker (and in tests directly)."""
    charts = importlib.import_module(CHARTS_MODULE)
    return getattr(charts, Chart(item.chart).value)(*item.args, **item.kwargs)


def _status() -> WorkerStatus:
    return WorkerStatus(os.getpid(), peak_memory_mb(), frozenset(sys.modules))


def peak_memory_mb() -> float:
    """This process's peak resident memory: VmHWM on Linux, as ru_maxrss would still count
    the pages of the process this one was forked from before its exec."""
    try:
        with open("/proc/self/status") as status:
            peak = next(line for line in status if line.startswith("VmHWM:"))
        return int(peak.split()[1]) / 2**10
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answers requests until the bot closes the pipe: (True, result) or (False, traceback)."""
    importlib.import_module(CHARTS_MODULE)
    # What the imports made lives as long as the worker: frozen out of the collections, so the
    # collection after each chart only walks that chart's leftovers.
    gc.collect()
    gc.freeze()
    while True:
        try:
            kind, payload = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = (True, draw(payload) if kind == "draw" else _status())
        except Exception:
            answer = (False, traceback.format_exc())
        pickle.dump(answer, answers)
        answers.flush()
        # Each figure leaves reference cycles behind (~6 MB a chart until collected): a full
        # collection after every answer, while the bot is busy with the picture.
        gc.collect()


def _main() -> None:
    # Ctrl+C in a terminal reaches the whole process group: the bot stops, and the worker ends
    # when the bot closes its pipe, not with a KeyboardInterrupt of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The answers go to a copy of stdout; stdout itself then points at stderr, so nothing a
    # library prints can get into the pickles.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    # Served by the module imported by its name, so that what it pickles back is bot.render's.
    importlib.import_module("bot.render")._main()
