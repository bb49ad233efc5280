"""The outbox worker: delivers queued messages within Telegram's limits.

Pacing: at most `outbox_rate` sends a second in all (spaced evenly) and one message per chat per
`outbox_chat_interval`; a row for a chat that is not ready yet is put back with its next
attempt time instead of blocking the others. Failures: 429 → wait retry_after (the whole worker
pauses too, Telegram's flood control is per bot); network errors and 5xx → retry with backoff;
403 → the user blocked the bot: marked unreachable, their queue dropped; other 400s → failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.services import outbox
from db.models import OutboxMessage

log = logging.getLogger(__name__)

BATCH = 30
BACKOFF = (2, 5, 15, 60, 300, 900, 1800)  # seconds, by attempt


def keyboard(payload: dict) -> InlineKeyboardMarkup | None:
    rows = payload.get("buttons")
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(**button) for button in row] for row in rows]
    )


class OutboxWorker:
    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.bot = bot
        self.sessions = session_factory
        self.clock = clock
        self.spacing = 1 / settings.outbox_rate
        self.chat_interval = settings.outbox_chat_interval
        self._next_slot = 0.0  # monotonic time of the next allowed send
        self._chat_ready: dict[int, float] = {}  # chat → monotonic time it may get the next one
        self._lock = asyncio.Lock()  # one drain at a time in this process

    async def drain(self) -> int:
        """Delivers what is due now; returns how many messages were sent."""
        if self._lock.locked():
            return 0
        async with self._lock:
            sent = 0
            while True:
                async with self.sessions() as session:
                    rows = await outbox.claim(session, self.clock.now(), BATCH)
                if not rows:
                    return sent
                results = await asyncio.gather(*(self._deliver(row) for row in rows))
                sent += sum(results)

    async def _deliver(self, row: OutboxMessage) -> bool:
        ready = self._chat_ready.get(row.chat_id, 0.0)
        now = time.monotonic()
        if ready > now:  # this chat had a message a moment ago: come back for this one later
            self._chat_ready[row.chat_id] = ready + self.chat_interval
            async with self.sessions() as session:
                later = self.clock.now() + timedelta(seconds=ready - now)
                await outbox.mark_retry(session, row, later, "per-chat pacing", count=False)
            return False
        self._chat_ready[row.chat_id] = now + self.chat_interval
        await self._wait_for_slot()
        try:
            message = await self.bot.send_message(
                row.chat_id,
                row.payload.get("text", ""),
                reply_markup=keyboard(row.payload),
                protect_content=bool(row.payload.get("protect")),
            )
        except TelegramRetryAfter as error:
            self._next_slot = max(self._next_slot, time.monotonic() + error.retry_after)
            await self._retry(row, error.retry_after, f"429 retry after {error.retry_after}s")
            return False
        except TelegramForbiddenError:
            log.info("chat %s blocked the bot: its messages are dropped", row.chat_id)
            async with self.sessions() as session:
                await outbox.mark_failed(session, row, "the user blocked the bot")
                await outbox.mark_unreachable(session, row.chat_id)
            return False
        except TelegramBadRequest as error:
            log.warning("outbox message %s refused: %s", row.id, error.message)
            async with self.sessions() as session:
                await outbox.mark_failed(session, row, error.message)
            return False
        except (TelegramNetworkError, TelegramServerError, OSError) as error:
            delay = BACKOFF[min(row.attempts, len(BACKOFF) - 1)]
            await self._retry(row, delay, f"{type(error).__name__}: {error}")
            return False
        async with self.sessions() as session:
            await outbox.mark_sent(session, row, self.clock.now(), message.message_id)
        return True

    async def _retry(self, row: OutboxMessage, seconds: float, error: str) -> None:
        async with self.sessions() as session:
            await outbox.mark_retry(
                session, row, self.clock.now() + timedelta(seconds=seconds), error
            )

    async def _wait_for_slot(self) -> None:
        now = time.monotonic()
        slot = max(self._next_slot, now)
        self._next_slot = slot + self.spacing
        if slot > now:
            await asyncio.sleep(slot - now)
