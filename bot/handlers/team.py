"""The team list for heads and admins: who is in, their role and access."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import set_user_commands
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import TeamAction, TeamCb
from bot.keyboards.team import member_keyboard, roles_keyboard, team_keyboard
from bot.services import users
from bot.services.errors import InvalidInput
from bot.texts import role_label
from db.models import User

handlers = Handlers("team")


async def team_screen(session: AsyncSession, user: User, page: int) -> tuple[str, object]:
    members, total = await users.team_page(session, user, page)
    text = _("<b>Team</b>: {count} people. ⛔ marks those without access.").format(count=total)
    return text, team_keyboard(members, page, total)


def member_text(member: User) -> str:
    lines = [
        f"<b>{escape(member.full_name)}</b>"
        + (f" (@{escape(member.username)})" if member.username else ""),
        _("Role: {role}").format(role=role_label(member.role)),
        _("Department: {department}").format(
            department=escape(member.department.name) if member.department else "—"
        ),
        _("Access: {status}").format(status=_("active") if member.is_active else _("turned off")),
    ]
    return "\n".join(lines)


@handlers.message(Command("team"))
async def open_team(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await state.clear()
    text, keyboard = await team_screen(session, user, 0)
    await message.answer(text, reply_markup=keyboard)


@handlers.callback_query(TeamCb.filter(F.action == TeamAction.PAGE))
async def team_page(query: CallbackQuery, callback_data: TeamCb, session: AsyncSession, user: User):
    text, keyboard = await team_screen(session, user, callback_data.page)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


async def _show_member(query: CallbackQuery, actor: User, member: User, page: int) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_text(
            member_text(member), reply_markup=member_keyboard(actor, member, page)
        )


@handlers.callback_query(TeamCb.filter(F.action == TeamAction.OPEN))
async def open_member(
    query: CallbackQuery, callback_data: TeamCb, session: AsyncSession, user: User
):
    member = await users.get_visible(session, user, callback_data.user_id)
    await query.answer()
    await _show_member(query, user, member, callback_data.page)


# ⛔ Deactivate hands the member's work over first: bot/handlers/offboarding.py.
@handlers.callback_query(TeamCb.filter(F.action == TeamAction.REACTIVATE))
async def reactivate(
    query: CallbackQuery, callback_data: TeamCb, session: AsyncSession, user: User
):
    member = await users.set_active(session, user, callback_data.user_id, True)
    await query.answer(_("Access restored."))
    await _show_member(query, user, member, callback_data.page)


@handlers.callback_query(TeamCb.filter(F.action == TeamAction.ROLES))
async def choose_role(
    query: CallbackQuery, callback_data: TeamCb, session: AsyncSession, user: User
):
    member = await users.get_visible(session, user, callback_data.user_id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            member_text(member) + "\n\n" + _("Pick the new role:"),
            reply_markup=roles_keyboard(member, callback_data.page),
        )


@handlers.callback_query(TeamCb.filter(F.action == TeamAction.SET_ROLE))
async def set_role(
    query: CallbackQuery, callback_data: TeamCb, bot: Bot, session: AsyncSession, user: User
):
    if callback_data.role is None:
        raise InvalidInput()
    member = await users.change_role(session, user, callback_data.user_id, callback_data.role)
    await set_user_commands(bot, member)
    await query.answer(_("Role changed."))
    await _show_member(query, user, member, callback_data.page)
