"""The three scenarios. Each takes a fresh migrated database and returns its table rows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import (
    LogCapture,
    Row,
    SqlCounter,
    bench_settings,
    locked_errors,
    row,
    running_bot,
    settle,
)
from db.fsm_storage import SQLAlchemyStorage
from db.models import Department, DepartmentKind, Role, User
from db.session import create_engine, create_session_factory
from tests.fake_telegram import ApiCall, FakeTelegram, FakeUser, Reply

HELP = "❓ Help"
WARMUP = 3
ADMIN_IDS_FROM = 10_000
MANAGER_IDS_FROM = 20_000
FSM_IDS_FROM = 30_000
BURST_TIMEOUT = 60.0


class BenchError(Exception):
    """The bot did not do what the scenario expects: its numbers would mean nothing."""


@dataclass(frozen=True)
class Size:
    updates: int  # per latency series
    burst_users: int
    burst_messages: int  # per user and burst
    burst_repetitions: int
    fsm_rounds: int  # round trips of the single user
    fsm_users: int
    fsm_rounds_each: int  # round trips of each concurrent user


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


# ------------------------------------------------------------ 1. latency, one update at a time


@dataclass
class Series:
    """Per-update measurements of one kind of update."""

    round_trip: list[float] = field(default_factory=list)
    handling: list[float] = field(default_factory=list)
    statements: list[float] = field(default_factory=list)
    api_calls: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def rows(self, name: str, database: str) -> list[Row]:
        return [
            row(f"{name}: round trip", database, self.round_trip, "ms"),
            row(f"{name}: in dispatcher", database, self.handling, "ms"),
            row(f"{name}: CPU, bot + fake", database, self.cpu, "ms"),
            row(f"{name}: SQL statements", database, self.statements, "stmts/update"),
            row(f"{name}: Bot API calls", database, self.api_calls, "calls/update"),
        ]


class Meter:
    """Times one user action (enqueue → the bot asks for the next update) and what it cost."""

    def __init__(self, sql: SqlCounter, logs: LogCapture) -> None:
        self.sql = sql
        self.logs = logs

    async def __call__(
        self, action: Awaitable[Reply], expect: str, series: Series | None = None
    ) -> Reply:
        statements = self.sql.statements
        cpu = time.process_time()
        started = time.perf_counter()
        reply = await action
        elapsed = _ms(started)
        cpu = (time.process_time() - cpu) * 1000
        if reply.errors or expect not in reply.text:
            raise BenchError(f"expected {expect!r}, got {reply.text!r}, errors {reply.errors}")
        if series is not None:
            series.round_trip.append(elapsed)
            series.handling.append(self.logs.handling_ms[reply.update_id])
            series.statements.append(self.sql.statements - statements)
            series.api_calls.append(len(reply.calls))
            series.cpu.append(cpu)
        return reply


async def _add_department(
    measure: Meter, admin: FakeUser, name: str, step: Series | None, flow: list[float] | None
) -> None:
    started = time.perf_counter()
    await measure(admin.tap("🛠 Admin"), "what would you like to manage")
    await measure(admin.press("🏢 Departments"), "Departments")
    await measure(admin.press("➕ Add"), "Name of the new department?")
    await measure(admin.send(name), "What kind of department", step)
    await measure(admin.press("sales"), "added")
    if flow is not None:
        flow.append(_ms(started))


async def latency(url: str, database: str, size: Size) -> Outcome:
    """Admins one after another: first /start (bootstrap from ADMIN_IDS), /start again, Help,
    and the add-a-department flow; sequential handling, so each update is timed alone."""
    ids = range(ADMIN_IDS_FROM, ADMIN_IDS_FROM + WARMUP + size.updates)
    bootstrap, again, help_, name_step, flow = Series(), Series(), Series(), Series(), []
    engine = create_engine(url)
    logs = LogCapture()
    try:
        with logs.installed():
            measure = Meter(SqlCounter(engine), logs)
            async with FakeTelegram() as fake:
                settings = bench_settings(fake, url, admin_ids=ids)
                async with running_bot(settings, engine, as_tasks=False):
                    admins = [fake.user(i, f"Admin {i}", language_code="en") for i in ids]
                    for i, admin in enumerate(admins):
                        timed = i >= WARMUP
                        await measure(
                            admin.command("start"), "Welcome", bootstrap if timed else None
                        )
                    for admin in admins[WARMUP:]:
                        await measure(admin.command("start"), "Welcome", again)
                    for i, admin in enumerate(admins):
                        timed = i >= WARMUP
                        await measure(
                            admin.tap(HELP), "FieldCRM in short", help_ if timed else None
                        )
                    for i, admin in enumerate(admins):
                        timed = i >= WARMUP
                        await _add_department(
                            measure,
                            admin,
                            f"Department {i}",
                            name_step if timed else None,
                            flow if timed else None,
                        )
    finally:
        await engine.dispose()
    if logs.problems:
        raise BenchError(f"{len(logs.problems)} warnings/errors logged: {logs.problems[0]}")
    return Outcome(
        [
            *bootstrap.rows("/start, ADMIN_IDS bootstrap", database),
            *again.rows("/start, registered admin", database),
            *help_.rows("❓ Help", database),
            *name_step.rows("add department: type name", database),
            row("add department: whole flow (5 updates)", database, flow, "ms/flow"),
        ]
    )


# ------------------------------------------------------- 2. throughput, as production runs it


async def _insert_managers(engine: AsyncEngine, ids: range) -> None:
    async with create_session_factory(engine)() as session, session.begin():
        department = Department(name="Bench", kind=DepartmentKind.SALES)
        session.add(department)
        await session.flush()
        session.add_all(
            User(
                telegram_id=i,
                full_name=f"Manager {i}",
                role=Role.MANAGER,
                department_id=department.id,
                locale="en",
                timezone="Europe/Moscow",
            )
            for i in ids
        )


async def _burst(
    fake: FakeTelegram, dispatcher: Dispatcher, people: list[FakeUser], per_user: int
) -> tuple[float, list[float], int]:
    """Every user sends `per_user` Help messages at once; returns the seconds until the last
    reply, each reply's ms since the burst began, and how many replies were apologies."""
    chats = {person.id for person in people}
    expected = len(people) * per_user
    seen = {id(call) for call in fake.calls}
    replied: list[float] = []

    def is_last_reply(call: ApiCall) -> bool:
        if id(call) in seen:  # wait_for looks at every call, old ones first
            return False
        seen.add(id(call))
        if call.method == "sendMessage" and call.chat_id in chats:
            replied.append(time.perf_counter())
        return len(replied) >= expected

    first = len(fake.calls)
    started = time.perf_counter()
    sends = [asyncio.create_task(p.send(HELP)) for _ in range(per_user) for p in people]
    try:
        await fake.wait_for(is_last_reply, timeout=BURST_TIMEOUT)
        await asyncio.gather(*sends)
    finally:
        for task in sends:
            task.cancel()
    elapsed = time.perf_counter() - started
    await settle(dispatcher)  # the update tasks close their sessions before anything else
    replies = [c for c in fake.calls[first:] if c.method == "sendMessage" and c.chat_id in chats]
    if len(replies) != expected or not all(c.ok for c in replies):
        raise BenchError(f"{len(replies)} replies to {expected} updates")
    apologies = sum("Sorry" in str(c.params.get("text")) for c in replies)
    return elapsed, [(t - started) * 1000 for t in replied], apologies


async def burst(url: str, database: str, size: Size) -> Outcome:
    """`burst_users` registered managers each send `burst_messages` Help messages at once, to a
    dispatcher with handle_as_tasks=True (the default, as `python -m bot run` polls)."""
    ids = range(MANAGER_IDS_FROM, MANAGER_IDS_FROM + size.burst_users)
    per_burst = len(ids) * size.burst_messages
    engine = create_engine(url)
    logs = LogCapture()
    rates: list[float] = []
    waits: list[float] = []
    apologies = 0
    try:
        with logs.installed():
            sql = SqlCounter(engine)
            await _insert_managers(engine, ids)
            async with FakeTelegram() as fake:
                async with running_bot(bench_settings(fake, url), engine, as_tasks=True) as dp:
                    people = [fake.user(i, f"Manager {i}", language_code="en") for i in ids]
                    await _burst(fake, dp, people, 1)  # warm-up
                    statements = sql.statements
                    cpu = time.process_time()
                    for _ in range(size.burst_repetitions):
                        elapsed, replied, sorry = await _burst(
                            fake, dp, people, size.burst_messages
                        )
                        rates.append(per_burst / elapsed)
                        waits.extend(replied)
                        apologies += sorry
                    cpu = time.process_time() - cpu
                    statements = sql.statements - statements
    finally:
        await engine.dispose()
    total = per_burst * size.burst_repetitions
    name = f"❓ Help burst, {len(ids)} users × {size.burst_messages}"
    note = (
        f"{database}: {name}: {len(waits)}/{total} replies, {apologies} apologies, "
        f"{len(logs.problems)} warnings/errors logged, "
        f"{locked_errors(logs.problems)} 'database is locked'"
    )
    if apologies or logs.problems:
        raise BenchError(f"{note}; first problem: {logs.problems[:1]}")
    return Outcome(
        [
            row(f"{name}: throughput", database, rates, "updates/s", p95=False),
            row(f"{name}: time to reply", database, waits, "ms since burst"),
            row(f"{name}: CPU, bot + fake", database, [cpu * 1000 / total], "ms/update"),
            row(f"{name}: SQL statements", database, [statements / total], "stmts/update"),
        ],
        [note],
    )


# --------------------------------------------------------------------------- 3. FSM storage


async def fsm(url: str, database: str, size: Size) -> Outcome:
    """SQLAlchemyStorage set_state + set_data + get_data, by one user and by many at once."""
    engine = create_engine(url)
    storage = SQLAlchemyStorage(create_session_factory(engine))
    logs = LogCapture()

    async def converse(user_id: int, rounds: int, samples: list[float]) -> None:
        key = StorageKey(bot_id=1, chat_id=user_id, user_id=user_id)
        for i in range(rounds):
            started = time.perf_counter()
            await storage.set_state(key, "DepartmentForm:name")
            await storage.set_data(key, {"catalog": "departments", "name": f"Department {i}"})
            data = await storage.get_data(key)
            samples.append(_ms(started))
            if data.get("name") != f"Department {i}":
                raise BenchError(f"storage returned {data!r}")

    outcome = Outcome()
    try:
        with logs.installed():
            await converse(FSM_IDS_FROM, 10, [])  # warm-up
            for users, rounds in ((1, size.fsm_rounds), (size.fsm_users, size.fsm_rounds_each)):
                samples: list[float] = []
                started = time.perf_counter()
                await asyncio.gather(
                    *(converse(FSM_IDS_FROM + 1 + u, rounds, samples) for u in range(users))
                )
                rate = 3 * len(samples) / (time.perf_counter() - started)
                label = f"FSM set_state+set_data+get_data, {users} user{'s' if users > 1 else ''}"
                outcome.rows.append(row(label, database, samples, "ms/round trip"))
                outcome.rows.append(
                    row(f"{label}: throughput", database, [rate], "storage calls/s", p95=False)
                )
    finally:
        await storage.close()
        await engine.dispose()
    if logs.problems:
        raise BenchError(f"{len(logs.problems)} warnings/errors logged: {logs.problems[0]}")
    return outcome


SCENARIOS = (latency, burst, fsm)
