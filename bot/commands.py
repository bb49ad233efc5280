"""The command menu Telegram shows next to the input field, per language and per role."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import SUPPORTED_LOCALES
from db.models import Role, User

log = logging.getLogger(__name__)


def _commands(role: Role | None) -> list[BotCommand]:
    commands = [
        BotCommand(command="start", description=_("Main menu")),
        BotCommand(command="help", description=_("How to use the bot")),
        BotCommand(command="settings", description=_("Language and time zone")),
        BotCommand(command="cancel", description=_("Leave the current question")),
    ]
    if role in (Role.HEAD, Role.ADMIN):
        commands.append(BotCommand(command="invite", description=_("Invite a colleague")))
        commands.append(BotCommand(command="team", description=_("Your team")))
        commands.append(BotCommand(command="digest", description=_("The daily digest now")))
        commands.append(BotCommand(command="export", description=_("Export data to a file")))
    if role is Role.ADMIN:
        commands.append(BotCommand(command="audit", description=_("The audit log")))
    return commands


async def set_default_commands(bot: Bot, i18n: I18n) -> None:
    """Everyone's commands, in each language (Telegram picks by the user's app language)."""
    with i18n.context():
        for locale in SUPPORTED_LOCALES:
            with i18n.use_locale(locale):
                await bot.set_my_commands(
                    _commands(None), scope=BotCommandScopeDefault(), language_code=locale
                )
        with i18n.use_locale(i18n.default_locale):
            await bot.set_my_commands(_commands(None), scope=BotCommandScopeDefault())


async def set_user_commands(bot: Bot, user: User) -> None:
    """Heads and admins get their extra commands in their own chat, in their language."""
    scope = BotCommandScopeChat(chat_id=user.telegram_id)
    try:
        if user.role is Role.MANAGER:
            await bot.delete_my_commands(scope=scope)
            return
        with I18n.get_current().use_locale(user.locale):
            await bot.set_my_commands(_commands(user.role), scope=scope)
    except TelegramAPIError:  # a nicety: never let it break registration or a role change
        log.warning("could not set commands for user %s", user.id, exc_info=True)
