"""Throttling: one flooding account never slows the others, and the quotas against copying the
client base (bot/services/quotas.py) are enforced and explained.

- FloodMiddleware runs first, before the database is touched: a token bucket per Telegram
  account (FLOOD_BURST updates at once, then FLOOD_RATE a minute). An update over the limit is
  dropped at once, with one "slow down" notice per minute; there is no lock shared between
  users and nothing sleeps, so everybody else's updates go through as usual. The buckets live
  in this process: with polling each update reaches one instance only, and dropping a flood
  costs no network round trip.
- QuotaMiddleware installs the quota guard for the services of this update and, when a limit
  is crossed, tells the user until when (the alert to admins and the audit entry are written
  by the guard, in the same transaction).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import (
    CallbackQuery,
    InlineQuery,
    InlineQueryResultsButton,
    Message,
    TelegramObject,
    Update,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import locale_from_telegram
from bot.services import quotas
from bot.services.errors import N_
from bot.services.quotas import Limits, Period, QuotaExceeded, QuotaGuard, QuotaKind
from bot.texts import role_label
from db.models import User

log = logging.getLogger(__name__)

NOTICE_EVERY = 60.0  # seconds: at most one "slow down" notice per account in this time
PURGE_EVERY = 60.0  # seconds between sweeps of idle buckets
SLOW_DOWN = N_("Too many messages at once. Please slow down: I will answer again in a moment.")


# Floods


@dataclass
class _Bucket:
    tokens: float
    at: float
    noticed_at: float | None = None


class FloodMiddleware(BaseMiddleware):
    """Per-account token bucket on every update (an outer middleware, registered first)."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        i18n: I18n,
        default_locale: str,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_minute / 60.0  # tokens a second
        self.burst = float(burst)
        self.i18n = i18n
        self.default_locale = default_locale
        self.now = now
        self._buckets: dict[int, _Bucket] = {}
        self._next_purge = now() + PURGE_EVERY

    @classmethod
    def from_settings(cls, settings: Settings, i18n: I18n) -> FloodMiddleware:
        return cls(settings.flood_rate, settings.flood_burst, i18n, settings.default_locale)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user = data.get("event_from_user")
        if tg_user is None or self.rate <= 0 or self.allow(tg_user.id):
            return await handler(event, data)
        if self._notice_due(tg_user.id):
            log.warning(
                "account %s is flooding the bot: its excess updates are dropped", tg_user.id
            )
            locale = locale_from_telegram(tg_user.language_code, self.default_locale)
            await _slow_down(event, self.i18n.gettext(SLOW_DOWN, locale=locale))
        return None

    def allow(self, account: int) -> bool:
        """Takes a token from the account's bucket; False when it is empty."""
        now = self.now()
        if now >= self._next_purge:
            self._purge(now)
        bucket = self._buckets.get(account)
        if bucket is None:
            bucket = self._buckets[account] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        return False

    def _notice_due(self, account: int) -> bool:
        bucket, now = self._buckets[account], self.now()
        if bucket.noticed_at is not None and now - bucket.noticed_at < NOTICE_EVERY:
            return False
        bucket.noticed_at = now
        return True

    def _purge(self, now: float) -> None:
        """Forgets accounts whose bucket has filled up again and that need no notice pause."""
        full_after = self.burst / self.rate
        for account, bucket in list(self._buckets.items()):
            noticed = bucket.noticed_at is not None and now - bucket.noticed_at < NOTICE_EVERY
            if now - bucket.at >= full_after and not noticed:
                del self._buckets[account]
        self._next_purge = now + PURGE_EVERY


async def _slow_down(update: TelegramObject, text: str) -> None:
    event = update.event if isinstance(update, Update) else update
    try:
        if isinstance(event, Message):
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
    except Exception:  # blocked, network: the notice is a courtesy
        log.info("could not send a slow-down notice", exc_info=True)


# Quotas


class QuotaMiddleware(BaseMiddleware):
    """Installs the quota guard for this update's services; explains a crossing.

    Registered inside the locale middleware (the user's language) and the errors middleware.
    """

    def __init__(self, guard: QuotaGuard) -> None:
        self.guard = guard

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        token = quotas.current_guard.set(self.guard)
        try:
            return await handler(event, data)
        except QuotaExceeded as error:
            log.info(
                "user %s paused: %s limit of %s a %s reached",
                error.actor.id,
                error.kind.value,
                error.limit,
                error.window.period.value,
            )
            await _tell_paused(event, _(error.message).format(**error.params), error)
            return None
        finally:
            quotas.current_guard.reset(token)


async def _tell_paused(update: TelegramObject, text: str, error: QuotaExceeded) -> None:
    """As a message in the chat, so "until 15:00" stays in sight; a button the handler had
    already answered cannot show an alert any more."""
    event = update.event if isinstance(update, Update) else update
    if isinstance(event, InlineQuery):
        short = _("Paused until {time}").format(**error.params)
        button = InlineQueryResultsButton(text=short, start_parameter="paused")
        with contextlib.suppress(Exception):
            await event.answer([], is_personal=True, cache_time=0, button=button)
        return
    try:
        if isinstance(event, CallbackQuery):
            with contextlib.suppress(Exception):  # already answered by the handler
                await event.answer()
            if isinstance(event.message, Message):
                await event.message.answer(text)
            elif event.bot is not None:
                await event.bot.send_message(event.from_user.id, text)
        elif isinstance(event, Message):
            await event.answer(text)
    except Exception:
        log.warning("could not tell a user that their access is paused", exc_info=True)


ALERTS = {
    (QuotaKind.CARD_VIEWS, Period.HOUR): N_(
        "{name} ({role}) has opened {limit} different client cards within an hour."
    ),
    (QuotaKind.CARD_VIEWS, Period.DAY): N_(
        "{name} ({role}) has opened {limit} different client cards within a day."
    ),
    (QuotaKind.SEARCHES, Period.HOUR): N_(
        "{name} ({role}) has made {limit} searches within an hour."
    ),
    (QuotaKind.SEARCHES, Period.DAY): N_("{name} ({role}) has made {limit} searches within a day."),
}


def alert_text(i18n: I18n, admin: User, error: QuotaExceeded) -> str:
    """The admins' alert, in the admin's language and time zone."""
    actor = error.actor
    with i18n.use_locale(admin.locale):
        lines = [
            _("🛡 <b>Limit against copying reached</b>"),
            _(ALERTS[(error.kind, error.window.period)]).format(
                name=escape(actor.full_name), role=role_label(actor.role), limit=error.limit
            ),
            _(
                "Their access is paused until {time}. Every refused attempt is in the audit log."
            ).format(time=quotas.pause_end_text(error.window.end, error.now, admin)),
        ]
    return "\n".join(lines)


def create_quota_guard(settings: Settings, clock: Clock, i18n: I18n) -> QuotaGuard:
    return QuotaGuard(
        Limits.from_settings(settings),
        quotas.create_counter(settings.redis_url, clock),
        clock,
        lambda admin, error: alert_text(i18n, admin, error),
    )
