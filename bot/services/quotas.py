"""Limits against copying the client base: how many client cards a person may open and how
many searches they may make, per hour and per day.

- **Who is limited**: heads and managers. Admins are not: they already see every client, are
  the ones told when someone is throttled, and can export the whole base anyway, so a quota on
  their cards would protect nothing and could lock the bot's keepers out while they look into
  an alert.
- **What counts**: a card counts once per client and window (opening the same card again,
  coming back to it after an edit or from its history, costs nothing: the threat is reading
  many different clients); every search counts, each results page included (paging through a
  broad query is how a list would be copied); inline mode (@bot query) counts as searches.
  A refused attempt does not count.
- **Windows** are the clock hour and the calendar day in the person's own time zone, so "paused
  until 15:00" and "until midnight" mean what they say.
- **Crossing a limit** refuses with QuotaExceeded (its message says until when), writes a
  LIMIT_HIT audit entry for every refused attempt and queues one alert per admin per person,
  kind and window (the outbox dedupe key): admins are told once, not on every attempt.
- **Counters** live in Redis (INCR / SADD with an expiry at the window's end) when REDIS_URL is
  set, so all instances share them; otherwise in this process's memory: without Redis the bot
  runs as one instance (its conversation locks are in memory too), and a counter in the
  database would turn every card view, a read, into a write transaction. A restart without
  Redis starts the counts afresh: one window's worth at most, and nobody can restart the bot
  from Telegram.

Services call `card_viewed()` and `search_made()`; they act when the update being handled has
a guard installed (bot/middlewares/throttle.py does it for every update). Scheduler jobs, the
CLI and the benchmarks run without one and are not counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services import outbox
from bot.services.audit import AuditAction
from bot.services.errors import N_, DomainError
from bot.services.parsing import format_when
from db.models import Role, User
from db.repositories import AuditRepository

if TYPE_CHECKING:
    from bot.config import Settings

KEY_PREFIX = "fieldcrm:quota"
EXPIRY_MARGIN = timedelta(minutes=1)  # a counter outlives its window a little: clocks differ
PURGE_EVERY = timedelta(minutes=5)  # memory counters: how often expired windows are dropped


class QuotaKind(StrEnum):
    CARD_VIEWS = "card_views"
    SEARCHES = "searches"


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"


@dataclass(frozen=True)
class Limits:
    """Per person; 0 turns a limit off."""

    card_views_per_hour: int = 60
    card_views_per_day: int = 300
    searches_per_hour: int = 60
    searches_per_day: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            card_views_per_hour=settings.card_views_per_hour,
            card_views_per_day=settings.card_views_per_day,
            searches_per_hour=settings.searches_per_hour,
            searches_per_day=settings.searches_per_day,
        )

    def of(self, kind: QuotaKind, period: Period) -> int:
        return int(getattr(self, f"{kind.value}_per_{period.value}"))


@dataclass(frozen=True)
class Window:
    period: Period
    start: datetime  # aware UTC
    end: datetime


def window_of(now: datetime, period: Period, zone: ZoneInfo) -> Window:
    """The clock hour or calendar day around `now` in `zone` (DST-safe: a day may be 23 or 25
    hours long)."""
    local = now.astimezone(zone)
    if period is Period.HOUR:
        start = local.replace(minute=0, second=0, microsecond=0).astimezone(now.tzinfo)
        return Window(period, start, start + timedelta(hours=1))
    day = local.date()
    start = datetime.combine(day, time(), zone).astimezone(now.tzinfo)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(now.tzinfo)
    return Window(period, start, end)


MESSAGES = {
    QuotaKind.CARD_VIEWS: N_(
        "You have opened many client cards in a short time. To protect the client base, "
        "viewing cards is paused until {time}."
    ),
    QuotaKind.SEARCHES: N_(
        "You have made many searches in a short time. To protect the client base, search is "
        "paused until {time}."
    ),
}


class QuotaExceeded(DomainError):
    """A limit against copying was crossed; `time` in the message is the end of the pause in
    the person's own zone."""

    def __init__(
        self, actor: User, kind: QuotaKind, window: Window, limit: int, now: datetime
    ) -> None:
        super().__init__(MESSAGES[kind], time=pause_end_text(window.end, now, actor))
        self.actor = actor
        self.kind = kind
        self.window = window
        self.limit = limit
        self.now = now


def pause_end_text(end: datetime, now: datetime, user: User) -> str:
    """ "15:00" when the pause ends today in the user's zone, else with the date."""
    zone = ZoneInfo(user.timezone)
    local_end = end.astimezone(zone)
    if local_end.date() == now.astimezone(zone).date():
        return f"{local_end:%H:%M}"
    return format_when(end, zone, user.locale)


# Counters


class Counter(Protocol):
    async def incr(self, key: str, amount: int, ttl: timedelta) -> int:
        """Adds `amount` to the counter `key` (created at 0, expiring after `ttl`)."""

    async def add(self, key: str, member: str, ttl: timedelta) -> tuple[bool, int]:
        """Adds `member` to the set `key`: (whether it was new, the set's size)."""

    async def discard(self, key: str, member: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCounter:
    """Counters in this process (one instance). Expiry follows the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._expires: dict[str, datetime] = {}
        self._counts: dict[str, int] = {}
        self._sets: dict[str, set[str]] = {}
        self._next_purge: datetime | None = None

    def _touch(self, key: str, ttl: timedelta) -> None:
        now = self.clock.now()
        if self._next_purge is None or now >= self._next_purge:
            for old in [k for k, at in self._expires.items() if at <= now]:
                self._drop(old)
            self._next_purge = now + PURGE_EVERY
        elif key in self._expires and self._expires[key] <= now:
            self._drop(key)
        self._expires[key] = now + ttl

    def _drop(self, key: str) -> None:
        self._expires.pop(key, None)
        self._counts.pop(key, None)
        self._sets.pop(key, None)

    async def incr(self, key: str, amount: int, ttl: timedelta) -> int:
        self._touch(key, ttl)
        self._counts[key] = self._counts.get(key, 0) + amount
        return self._counts[key]

    async def add(self, key: str, member: str, ttl: timedelta) -> tuple[bool, int]:
        self._touch(key, ttl)
        members = self._sets.setdefault(key, set())
        new = member not in members
        members.add(member)
        return new, len(members)

    async def discard(self, key: str, member: str) -> None:
        self._sets.get(key, set()).discard(member)

    async def close(self) -> None:
        return None


class RedisCounter:
    """Counters shared by every instance: INCRBY / SADD and EXPIRE in one transaction."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url)

    @staticmethod
    def _seconds(ttl: timedelta) -> int:
        return max(1, math.ceil(ttl.total_seconds()))

    async def incr(self, key: str, amount: int, ttl: timedelta) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, self._seconds(ttl))
            value, _ = await pipe.execute()
        return int(value)

    async def add(self, key: str, member: str, ttl: timedelta) -> tuple[bool, int]:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, member)
            pipe.scard(key)
            pipe.expire(key, self._seconds(ttl))
            added, size, _ = await pipe.execute()
        return bool(added), int(size)

    async def discard(self, key: str, member: str) -> None:
        await self.redis.srem(key, member)

    async def close(self) -> None:
        await self.redis.aclose()


def create_counter(redis_url: str | None, clock: Clock) -> Counter:
    return RedisCounter(redis_url) if redis_url else MemoryCounter(clock)


# The guard

AlertText = Callable[[User, QuotaExceeded], str]
"""Builds the admins' alert about a crossing, in the admin's language (bot/middlewares)."""


class QuotaGuard:
    def __init__(
        self,
        limits: Limits,
        counter: Counter,
        clock: Clock,
        alert_text: AlertText | None = None,
        *,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self.limits = limits
        self.counter = counter
        self.clock = clock
        self.alert_text = alert_text
        self.prefix = prefix

    @staticmethod
    def exempt(actor: User) -> bool:
        return actor.role is Role.ADMIN

    async def card_viewed(self, session: AsyncSession, actor: User, client_id: int) -> None:
        await self._spend(session, actor, QuotaKind.CARD_VIEWS, str(client_id))

    async def search_made(self, session: AsyncSession, actor: User) -> None:
        await self._spend(session, actor, QuotaKind.SEARCHES, None)

    def _key(self, actor: User, kind: QuotaKind, window: Window) -> str:
        start = f"{window.start:%Y%m%dT%H%M}"
        return f"{self.prefix}:{actor.id}:{kind.value}:{window.period.value}:{start}"

    async def _spend(
        self, session: AsyncSession, actor: User, kind: QuotaKind, member: str | None
    ) -> None:
        if self.exempt(actor):
            return
        now = self.clock.now()
        zone = ZoneInfo(actor.timezone)
        spent: list[tuple[str, timedelta]] = []
        over: list[tuple[Window, int]] = []
        for period in Period:
            limit = self.limits.of(kind, period)
            if limit <= 0:
                continue
            window = window_of(now, period, zone)
            key, ttl = self._key(actor, kind, window), window.end - now + EXPIRY_MARGIN
            if member is None:
                count, new = await self.counter.incr(key, 1, ttl), True
            else:
                new, count = await self.counter.add(key, member, ttl)
            if new:
                spent.append((key, ttl))
                if count > limit:
                    over.append((window, limit))
        if not over:
            return
        for key, ttl in spent:  # a refused attempt does not count
            if member is None:
                await self.counter.incr(key, -1, ttl)
            else:
                await self.counter.discard(key, member)
        window, limit = max(over, key=lambda crossed: crossed[0].end)  # the longer pause
        error = QuotaExceeded(actor, kind, window, limit, now)
        details: dict[str, object] = {
            "kind": kind.value,
            "period": window.period.value,
            "limit": limit,
            "until": window.end.isoformat(),
        }
        if member is not None:
            details["client_id"] = int(member)
        AuditRepository(session).record(
            actor.id, AuditAction.LIMIT_HIT, "user", actor.id, **details
        )
        await self._alert(session, error)
        await session.commit()
        raise error

    async def _alert(self, session: AsyncSession, error: QuotaExceeded) -> None:
        if self.alert_text is None:
            return
        window = error.window
        for admin in await active_admins(session):
            key = (
                f"limit:{error.actor.id}:{error.kind.value}:{window.period.value}:"
                f"{window.start:%Y%m%dT%H%M}:{admin.id}"
            )
            await outbox.enqueue(
                session, admin, key, self.alert_text(admin, error), not_before=error.now
            )

    async def close(self) -> None:
        await self.counter.close()


async def active_admins(session: AsyncSession) -> Sequence[User]:
    rows = await session.scalars(
        select(User).where(User.role == Role.ADMIN, User.is_active).order_by(User.id)
    )
    return rows.all()


# What services call

current_guard: ContextVar[QuotaGuard | None] = ContextVar("quota_guard", default=None)


async def card_viewed(session: AsyncSession, actor: User, client_id: int) -> None:
    """Counts a client card opened by `actor`; QuotaExceeded past a limit."""
    guard = current_guard.get()
    if guard is not None:
        await guard.card_viewed(session, actor, client_id)


async def search_made(session: AsyncSession, actor: User) -> None:
    """Counts a search (or a results page) made by `actor`; QuotaExceeded past a limit."""
    guard = current_guard.get()
    if guard is not None:
        await guard.search_made(session, actor)
