"""Limits against copying the client base: a manager or head who opens too many client cards or
makes too many searches is paused with a message saying until when, the admins are told once,
and every refused attempt is in the audit log. Admins are not limited."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.keyboards.callbacks import ClientAction, ClientCb
from bot.services import parsing
from bot.services.audit import AuditAction
from bot.services.quotas import (
    Limits,
    MemoryCounter,
    Period,
    QuotaExceeded,
    QuotaGuard,
    QuotaKind,
    RedisCounter,
    window_of,
)
from db.models import AuditEntry, Client, ClientKind, ClientStatus, OutboxMessage, Role, User
from tests.conftest import ADMIN_ID, Db
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage
from tests.stories import add_department, admin_joins, colleague_joins, user_row

ANNA, NINA = 2001, 3001
# Tuesday 15 January 2030, 07:10 in Moscow (everyone's zone here): before the morning agenda
# and digest, so the admin's chat holds only what these stories are about
MORNING = datetime(2030, 1, 15, 4, 10, tzinfo=UTC)
CARDS_PAUSED = (
    "You have opened many client cards in a short time. To protect the client base, viewing "
    "cards is paused until {time}."
)
SEARCH_PAUSED = (
    "You have made many searches in a short time. To protect the client base, search is paused "
    "until {time}."
)


@pytest.fixture
def settings(settings):
    """Small limits, so a story crosses them in a few steps."""
    return settings.model_copy(
        update={
            "card_views_per_hour": 3,
            "card_views_per_day": 5,
            "searches_per_hour": 3,
            "searches_per_day": 5,
        }
    )


async def team(fake: FakeTelegram) -> tuple[FakeUser, FakeUser, FakeUser]:
    """An admin, Anna (manager, Sales) and Nina (head of Sales), all in English."""
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    anna = await colleague_joins(fake, admin, ANNA, "Anna", department="Sales")
    nina = await colleague_joins(
        fake, admin, NINA, "Nina", role="head of department", department="Sales"
    )
    return admin, anna, nina


async def add_clients(db: Db, owner: FakeUser, count: int) -> list[str]:
    row = await user_row(db, owner.id)
    assert row is not None
    names = [f"Client {n:02}" for n in range(1, count + 1)]
    async with db.session_factory() as session:
        for name in names:
            session.add(
                Client(
                    name=name,
                    name_key=parsing.normalize_name(name),
                    search_text=parsing.search_key(name),
                    kind=ClientKind.COMPANY,
                    status=ClientStatus.LEAD,
                    owner_id=row.id,
                )
            )
        await session.commit()
    return names


async def open_list(user: FakeUser) -> SentMessage:
    await user.tap("👤 Clients")
    return (await user.press("📋 My clients")).last


async def open_card(user: FakeUser, name: str, clients_list: SentMessage) -> str:
    """Taps the client in the list; returns what the bot said."""
    return (await user.press(f"🏢 {name}", message=clients_list)).text


async def hits(db: Db, user: FakeUser) -> list[AuditEntry]:
    row = await user_row(db, user.id)
    assert row is not None
    return await db.all(
        select(AuditEntry)
        .where(AuditEntry.actor_id == row.id, AuditEntry.action == AuditAction.LIMIT_HIT)
        .order_by(AuditEntry.id)
    )


async def alerts(db: Db) -> list[OutboxMessage]:
    return await db.all(
        select(OutboxMessage)
        .where(OutboxMessage.chat_id == ADMIN_ID, OutboxMessage.dedupe_key.like("limit:%"))
        .order_by(OutboxMessage.id)
    )


def alert_texts(fake: FakeTelegram) -> list[str]:
    return [m.text for m in fake.sent_to(ADMIN_ID) if "Limit against copying" in m.text]


# Client cards


async def test_many_cards_pause_the_manager_until_the_hour_ends_and_admins_hear_once(fake, bot, db):
    _admin, anna, _ = await team(fake)
    names = await add_clients(db, anna, 6)
    bot.clock.set(MORNING)
    clients_list = await open_list(anna)

    for name in names[:3]:
        assert name in await open_card(anna, name, clients_list)
    # the same card again costs nothing: coming back to a client is not copying
    assert "Owner: Anna" in await open_card(anna, names[0], clients_list)

    said = await open_card(anna, names[3], clients_list)
    assert said == CARDS_PAUSED.format(time="08:00")
    assert names[3] not in said
    said = await open_card(anna, names[4], clients_list)
    assert said == CARDS_PAUSED.format(time="08:00")
    # nor can the history of a client not seen yet be read around the card
    history = ClientCb(action=ClientAction.HISTORY, client_id=await client_id(db, names[5]))
    reply = await anna.press_forged(history.pack(), message=anna.last)
    assert reply.text == CARDS_PAUSED.format(time="08:00")
    # while the history of a card already opened is free
    history = ClientCb(action=ClientAction.HISTORY, client_id=await client_id(db, names[1]))
    said = (await anna.press_forged(history.pack(), message=anna.last)).text
    assert names[1] in said and "paused" not in said

    # every refused attempt is audited; the admins are told once
    entries = await hits(db, anna)
    assert [(e.details["kind"], e.details["period"], e.details["limit"]) for e in entries] == [
        ("card_views", "hour", 3)
    ] * 3
    assert [e.details["client_id"] for e in entries] == [
        await client_id(db, name) for name in names[3:6]
    ]
    assert len(await alerts(db)) == 1
    await bot.sweep()
    assert alert_texts(fake) == [
        "🛡 Limit against copying reached\n"
        "Anna (manager) has opened 3 different client cards within an hour.\n"
        "Their access is paused until 08:00. Every refused attempt is in the audit log."
    ]

    # the next hour: allowed again, up to the day's limit (5 different cards)
    bot.clock.advance(hours=1)
    assert names[3] in await open_card(anna, names[3], clients_list)
    assert names[4] in await open_card(anna, names[4], clients_list)
    said = await open_card(anna, names[5], clients_list)
    assert said == CARDS_PAUSED.format(time="Wed 16 Jan 2030, 00:00")
    await bot.sweep()
    assert len(await alerts(db)) == 2
    assert "has opened 5 different client cards within a day." in alert_texts(fake)[-1]
    assert "paused until Wed 16 Jan 2030, 00:00" in alert_texts(fake)[-1]
    assert [e.details["period"] for e in await hits(db, anna)] == ["hour"] * 3 + ["day"]

    # a new day in Moscow: allowed again
    bot.clock.set(datetime(2030, 1, 15, 21, 5, tzinfo=UTC))
    assert names[5] in await open_card(anna, names[5], clients_list)
    assert len(await hits(db, anna)) == 4


async def client_id(db: Db, name: str) -> int:
    return await db.scalar(select(Client.id).where(Client.name == name))


async def test_admins_are_not_limited(fake, bot, db):
    admin, anna, _ = await team(fake)
    names = await add_clients(db, anna, 6)
    bot.clock.set(MORNING)
    clients_list = await open_list(admin)

    for name in names:
        said = await open_card(admin, name, clients_list)
        assert name in said and "paused" not in said
    await open_search_step(admin)
    for _ in range(6):
        assert "6 found" in (await admin.send("client")).text
    assert await hits(db, admin) == []
    assert await alerts(db) == []


# Searches


async def open_search_step(user: FakeUser) -> None:
    await user.tap("👤 Clients")
    await user.press("🔎 Search")


async def test_many_searches_pause_search_pages_and_inline_mode_too(fake, bot, db):
    _admin, anna, nina = await team(fake)
    await add_clients(db, anna, 10)
    bot.clock.set(MORNING)
    await open_search_step(anna)

    assert "“client”: 10 found." in (await anna.send("client")).text  # 1
    await anna.press("▶")  # 2: every results page is a search
    await anna.press("◀")  # 3
    reply = await anna.press("▶")
    assert reply.text == SEARCH_PAUSED.format(time="08:00")
    reply = await anna.send("client")
    assert reply.text == SEARCH_PAUSED.format(time="08:00")
    answer = await anna.inline_query("cli")  # @bot in any chat: nothing, and why
    assert answer.results == []
    call = next(c for c in answer.reply.calls if c.method == "answerInlineQuery")
    assert call.params["button"]["text"] == "Paused until 08:00"

    assert [e.details["kind"] for e in await hits(db, anna)] == ["searches"] * 3
    await bot.sweep()
    assert alert_texts(fake) == [
        "🛡 Limit against copying reached\n"
        "Anna (manager) has made 3 searches within an hour.\n"
        "Their access is paused until 08:00. Every refused attempt is in the audit log."
    ]

    # Nina counts on her own; heads are limited too
    await open_search_step(nina)
    for _ in range(3):
        assert "10 found" in (await nina.send("client")).text
    assert (await nina.send("client")).text == SEARCH_PAUSED.format(time="08:00")
    assert len(await hits(db, nina)) == 1

    # the next hour, Anna searches again; refused attempts did not count towards the day
    bot.clock.advance(hours=1)
    await open_search_step(anna)
    assert "10 found" in (await anna.send("client")).text  # 4 today
    assert (await anna.inline_query("cli")).titles  # 5 today
    assert (await anna.send("client")).text == SEARCH_PAUSED.format(time="Wed 16 Jan 2030, 00:00")
    await bot.sweep()
    assert len(await alerts(db)) == 3  # Anna's hour, Nina's hour, Anna's day


# The parts


def test_windows_are_the_local_hour_and_the_local_day():
    now = datetime(2030, 3, 10, 10, 0, tzinfo=UTC)
    india = window_of(now, Period.HOUR, ZoneInfo("Asia/Kolkata"))  # 15:30 there
    assert (india.start, india.end) == (
        datetime(2030, 3, 10, 9, 30, tzinfo=UTC),
        datetime(2030, 3, 10, 10, 30, tzinfo=UTC),
    )
    spring = window_of(now, Period.DAY, ZoneInfo("America/New_York"))  # DST starts that day
    assert spring.end - spring.start == timedelta(hours=23)
    assert spring.start == datetime(2030, 3, 10, 5, 0, tzinfo=UTC)


async def test_memory_counters_forget_past_windows():
    clock = FakeClock(MORNING)
    counter = MemoryCounter(clock)
    assert await counter.incr("a", 1, timedelta(minutes=10)) == 1
    assert await counter.add("b", "7", timedelta(minutes=10)) == (True, 1)
    assert await counter.add("b", "7", timedelta(minutes=10)) == (False, 1)
    clock.advance(minutes=11)
    assert await counter.incr("a", 1, timedelta(minutes=10)) == 1
    assert await counter.add("b", "7", timedelta(minutes=10)) == (True, 1)
    clock.advance(minutes=30)
    await counter.incr("c", 1, timedelta(minutes=10))  # the sweep drops what expired
    assert set(counter._expires) == {"c"}


async def person(session, role: Role = Role.MANAGER) -> User:
    user = User(
        telegram_id=5000 + int(uuid.uuid4().int % 1000),
        full_name="Pat",
        role=role,
        locale="en",
        timezone="Europe/Moscow",
    )
    session.add(user)
    await session.commit()
    return user


@pytest.fixture
async def redis_counter():
    counter = RedisCounter("redis://127.0.0.1:6379/0")
    try:
        await counter.redis.ping()
    except Exception:
        await counter.close()
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"fieldcrm-test:quota:{uuid.uuid4().hex}"
    yield counter, prefix
    with contextlib.suppress(Exception):
        keys = [key async for key in counter.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await counter.redis.delete(*keys)
    await counter.close()


async def test_with_redis_every_instance_shares_the_counts(session, redis_counter):
    counter, prefix = redis_counter
    clock = FakeClock(MORNING)
    limits = Limits(card_views_per_hour=2, card_views_per_day=0, searches_per_hour=2)
    # two instances of the bot: two guards on one Redis
    first, second = (QuotaGuard(limits, counter, clock, prefix=prefix) for _ in range(2))
    pat = await person(session)

    await first.card_viewed(session, pat, 1)
    await second.card_viewed(session, pat, 1)  # the same card: counted once
    await second.card_viewed(session, pat, 2)
    with pytest.raises(QuotaExceeded) as refused:
        await first.card_viewed(session, pat, 3)
    assert refused.value.kind is QuotaKind.CARD_VIEWS
    assert refused.value.params == {"time": "08:00"}
    await first.search_made(session, pat)
    await second.search_made(session, pat)
    with pytest.raises(QuotaExceeded):
        await first.search_made(session, pat)

    key = f"{prefix}:{pat.id}:searches:hour:20300115T0400"
    assert int(await counter.redis.get(key)) == 2  # the refused search was taken back
    assert 0 < await counter.redis.ttl(key) <= 50 * 60 + 60
    clock.advance(hours=1)
    await first.card_viewed(session, pat, 3)  # a new window, a new key
    await second.search_made(session, pat)


async def test_a_refused_attempt_does_not_count(session):
    clock = FakeClock(MORNING)
    guard = QuotaGuard(Limits(searches_per_hour=1, searches_per_day=2), MemoryCounter(clock), clock)
    pat = await person(session, Role.HEAD)
    await guard.search_made(session, pat)
    for _ in range(5):
        with pytest.raises(QuotaExceeded):
            await guard.search_made(session, pat)
    clock.advance(hours=1)
    await guard.search_made(session, pat)  # the day saw 2, not 7
    entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.actor_id == pat.id)))
    assert len(entries) == 5
    with pytest.raises(QuotaExceeded) as refused:
        await guard.search_made(session, pat)
    assert refused.value.window.period is Period.DAY
