"""`python -m bench.outbox [--quick] [--postgres URL]`: the outbox worker against flood control.

Throughput: 1,000 queued messages to 200 chats (--quick: 300 to 60) are drained by the real
OutboxWorker (the scheduler's drain every `sweep_seconds` until nothing is left) into a
FakeTelegram that enforces Telegram's limits: at most 30 sends in any second, and per chat one
message a second with no burst allowance (`chat_burst=1`, stricter than Telegram). Two queue
orders: "interleaved" (message i to chat i mod chats) and "grouped" (each chat's messages one
after another, so the worker must spread them over seconds without holding the others back).
Figures: achieved rate (delivered / time from start to the last delivery), 429 answers, lost
(queued, never delivered) and duplicated (delivered more than once) messages, total time.

Reminder latency: on an empty queue, a task falls due; the real scheduler (BackgroundWork with
the default `sweep_seconds`) runs bot.jobs.remind_due_tasks and the worker's drain; measured is
the time from the due moment until the fake receives the sendMessage. A second series has the
user's morning agenda fall due in the same sweep: two messages for one chat at once, the later
one's arrival counts (it waits `outbox_chat_interval` behind the first).

Targets: >= 27 msg/s, 0 lost, 0 duplicated; a reminder within 5 s of its due time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.harness import Database, bench_settings
from bot.app import create_bot
from bot.clock import Clock
from bot.delivery import OutboxWorker
from bot.i18n import create_i18n
from bot.scheduler import BackgroundWork
from bot.services import outbox
from db.models import OutboxMessage, OutboxStatus, Role, Task, User
from db.session import create_engine, create_session_factory
from db.types import utcnow
from tests.fake_telegram import FakeTelegram

CHAT_IDS_FROM = 50_000
DRAIN_TIMEOUT = 240.0
REMINDER_TIMEOUT = 15.0
Sessions = async_sessionmaker[AsyncSession]
TARGET_RATE = 27.0
TARGET_REMINDER = 5.0
LATENCY_SERIES = (
    ("reminder, due -> sendMessage", False),
    ("reminder + agenda to one chat", True),
)


@dataclass(frozen=True)
class Size:
    messages: int
    chats: int
    reminders: int


FULL = Size(messages=1000, chats=200, reminders=10)
QUICK = Size(messages=300, chats=60, reminders=3)


@dataclass(frozen=True)
class Throughput:
    order: str
    database: str
    messages: int
    chats: int
    rate: float
    refused: int
    refused_overall: int
    refused_chat: int
    lost: int
    duplicated: int
    seconds: float
    drains: int
    db_writes: int


def _manager(telegram_id: int, *, agenda_time: str | None = None) -> User:
    return User(
        telegram_id=telegram_id,
        full_name=f"Manager {telegram_id}",
        role=Role.MANAGER,
        locale="en",
        timezone="Europe/Moscow",
        agenda_time=agenda_time,  # None: no morning agenda
    )


async def _add_users(sessions: Sessions, chats: int) -> list[User]:
    async with sessions() as session:
        users = [_manager(CHAT_IDS_FROM + n) for n in range(chats)]
        session.add_all(users)
        await session.commit()
        return users


def _recipients(order: str, size: Size) -> list[int]:
    """Chat index of each message, in queue order."""
    per_chat = size.messages // size.chats
    if order == "interleaved":
        return [i % size.chats for i in range(size.messages)]
    return [i // per_chat for i in range(size.messages)]


async def throughput(url: str, database: str, order: str, size: Size) -> Throughput:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        users = await _add_users(sessions, size.chats)
        async with sessions() as session:
            for i, chat in enumerate(_recipients(order, size)):
                await outbox.enqueue(session, users[chat], f"bench:{i}", f"message {i}")
            await session.commit()
        async with FakeTelegram() as fake:
            fake.enforce_limits(per_second=30, per_chat_per_second=1.0, chat_burst=1)
            for user in users:
                fake.user(user.telegram_id, started=True)
            settings = bench_settings(fake, url)
            bot = create_bot(settings)
            writes = _WriteCounter(engine)
            try:
                worker = OutboxWorker(bot, sessions, settings, Clock())
                started = time.monotonic()
                drains = 0
                while time.monotonic() - started < DRAIN_TIMEOUT:
                    drains += 1
                    await worker.drain()
                    if not await _unsettled(sessions):
                        break
                    await asyncio.sleep(settings.sweep_seconds)  # the scheduler's next sweep
            finally:
                await bot.session.close()
            calls = fake.calls_of("sendMessage")
            delivered = collections.Counter(c.params["text"] for c in calls if c.ok)
            last = max((c.at for c in calls if c.ok), default=started)
            assert fake.limits is not None
            limits = fake.limits
        seconds = last - started
        total = sum(delivered.values())
        return Throughput(
            order=order,
            database=database,
            messages=size.messages,
            chats=size.chats,
            rate=total / seconds if seconds > 0 else 0.0,
            refused=sum(1 for c in calls if c.error_code == 429),
            refused_overall=limits.refused_overall,
            refused_chat=limits.refused_chat,
            lost=size.messages - len(delivered),
            duplicated=total - len(delivered),
            seconds=seconds,
            drains=drains,
            db_writes=writes.count,
        )
    finally:
        await engine.dispose()


class _WriteCounter:
    """Counts UPDATE statements on the outbox (claims, deferrals, marks)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
                self.count += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)


async def _unsettled(sessions: Sessions) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
        )


async def reminder_latency(url: str, size: Size, *, with_agenda: bool) -> list[float]:
    """Seconds from a task's due time until the fake has its reminder, one task at a time,
    each for a new user. `with_agenda`: the user's morning agenda falls due at the same sweep,
    so two messages go to one chat at once; the later one's arrival counts."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    rng = random.Random(5)
    try:
        async with FakeTelegram(rate_limit=True) as fake:
            settings = bench_settings(fake, url)
            bot = create_bot(settings)
            work = BackgroundWork(bot, sessions, settings, create_i18n(settings), Clock())
            work.start()
            latencies = []
            try:
                await asyncio.sleep(rng.uniform(0, settings.sweep_seconds))
                for n in range(size.reminders):
                    chat = CHAT_IDS_FROM + n
                    fake.user(chat, started=True)
                    async with sessions() as session:  # user and task at once: no empty agenda
                        user = _manager(chat, agenda_time="00:00" if with_agenda else None)
                        session.add(user)
                        await session.flush()
                        due_mono, due = time.monotonic(), utcnow()
                        session.add(Task(owner_id=user.id, text=f"Call back #{n}", due_at=due))
                        await session.commit()
                    expected = 2 if with_agenda else 1
                    await fake.wait_for(
                        lambda c, chat=chat, expected=expected: (
                            c.method == "sendMessage"
                            and c.chat_id == chat
                            and len(fake.calls_of("sendMessage", chat)) >= expected
                        ),
                        timeout=REMINDER_TIMEOUT,
                    )
                    arrived = fake.calls_of("sendMessage", chat)
                    assert all(c.ok for c in arrived), arrived
                    latencies.append(max(c.at for c in arrived) - due_mono)
                    await asyncio.sleep(rng.uniform(0, settings.sweep_seconds))
            finally:
                work.shutdown()
                await bot.session.close()
        return latencies
    finally:
        await engine.dispose()


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...], numeric: set[int]) -> str:
    cells = [header, *rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 messages to 60 chats")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL (its schema public is DROPPED and migrated again)",
    )
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    results: list[Throughput] = []
    latencies: dict[tuple[str, str], list[float]] = {}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fieldcrm-bench-outbox-") as workdir:
        databases = [Database("sqlite", workdir=Path(workdir))]
        if args.postgres:
            databases.append(
                Database("postgresql", workdir=Path(workdir), postgres_url=args.postgres)
            )
        for database in databases:
            for order in ("interleaved", "grouped"):
                print(f"{database.name}: {order} ...", file=sys.stderr, flush=True)
                results.append(
                    asyncio.run(throughput(database.fresh(), database.name, order, size))
                )
            for label, with_agenda in LATENCY_SERIES:
                print(f"{database.name}: {label} ...", file=sys.stderr, flush=True)
                latencies[label, database.name] = asyncio.run(
                    reminder_latency(database.fresh(), size, with_agenda=with_agenda)
                )

    header = (
        "queue order",
        "database",
        "messages",
        "chats",
        "msg/s",
        "429s",
        "lost",
        "duplicated",
        "total s",
        "drains",
        "UPDATEs",
    )
    rows = [
        (
            r.order,
            r.database,
            str(r.messages),
            str(r.chats),
            f"{r.rate:.1f}",
            f"{r.refused} ({r.refused_overall} overall, {r.refused_chat} per chat)",
            str(r.lost),
            str(r.duplicated),
            f"{r.seconds:.1f}",
            str(r.drains),
            str(r.db_writes),
        )
        for r in results
    ]
    print(_table(rows, header, {2, 3, 4, 6, 7, 8, 9, 10}))
    print()
    latency_rows = [
        (
            label,
            name,
            str(len(values)),
            f"{statistics.median(values):.2f}",
            f"{max(values):.2f}",
            "s",
        )
        for (label, name), values in latencies.items()
    ]
    print(_table(latency_rows, ("scenario", "database", "n", "median", "max", "unit"), {2, 3, 4}))
    print()
    failed = [
        f"{r.order}/{r.database}: {r.rate:.1f} msg/s, {r.lost} lost, {r.duplicated} duplicated"
        for r in results
        if r.rate < TARGET_RATE or r.lost or r.duplicated
    ] + [
        f"{label}/{name}: {max(values):.2f} s"
        for (label, name), values in latencies.items()
        if max(values) > TARGET_REMINDER
    ]
    print(
        f"targets: >= {TARGET_RATE:.0f} msg/s, 0 lost, 0 duplicated, reminder <= "
        f"{TARGET_REMINDER:.0f} s: " + ("met" if not failed else "MISSED: " + "; ".join(failed))
    )
    print(f"wall time: {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
