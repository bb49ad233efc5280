"""The outbox worker: delivers queued messages within Telegram's limits (sendMessage, or
sendPhoto when the payload carries a picture: see bot.services.outbox.enqueue).

Pacing, in memory: at most `outbox_rate` sends a second in all, evenly spaced, and one message
per chat every `outbox_chat_interval`, counted from Telegram's answer to the previous one (so
they also arrive that far apart). Claimed rows wait in a queue per chat, and the sender takes
a chat that is ready: the one ready longest, or, once nothing more is due in the database,
the one with the most messages left, so the last chats' messages (one per interval) do not
trail alone at the end. A chat with several messages never holds the others back. A row whose
chat will not be ready within HOLD seconds goes back to the database with that moment as its
next attempt (no attempt counted). New rows are claimed while earlier ones are still going
out, whenever the held ones are less than AHEAD seconds of work, so the rate does not dip
between batches.

Failures: 429 → the whole worker pauses for retry_after (Telegram's flood control is per bot)
and the message waits it out first in its chat's queue (a pause longer than HOLD hands every
held row back to the database and ends the drain); network errors, timeouts and 5xx → retry
with backoff; 403 → the user blocked the bot: marked unreachable, their queue dropped, held rows
included; other 400s → failed.

The worker calls the HTTP session itself, past the bot's request middleware: that middleware
waits out a 429 inside the request and retries (right for a reply to a user), which here would
keep every other delivery going at full rate into the flood wait, then retry them all at once.

Delivery is at least once: a row is only marked sent after Telegram answered, so a worker that
dies in between leaves it 'sending', and another worker sends it again once the lease is over
(see bot.services.outbox.claim). Pacing is per worker: two workers together send up to twice
`outbox_rate`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage, SendPhoto
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.services import outbox
from db.models import OutboxMessage

log = logging.getLogger(__name__)

BATCH = 30  # rows per claim
MAX_HELD = 300  # rows held in memory at most (claiming stops beyond)
HOLD = 10.0  # seconds a claimed row may wait in memory for its chat or a flood-control pause
# Claim more while the held rows are less than AHEAD seconds of sending at full rate, counting
# for each chat only what its pacing lets it send in that time.
AHEAD = 4.0
RECLAIM_EVERY = 1.0  # seconds between claims once the due rows ran out (new ones may fall due)
SEND_TIMEOUT = 20  # seconds for one sendMessage
# A held row is sent only while this much of its lease is left, so that its send ends before
# another worker may take the row again.
LEASE_SAFETY = SEND_TIMEOUT + 10.0
BACKOFF = (2, 5, 15, 60, 300, 900, 1800)  # seconds, by attempt


def keyboard(payload: dict) -> InlineKeyboardMarkup | None:
    rows = payload.get("buttons")
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(**button) for button in row] for row in rows]
    )


@dataclass(eq=False)
class _Held:
    row: OutboxMessage
    expires: float  # monotonic: past this the row must not be sent (its lease is nearly over)


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
        self._paused_until = 0.0  # monotonic end of a flood-control pause
        self._chat_free: dict[int, float] = {}  # chat → monotonic time it may get the next one
        self._lock = asyncio.Lock()  # one drain at a time in this process
        # The drain in progress:
        self._queues: dict[int, deque[_Held]] = {}  # chat → rows held for it, in order
        self._ready: list[tuple[float, int, int]] = []  # heap of (free at, seq, chat)
        self._scheduled: set[int] = set()  # chats in _ready
        self._busy: set[int] = set()  # chats with a send in flight (or about to be)
        self._blocked: set[int] = set()  # chats that answered 403 during this drain
        self._sending: set[asyncio.Task[bool]] = set()
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._sent = 0

    async def drain(self) -> int:
        """Delivers what is due now (and what falls due while it runs); returns how many
        messages were sent. A second call while one runs in this process returns 0 at once."""
        if self._lock.locked():
            return 0
        async with self._lock:
            now = time.monotonic()
            self._chat_free = {c: t for c, t in self._chat_free.items() if t > now}
            self._sent = 0
            try:
                await self._run()
            except BaseException:
                for task in self._sending:  # their rows stay claimed until the lease ends
                    task.cancel()
                raise
            finally:
                self._reset()
            return self._sent

    async def _run(self) -> None:
        more = True  # the last claim was full: more rows are due
        last_claim = -RECLAIM_EVERY
        while True:
            now = time.monotonic()
            if self._paused_until - now > HOLD:
                await self._give_back("flood control: waiting for Telegram")
                return
            held = sum(len(queue) for queue in self._queues.values())
            idle = not self._ready and not self._sending
            room = held < MAX_HELD and self._work_ahead() < AHEAD / self.spacing
            next_claim = now if more or idle else last_claim + RECLAIM_EVERY
            if room and next_claim <= now:
                last_claim = now
                async with self.sessions() as session:
                    rows = await outbox.claim(session, self.clock.now(), BATCH)
                more = len(rows) == BATCH
                await self._take(rows, now)
                if not rows and idle:
                    return
                continue
            if not self._ready:  # every held chat has a send in flight
                await self._wait(RECLAIM_EVERY)
                continue
            at, _, chat = self._ready[0]
            if at > now:
                await self._wait(min(at, next_claim) - now if room else at - now)
                continue
            chat = self._next_chat(now, more)
            self._scheduled.discard(chat)
            queue = self._queues[chat]
            item = queue.popleft()
            if not queue:
                del self._queues[chat]
            self._busy.add(chat)  # nothing else goes to this chat while it waits for a slot
            slot = await self._wait_for_slot()
            self._busy.discard(chat)
            if not slot:  # a long flood-control pause began: handed back at the loop's top
                self._hold(item, front=True)
                continue
            if time.monotonic() > item.expires:
                self._schedule(chat)
                async with self.sessions() as session:
                    await outbox.mark_retry(
                        session, item.row, self.clock.now(), "lease nearly over", count=False
                    )
                continue
            self._busy.add(chat)
            task = asyncio.create_task(self._deliver(item))
            self._sending.add(task)
            task.add_done_callback(self._finished)

    def _next_chat(self, now: float, more: bool) -> int:
        """Takes the chat to send to next off the ready heap: the one that has been ready the
        longest; once no more rows are due in the database, the one with the most messages
        left (so that the last chats' messages, one per interval, do not trail at the end)."""
        if more:
            return heapq.heappop(self._ready)[2]
        ready = [entry for entry in self._ready if entry[0] <= now]
        best = max(ready, key=lambda entry: (len(self._queues[entry[2]]), -entry[0], -entry[1]))
        self._ready.remove(best)
        heapq.heapify(self._ready)
        return best[2]

    def _work_ahead(self) -> int:
        """Messages the held rows can fill in the next AHEAD seconds, chats' pacing allowing."""
        cap = 1 + int(AHEAD / self.chat_interval) if self.chat_interval else MAX_HELD
        return sum(min(len(queue), cap) for queue in self._queues.values())

    async def _wait(self, seconds: float) -> None:
        """Until a send finishes (its chat may be ready again) or `seconds` pass."""
        self._wake.clear()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _take(self, rows: list[OutboxMessage], claimed_at: float) -> None:
        """Holds the claimed rows in their chats' queues; gives back those whose chat will not
        be ready within HOLD seconds, due when their turn would come."""
        expires = claimed_at + outbox.LEASE.total_seconds() - LEASE_SAFETY
        now = time.monotonic()
        later: list[tuple[OutboxMessage, float]] = []
        deferred: dict[int, int] = {}
        for row in rows:
            chat = row.chat_id
            if chat in self._blocked:
                async with self.sessions() as session:
                    await outbox.mark_failed(session, row, "the user blocked the bot")
                continue
            ahead = len(self._queues.get(chat, ())) + int(chat in self._busy)
            ahead += deferred.get(chat, 0)
            start = max(now, self._chat_free.get(chat, now))
            at = start + ahead * self.chat_interval
            if at - now > HOLD:
                deferred[chat] = deferred.get(chat, 0) + 1
                later.append((row, at - now))
                continue
            self._hold(_Held(row, expires))
        for row, delay in later:
            async with self.sessions() as session:
                await outbox.mark_retry(
                    session,
                    row,
                    self.clock.now() + timedelta(seconds=delay),
                    "per-chat pacing",
                    count=False,
                )

    def _hold(self, item: _Held, *, front: bool = False) -> None:
        chat = item.row.chat_id
        queue = self._queues.setdefault(chat, deque())
        if front:
            queue.appendleft(item)
        else:
            queue.append(item)
        self._schedule(chat)

    def _schedule(self, chat: int) -> None:
        if chat in self._scheduled or chat in self._busy or not self._queues.get(chat):
            return
        self._scheduled.add(chat)
        heapq.heappush(self._ready, (self._chat_free.get(chat, 0.0), next(self._seq), chat))

    async def _wait_for_slot(self) -> bool:
        """Waits for the next global send slot; False if a flood-control pause is too long to
        wait out here."""
        while True:
            now = time.monotonic()
            if self._paused_until - now > HOLD:
                return False
            at = max(self._next_slot, self._paused_until)
            if at <= now:
                break
            await asyncio.sleep(at - now)
        # Keep the even schedule through small delays; after a gap, start it again from now.
        self._next_slot = (at if now - at < self.spacing else now) + self.spacing
        return True

    async def _deliver(self, item: _Held) -> bool:
        row = item.row
        chat = row.chat_id
        try:
            try:
                message = await self._send(row)
            except TelegramRetryAfter as error:
                self._paused_until = max(self._paused_until, time.monotonic() + error.retry_after)
                log.warning("flood control: pausing the outbox for %ss", error.retry_after)
                self._release(chat)
                self._hold(item, front=True)  # waits out the pause, first in its chat
                return False
            except TelegramForbiddenError:
                self._blocked.add(chat)
                dropped = self._queues.pop(chat, deque())
                self._release(chat)
                log.info("chat %s blocked the bot: its messages are dropped", chat)
                async with self.sessions() as session:
                    await outbox.mark_failed(session, row, "the user blocked the bot")
                    for other in dropped:
                        await outbox.mark_failed(session, other.row, "the user blocked the bot")
                    await outbox.mark_unreachable(session, chat)
                return False
            except TelegramBadRequest as error:
                self._release(chat)
                log.warning("outbox message %s refused: %s", row.id, error.message)
                async with self.sessions() as session:
                    await outbox.mark_failed(session, row, error.message)
                return False
            except (TelegramNetworkError, TelegramServerError, OSError, TimeoutError) as error:
                self._release(chat)
                await self._retry(row, f"{type(error).__name__}: {error}")
                return False
            except TelegramAPIError as error:  # 401, 404, 409...: unexpected, retried the same
                self._release(chat)
                log.warning("outbox message %s: %s", row.id, error)
                await self._retry(row, f"{type(error).__name__}: {error}")
                return False
            self._release(chat)
            async with self.sessions() as session:
                await outbox.mark_sent(session, row, self.clock.now(), message.message_id)
            self._sent += 1
            return True
        except Exception:  # the row stays claimed and is taken again after its lease
            self._release(chat)
            log.exception("outbox message %s: delivery failed", row.id)
            return False

    async def _send(self, row: OutboxMessage) -> Message:
        method: SendMessage | SendPhoto
        if row.payload.get("photo"):  # a picture (a chart), the text is its caption
            method = SendPhoto(
                chat_id=row.chat_id,
                photo=BufferedInputFile(base64.b64decode(row.payload["photo"]), "chart.png"),
                caption=row.payload.get("text") or None,
                reply_markup=keyboard(row.payload),
                protect_content=bool(row.payload.get("protect")),
            )
        else:
            method = SendMessage(
                chat_id=row.chat_id,
                text=row.payload.get("text", ""),
                reply_markup=keyboard(row.payload),
                protect_content=bool(row.payload.get("protect")),
            )
        # Past the request middleware on purpose: see the module docstring.
        return await self.bot.session.make_request(self.bot, method, timeout=SEND_TIMEOUT)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        self._sending.discard(task)
        self._wake.set()

    def _release(self, chat: int) -> None:
        """Telegram answered for this chat: its next message may go one interval from now."""
        if chat not in self._busy:
            return
        self._busy.discard(chat)
        self._chat_free[chat] = time.monotonic() + self.chat_interval
        if chat not in self._blocked:
            self._schedule(chat)
        self._wake.set()

    async def _retry(self, row: OutboxMessage, error: str) -> None:
        delay = BACKOFF[min(row.attempts, len(BACKOFF) - 1)]
        async with self.sessions() as session:
            await outbox.mark_retry(
                session, row, self.clock.now() + timedelta(seconds=delay), error
            )

    async def _give_back(self, error: str) -> None:
        """Hands every held row back to the database, due when the pause ends."""
        if self._sending:
            await asyncio.wait(set(self._sending))
        delay = max(self._paused_until - time.monotonic(), 0.0)
        at = self.clock.now() + timedelta(seconds=delay)
        queues, self._queues = self._queues, {}
        self._ready.clear()
        self._scheduled.clear()
        async with self.sessions() as session:
            for queue in queues.values():
                for item in queue:
                    await outbox.mark_retry(session, item.row, at, error, count=False)

    def _reset(self) -> None:
        self._queues = {}
        self._ready = []
        self._scheduled = set()
        self._busy = set()
        self._blocked = set()
        self._sending = set()
