"""People and data leaving the CRM: ⛔ Deactivate on the team screen hands the member's work
over to a colleague first; 🗑 Erase on a client's card erases their personal data."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.handlers.client_card import edit_card
from bot.handlers.registry import Handlers
from bot.handlers.team import member_text
from bot.keyboards.callbacks import EraseCb, OffboardAction, OffboardCb, TeamAction, TeamCb
from bot.keyboards.clients import erase_confirm_keyboard
from bot.keyboards.team import handover_confirm_keyboard, handover_keyboard, member_keyboard
from bot.services import erasure, offboarding
from bot.services.offboarding import HandoverNeeded, Holdings, Notice
from db.models import User

handlers = Handlers("offboarding")


# Offboarding


def holdings_lines(held: Holdings) -> list[str]:
    rows = (
        (held.clients, _("👤 Clients: {count}")),
        (held.open_deals, _("💼 Open deals: {count}")),
        (held.complaints, _("⚠️ Complaints assigned: {count}")),
        (held.tasks, _("⏰ Open tasks: {count}")),
        (held.surveys, _("📊 Surveys awaiting an answer: {count}")),
    )
    return [text.format(count=count) for count, text in rows if count]


def handover_notice(i18n: I18n) -> Notice:
    """The new owner's message, in their language."""

    def text(recipient: User, moved: Holdings, previous: User) -> str:
        with i18n.use_locale(recipient.locale):
            return "\n".join(
                [
                    _("📦 <b>{name}'s work is yours now</b>").format(
                        name=escape(previous.full_name)
                    ),
                    *holdings_lines(moved),
                    _("Their access is turned off. Find them in 👤 Clients and ✅ Tasks."),
                ]
            )

    return text


async def _edit(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


async def _show_candidates(
    query: CallbackQuery, session: AsyncSession, user: User, user_id: int, page: int
) -> None:
    target, people, total = await offboarding.candidates(session, user, user_id, page)
    held = await offboarding.holdings(session, target.id)
    lines = [
        member_text(target),
        "",
        _("Before their access is turned off, their work goes to a colleague:"),
        *holdings_lines(held),
        "",
        _("Who takes it over?")
        if total
        else _("Nobody active can take it over: invite someone first."),
    ]
    await query.answer()
    await _edit(query, "\n".join(lines), handover_keyboard(target, people, page, total))


@handlers.callback_query(TeamCb.filter(F.action == TeamAction.DEACTIVATE))
async def deactivate(
    query: CallbackQuery, callback_data: TeamCb, session: AsyncSession, user: User, clock: Clock
) -> None:
    """Nothing to hand over: turned off at once. Else: whom to hand it over to."""
    try:
        member = await offboarding.deactivate(session, user, callback_data.user_id, now=clock.now())
    except HandoverNeeded as needed:
        await _show_candidates(query, session, user, needed.target.id, 0)
        return
    await query.answer(_("Access turned off."))
    await _edit(query, member_text(member), member_keyboard(user, member, callback_data.page))


@handlers.callback_query(OffboardCb.filter(F.action == OffboardAction.PICK))
async def pick_successor(
    query: CallbackQuery, callback_data: OffboardCb, session: AsyncSession, user: User
) -> None:
    await _show_candidates(query, session, user, callback_data.user_id, callback_data.page)


@handlers.callback_query(OffboardCb.filter(F.action == OffboardAction.CONFIRM))
async def confirm_handover(
    query: CallbackQuery, callback_data: OffboardCb, session: AsyncSession, user: User
) -> None:
    target, successor, held = await offboarding.preview(
        session, user, callback_data.user_id, callback_data.to
    )
    text = "\n".join(
        [
            _("Hand over {name}'s work to <b>{successor}</b> and turn off {name}'s access?").format(
                name=escape(target.full_name), successor=escape(successor.full_name)
            ),
            *holdings_lines(held),
        ]
    )
    await query.answer()
    await _edit(query, text, handover_confirm_keyboard(target, successor, callback_data.page))


@handlers.callback_query(OffboardCb.filter(F.action == OffboardAction.DO))
async def do_handover(
    query: CallbackQuery,
    callback_data: OffboardCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
    i18n: I18n,
) -> None:
    target, successor, moved = await offboarding.hand_over(
        session,
        user,
        callback_data.user_id,
        callback_data.to,
        notice=handover_notice(i18n),
        now=clock.now(),
    )
    lines = [
        member_text(target),
        "",
        _("Handed over to <b>{name}</b>:").format(name=escape(successor.full_name)),
        *(holdings_lines(moved) or [_("nothing was left to hand over.")]),
    ]
    await query.answer(_("Access turned off."))
    await _edit(query, "\n".join(lines), member_keyboard(user, target, 0))


# Erasure


def erase_warning(name: str) -> str:
    return "\n\n".join(
        [
            _("🗑 <b>Erase {name}?</b>").format(name=escape(name)),
            _(
                "For a client who asked to be forgotten. Erased for good: the name, phone, "
                "e-mail, INN, address, notes and location, the contact persons and files, and "
                "the text written about them (contact summaries, deal and complaint texts, "
                "comments, survey comments). Their survey links stop working and their "
                "Telegram chat is unlinked: they get nothing more from us."
            ),
            _(
                "Kept for the figures: contacts logged, deals and amounts, complaints and "
                "survey scores."
            ),
            _("This cannot be undone."),
        ]
    )


@handlers.callback_query(EraseCb.filter(~F.confirm))
async def ask_erase(
    query: CallbackQuery, callback_data: EraseCb, session: AsyncSession, user: User
) -> None:
    client = await erasure.get_erasable(session, user, callback_data.client_id)
    if client.erased_at is not None:
        await query.answer(_("This client's personal data is already erased."))
        return
    await query.answer()
    await _edit(query, erase_warning(client.name), erase_confirm_keyboard(client))


@handlers.callback_query(EraseCb.filter(F.confirm))
async def erase(
    query: CallbackQuery, callback_data: EraseCb, session: AsyncSession, user: User, clock: Clock
) -> None:
    result = await erasure.erase_client(session, user, callback_data.client_id, now=clock.now())
    await query.answer(
        _("This client's personal data is already erased.")
        if result.already
        else _("Erased: the client's personal data is gone, the figures stay.")
    )
    if isinstance(query.message, Message):
        await edit_card(query.message, session, user, result.client.id)
