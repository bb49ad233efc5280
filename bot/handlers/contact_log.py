"""📝 Log contact: client → kind → one line (or a voice note) → review → 💾 Save.

Before saving, the review offers an outcome and a next step with a date; photos, documents and
voice notes sent along the way are attached, and so is a location. A location shared outside
any flow starts logging a visit, with the manager's clients nearest to that point.

FSM data holds JSON values only, so a restart mid-flow continues: client_id, kind, kind_preset
(a visit started from a location skips the kind step), summary, outcome, next_step, due (ISO,
UTC), pending_step (a next step typed, waiting for its date), files ([{kind, file_id,
file_name}]), latitude, longitude.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.flows import current_step, go, step
from bot.handlers.client_card import start_flow_for_client
from bot.handlers.client_step import ask_for_client, client_step
from bot.handlers.common import leave_question, skip_step
from bot.handlers.files import attach, attachments
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import ClientAction, ClientCb, FormAction, FormCb
from bot.keyboards.common import nav_keyboard, skip_keyboard
from bot.keyboards.contact_log import (
    NEXT_STEP,
    OUTCOME,
    due_keyboard,
    kind_keyboard,
    review_keyboard,
    saved_keyboard,
)
from bot.services import clients, contact_log, parsing
from bot.services.errors import InvalidInput, NotFound
from bot.states import ContactLog
from bot.texts import interaction_kind_label, shorten
from db.models import Client, InteractionKind, User
from db.types import utcnow

handlers = Handlers("contact_log")

# Steps where a file or a location sent is attached to the record being written.
ATTACHING_STEPS = (
    ContactLog.summary,
    ContactLog.review,
    ContactLog.outcome,
    ContactLog.next_step,
    ContactLog.due,
)
SHOWN_MAX = 1200  # a long summary or outcome is cut in the review, so the message stays valid


def _zone(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone)


async def _client(state: FSMContext, session: AsyncSession, user: User) -> Client:
    """The client chosen so far, re-checked for access on every use."""
    client_id = (await state.get_data()).get("client_id")
    if not client_id:
        raise NotFound()
    return await clients.get_client(session, user, int(client_id))


async def _ask_current(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    current = current_step(await state.get_state())
    if current is not None:
        await current.ask(message, state, session, user)


def record_text(client: Client, data: dict[str, Any], user: User) -> str:
    """What will be (or was) saved, every value escaped; dates in the user's time zone."""
    lines = [
        _("Client: {name}").format(name=escape(client.name)),
        _("Kind: {kind}").format(kind=interaction_kind_label(InteractionKind(data["kind"]))),
        _("Summary: {summary}").format(summary=escape(shorten(data.get("summary", ""), SHOWN_MAX))),
    ]
    if data.get("outcome"):
        lines.append(
            _("Outcome: {outcome}").format(outcome=escape(shorten(data["outcome"], SHOWN_MAX)))
        )
    if data.get("next_step") and data.get("due"):
        when = parsing.format_when(
            contact_log.moment_from_iso(data["due"]), _zone(user), user.locale
        )
        lines.append(
            _("Next step: {step} — {when}").format(step=escape(data["next_step"]), when=when)
        )
    if data.get("latitude") is not None:
        lines.append(_("📍 Location attached"))
    if data.get("files"):
        lines.append(_("📎 Files: {count}").format(count=len(data["files"])))
    return "\n".join(lines)


# Entry points: the menu, the client card, a shared location


async def start_from_menu(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.set_data({})
    await go(ContactLog.client, message, state, session, user)


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.LOG))
async def start_from_card(
    query: CallbackQuery,
    callback_data: ClientCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    await start_flow_for_client(
        query, callback_data.client_id, ContactLog.kind, state, session, user
    )


@handlers.message(StateFilter(None), F.location)
async def start_visit_from_location(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    location = message.location
    assert location is not None
    await state.set_data(
        {
            "kind": InteractionKind.VISIT.value,
            "kind_preset": True,
            "latitude": location.latitude,
            "longitude": location.longitude,
        }
    )
    await go(ContactLog.client, message, state, session, user)


# Which client


@step(ContactLog.client, expects_text=True)
async def ask_client(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    nearest: list[Client] = []
    if data.get("latitude") is not None:
        nearest = list(await clients.nearest(session, user, data["latitude"], data["longitude"]))
    if data.get("kind_preset"):
        question = _("🚗 Logging a visit. Which client?")
        if nearest:
            question += "\n" + _("Your clients nearest to this point are below.")
    else:
        question = _("Which client?")
    await ask_for_client(message, session, user, question, nearest)


async def client_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User, _clock: Clock
) -> None:
    preset = (await state.get_data()).get("kind_preset")
    await go(ContactLog.summary if preset else ContactLog.kind, message, state, session, user)


client_step(handlers, ContactLog.client, ask_client, client_chosen)


# What kind of contact


@step(ContactLog.kind, expects_text=False, back=ContactLog.client)
async def ask_kind(message: Message, state: FSMContext, session: AsyncSession, user: User):
    client = await _client(state, session, user)
    await message.answer(
        _("<b>{name}</b>: what kind of contact?").format(name=escape(client.name)),
        reply_markup=kind_keyboard(),
    )


@handlers.callback_query(ContactLog.kind, FormCb.filter(F.action == FormAction.CHOOSE))
async def kind_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    kind = contact_log.interaction_kind(callback_data.value)
    await query.answer()
    await state.update_data(kind=kind.value, kind_preset=False)
    if message := await leave_question(query):
        await go(ContactLog.summary, message, state, session, user)


# What happened


@step(ContactLog.summary, expects_text=True, back=ContactLog.kind)
async def ask_summary(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    client = await _client(state, session, user)
    kind = interaction_kind_label(InteractionKind(data["kind"]))
    await message.answer(
        f"{kind} · <b>{escape(client.name)}</b>\n"
        + _("What happened? One line is enough.")
        + "\n"
        + _("A voice note works too; photos and documents you send are attached."),
        reply_markup=nav_keyboard(back=True),
    )


@handlers.message(ContactLog.summary, F.text)
async def summary_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(summary=contact_log.clean_summary(message.text))
    await go(ContactLog.review, message, state, session, user)


@handlers.message(ContactLog.summary, F.voice)
async def summary_spoken(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await attach(state, message)
    await state.update_data(summary=_("🎤 Voice note"))
    await go(ContactLog.review, message, state, session, user)


# Files and location, at any step once the client and kind are known


@handlers.message(StateFilter(*ATTACHING_STEPS), F.photo | F.document | F.voice)
async def file_sent(message: Message, state: FSMContext, session: AsyncSession, user: User):
    """Attached; the flow goes on where it was. At the summary step a caption is the summary."""
    count = await attach(state, message)
    if await state.get_state() == ContactLog.summary.state and message.caption:
        await state.update_data(summary=contact_log.clean_summary(message.caption))
        await go(ContactLog.review, message, state, session, user)
        return
    await message.answer(_("📎 Attached. Files in this record: {count}.").format(count=count))
    await _ask_current(message, state, session, user)


@handlers.message(StateFilter(ContactLog), F.location)
async def location_sent(message: Message, state: FSMContext, session: AsyncSession, user: User):
    location = message.location
    assert location is not None
    await state.update_data(latitude=location.latitude, longitude=location.longitude)
    await message.answer(_("📍 Location attached."))
    await _ask_current(message, state, session, user)


# The review


@step(ContactLog.review, expects_text=False, back=ContactLog.summary)
async def ask_review(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    client = await _client(state, session, user)
    await message.answer(
        _("<b>Check and save</b>") + "\n" + record_text(client, data, user),
        reply_markup=review_keyboard(),
    )


def _missing_step(data: dict[str, Any]) -> State | None:
    """The first step whose answer is missing (data from an older version), or None."""
    if not data.get("client_id"):
        return ContactLog.client
    if not data.get("kind"):
        return ContactLog.kind
    if not data.get("summary"):
        return ContactLog.summary
    return None


@handlers.callback_query(ContactLog.review, FormCb.filter(F.action == FormAction.SAVE))
async def save(query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    if missing := _missing_step(data):
        await query.answer()
        if message := await leave_question(query):
            await go(missing, message, state, session, user)
        return
    due = data.get("due") if data.get("next_step") else None
    interaction = await contact_log.log_interaction(
        session,
        user,
        int(data["client_id"]),
        InteractionKind(data["kind"]),
        data["summary"],
        outcome=data.get("outcome"),
        next_step=data.get("next_step") if due else None,
        next_step_due_at=contact_log.moment_from_iso(due) if due else None,
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        attachments=attachments(data),
        deal_id=data.get("deal_id"),
    )
    await state.clear()
    await query.answer(_("Saved ✅"))
    if isinstance(query.message, Message):
        client = await clients.get_client(session, user, interaction.client_id)
        await query.message.edit_text(
            _("Saved ✅") + "\n" + record_text(client, data, user),
            reply_markup=saved_keyboard(client.id),
        )


@handlers.callback_query(ContactLog.review, FormCb.filter(F.action == FormAction.EDIT))
async def add_to_record(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    target = {OUTCOME: ContactLog.outcome, NEXT_STEP: ContactLog.next_step}.get(callback_data.value)
    if target is None:
        raise InvalidInput()
    await query.answer()
    if message := await leave_question(query):
        await go(target, message, state, session, user)


# Outcome


@step(ContactLog.outcome, expects_text=True, back=ContactLog.review)
async def ask_outcome(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _("What came of it? For example: “agreed on a trial order”."),
        reply_markup=skip_keyboard(),
    )


@handlers.message(ContactLog.outcome, F.text)
async def outcome_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(outcome=contact_log.clean_outcome(message.text))
    await go(ContactLog.review, message, state, session, user)


skip_step(handlers, ContactLog.outcome, ContactLog.review, outcome=None)


# Next step and its date


@step(ContactLog.next_step, expects_text=True, back=ContactLog.review)
async def ask_next_step(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _("What is the next step? For example: “send the offer”. You'll get a reminder."),
        reply_markup=skip_keyboard(),
    )


@handlers.message(ContactLog.next_step, F.text)
async def next_step_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(pending_step=contact_log.clean_next_step(message.text))
    await go(ContactLog.due, message, state, session, user)


skip_step(
    handlers, ContactLog.next_step, ContactLog.review, next_step=None, due=None, pending_step=None
)


@step(ContactLog.due, expects_text=True, back=ContactLog.next_step)
async def ask_due(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _(
            "When? Tap a day, or type a date and time, for example: 25.12, 25.12 15:30, "
            "tomorrow 10am, in 3 days."
        ),
        reply_markup=due_keyboard(parsing.quick_dates(utcnow(), _zone(user))),
    )


async def _set_due(
    message: Message, state: FSMContext, session: AsyncSession, user: User, due: datetime
) -> None:
    pending = (await state.get_data()).get("pending_step")
    if not pending:  # the step text is gone (a stale button): ask for it again
        await go(ContactLog.next_step, message, state, session, user)
        return
    await state.update_data(next_step=pending, due=due.isoformat(), pending_step=None)
    await go(ContactLog.review, message, state, session, user)


@handlers.message(ContactLog.due, F.text)
async def due_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    due = parsing.parse_when(message.text or "", clock.now(), _zone(user))
    await _set_due(message, state, session, user, due)


@handlers.callback_query(ContactLog.due, FormCb.filter(F.action == FormAction.CHOOSE))
async def due_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    due = contact_log.moment_from_minutes(callback_data.value)
    await query.answer()
    if message := await leave_question(query):
        await _set_due(message, state, session, user, due)
