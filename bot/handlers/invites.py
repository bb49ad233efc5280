"""Inviting a colleague: role → department → how long the link lives → the link."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.flows import go, step
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import InviteCb, TeamAction, TeamCb
from bot.keyboards.common import step_keyboard
from bot.services import invites
from bot.services.access import require_staff_manager
from bot.states import InviteForm
from bot.texts import role_label
from db.models import Role, User

handlers = Handlers("invites")


async def start_invite(message: Message, state: FSMContext, session: AsyncSession, user: User):
    require_staff_manager(user)
    await state.clear()
    if user.role is Role.HEAD:
        # A head invites managers into their own department: nothing to choose but the term.
        await state.update_data(role=Role.MANAGER.value, department_id=user.department_id)
        await go(InviteForm.ttl, message, state, session, user)
    else:
        await go(InviteForm.role, message, state, session, user)


@handlers.message(Command("invite"))
async def invite_command(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await start_invite(message, state, session, user)


@handlers.callback_query(TeamCb.filter(F.action == TeamAction.INVITE))
async def invite_button(query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User):
    require_staff_manager(user)  # before answering, so a refusal is shown, not swallowed
    await query.answer()
    if isinstance(query.message, Message):
        await start_invite(query.message, state, session, user)


@step(InviteForm.role, expects_text=False)
async def ask_role(message: Message, state: FSMContext, session: AsyncSession, user: User):
    choices = [(role_label(role), InviteCb(value=role.value).pack()) for role in Role]
    await message.answer(
        _("Who are you inviting? Pick the role:"), reply_markup=step_keyboard(choices, columns=1)
    )


@handlers.callback_query(InviteForm.role, InviteCb.filter())
async def role_picked(
    query: CallbackQuery,
    callback_data: InviteCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    role = Role(callback_data.value)
    await state.update_data(role=role.value, department_id=None)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await query.message.edit_text(_("Role: {role}").format(role=role_label(role)))
    await go(InviteForm.department, query.message, state, session, user)


@step(InviteForm.department, expects_text=False, back=InviteForm.role)
async def ask_department(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    departments = await invites.invitable_departments(session, user)
    choices = [(escape(d.name), InviteCb(value=str(d.id)).pack()) for d in departments]
    if data.get("role") == Role.ADMIN.value:
        choices.append((_("No department"), InviteCb(value="0").pack()))
    if not choices:
        await state.clear()
        await message.answer(_("There are no departments yet: add one in 🛠 Admin first."))
        return
    await message.answer(
        _("Which department?"), reply_markup=step_keyboard(choices, columns=1, back=True)
    )


@handlers.callback_query(InviteForm.department, InviteCb.filter())
async def department_picked(
    query: CallbackQuery,
    callback_data: InviteCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    department_id = int(callback_data.value) if callback_data.value.isdigit() else 0
    await state.update_data(department_id=department_id or None)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await go(InviteForm.ttl, query.message, state, session, user)


@step(InviteForm.ttl, expects_text=False, back=InviteForm.department)
async def ask_ttl(message: Message, state: FSMContext, session: AsyncSession, user: User):
    choices = [
        (_("{days} d.").format(days=days), InviteCb(value=str(days)).pack())
        for days in invites.INVITE_TTL_CHOICES
    ]
    await message.answer(
        _("How long should the link work?"),
        reply_markup=step_keyboard(choices, columns=3, back=user.role is Role.ADMIN),
    )


@handlers.callback_query(InviteForm.ttl, InviteCb.filter())
async def ttl_picked(
    query: CallbackQuery,
    callback_data: InviteCb,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    bot: Bot,
    user: User,
) -> None:
    data = await state.get_data()
    days = int(callback_data.value) if callback_data.value.isdigit() else settings.invite_ttl_days
    invite = await invites.create_invite(
        session, user, Role(data["role"]), data.get("department_id"), days
    )
    await state.clear()
    await query.answer()
    if not isinstance(query.message, Message):
        return
    username = settings.bot_username or (await bot.me()).username or ""
    expires = invite.expires_at.astimezone(ZoneInfo(user.timezone))
    text = _(
        "Invite for a {role}{department}. Send this link to your colleague; it works once, "
        "until {expires}:\n\n{link}"
    ).format(
        role=role_label(invite.role),
        department=f" · {escape(invite.department.name)}" if invite.department else "",
        expires=expires.strftime("%d.%m.%Y %H:%M"),
        link=invites.deep_link(username, invite.code),
    )
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(text)
