"""Tasks and reminders. The owner gets a reminder when a task falls due (see bot/jobs.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import parsing
from bot.services.access import visible_clients
from bot.services.clients import get_writable_client, history_span
from bot.services.errors import N_, InvalidInput, NotFound
from db.models import Client, Interaction, Task, TaskStatus, User

TEXT_MAX = 500
PAGE_SIZE = 8


async def create_task(
    session: AsyncSession,
    actor: User,
    text: str,
    due_at: datetime,
    *,
    client_id: int | None = None,
    interaction_id: int | None = None,
    commit: bool = True,
) -> Task:
    if client_id is not None:
        await get_writable_client(session, actor, client_id)  # the owner must see it
    task = Task(
        owner_id=actor.id,
        text=parsing.clean_text(text, limit=TEXT_MAX),
        due_at=due_at,
        client_id=client_id,
        interaction_id=interaction_id,
    )
    session.add(task)
    if commit:
        await session.commit()
    return task


async def get_task(session: AsyncSession, actor: User, task_id: int) -> Task:
    """Only the owner acts on a task."""
    task = await session.scalar(select(Task).where(Task.id == task_id, Task.owner_id == actor.id))
    if task is None:
        raise NotFound()
    return task


async def complete(session: AsyncSession, actor: User, task_id: int, now: datetime) -> Task:
    task = await get_task(session, actor, task_id)
    if task.status is TaskStatus.OPEN:
        task.status = TaskStatus.DONE
        task.done_at = now
        await session.commit()
    return task


async def reschedule(
    session: AsyncSession, actor: User, task_id: int, due_at: datetime, now: datetime
) -> Task:
    """Snooze or a new date: the task is due again and will remind again."""
    task = await get_task(session, actor, task_id)
    if task.status is not TaskStatus.OPEN:
        raise InvalidInput(N_("This task is already closed."))
    if due_at <= now:
        raise InvalidInput(N_("That time has already passed. Send a time in the future."))
    task.due_at = due_at
    task.reminded_at = None
    await session.commit()
    return task


async def open_tasks(
    session: AsyncSession, actor: User, page: int = 0
) -> tuple[Sequence[Task], int]:
    """The owner's open tasks, soonest (so overdue) first."""
    where = (Task.owner_id == actor.id, Task.status == TaskStatus.OPEN)
    rows = await session.scalars(
        select(Task)
        .where(*where)
        .order_by(Task.due_at, Task.id)
        .offset(max(page, 0) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    total = await session.scalar(select(func.count()).select_from(Task).where(*where))
    return rows.all(), total or 0


async def claim_due(session: AsyncSession, now: datetime, limit: int = 200) -> Sequence[Task]:
    """Marks due, not yet reminded tasks as reminded and returns them, in the caller's
    transaction: the caller queues the reminders and commits both together. Two workers
    racing here both see rowcount-guarded updates; the outbox dedupe key stops the rest."""
    due_ids = (
        await session.scalars(
            select(Task.id)
            .where(
                Task.status == TaskStatus.OPEN,
                Task.reminded_at.is_(None),
                Task.due_at <= now,
            )
            .order_by(Task.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not due_ids:
        return []
    await session.execute(
        update(Task)
        .where(Task.id.in_(due_ids), Task.reminded_at.is_(None))
        .values(reminded_at=now),
        execution_options={"synchronize_session": False},
    )
    rows = await session.scalars(select(Task).where(Task.id.in_(due_ids)))
    return rows.unique().all()


async def add_task(
    session: AsyncSession,
    actor: User,
    text: str,
    due_at: datetime,
    now: datetime,
    *,
    client_id: int | None = None,
) -> Task:
    """A new reminder for the actor, due in the future (a quick button may be a day old)."""
    if due_at <= now:
        raise InvalidInput(parsing.WHEN_PAST)
    return await create_task(session, actor, text, due_at, client_id=client_id)


async def cancel(session: AsyncSession, actor: User, task_id: int) -> Task:
    """Undo: the task is dropped and will not remind. A closed task stays as it is."""
    task = await get_task(session, actor, task_id)
    if task.status is not TaskStatus.OPEN:
        raise InvalidInput(N_("This task is already closed."))
    task.status = TaskStatus.CANCELLED
    await session.commit()
    return task


class DueGroup(StrEnum):
    OVERDUE = "overdue"
    TODAY = "today"
    UPCOMING = "upcoming"


def due_group(due_at: datetime, now: datetime, tz: ZoneInfo) -> DueGroup:
    """Overdue once past; today until the user's local midnight; upcoming after."""
    if due_at < now:
        return DueGroup.OVERDUE
    if due_at.astimezone(tz).date() == now.astimezone(tz).date():
        return DueGroup.TODAY
    return DueGroup.UPCOMING


# Requests typed as a sentence: "напомни завтра в 10 позвонить Иванову"

REQUEST = re.compile(
    r"^\s*(?:напомни(?:те)?|напомнить|remind\s+me)\b(?:\s+мне\b)?(?:\s+to\b)?[\s,:;—–-]*",
    re.IGNORECASE,
)
_LEADING_LINK = re.compile(r"^(?:to|что|чтобы)\b[\s,:;—–-]*", re.IGNORECASE)


def request_body(text: str) -> str:
    """The request without its trigger words ("напомни (мне)", "remind me (to)")."""
    return REQUEST.sub("", text, count=1).strip()


def request_text(rest: str) -> str:
    """What to remind about: the rest of the sentence without a leading "to", "что", "чтобы"."""
    return _LEADING_LINK.sub("", rest.strip(), count=1).strip()


def parse_request(body: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, str]:
    """(when, what) from a request's body; InvalidInput when no date can be read in it."""
    due, rest = parsing.parse_when_with_rest(body, now, tz)
    return due, request_text(rest)


# Which of the actor's clients a request names

NAME_CANDIDATES_MAX = 50
_IGNORED_NAME_WORDS = frozenset("the and for with from компания company group".split())
_ENDING_LETTERS = frozenset("аяоеёыиуюйь")


def _stem(word: str) -> str:
    """A name word without a final vowel, so "Ромашка" matches "Ромашке", "Ромашку"."""
    return word[:-1] if len(word) >= 4 and word[-1] in _ENDING_LETTERS else word


def _word_matches(name_word: str, text_word: str) -> bool:
    """The same word, or the name's word with a short case ending ("Иванов" → "Иванову")."""
    if text_word == name_word:
        return True
    stem = _stem(name_word)
    return len(name_word) >= 4 and text_word.startswith(stem) and len(text_word) - len(stem) <= 2


def _name_words(client: Client) -> list[str]:
    words = (client.name_key or parsing.normalize_name(client.name)).split()
    return [w for w in words if len(w) >= 3 and not w.isdigit() and w not in _IGNORED_NAME_WORDS]


async def client_named_in(session: AsyncSession, actor: User, text: str) -> Client | None:
    """The one visible client the text names, or None (nobody, or more than one).

    A client whose every name word is in the text wins; failing that, one whose name has a
    word in the text. Legal forms do not count ("ООО «Ромашка»" is "ромашка")."""
    words = [w for w in parsing.search_key(text).split() if len(w) >= 3 and not w.isdigit()]
    if not words:
        return None
    prefixes = {w[: max(3, len(w) - 2)] for w in words}
    starts = [Client.name_key.like(f"{p}%") for p in prefixes]
    starts += [Client.name_key.like(f"% {p}%") for p in prefixes]
    candidates = (
        await session.scalars(
            select(Client)
            .where(visible_clients(actor), or_(*starts))
            .order_by(Client.id)
            .limit(NAME_CANDIDATES_MAX)
        )
    ).all()
    if len(candidates) >= NAME_CANDIDATES_MAX:
        return None  # too common to tell
    full, partial = [], []
    for client in candidates:
        name_words = _name_words(client)
        found = [n for n in name_words if any(_word_matches(n, w) for w in words)]
        if name_words and len(found) == len(name_words):
            full.append(client)
        elif found:
            partial.append(client)
    best = full or partial
    return best[0] if len(best) == 1 else None


async def add_requested(
    session: AsyncSession, actor: User, text: str, due_at: datetime, now: datetime
) -> tuple[Task, Client | None]:
    """A task from a typed request, linked to the client it names (when exactly one)."""
    client = await client_named_in(session, actor, text)
    task = await add_task(
        session, actor, text, due_at, now, client_id=client.id if client else None
    )
    return task, client


# Tasks in a client's history

HISTORY_OPEN_MAX = 3
HISTORY_DONE_MAX = 5


@dataclass(frozen=True)
class HistoryTasks:
    open: Sequence[Task]  # soonest first
    done: Sequence[Task]  # done in the page's time window, newest first
    done_total: int


async def history_tasks(
    session: AsyncSession,
    actor: User,
    client_id: int,
    *,
    done_from: datetime | None,
    done_before: datetime | None,
    with_open: bool,
) -> HistoryTasks:
    """The client's tasks for one page of its history: done ones with done_from <= done_at <
    done_before (either bound may be open), and on the first page the open ones."""
    client = await session.scalar(
        select(Client).where(Client.id == client_id, visible_clients(actor))
    )
    if client is None:
        raise NotFound()
    of_client = Task.client_id == client.id
    done_where = [of_client, Task.status == TaskStatus.DONE]
    window = list(done_where)
    if done_from is not None:
        window.append(Task.done_at >= done_from)
    if done_before is not None:
        window.append(Task.done_at < done_before)
    done = await session.scalars(
        select(Task).where(*window).order_by(Task.done_at.desc()).limit(HISTORY_DONE_MAX)
    )
    open_rows: Sequence[Task] = []
    if with_open:
        open_rows = (
            await session.scalars(
                select(Task)
                .where(of_client, Task.status == TaskStatus.OPEN)
                .order_by(Task.due_at, Task.id)
                .limit(HISTORY_OPEN_MAX)
            )
        ).all()
    done_total = await session.scalar(select(func.count()).select_from(Task).where(*done_where))
    return HistoryTasks(open_rows, done.unique().all(), done_total or 0)


async def history_page_tasks(
    session: AsyncSession,
    actor: User,
    client_id: int,
    page: int,
    entries: Sequence[Interaction],
    total: int,
) -> HistoryTasks:
    """The tasks for one page of the client's history: done ones within the page's span
    (clients.history_span), the open ones on the first page."""
    done_from, done_before = await history_span(session, actor, client_id, page, entries, total)
    return await history_tasks(
        session,
        actor,
        client_id,
        done_from=done_from,
        done_before=done_before,
        with_open=page == 0,
    )
