"""The "which client?" step of the flows that start without one (a contact, a deal, a
complaint): the question with clients as buttons, typed text that searches the user's own
clients, and a tap that re-checks access and keeps `client_id` before the flow goes on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.flows import Ask
from bot.handlers.common import leave_question
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import PickCb
from bot.keyboards.clients import client_picker
from bot.services import clients
from bot.texts import shorten
from db.models import Client, User

QUERY_SHOWN_MAX = 50

# What the flow does once the client is chosen (it is in the state data as client_id).
Picked = Callable[[Message, FSMContext, AsyncSession, User, Clock], Awaitable[None]]


async def ask_for_client(
    message: Message,
    session: AsyncSession,
    user: User,
    question: str,
    found: Sequence[Client] = (),
) -> None:
    """The question with `found` as buttons, or the user's recent clients when none given."""
    found = list(found) or list(await clients.recent(session, user))
    hint = (
        _("Tap one below, or type part of a name, phone or INN.")
        if found
        else _("Type part of the client's name, phone or INN.")
    )
    await message.answer(f"{question}\n{hint}", reply_markup=client_picker(found))


def client_step(handlers: Handlers, step_state: State, ask: Ask, picked: Picked) -> None:
    """Registers, for `step_state`, the search by typed text (no match: said, then `ask`
    again) and the tap on a client (then `picked`)."""

    @handlers.message(step_state, F.text)
    async def client_typed(
        message: Message, state: FSMContext, session: AsyncSession, user: User
    ) -> None:
        query = message.text or ""
        found, total = await clients.search(session, user, query)
        if not found:
            shown = escape(shorten(query, QUERY_SHOWN_MAX))
            await message.answer(_("No clients of yours match “{query}”.").format(query=shown))
            await ask(message, state, session, user)
            return
        text = _("Found: {count}. Tap the client, or type more to narrow it down.")
        await message.answer(text.format(count=total), reply_markup=client_picker(found))

    @handlers.callback_query(step_state, PickCb.filter())
    async def client_picked(
        query: CallbackQuery,
        callback_data: PickCb,
        state: FSMContext,
        session: AsyncSession,
        user: User,
        clock: Clock,
    ) -> None:
        client = await clients.get_writable_client(session, user, callback_data.client_id)
        await query.answer()
        await state.update_data(client_id=client.id)
        if message := await leave_question(query):
            await picked(message, state, session, user, clock)
