"""/start: bootstrap admins, redeem invites, greet people who are already in."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import set_user_commands
from bot.config import Settings
from bot.handlers.common import show_menu
from bot.handlers.registry import Handlers
from bot.i18n import locale_from_telegram
from bot.services import invites, users
from bot.services.users import TelegramProfile
from bot.texts import access_disabled_text, no_access_text, welcome_text
from db.models import User

handlers = Handlers("start")


def profile_of(tg_user: TgUser, settings: Settings) -> TelegramProfile:
    return TelegramProfile(
        telegram_id=tg_user.id,
        full_name=tg_user.full_name,
        username=tg_user.username,
        locale=locale_from_telegram(tg_user.language_code, settings.default_locale),
    )


@handlers.message(CommandStart())
async def start(
    message: Message,
    command: CommandObject,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    settings: Settings,
    user: User | None,
) -> None:
    if message.from_user is None:
        return
    profile = profile_of(message.from_user, settings)
    admin = await users.bootstrap_admin(session, settings, profile, user)
    user = admin or user
    if user is not None and not user.is_active:
        await message.answer(access_disabled_text())
        return
    if user is not None:
        await state.clear()
        text = welcome_text(user)
        if command.args:
            text = _("You are already registered.") + "\n\n" + text
        await set_user_commands(bot, user)
        await show_menu(message, user, text)
        return
    if not command.args:
        await message.answer(no_access_text())
        return
    user = await invites.redeem(session, settings, command.args, profile)
    await set_user_commands(bot, user)
    await show_menu(message, user, welcome_text(user))
