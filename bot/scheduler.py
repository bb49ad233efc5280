"""One AsyncIOScheduler in the bot process, started and stopped with the dispatcher.

Jobs are in memory only and do nothing but sweep our own tables: what is due lives in the
database (tasks, outbox), so nothing is lost or pickled, and a restart simply sweeps again.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import digest, jobs, notifications
from bot.clock import Clock
from bot.config import Settings
from bot.delivery import OutboxWorker

log = logging.getLogger(__name__)


class BackgroundWork:
    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        i18n: I18n,
        clock: Clock,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.i18n = i18n
        self.clock = clock
        self.worker = OutboxWorker(bot, session_factory, settings, clock)
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        # One sweep at a time: a sweep asked for by hand (tests, start-up) while the timer's runs
        # waits for it and then does its own whole round, so it returns with everything due
        # handled, not with the other's digests still being drawn.
        self._sweeping = asyncio.Lock()

    async def sweep(self) -> None:
        """Everything that may be due now: reminders, agendas, the heads' digests, escalations
        and the messages events call for; then deliver the outbox."""
        async with self._sweeping:
            await self._sweep()

    async def _sweep(self) -> None:
        try:
            await jobs.remind_due_tasks(self.session_factory, self.i18n, self.clock)
            await jobs.send_agendas(self.session_factory, self.i18n, self.clock, self.settings)
            await digest.send_digests(self.session_factory, self.i18n, self.clock, self.settings)
            await notifications.escalate_complaints(self.session_factory, self.clock)
            await jobs.send_surveys(self.session_factory, self.i18n, self.clock, self.settings)
            await notifications.notify_events(
                self.session_factory, self.i18n, self.clock, self.settings
            )
            await self.worker.drain()
        except Exception:  # a sweep must never kill the scheduler; the next one tries again
            log.exception("background sweep failed")

    def start(self) -> None:
        self.scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.settings.sweep_seconds,
            id="sweep",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.start()

    async def shutdown(self) -> None:
        """No more sweeps; one under way finishes its round first (the bot's session and the
        database are closed right after this)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        async with self._sweeping:
            pass


def attach(
    dispatcher: Dispatcher,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    i18n: I18n,
    clock: Clock,
) -> None:
    """Starts the background work with polling (or the webhook app) and stops it after."""

    async def on_startup(bot: Bot) -> None:
        work = BackgroundWork(bot, session_factory, settings, i18n, clock)
        dispatcher["background"] = work
        work.start()
        await work.sweep()  # whatever fell due while the bot was down goes out now

    async def on_shutdown() -> None:
        work = dispatcher.workflow_data.get("background")
        if work is not None:
            await work.shutdown()

    dispatcher.startup.register(on_startup)
    dispatcher.shutdown.register(on_shutdown)
