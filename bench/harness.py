"""Databases, the running bot, and what is measured around it (log records, SQL statements)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
import statistics
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Dispatcher
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_bot, create_dispatcher
from bot.config import Settings
from db.migrate import upgrade
from db.session import create_engine, create_session_factory
from tests.fake_telegram import FakeTelegram

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


# --------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Row:
    scenario: str
    database: str
    n: int
    median: float
    p95: float | None
    unit: str


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def row(scenario: str, database: str, values: list[float], unit: str, *, p95: bool = True) -> Row:
    return Row(
        scenario,
        database,
        len(values),
        statistics.median(values),
        percentile(values, 0.95) if p95 else None,
        unit,
    )


# ------------------------------------------------------------------------------- databases


class Database:
    """Hands out freshly migrated databases: SQLite files copied from one migrated template,
    or a PostgreSQL database whose schema `public` is dropped and migrated again each time."""

    def __init__(self, name: str, *, workdir: Path, postgres_url: str | None = None) -> None:
        self.name = name
        self.workdir = workdir
        self.postgres_url = postgres_url
        self._template: Path | None = None
        self._copies = 0

    def fresh(self) -> str:
        """A migrated, empty database's URL. Sync: Alembic runs its own event loop."""
        if self.postgres_url:
            asyncio.run(_reset_postgres(self.postgres_url))
            upgrade(self.postgres_url)
            return self.postgres_url
        if self._template is None:
            self._template = self.workdir / "template.sqlite3"
            upgrade(f"sqlite+aiosqlite:///{self._template}")
        self._copies += 1
        target = self.workdir / f"bench-{self._copies}.sqlite3"
        shutil.copy(self._template, target)
        return f"sqlite+aiosqlite:///{target}"


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


class SqlCounter:
    """Counts statements sent to the database (BEGIN IMMEDIATE included, COMMIT not)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1


# ------------------------------------------------------------------------------------ logs


class LogCapture(logging.Handler):
    """Keeps aiogram's own handling time per update and every warning or error."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.handling_ms: dict[int, float] = {}
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # aiogram.event: "Update id=%s is %s. Duration %d ms by bot id=%d" (args keep the float)
        if record.name == "aiogram.event" and isinstance(record.args, tuple):
            if len(record.args) == 4 and str(record.msg).startswith("Update id="):
                self.handling_ms[int(record.args[0])] = float(record.args[2])
                return
        if record.levelno >= logging.WARNING:
            self.problems.append(self.format(record))

    @contextlib.contextmanager
    def installed(self) -> Iterator[LogCapture]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self)
        root.setLevel(logging.INFO)  # the program's default LOG_LEVEL
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(level)


def locked_errors(problems: list[str]) -> int:
    return sum("database is locked" in problem for problem in problems)


# ------------------------------------------------------------------------------------- bot


def bench_settings(fake: FakeTelegram, url: str, admin_ids: Iterable[int] = ()) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=fake.token,
        database_url=url,
        telegram_api_base=fake.base_url,
        admin_ids=frozenset(admin_ids),
        default_locale="en",
        default_timezone="Europe/Moscow",
        redis_url=None,
    )


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, engine: AsyncEngine, *, as_tasks: bool
) -> AsyncIterator[Dispatcher]:
    """The program's own Bot and Dispatcher polling the fake, like tests/conftest.py RunningBot;
    `as_tasks=True` is how production runs it (each update in its own task)."""
    bot = create_bot(settings)
    dispatcher = create_dispatcher(settings, create_session_factory(engine))
    started = asyncio.Event()
    dispatcher.startup.register(started.set)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, handle_as_tasks=as_tasks, handle_signals=False, polling_timeout=1
        )
    )
    waiter = asyncio.create_task(started.wait())
    try:
        await asyncio.wait(
            {polling, waiter}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if polling.done():
            polling.result()  # re-raises a start-up error
        if not started.is_set():
            raise TimeoutError(f"the bot did not start within {STARTUP_TIMEOUT}s")
        yield dispatcher
    finally:
        waiter.cancel()
        try:
            with contextlib.suppress(RuntimeError):  # "polling is not started"
                await dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(polling, SHUTDOWN_TIMEOUT)
        finally:
            await settle(dispatcher)
            await dispatcher.storage.close()
            await bot.session.close()


async def settle(dispatcher: Dispatcher) -> None:
    """With handle_as_tasks, updates are handled in tasks that outlive their getUpdates:
    wait for them (cancel what is still running after SHUTDOWN_TIMEOUT)."""
    running = set(dispatcher._handle_update_tasks)
    if running:
        _, stuck = await asyncio.wait(running, timeout=SHUTDOWN_TIMEOUT)
        for task in stuck:
            task.cancel()
