from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import SettingsAction, SettingsCb
from bot.keyboards.common import step_keyboard
from db.models import Role, User


def russian_zones() -> list[tuple[str, str]]:
    """(IANA name, city label) for Russia's time zones, west to east."""
    return [
        ("Europe/Kaliningrad", _("Kaliningrad")),
        ("Europe/Moscow", _("Moscow")),
        ("Europe/Samara", _("Samara")),
        ("Asia/Yekaterinburg", _("Yekaterinburg")),
        ("Asia/Omsk", _("Omsk")),
        ("Asia/Novosibirsk", _("Novosibirsk")),
        ("Asia/Krasnoyarsk", _("Krasnoyarsk")),
        ("Asia/Irkutsk", _("Irkutsk")),
        ("Asia/Yakutsk", _("Yakutsk")),
        ("Asia/Vladivostok", _("Vladivostok")),
        ("Asia/Magadan", _("Magadan")),
        ("Asia/Kamchatka", _("Kamchatka")),
    ]


def utc_offset(zone: str) -> str:
    offset = datetime.now(ZoneInfo(zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def settings_keyboard(user: User | None = None) -> InlineKeyboardMarkup:
    """Language, time zone, the morning agenda; the daily digest for heads and admins."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🌐 Language"), callback_data=SettingsCb(action=SettingsAction.LANGUAGE))
    builder.button(text=_("🕒 Time zone"), callback_data=SettingsCb(action=SettingsAction.TIMEZONE))
    builder.button(
        text=_("☀️ Morning agenda"), callback_data=SettingsCb(action=SettingsAction.AGENDA)
    )
    if user is not None and user.role in (Role.HEAD, Role.ADMIN):
        builder.button(
            text=_("📨 Daily digest"), callback_data=SettingsCb(action=SettingsAction.DIGEST)
        )
    builder.adjust(2)
    return builder.as_markup()


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, label in (("ru", "🇷🇺 Русский"), ("en", "🇬🇧 English")):
        builder.button(
            text=label, callback_data=SettingsCb(action=SettingsAction.SET_LANGUAGE, value=code)
        )
    builder.button(text=_("← Back"), callback_data=SettingsCb(action=SettingsAction.MENU))
    builder.adjust(2, 1)
    return builder.as_markup()


def timezone_keyboard() -> InlineKeyboardMarkup:
    choices = [
        (
            f"{label} ({utc_offset(zone)})",
            SettingsCb(action=SettingsAction.SET_TIMEZONE, value=zone).pack(),
        )
        for zone, label in russian_zones()
    ]
    return step_keyboard(choices, columns=2)


AGENDA_TIMES = ("07:00", "08:00", "08:30", "09:00", "10:00")


def agenda_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for at in AGENDA_TIMES:
        # ":" separates callback fields, so the time travels as "0830"
        value = at.replace(":", "")
        builder.button(
            text=at, callback_data=SettingsCb(action=SettingsAction.SET_AGENDA, value=value)
        )
    builder.button(
        text=_("🔕 Off"), callback_data=SettingsCb(action=SettingsAction.SET_AGENDA, value="off")
    )
    builder.button(text=_("← Back"), callback_data=SettingsCb(action=SettingsAction.MENU))
    builder.adjust(3, 3, 1)
    return builder.as_markup()


def digest_keyboard() -> InlineKeyboardMarkup:
    """The daily digest's time (the agenda's choices), or off."""
    builder = InlineKeyboardBuilder()
    for at in AGENDA_TIMES:
        builder.button(
            text=at,
            callback_data=SettingsCb(action=SettingsAction.SET_DIGEST, value=at.replace(":", "")),
        )
    builder.button(
        text=_("🔕 Off"), callback_data=SettingsCb(action=SettingsAction.SET_DIGEST, value="off")
    )
    builder.button(text=_("← Back"), callback_data=SettingsCb(action=SettingsAction.MENU))
    builder.adjust(3, 3, 1)
    return builder.as_markup()
