"""Engine and session factory. SQLite is tuned so concurrent updates never hit "locked"."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _tune_sqlite(engine)
        return engine
    # No JIT: PostgreSQL compiles a query its estimate calls expensive, and for the short report
    # queries of a dashboard or a digest the compiling costs more than it saves (a digest's
    # list of stuck deals took 0.9 s on bench/kpi's data set, most of it JIT).
    connect_args = {"server_settings": {"jit": "off"}} if url.startswith("postgresql") else {}
    return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _tune_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling starts transactions lazily as DEFERRED: two writers
    # that both read first then deadlock and one gets "database is locked" at once, whatever the
    # busy timeout. We take the transaction control over and begin every one IMMEDIATE, so the
    # second writer simply waits its turn (WAL keeps readers out of the way).
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# The session of the update being handled (set by the bot's DbSessionMiddleware).
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)


async def end_read_transaction() -> None:
    """Ends the current update's transaction if it only read.

    Called before anything that waits on something else (a call to Telegram, the FSM storage's
    own connection): on SQLite every transaction holds the write lock, and an update must not
    hold it while it waits, least of all on itself. Services commit their writes themselves,
    so an open transaction here has nothing pending; if it had, it is left alone.
    """
    session = current_session.get()
    if session is None or not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        return
    await session.commit()
