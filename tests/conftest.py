"""Fixtures: a migrated database per test, the fake Telegram server, and the real bot on it.

The database is SQLite unless TEST_DATABASE_URL points at PostgreSQL (`make test` runs the suite
both ways when it is set). SQLite: migrated once, then each test gets a copy of that file.
PostgreSQL: migrated once, and every table is emptied after each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher
from bot.clock import FakeClock
from bot.config import Settings
from db.migrate import upgrade
from db.models import Base
from db.session import create_engine, create_session_factory
from db.types import utcnow
from tests.fake_telegram import TOKEN, FakeTelegram

ADMIN_ID = 1001
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def migrated_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Runs every migration once for the session; returns the migrated database's URL."""
    if POSTGRES_URL:
        _reset_postgres(POSTGRES_URL)
        upgrade(POSTGRES_URL)
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return url


def _reset_postgres(url: str) -> None:
    async def drop() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(drop())


@pytest.fixture
def database_url(migrated_url: str, tmp_path: Path) -> str:
    if POSTGRES_URL:
        return migrated_url
    source = Path(migrated_url.split(":///", 1)[1])
    target = tmp_path / "test.sqlite3"
    shutil.copy(source, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    if POSTGRES_URL:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """For service-level tests. Stories use `db`: a session held open here would hold SQLite's
    write lock and stall the running bot."""
    async with session_factory() as session:
        yield session


class Db:
    """Looks into the database from a test, each call in its own short transaction."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def scalar(self, statement: Any) -> Any:
        async with self.session_factory() as session:
            return await session.scalar(statement)

    async def all(self, statement: Any) -> list[Any]:
        async with self.session_factory() as session:
            return list((await session.scalars(statement)).all())

    async def execute(self, statement: Any, params: Any = None) -> None:
        async with self.session_factory() as session:
            await session.execute(statement, params)
            await session.commit()


@pytest.fixture
def db(session_factory: async_sessionmaker[AsyncSession]) -> Db:
    return Db(session_factory)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()
    assert not server.internal_errors, server.internal_errors


@pytest.fixture
def settings(fake: FakeTelegram, database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=database_url,
        telegram_api_base=fake.base_url,
        admin_ids=frozenset({ADMIN_ID}),
        default_locale="ru",
        default_timezone="Europe/Moscow",
        redis_url=None,
        sweep_seconds=30,  # tests sweep by hand (bot.sweep()); the timer is a safety net
        outbox_chat_interval=0,  # per-chat pacing runs on real time: tests/test_outbox.py
    )


class RunningBot:
    """The program's own Bot and Dispatcher, polling the fake server; stop/start = a restart.

    Time is a FakeClock shared across restarts: tests move it with `bot.clock.advance(...)`
    and run the background sweep at once with `await bot.sweep()` (the scheduler also runs
    it every `sweep_seconds`)."""

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        clock: FakeClock | None = None,
    ):
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock or FakeClock(utcnow().replace(microsecond=0))
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> None:
        await self.dispatcher.workflow_data["background"].sweep()

    async def start(self) -> None:
        self.bot = create_bot(self.settings)
        self.dispatcher = create_dispatcher(self.settings, self.session_factory, clock=self.clock)
        started = asyncio.Event()
        self.dispatcher.startup.register(started.set)
        self._task = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_as_tasks=False, handle_signals=False, polling_timeout=1
            )
        )
        await asyncio.wait_for(started.wait(), 10)

    async def stop(self) -> None:
        if self._task is None:
            return
        with contextlib.suppress(RuntimeError):
            await self.dispatcher.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, 10)
        self._task = None
        await self.dispatcher.storage.close()
        await self.bot.session.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], fake: FakeTelegram
) -> AsyncIterator[RunningBot]:
    running = RunningBot(settings, session_factory)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(autouse=True)
def _no_real_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never read a developer's .env or shell settings."""
    for name in ("BOT_TOKEN", "DATABASE_URL", "ADMIN_IDS", "REDIS_URL", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    yield
