"""Background work: plain async functions that call services. The scheduler runs them; tests
call them directly with a FakeClock."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.keyboards.surveys import score_buttons
from bot.keyboards.tasks import reminder_buttons
from bot.services import agenda as agenda_service
from bot.services import outbox, surveys, tasks
from bot.services.parsing import format_when
from bot.texts import survey_question
from db.models import Task, User

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=10)


def reminder_text(task: Task, now: datetime) -> str:
    tz = ZoneInfo(task.owner.timezone)
    lines = [_("⏰ <b>Reminder</b>: {text}").format(text=escape(task.text))]
    if task.client is not None:
        client = escape(task.client.name)
        if task.client.phone:
            client += f", {escape(task.client.phone)}"
        lines.append(_("Client: {client}").format(client=client))
    due = format_when(task.due_at, tz, task.owner.locale)
    if now - task.due_at > LATE_AFTER:
        lines.append(_("⚠️ Late: it was due {when} (the bot was unavailable).").format(when=due))
    else:
        lines.append(_("Due {when}").format(when=due))
    return "\n".join(lines)


async def remind_due_tasks(
    session_factory: async_sessionmaker[AsyncSession], i18n: I18n, clock: Clock
) -> int:
    """Queues a reminder for every task that fell due; the task and its reminder commit
    together, so a crash leaves either both or neither."""
    now = clock.now()
    async with session_factory() as session:
        due = await tasks.claim_due(session, now)
        with i18n.context():
            for task in due:
                with i18n.use_locale(task.owner.locale):
                    await outbox.enqueue(
                        session,
                        task.owner,
                        f"task:{task.id}:{task.due_at.isoformat()}",
                        reminder_text(task, now),
                        buttons=reminder_buttons(task),
                        protect=task.client_id is not None,
                        not_before=now,
                    )
        await session.commit()
    return len(due)


def agenda_text(agenda: agenda_service.Agenda, user: User, stale_days: int) -> str:
    tz = ZoneInfo(user.timezone)

    def task_line(task: Task) -> str:
        when = format_when(task.due_at, tz, user.locale)
        client = f" · {escape(task.client.name)}" if task.client else ""
        return f"• {when} — {escape(task.text)}{client}"

    parts = [_("☀️ <b>Good morning! Your day:</b>")]
    if agenda.overdue:
        parts.append(_("<b>Overdue ({count})</b>").format(count=len(agenda.overdue)))
        parts += [task_line(task) for task in agenda.overdue]
    if agenda.today:
        parts.append(_("<b>Today ({count})</b>").format(count=len(agenda.today)))
        parts += [task_line(task) for task in agenda.today]
    if agenda.stale_total:
        parts.append(
            _("<b>No contact for {days}+ days ({count})</b>").format(
                days=stale_days, count=agenda.stale_total
            )
        )
        parts += [f"• {escape(client.name)}" for client in agenda.stale_clients]
    return "\n".join(parts)[:4000]


async def send_agendas(
    session_factory: async_sessionmaker[AsyncSession],
    i18n: I18n,
    clock: Clock,
    settings: Settings,
) -> int:
    """Queues the morning agenda of everyone whose local agenda time has come today. Each
    user is checked once a day (agenda_checked_on); nothing is sent on an empty day."""
    now = clock.now()
    queued = 0
    async with session_factory() as session:
        due = await agenda_service.users_due(session, now)
        with i18n.context():
            for user, day in due:
                agenda = await agenda_service.build(session, user, now, settings.stale_days)
                if not agenda.empty:
                    with i18n.use_locale(user.locale):
                        text = agenda_text(agenda, user, settings.stale_days)
                    queued += await outbox.enqueue(
                        session, user, f"agenda:{user.id}:{day}", text, protect=True, not_before=now
                    )
                user.agenda_checked_on = day
        await session.commit()
    return queued


async def send_surveys(
    session_factory: async_sessionmaker[AsyncSession],
    i18n: I18n,
    clock: Clock,
    settings: Settings,
) -> int:
    """Schedules surveys from won deals and resolved complaints and the periodic ones, expires
    unanswered ones, and queues the due questions: all in one transaction."""
    now = clock.now()
    async with session_factory() as session:
        await surveys.schedule_from_events(session, now, settings)
        await surveys.schedule_periodic(session, now, settings)
        await surveys.expire(session, now)
        due = await surveys.due_for_sending(session, now, settings)
        with i18n.context():
            for survey in due:
                locale = survey.chat.locale
                with i18n.use_locale(locale):
                    text = survey_question(survey, settings.company_name, locale)
                await outbox.enqueue_to_client(
                    session,
                    survey.chat.telegram_id,
                    f"survey:{survey.id}",
                    text,
                    buttons=score_buttons(survey),
                    not_before=now,
                )
        await session.commit()
    return len(due)
