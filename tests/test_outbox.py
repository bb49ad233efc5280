"""The outbox, end to end: bot/services/outbox.py queues and claims, the real OutboxWorker
(bot/delivery.py) delivers through a Bot made by bot.app.create_bot to the fake Bot API.

Time: rows are due by the worker's Clock (a FakeClock here, moved by hand); pacing and
flood-control pauses run on the real monotonic clock, so the tests that wait on them use short
intervals and one-second retry_after values.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from aiogram.exceptions import TelegramRetryAfter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import delivery
from bot.app import create_bot
from bot.clock import Clock, FakeClock
from bot.config import Settings
from bot.delivery import OutboxWorker
from bot.services import outbox
from db.models import OutboxMessage, OutboxStatus, Role, User
from db.session import create_engine, create_session_factory
from db.types import utcnow
from tests.conftest import Db
from tests.fake_telegram import ApiCall, FakeTelegram
from tests.test_fake_telegram import PNG

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
ALICE, BOB, CAROL, DAN = 4001, 4002, 4003, 4004

Sessions = async_sessionmaker[AsyncSession]


# ------------------------------------------------------------------------------- helpers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utcnow().replace(microsecond=0))


@pytest.fixture
async def workers(
    settings: Settings, session_factory: Sessions, clock: FakeClock
) -> AsyncIterator[Callable[..., OutboxWorker]]:
    """Makes OutboxWorkers with their own Bot (create_bot), closed after the test."""
    bots = []

    def make(
        settings: Settings = settings, sessions: Sessions = session_factory, clock: Clock = clock
    ) -> OutboxWorker:
        bot = create_bot(settings)
        bots.append(bot)
        return OutboxWorker(bot, sessions, settings, clock)

    yield make
    for bot in bots:
        await bot.session.close()


async def staff(
    sessions: Sessions, fake: FakeTelegram, telegram_id: int, *, started: bool = True
) -> User:
    """A registered manager who talked to the bot before (so it may write first)."""
    fake.user(telegram_id, f"Manager {telegram_id}", language_code="en", started=started)
    async with sessions() as session:
        user = User(
            telegram_id=telegram_id,
            full_name=f"Manager {telegram_id}",
            role=Role.MANAGER,
            locale="en",
            timezone="Europe/Moscow",
            agenda_time=None,
        )
        session.add(user)
        await session.commit()
        return user


async def fresh(sessions: Sessions, user: User) -> User:
    async with sessions() as session:
        return await session.get_one(User, user.id)


async def queue(
    sessions: Sessions, clock: Clock, user: User, key: str, text: str | None = None, **kw
) -> bool:
    """Queues `text` (default: the key) for `user`, due now by `clock`, and commits."""
    async with sessions() as session:
        queued = await outbox.enqueue(
            session, user, key, text or key, not_before=kw.pop("not_before", clock.now()), **kw
        )
        await session.commit()
        return queued


async def rows(db: Db) -> list[OutboxMessage]:
    return await db.all(select(OutboxMessage).order_by(OutboxMessage.id))


def sends(fake: FakeTelegram, chat_id: int | None = None) -> list[ApiCall]:
    """Successful sendMessage calls, in order."""
    return [call for call in fake.calls_of("sendMessage", chat_id) if call.ok]


def delivered(fake: FakeTelegram) -> collections.Counter[str]:
    return collections.Counter(call.params["text"] for call in sends(fake))


def refused(fake: FakeTelegram, code: int) -> list[ApiCall]:
    return [call for call in fake.calls_of("sendMessage") if call.error_code == code]


def with_(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


# --------------------------------------------------------------------------- queue rules


async def test_enqueue_is_idempotent_by_dedupe_key(fake, session_factory, db, clock, workers):
    alice = await staff(session_factory, fake, ALICE)
    assert await queue(session_factory, clock, alice, "task:1", "first")
    assert not await queue(session_factory, clock, alice, "task:1", "second")
    async with session_factory() as session:  # twice in one transaction too
        now = clock.now()
        assert await outbox.enqueue(session, alice, "task:2", "a", not_before=now)
        assert not await outbox.enqueue(session, alice, "task:2", "b", not_before=now)
        await session.commit()
    assert [(r.dedupe_key, r.payload["text"]) for r in await rows(db)] == [
        ("task:1", "first"),
        ("task:2", "a"),
    ]

    assert await workers().drain() == 2
    assert not await queue(session_factory, clock, alice, "task:1", "third")  # sent: still once
    assert await workers().drain() == 0
    assert delivered(fake) == {"first": 1, "a": 1}


async def test_a_queued_message_is_delivered_once_and_marked_sent(
    fake, session_factory, db, clock, workers
):
    alice = await staff(session_factory, fake, ALICE)
    buttons = [[{"text": "✅ Done", "callback_data": "t:done:1"}]]
    assert await queue(
        session_factory,
        clock,
        alice,
        "task:1",
        "⏰ <b>Call</b> Acme",
        buttons=buttons,
        protect=True,
    )
    worker = workers()

    assert await worker.drain() == 1
    [call] = sends(fake, ALICE)
    assert call.message.text == "⏰ Call Acme"  # HTML parsed: the bot's default parse mode
    assert call.message.button_labels() == ["✅ Done"]
    assert call.params["protect_content"] is True
    [row] = await rows(db)
    assert row.status == OutboxStatus.SENT
    assert (row.sent_at, row.telegram_message_id, row.attempts) == (
        clock.now(),
        call.message.message_id,
        1,
    )
    assert (row.claim_token, row.claimed_until, row.last_error) == (None, None, None)

    clock.advance(hours=1)
    assert await worker.drain() == 0
    assert await workers().drain() == 0
    assert len(fake.calls_of("sendMessage")) == 1


async def test_nothing_is_queued_for_a_user_who_blocked_the_bot_or_was_deactivated(
    fake, session_factory, db, clock
):
    alice = await staff(session_factory, fake, ALICE)
    alice.unreachable = True
    assert not await queue(session_factory, clock, alice, "a")
    alice.unreachable, alice.is_active = False, False
    assert not await queue(session_factory, clock, alice, "b")
    assert await rows(db) == []


# ----------------------------------------------------------------------------- failures


async def test_flood_control_pauses_the_whole_worker_and_the_message_goes_once_after_it(
    fake, session_factory, db, clock, workers
):
    """A 429 is per bot: nothing is sent during retry_after, then every message goes once;
    the 429 does not count as a failed attempt."""
    people = [await staff(session_factory, fake, i) for i in (ALICE, BOB, CAROL)]
    for person in people:
        await queue(session_factory, clock, person, f"hello {person.telegram_id}")
    fake.fail_next("sendMessage", retry_after=1)

    assert await workers().drain() == 3

    [flood] = refused(fake, 429)
    assert flood.chat_id == ALICE
    assert delivered(fake) == {f"hello {i}": 1 for i in (ALICE, BOB, CAROL)}
    assert all(call.at >= flood.at + 1 for call in sends(fake))
    assert [(r.status, r.attempts) for r in await rows(db)] == [(OutboxStatus.SENT, 1)] * 3


async def test_a_long_flood_wait_goes_back_to_the_queue_due_when_it_ends(
    fake, session_factory, db, clock, workers, monkeypatch
):
    """A pause longer than the worker holds rows in memory (delivery.HOLD, shortened here)
    hands the row back to the database, due by the worker's clock when the pause ends; the
    worker keeps its own pause too: until the rest of it is short, a drain sends nothing."""
    monkeypatch.setattr(delivery, "HOLD", 0.5)
    alice = await staff(session_factory, fake, ALICE)
    await queue(session_factory, clock, alice, "hello")
    fake.fail_next("sendMessage", retry_after=2)
    worker = workers()

    assert await worker.drain() == 0
    [flood] = refused(fake, 429)
    [row] = await rows(db)
    assert (row.status, row.attempts, row.claim_token) == (OutboxStatus.PENDING, 0, None)
    assert clock.now() + timedelta(seconds=1) < row.next_attempt_at
    assert row.next_attempt_at <= clock.now() + timedelta(seconds=2)
    assert "flood control" in row.last_error

    assert await worker.drain() == 0  # not due by the clock (and the worker is paused)
    clock.advance(seconds=2)
    assert await worker.drain() == 0  # due now, but more than HOLD of the pause is left
    while not sends(fake):  # the scheduler's sweeps
        assert time.monotonic() < flood.at + 5
        await worker.drain()
        await asyncio.sleep(0.1)
    [call] = sends(fake)
    assert call.at >= flood.at + 2
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_network_errors_and_server_errors_are_retried_with_backoff(
    fake, settings, session_factory, db, clock, workers
):
    alice = await staff(session_factory, fake, ALICE)
    await queue(session_factory, clock, alice, "hello")

    # Telegram cannot be reached at all.
    offline = workers(with_(settings, telegram_api_base=f"http://127.0.0.1:{closed_port()}"))
    assert await offline.drain() == 0
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=delivery.BACKOFF[0])
    assert "TelegramNetworkError" in row.last_error

    worker = workers()
    assert await worker.drain() == 0  # not yet due
    clock.advance(seconds=delivery.BACKOFF[0])
    fake.fail_next("sendMessage", error_code=502)
    assert await worker.drain() == 0
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 2)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=delivery.BACKOFF[1])
    assert "Bad Gateway" in row.last_error

    clock.advance(seconds=delivery.BACKOFF[1] - 1)
    assert await worker.drain() == 0
    clock.advance(seconds=1)
    assert await worker.drain() == 1
    assert delivered(fake) == {"hello": 1}
    assert [c.error_code for c in fake.calls_of("sendMessage")] == [502, None]
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 3)


async def test_a_message_that_keeps_failing_is_given_up_after_max_attempts(
    fake, session_factory, db, clock, workers
):
    alice = await staff(session_factory, fake, ALICE)
    await queue(session_factory, clock, alice, "hello")
    fake.fail_next("sendMessage", error_code=500, times=outbox.MAX_ATTEMPTS)
    worker = workers()
    for _ in range(outbox.MAX_ATTEMPTS):
        await worker.drain()
        clock.advance(seconds=max(delivery.BACKOFF))
    assert await worker.drain() == 0
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, outbox.MAX_ATTEMPTS)
    assert row.last_error.startswith(f"gave up after {outbox.MAX_ATTEMPTS} attempts")
    assert len(fake.calls_of("sendMessage")) == outbox.MAX_ATTEMPTS


async def test_a_refused_message_fails_at_once(fake, session_factory, db, clock, workers):
    alice = await staff(session_factory, fake, ALICE)
    await queue(session_factory, clock, alice, "broken <b>html")
    assert await workers().drain() == 0
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert "can't parse entities" in row.last_error


async def test_a_user_who_blocked_the_bot_gets_nothing_until_they_write_again(
    fake, bot, session_factory, db
):
    """403: the user is marked unreachable and everything queued for them is dropped (also
    what the worker already held in memory); nothing new is queued. Writing to the bot makes
    them reachable again."""
    alice = await staff(session_factory, fake, ALICE)
    bob = await staff(session_factory, fake, BOB)
    for n in (1, 2, 3):
        picture = {"photo": PNG} if n == 3 else {}
        await queue(session_factory, bot.clock, alice, f"for Alice {n}", **picture)
    await queue(session_factory, bot.clock, bob, "for Bob")
    fake.block(ALICE)

    await bot.sweep()

    assert [c.error_code for c in fake.calls_of("sendMessage", ALICE)] == [403]
    assert delivered(fake) == {"for Bob": 1}
    assert (await fresh(session_factory, alice)).unreachable
    assert [(r.payload["text"], r.status) for r in await rows(db)] == [
        ("for Alice 1", OutboxStatus.FAILED),
        ("for Alice 2", OutboxStatus.FAILED),
        ("for Alice 3", OutboxStatus.FAILED),
        ("for Bob", OutboxStatus.SENT),
    ]
    assert all("blocked" in r.last_error for r in (await rows(db))[:3])
    dropped = (await rows(db))[2].payload  # a picture's bytes are not kept once given up
    assert "photo" not in dropped and dropped["had_photo"] is True

    assert not await queue(session_factory, bot.clock, await fresh(session_factory, alice), "x")
    bot.clock.advance(hours=1)
    await bot.sweep()
    assert len(fake.calls_of("sendMessage", ALICE)) == 1

    fake.unblock(ALICE)
    await fake.user(ALICE).send("hello again")
    alice = await fresh(session_factory, alice)
    assert not alice.unreachable
    assert await queue(session_factory, bot.clock, alice, "welcome back")
    await bot.sweep()
    assert [c.params["text"] for c in sends(fake, ALICE) if "welcome" in c.params["text"]] == [
        "welcome back"
    ]
    assert "for Alice 1" not in [c.params["text"] for c in sends(fake, ALICE)]


# ------------------------------------------------------------------------ concurrency


async def test_a_claim_whose_worker_died_is_taken_again_after_the_lease(
    fake, session_factory, db, clock, workers
):
    """A worker that claimed a row and died leaves it 'sending'; once claimed_until has
    passed, another worker takes it and sends it. The price of at-least-once: if the dead
    worker had got the message to Telegram before dying (but not marked it sent), the user
    gets it twice. The dead worker's late mark, if it ever comes, changes nothing."""
    alice = await staff(session_factory, fake, ALICE)
    await queue(session_factory, clock, alice, "hello")
    async with session_factory() as session:
        [dead] = await outbox.claim(session, clock.now(), 10)
    assert dead.status == OutboxStatus.SENDING
    worker = workers()

    assert await worker.drain() == 0  # claimed, lease not over
    clock.advance(seconds=outbox.LEASE.total_seconds())
    assert await worker.drain() == 0  # claimed_until == now: still the dead worker's
    clock.advance(seconds=1)
    assert await worker.drain() == 1
    assert delivered(fake) == {"hello": 1}
    [row] = await rows(db)
    assert row.status == OutboxStatus.SENT and row.claim_token is None

    async with session_factory() as session:  # the dead worker wakes up
        await outbox.mark_retry(session, dead, clock.now(), "late")
        await outbox.mark_sent(session, dead, clock.now(), 999)
    [after] = await rows(db)
    assert (after.status, after.telegram_message_id, after.last_error) == (
        OutboxStatus.SENT,
        row.telegram_message_id,
        None,
    )


async def test_messages_to_one_chat_are_spaced_and_do_not_hold_back_the_others(
    fake, settings, session_factory, clock, workers
):
    interval = 0.4
    alice = await staff(session_factory, fake, ALICE)
    others = [await staff(session_factory, fake, i) for i in (BOB, CAROL, DAN)]
    for n in (1, 2, 3):
        await queue(session_factory, clock, alice, f"Alice {n}")
    for person in others:
        await queue(session_factory, clock, person, f"to {person.telegram_id}")
    worker = workers(with_(settings, outbox_chat_interval=interval))

    assert await worker.drain() == 6

    to_alice = sends(fake, ALICE)
    assert [c.params["text"] for c in to_alice] == ["Alice 1", "Alice 2", "Alice 3"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(to_alice)]
    assert all(gap >= interval for gap in gaps), gaps
    assert all(gap < interval + 0.3 for gap in gaps), gaps  # held in memory, not re-queued
    for person in others:
        [call] = sends(fake, person.telegram_id)
        assert call.at < to_alice[1].at  # not behind Alice's second message
        assert call.at - to_alice[0].at < 0.5


async def test_concurrent_drains_in_one_process_send_each_message_once(
    fake, settings, session_factory, db, clock, workers
):
    people = [await staff(session_factory, fake, 5000 + n) for n in range(10)]
    for n in range(30):
        await queue(session_factory, clock, people[n % 10], f"message {n}")
    fast = with_(settings, outbox_chat_interval=0.05)
    worker, other = workers(fast), workers(fast)  # e.g. two BackgroundWorks on one engine

    results = await asyncio.gather(worker.drain(), worker.drain(), other.drain())

    assert results[1] == 0  # the second drain of one worker returns at once
    assert sum(results) == 30
    assert delivered(fake) == {f"message {n}": 1 for n in range(30)}
    assert {r.status for r in await rows(db)} == {OutboxStatus.SENT}


async def two_workers_drain_one_outbox(url: str, fake: FakeTelegram, settings: Settings) -> None:
    """Two workers, each with its own engine, session factory and Bot (like two processes),
    drain 300 messages to 60 users at once: every message is sent exactly once."""
    engines = [create_engine(url), create_engine(url)]
    factories = [create_session_factory(engine) for engine in engines]
    fast = with_(settings, outbox_chat_interval=0.05, outbox_rate=30)
    bots = [create_bot(fast), create_bot(fast)]
    clock = Clock()
    try:
        people = [await staff(factories[0], fake, 6000 + n) for n in range(60)]
        async with factories[0]() as session:
            for n in range(300):
                await outbox.enqueue(session, people[n % 60], f"bulk:{n}", f"bulk {n}")
            await session.commit()
        workers = [OutboxWorker(b, f, fast, clock) for b, f in zip(bots, factories, strict=True)]

        counts = await asyncio.wait_for(asyncio.gather(*(w.drain() for w in workers)), 60)

        assert sum(counts) == 300 and min(counts) > 0, counts
        assert delivered(fake) == {f"bulk {n}": 1 for n in range(300)}
        assert len(fake.calls_of("sendMessage")) == 300
        async with factories[1]() as session:
            statuses = (await session.scalars(select(OutboxMessage.status))).all()
        assert collections.Counter(statuses) == {OutboxStatus.SENT: 300}
    finally:
        for bot in bots:
            await bot.session.close()
        for engine in engines:
            await engine.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL only: set TEST_DATABASE_URL")
async def test_two_workers_drain_one_outbox_on_postgresql(database_url, engine, fake, settings):
    """FOR UPDATE SKIP LOCKED: the workers claim disjoint rows side by side."""
    await two_workers_drain_one_outbox(database_url, fake, settings)


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the SQLite pass runs this one")
async def test_two_workers_drain_one_outbox_on_sqlite(database_url, engine, fake, settings):
    """Two engines on one SQLite file: BEGIN IMMEDIATE serializes the claims."""
    await two_workers_drain_one_outbox(database_url, fake, settings)


# -------------------------------------------------------------------- Telegram's limits


async def test_the_fake_answers_429_beyond_telegrams_limits(fake):
    fake.enforce_limits(per_second=30, per_chat_per_second=1, chat_burst=3)
    people = [fake.user(7000 + n, started=True) for n in range(31)]
    bot = fake.make_bot()
    try:
        for person in people[:30]:
            await bot.send_message(person.id, "hi")
        with pytest.raises(TelegramRetryAfter) as overall:
            await bot.send_message(people[30].id, "hi")
        assert overall.value.retry_after == 1
        await asyncio.sleep(1.0)
        for _ in range(3):  # a burst of three to one chat passes
            await bot.send_message(people[30].id, "burst")
        with pytest.raises(TelegramRetryAfter) as chat:
            await bot.send_message(people[30].id, "one too many")
        assert chat.value.retry_after == 1
    finally:
        await bot.session.close()
    assert fake.limits is not None
    assert (fake.limits.refused_overall, fake.limits.refused_chat) == (1, 1)
    assert len(refused(fake, 429)) == 2


async def test_the_worker_stays_within_telegrams_limits(
    fake, settings, session_factory, db, clock, workers
):
    """60 messages to 30 chats, two each, queued chat after chat, with Telegram's 30 a second
    and one message a second per chat (no burst) enforced: not a single 429."""
    fake.enforce_limits(per_second=30, per_chat_per_second=1, chat_burst=1)
    people = [await staff(session_factory, fake, 8000 + n) for n in range(30)]
    for person in people:
        for n in range(2):
            await queue(session_factory, clock, person, f"{person.telegram_id}/{n}")

    assert await workers(with_(settings, outbox_chat_interval=1.0)).drain() == 60

    assert refused(fake, 429) == []
    assert sum(delivered(fake).values()) == 60
    assert {r.status for r in await rows(db)} == {OutboxStatus.SENT}
